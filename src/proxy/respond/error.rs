//! What went wrong, for every error the proxy answers itself: [`ProxyError`], its status, and
//! its `error` label in `{inbound,outbound}_http_errors_total` ([`ErrorReason`]).

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::explain::{broke_off, describe, looped, no_response, route_timed_out, saturated};
use super::tries::TriesMade;
use crate::proxy::balance::Saturation;
use crate::proxy::body::{is_client_body_error, BoxError};
use crate::proxy::connect::UpstreamError;
use crate::proxy::metrics::ErrorReason;
use crate::proxy::policy::LoopSign;
use crate::proxy::request_target::BadRequest;

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
        "no endpoints for {authority:?} (service {service}): {}",
        no_endpoints_because(looked_in, explained.as_deref(), name, *port, namespace)
    )]
    UnknownService {
        authority: String,
        service: String,
        looked_in: String,
        /// Why discovery has none, when it can say (`Resolve::explain`: a watch the API
        /// refused, say); replaces the advice for the local registry.
        explained: Option<String>,
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
    /// The route's timeout passed before a response: it counts from the request's arrival,
    /// retries included.
    #[error("{}", route_timed_out(.authority, .route, *.timeout, .tries))]
    Timeout {
        authority: String,
        route: String,
        timeout: Duration,
        /// The tries made before it passed.
        tries: TriesMade,
    },
    /// `--response-timeout` passed before a response: it counts from the request's arrival,
    /// retries included; `upstream` is where the last try went.
    #[error("{}", no_response(.upstream, *.after, .tries))]
    NoResponse {
        upstream: SentTo,
        after: Duration,
        /// The tries made before it passed.
        tries: TriesMade,
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
    Loop { authority: String, sign: LoopSign },
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
    /// Inbound, a port that requires mutual TLS (`--require-identity`): the caller spoke
    /// plaintext.
    #[error(
        "port {port} accepts only callers that prove their identity by mutual TLS \
         (--require-identity), and this request came in plaintext{from}: mesh the caller with an \
         identity (--identity-dir; docs/identity.md), or take {port} out of --require-identity"
    )]
    IdentityRequired {
        port: u16,
        /// ` from deploy/web in namespace emojivoto (its mesh-peer header, not proven)`, or empty.
        from: String,
    },
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
            ProxyError::Timeout { .. }
            | ProxyError::NoResponse { .. }
            | ProxyError::Unplaced { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::FailFast { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::BadRequest(_) | ProxyError::MalformedRequest => StatusCode::BAD_REQUEST,
            ProxyError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ProxyError::HeadUnreadable { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::UnsolicitedSwitch { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Loop { .. } => StatusCode::LOOP_DETECTED,
            ProxyError::LocalDestination { .. }
            | ProxyError::TunnelNotOpaque { .. }
            | ProxyError::IdentityRequired { .. } => StatusCode::FORBIDDEN,
            ProxyError::UnknownDestination { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::NoAppPort { .. } => StatusCode::MISDIRECTED_REQUEST,
            ProxyError::TrailersTooLarge { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::ResponseBroken { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short, stable name of the cause, for rate-limiting its log line: a closed kind
    /// wherever the text holds what the caller chose (authorities, hosts, paths), so that no
    /// caller can make one log line per request; the line logged is the first example. Only
    /// addresses discovery or this proxy's own config chose (endpoints, the app) tell causes apart.
    /// Every variant is listed (no catch-all).
    pub(super) fn cause(&self) -> Cow<'static, str> {
        let kind = match self {
            ProxyError::App { addr, source } => {
                return format!("app {addr} {}", upstream_reason(source).as_str()).into()
            }
            ProxyError::Endpoint { addr, source, .. } => {
                return format!("endpoint {addr} {}", upstream_reason(source).as_str()).into()
            }
            ProxyError::TrailersTooLarge { addr, .. } => {
                return format!("trailers over limit {addr}").into()
            }
            ProxyError::ResponseBroken { upstream, .. } => match upstream {
                SentTo::App(addr) | SentTo::Endpoint { addr, .. } => {
                    return format!("broken {addr}").into()
                }
                SentTo::Service(_) => "broken",
            },
            ProxyError::HeadTooLarge { limit, .. } => return format!("head over {limit}").into(),
            ProxyError::Loop { sign, .. } => return format!("loop {sign:?}").into(),
            ProxyError::TunnelNotOpaque { port, .. } => return format!("tunnel to {port}").into(),
            ProxyError::NoAuthority => "no authority",
            ProxyError::BadAuthority(_) => "bad authority",
            ProxyError::UnknownService { .. } => "unknown service",
            ProxyError::External(_) => "external host",
            ProxyError::Timeout { .. } => "route timeout",
            ProxyError::NoResponse { .. } => "response timeout",
            ProxyError::Unplaced { .. } => "unplaced",
            ProxyError::FailFast { .. } => "fail-fast",
            ProxyError::BadRequest(_) => "bad request",
            ProxyError::MalformedRequest => "malformed request",
            ProxyError::UriTooLong { .. } => "uri too long",
            ProxyError::HeadUnreadable { .. } => "head unreadable",
            ProxyError::UnsolicitedSwitch { .. } => "unsolicited switch",
            ProxyError::LocalDestination { .. } => "local destination",
            ProxyError::UnknownDestination { .. } => "unknown destination",
            ProxyError::NoAppPort { .. } => "no app port",
            ProxyError::IdentityRequired { port, .. } => {
                return format!("identity required {port}").into()
            }
        };
        Cow::Borrowed(kind)
    }
}

// === impl ProxyError: the error label ===

impl ProxyError {
    /// The `error` label this error is counted under in `{inbound,outbound}_http_errors_total`.
    /// Every variant is listed (no catch-all): a new error has to say which it is.
    pub fn reason(&self) -> ErrorReason {
        match self {
            ProxyError::NoAuthority => ErrorReason::NoAuthority,
            ProxyError::BadAuthority(_)
            | ProxyError::BadRequest(_)
            | ProxyError::MalformedRequest => ErrorReason::BadRequest,
            ProxyError::HeadTooLarge { .. }
            | ProxyError::HeadUnreadable { .. }
            | ProxyError::UriTooLong { .. } => ErrorReason::HeadTooLarge,
            ProxyError::UnknownService { .. } => ErrorReason::NoEndpoints,
            ProxyError::UnknownDestination { .. } | ProxyError::External(_) => {
                ErrorReason::UnknownDestination
            }
            ProxyError::LocalDestination { .. }
            | ProxyError::TunnelNotOpaque { .. }
            | ProxyError::IdentityRequired { .. } => ErrorReason::Forbidden,
            ProxyError::Loop { .. } => ErrorReason::Loop,
            ProxyError::NoAppPort { .. } => ErrorReason::NoAppPort,
            // Waited for capacity until the dispatch deadline (and fails fast from then on), or
            // refused at once.
            ProxyError::FailFast { saturation, .. } => {
                if saturation.queue_full || saturation.waited.is_zero() {
                    ErrorReason::FailFast
                } else {
                    ErrorReason::DispatchTimeout
                }
            }
            ProxyError::Timeout { .. }
            | ProxyError::NoResponse { .. }
            | ProxyError::Unplaced { .. } => ErrorReason::ResponseTimeout,
            ProxyError::App { source, .. } | ProxyError::Endpoint { source, .. } => {
                upstream_reason(source)
            }
            ProxyError::UnsolicitedSwitch { .. }
            | ProxyError::TrailersTooLarge { .. }
            | ProxyError::ResponseBroken { .. } => ErrorReason::Protocol,
        }
    }
}

/// The `error` label of a request that failed upstream before its response started.
fn upstream_reason(e: &UpstreamError) -> ErrorReason {
    match e {
        UpstreamError::Refused { .. }
        | UpstreamError::ConnectTimeout { .. }
        | UpstreamError::Connect { .. }
        | UpstreamError::Tls { .. } => ErrorReason::Connect,
        UpstreamError::Busy { .. } | UpstreamError::NotReady { .. } => ErrorReason::DispatchTimeout,
        UpstreamError::NoResponse { .. } => ErrorReason::ResponseTimeout,
        UpstreamError::NotProcessed { .. } => ErrorReason::NotProcessed,
        UpstreamError::NotHttp2 { .. }
        | UpstreamError::ResponseHeadTooLarge { .. }
        | UpstreamError::HeadRejected { .. }
        | UpstreamError::ConnectionAbandoned { .. } => ErrorReason::Protocol,
        UpstreamError::ReusedConnectionClosed { .. } => ErrorReason::ConnectionClosed,
        // The caller's own request body broke.
        UpstreamError::Http { source, .. } if is_client_body_error(source) => {
            ErrorReason::BadRequest
        }
        UpstreamError::Http { source, .. }
            if source.is_incomplete_message() || source.is_closed() =>
        {
            ErrorReason::ConnectionClosed
        }
        UpstreamError::Http { .. } | UpstreamError::NotReplayable { .. } => ErrorReason::Unexpected,
    }
}

/// The second half of [`ProxyError::UnknownService`]'s message: discovery's own reason, or
/// where it looked and how to publish the service on one machine.
fn no_endpoints_because(
    looked_in: &str,
    explained: Option<&str>,
    name: &str,
    port: u16,
    namespace: &str,
) -> String {
    match explained {
        Some(why) => why.to_string(),
        None => format!(
            "looked in {looked_in}; start that service's proxy with --service {name}:{port} in \
             namespace {namespace}, or list it in an endpoints file"
        ),
    }
}

#[cfg(test)]
mod tests;
