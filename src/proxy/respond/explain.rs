//! The texts of errors: each names the cause and what to change (which service, how many
//! endpoints, the upstream's HTTP/2 `max_concurrent_streams` when that is the limit, which flag
//! to turn).

use std::time::Duration;

use super::error::SentTo;
use super::tries::{rounded, TriesMade};
use crate::proxy::balance::Saturation;
use crate::proxy::body::is_client_body_error;
use crate::proxy::connect::UpstreamError;
use crate::proxy::policy::LoopSign;

/// Says how a loop was found and where to look.
pub(super) fn looped(authority: &str, sign: &LoopSign) -> String {
    match sign {
        LoopSign::OwnListener => format!(
            "loop detected: {authority:?} is this proxy's own address, and a proxy does not \
             forward to itself; name the service you mean (NAME:PORT), and check that no endpoints \
             file or registry record points at this proxy's outbound or admin port"
        ),
        LoopSign::HopMarker => format!(
            "loop detected: the request for {authority:?} already passed through this proxy (its \
             mesh-hop marker came back); an endpoint of {authority:?} forwards back here: check \
             where discovery sends it (endpoints file, registry) and --allow-destination"
        ),
    }
}

/// Says how a response broke off mid-stream.
pub(super) fn broke_off(e: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    match super::grpc::h2_cause(e) {
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

/// Says that a route's timeout passed, and what the tries made before it got.
pub(super) fn route_timed_out(
    authority: &str,
    route: &str,
    timeout: Duration,
    tries: &TriesMade,
) -> String {
    let made = match tries.count() {
        0 | 1 => String::new(),
        n => format!(
            " ({n} tries: {tries}, sent again; the last had {:?})",
            rounded(tries.last_had())
        ),
    };
    format!(
        "{authority}: route {route:?} timed out after {timeout:?} (its ServiceProfile timeout, \
         counted from the request's arrival, retries included){made}; raise the route's timeout \
         or make the service answer sooner"
    )
}

/// Says that `--response-timeout` passed with no response from `upstream` (where the last try
/// went), and what the tries made before it got: an endpoint that answered earlier tries is not
/// blamed for the whole time.
pub(super) fn no_response(upstream: &SentTo, after: Duration, tries: &TriesMade) -> String {
    let had = rounded(tries.last_had());
    if tries.earlier.is_empty() {
        return format!(
            "{upstream} took the request but sent no response within {after:?} of its arrival \
             (--response-timeout; this one try had {had:?} of it): is it stuck? Give the route a \
             shorter timeout in its ServiceProfile, or raise --response-timeout if it is meant \
             to be this slow"
        );
    }
    let (whom, last) = match upstream {
        SentTo::Endpoint { authority, addr } => (authority.to_string(), format!("endpoint {addr}")),
        SentTo::App(addr) => (format!("the app at {addr}"), "it".to_string()),
        SentTo::Service(authority) => (authority.to_string(), "no endpoint".to_string()),
    };
    format!(
        "{whom}: no response within {after:?} of the request's arrival (--response-timeout), \
         retries included: {} tries, of which {tries} and were sent again; the last, to {last}, \
         had {had:?} left and sent nothing: make failures come sooner, give the route a \
         shorter timeout in its ServiceProfile, or raise --response-timeout",
        tries.count()
    )
}

/// Says why a service cannot take more requests and what to change.
pub(super) fn saturated(authority: &str, s: &Saturation) -> String {
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
            rounded(s.waited)
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

pub(super) fn describe(e: &UpstreamError) -> String {
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
        UpstreamError::Tls {
            server_id, reason, ..
        } => format!(
            "failed mutual TLS (it should prove {server_id}): {reason}; see docs/identity.md"
        ),
        UpstreamError::Busy {
            waited,
            max_streams,
            ..
        } => match max_streams {
            Some(n) => format!(
                "had no free HTTP/2 stream for {:?}: its max_concurrent_streams ({n}) is \
                 reached; raise the server's max_concurrent_streams (now {n}) or add replicas",
                rounded(*waited)
            ),
            None => format!(
                "had no free HTTP/2 stream for {:?}: it is overloaded",
                rounded(*waited)
            ),
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
            "closed a kept-alive connection (idle for {:?}) before answering, as a server does \
             when its keep-alive timeout ends just as a request arrives; the request was not sent \
             again because {why}: make the app's keep-alive timeout longer than \
             --upstream-idle-timeout ({idle_timeout:?}), or lower --upstream-idle-timeout",
            rounded(*idle)
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
        UpstreamError::Http { source, .. } => match tls_alert(source) {
            // In TLS 1.3 the server checks the client's certificate after the client thinks
            // the handshake done, so its refusal arrives as an alert on the first read.
            Some(alert) => format!(
                "refused this proxy's certificate (TLS alert {alert:?}: it does not trust the \
                 anchor this proxy's certificate chains to, or the certificate expired; its log \
                 says which); see docs/identity.md"
            ),
            None => format!("failed the request: {}", chain(source)),
        },
    }
}

/// The TLS alert a peer sent, if one is among `e`'s causes (rustls' error inside an I/O error).
fn tls_alert(e: &(dyn std::error::Error + 'static)) -> Option<rustls::AlertDescription> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        let tls = c.downcast_ref::<rustls::Error>().or_else(|| {
            c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::AlertReceived(alert)) = tls {
            return Some(*alert);
        }
        cause = c.source();
    }
    None
}

/// An error and its causes, `outer: inner: …` (hyper's own text is often just "http2 error").
/// A cause whose text the error already shows (many wrap their source into their own text) is
/// not repeated.
pub(super) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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
