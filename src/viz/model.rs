//! The Stats model every source fills and every printer reads: rows per resource (`mesh stat`)
//! and per route (`mesh routes`), summed over the proxies that belong to each, and the edges
//! between resources (`mesh edges`, [`edges()`](fn@edges), in its own file).

mod edges;

use std::collections::BTreeMap;

use crate::admin_api::stats::{
    Direction, HttpStats, LatencyHistogram, PeerSide, ResponseStats, StatsReport, WorkloadRef,
    LATENCY_BOUNDS_MS,
};
use crate::identity::Identity;
use crate::profile::matcher::DEFAULT_ROUTE;
use crate::viz::resource::{Resource, ResourceKind};
use crate::viz::source::ProxyStats;

pub use edges::{edges, Edge, EdgeTls, Secured};

/// What to show: the resources, the namespace scope, and an optional peer.
#[derive(Debug, Clone)]
pub struct Query {
    pub resources: Vec<Resource>,
    /// `None`: every namespace (`-A`).
    pub namespace: Option<String>,
    /// Only traffic from this peer (inbound side).
    pub from: Option<Resource>,
    /// Only traffic to this peer (outbound side, what the callers saw).
    pub to: Option<Resource>,
}

/// HTTP responses summed over proxies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    pub success: u64,
    pub failure: u64,
    /// Responses per second (each proxy's count over the span its numbers cover, summed).
    pub rps: f64,
    pub latency: LatencyHistogram,
}

impl Traffic {
    /// Counts come from proxies' answers: sums saturate rather than overflow on absurd ones.
    fn add(&mut self, r: &ResponseStats, seconds: f64) {
        self.success = self.success.saturating_add(r.success);
        self.failure = self.failure.saturating_add(r.failure);
        self.rps += (r.success as f64 + r.failure as f64) / seconds;
        self.latency.add(&r.latency_ms);
    }

    /// Responses counted.
    pub fn total(&self) -> u64 {
        self.success.saturating_add(self.failure)
    }

    /// The fraction of successes; `None` without traffic.
    pub fn success_rate(&self) -> Option<f64> {
        (self.total() > 0).then(|| self.success as f64 / self.total() as f64)
    }

    /// A latency quantile in milliseconds (interpolated as Prometheus does); `None` without traffic.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.latency.quantile(q, &LATENCY_BOUNDS_MS)
    }

    /// A latency quantile in whole milliseconds, rounded half away from zero as Linkerd's metrics
    /// API rounds `histogram_quantile` before its CLI prints it (`123ms`, `"latency_ms_p50": 123`);
    /// `None` without traffic.
    pub fn latency_ms(&self, q: f64) -> Option<u64> {
        // `as` saturates: an absurd quantile cannot wrap.
        self.quantile(q).map(|ms| ms.max(0.0).round() as u64)
    }
}

/// One row of `mesh stat`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub namespace: String,
    pub kind: ResourceKind,
    pub name: String,
    /// Proxies that answered, of those found.
    pub meshed: usize,
    pub total: usize,
    pub http: Traffic,
    pub tcp_open: u64,
    pub read_rate: f64,
    pub write_rate: f64,
}

/// One row of `mesh routes`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteRow {
    pub route: String,
    pub authority: String,
    /// What callers saw.
    pub effective: Traffic,
    /// Every try (differs from `effective` when the caller's proxy retried).
    pub actual: Traffic,
}

impl Query {
    /// The row a proxy counts in for `resource`, if it is in scope.
    fn row_of(&self, resource: &Resource, id: &Identity) -> Option<String> {
        let in_scope = resource.kind == ResourceKind::Namespace
            || self.namespace.as_ref().is_none_or(|ns| *ns == id.namespace);
        in_scope.then(|| resource.row_of(id)).flatten()
    }

    /// The rows a proxy counts in for `resource`: one for a workload, pod or namespace; one per
    /// matching service it serves for `svc`.
    fn rows_of(&self, resource: &Resource, p: &ProxyStats) -> Vec<String> {
        match resource.kind {
            ResourceKind::Service
                if self
                    .namespace
                    .as_ref()
                    .is_none_or(|ns| *ns == p.identity.namespace) =>
            {
                resource.rows_of_services(&p.services)
            }
            _ => self.row_of(resource, &p.identity).into_iter().collect(),
        }
    }

    /// Whether an HTTP series belongs to what is asked: inbound by default; with `--from`, inbound
    /// from that peer; with `--to`, outbound to it (a `svc` by the authority it went to).
    fn selects(&self, direction: Direction, peer: Option<&WorkloadRef>, authority: &str) -> bool {
        let peer_is = |r: &Resource| match r.kind {
            ResourceKind::Service => r.name.as_ref().is_none_or(|n| *n == service_of(authority)),
            _ => peer.and_then(identity_of).is_some_and(|id| r.matches(&id)),
        };
        match (&self.from, &self.to) {
            (None, None) => direction == Direction::Inbound,
            (Some(from), _) => direction == Direction::Inbound && peer_is(from),
            (None, Some(to)) => direction == Direction::Outbound && peer_is(to),
        }
    }
}

/// The service an authority names: its first DNS label (`voting-svc`), or the whole `ip:port`.
pub fn service_of(authority: &str) -> String {
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        authority.to_string()
    } else {
        host.split('.').next().unwrap_or(host).to_string()
    }
}

fn identity_of(w: &WorkloadRef) -> Option<Identity> {
    Some(Identity {
        namespace: w.namespace.clone(),
        workload: w.workload.parse().ok()?,
        pod: w.pod.clone(),
    })
}

/// The rows of `mesh stat`, sorted by namespace and name.
pub fn stat_rows(query: &Query, proxies: &[ProxyStats]) -> Vec<StatRow> {
    let mut rows: BTreeMap<(String, ResourceKind, String), StatRow> = BTreeMap::new();
    for resource in &query.resources {
        for p in proxies {
            for name in query.rows_of(resource, p) {
                let row = rows
                    .entry(row_key(resource.kind, &p.identity, &name))
                    .or_insert_with(|| StatRow {
                        namespace: match resource.kind {
                            ResourceKind::Namespace => name.clone(),
                            _ => p.identity.namespace.clone(),
                        },
                        kind: resource.kind,
                        name: name.clone(),
                        meshed: 0,
                        total: 0,
                        http: Traffic::default(),
                        tcp_open: 0,
                        read_rate: 0.0,
                        write_rate: 0.0,
                    });
                add_proxy(query, resource, &name, p, row);
            }
        }
    }
    rows.into_values().collect()
}

fn row_key(kind: ResourceKind, id: &Identity, name: &str) -> (String, ResourceKind, String) {
    let namespace = match kind {
        ResourceKind::Namespace => String::new(),
        _ => id.namespace.clone(),
    };
    (namespace, kind, name.to_string())
}

/// Adds one proxy's window to a `mesh stat` row.
fn add_proxy(query: &Query, resource: &Resource, name: &str, p: &ProxyStats, row: &mut StatRow) {
    row.total += 1;
    let Ok(report) = &p.stats else { return };
    row.meshed += 1;
    let seconds = report.window.covered_seconds.max(0.001);
    // A `svc` row counts the requests for that service only (a proxy may serve several).
    let for_row = |authority: &str| {
        resource.kind != ResourceKind::Service
            || query.to.is_some()
            || service_of(authority) == name
    };
    for h in report.http.iter().filter(|h| {
        query.selects(h.direction, h.peer.as_ref(), &h.authority) && for_row(&h.authority)
    }) {
        row.http.add(&h.responses, seconds);
    }
    let (direction, side) = match query.to {
        Some(_) => (Direction::Outbound, PeerSide::Dst),
        None => (Direction::Inbound, PeerSide::Src),
    };
    for t in report
        .tcp
        .iter()
        .filter(|t| t.direction == direction && t.peer_side == side)
    {
        // TCP has no authority: with `--to svc/…`, connections to any peer count.
        if query.to.is_some() && !query.selects(t.direction, t.peer.as_ref(), "") {
            continue;
        }
        row.tcp_open = row.tcp_open.saturating_add(t.open);
        row.read_rate += t.read_bytes as f64 / seconds;
        row.write_rate += t.write_bytes as f64 / seconds;
    }
}

/// The rows of `mesh routes`, by resource (`deploy/web`): the routes of the profile in force for
/// each authority (with or without traffic) and `[DEFAULT]`, sorted with `[DEFAULT]` last.
pub fn route_rows(query: &Query, proxies: &[ProxyStats]) -> BTreeMap<String, Vec<RouteRow>> {
    let mut out: BTreeMap<String, BTreeMap<(bool, String, String), RouteRow>> = BTreeMap::new();
    for resource in &query.resources {
        for p in proxies {
            for name in query.rows_of(resource, p) {
                let routes = out
                    .entry(format!("{}/{name}", resource.kind.short()))
                    .or_default();
                let Ok(report) = &p.stats else { continue };
                let seconds = report.window.covered_seconds.max(0.001);
                let for_row = |authority: &str| {
                    resource.kind != ResourceKind::Service || service_of(authority) == name
                };
                let selected: Vec<&HttpStats> = report
                    .http
                    .iter()
                    .filter(|h| {
                        query.selects(h.direction, h.peer.as_ref(), &h.authority)
                            && for_row(&h.authority)
                    })
                    .collect();
                for h in selected.iter().filter(|h| listed(report, h)) {
                    add_route(routes, h, seconds);
                }
                // The profile's routes without traffic show too: inbound, those of the resource's
                // services; with --to, those of the authorities its selected requests went to.
                let direction = if query.to.is_some() {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                };
                for p in report
                    .profile_routes
                    .iter()
                    .filter(|p| p.direction == direction && for_row(&p.authority))
                {
                    if direction == Direction::Outbound
                        && !selected.iter().any(|h| h.authority == p.authority)
                    {
                        continue;
                    }
                    for route in &p.routes {
                        let default = *route == DEFAULT_ROUTE;
                        routes
                            .entry((default, route.clone(), p.authority.clone()))
                            .or_insert_with(|| RouteRow {
                                route: route.clone(),
                                authority: p.authority.clone(),
                                effective: Traffic::default(),
                                actual: Traffic::default(),
                            });
                    }
                }
            }
        }
    }
    out.into_iter()
        .map(|(k, v)| (k, v.into_values().collect()))
        .collect()
}

/// Whether a series' route is listed: `[DEFAULT]` always; a named route only while the profile in
/// force for its direction and authority has it, as `linkerd viz routes` lists the ServiceProfile's
/// routes and drops the numbers of others (a route a reload removed keeps its counters, and its
/// traffic stays in the window, but it is gone). A source that does not say which profile is in
/// force for the authority (an older proxy) lists the routes that had traffic in the window.
fn listed(report: &StatsReport, h: &HttpStats) -> bool {
    if h.route == DEFAULT_ROUTE {
        return true;
    }
    match report
        .profile_routes
        .iter()
        .find(|p| p.direction == h.direction && p.authority == h.authority)
    {
        Some(in_force) => in_force.routes.contains(&h.route),
        None => {
            h.requests > 0
                || h.responses.success.saturating_add(h.responses.failure) > 0
                || h.actual_responses
                    .success
                    .saturating_add(h.actual_responses.failure)
                    > 0
        }
    }
}

fn add_route(routes: &mut BTreeMap<(bool, String, String), RouteRow>, h: &HttpStats, seconds: f64) {
    let default = h.route == DEFAULT_ROUTE;
    let row = routes
        .entry((default, h.route.clone(), h.authority.clone()))
        .or_insert_with(|| RouteRow {
            route: h.route.clone(),
            authority: h.authority.clone(),
            effective: Traffic::default(),
            actual: Traffic::default(),
        });
    row.effective.add(&h.responses, seconds);
    row.actual.add(&h.actual_responses, seconds);
}

#[cfg(test)]
mod tests;
