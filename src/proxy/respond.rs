//! The one place that turns proxy errors into responses.
//!
//! Every response the proxy makes itself carries a `mesh-proxy-error` header whose text names the
//! cause and what to change; the same text is logged once per cause per interval, never once per
//! request.

use std::net::SocketAddr;
use std::time::Duration;

use dashmap::DashMap;
use http::{HeaderValue, Response, StatusCode};
use tokio::time::Instant;

use super::balance::Saturation;
use super::body::{empty, full, ProxyBody};
use super::connect::UpstreamError;
use crate::grpc::Code;

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
    /// An upstream's trailers were over the head limit; the response had started, so they were
    /// replaced by this explanation.
    #[error(
        "{addr} sent trailers of {bytes} bytes, over this proxy's limit of {limit} bytes; they \
         were replaced by this explanation: send less metadata at the end of the response"
    )]
    TrailersTooLarge {
        addr: SocketAddr,
        bytes: usize,
        limit: usize,
    },
    /// No endpoint of the service could take the request.
    #[error("{}", saturated(.authority, .saturation))]
    FailFast {
        authority: String,
        saturation: Saturation,
    },
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
        UpstreamError::ReusedConnectionClosed {
            idle,
            idle_timeout,
            why,
            ..
        } => format!(
            "closed a kept-alive connection (idle for {idle:?}) before answering, as a server does \
             when its keep-alive timeout ends just as a request arrives; the request was not sent \
             again because {why}: make the app's keep-alive timeout longer than \
             --upstream-idle-timeout ({idle_timeout:?}), or lower --upstream-idle-timeout"
        ),
        UpstreamError::NotProcessed {
            how, max_streams, ..
        } => {
            let limit = match max_streams {
                Some(n) => format!(
                    "its HTTP/2 max_concurrent_streams is {n}: raise the server's \
                     max_concurrent_streams (now {n}) or add replicas"
                ),
                None => "it is overloaded or restarting: add replicas".to_string(),
            };
            format!(
                "did not process the request ({how}), and the retries such requests get \
                 (within the retry budget) are spent; {limit}"
            )
        }
        UpstreamError::ResponseHeadTooLarge { bytes, limit, .. } => format!(
            "sent a response head of {bytes} bytes, over this proxy's limit of {limit} bytes: \
             send fewer or smaller response headers"
        ),
        UpstreamError::HeadRejected { most, .. } => format!(
            "sent a response this proxy's HTTP/2 client refused: a head over {most} bytes (the \
             most it reads), or a malformed one; other requests on the connection go on"
        ),
        UpstreamError::ConnectionAbandoned { reason, .. } => format!(
            "broke the HTTP/2 protocol or its limits on the connection ({reason:?}; a header block \
             in more than 12 frames of 16 KiB does that), so this proxy closed the connection, \
             failing the requests in flight on it; requests not yet sent on it are sent on a new \
             connection: make the app send smaller header blocks"
        ),
        UpstreamError::NotReplayable { why, .. } => {
            format!("could not be sent the request again: {why}")
        }
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
                UpstreamError::Busy { .. } | UpstreamError::NotProcessed { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::BAD_GATEWAY,
            },
            ProxyError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::FailFast { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::TrailersTooLarge { .. } => StatusCode::BAD_GATEWAY,
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
            ProxyError::TrailersTooLarge { addr, .. } => format!("trailers over limit {addr}"),
            other => other.to_string(),
        }
    }
}

/// Builds the response for `err`: its status, the `mesh-proxy-error` header and the text as body.
/// A gRPC caller gets a gRPC answer instead — HTTP 200 with `grpc-status` (UNAVAILABLE,
/// DEADLINE_EXCEEDED, …) and `grpc-message` in the headers, no body — as gRPC clients expect.
pub fn error_response(err: &ProxyError, grpc: bool) -> Response<ProxyBody> {
    let text = err.to_string();
    let header: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    let mut resp = if grpc {
        let mut resp = Response::new(empty());
        let headers = resp.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(crate::grpc::CONTENT_TYPE),
        );
        headers.insert(
            crate::grpc::GRPC_STATUS,
            HeaderValue::from(grpc_code(err.status()).as_u32()),
        );
        if let Ok(v) = HeaderValue::from_str(&crate::grpc::encode_message(&text)) {
            headers.insert(crate::grpc::GRPC_MESSAGE, v);
        }
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

/// Trailers that end a response the upstream had started, in place of trailers the proxy could
/// not pass on: the explanation in `mesh-proxy-error`, and for gRPC also as the call's status.
pub fn error_trailers(err: &ProxyError, grpc: bool) -> http::HeaderMap {
    let text = err.to_string();
    let mut trailers = http::HeaderMap::new();
    if grpc {
        trailers.insert(
            crate::grpc::GRPC_STATUS,
            HeaderValue::from(grpc_code(err.status()).as_u32()),
        );
        if let Ok(v) = HeaderValue::from_str(&crate::grpc::encode_message(&text)) {
            trailers.insert(crate::grpc::GRPC_MESSAGE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&header_text(&text)) {
        trailers.insert(ERROR_HEADER, v);
    }
    trailers
}

/// `text` as a header value: printable ASCII, anything else as `?`.
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

/// The gRPC status a caller gets for what would be an HTTP error status.
fn grpc_code(status: StatusCode) -> Code {
    match status {
        StatusCode::GATEWAY_TIMEOUT => Code::DeadlineExceeded,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        StatusCode::BAD_REQUEST => Code::Internal,
        _ => Code::Unknown,
    }
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
