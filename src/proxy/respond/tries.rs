//! What a request's tries came to, for the text of a deadline that passed during them: the
//! deadline counts from the request's arrival, retries included, so the text says how many tries
//! were made, what the earlier ones got, and how long the last one had — not only who was silent
//! last.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::proxy::metrics::ErrorReason;

/// The tries of one request so far (at most `MAX_TRIES_NOT_PROCESSED`, a handful).
#[derive(Debug, Clone, Default)]
pub struct TriesMade {
    /// What each try before the last came to; each was sent again.
    pub earlier: Vec<Earlier>,
    /// When the last try started, if one did.
    pub last_started: Option<Instant>,
}

/// What one try that was sent again came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Earlier {
    /// A response whose head classified as a failure, with its status.
    Answered(u16),
    /// No response: the failure's `error` label.
    Failed(ErrorReason),
}

impl TriesMade {
    /// A new try starts now.
    pub fn start(&mut self) {
        self.last_started = Some(Instant::now());
    }

    /// The try that just ended as `earlier` is sent again.
    pub fn retried(&mut self, earlier: Earlier) {
        self.earlier.push(earlier);
    }

    /// Tries made, the last included.
    pub fn count(&self) -> usize {
        self.earlier.len() + usize::from(self.last_started.is_some())
    }

    /// How long the last try has had so far.
    pub fn last_had(&self) -> Duration {
        self.last_started.map_or(Duration::ZERO, |t| t.elapsed())
    }
}

/// The earlier tries, grouped in order of first appearance: `2 answered 503, 1 failed (connect
/// error)`.
impl fmt::Display for TriesMade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut groups: Vec<(Earlier, usize)> = Vec::new();
        for e in &self.earlier {
            match groups.iter_mut().find(|(g, _)| g == e) {
                Some((_, n)) => *n += 1,
                None => groups.push((*e, 1)),
            }
        }
        for (i, (e, n)) in groups.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match e {
                Earlier::Answered(status) => write!(f, "{n} answered {status}")?,
                Earlier::Failed(reason) => write!(f, "{n} failed ({})", reason.as_str())?,
            }
        }
        Ok(())
    }
}

/// `d` rounded to milliseconds, for texts: `1.2s`, `250ms` (not Debug's nanoseconds).
pub fn rounded(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
