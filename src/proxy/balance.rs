//! Request balancing and dispatch for outbound services.
//!
//! Each request (not connection) goes to the better of two endpoints picked at random, judged by
//! peak-EWMA latency times the requests in flight there (power of two choices, as Finagle and
//! Linkerd do). Endpoints that refuse connections are left out for a backoff, then probed back.
//! An endpoint takes at most its capacity in flight — `--max-in-flight`, or an HTTP/2 server's
//! `max_concurrent_streams` when lower — and requests beyond wait in a bounded queue; a service
//! whose requests cannot be placed within the dispatch timeout fails fast (503 at once) until one
//! of its requests completes.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::discovery::Endpoint;
use super::maps::ConcurrentMap;

/// Assumed latency of an endpoint before its first response.
pub const DEFAULT_RTT: Duration = Duration::from_millis(30);
/// How fast old latency samples fade.
pub const DECAY: Duration = Duration::from_secs(10);
/// Backoff of an endpoint that refused a connection: first, and longest.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Endpoints and services tracked at most; beyond, their state is not shared between requests.
const MAX_TRACKED: usize = 10_000;

/// Bounds of dispatch. How long a request may wait for capacity is not one of them: that is
/// its [`Deadline`](crate::proxy::timeout::Deadline)'s dispatch deadline, passed to
/// [`Balancer::acquire`].
#[derive(Debug, Clone)]
pub struct DispatchLimits {
    /// Requests in flight to one endpoint at most (`Limits::max_in_flight`).
    pub max_in_flight: usize,
    /// Requests waiting for capacity per service at most (`Limits::max_queued`).
    pub max_queued: usize,
}

/// Load and health of one endpoint.
#[derive(Debug)]
pub struct EndpointLoad {
    in_flight: AtomicUsize,
    ewma: Mutex<Ewma>,
    down: Mutex<Option<Down>>,
}

#[derive(Debug)]
struct Ewma {
    cost_ms: f64,
    at: Instant,
    /// Whether `cost_ms` is measured yet (until then it is [`DEFAULT_RTT`]).
    measured: bool,
}

#[derive(Debug, Clone, Copy)]
struct Down {
    until: Instant,
    backoff: Duration,
}

/// Waiting requests and the fail-fast state of one service.
#[derive(Debug, Default)]
pub struct ServiceQueue {
    notify: Notify,
    waiting: AtomicUsize,
    fail_fast: AtomicBool,
}

/// Every endpoint's and service's dispatch state.
pub struct Balancer {
    limits: DispatchLimits,
    endpoints: ConcurrentMap<SocketAddr, Arc<EndpointLoad>>,
    services: ConcurrentMap<String, Arc<ServiceQueue>>,
}

/// A request placed on an endpoint; dropping it ends the request there.
pub struct InFlight {
    pub endpoint: Endpoint,
    load: Arc<EndpointLoad>,
    queue: Arc<ServiceQueue>,
    sent: Instant,
}

/// Why a request could not be placed, with what an operator needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saturation {
    /// Endpoints known for the service.
    pub known: usize,
    /// Of those, not backing off after refused connections.
    pub ready: usize,
    /// Requests in flight to them now.
    pub in_flight: usize,
    /// The lowest HTTP/2 `max_concurrent_streams` among them, when that is what limits them.
    pub max_streams: Option<u32>,
    /// `--max-in-flight`.
    pub max_in_flight: usize,
    /// How long the request waited (zero when the service was already failing fast).
    pub waited: Duration,
    /// The queue was full rather than the wait too long.
    pub queue_full: bool,
}

// === impl EndpointLoad ===

impl EndpointLoad {
    fn new() -> Self {
        EndpointLoad {
            in_flight: AtomicUsize::new(0),
            ewma: Mutex::new(Ewma {
                cost_ms: DEFAULT_RTT.as_secs_f64() * 1000.0,
                at: Instant::now(),
                measured: false,
            }),
            down: Mutex::new(None),
        }
    }

    /// Expected cost of one more request: decayed peak-EWMA latency × (in flight + 1).
    fn cost(&self, now: Instant) -> f64 {
        let e = self.ewma.lock().unwrap_or_else(|p| p.into_inner());
        let age = now.saturating_duration_since(e.at).as_secs_f64();
        let decayed = e.cost_ms * (-age / DECAY.as_secs_f64()).exp();
        decayed.max(0.001) * (self.in_flight.load(Ordering::Relaxed) + 1) as f64
    }

    fn observe(&self, rtt: Duration, now: Instant) {
        let mut e = self.ewma.lock().unwrap_or_else(|p| p.into_inner());
        let rtt_ms = rtt.as_secs_f64() * 1000.0;
        if !e.measured || rtt_ms > e.cost_ms {
            // The first sample replaces the default guess; after it, peak: a slow response
            // counts at once, recovery is gradual.
            e.cost_ms = rtt_ms;
            e.measured = true;
        } else {
            let age = now.saturating_duration_since(e.at).as_secs_f64();
            let w = (-age / DECAY.as_secs_f64()).exp();
            e.cost_ms = e.cost_ms * w + rtt_ms * (1.0 - w);
        }
        e.at = now;
    }

    fn is_down(&self, now: Instant) -> bool {
        let d = self.down.lock().unwrap_or_else(|p| p.into_inner());
        d.is_some_and(|d| now < d.until)
    }

    fn try_take(&self, limit: usize) -> bool {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }
}

// === impl Balancer ===

impl Balancer {
    /// A balancer with these bounds.
    pub fn new(limits: DispatchLimits) -> Self {
        Balancer {
            limits,
            endpoints: ConcurrentMap::default(),
            services: ConcurrentMap::default(),
        }
    }

    fn load(&self, addr: SocketAddr) -> Arc<EndpointLoad> {
        if let Some(l) = self.endpoints.get(&addr) {
            return l.clone();
        }
        if self.endpoints.len() >= MAX_TRACKED {
            return Arc::new(EndpointLoad::new());
        }
        self.endpoints
            .entry(addr)
            .or_insert_with(|| Arc::new(EndpointLoad::new()))
            .clone()
    }

    fn queue(&self, service: &str) -> Arc<ServiceQueue> {
        if let Some(q) = self.services.get(service) {
            return q.clone();
        }
        if self.services.len() >= MAX_TRACKED {
            return Arc::new(ServiceQueue::default());
        }
        self.services
            .entry(service.to_string())
            .or_default()
            .clone()
    }

    /// Places a request of `service` on one of `endpoints`, waiting for capacity until `until`
    /// (the request's dispatch deadline, `Deadline::dispatch_at`). `max_streams` tells an
    /// endpoint's HTTP/2 limit.
    pub async fn acquire(
        &self,
        service: &str,
        endpoints: &[Endpoint],
        max_streams: impl Fn(SocketAddr) -> Option<u32>,
        until: Instant,
    ) -> Result<InFlight, Saturation> {
        let queue = self.queue(service);
        let loads: Vec<Arc<EndpointLoad>> = endpoints.iter().map(|e| self.load(e.addr)).collect();
        let limit = |i: usize| {
            let streams = max_streams(endpoints[i].addr).map_or(usize::MAX, |s| s as usize);
            self.limits.max_in_flight.min(streams).max(1)
        };
        let start = Instant::now();
        loop {
            let notified = queue.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(i) = choose(&loads, &limit, Instant::now()) {
                return Ok(InFlight {
                    endpoint: endpoints[i].clone(),
                    load: loads[i].clone(),
                    queue: queue.clone(),
                    sent: Instant::now(),
                });
            }
            let queue_full = queue.waiting.load(Ordering::Relaxed) >= self.limits.max_queued;
            if queue.fail_fast.load(Ordering::Relaxed) || queue_full {
                return Err(self.saturation(
                    endpoints,
                    &loads,
                    &max_streams,
                    Duration::ZERO,
                    queue_full,
                ));
            }
            queue.waiting.fetch_add(1, Ordering::Relaxed);
            let woke = tokio::time::timeout_at(until, notified).await;
            queue.waiting.fetch_sub(1, Ordering::Relaxed);
            if woke.is_err() {
                queue.fail_fast.store(true, Ordering::Relaxed);
                return Err(self.saturation(
                    endpoints,
                    &loads,
                    &max_streams,
                    start.elapsed(),
                    false,
                ));
            }
        }
    }

    fn saturation(
        &self,
        endpoints: &[Endpoint],
        loads: &[Arc<EndpointLoad>],
        max_streams: &impl Fn(SocketAddr) -> Option<u32>,
        waited: Duration,
        queue_full: bool,
    ) -> Saturation {
        let now = Instant::now();
        let streams = endpoints
            .iter()
            .filter_map(|e| max_streams(e.addr))
            .filter(|&s| (s as usize) < self.limits.max_in_flight)
            .min();
        Saturation {
            known: endpoints.len(),
            ready: loads.iter().filter(|l| !l.is_down(now)).count(),
            in_flight: loads
                .iter()
                .map(|l| l.in_flight.load(Ordering::Relaxed))
                .sum(),
            max_streams: streams,
            max_in_flight: self.limits.max_in_flight,
            waited,
            queue_full,
        }
    }
}

/// The better of two random endpoints with capacity, preferring those not backing off.
fn choose(
    loads: &[Arc<EndpointLoad>],
    limit: &impl Fn(usize) -> usize,
    now: Instant,
) -> Option<usize> {
    let with_room: Vec<usize> = (0..loads.len())
        .filter(|&i| loads[i].in_flight.load(Ordering::Relaxed) < limit(i))
        .collect();
    let up: Vec<usize> = with_room
        .iter()
        .copied()
        .filter(|&i| !loads[i].is_down(now))
        .collect();
    // All backing off: try one anyway (it may have come back) rather than refuse.
    let candidates = if up.is_empty() { with_room } else { up };
    let pick = match candidates.len() {
        0 => return None,
        1 => candidates[0],
        n => {
            let a = random(n);
            let b = (a + 1 + random(n - 1)) % n;
            let (a, b) = (candidates[a], candidates[b]);
            if loads[a].cost(now) <= loads[b].cost(now) {
                a
            } else {
                b
            }
        }
    };
    loads[pick]
        .try_take(limit(pick))
        .then_some(pick)
        .or_else(|| {
            // Lost a race for the last slot: look again.
            candidates
                .iter()
                .copied()
                .find(|&i| loads[i].try_take(limit(i)))
        })
}

/// A fast thread-local random number below `n` (xorshift; quality is ample for picking).
fn random(n: usize) -> usize {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x % n as u64) as usize
    })
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish() | 1
}

// === impl InFlight ===

impl InFlight {
    /// The endpoint answered (response headers): its latency feeds the balancer.
    pub fn answered(&self) {
        let now = Instant::now();
        self.load.observe(now.duration_since(self.sent), now);
        *self.load.down.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The endpoint could not be connected: leave it out for a growing backoff.
    pub fn unreachable(&self) {
        let now = Instant::now();
        let mut d = self.load.down.lock().unwrap_or_else(|p| p.into_inner());
        let backoff = d.map_or(BACKOFF_MIN, |d| (d.backoff * 2).min(BACKOFF_MAX));
        *d = Some(Down {
            until: now + backoff,
            backoff,
        });
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.load.in_flight.fetch_sub(1, Ordering::AcqRel);
        // Capacity is back: the service stops failing fast, and one waiting request may go.
        self.queue.fail_fast.store(false, Ordering::Relaxed);
        self.queue.notify.notify_one();
    }
}

#[cfg(test)]
mod tests;
