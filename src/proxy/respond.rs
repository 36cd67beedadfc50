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
use super::body::is_client_body_error;
use super::body::{empty, full, BoxError, ProxyBody};
use super::connect::UpstreamError;
use super::request_target::BadRequest;

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
    /// No endpoint could take the request before its response deadline (`--response-timeout`
    /// shorter than `--dispatch-timeout`).
    #[error(
        "{authority}: no endpoint could take the request within {after:?} (--response-timeout, \
         shorter here than --dispatch-timeout): add replicas, or raise --response-timeout"
    )]
    Unplaced { authority: String, after: Duration },
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
    /// The request's target or `Host` breaks HTTP's rules.
    #[error("{0}")]
    BadRequest(#[from] BadRequest),
    /// An HTTP/1 request the proxy's parser refused: its head is not HTTP/1.1.
    #[error(
        "the request could not be parsed as HTTP/1.1 (RFC 9112): a malformed request line or \
         header field; the proxy passes on only requests it can read"
    )]
    MalformedRequest,
    /// An HTTP/1 request target longer than the HTTP/1 parser takes.
    #[error(
        "the request target is over {limit} bytes, the limit of this proxy's HTTP/1 parser: send \
         long parameters in the request body"
    )]
    UriTooLong { limit: usize },
    /// A request head so large the parser stopped reading it.
    #[error(
        "the request head is over {limit} bytes, more than this proxy reads (its head limit is \
         half that): send fewer or smaller headers (large cookies or tokens are the usual cause)"
    )]
    HeadUnreadable { limit: usize },
    /// The upstream switched protocols although the request asked for no switch.
    #[error(
        "{upstream} answered 101 Switching Protocols to a request that asked for no protocol \
         switch (RFC 9110 section 15.2.2): the proxy carries only switches it sees asked for; check how \
         the app handles Upgrade"
    )]
    UnsolicitedSwitch { upstream: String },
    /// The request would come back to this proxy (policy: loop).
    #[error("{}", looped(.authority, .sign))]
    Loop {
        authority: String,
        sign: super::policy::LoopSign,
    },
    /// A loopback, link-local or unspecified address the caller wrote (policy: local address).
    #[error(
        "{authority:?} is a loopback, link-local or unspecified address: the outbound proxy \
         forwards to services that discovery knows, never to addresses on this host or its link \
         that the caller names itself (other processes' ports, the app's own port, a cloud \
         metadata service); name the service (NAME:PORT), or open the address with \
         --allow-destination CIDR[:PORT] (docs/security.md says what that risks)"
    )]
    LocalDestination { authority: String },
    /// An address discovery does not know (policy: unknown address).
    #[error(
        "unknown service: {authority:?} is no endpoint discovery knows (looked in {looked_in}); \
         name the service (NAME:PORT), list the address in an endpoints file, or open it with \
         --allow-destination CIDR[:PORT]"
    )]
    UnknownDestination {
        authority: String,
        looked_in: String,
    },
    /// `CONNECT` to a port that is not opaque (policy: tunnels).
    #[error(
        "CONNECT {authority:?}: port {port} is not one of this proxy's opaque ports \
         (--opaque-ports: {opaque}); tunnels go only to opaque ports of known services: send \
         HTTP requests instead, or add the port to --opaque-ports if the service does not speak HTTP"
    )]
    TunnelNotOpaque {
        authority: String,
        port: u16,
        opaque: String,
    },
    /// Inbound, with several app ports: the request names none of the workload's service ports.
    #[error(
        "{authority:?} names none of this workload's service ports ({services}): with several \
         app ports the inbound sends a request to the app port of the service port it names; \
         call one of those services (NAME:PORT)"
    )]
    NoAppPort { authority: String, services: String },
    /// The upstream's response broke off after it had started (its headers were passed on): the
    /// upstream reset the stream or its connection failed mid-body. Only gRPC callers are told
    /// (in trailers); others see their stream reset or connection closed, as the upstream did.
    #[error("{upstream} {}", broke_off(.source.as_ref()))]
    ResponseBroken {
        upstream: SentTo,
        #[source]
        source: BoxError,
    },
}

/// Says how a loop was found and where to look.
fn looped(authority: &str, sign: &super::policy::LoopSign) -> String {
    match sign {
        super::policy::LoopSign::OwnListener => format!(
            "loop detected: {authority:?} is this proxy's own address, and a proxy does not \
             forward to itself; name the service you mean (NAME:PORT), and check that no endpoints \
             file or registry record points at this proxy's outbound or admin port"
        ),
        super::policy::LoopSign::HopMarker => format!(
            "loop detected: the request for {authority:?} already passed through this proxy (its \
             mesh-hop marker came back); an endpoint of {authority:?} forwards back here: check \
             where discovery sends it (endpoints file, registry) and --allow-destination"
        ),
    }
}

/// Where a request went, for the text of an error that happened there.
#[derive(Debug, Clone)]
pub enum SentTo {
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

impl fmt::Display for SentTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SentTo::App(addr) => write!(f, "the app at {addr}"),
            SentTo::Endpoint { authority, addr } => write!(f, "{authority}: endpoint {addr}"),
            SentTo::Service(authority) => write!(f, "{authority}"),
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
        UpstreamError::Http { source, .. } if is_client_body_error(source) => format!(
            "did not get the whole request: {}; the client broke the exchange, not the upstream",
            chain(source)
                .split(": ")
                .skip_while(|part| !part.starts_with("the client's request body"))
                .collect::<Vec<_>>()
                .join(": ")
        ),
        UpstreamError::Refused { .. } => {
            "refused the connection: is it running and listening there?".into()
        }
        UpstreamError::NotHttp2 { .. } => "does not speak HTTP/2: it answered the HTTP/2 \
            connection preface in HTTP/1.1. Each hop speaks the caller's HTTP version, and the \
            caller spoke HTTP/2: call it with HTTP/1.1, or serve HTTP/2 with prior knowledge \
            (h2c) in the app"
            .into(),
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
        UpstreamError::NotReady { after, .. } => format!(
            "has an HTTP/2 connection that did not take a new stream within {after:?} (the HTTP/2 \
             ready timeout): its flow control or stream limit is exhausted; it is overloaded"
        ),
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
/// A cause whose text the error already shows (many wrap their source into their own text) is
/// not repeated.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
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
                UpstreamError::Http { source, .. } if is_client_body_error(source) => {
                    StatusCode::BAD_REQUEST
                }
                UpstreamError::ConnectTimeout { .. } | UpstreamError::NoResponse { .. } => {
                    StatusCode::GATEWAY_TIMEOUT
                }
                UpstreamError::Busy { .. }
                | UpstreamError::NotReady { .. }
                | UpstreamError::NotProcessed { .. } => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            ProxyError::Timeout { .. } | ProxyError::Unplaced { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::FailFast { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::BadRequest(_) | ProxyError::MalformedRequest => StatusCode::BAD_REQUEST,
            ProxyError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ProxyError::HeadUnreadable { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::UnsolicitedSwitch { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Loop { .. } => StatusCode::LOOP_DETECTED,
            ProxyError::LocalDestination { .. } | ProxyError::TunnelNotOpaque { .. } => {
                StatusCode::FORBIDDEN
            }
            ProxyError::UnknownDestination { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::NoAppPort { .. } => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::TrailersTooLarge { .. } => StatusCode::BAD_GATEWAY,
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
            // One line per kind: callers choose these addresses, and must not flood the log.
            ProxyError::Loop { sign, .. } => format!("loop {sign:?}"),
            ProxyError::LocalDestination { .. } => "local destination".into(),
            ProxyError::UnknownDestination { .. } => "unknown destination".into(),
            ProxyError::TunnelNotOpaque { port, .. } => format!("tunnel to {port}"),
            ProxyError::NoAppPort { .. } => "no app port".into(),
            ProxyError::TrailersTooLarge { addr, .. } => format!("trailers over limit {addr}"),
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

/// The HTTP/1.1 bytes of [`error_response`] for `err` (not gRPC), ending the connection: for
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
        let status = err.status().as_u16();
        self.log_cause(err.cause(), |suppressed| match suppressed {
            0 => tracing::warn!(direction, status, "{err}"),
            n => tracing::warn!(direction, status, suppressed = n, "{err}"),
        });
    }

    /// Logs `text` (an event, not an error answered) unless `cause` was logged within the interval.
    pub fn note(&self, direction: &str, cause: String, text: &dyn std::fmt::Display) {
        self.log_cause(cause, |suppressed| match suppressed {
            0 => tracing::warn!(direction, "{text}"),
            n => tracing::warn!(direction, suppressed = n, "{text}"),
        });
    }

    /// Calls `write` with how many lines of `cause` were suppressed, unless it was logged within
    /// the interval.
    fn log_cause(&self, cause: String, write: impl FnOnce(u64)) {
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
            write(suppressed);
        } else {
            entry.1 += 1;
        }
    }
}
