//! The admin port: `/ready`, `/live`, `/metrics` (Prometheus text), `/stats?window=60s` (JSON, see
//! `docs/stats-api.md`), `/tap?…` (newline-delimited JSON events while the client reads, see
//! `docs/tap.md` and [`super::tap`]). It binds loopback by default; `mesh proxy` refuses anything else without
//! `--admin-public`.

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use super::body::{full, ProxyBody};
use super::state::ProxyState;
use crate::profile::duration::parse_go_duration;
use crate::tap_event::TapQuery;

/// Longest `/stats` window served (the proxy keeps this much history).
pub const MAX_STATS_WINDOW: Duration = Duration::from_secs(3600);

/// Answers one admin request.
pub fn handle<B>(state: &Arc<ProxyState>, req: &Request<B>) -> Response<ProxyBody> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET is supported\n");
    }
    match req.uri().path() {
        "/live" => text(StatusCode::OK, "live\n"),
        "/ready" if state.is_ready() => text(StatusCode::OK, "ready\n"),
        "/ready" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        "/metrics" => {
            let mut resp = Response::new(full(state.metrics.render_prometheus()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            resp
        }
        "/stats" => match stats_window(req.uri().query()) {
            Ok(window) => match serde_json::to_vec(&state.metrics.stats(window)) {
                Ok(json) => {
                    let mut resp = Response::new(full(json));
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    resp
                }
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
            },
            Err(e) => text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
        },
        "/tap" => tap(state, req.uri().query()),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /ready, /live, /metrics, /stats?window=60s or /tap\n",
        ),
    }
}

/// A stream of tap events selected by `query`, one JSON object per line.
fn tap(state: &ProxyState, query: Option<&str>) -> Response<ProxyBody> {
    let query = match TapQuery::parse(query) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
    };
    match state.tap.subscribe(query) {
        Ok(body) => {
            let mut resp = Response::new(body);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
            resp
        }
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, &format!("{e}\n")),
    }
}

/// The `window` query parameter (a duration such as `60s` or `5m`; default one minute).
fn stats_window(query: Option<&str>) -> Result<Duration, String> {
    let value = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("window="));
    let window = match value {
        None => Duration::from_secs(60),
        Some(v) => parse_go_duration(v).map_err(|e| format!("window: {e}"))?,
    };
    if window.is_zero() || window > MAX_STATS_WINDOW {
        return Err(format!(
            "window must be longer than 0 and at most {}s",
            MAX_STATS_WINDOW.as_secs()
        ));
    }
    Ok(window)
}

fn text(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_window_parses() {
        assert_eq!(stats_window(None), Ok(Duration::from_secs(60)));
        assert_eq!(
            stats_window(Some("window=5m")),
            Ok(Duration::from_secs(300))
        );
        assert!(stats_window(Some("window=10")).is_err());
        assert!(stats_window(Some("window=2h")).is_err());
    }
}
