//! Deadline: the step that fixes, when a request arrives, when each of its waits must end.
//!
//! One [`Deadline`] per request holds every time bound it meets on its way:
//!
//! - **dispatch** (`--dispatch-timeout`): the waits for capacity — the balancer's queue, a free
//!   HTTP/2 stream, the HTTP/2 client's readiness — over all tries together, so no request waits
//!   for room past it however many waits it meets ([`Deadline::dispatch_at`]);
//! - **response**: the earlier of the route's `timeout` (its ServiceProfile, retries included, as
//!   Linkerd applies it) and `--response-timeout` (an upstream that takes requests and never
//!   answers cannot hold callers forever). Both count from the request's arrival, and the whole
//!   exchange up to the response head — placement, every try, the waits between them — is cut by
//!   it in one place, [`Deadline::cut`]. What the caller is told says which bound it was
//!   ([`Bound`]).
//!
//! The HTTP/2 ready wait has its own bound besides (`ConnectConfig::ready_timeout`), within what
//! is left of the dispatch deadline ([`Deadline::within`]).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::config::Limits;

/// When one request's waits must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    arrived: Instant,
    /// When waits for capacity end.
    dispatch_at: Instant,
    /// When the response head must have come.
    response_at: Instant,
    /// Which bound `response_at` is.
    bound: Bound,
}

/// The bound that ends a request's wait for its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The route's `timeout` in its ServiceProfile.
    Route(Duration),
    /// `--response-timeout` (no shorter route timeout applies).
    Response(Duration),
}

/// The response deadline passed before a response head came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no response within {:?}", .0.duration())]
pub struct Expired(pub Bound);

// === impl Deadline ===

impl Deadline {
    /// The deadline of a request that arrived at `arrived`, on a route with `route_timeout`, under
    /// `limits` (`dispatch_timeout`, `connect.response_timeout`).
    pub fn new(arrived: Instant, route_timeout: Option<Duration>, limits: &Limits) -> Self {
        let response = limits.connect.response_timeout;
        let bound = match route_timeout {
            Some(t) if t <= response => Bound::Route(t),
            _ => Bound::Response(response),
        };
        Deadline {
            arrived,
            dispatch_at: arrived + limits.dispatch_timeout,
            response_at: arrived + bound.duration(),
            bound,
        }
    }

    /// When every wait for capacity ends: the dispatch deadline, or the response deadline if
    /// that comes first.
    pub fn dispatch_at(&self) -> Instant {
        self.dispatch_at.min(self.response_at)
    }

    /// When the request arrived: what its deadlines count from.
    pub fn arrived(&self) -> Instant {
        self.arrived
    }

    /// When the response head must have come.
    pub fn response_at(&self) -> Instant {
        self.response_at
    }

    /// The bound the response deadline is.
    pub fn bound(&self) -> Bound {
        self.bound
    }

    /// The earlier of [`dispatch_at`](Self::dispatch_at) and `bound` from now: a wait with its
    /// own, shorter bound gets only what is left.
    pub fn within(&self, bound: Duration) -> Instant {
        self.dispatch_at().min(Instant::now() + bound)
    }

    /// How long the request has been on its way since it arrived.
    pub fn waited(&self) -> Duration {
        self.arrived.elapsed()
    }

    /// The response deadline's bound, once it has passed.
    pub fn passed(&self) -> Option<Bound> {
        (Instant::now() >= self.response_at).then_some(self.bound)
    }

    /// Runs `work` until the response deadline: the one place a request's exchange is cut. On
    /// expiry `work` is dropped — an HTTP/2 stream is reset, an HTTP/1 connection closed.
    pub async fn cut<F: Future>(&self, work: F) -> Result<F::Output, Expired> {
        tokio::time::timeout_at(self.response_at, work)
            .await
            .map_err(|_| Expired(self.bound))
    }
}

// === impl Bound ===

impl Bound {
    /// How long the bound is.
    pub fn duration(self) -> Duration {
        match self {
            Bound::Route(d) | Bound::Response(d) => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(dispatch: u64, response: u64) -> Limits {
        let mut limits = Limits {
            dispatch_timeout: Duration::from_secs(dispatch),
            ..Limits::default()
        };
        limits.connect.response_timeout = Duration::from_secs(response);
        limits
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_bound_gets_only_what_is_left() {
        let deadline = Deadline::new(Instant::now(), None, &limits(3, 300));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            deadline.within(Duration::from_secs(3)),
            deadline.dispatch_at()
        );
        assert_eq!(
            deadline.within(Duration::from_millis(500)),
            Instant::now() + Duration::from_millis(500)
        );
        assert_eq!(deadline.waited(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_earlier_of_route_timeout_and_response_timeout_bounds_the_response() {
        let start = Instant::now();
        let route = Deadline::new(start, Some(Duration::from_secs(1)), &limits(3, 300));
        assert_eq!(route.bound(), Bound::Route(Duration::from_secs(1)));
        // Waits for capacity end no later than the response may come.
        assert_eq!(route.dispatch_at(), start + Duration::from_secs(1));
        let long = Deadline::new(start, Some(Duration::from_secs(600)), &limits(3, 300));
        assert_eq!(long.bound(), Bound::Response(Duration::from_secs(300)));
        assert_eq!(long.dispatch_at(), start + Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn cut_ends_the_work_at_exactly_the_deadline() {
        let start = Instant::now();
        let deadline = Deadline::new(start, Some(Duration::from_millis(250)), &limits(3, 300));
        let cut = deadline.cut(std::future::pending::<()>()).await;
        assert_eq!(cut, Err(Expired(Bound::Route(Duration::from_millis(250)))));
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        assert_eq!(
            deadline.passed(),
            Some(Bound::Route(Duration::from_millis(250)))
        );
    }
}
