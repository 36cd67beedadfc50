//! Panic containment: every connection, stream and tunnel task runs under [`spawn`] (or
//! [`GuardedExecutor`], for hyper's HTTP/2 streams), so a bug that panics while serving one
//! connection ends that task alone. The panic is counted (`proxy_task_panics_total` on
//! `/metrics`), logged, and the proxy keeps serving everyone else.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::task::JoinHandle;

/// How many tasks have panicked.
#[derive(Clone, Default)]
pub struct PanicCounter(Arc<AtomicU64>);

impl PanicCounter {
    /// Panics so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Spawns `task` so that a panic in it is caught, counted in `panics` and logged naming `what`.
pub fn spawn<F>(panics: &PanicCounter, what: &'static str, task: F) -> JoinHandle<()>
where
    F: Future + Send + 'static,
{
    let panics = panics.clone();
    // Unwind safety: a panicking task's own state is dropped with it; shared state it touches is
    // atomics, and locks that recover from poisoning.
    tokio::spawn(AssertUnwindSafe(task).catch_unwind().map(move |result| {
        if let Err(payload) = result {
            let n = panics.0.fetch_add(1, Ordering::Relaxed) + 1;
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(
                "a {what} task panicked and was dropped (a bug in mesh; {n} so far, see \
                 proxy_task_panics_total); the proxy goes on serving: {message}"
            );
        }
    }))
}

/// hyper's executor for the tasks it spawns (HTTP/2 streams), each under [`spawn`].
#[derive(Clone)]
pub struct GuardedExecutor {
    panics: PanicCounter,
    what: &'static str,
}

impl GuardedExecutor {
    /// Runs tasks named `what`, counting their panics in `panics`.
    pub fn new(panics: &PanicCounter, what: &'static str) -> Self {
        GuardedExecutor {
            panics: panics.clone(),
            what,
        }
    }
}

impl<F> hyper::rt::Executor<F> for GuardedExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, task: F) {
        spawn(&self.panics, self.what, task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;

    #[tokio::test]
    async fn a_panicking_task_is_counted_and_others_go_on() {
        let panics = PanicCounter::default();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let survivor = spawn(&panics, "test", async move {
            let _ = tx.send(42);
        });
        let failed = spawn(&panics, "test", async {
            let values: Vec<u8> = Vec::new();
            // An out-of-bounds index, as a parsing bug would make.
            std::hint::black_box(values[usize::from(std::hint::black_box(3u8))]);
        });
        failed
            .await
            .expect("the guard completes the task instead of unwinding");
        survivor.await.unwrap();
        assert_eq!(rx.await.unwrap(), 42);
        assert_eq!(panics.get(), 1);

        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        GuardedExecutor::new(&panics, "stream").execute(async move {
            let _done = done_tx;
            panic!("stream bug");
        });
        assert!(done_rx.await.is_err(), "the panicking task ended");
        // One thread: the task counted its panic in the same poll that dropped `_done`.
        assert_eq!(panics.get(), 2);
    }
}
