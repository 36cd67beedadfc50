//! `-o json` of `mesh stat`, `mesh routes` and `mesh edges`: the fields, number types and
//! null/omit rules of `linkerd viz stat|routes|edges -o json` (its `viz/cmd/stat.go`, `routes.go`,
//! `edges.go`), so `jq` scripts written for Linkerd read ours. mesh's additions come after
//! Linkerd's fields and are listed in [`STAT_ADDITIONS`] and [`ROUTE_ADDITIONS`] (and in
//! docs/viz.md, with every difference kept on purpose).

use std::collections::BTreeMap;

use serde::Serialize;

use super::edges::{reason_words, short_id};
use crate::viz::model::{Edge, RouteRow, Secured, StatRow, Traffic};

/// Fields of a `mesh stat -o json` row that Linkerd's rows do not have.
pub const STAT_ADDITIONS: &[&str] = &["requests"];
/// Fields of a `mesh routes -o json` row that Linkerd's rows do not have (`actual_requests` only
/// with `--to`).
pub const ROUTE_ADDITIONS: &[&str] = &["requests", "actual_requests"];

/// One `mesh stat -o json` row, as Linkerd's `jsonStats`: `success`, `rps` and the latencies are
/// `null` for a row without traffic, and the `tcp_*` fields are left out.
#[derive(Debug, Serialize)]
pub struct StatJson {
    pub namespace: String,
    /// `deployment`, `pod`, `namespace`, … (Linkerd's canonical kind).
    pub kind: &'static str,
    pub name: String,
    /// `answered/found` proxies (Linkerd: meshed/running pods).
    pub meshed: String,
    /// The fraction of successful responses.
    pub success: Option<f64>,
    /// Responses per second.
    pub rps: Option<f64>,
    /// Latency quantiles in whole milliseconds (rounded, as Linkerd's metrics API gives them).
    pub latency_ms_p50: Option<u64>,
    pub latency_ms_p95: Option<u64>,
    pub latency_ms_p99: Option<u64>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpJson>,
    /// mesh's addition: responses counted in the window (0 without traffic).
    pub requests: u64,
}

/// The TCP fields of a stat row with traffic.
#[derive(Debug, Serialize)]
pub struct TcpJson {
    /// Connections open now.
    pub tcp_open_connections: u64,
    /// Bytes per second.
    pub tcp_read_bytes_rate: f64,
    pub tcp_write_bytes_rate: f64,
}

/// `mesh stat -o json`: an array of rows.
pub fn stat_json(rows: &[StatRow]) -> String {
    let rows: Vec<StatJson> = rows.iter().map(stat_row).collect();
    json(&rows)
}

fn stat_row(r: &StatRow) -> StatJson {
    let http = r.http.total() > 0;
    // Linkerd leaves the TCP numbers out of a row without HTTP traffic; mesh keeps them where the
    // row had TCP traffic (opaque workloads), a documented difference.
    let tcp = http || r.tcp_open > 0 || r.read_rate > 0.0 || r.write_rate > 0.0;
    StatJson {
        namespace: r.namespace.clone(),
        kind: r.kind.word(),
        name: r.name.clone(),
        meshed: format!("{}/{}", r.meshed, r.total),
        success: r.http.success_rate(),
        rps: http.then_some(r.http.rps),
        latency_ms_p50: r.http.latency_ms(0.5),
        latency_ms_p95: r.http.latency_ms(0.95),
        latency_ms_p99: r.http.latency_ms(0.99),
        tcp: tcp.then_some(TcpJson {
            tcp_open_connections: r.tcp_open,
            tcp_read_bytes_rate: r.read_rate,
            tcp_write_bytes_rate: r.write_rate,
        }),
        requests: r.http.total(),
    }
}

/// One `mesh routes -o json` row, as Linkerd's `JSONRouteStats`: `success` and `rps` without
/// `--to`; with `--to`, `effective_success`, `effective_rps`, `actual_success` and `actual_rps`
/// instead. A route without traffic prints 0 for each number, latencies included, as Linkerd does.
#[derive(Debug, Serialize)]
pub struct RouteJson {
    pub route: String,
    /// The full authority (`voting-svc.emojivoto.svc.cluster.local:8080`; Linkerd: the service).
    pub authority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rps: Option<f64>,
    /// What callers saw: one response per request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_success: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_rps: Option<f64>,
    /// Every try the servers answered, retries included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_success: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_rps: Option<f64>,
    /// Effective latency quantiles in whole milliseconds (0 without traffic).
    pub latency_ms_p50: u64,
    pub latency_ms_p95: u64,
    pub latency_ms_p99: u64,
    /// mesh's addition: responses counted in the window (effective).
    pub requests: u64,
    /// mesh's addition with `--to`: tries answered in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_requests: Option<u64>,
}

/// `mesh routes -o json`: an object keyed by `type/name`. `to`: the query has `--to`, so rows
/// carry the effective and actual numbers (whatever `-o` said, as Linkerd's JSON).
pub fn routes_json(by_resource: &BTreeMap<String, Vec<RouteRow>>, to: bool) -> String {
    let out: BTreeMap<&String, Vec<RouteJson>> = by_resource
        .iter()
        .map(|(k, rows)| (k, rows.iter().map(|r| route_row(r, to)).collect()))
        .collect();
    json(&out)
}

fn route_row(r: &RouteRow, to: bool) -> RouteJson {
    // Linkerd's success rate of no responses is 0, its rate 0, its latencies 0.
    let success = |t: &Traffic| t.success_rate().unwrap_or(0.0);
    let latency = |q: f64| r.effective.latency_ms(q).unwrap_or(0);
    let (plain, effective, actual) = if to {
        let e = (success(&r.effective), r.effective.rps);
        (None, Some(e), Some((success(&r.actual), r.actual.rps)))
    } else {
        (Some((success(&r.effective), r.effective.rps)), None, None)
    };
    RouteJson {
        route: r.route.clone(),
        authority: r.authority.clone(),
        success: plain.map(|p| p.0),
        rps: plain.map(|p| p.1),
        effective_success: effective.map(|e| e.0),
        effective_rps: effective.map(|e| e.1),
        actual_success: actual.map(|a| a.0),
        actual_rps: actual.map(|a| a.1),
        latency_ms_p50: latency(0.5),
        latency_ms_p95: latency(0.95),
        latency_ms_p99: latency(0.99),
        requests: r.effective.total(),
        actual_requests: to.then(|| r.actual.total()),
    }
}

/// One `mesh edges -o json` row, as Linkerd's `edgesJSONStats`: the identities shortened to
/// `<service-account>.<namespace>` as its table prints them, `""` where none was proven; and
/// `no_tls_reason` the SECURED column's reason in its words (`Not Provided By Service
/// Discovery`), `""` for an edge whose traffic was all mutual TLS (`Unknown` where the traffic
/// said nothing of TLS).
#[derive(Debug, Serialize)]
pub struct EdgeJson<'a> {
    pub src: &'a str,
    pub src_namespace: &'a str,
    pub dst: &'a str,
    pub dst_namespace: &'a str,
    pub client_id: String,
    pub server_id: String,
    pub no_tls_reason: String,
}

/// `mesh edges -o json`: an array of rows.
pub fn edges_json(edges: &[Edge]) -> String {
    let id = |id: &Option<String>| id.as_deref().map(short_id).unwrap_or_default();
    let rows: Vec<EdgeJson> = edges
        .iter()
        .map(|e| EdgeJson {
            src: &e.src,
            src_namespace: &e.src_namespace,
            dst: &e.dst,
            dst_namespace: &e.dst_namespace,
            client_id: id(&e.tls.client_id),
            server_id: id(&e.tls.server_id),
            no_tls_reason: match e.tls.secured() {
                Secured::Yes => String::new(),
                Secured::No(reason) => reason_words(reason),
                Secured::Unknown => "Unknown".into(),
            },
        })
        .collect();
    json(&rows)
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .map_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"), |s| s + "\n")
}

#[cfg(test)]
mod tests;
