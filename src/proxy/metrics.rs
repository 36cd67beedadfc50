//! Golden metrics of one proxy: requests, responses by outcome, latency histograms and TCP bytes,
//! per direction, authority, peer workload and route.
//!
//! The hot path is one sharded-map lookup per request ([`Metrics::request`] hands back the
//! series' [`HttpCounters`], so its response is counted without hashing its labels again) and a
//! few relaxed atomic adds; no lock is global or held across an `.await`. Readers take a [`Snapshot`] (a plain copy) and
//! either render it as Prometheus text (`render`) or subtract an older one kept in the
//! `window` ring to answer `/stats?window=60s`.

mod build_info;
mod errors;
mod histogram;
mod labels;
mod pending_tcp;
mod process;
mod profile_info;
mod refusals;
mod render;
mod tcp;
mod window;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use build_info::{BuildInfo, BUILD_INFO};
pub use errors::ProxyErrors;
pub use histogram::{Histogram, HistogramSnapshot, BUCKETS};
pub use labels::{
    Direction, DstService, ErrorReason, NoTlsReason, PeerSide, ResponseOutcome, StreamError,
    TcpLabels, TlsStatus, TrafficLabels,
};
pub use pending_tcp::PendingTcp;
pub use process::ProcessStats;
pub use refusals::{Refusals, Refused};
pub use tcp::{TcpConnection, TcpSnapshot};

use super::guard::PanicCounter;
use super::maps::ConcurrentMap;
use crate::identity::Identity;
use tcp::TcpSeries;
use window::History;

/// Most HTTP series (direction × authority × peer × route) one proxy keeps; traffic beyond lands
/// in one overflow series so a flood of authorities cannot grow memory without bound.
pub const MAX_HTTP_SERIES: usize = 10_000;
/// Most TCP series one proxy keeps.
pub const MAX_TCP_SERIES: usize = 10_000;
/// Most distinct outcomes (status × gRPC status × classification) per series; others are counted
/// under status 0.
pub const MAX_OUTCOMES: usize = 64;
/// The authority and route of the overflow series.
pub const OVERFLOW: &str = "[OVERFLOW]";

/// One proxy's metrics.
pub struct Metrics {
    identity: Identity,
    http: ConcurrentMap<TrafficLabels, Arc<HttpSeries>>,
    tcp: ConcurrentMap<TcpLabels, Arc<TcpSeries>>,
    overflowed: AtomicBool,
    history: Mutex<History>,
    /// When the proxy started, for `process_start_time_seconds`.
    started: std::time::SystemTime,
    /// Tasks that panicked (and were contained), for `proxy_task_panics_total`.
    panics: PanicCounter,
    /// Connections whose client sent nothing within the detection timeout, by direction
    /// (inbound, outbound), for `proxy_detect_timeouts_total`.
    detect_timeouts: [AtomicU64; 2],
    /// Requests the forwarding policy refused, for `proxy_refused_total`.
    refusals: Refusals,
    /// Requests the proxy answered itself, for `{inbound,outbound}_http_errors_total`.
    errors: ProxyErrors,
}

/// Counters of one HTTP series.
#[derive(Default)]
struct HttpSeries {
    requests: AtomicU64,
    /// What callers saw.
    effective: Outcomes,
    /// Every try (outbound, once retries exist).
    actual: Outcomes,
}

/// Response counts and latencies by outcome; a handful of entries, read-locked on the hot path.
#[derive(Default)]
struct Outcomes(RwLock<Vec<(ResponseOutcome, Arc<Histogram>)>>);

/// A copy of every counter at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: Instant,
    pub http: HashMap<TrafficLabels, HttpSnapshot>,
    pub tcp: HashMap<TcpLabels, TcpSnapshot>,
}

/// One HTTP series' counters.
#[derive(Debug, Clone, Default)]
pub struct HttpSnapshot {
    pub requests: u64,
    pub effective: Vec<(ResponseOutcome, HistogramSnapshot)>,
    pub actual: Vec<(ResponseOutcome, HistogramSnapshot)>,
}

/// The counters of one request's HTTP series, found once when the request is counted: its
/// responses are counted here without looking the labels up again.
#[derive(Clone)]
pub struct HttpCounters {
    series: Arc<HttpSeries>,
}

// === impl Metrics ===

impl Metrics {
    /// Metrics of the proxy of `identity`.
    pub fn new(identity: Identity) -> Arc<Metrics> {
        Arc::new(Metrics {
            identity,
            http: ConcurrentMap::default(),
            tcp: ConcurrentMap::default(),
            overflowed: AtomicBool::new(false),
            history: Mutex::new(History::new(Instant::now())),
            started: std::time::SystemTime::now(),
            panics: PanicCounter::default(),
            detect_timeouts: Default::default(),
            refusals: Refusals::default(),
            errors: ProxyErrors::default(),
        })
    }

    /// Counts a connection of `direction` whose client sent nothing within the detection
    /// timeout (outbound too, under capture).
    pub fn detect_timeout(&self, direction: Direction) {
        self.detect_timeouts[refusals::direction_index(direction)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request (or, under capture, a connection) of `direction` the forwarding policy
    /// refused.
    pub fn refused(&self, direction: Direction, reason: Refused) {
        self.refusals.count(direction, reason);
    }

    /// Counts a request the proxy answered itself (`respond::rescue`).
    pub fn proxy_error(&self, direction: Direction, reason: ErrorReason) {
        self.errors.count(direction, reason);
    }

    /// The requests the proxy answered itself so far.
    pub fn proxy_errors(&self) -> &ProxyErrors {
        &self.errors
    }

    /// Where connection tasks count their panics.
    pub fn panics(&self) -> &PanicCounter {
        &self.panics
    }

    /// The proxy's own identity (the `namespace`, `deployment`, `pod` labels).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Counts a request; the returned counters count its responses.
    pub fn request(&self, labels: &TrafficLabels) -> HttpCounters {
        let series = self.http_series(labels);
        series.requests.fetch_add(1, Ordering::Relaxed);
        HttpCounters { series }
    }

    /// Counts a new TCP connection; the returned handle counts its bytes and its close.
    pub fn tcp_open(&self, labels: TcpLabels) -> TcpConnection {
        let series = match self.tcp.get(&labels) {
            Some(s) => s.clone(),
            None if self.tcp.len() >= MAX_TCP_SERIES => {
                self.note_overflow();
                let overflow = TcpLabels {
                    peer: None,
                    ..labels
                };
                self.tcp.entry(overflow).or_default().clone()
            }
            None => self.tcp.entry(labels).or_default().clone(),
        };
        TcpConnection::open(series)
    }

    fn http_series(&self, labels: &TrafficLabels) -> Arc<HttpSeries> {
        if let Some(s) = self.http.get(labels) {
            return s.clone();
        }
        if self.http.len() >= MAX_HTTP_SERIES {
            self.note_overflow();
            let overflow = TrafficLabels {
                direction: labels.direction,
                authority: Arc::from(OVERFLOW),
                peer: None,
                route: Arc::from(OVERFLOW),
                service: None,
                // Few values (the peers' identities): kept, so overflow says what was secured.
                tls: labels.tls.clone(),
            };
            return self.http.entry(overflow).or_default().clone();
        }
        self.http.entry(labels.clone()).or_default().clone()
    }

    fn note_overflow(&self) {
        if !self.overflowed.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "more than {MAX_HTTP_SERIES} metric series: further authorities and routes are counted under {OVERFLOW}"
            );
        }
    }

    /// A copy of every counter now.
    pub fn snapshot(&self) -> Snapshot {
        let http = self
            .http
            .iter()
            .map(|e| {
                let s = e.value();
                let snap = HttpSnapshot {
                    requests: s.requests.load(Ordering::Relaxed),
                    effective: s.effective.snapshot(),
                    actual: s.actual.snapshot(),
                };
                (e.key().clone(), snap)
            })
            .collect();
        let tcp = self
            .tcp
            .iter()
            .map(|e| {
                let snap = e.value().snapshot();
                (e.key().clone(), snap)
            })
            .collect();
        Snapshot {
            at: Instant::now(),
            http,
            tcp,
        }
    }

    /// Every counter as Prometheus text exposition.
    pub fn render_prometheus(&self) -> String {
        let started = self
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let process = render::Process {
            started_unix: started.as_secs_f64(),
            stats: ProcessStats::read(),
            panics: self.panics.get(),
            detect_timeouts: [
                self.detect_timeouts[0].load(Ordering::Relaxed),
                self.detect_timeouts[1].load(Ordering::Relaxed),
            ],
            refusals: &self.refusals,
            errors: &self.errors,
        };
        render::prometheus(&self.identity, &self.snapshot(), &process)
    }

    /// The increase of every counter over (about) the last `window`.
    pub fn stats(&self, window: Duration) -> crate::admin_api::stats::StatsReport {
        let now = self.snapshot();
        let base = self.lock_history().baseline(now.at, window);
        window::report(&self.identity, &now, &base, window)
    }

    /// Keeps the history `/stats` reads, until `shutdown` completes.
    pub fn spawn_sampler(
        self: &Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let metrics = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(window::SAMPLE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            let sample = async {
                loop {
                    tick.tick().await;
                    let Some(m) = metrics.upgrade() else { return };
                    let snap = m.snapshot();
                    m.lock_history().push(snap);
                }
            };
            tokio::select! {
                _ = sample => {}
                _ = shutdown => {}
            }
        })
    }

    fn lock_history(&self) -> std::sync::MutexGuard<'_, History> {
        // The history holds plain copies; one left mid-update by a panic is still usable.
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// === impl Outcomes ===

impl Outcomes {
    fn observe(&self, outcome: ResponseOutcome, latency: Duration) {
        self.histogram(outcome).observe(latency);
    }

    fn histogram(&self, outcome: ResponseOutcome) -> Arc<Histogram> {
        let read = self.0.read().unwrap_or_else(|e| e.into_inner());
        if let Some((_, h)) = read.iter().find(|(o, _)| *o == outcome) {
            return h.clone();
        }
        drop(read);
        let mut write = self.0.write().unwrap_or_else(|e| e.into_inner());
        let outcome = if write.len() >= MAX_OUTCOMES {
            ResponseOutcome {
                status: 0,
                grpc_status: None,
                ..outcome
            }
        } else {
            outcome
        };
        if let Some((_, h)) = write.iter().find(|(o, _)| *o == outcome) {
            return h.clone();
        }
        let h = Arc::new(Histogram::default());
        write.push((outcome, h.clone()));
        h
    }

    fn snapshot(&self) -> Vec<(ResponseOutcome, HistogramSnapshot)> {
        let read = self.0.read().unwrap_or_else(|e| e.into_inner());
        read.iter().map(|(o, h)| (*o, h.snapshot())).collect()
    }
}

// === impl HttpCounters ===

impl HttpCounters {
    /// Counts a response the caller saw, `latency` after its request arrived.
    pub fn response(&self, outcome: ResponseOutcome, latency: Duration) {
        self.series.effective.observe(outcome, latency);
    }

    /// Counts one try the server answered (retries included).
    pub fn actual_response(&self, outcome: ResponseOutcome, latency: Duration) {
        self.series.actual.observe(outcome, latency);
    }
}

#[cfg(test)]
mod tests;
