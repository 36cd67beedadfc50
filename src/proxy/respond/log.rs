//! Logging errors without flooding: each cause at most once per interval
//! (`Limits::error_log_interval`), with how many lines were suppressed.
//!
//! A cause is a closed kind wherever the error's text holds something the caller chose (an
//! authority, a host): a hundred unknown services are one cause, logged once per interval with
//! the first of them as its example ([`ProxyError::cause`]). The map of causes is bounded
//! (`MAX_CAUSES`, 1024) whatever their ages: a new cause past the bound is logged as one shared
//! overflow cause.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::ProxyError;

/// Causes remembered at most, the overflow cause included.
pub const MAX_CAUSES: usize = 1024;

/// The cause that new causes share while the map is full of causes logged within the interval.
const OVERFLOW: &str = "other causes";

/// Logs each cause at most once per interval, with how many times it was suppressed.
pub struct ErrorLog {
    interval: Duration,
    /// When each cause was last logged, and how many of its lines were suppressed since. A mutex
    /// rather than a concurrent map: only errors come here, and the bound must hold exactly.
    last: Mutex<HashMap<Cow<'static, str>, (Instant, u64)>>,
    max_causes: usize,
}

impl ErrorLog {
    /// At most one line per cause per `interval`, at most `MAX_CAUSES` causes remembered.
    pub fn new(interval: Duration) -> Self {
        Self::bounded(interval, MAX_CAUSES)
    }

    /// At most one line per cause per `interval`, at most `max_causes` (at least 2) remembered.
    fn bounded(interval: Duration, max_causes: usize) -> Self {
        ErrorLog {
            interval,
            last: Mutex::new(HashMap::new()),
            max_causes: max_causes.max(2),
        }
    }

    /// Logs `err` unless its cause was logged within the interval.
    pub fn log(&self, direction: &str, err: &ProxyError) {
        let status = err.status().as_u16();
        if let Some(suppressed) = self.admit(err.cause()) {
            match suppressed {
                0 => tracing::warn!(direction, status, "{err}"),
                n => tracing::warn!(direction, status, suppressed = n, "{err}"),
            }
        }
    }

    /// Logs `text` (an event, not an error answered) unless `cause` was logged within the interval.
    pub fn note(&self, direction: &str, cause: String, text: &dyn std::fmt::Display) {
        if let Some(suppressed) = self.admit(cause.into()) {
            match suppressed {
                0 => tracing::warn!(direction, "{text}"),
                n => tracing::warn!(direction, suppressed = n, "{text}"),
            }
        }
    }

    /// Whether a line of `cause` is written now: `Some(lines suppressed since its last one)`,
    /// or `None` when it was logged within the interval.
    fn admit(&self, cause: Cow<'static, str>) -> Option<u64> {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut cause = cause;
        if !last.contains_key(&cause) && last.len() >= self.max_causes - 1 {
            // Full: forget causes not logged within the interval; if none is that old, the new
            // cause shares the overflow cause, which always has its place.
            last.retain(|_, (t, _)| now.duration_since(*t) < self.interval);
            if last.len() >= self.max_causes - 1 {
                cause = Cow::Borrowed(OVERFLOW);
            }
        }
        let entry = last.entry(cause).or_insert((now - self.interval * 2, 0));
        if now.duration_since(entry.0) >= self.interval {
            let suppressed = entry.1;
            *entry = (now, 0);
            Some(suppressed)
        } else {
            entry.1 += 1;
            None
        }
    }

    /// Causes remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown_service(i: usize) -> ProxyError {
        ProxyError::UnknownService {
            authority: format!("x{i}-svc:8080"),
            service: format!("x{i}-svc.default.svc.cluster.local:8080"),
            looked_in: "the registry".into(),
            explained: None,
            name: format!("x{i}-svc"),
            port: 8080,
            namespace: "default".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn distinct_unknown_services_are_one_line_per_interval() {
        let log = ErrorLog::new(Duration::from_secs(10));
        let lines = (0..100)
            .filter(|i| log.admit(unknown_service(*i).cause()).is_some())
            .count();
        assert_eq!(lines, 1);
        let hosts = (0..100)
            .map(|i| ProxyError::External(format!("h{i}.example.com")))
            .filter(|e| log.admit(e.cause()).is_some())
            .count();
        assert_eq!(hosts, 1);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(log.admit(unknown_service(100).cause()), Some(99));
        assert_eq!(log.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_never_exceeds_its_bound() {
        let log = ErrorLog::bounded(Duration::from_secs(10), 8);
        for i in 0..100 {
            log.admit(format!("cause {i}").into());
            assert!(log.len() <= 8, "{} causes after {i}", log.len());
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        // All of them young: the newest share the overflow cause, logged once per interval.
        assert!(log.admit("cause 1000".into()).is_none());
        tokio::time::advance(Duration::from_secs(10)).await;
        // Old ones are forgotten to make room.
        assert_eq!(log.admit("cause 1001".into()), Some(0));
        assert!(log.len() <= 8);
    }
}
