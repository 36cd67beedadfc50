//! The one place that turns proxy errors into responses.
//!
//! Every response the proxy makes itself carries a `mesh-proxy-error` header whose text names the
//! cause and what to change; the same text is logged once per cause per interval, never once per
//! request. gRPC callers get a gRPC status instead ([`grpc`]): trailers-only when no response has
//! started, trailers ending the body when the upstream's response broke off mid-stream.

mod grpc;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use http::{HeaderValue, Response, StatusCode};
use tokio::time::Instant;

use super::balance::Saturation;
use super::body::{empty, full, BoxError, ProxyBody};
use super::connect::UpstreamError;

pub use grpc::grpc_trailers;

/// The header naming why the proxy answered instead of the upstream.
pub const ERROR_HEADER: &str = "mesh-proxy-error";

/// Errors the proxy answers for; each variant knows its status and its explanation.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Outbound request with nowhere to go.
    #[error(
        "the request has no authority: send it with a Host header (HTTP/1) or :authority (HTTP/2), \
         or in absolute form as to an HTTP proxy"
    )]
    NoAuthority,
    /// The authority does not parse.
    #[error("invalid authority {0:?}: expected HOST[:PORT]")]
    BadAuthority(String),
    /// Discovery knows no endpoints for the service.
    #[error(
        "no endpoints for {authority:?} (service {service}): looked in {looked_in}; start that \
         service's proxy with --service {name}:{port} in namespace {namespace}, or list it in an endpoints file"
    )]
    UnknownService {
        authority: String,
        service: String,
        looked_in: String,
        name: String,
        port: u16,
        namespace: String,
    },
    /// A host name that is not a cluster service.
    #[error(
        "{0:?} is not a cluster service name (NAME[.NAMESPACE[.svc.DOMAIN]][:PORT]); \
         mesh discovery resolves service names and IP addresses only"
    )]
    External(String),
    /// The local app could not be reached or failed the request.
    #[error("the app at {addr} {}", describe(.source))]
    App {
        addr: SocketAddr,
        #[source]
        source: UpstreamError,
    },
    /// An endpoint of a service could not be reached or failed the request.
    #[error("{authority}: endpoint {addr} {}", describe(.source))]
    Endpoint {
        authority: String,
        addr: SocketAddr,
        #[source]
        source: UpstreamError,
    },
    /// The route's timeout passed before a response.
    #[error(
        "{authority}: route {route:?} timed out after {timeout:?} (its ServiceProfile timeout), \
         retries included; raise the route's timeout or make the service answer sooner"
    )]
    Timeout {
        authority: String,
        route: String,
        timeout: Duration,
    },
    /// The request head is over the proxy's limit.
    #[error(
        "the request head is {bytes} bytes, over this proxy's limit of {limit} bytes: send fewer \
         or smaller headers (large cookies or tokens are the usual cause)"
    )]
    HeadTooLarge { bytes: usize, limit: usize },
    /// No endpoint of the service could take the request.
    #[error("{}", saturated(.authority, .saturation))]
    FailFast {
        authority: String,
        saturation: Saturation,
    },
    /// The upstream's response broke off after it had started (its headers were passed on): the
    /// upstream reset the stream or its connection failed mid-body. Only gRPC callers are told
    /// (in trailers); others see their stream reset or connection closed, as the upstream did.
    #[error("{upstream} {}", broke_off(.source.as_ref()))]
    ResponseBroken {
        upstream: Upstream,
        #[source]
        source: BoxError,
    },
}

/// Where a request went, for the text of an error that happened there.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// The local app (inbound).
    App(SocketAddr),
    /// An endpoint of a service (outbound).
    Endpoint {
        authority: Arc<str>,
        addr: SocketAddr,
    },
    /// A service before any of its endpoints was chosen (outbound).
    Service(Arc<str>),
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::App(addr) => write!(f, "the app at {addr}"),
            Upstream::Endpoint { authority, addr } => write!(f, "{authority}: endpoint {addr}"),
            Upstream::Service(authority) => write!(f, "{authority}"),
        }
    }
}

/// Says how a response broke off mid-stream.
fn broke_off(e: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    match grpc::h2_cause(e) {
        Some(h2) if h2.is_reset() => format!(
            "reset the stream ({}) after its response had started",
            h2.reason().unwrap_or(h2::Reason::INTERNAL_ERROR)
        ),
        _ => format!(
            "broke off the response after it had started (is it crashing or being restarted?): {}",
            chain(e)
        ),
    }
}

/// Says why a service cannot take more requests and what to change.
fn saturated(authority: &str, s: &Saturation) -> String {
    let state = if s.queue_full {
        format!("{authority}: too many requests are waiting for an endpoint")
    } else if s.waited.is_zero() {
        format!(
            "{authority} is failing fast: an earlier request found no endpoint with capacity \
             within the dispatch timeout, and requests are refused at once until one completes"
        )
    } else {
        format!(
            "{authority}: no endpoint could take the request within {:?}; failing fast until a \
             request completes",
            s.waited
        )
    };
    let counts = format!(
        "{} endpoints known, {} ready, {} requests in flight",
        s.known, s.ready, s.in_flight
    );
    let fix = match s.max_streams {
        _ if s.ready == 0 => "every endpoint refuses connections: start the service or check its \
             endpoints"
            .to_string(),
        Some(n) => format!(
            "the servers' HTTP/2 max_concurrent_streams ({n}) is the limit: raise the server's \
             max_concurrent_streams (now {n}) or add replicas"
        ),
        None => format!(
            "each endpoint takes at most --max-in-flight {} requests: raise --max-in-flight \
             or add replicas",
            s.max_in_flight
        ),
    };
    format!("{state} ({counts}); {fix}")
}

fn describe(e: &UpstreamError) -> String {
    match e {
        UpstreamError::Refused { .. } => {
            "refused the connection: is it running and listening there?".into()
        }
        UpstreamError::ConnectTimeout { after, .. } => {
            format!(
                "did not accept the connection within {after:?}: is it overloaded or unreachable?"
            )
        }
        UpstreamError::Connect { source, .. } => format!("could not be connected: {source}"),
        UpstreamError::Busy {
            waited,
            max_streams,
            ..
        } => match max_streams {
            Some(n) => format!(
                "had no free HTTP/2 stream for {waited:?}: its max_concurrent_streams ({n}) is \
                 reached; raise the server's max_concurrent_streams (now {n}) or add replicas"
            ),
            None => format!("had no free HTTP/2 stream for {waited:?}: it is overloaded"),
        },
        UpstreamError::NoResponse { after, .. } => format!(
            "took the request but sent no response within {after:?} (--response-timeout): is it \
             stuck? Give the route a shorter timeout in its ServiceProfile, or raise \
             --response-timeout if it is meant to be this slow"
        ),
        UpstreamError::Http { source, .. }
            if source.is_incomplete_message() || source.is_closed() =>
        {
            "closed the connection before answering".into()
        }
        UpstreamError::Http { source, .. } => format!("failed the request: {}", chain(source)),
    }
}

/// An error and its causes, `outer: inner: …` (hyper's own text is often just "http2 error").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl ProxyError {
    /// The status the caller gets.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoAuthority | ProxyError::BadAuthority(_) => StatusCode::BAD_REQUEST,
            ProxyError::UnknownService { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::External(_) => StatusCode::BAD_GATEWAY,
            ProxyError::App { source, .. } | ProxyError::Endpoint { source, .. } => match source {
                UpstreamError::ConnectTimeout { .. } | UpstreamError::NoResponse { .. } => {
                    StatusCode::GATEWAY_TIMEOUT
                }
                UpstreamError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            ProxyError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::FailFast { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::ResponseBroken { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short, stable name of the cause, for rate-limiting its log line.
    fn cause(&self) -> String {
        match self {
            ProxyError::App { addr, .. } => format!("app {addr}"),
            ProxyError::Endpoint { addr, .. } => format!("endpoint {addr}"),
            ProxyError::Timeout {
                authority, route, ..
            } => format!("timeout {authority} {route}"),
            ProxyError::FailFast { authority, .. } => format!("fail-fast {authority}"),
            ProxyError::HeadTooLarge { limit, .. } => format!("head over {limit}"),
            ProxyError::ResponseBroken { upstream, .. } => format!("broken {upstream}"),
            other => other.to_string(),
        }
    }
}

/// Builds the response for `err`: its status, the `mesh-proxy-error` header and the text as body.
/// A gRPC caller gets a gRPC answer instead — a trailers-only response: HTTP 200 with
/// `grpc-status` (the code a direct call would get, [`ProxyError::grpc_code`]), `grpc-message`
/// (the text) and `mesh-proxy-error` in the headers, no body — as gRPC clients expect.
pub fn error_response(err: &ProxyError, grpc: bool) -> Response<ProxyBody> {
    let text = err.to_string();
    let header = header_text(&text);
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
    if let Ok(value) = HeaderValue::from_str(&header) {
        resp.headers_mut().insert(ERROR_HEADER, value);
    }
    resp
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

/// Logs each cause at most once per interval, with how many times it was suppressed.
pub struct ErrorLog {
    interval: Duration,
    last: DashMap<String, (Instant, u64)>,
    max_causes: usize,
}

impl ErrorLog {
    /// At most one line per cause per `interval`.
    pub fn new(interval: Duration) -> Self {
        ErrorLog {
            interval,
            last: DashMap::new(),
            max_causes: 1024,
        }
    }

    /// Logs `err` unless its cause was logged within the interval.
    pub fn log(&self, direction: &str, err: &ProxyError) {
        let cause = err.cause();
        let now = Instant::now();
        if self.last.len() >= self.max_causes {
            self.last
                .retain(|_, (t, _)| now.duration_since(*t) < self.interval);
        }
        let mut entry = self
            .last
            .entry(cause)
            .or_insert((now - self.interval * 2, 0));
        let (last, suppressed) = *entry;
        if now.duration_since(last) >= self.interval {
            *entry = (now, 0);
            drop(entry);
            if suppressed > 0 {
                tracing::warn!(
                    direction,
                    status = err.status().as_u16(),
                    suppressed,
                    "{err}"
                );
            } else {
                tracing::warn!(direction, status = err.status().as_u16(), "{err}");
            }
        } else {
            entry.1 += 1;
        }
    }
}
