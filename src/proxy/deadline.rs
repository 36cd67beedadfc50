//! The dispatch deadline of one request. It is fixed when the request arrives and bounds every
//! wait for capacity on its way upstream together: the balancer's queue, a free HTTP/2 stream
//! and the HTTP/2 client's readiness, over all of its tries. So no request waits past
//! `--dispatch-timeout` in total, however many waits it meets.

use std::time::Duration;

use tokio::time::Instant;

/// When a request's waits for capacity must have ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchDeadline {
    arrived: Instant,
    at: Instant,
}

impl DispatchDeadline {
    /// The deadline of a request that arrived at `arrived`, with `timeout` to be placed.
    pub fn new(arrived: Instant, timeout: Duration) -> Self {
        DispatchDeadline {
            arrived,
            at: arrived + timeout,
        }
    }

    /// The instant waits end.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// The earlier of the deadline and `bound` from now (a wait with its own, shorter bound).
    pub fn within(&self, bound: Duration) -> Instant {
        self.at.min(Instant::now() + bound)
    }

    /// How long the request has been on its way since it arrived.
    pub fn waited(&self) -> Duration {
        self.arrived.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_shorter_bound_gets_only_what_is_left() {
        let deadline = DispatchDeadline::new(Instant::now(), Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(deadline.within(Duration::from_secs(3)), deadline.at());
        assert_eq!(
            deadline.within(Duration::from_millis(500)),
            Instant::now() + Duration::from_millis(500)
        );
        assert_eq!(deadline.waited(), Duration::from_secs(2));
    }
}
