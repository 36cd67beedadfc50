//! The gRPC status a caller gets for an error the proxy answers or passes on: the code a direct
//! call to the upstream, with the same client, would have ended with, decided by the kind of
//! error — never by an HTTP status alone (a 431 is no UNKNOWN, a 400 no INTERNAL).
//!
//! | error | code | a direct call would have |
//! |---|---|---|
//! | connect refused, failed or timed out; the connection closed; a GOAWAY | UNAVAILABLE | lost or never had its connection |
//! | no endpoints, unknown or unparsable authority | UNAVAILABLE | found no address for its target |
//! | no capacity (fail-fast, no free HTTP/2 stream) | UNAVAILABLE | been refused by an overloaded server |
//! | route timeout, no response within `--response-timeout` | DEADLINE_EXCEEDED | passed its deadline |
//! | request head over the proxy's limit | RESOURCE_EXHAUSTED | had its metadata refused by the server |
//! | the upstream reset the stream (`RST_STREAM`) | per the gRPC spec's HTTP/2 mapping: REFUSED_STREAM → UNAVAILABLE, CANCEL → CANCELLED, ENHANCE_YOUR_CALM → RESOURCE_EXHAUSTED, INADEQUATE_SECURITY → PERMISSION_DENIED, any other → INTERNAL | read the same reset |
//!
//! See <https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#errors> and
//! <https://github.com/grpc/grpc/blob/master/doc/statuscodes.md>.

use http::{HeaderMap, HeaderValue};

use super::ProxyError;
use crate::grpc::{encode_message, Code, GRPC_MESSAGE, GRPC_STATUS};
use crate::proxy::body::is_client_body_error;
use crate::proxy::connect::UpstreamError;

impl ProxyError {
    /// The gRPC status a gRPC caller gets for this error. Every variant is listed (no catch-all):
    /// a new error has to say which code a direct call would have seen.
    pub fn grpc_code(&self) -> Code {
        match self {
            // A direct call whose target does not resolve fails with UNAVAILABLE.
            ProxyError::NoAuthority
            | ProxyError::BadAuthority(_)
            | ProxyError::UnknownService { .. }
            | ProxyError::External(_) => Code::Unavailable,
            ProxyError::App { source, .. } | ProxyError::Endpoint { source, .. } => {
                upstream_code(source)
            }
            ProxyError::Timeout { .. }
            | ProxyError::NoResponse { .. }
            | ProxyError::Unplaced { .. } => Code::DeadlineExceeded,
            ProxyError::FailFast { .. } => Code::Unavailable,
            ProxyError::HeadTooLarge { .. }
            | ProxyError::UriTooLong { .. }
            | ProxyError::HeadUnreadable { .. }
            | ProxyError::TrailersTooLarge { .. } => Code::ResourceExhausted,
            ProxyError::ResponseBroken { source, .. } => {
                h2_cause(source.as_ref()).map_or(Code::Unavailable, h2_code)
            }
            // A request the proxy could not read, or an answer that is not a gRPC one.
            ProxyError::BadRequest(_)
            | ProxyError::MalformedRequest
            | ProxyError::UnsolicitedSwitch { .. } => Code::Internal,
            // As Linkerd answers a loop.
            ProxyError::Loop { .. } => Code::Aborted,
            ProxyError::LocalDestination { .. }
            | ProxyError::TunnelNotOpaque { .. }
            | ProxyError::IdentityRequired { .. } => Code::PermissionDenied,
            ProxyError::UnknownDestination { .. } | ProxyError::NoAppPort { .. } => {
                Code::Unavailable
            }
        }
    }
}

/// The code for a request that failed upstream before its response started.
fn upstream_code(e: &UpstreamError) -> Code {
    match e {
        UpstreamError::Refused { .. }
        | UpstreamError::ConnectTimeout { .. }
        | UpstreamError::Connect { .. }
        | UpstreamError::Tls { .. }
        | UpstreamError::Busy { .. }
        | UpstreamError::NotReady { .. } => Code::Unavailable,
        UpstreamError::NoResponse { .. } => Code::DeadlineExceeded,
        // A direct gRPC call to an HTTP/1 server cannot set up its connection either.
        UpstreamError::NotHttp2 { .. }
        | UpstreamError::ReusedConnectionClosed { .. }
        | UpstreamError::NotProcessed { .. }
        | UpstreamError::NotReplayable { .. }
        | UpstreamError::ConnectionAbandoned { .. } => Code::Unavailable,
        // The server's metadata was over the limit: a direct grpcio call gets RESOURCE_EXHAUSTED
        // ("received metadata size exceeds hard limit").
        UpstreamError::ResponseHeadTooLarge { .. } | UpstreamError::HeadRejected { .. } => {
            Code::ResourceExhausted
        }
        // The caller's own request body broke: nothing a server did.
        UpstreamError::Http { source, .. } if is_client_body_error(source) => Code::Cancelled,
        UpstreamError::Http { source, .. } => h2_cause(source).map_or(Code::Unavailable, h2_code),
    }
}

/// The code for an HTTP/2 error: a stream reset maps by its reason, as gRPC clients map a
/// `RST_STREAM` they read; anything else (GOAWAY, the connection's I/O) lost the connection.
fn h2_code(e: &h2::Error) -> Code {
    match e.reason() {
        Some(reason) if e.is_reset() => match reason {
            h2::Reason::REFUSED_STREAM => Code::Unavailable,
            h2::Reason::CANCEL => Code::Cancelled,
            h2::Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
            h2::Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
            _ => Code::Internal,
        },
        _ => Code::Unavailable,
    }
}

/// The HTTP/2 error in `e` or its causes (hyper's errors carry h2's as their source).
pub(super) fn h2_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a h2::Error> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(h2) = c.downcast_ref::<h2::Error>() {
            return Some(h2);
        }
        cause = c.source();
    }
    None
}

/// Sets `grpc-status` to `code` and `grpc-message` to `text` (percent-encoded).
pub(super) fn insert_status(headers: &mut HeaderMap, code: Code, text: &str) {
    headers.insert(GRPC_STATUS, HeaderValue::from(code.as_u32()));
    if let Ok(v) = HeaderValue::from_str(&encode_message(text)) {
        headers.insert(GRPC_MESSAGE, v);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::*;
    use crate::proxy::respond::{error_trailers, SentTo, TriesMade, ERROR_HEADER};

    const ADDR: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

    fn app(source: UpstreamError) -> ProxyError {
        ProxyError::App { addr: ADDR, source }
    }

    #[test]
    fn codes_follow_the_kind_of_error() {
        let cases = [
            (
                app(UpstreamError::Refused { addr: ADDR }),
                Code::Unavailable,
            ),
            (
                app(UpstreamError::ConnectTimeout {
                    addr: ADDR,
                    after: Duration::from_secs(1),
                }),
                Code::Unavailable,
            ),
            (
                app(UpstreamError::NoResponse {
                    addr: ADDR,
                    after: Duration::from_secs(300),
                }),
                Code::DeadlineExceeded,
            ),
            (
                ProxyError::HeadTooLarge {
                    bytes: 70_000,
                    limit: 65_536,
                },
                Code::ResourceExhausted,
            ),
            (ProxyError::NoAuthority, Code::Unavailable),
            (ProxyError::BadAuthority("a b".into()), Code::Unavailable),
            (
                ProxyError::Timeout {
                    authority: "web-svc:8080".into(),
                    route: "r".into(),
                    timeout: Duration::from_millis(250),
                    tries: TriesMade::default(),
                },
                Code::DeadlineExceeded,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.grpc_code(), code, "{err}");
        }
    }

    #[test]
    fn a_lost_connection_is_unavailable_and_a_reset_maps_by_its_reason() {
        assert_eq!(code_of(None), Code::Unavailable);
        for (reason, code) in [
            (h2::Reason::REFUSED_STREAM, Code::Unavailable),
            (h2::Reason::CANCEL, Code::Cancelled),
            (h2::Reason::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
            (h2::Reason::INADEQUATE_SECURITY, Code::PermissionDenied),
            (h2::Reason::PROTOCOL_ERROR, Code::Internal),
        ] {
            assert_eq!(code_of(Some(reason)), code, "{reason:?}");
        }
    }

    /// The code of the error a real HTTP/2 client reads when its server resets the stream with
    /// `reset`, or (`None`) drops the connection.
    fn code_of(reset: Option<h2::Reason>) -> Code {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn(async move {
                let mut conn = h2::server::handshake(server_io).await.unwrap();
                let (_req, mut respond) = conn.accept().await.unwrap().unwrap();
                if let Some(reason) = reset {
                    respond.send_reset(reason);
                    // Serve until the client has read the reset and gone.
                    while conn.accept().await.is_some() {}
                }
            });
            let (mut client, conn) = h2::client::handshake(client_io).await.unwrap();
            tokio::spawn(conn);
            let req = http::Request::post("http://a/").body(()).unwrap();
            let (resp, send) = client.send_request(req, false).unwrap();
            let err = resp.await.unwrap_err();
            drop((client, send));
            server.await.unwrap();
            ProxyError::ResponseBroken {
                upstream: SentTo::App(ADDR),
                source: Box::new(err),
            }
            .grpc_code()
        })
    }

    #[test]
    fn trailers_carry_the_code_and_the_text() {
        let err = app(UpstreamError::Refused { addr: ADDR });
        let t = error_trailers(&err, true);
        assert_eq!(t[GRPC_STATUS], "14");
        assert_eq!(
            t[GRPC_MESSAGE],
            "the app at 127.0.0.1:8080 refused the connection: is it running and listening there?"
        );
        assert_eq!(t[ERROR_HEADER], t[GRPC_MESSAGE]);
    }
}
