//! Driving a kube-runtime watcher: back off after errors, say each error once (in the API's own
//! words, [`watch_error_text`]), and act on changes.
//!
//! kube-runtime's own `default_backoff()` resets on every `Ok` item, and its watcher yields
//! `Ok(Event::Init)` before each list attempt, so with the API away it retried about once a
//! second for ever, and a "said once" log that forgot on any `Ok` said it every time. Here only a
//! change (a whole list in, an object applied or deleted) resets the delay and the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use kube::runtime::watcher;

/// The first pause after an error, doubled after each further one up to [`MAX_BACKOFF`] (as
/// kube-runtime's default: 800 ms to 30 s).
pub const MIN_BACKOFF: Duration = Duration::from_millis(800);
/// The longest pause between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A watch's latest error, as a sentence (`None` once a change came in).
pub type LastError = Arc<Mutex<Option<String>>>;

/// Polls `stream` (a watcher, possibly through a reflector) until it ends: after an error, waits
/// before polling again (exponential, from [`MIN_BACKOFF`] to [`MAX_BACKOFF`]), logs the error
/// when it differs from the last one, and keeps it in `error`; after a change, resets both and
/// calls `on_change`. `what` names what is watched, for the messages.
pub async fn drive<K, S>(stream: S, what: &str, error: LastError, mut on_change: impl FnMut())
where
    S: Stream<Item = watcher::Result<watcher::Event<K>>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut delay = MIN_BACKOFF;
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::InitDone | watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {
                delay = MIN_BACKOFF;
                *error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                on_change();
            }
            // `Init` and `InitApply` are a list under way: no news yet.
            Ok(_) => {}
            Err(e) => {
                let text = watch_error_text(&e, what);
                {
                    let mut last = error.lock().unwrap_or_else(|p| p.into_inner());
                    if last.as_deref() != Some(text.as_str()) {
                        tracing::warn!("{text}; trying again with backoff");
                    }
                    *last = Some(text);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// A watcher's error as one sentence: the step, what was watched, and the API's own status
/// (code, reason, message) rather than its debug form.
pub fn watch_error_text(error: &watcher::Error, what: &str) -> String {
    use watcher::Error as W;
    let (step, inner) = match error {
        W::InitialListFailed(e) => ("listing", e),
        W::WatchStartFailed(e) => ("starting to watch", e),
        W::WatchFailed(e) => ("watching", e),
        W::WatchError(status) => {
            return format!(
                "watching {what}: the API ended the watch: {} {}: {}",
                status.code, status.reason, status.message
            )
        }
        W::NoResourceVersion => {
            return format!("watching {what}: the API's answer had no resourceVersion")
        }
    };
    let hint = match inner {
        kube::Error::Api(status) if status.code == 404 && what.contains("ServiceProfiles") => {
            "; the ServiceProfile CRD is not in this cluster: `mesh install` prints it (or \
             install Linkerd's)"
        }
        _ => "",
    };
    format!("{step} {what}: {}{hint}", api_error_text(inner))
}

/// An API error as one sentence (the API's own status rather than its debug form).
pub fn api_error_text(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 403 => format!(
            "{} {}: {}; the proxy's service account needs get, list and watch on endpointslices \
             (discovery.k8s.io), services, pods and serviceprofiles (linkerd.io): bind it to the \
             ClusterRole `mesh install` prints (mesh-discovery)",
            status.code, status.reason, status.message
        ),
        kube::Error::Api(status) => {
            format!("{} {}: {}", status.code, status.reason, status.message)
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err() -> watcher::Result<watcher::Event<()>> {
        Err(watcher::Error::NoResourceVersion)
    }

    #[tokio::test(start_paused = true)]
    async fn errors_back_off_exponentially_and_init_markers_do_not_reset_it() {
        // Each failed attempt is preceded by the watcher's own `Init`, as kube-runtime does.
        let mut items = Vec::new();
        for _ in 0..8 {
            items.push(Ok(watcher::Event::Init));
            items.push(err());
        }
        let start = tokio::time::Instant::now();
        let error = LastError::default();
        drive(futures_util::stream::iter(items), "x", error.clone(), || {}).await;
        // 0.8 + 1.6 + 3.2 + 6.4 + 12.8 + 25.6 + 30 + 30 s.
        assert_eq!(start.elapsed(), Duration::from_millis(110_400));
        assert!(error.lock().unwrap().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_resets_the_delay_and_the_error() {
        let items = vec![err(), err(), Ok(watcher::Event::InitDone), err()];
        let start = tokio::time::Instant::now();
        let error = LastError::default();
        let mut changes = 0;
        drive(futures_util::stream::iter(items), "x", error, || {
            changes += 1
        })
        .await;
        assert_eq!(start.elapsed(), Duration::from_millis(800 + 1600 + 800));
        assert_eq!(changes, 1);
    }
}
