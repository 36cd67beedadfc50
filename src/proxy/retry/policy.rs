//! Whether a failed try is sent again: small decisions over what the try showed, kept apart
//! from sending so they can be tested on paused time.
//!
//! Two kinds of failure are retried. A request the upstream never processed (an HTTP/2 stream
//! refused or above a GOAWAY's last stream id, RFC 9113 §8.7) may be sent again whatever its
//! method and route, on either hop, up to [`MAX_TRIES_NOT_PROCESSED`] tries: a server that
//! refuses streams is busy, and each such try first waits for one of its streams to end. Any
//! other failure (a connection error, a response classified as a failure) only on a route marked
//! `isRetryable`, up to [`MAX_TRIES`]. Either way a retry needs a body that can be sent again,
//! time left before the route's deadline, and the retry budget's consent — asked last, as asking
//! spends it.

use tokio::time::Instant;

use crate::proxy::budget::RetryBudget;
use crate::proxy::replay::NotReplayable;

/// Tries per request at most, whatever the budget says.
pub const MAX_TRIES: u32 = 3;

/// Tries per request at most when the upstream did not process the earlier ones.
pub const MAX_TRIES_NOT_PROCESSED: u32 = 6;

/// What a failed try showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The upstream did not process the request.
    NotProcessed,
    /// It may have: the connection failed, or the response is a failure.
    Failed,
    /// No endpoint could take it (fail-fast): never sent again, as the balancer already waited
    /// for capacity as long as the request's dispatch deadline allows.
    Unplaced,
}

/// Everything a retry decision reads about the request.
#[derive(Debug, Clone, Copy)]
pub struct Attempted {
    /// Tries sent so far.
    pub tries: u32,
    /// Whether the route allows retrying failures (`isRetryable`, and not an upgrade).
    pub route_retryable: bool,
    /// When the request's response deadline passes ([`Deadline::response_at`]: the route's
    /// timeout or `--response-timeout`, from the request's arrival); no retry starts after it.
    /// `None` only in tests of the other conditions.
    ///
    /// [`Deadline::response_at`]: crate::proxy::timeout::Deadline::response_at
    pub deadline: Option<Instant>,
    /// Whether one more try could carry the whole body.
    pub body: Result<(), NotReplayable>,
}

/// Whether the request is tried again after `failure`, spending one retry from `budget` if so.
pub fn retry(failure: Failure, attempted: Attempted, budget: &RetryBudget) -> bool {
    let (allowed, most) = match failure {
        Failure::NotProcessed => (true, MAX_TRIES_NOT_PROCESSED),
        Failure::Failed => (attempted.route_retryable, MAX_TRIES),
        Failure::Unplaced => (false, 1),
    };
    allowed
        && attempted.body.is_ok()
        && attempted.tries < most
        && attempted.deadline.is_none_or(|d| Instant::now() < d)
        && budget.withdraw()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn first_try(route_retryable: bool) -> Attempted {
        Attempted {
            tries: 1,
            route_retryable,
            deadline: None,
            body: Ok(()),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_the_upstream_did_not_process_is_retried_on_any_route() {
        let budget = RetryBudget::new(0.2, 10, Duration::from_secs(10));
        assert!(retry(Failure::NotProcessed, first_try(false), &budget));
        assert!(!retry(Failure::Failed, first_try(false), &budget));
        assert!(retry(Failure::Failed, first_try(true), &budget));
        assert!(!retry(Failure::Unplaced, first_try(true), &budget));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_max_tries_a_body_not_held_or_the_deadline() {
        let budget = RetryBudget::new(0.2, 10, Duration::from_secs(10));
        let last = Attempted {
            tries: MAX_TRIES,
            ..first_try(true)
        };
        assert!(!retry(Failure::Failed, last, &budget));
        assert!(retry(Failure::NotProcessed, last, &budget));
        let last = Attempted {
            tries: MAX_TRIES_NOT_PROCESSED,
            ..first_try(true)
        };
        assert!(!retry(Failure::NotProcessed, last, &budget));
        let big = Attempted {
            body: Err(NotReplayable::BodyTooLarge),
            ..first_try(true)
        };
        assert!(!retry(Failure::NotProcessed, big, &budget));
        let timed = Attempted {
            deadline: Some(Instant::now() + Duration::from_millis(100)),
            ..first_try(true)
        };
        assert!(retry(Failure::NotProcessed, timed, &budget));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(!retry(Failure::NotProcessed, timed, &budget));
    }

    #[tokio::test(start_paused = true)]
    async fn refused_streams_are_retried_within_the_budget_which_refills_over_its_ttl() {
        // A service without a profile: Linkerd's default budget, and 50 requests.
        let budget = RetryBudget::from_profile(None);
        for _ in 0..50 {
            budget.deposit();
        }
        let allowed = (0..1000)
            .filter(|_| retry(Failure::NotProcessed, first_try(false), &budget))
            .count();
        // 50 × 0.2 + 10/s × 10 s.
        assert_eq!(allowed, 110);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(retry(Failure::NotProcessed, first_try(false), &budget));
    }
}
