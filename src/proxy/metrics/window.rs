//! Recent history for `/stats?window=…`: two rings of snapshots (every 5 s for the last two
//! minutes, every minute for the last hour) and the increase of every counter since the one that
//! starts the window. A proxy younger than the window answers with everything since it started
//! (its first snapshot is all zeros) and says so in `covered_seconds`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::histogram::{HistogramSnapshot, LATENCY_BOUNDS_MS};
use super::labels::{ResponseOutcome, TlsStatus};
use super::{HttpSnapshot, Snapshot, TcpSnapshot};
use crate::admin_api::stats::{
    HttpStats, LatencyHistogram, ResponseStats, StatsReport, StatsWindow, StatusCount, TcpStats,
    WorkloadRef, STATS_VERSION,
};
use crate::identity::Identity;

/// How often the sampler copies the counters.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// Fine snapshots kept: two minutes' worth.
const FINE_LEN: usize = 25;
/// Interval and count of coarse snapshots: one hour's worth.
const COARSE_INTERVAL: Duration = Duration::from_secs(60);
const COARSE_LEN: usize = 61;

/// The rings of snapshots.
pub struct History {
    fine: VecDeque<Arc<Snapshot>>,
    coarse: VecDeque<Arc<Snapshot>>,
}

impl History {
    /// History that starts with all counters at zero at `start`.
    pub fn new(start: Instant) -> Self {
        let zero = Arc::new(Snapshot {
            at: start,
            http: HashMap::new(),
            tcp: HashMap::new(),
        });
        History {
            fine: VecDeque::from([zero.clone()]),
            coarse: VecDeque::from([zero]),
        }
    }

    /// Keeps `snap`; the oldest ones fall off.
    pub fn push(&mut self, snap: Snapshot) {
        let snap = Arc::new(snap);
        let coarse_due = self
            .coarse
            .back()
            .is_none_or(|last| snap.at.duration_since(last.at) >= COARSE_INTERVAL);
        if coarse_due {
            self.coarse.push_back(snap.clone());
            if self.coarse.len() > COARSE_LEN {
                self.coarse.pop_front();
            }
        }
        self.fine.push_back(snap);
        if self.fine.len() > FINE_LEN {
            self.fine.pop_front();
        }
    }

    /// The newest snapshot at least `window` before `now`, or the oldest kept.
    pub fn baseline(&self, now: Instant, window: Duration) -> Arc<Snapshot> {
        let target = now.checked_sub(window);
        let all = || self.fine.iter().chain(self.coarse.iter());
        let at_or_before = target.and_then(|t| all().filter(|s| s.at <= t).max_by_key(|s| s.at));
        at_or_before
            .or_else(|| all().min_by_key(|s| s.at))
            .cloned()
            .expect("history always holds its first snapshot")
    }
}

/// The increase from `base` to `now`, as the `/stats` report.
pub fn report(
    identity: &Identity,
    now: &Snapshot,
    base: &Snapshot,
    window: Duration,
) -> StatsReport {
    let empty = HttpSnapshot::default();
    let mut http: Vec<HttpStats> = now
        .http
        .iter()
        .map(|(labels, s)| {
            let b = base.http.get(labels).unwrap_or(&empty);
            HttpStats {
                direction: labels.direction,
                authority: labels.authority.to_string(),
                route: labels.route.to_string(),
                peer: labels.peer.as_deref().map(workload_ref),
                peer_tls_id: peer_tls_id(&labels.tls),
                no_tls_reason: no_tls_reason(&labels.tls),
                requests: s.requests.saturating_sub(b.requests),
                responses: responses(&s.effective, &b.effective),
                actual_responses: responses(&s.actual, &b.actual),
            }
        })
        .collect();
    http.sort_by(|a, b| {
        (a.direction, &a.authority, &a.peer, &a.route).cmp(&(
            b.direction,
            &b.authority,
            &b.peer,
            &b.route,
        ))
    });
    let mut tcp: Vec<TcpStats> = now
        .tcp
        .iter()
        .map(|(labels, s)| {
            let b = base
                .tcp
                .get(labels)
                .cloned()
                .unwrap_or(TcpSnapshot::default());
            TcpStats {
                direction: labels.direction,
                peer_side: labels.side,
                peer: labels.peer.as_deref().map(workload_ref),
                peer_tls_id: peer_tls_id(&labels.tls),
                no_tls_reason: no_tls_reason(&labels.tls),
                opened: s.opened.saturating_sub(b.opened),
                closed: s.closed.saturating_sub(b.closed),
                open: s.opened.saturating_sub(s.closed),
                read_bytes: s.read.saturating_sub(b.read),
                write_bytes: s.wrote.saturating_sub(b.wrote),
            }
        })
        .collect();
    tcp.sort_by(|a, b| {
        (a.direction, a.peer_side, &a.peer).cmp(&(b.direction, b.peer_side, &b.peer))
    });
    StatsReport {
        version: STATS_VERSION,
        tls_id: None,
        identity: workload_ref(identity),
        window: StatsWindow {
            requested_seconds: window.as_secs_f64(),
            covered_seconds: now.at.duration_since(base.at).as_secs_f64(),
        },
        latency_bounds_ms: LATENCY_BOUNDS_MS.to_vec(),
        http,
        tcp,
        profile_routes: Vec::new(),
    }
}

fn responses(
    now: &[(ResponseOutcome, HistogramSnapshot)],
    base: &[(ResponseOutcome, HistogramSnapshot)],
) -> ResponseStats {
    let mut stats = ResponseStats::default();
    let mut latency = HistogramSnapshot::default();
    for (outcome, h) in now {
        let before = base
            .iter()
            .find(|(o, _)| o == outcome)
            .map(|(_, h)| *h)
            .unwrap_or_default();
        let d = h.since(&before);
        let count = d.count();
        if count == 0 {
            continue;
        }
        if outcome.failure {
            stats.failure += count;
        } else {
            stats.success += count;
        }
        latency.add(&d);
        stats.by_status.push(StatusCount {
            status_code: outcome.status,
            grpc_status: outcome.grpc_status,
            classification: outcome.classification().to_string(),
            error: outcome.error.map(|e| e.as_str().to_string()),
            count,
        });
    }
    stats.by_status.sort_by_key(|s| {
        (
            s.status_code,
            s.grpc_status,
            s.classification.clone(),
            s.error.clone(),
        )
    });
    stats.latency_ms = LatencyHistogram {
        counts: latency.buckets.to_vec(),
        sum_ms: latency.sum_us as f64 / 1000.0,
    };
    stats
}

/// The report's name for a workload.
pub fn workload_ref(identity: &Identity) -> WorkloadRef {
    WorkloadRef {
        namespace: identity.namespace.clone(),
        workload: identity.workload.to_string(),
        pod: identity.pod.clone(),
    }
}

/// The stats' `peer_tls_id`: the peer's proven identity.
fn peer_tls_id(tls: &TlsStatus) -> Option<String> {
    tls.peer_id().map(|id| id.to_string())
}

/// The stats' `no_tls_reason`: why the peer's connection was not mutual TLS.
fn no_tls_reason(tls: &TlsStatus) -> Option<String> {
    match tls {
        TlsStatus::Secured(_) => None,
        TlsStatus::NotSecured(reason) => Some(reason.as_str().to_string()),
    }
}
