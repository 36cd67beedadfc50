//! The gRPC test upstream: echoes a call's first message and ends it as the metadata asks.

use std::future::Future;
use std::io;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use super::{
    delay, directive, text_response, Answer, Limits, RequestError, SyntheticBody, TestService,
};
use crate::grpc::{self, Code, FrameDecoder, FrameError};
use crate::proxy::body::{boxed, ProxyBody};

/// Chooses the `grpc-status`.
const STATUS_HEADER: &str = "x-test-grpc-status";
/// Chooses the `grpc-message`.
const MESSAGE_HEADER: &str = "x-test-grpc-message";
/// `true`: answer trailers-only.
const TRAILERS_ONLY_HEADER: &str = "x-test-grpc-trailers-only";
/// `true`: end the stream without `grpc-status`.
const NO_STATUS_HEADER: &str = "x-test-grpc-no-status";

/// A gRPC upstream that echoes the first message of any call, counting requests.
///
/// Any `POST /pkg.Service/Method` with a `content-type: application/grpc*` gets status 200, one
/// message frame holding the request's first message (an empty one if there was none), and the
/// trailer `grpc-status: 0`. Request metadata changes the ending:
///
/// | header | effect |
/// |---|---|
/// | `x-test-grpc-status: 14` | that `grpc-status`; a nonzero status sends no message |
/// | `x-test-grpc-message: text` | a `grpc-message` (percent-encoded) |
/// | `x-test-grpc-trailers-only: true` | status and message in the headers; no body, no trailers |
/// | `x-test-grpc-no-status: true` | the message, then the end of stream without `grpc-status` |
/// | `x-test-delay-ms: 300` | wait before answering (capped at [`Limits::max_delay`]) |
///
/// Trailers-only wins over no-status. A request that is not gRPC gets HTTP 415; a gRPC request to
/// a path that names no method gets `UNIMPLEMENTED`; a malformed directive `INVALID_ARGUMENT`; a
/// body that cannot be read or framed `INTERNAL` or `RESOURCE_EXHAUSTED` (all trailers-only).
pub type GrpcTestService = TestService<GrpcAnswer>;

/// How the gRPC test upstream answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcAnswer;

/// How a call is to end, as its metadata asks.
struct Ending {
    status: u32,
    message: Option<String>,
    trailers_only: bool,
    no_status: bool,
}

/// Serves [`GrpcTestService`] with default limits until `shutdown` completes.
pub async fn serve_grpc(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    GrpcTestService::default().serve(listener, shutdown).await
}

// === impl GrpcAnswer ===

impl Answer for GrpcAnswer {
    async fn answer(limits: &Limits, _nth: u64, req: Request<Incoming>) -> Response<ProxyBody> {
        let is_grpc = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with(grpc::CONTENT_TYPE));
        if !is_grpc {
            return text_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("content-type must be {}\n", grpc::CONTENT_TYPE),
            );
        }
        if req.method() != Method::POST || !names_a_method(req.uri().path()) {
            let message = format!("no method {} {}", req.method(), req.uri().path());
            return trailers_only(Code::Unimplemented.as_u32(), Some(&message));
        }
        let (ending, wait) = match parse_directives(req.headers(), limits) {
            Ok(parsed) => parsed,
            Err(e) => return trailers_only(Code::InvalidArgument.as_u32(), Some(&e.to_string())),
        };
        let first = match first_message(req.into_body(), limits.max_request_body).await {
            Ok(first) => first,
            Err((code, message)) => return trailers_only(code.as_u32(), Some(&message)),
        };
        tokio::time::sleep(wait).await;
        reply(&ending, first)
    }
}

/// `/pkg.Service/Method`: two nonempty segments.
fn names_a_method(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(service, method)| {
            !service.is_empty() && !method.is_empty() && !method.contains('/')
        })
}

fn parse_directives(
    headers: &HeaderMap,
    limits: &Limits,
) -> Result<(Ending, std::time::Duration), RequestError> {
    let ending = Ending {
        status: directive(headers, STATUS_HEADER, "a grpc status code")?.unwrap_or(0),
        message: headers
            .get(MESSAGE_HEADER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        trailers_only: directive(headers, TRAILERS_ONLY_HEADER, "true or false")?.unwrap_or(false),
        no_status: directive(headers, NO_STATUS_HEADER, "true or false")?.unwrap_or(false),
    };
    Ok((ending, delay(headers, limits)?))
}

/// Reads every frame of the request (bounded), keeping only the first message; on failure, the
/// status to end the call with.
async fn first_message(mut body: Incoming, limit: usize) -> Result<Option<Bytes>, (Code, String)> {
    let mut decoder = FrameDecoder::new();
    let mut first = None;
    let mut received = 0;
    let refuse = |code: Code, message: String| (code, message);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| refuse(Code::Internal, format!("reading request: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len();
        if received > limit {
            let e = RequestError::BodyTooLarge(limit);
            return Err(refuse(Code::ResourceExhausted, e.to_string()));
        }
        decoder.push(&data);
        loop {
            match decoder.next_message() {
                Ok(Some(msg)) => {
                    first.get_or_insert(msg);
                }
                Ok(None) => break,
                Err(e @ FrameError::TooLarge { .. }) => {
                    return Err(refuse(Code::ResourceExhausted, e.to_string()))
                }
                Err(e) => return Err(refuse(Code::Internal, e.to_string())),
            }
        }
    }
    decoder
        .finish()
        .map_err(|e| refuse(Code::Internal, e.to_string()))?;
    Ok(first)
}

/// The response `ending` asks for, echoing `first`.
fn reply(ending: &Ending, first: Option<Bytes>) -> Response<ProxyBody> {
    if ending.trailers_only {
        return trailers_only(ending.status, ending.message.as_deref());
    }
    let frame = || grpc::encode_frame(&first.clone().unwrap_or_default());
    let body = if ending.no_status {
        SyntheticBody::new(frame())
    } else {
        let data = if ending.status == 0 {
            frame()
        } else {
            Bytes::new()
        };
        SyntheticBody::new(data)
            .with_trailers(status_headers(ending.status, ending.message.as_deref()))
    };
    grpc_response(HeaderMap::new(), boxed(body))
}

/// A response whose headers end the stream and carry the status.
fn trailers_only(status: u32, message: Option<&str>) -> Response<ProxyBody> {
    grpc_response(
        status_headers(status, message),
        boxed(SyntheticBody::default()),
    )
}

fn grpc_response(mut headers: HeaderMap, body: ProxyBody) -> Response<ProxyBody> {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(grpc::CONTENT_TYPE));
    let mut response = Response::new(body);
    *response.headers_mut() = headers;
    response
}

fn status_headers(status: u32, message: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(grpc::GRPC_STATUS, HeaderValue::from(status));
    if let Some(message) = message {
        // Percent-encoding leaves only printable ASCII, always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&grpc::encode_message(message)) {
            headers.insert(grpc::GRPC_MESSAGE, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_paths_have_a_service_and_a_method() {
        assert!(names_a_method("/pkg.Service/Method"));
        assert!(names_a_method("/Service/Method"));
        for path in [
            "/",
            "/pkg.Service",
            "/pkg.Service/",
            "//Method",
            "/a/b/c",
            "a/b",
        ] {
            assert!(!names_a_method(path), "{path}");
        }
    }

    #[test]
    fn status_headers_percent_encode_the_message() {
        let headers = status_headers(14, Some("down 100%"));
        assert_eq!(headers[grpc::GRPC_STATUS], "14");
        assert_eq!(headers[grpc::GRPC_MESSAGE], "down 100%25");
    }
}
