//! One accept loop for every port the proxy listens on — inbound, outbound and admin — after
//! mini-redis's `Listener` (`src/server.rs`): the loop owns what all of them share, and each
//! port brings only its own per-connection handler.
//!
//! What the loop owns:
//! - **The connection limit.** A connection takes a permit before it is accepted and holds it
//!   until its handler returns, so at most `max_connections` are open per listener
//!   (`Limits::max_connections` for traffic, `Limits::max_admin_connections` for the admin port);
//!   more wait in the kernel's listen backlog, not in the proxy's memory.
//! - **Backoff on accept errors.** An accept that fails (out of file descriptors, mostly) is
//!   retried after 5 ms, doubling up to 1 s while it keeps failing, and logged with what to change;
//!   a loop that retried at once would spin a core at 100% while nothing can be accepted.
//! - **The drain.** When the [`Drain`] is signaled the loop stops accepting (the listening socket
//!   is closed with it) and every connection it started is told through its own clone of the
//!   [`Drain`]; [`DrainSignal::drain`] waits, up to a grace period, until they have all ended.
//!
//! Each connection runs in its own task under [`guard::spawn`], so a panic ends that connection
//! only.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};

use super::guard::{self, PanicCounter};

/// The first wait after a failed accept; it doubles while accepts keep failing.
pub const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(5);
/// The longest wait between failed accepts.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Where connections come from: a [`TcpListener`] (tests script others).
pub trait Accept: Send {
    /// One accepted connection.
    type Conn: Send + 'static;
    /// Waits for the next connection and its peer's address.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Conn, SocketAddr)>> + Send;
}

impl Accept for TcpListener {
    type Conn = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, remote) = TcpListener::accept(self).await?;
        // Requests and responses are written whole; Nagle's algorithm would only delay them.
        let _ = stream.set_nodelay(true);
        Ok((stream, remote))
    }
}

/// An accept loop: a source of connections, its connection limit, and where panics are counted.
pub struct Listener<A = TcpListener> {
    accept: A,
    /// The port's name in logs ("inbound", "outbound", "admin").
    name: &'static str,
    /// What a connection task is called when it panics.
    task: &'static str,
    connections: Arc<Semaphore>,
    panics: PanicCounter,
}

impl<A: Accept> Listener<A> {
    /// An accept loop over `accept` for the port called `name`, with at most `max_connections`
    /// open at once; connection tasks, called `task` in panic reports, count panics in `panics`.
    pub fn new(
        accept: A,
        name: &'static str,
        task: &'static str,
        max_connections: usize,
        panics: &PanicCounter,
    ) -> Self {
        Listener {
            accept,
            name,
            task,
            // At least one, or nothing would ever be accepted; at most what a semaphore holds.
            connections: Arc::new(Semaphore::new(
                max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
            panics: panics.clone(),
        }
    }

    /// Accepts connections until `drain` is signaled, running `handler(conn, remote, drain)` for
    /// each in its own task; the connection's permit is held until that future ends, and the
    /// handler should finish (gracefully) once its `drain` is signaled.
    pub async fn run<H, F>(mut self, mut drain: Drain, mut handler: H)
    where
        H: FnMut(A::Conn, SocketAddr, Drain) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let mut backoff = ACCEPT_BACKOFF_FIRST;
        loop {
            // The permit first: at the limit, connections wait in the kernel's backlog.
            let permit = tokio::select! {
                _ = drain.signaled() => return,
                p = self.connections.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_closed) => return,
                },
            };
            let accepted = tokio::select! {
                _ = drain.signaled() => return,
                a = self.accept.accept() => a,
            };
            match accepted {
                Ok((conn, remote)) => {
                    backoff = ACCEPT_BACKOFF_FIRST;
                    let serve = handler(conn, remote, drain.clone());
                    guard::spawn(&self.panics, self.task, async move {
                        let _permit = permit;
                        serve.await;
                    });
                }
                Err(e) => {
                    drop(permit);
                    let hint = if e.raw_os_error() == Some(nix::errno::Errno::EMFILE as i32) {
                        " (the open-file limit is reached: raise `ulimit -n` or lower --max-connections)"
                    } else {
                        ""
                    };
                    let name = self.name;
                    tracing::warn!(
                        listener = name,
                        "accept failed: {e}{hint}; retrying in {backoff:?}"
                    );
                    tokio::select! {
                        _ = drain.signaled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            }
        }
    }
}

/// Tells connections to finish, and keeps the drain open while it lives: every connection task
/// holds a clone, so the drain is complete when all clones are dropped.
#[derive(Clone)]
pub struct Drain {
    signal: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
}

impl Drain {
    /// Completes once the drain has been signaled (at once if it has).
    pub async fn signaled(&mut self) {
        // An error means the signal is gone with its sender: as good as signaled.
        let _ = self.signal.wait_for(|stop| *stop).await;
    }
}

/// The other end of a [`Drain`]: signals it, and waits for every clone to be dropped.
pub struct DrainSignal {
    signal: watch::Sender<bool>,
    alive: mpsc::Receiver<()>,
}

/// A drain not yet signaled: its signal, and the first [`Drain`] to hand out.
pub fn drain() -> (DrainSignal, Drain) {
    let (signal, watch) = watch::channel(false);
    let (alive_tx, alive) = mpsc::channel(1);
    (
        DrainSignal { signal, alive },
        Drain {
            signal: watch,
            _alive: alive_tx,
        },
    )
}

impl DrainSignal {
    /// A future that completes once the drain is signaled, for background tasks that stop with
    /// it: unlike a [`Drain`], it does not hold the drain open.
    pub fn signaled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut watch = self.signal.subscribe();
        async move {
            let _ = watch.wait_for(|stop| *stop).await;
        }
    }

    /// Signals the drain: listeners stop accepting, connections are asked to finish.
    pub fn signal(&self) {
        self.signal.send_replace(true);
    }

    /// Signals the drain and waits until every [`Drain`] is dropped, or `grace` has passed;
    /// `true` when everything finished in time.
    pub async fn drain(mut self, grace: Duration) -> bool {
        self.signal();
        tokio::time::timeout(grace, self.alive.recv()).await.is_ok()
    }
}

#[cfg(test)]
mod tests;
