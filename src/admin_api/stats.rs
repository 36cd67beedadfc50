//! The `/stats?window=60s` contract between proxies and the CLI: what a proxy's counters increased
//! by over a recent window, as JSON (see `docs/stats-api.md`). Proxies fill it from their ring of
//! snapshots; `mesh stat` and friends read it when no Prometheus is given. Readers ignore fields
//! they do not know, so the proxy may add some without a version bump; `version` changes when a
//! field changes meaning.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest `window` a proxy serves (it keeps this much history); longer ones are answered 400,
/// and `mesh stat -t` refuses them before asking unless it reads from Prometheus.
pub const MAX_STATS_WINDOW: Duration = Duration::from_secs(3600);

/// Which way traffic flows through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From callers to the local app.
    Inbound,
    /// From the local app to other services.
    Outbound,
}

impl Direction {
    /// The `direction` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// The prefix of the peer's labels: inbound peers are sources, outbound peers destinations.
    pub fn peer_prefix(self) -> &'static str {
        match self {
            Direction::Inbound => "src_",
            Direction::Outbound => "dst_",
        }
    }
}

/// Which end of a TCP connection the proxy's peer is (Linkerd's `peer` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerSide {
    /// The connection was accepted from a client.
    Src,
    /// The proxy opened the connection to a server.
    Dst,
}

impl PeerSide {
    /// The `peer` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerSide::Src => "src",
            PeerSide::Dst => "dst",
        }
    }
}

/// The schema version this build writes and reads.
pub const STATS_VERSION: u32 = 1;

/// Upper bounds of the latency buckets in milliseconds (Linkerd's); a last `+Inf` bucket follows.
pub const LATENCY_BOUNDS_MS: [u64; 25] = [
    1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000,
    10000, 20000, 30000, 40000, 50000,
];

/// One proxy's increase over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    pub version: u32,
    /// The workload the proxy belongs to.
    pub identity: WorkloadRef,
    /// This proxy's own TLS identity, the DNS-style name its certificate proves
    /// (`web.emojivoto.serviceaccount.identity.mesh.cluster.local`); absent without
    /// `--identity-dir`. It is the `server_id` of its inbound rows and the `client_id` of its
    /// outbound ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_id: Option<String>,
    pub window: StatsWindow,
    /// Bucket upper bounds shared by every histogram in the report.
    pub latency_bounds_ms: Vec<u64>,
    pub http: Vec<HttpStats>,
    pub tcp: Vec<TcpStats>,
    /// The routes of the ServiceProfile in force for this proxy's traffic (`[DEFAULT]` alone where
    /// no profile applies), so routes without traffic are shown and routes a reload removed are not.
    #[serde(default)]
    pub profile_routes: Vec<ProfileRoutes>,
}

/// The metric that carries [`ProfileRoutes`] in a proxy's `/metrics`, one line per route (value
/// 1) labelled `direction`, `dst` (the authority) and `rt_route`, for `mesh routes --prometheus`.
pub const PROFILE_ROUTE_INFO: &str = "profile_route_info";

/// The routes of the profile in force for one authority and direction, and `[DEFAULT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRoutes {
    pub direction: Direction,
    pub authority: String,
    pub routes: Vec<String>,
}

/// A workload as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkloadRef {
    pub namespace: String,
    /// `deploy/web`.
    pub workload: String,
    pub pod: String,
}

/// The window asked for and the span the numbers really cover (shorter while the proxy is young,
/// and rounded to the proxy's snapshot interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatsWindow {
    pub requested_seconds: f64,
    pub covered_seconds: f64,
}

/// HTTP traffic of one direction, authority, peer and route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpStats {
    pub direction: Direction,
    pub authority: String,
    /// The ServiceProfile route, or `[DEFAULT]`.
    pub route: String,
    /// The workload on the other side (inbound: the caller; outbound: the destination), if meshed.
    pub peer: Option<WorkloadRef>,
    /// The peer's TLS identity when the connection was mutual TLS (inbound: the `client_id` the
    /// caller's certificate proved; outbound: the `server_id` the endpoint's proved): the metrics'
    /// `tls="true"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_tls_id: Option<String>,
    /// Why the connection was not mutual TLS, as Linkerd's `no_tls_reason` label says it
    /// (`no_tls_from_remote`, `not_provided_by_service_discovery`, `local_identity_disabled`);
    /// absent with `peer_tls_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_tls_reason: Option<String>,
    pub requests: u64,
    /// Effective: what callers saw, one per request.
    pub responses: ResponseStats,
    /// Actual: every try the server answered, retries included (outbound only; inbound it equals
    /// `responses`).
    pub actual_responses: ResponseStats,
}

/// Responses counted by outcome, with their latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseStats {
    pub success: u64,
    pub failure: u64,
    pub latency_ms: LatencyHistogram,
    pub by_status: Vec<StatusCount>,
}

/// Per-bucket counts (not cumulative; the last is `+Inf`) and the sum of latencies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    pub counts: Vec<u64>,
    pub sum_ms: f64,
}

/// Responses with one status code, gRPC status, classification and stream error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCount {
    /// The HTTP status; 0 for requests cancelled before any response.
    pub status_code: u16,
    pub grpc_status: Option<u32>,
    /// `success` or `failure`.
    pub classification: String,
    /// `cancel` or `reset` when the exchange broke off (the metrics' `error` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub count: u64,
}

/// TCP connections of one direction, side and peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpStats {
    pub direction: Direction,
    pub peer_side: PeerSide,
    pub peer: Option<WorkloadRef>,
    /// As [`HttpStats::peer_tls_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_tls_id: Option<String>,
    /// As [`HttpStats::no_tls_reason`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_tls_reason: Option<String>,
    pub opened: u64,
    pub closed: u64,
    /// Open now (a gauge, not an increase).
    pub open: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

impl LatencyHistogram {
    /// Adds another histogram's counts to this one (both over the same bounds); counts saturate, as
    /// a reader cannot trust a proxy's numbers to be sane.
    pub fn add(&mut self, other: &LatencyHistogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.sum_ms += other.sum_ms;
    }

    /// The `q` quantile in milliseconds, interpolated inside its bucket as Prometheus'
    /// `histogram_quantile` does; `None` without observations.
    pub fn quantile(&self, q: f64, bounds_ms: &[u64]) -> Option<f64> {
        let bounds: Vec<f64> = bounds_ms.iter().map(|&b| b as f64).collect();
        let mut cumulative = Vec::with_capacity(self.counts.len());
        let mut total = 0.0;
        for &c in &self.counts {
            total += c as f64;
            cumulative.push(total);
        }
        histogram_quantile(q, &bounds, &cumulative)
    }
}

/// Prometheus' `histogram_quantile`: `bounds` are the finite upper bounds, `cumulative` the
/// cumulative counts with one more entry for `+Inf`. A quantile that falls in `+Inf` is the largest
/// finite bound; the first bucket interpolates from 0.
pub fn histogram_quantile(q: f64, bounds: &[f64], cumulative: &[f64]) -> Option<f64> {
    let total = *cumulative.last()?;
    if total <= 0.0 || q.is_nan() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let rank = q * total;
    let i = cumulative.iter().position(|&c| c >= rank)?;
    if i >= bounds.len() {
        return bounds.last().copied();
    }
    let (lower, below) = if i == 0 {
        (0.0, 0.0)
    } else {
        (bounds[i - 1], cumulative[i - 1])
    };
    let in_bucket = cumulative[i] - below;
    if in_bucket <= 0.0 {
        return Some(bounds[i]);
    }
    Some(lower + (bounds[i] - lower) * (rank - below) / in_bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        // 10 observations in (0,1], 10 in (1,2].
        let h = LatencyHistogram {
            counts: vec![10, 10, 0],
            sum_ms: 0.0,
        };
        assert_eq!(h.quantile(0.5, &[1, 2]), Some(1.0));
        assert_eq!(h.quantile(0.25, &[1, 2]), Some(0.5));
        assert_eq!(h.quantile(0.75, &[1, 2]), Some(1.5));
        assert_eq!(LatencyHistogram::default().quantile(0.5, &[1, 2]), None);
        // Everything above the last bound: the largest finite bound.
        let slow = LatencyHistogram {
            counts: vec![0, 0, 5],
            sum_ms: 0.0,
        };
        assert_eq!(slow.quantile(0.99, &[1, 2]), Some(2.0));
    }
}
