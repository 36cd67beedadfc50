//! The admin port: `/ready`, `/live`, `/metrics` (Prometheus text), `/stats?window=60s` (JSON, see
//! `docs/stats-api.md`), `/tap?…` (newline-delimited JSON events while the client reads, see
//! `docs/tap.md` and [`super::tap`]), and `POST /shutdown` (drain and exit, as after SIGTERM: for
//! jobs whose app ends before its sidecar). It binds loopback by default; `mesh proxy` refuses
//! anything else without `--admin-public`, and there `/tap` and `/shutdown` need the bearer token.

mod profile_routes;

use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use super::body::{full, ProxyBody};
use super::state::ProxyState;
use crate::admin_api::stats::Direction;
use crate::admin_api::tap::TapQuery;
use crate::profile::duration::{parse_go_duration, DurationError};

pub use crate::admin_api::stats::MAX_STATS_WINDOW;

/// Answers one admin request.
pub fn handle<B>(state: &Arc<ProxyState>, req: &Request<B>) -> Response<ProxyBody> {
    if req.uri().path() == "/shutdown" {
        return shutdown(state, req);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is supported (and POST for /shutdown)\n",
        );
    }
    match req.uri().path() {
        "/live" => text(StatusCode::OK, "live\n"),
        "/ready" if state.is_ready() => text(StatusCode::OK, "ready\n"),
        "/ready" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        "/metrics" => {
            let mut text = state.metrics.render_prometheus();
            let outbound = state.metrics.authorities(Direction::Outbound);
            let routes = profile_routes::in_force(state, outbound.iter().map(|a| a.to_string()));
            text.push_str(&state.metrics.render_profile_routes(&routes));
            let mut resp = Response::new(full(text));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            resp
        }
        "/stats" => match stats_window(req.uri().query()) {
            Ok(window) => match serde_json::to_vec(&stats_with_routes(state, window)) {
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
        "/tap" => match refusal(&state.config.admin, req.headers(), "tap") {
            None => tap(state, req.uri().query()),
            Some(resp) => resp,
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /ready, /live, /metrics, /stats?window=60s, /tap or POST /shutdown\n",
        ),
    }
}

/// `POST /shutdown`: starts the same graceful drain as SIGTERM, then the proxy exits.
fn shutdown<B>(state: &ProxyState, req: &Request<B>) -> Response<ProxyBody> {
    if req.method() != Method::POST {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "use POST /shutdown\n");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    if let Some(resp) = refusal(&state.config.admin, req.headers(), "shutdown") {
        return resp;
    }
    state.shutdown.notify_one();
    text(StatusCode::OK, "shutting down\n")
}

/// Why a request may not use `what` (`/tap`, `/shutdown`), if it may not: open on loopback; on a
/// public admin port it needs `Authorization: Bearer TOKEN` matching `--admin-token-file`
/// (compared in constant time).
fn refusal(
    access: &super::config::AdminAccess,
    headers: &http::HeaderMap,
    what: &str,
) -> Option<Response<ProxyBody>> {
    if !access.public {
        return None;
    }
    let Some(token) = &access.token else {
        return Some(text(
            StatusCode::FORBIDDEN,
            &format!("{what} is disabled on a public admin port without --admin-token-file\n"),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        None
    } else {
        let mut resp = text(
            StatusCode::UNAUTHORIZED,
            &format!(
                "{what} needs `Authorization: Bearer TOKEN` with the proxy's --admin-token-file token\n"
            ),
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Some(resp)
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, y) in b.iter().enumerate() {
        diff |= a.get(i).copied().unwrap_or(0xff) ^ y;
    }
    diff == 0
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

/// The window's numbers, with the profile routes in force for this proxy's services (inbound) and
/// for the destinations it sent requests to in the window (outbound).
fn stats_with_routes(state: &ProxyState, window: Duration) -> crate::admin_api::stats::StatsReport {
    let mut report = state.metrics.stats(window);
    let outbound: Vec<String> = report
        .http
        .iter()
        .filter(|h| h.direction == Direction::Outbound)
        .map(|h| h.authority.clone())
        .collect();
    report.profile_routes = profile_routes::in_force(state, outbound);
    report.tls_id = state
        .config
        .tls
        .as_ref()
        .map(|t| t.current().server_name.to_string());
    report
}

/// Why a `/stats` request's `window` cannot be served (answered 400 with this text, so the text
/// carries its cause and there is no `source()` to print again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("window: {0}")]
    Duration(DurationError),
    #[error("window must be longer than 0 and at most {}s", MAX_STATS_WINDOW.as_secs())]
    OutOfRange,
}

impl From<DurationError> for WindowError {
    fn from(e: DurationError) -> Self {
        WindowError::Duration(e)
    }
}

/// The `window` query parameter (a duration such as `60s` or `5m`; default one minute).
fn stats_window(query: Option<&str>) -> Result<Duration, WindowError> {
    let value = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("window="));
    let window = match value {
        None => Duration::from_secs(60),
        Some(v) => parse_go_duration(v)?,
    };
    if window.is_zero() || window > MAX_STATS_WINDOW {
        return Err(WindowError::OutOfRange);
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
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"s3cretx", b"s3cret"));
        assert!(!constant_time_eq(b"", b"s3cret"));
    }

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
