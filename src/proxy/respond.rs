//! Respond: the one rescue point, where every error the proxy makes itself becomes a response.
//!
//! [`rescue`] is called wherever a request cannot go on — no authority, a destination the
//! forwarding policy refuses, no endpoints, fail-fast, a timeout, a head over the limit, an
//! upstream that failed — and does the same four things for each, as linkerd2-proxy's error
//! responder does: logs the error (once per cause per interval, never once per request,
//! [`ErrorLog`]); counts it in `{inbound,outbound}_http_errors_total{error}` by its closed reason
//! ([`ProxyError::reason`]); builds the response, with a `mesh-proxy-error` header whose text names
//! the cause and what to change (gRPC callers get the `grpc-status` a direct call would have,
//! `respond/grpc.rs`: trailers-only when no response has started); and shows it in tap — through the
//! request's observation when it was counted (then it is in `response_total` as well), or as a
//! request of its own when it was refused before that.
//!
//! Two answers are built elsewhere and only logged and counted here ([`record`], [`record_in`]):
//! the HTTP/1 bytes replacing hyper's own parse-error answers ([`error_response_bytes`], built
//! below hyper, which no parsed request stands behind to tap), and trailers ending a response
//! that had started ([`error_trailers`], built by the response's observed body, which also taps
//! them): in place of trailers over the head limit, or — for gRPC callers — of a response that
//! broke off mid-stream (counted in `response_total` as a `reset`).

mod error;
mod explain;
mod grpc;
mod log;
mod tries;

use std::net::{Ipv4Addr, SocketAddr};

use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use tokio::time::Instant;

use super::body::{empty, full, ProxyBody};
use super::classify::{grpc_status, is_grpc};
use super::metrics::{Direction, Metrics};
use super::observe::Observation;
use super::state::ProxyState;
use super::tap::{tap_peer, TapRequestInfo};
use crate::admin_api::tap::ProxyDirection;

pub use error::{ProxyError, SentTo};
pub use log::ErrorLog;
pub use tries::{rounded, Earlier, TriesMade};

/// The header naming why the proxy answered instead of the upstream.
pub const ERROR_HEADER: &str = "mesh-proxy-error";

/// How far a request the proxy answers itself got.
pub enum Seen<'a> {
    /// Counted in the traffic metrics and tapped: its observation records the answer as any
    /// response (`response_total`, the tap's response events). Boxed: the error path alone pays
    /// for its size.
    Observed(Box<Observation>),
    /// Answered before it was counted (no authority, a destination refused, a head over the
    /// limit): tapped here, from its head.
    Refused(RefusedRequest<'a>),
}

/// The head of a request answered before it was counted, for its tap events.
pub struct RefusedRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    /// The client's end of the connection.
    pub remote: SocketAddr,
}

impl<'a> RefusedRequest<'a> {
    /// The head of `req`, from `remote`.
    pub fn of<B>(req: &'a Request<B>, remote: SocketAddr) -> Self {
        RefusedRequest {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            remote,
        }
    }

    /// The authority it names, if any: its URI's, or its `Host`.
    fn authority(&self) -> String {
        match self.uri.authority() {
            Some(a) => a.as_str().to_string(),
            None => self
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The rescue point: answers a request on `direction` that cannot go on because of `err` —
/// logged, counted by its reason, answered with `mesh-proxy-error` (or a gRPC status), and
/// recorded as far as the request got (`seen`).
pub fn rescue(
    state: &ProxyState,
    direction: Direction,
    err: ProxyError,
    seen: Seen<'_>,
) -> Response<ProxyBody> {
    record(state, direction, &err);
    match seen {
        Seen::Observed(observation) => {
            let mut observation = *observation;
            if let Some(t) = &mut observation.tap {
                t.answered_by_proxy(err.reason());
            }
            let grpc = observation.grpc_request;
            observation.local(error_response(&err, grpc))
        }
        Seen::Refused(req) => {
            let resp = error_response(&err, is_grpc(req.headers));
            tap_refused(state, direction, &req, &err, &resp);
            resp
        }
    }
}

/// Logs `err` and counts it by its reason: [`rescue`] does, and so do the answers built below
/// hyper (hyper's own parse errors, explained in bytes by [`error_response_bytes`]).
pub fn record(state: &ProxyState, direction: Direction, err: &ProxyError) {
    record_in(&state.errors, &state.metrics, direction, err);
}

/// [`record`] into `errors` and `metrics`: for answers made where no [`ProxyState`] is at hand —
/// trailers replacing what a response body could not pass on (`observe`'s `ObservedBody`).
pub fn record_in(errors: &ErrorLog, metrics: &Metrics, direction: Direction, err: &ProxyError) {
    errors.log(direction.as_str(), err);
    metrics.proxy_error(direction, err.reason());
}

/// The `tls` of a refused request's tap events: refused before the connection's TLS is looked at.
const NO_TLS: &str = "no_identity";

/// Publishes a refused request's events to tap, as a proxied request's would be: the request,
/// the answer's status, its end. Nothing is built while nobody taps.
fn tap_refused(
    state: &ProxyState,
    direction: Direction,
    req: &RefusedRequest<'_>,
    err: &ProxyError,
    resp: &Response<ProxyBody>,
) {
    // Refused before any destination was chosen: outbound shows none (`0.0.0.0:0`); inbound,
    // this workload's app.
    let nowhere = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    let info = || match direction {
        Direction::Outbound => TapRequestInfo {
            direction: ProxyDirection::Outbound,
            source: tap_peer(req.remote, Some(&state.identity), NO_TLS),
            destination: tap_peer(nowhere, None, NO_TLS),
            method: req.method.clone(),
            authority: req.authority(),
            path: req.uri.path().to_string(),
            // Refused before a route was matched.
            route: None,
        },
        Direction::Inbound => TapRequestInfo {
            direction: ProxyDirection::Inbound,
            source: tap_peer(req.remote, None, NO_TLS),
            destination: tap_peer(
                state.config.app.unwrap_or(nowhere),
                Some(&state.identity),
                NO_TLS,
            ),
            method: req.method.clone(),
            authority: req.authority(),
            path: req.uri.path().to_string(),
            // Refused before a route was matched.
            route: None,
        },
    };
    let Some(mut tapped) = state
        .tap
        .request(Instant::now(), info, || req.headers.clone())
    else {
        return;
    };
    tapped.answered_by_proxy(err.reason());
    tapped.response_init(resp.status().as_u16(), resp.headers());
    let bytes = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
    tapped.add_bytes(usize::try_from(bytes).unwrap_or(usize::MAX));
    tapped.response_end(grpc_status(resp.headers()), None);
}

/// Builds the response for `err`: its status, the `mesh-proxy-error` header and the text as body.
/// A gRPC caller gets a gRPC answer instead — a trailers-only response: HTTP 200 with
/// `grpc-status` (the code a direct call would get, [`ProxyError::grpc_code`]), `grpc-message`
/// (the text) and `mesh-proxy-error` in the headers, no body — as gRPC clients expect.
fn error_response(err: &ProxyError, grpc: bool) -> Response<ProxyBody> {
    let text = err.to_string();
    let mut resp = if grpc {
        let mut resp = Response::new(empty());
        let headers = resp.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(crate::grpc::CONTENT_TYPE),
        );
        grpc::insert_status(headers, err.grpc_code(), &text);
        resp
    } else {
        let mut resp = Response::new(full(format!("{text}\n")));
        *resp.status_mut() = err.status();
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp
    };
    if let Ok(value) = HeaderValue::from_str(&header_text(&text)) {
        resp.headers_mut().insert(ERROR_HEADER, value);
    }
    resp
}

/// The HTTP/1.1 bytes of the response [`rescue`] builds for `err` (not gRPC), ending the connection: for
/// answers written below hyper, in place of its own (see `parse_errors`).
pub fn error_response_bytes(err: &ProxyError) -> bytes::Bytes {
    let text = err.to_string();
    let status = err.status();
    let body = format!("{text}\n");
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: text/plain; charset=utf-8\r\n{ERROR_HEADER}: {}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        header_text(&text),
        body.len()
    )
    .into()
}

/// Trailers that end a response the upstream had started, in place of trailers the proxy could
/// not pass on: the explanation in `mesh-proxy-error`, and for gRPC also as the call's status.
pub fn error_trailers(err: &ProxyError, grpc: bool) -> http::HeaderMap {
    let text = err.to_string();
    let mut trailers = http::HeaderMap::new();
    if grpc {
        grpc::insert_status(&mut trailers, err.grpc_code(), &text);
    }
    if let Ok(v) = HeaderValue::from_str(&header_text(&text)) {
        trailers.insert(ERROR_HEADER, v);
    }
    trailers
}

/// `text` as a header value can carry it: printable ASCII, anything else as `?`.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}
