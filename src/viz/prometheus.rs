//! The Prometheus source (`--prometheus URL`): the same numbers as the proxies' `/stats`, from a
//! Prometheus server scraping their `/metrics`. Each proxy's window is rebuilt as a `StatsReport`
//! from PromQL, so one model and one quantile routine print both sources alike.
//!
//! Increases are `x - (x offset W)`, with a series absent W ago counting from zero: exact counts
//! (no extrapolation, unlike `increase()`), as the proxies' own windows are. A proxy younger than
//! the window covers its lifetime, known from `process_start_time_seconds`. The routes in force
//! come from the proxies' `profile_route_info` lines, so a route a reload removed is not listed
//! although its old series stay in Prometheus.

mod labels;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::source::ProxyStats;
use crate::admin_api::stats::{
    Direction, HttpStats, LatencyHistogram, PeerSide, ProfileRoutes, StatsReport, StatsWindow,
    StatusCount, TcpStats, WorkloadRef, LATENCY_BOUNDS_MS, PROFILE_ROUTE_INFO, STATS_VERSION,
};
use crate::identity::{Identity, WorkloadKind};
use labels::{direction_of, http_entry, proxy_of, tcp_entry};

/// Why Prometheus gave no numbers.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("no HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("asking Prometheus at {url}")]
    Ask { url: String, source: reqwest::Error },
    #[error("Prometheus at {url} answered {status} with something else than its API's JSON")]
    NotApi {
        url: String,
        status: reqwest::StatusCode,
        source: reqwest::Error,
    },
    #[error("Prometheus refused {query:?}: {message}")]
    Refused { query: String, message: String },
}

/// Longest wait for one query.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    metric: HashMap<String, String>,
    value: (f64, String),
}

/// A proxy as Prometheus' labels name it: namespace and pod.
type ProxyKey = (String, String);
/// How a series' connections were authenticated: the peer's proven identity (`client_id`
/// inbound, `server_id` outbound, with `tls="true"`), or why not (`no_tls_reason`); neither when
/// the series does not say. Part of each key, so mutual-TLS and plaintext traffic with the same
/// peer stay apart as the proxy keeps them.
type PeerTls = (Option<String>, Option<String>);
type HttpKey = (Direction, String, String, Option<WorkloadRef>, PeerTls);
type TcpKey = (Direction, PeerSide, Option<WorkloadRef>, PeerTls);

#[derive(Default)]
struct Building {
    identity: Option<Identity>,
    started: Option<f64>,
    http: BTreeMap<HttpKey, HttpStats>,
    /// Cumulative bucket counts per series, effective and actual, by bucket index.
    buckets: BTreeMap<(HttpKey, bool), Vec<f64>>,
    tcp: BTreeMap<TcpKey, TcpStats>,
    /// The routes in force per direction and authority, from `profile_route_info`.
    profile_routes: BTreeMap<(Direction, String), Vec<String>>,
}

/// Asks Prometheus at `base` for every proxy's increase over `window`.
pub async fn fetch(base: &str, window: Duration) -> Result<Vec<ProxyStats>, PrometheusError> {
    let client = reqwest::Client::builder()
        .timeout(QUERY_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(PrometheusError::Client)?;
    let base = base.trim_end_matches('/');
    let w = format!("{}s", window.as_secs().max(1));
    let increase = |m: &str| format!("{m} - ((({m} offset {w}) * 1) or ({m} * 0))");
    let ask = |q: String| {
        let client = client.clone();
        let url = format!("{base}/api/v1/query");
        async move { query(&client, &url, &q).await }
    };
    let mut proxies: BTreeMap<ProxyKey, Building> = BTreeMap::new();
    let mut now = 0.0f64;
    for sample in ask(start_times()).await? {
        now = now.max(sample.value.0);
        if let Some((key, id)) = proxy_of(&sample.metric) {
            let b = proxies.entry(key).or_default();
            b.identity = Some(id);
            b.started = sample.value.1.parse().ok();
        }
    }
    for (metric, effective) in [
        ("route_response_total", true),
        ("route_actual_response_total", false),
    ] {
        for s in ask(increase(metric)).await? {
            let Some((b, key)) = http_entry(&mut proxies, &s.metric) else {
                continue;
            };
            let count = count(&s);
            let status_code = s
                .metric
                .get("status_code")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let grpc_status = s.metric.get("grpc_status").and_then(|v| v.parse().ok());
            let classification = s.metric.get("classification").cloned().unwrap_or_default();
            let error = s.metric.get("error").cloned();
            let stats = b.http.get_mut(&key).expect("entry made by http_entry");
            let r = if effective {
                &mut stats.responses
            } else {
                &mut stats.actual_responses
            };
            if classification == "failure" {
                r.failure += count;
            } else {
                r.success += count;
            }
            if count > 0 {
                r.by_status.push(StatusCount {
                    status_code,
                    grpc_status,
                    classification,
                    error,
                    count,
                });
            }
        }
    }
    for s in ask(increase("route_request_total")).await? {
        if let Some((b, key)) = http_entry(&mut proxies, &s.metric) {
            b.http
                .get_mut(&key)
                .expect("entry made by http_entry")
                .requests += count(&s);
        }
    }
    for (metric, effective) in [
        ("route_response_latency_ms_bucket", true),
        ("route_actual_response_latency_ms_bucket", false),
    ] {
        for s in ask(increase(metric)).await? {
            let Some(i) = s.metric.get("le").and_then(|le| bucket_index(le)) else {
                continue;
            };
            let value: f64 = s.value.1.parse().unwrap_or(0.0);
            let Some((b, key)) = http_entry(&mut proxies, &s.metric) else {
                continue;
            };
            let cumulative = b
                .buckets
                .entry((key, effective))
                .or_insert_with(|| vec![0.0; LATENCY_BOUNDS_MS.len() + 1]);
            cumulative[i] += value;
        }
    }
    for (metric, field) in [
        ("tcp_open_total", 0),
        ("tcp_close_total", 1),
        ("tcp_read_bytes_total", 2),
        ("tcp_write_bytes_total", 3),
        ("tcp_open_connections", 4),
    ] {
        let q = if field == 4 {
            metric.to_string()
        } else {
            increase(metric)
        };
        for s in ask(q).await? {
            let Some((b, key)) = tcp_entry(&mut proxies, &s.metric) else {
                continue;
            };
            let t = b.tcp.get_mut(&key).expect("entry made by tcp_entry");
            let n = count(&s);
            match field {
                0 => t.opened += n,
                1 => t.closed += n,
                2 => t.read_bytes += n,
                3 => t.write_bytes += n,
                _ => t.open += n,
            }
        }
    }
    // The routes in force now (a line a proxy stopped exporting is stale, so absent here).
    for s in ask(PROFILE_ROUTE_INFO.to_string()).await? {
        let (Some((key, id)), Some(direction)) = (proxy_of(&s.metric), direction_of(&s.metric))
        else {
            continue;
        };
        let (Some(authority), Some(route)) = (s.metric.get("dst"), s.metric.get("rt_route")) else {
            continue;
        };
        let b = proxies.entry(key).or_default();
        b.identity.get_or_insert(id);
        b.profile_routes
            .entry((direction, authority.clone()))
            .or_default()
            .push(route.clone());
    }
    Ok(proxies
        .into_values()
        .filter_map(|b| finish(b, window, now))
        .collect())
}

async fn query(
    client: &reqwest::Client,
    url: &str,
    q: &str,
) -> Result<Vec<Sample>, PrometheusError> {
    let resp = client
        .get(url)
        .query(&[("query", q)])
        .send()
        .await
        .map_err(|source| PrometheusError::Ask {
            url: url.to_string(),
            source,
        })?;
    let status = resp.status();
    let answer: Answer = resp
        .json()
        .await
        .map_err(|source| PrometheusError::NotApi {
            url: url.to_string(),
            status,
            source,
        })?;
    if answer.status != "success" {
        return Err(PrometheusError::Refused {
            query: q.to_string(),
            message: answer.error.unwrap_or_default(),
        });
    }
    Ok(answer.data.map(|d| d.result).unwrap_or_default())
}

/// Each proxy's start time with its workload labels. `process_start_time_seconds` carries none
/// (Prometheus' convention): they come from the `proxy_build_info` of the same scrape target.
/// Older proxies, which put their own labels on it, answer the plain query after `or`.
fn start_times() -> String {
    let labels: Vec<&str> = std::iter::once("namespace")
        .chain(WorkloadKind::ALL.iter().map(|k| k.label()))
        .collect();
    format!(
        "process_start_time_seconds * on(job, instance) group_left({}) proxy_build_info or process_start_time_seconds",
        labels.join(", ")
    )
}

fn count(s: &Sample) -> u64 {
    s.value
        .1
        .parse::<f64>()
        .map_or(0, |v| v.max(0.0).round() as u64)
}

fn bucket_index(le: &str) -> Option<usize> {
    if le == "+Inf" {
        return Some(LATENCY_BOUNDS_MS.len());
    }
    let le: f64 = le.parse().ok()?;
    LATENCY_BOUNDS_MS
        .iter()
        .position(|&b| (b as f64 - le).abs() < 1e-9)
}

/// One proxy's report, with histograms made per-bucket and the span it covers.
fn finish(mut b: Building, window: Duration, now: f64) -> Option<ProxyStats> {
    let identity = b.identity.take()?;
    for ((key, effective), cumulative) in std::mem::take(&mut b.buckets) {
        let Some(stats) = b.http.get_mut(&key) else {
            continue;
        };
        let counts = cumulative
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (c - if i == 0 { 0.0 } else { cumulative[i - 1] })
                    .max(0.0)
                    .round() as u64
            })
            .collect();
        let h = LatencyHistogram {
            counts,
            sum_ms: 0.0,
        };
        if effective {
            stats.responses.latency_ms = h;
        } else {
            stats.actual_responses.latency_ms = h;
        }
    }
    let age = b.started.map_or(f64::INFINITY, |s| (now - s).max(0.001));
    // The services a proxy serves are the authorities of its inbound traffic.
    let mut services: Vec<String> = b
        .http
        .values()
        .filter(|h| h.direction == Direction::Inbound)
        .map(|h| super::model::service_of(&h.authority))
        .collect();
    services.sort();
    services.dedup();
    let report = StatsReport {
        version: STATS_VERSION,
        tls_id: None,
        identity: WorkloadRef {
            namespace: identity.namespace.clone(),
            workload: identity.workload.to_string(),
            pod: identity.pod.clone(),
        },
        window: StatsWindow {
            requested_seconds: window.as_secs_f64(),
            covered_seconds: window.as_secs_f64().min(age),
        },
        latency_bounds_ms: LATENCY_BOUNDS_MS.to_vec(),
        http: b.http.into_values().collect(),
        tcp: b.tcp.into_values().collect(),
        profile_routes: b
            .profile_routes
            .into_iter()
            .map(|((direction, authority), routes)| ProfileRoutes {
                direction,
                authority,
                routes,
            })
            .collect(),
    };
    Some(ProxyStats {
        admin: SocketAddr::from(([0, 0, 0, 0], 0)),
        identity,
        services,
        stats: Ok(report),
    })
}

#[cfg(test)]
mod tests;
