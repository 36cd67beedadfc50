//! Prometheus text exposition with Linkerd's metric names and labels, so existing dashboards and
//! PromQL (`sum(rate(response_total{classification="failure"}[1m])) by (deployment)`) work.
//!
//! `request_total`, `response_total` and `response_latency_ms` sum a peer's routes; the `route_*`
//! families keep them apart (`rt_route`, `dst`). Every line carries the proxy's own workload labels;
//! HTTP lines also `tls="true"` with `client_id`/`server_id` for mutual TLS, else
//! `tls="no_identity"` with `no_tls_reason`, as Linkerd's proxy labels them (TCP lines the
//! same; the app's side of the proxy is `no_tls_reason="loopback"`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use super::histogram::{HistogramSnapshot, LATENCY_BOUNDS_MS};
use super::labels::{
    push_destination, push_identity, push_label, Direction, DstService, ResponseOutcome,
    StreamError, TlsStatus,
};
use super::Snapshot;
use crate::identity::Identity;

/// A peer's traffic in one direction to one authority (outbound, of one service).
type PeerKey = (
    Direction,
    Arc<str>,
    Option<Arc<crate::identity::Identity>>,
    Option<Arc<DstService>>,
    TlsStatus,
);

#[derive(Default)]
struct Totals {
    requests: u64,
    responses: BTreeMap<OutcomeKey, HistogramSnapshot>,
}

/// Orderable form of a [`ResponseOutcome`], so output is stable.
type OutcomeKey = (u16, Option<u32>, bool, Option<StreamError>);

fn key(o: &ResponseOutcome) -> OutcomeKey {
    (o.status, o.grpc_status, o.failure, o.error)
}

/// Facts about the proxy process itself.
pub struct Process<'a> {
    /// Start time since the Unix epoch, in seconds.
    pub started_unix: f64,
    /// CPU, memory and file descriptors, as the kernel gives them now.
    pub stats: super::process::ProcessStats,
    /// Connection tasks that panicked (contained; the proxy kept serving).
    pub panics: u64,
    /// Connections whose client sent nothing within the detection timeout (relayed as opaque):
    /// inbound, outbound.
    pub detect_timeouts: [u64; 2],
    /// Requests the forwarding policy refused.
    pub refusals: &'a super::Refusals,
    /// Requests the proxy answered itself.
    pub errors: &'a super::ProxyErrors,
}

/// Renders `snap` and `process` as Prometheus text.
pub fn prometheus(identity: &Identity, snap: &Snapshot, process: &Process<'_>) -> String {
    let own = own_labels(identity);

    let mut peers: BTreeMap<PeerKey, Totals> = BTreeMap::new();
    let mut routes: BTreeMap<(PeerKey, Arc<str>), (u64, &[_], &[_])> = BTreeMap::new();
    for (labels, s) in &snap.http {
        let pk = (
            labels.direction,
            labels.authority.clone(),
            labels.peer.clone(),
            labels.service.clone(),
            labels.tls.clone(),
        );
        let t = peers.entry(pk.clone()).or_default();
        t.requests += s.requests;
        for (o, h) in &s.effective {
            t.responses.entry(key(o)).or_default().add(h);
        }
        routes.insert(
            (pk, labels.route.clone()),
            (s.requests, &s.effective[..], &s.actual[..]),
        );
    }

    let mut out = String::with_capacity(4096);
    let base = |pk: &PeerKey, authority_key: &str| {
        let mut l = own.clone();
        push_label(&mut l, "direction", pk.0.as_str());
        push_label(&mut l, authority_key, &pk.1);
        match pk.0 {
            Direction::Outbound => push_destination(&mut l, pk.3.as_deref(), pk.2.as_deref()),
            Direction::Inbound => {
                if let Some(peer) = &pk.2 {
                    push_identity(&mut l, pk.0.peer_prefix(), peer);
                }
            }
        }
        pk.4.push_labels(pk.0, &mut l);
        l
    };

    header(
        &mut out,
        "request_total",
        "counter",
        "Total HTTP requests the proxy received.",
    );
    for (pk, t) in &peers {
        sample(
            &mut out,
            "request_total",
            &base(pk, "authority"),
            t.requests,
        );
    }
    header(
        &mut out,
        "response_total",
        "counter",
        "Total HTTP responses, by classification and status.",
    );
    for (pk, t) in &peers {
        let b = base(pk, "authority");
        for (o, h) in &t.responses {
            sample(
                &mut out,
                "response_total",
                &outcome_labels(&b, o),
                h.count(),
            );
        }
    }
    header(
        &mut out,
        "response_latency_ms",
        "histogram",
        "HTTP response latency in milliseconds.",
    );
    for (pk, t) in &peers {
        let b = base(pk, "authority");
        for (status, h) in by_status(t.responses.iter().map(|(o, h)| (o.0, h))) {
            let mut l = b.clone();
            push_label(&mut l, "status_code", &status.to_string());
            histogram(&mut out, "response_latency_ms", &l, &h);
        }
    }

    header(
        &mut out,
        "route_request_total",
        "counter",
        "Total HTTP requests per ServiceProfile route.",
    );
    for ((pk, route), (requests, _, _)) in &routes {
        sample(
            &mut out,
            "route_request_total",
            &route_labels(&base(pk, "dst"), route),
            *requests,
        );
    }
    for (name, actual, help) in [
        (
            "route_response_total",
            false,
            "HTTP responses the caller saw per route.",
        ),
        (
            "route_actual_response_total",
            true,
            "HTTP responses per route, each try (retries) counted.",
        ),
    ] {
        header(&mut out, name, "counter", help);
        for ((pk, route), (_, effective, tries)) in &routes {
            let l = route_labels(&base(pk, "dst"), route);
            for (o, h) in if actual {
                tries.iter()
            } else {
                effective.iter()
            } {
                sample(&mut out, name, &outcome_labels(&l, &key(o)), h.count());
            }
        }
    }
    for (name, actual, help) in [
        (
            "route_response_latency_ms",
            false,
            "HTTP response latency per route in milliseconds.",
        ),
        (
            "route_actual_response_latency_ms",
            true,
            "HTTP latency per route and try in milliseconds.",
        ),
    ] {
        header(&mut out, name, "histogram", help);
        for ((pk, route), (_, effective, tries)) in &routes {
            let l = route_labels(&base(pk, "dst"), route);
            let outcomes = if actual {
                tries.iter()
            } else {
                effective.iter()
            };
            for (status, h) in by_status(outcomes.map(|(o, h)| (o.status, h))) {
                let mut l = l.clone();
                push_label(&mut l, "status_code", &status.to_string());
                histogram(&mut out, name, &l, &h);
            }
        }
    }

    let mut tcp: Vec<_> = snap.tcp.iter().collect();
    tcp.sort_by(|a, b| {
        (a.0.direction, a.0.side, &a.0.peer).cmp(&(b.0.direction, b.0.side, &b.0.peer))
    });
    let tcp_labels: Vec<_> = tcp
        .iter()
        .map(|(k, s)| {
            let mut l = own.clone();
            push_label(&mut l, "direction", k.direction.as_str());
            push_label(&mut l, "peer", k.side.as_str());
            if let Some(peer) = &k.peer {
                push_identity(&mut l, k.direction.peer_prefix(), peer);
            }
            k.tls.push_labels(k.direction, &mut l);
            (l, *s)
        })
        .collect();
    type Field = fn(&super::TcpSnapshot) -> u64;
    let families: [(&str, &str, &str, Field); 4] = [
        (
            "tcp_open_total",
            "counter",
            "Total TCP connections opened.",
            |s| s.opened,
        ),
        (
            "tcp_open_connections",
            "gauge",
            "TCP connections open now.",
            |s| s.opened.saturating_sub(s.closed),
        ),
        (
            "tcp_read_bytes_total",
            "counter",
            "Total bytes read from peers.",
            |s| s.read,
        ),
        (
            "tcp_write_bytes_total",
            "counter",
            "Total bytes written to peers.",
            |s| s.wrote,
        ),
    ];
    for (name, kind, help, field) in families {
        header(&mut out, name, kind, help);
        for (l, s) in &tcp_labels {
            sample(&mut out, name, l, field(s));
        }
        if name == "tcp_open_total" {
            tcp_closes(&mut out, &tcp_labels);
        }
    }
    // The start time also lets PromQL tell a proxy younger than the window from an old one.
    super::process::render(&mut out, process.started_unix, &process.stats);
    super::build_info::BUILD_INFO.render(&mut out, &own);
    header(
        &mut out,
        "proxy_task_panics_total",
        "counter",
        "Connection and stream tasks that panicked; each was dropped alone and the proxy kept serving.",
    );
    let _ = writeln!(out, "proxy_task_panics_total{{{own}}} {}", process.panics);
    header(
        &mut out,
        "proxy_detect_timeouts_total",
        "counter",
        "Connections whose client sent nothing within --detect-timeout (a server-speaks-first protocol on a port not in --opaque-ports), relayed as opaque TCP after the wait.",
    );
    for (direction, n) in ["inbound", "outbound"].iter().zip(process.detect_timeouts) {
        let _ = writeln!(
            out,
            "proxy_detect_timeouts_total{{{own},direction=\"{direction}\"}} {n}"
        );
    }
    process.refusals.render(&mut out, &own);
    process.errors.render(&mut out, &own);
    out
}

/// `tcp_close_total` as Linkerd has it: `errno=""` for clean closes, the errno's name
/// (`ECONNRESET`) for closes after a read or write failed.
fn tcp_closes(out: &mut String, tcp: &[(String, &super::TcpSnapshot)]) {
    header(
        out,
        "tcp_close_total",
        "counter",
        "Total TCP connections closed, by the OS error that ended them (errno=\"\" when none).",
    );
    for (l, s) in tcp {
        let failed: u64 = s.close_errors.iter().map(|(_, n)| n).sum();
        let mut clean = l.clone();
        push_label(&mut clean, "errno", "");
        sample(
            out,
            "tcp_close_total",
            &clean,
            s.closed.saturating_sub(failed),
        );
        for (errno, n) in &s.close_errors {
            let mut with = l.clone();
            push_label(&mut with, "errno", &errno_name(*errno));
            sample(out, "tcp_close_total", &with, *n);
        }
    }
}

/// `ECONNRESET` for 104 on Linux; the number for one the OS does not name.
fn errno_name(errno: i32) -> String {
    match nix::errno::Errno::from_raw(errno) {
        nix::errno::Errno::UnknownErrno => errno.to_string(),
        e => format!("{e:?}"),
    }
}

/// Latency histograms merged per status code.
fn by_status<'a>(
    items: impl Iterator<Item = (u16, &'a HistogramSnapshot)>,
) -> BTreeMap<u16, HistogramSnapshot> {
    let mut m: BTreeMap<u16, HistogramSnapshot> = BTreeMap::new();
    for (status, h) in items {
        m.entry(status).or_default().add(h);
    }
    m
}

fn outcome_labels(base: &str, (status, grpc, failure, error): &OutcomeKey) -> String {
    let mut l = base.to_string();
    push_label(
        &mut l,
        "classification",
        if *failure { "failure" } else { "success" },
    );
    push_label(&mut l, "status_code", &status.to_string());
    if let Some(g) = grpc {
        push_label(&mut l, "grpc_status", &g.to_string());
    }
    if let Some(e) = error {
        push_label(&mut l, "error", e.as_str());
    }
    l
}

/// The proxy's own labels, on every line: `namespace`, the workload kind's label, `pod`.
pub(super) fn own_labels(identity: &Identity) -> String {
    let mut own = String::new();
    push_label(&mut own, "namespace", &identity.namespace);
    push_label(
        &mut own,
        identity.workload.kind.label(),
        &identity.workload.name,
    );
    push_label(&mut own, "pod", &identity.pod);
    own
}

fn route_labels(base: &str, route: &str) -> String {
    let mut l = base.to_string();
    push_label(&mut l, "rt_route", route);
    l
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    let _ = writeln!(out, "{name}{{{labels}}} {value}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &HistogramSnapshot) {
    let mut cumulative = 0;
    for (i, count) in h.buckets.iter().enumerate() {
        cumulative += count;
        match LATENCY_BOUNDS_MS.get(i) {
            Some(le) => {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            None => {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
            }
        }
    }
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_us as f64 / 1000.0);
    let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
}
