//! Logging errors without flooding: each cause at most once per interval
//! (`Limits::error_log_interval`), with how many lines were suppressed.

use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

use super::ProxyError;

/// Logs each cause at most once per interval, with how many times it was suppressed.
pub struct ErrorLog {
    interval: Duration,
    last: DashMap<String, (Instant, u64)>,
    max_causes: usize,
}

impl ErrorLog {
    /// At most one line per cause per `interval`.
    pub fn new(interval: Duration) -> Self {
        ErrorLog {
            interval,
            last: DashMap::new(),
            max_causes: 1024,
        }
    }

    /// Logs `err` unless its cause was logged within the interval.
    pub fn log(&self, direction: &str, err: &ProxyError) {
        let status = err.status().as_u16();
        self.log_cause(err.cause(), |suppressed| match suppressed {
            0 => tracing::warn!(direction, status, "{err}"),
            n => tracing::warn!(direction, status, suppressed = n, "{err}"),
        });
    }

    /// Logs `text` (an event, not an error answered) unless `cause` was logged within the interval.
    pub fn note(&self, direction: &str, cause: String, text: &dyn std::fmt::Display) {
        self.log_cause(cause, |suppressed| match suppressed {
            0 => tracing::warn!(direction, "{text}"),
            n => tracing::warn!(direction, suppressed = n, "{text}"),
        });
    }

    /// Calls `write` with how many lines of `cause` were suppressed, unless it was logged within
    /// the interval.
    fn log_cause(&self, cause: String, write: impl FnOnce(u64)) {
        let now = Instant::now();
        if self.last.len() >= self.max_causes {
            self.last
                .retain(|_, (t, _)| now.duration_since(*t) < self.interval);
        }
        let mut entry = self
            .last
            .entry(cause)
            .or_insert((now - self.interval * 2, 0));
        let (last, suppressed) = *entry;
        if now.duration_since(last) >= self.interval {
            *entry = (now, 0);
            drop(entry);
            write(suppressed);
        } else {
            entry.1 += 1;
        }
    }
}
