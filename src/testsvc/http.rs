//! The HTTP test upstream: how `x-test-*` request headers shape its answers.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, TRAILER};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;
use tokio::net::TcpListener;

use super::{
    delay, directive, text_response, Answer, Limits, RequestError, SyntheticBody, TestService,
};
use crate::proxy::body::{boxed, ProxyBody};

/// Chooses the response status.
const STATUS_HEADER: &str = "x-test-status";
/// Asks for a body of N filler bytes.
const BODY_BYTES_HEADER: &str = "x-test-body-bytes";
/// Asks for a trailer, `name=value`.
const TRAILER_HEADER: &str = "x-test-trailer";
/// Fails every Nth request the server receives (counting all its requests) with 503.
const FAIL_EVERY_HEADER: &str = "x-test-fail-every";

/// An HTTP upstream whose answer each request chooses with `x-test-*` headers, counting requests.
///
/// | header | effect |
/// |---|---|
/// | `x-test-status: 503` | the response status (200 to 599; default 200) |
/// | `x-test-delay-ms: 300` | wait before answering (capped at [`Limits::max_delay`]) |
/// | `x-test-body-bytes: N` | answer with N bytes of `x` (text/plain) instead of the JSON echo |
/// | `x-test-trailer: name=value` | end the response with this trailer |
/// | `x-test-fail-every: 2` | answer 503 when this is the server's 2nd, 4th, … request |
///
/// Without `x-test-body-bytes` the body is an [`EchoedRequest`] as JSON. The path `/echo` instead
/// streams the request body back frame by frame, trailers included. HTTP/1 sends trailers only when
/// the request carried `te: trailers`. A malformed directive is a 400, a request body over
/// [`Limits::max_request_body`] a 413.
pub type HttpTestService = TestService<HttpAnswer>;

/// How the HTTP test upstream answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpAnswer;

/// What arrived, as the JSON body of a default response.
///
/// ```json
/// {"method":"GET","path":"/books","query":"page=2","version":"HTTP/1.1",
///  "headers":{"host":"books","x-a":"1, 2"},"body_bytes":0}
/// ```
/// `query` is `null` without a `?`; repeated headers are joined with `, `; `headers` is sorted by
/// name, and values that are not UTF-8 are decoded lossily.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EchoedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// `HTTP/1.1` or `HTTP/2.0`: which protocol reached the upstream.
    pub version: String,
    pub headers: BTreeMap<String, String>,
    pub body_bytes: u64,
}

/// Serves [`HttpTestService`] with default limits until `shutdown` completes.
pub async fn serve_http(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    HttpTestService::default().serve(listener, shutdown).await
}

// === impl HttpAnswer ===

impl Answer for HttpAnswer {
    async fn answer(limits: &Limits, nth: u64, req: Request<Incoming>) -> Response<ProxyBody> {
        match respond(limits, nth, req).await {
            Ok(response) => response,
            Err(e) => {
                let status = match e {
                    RequestError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                    RequestError::BadDirective { .. } | RequestError::Body(_) => {
                        StatusCode::BAD_REQUEST
                    }
                };
                text_response(status, format!("{e}\n"))
            }
        }
    }
}

async fn respond(
    limits: &Limits,
    nth: u64,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, RequestError> {
    let headers = req.headers();
    let fail_every: Option<u64> = directive(headers, FAIL_EVERY_HEADER, "a positive count")?;
    let mut status = match directive::<u16>(headers, STATUS_HEADER, "a status from 200 to 599")? {
        None => StatusCode::OK,
        Some(code @ 200..=599) => StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        Some(code) => {
            return Err(RequestError::BadDirective {
                header: STATUS_HEADER,
                value: code.to_string(),
                expected: "a status from 200 to 599",
            })
        }
    };
    if fail_every.is_some_and(|n| n > 0 && nth % n == 0) {
        status = StatusCode::SERVICE_UNAVAILABLE;
    }
    let wait = delay(headers, limits)?;
    let body_bytes: Option<u64> = directive(headers, BODY_BYTES_HEADER, "a byte count")?;
    if let Some(n) = body_bytes.filter(|&n| n > limits.max_response_body) {
        return Err(RequestError::BadDirective {
            header: BODY_BYTES_HEADER,
            value: n.to_string(),
            expected: "within the response body limit",
        });
    }
    let trailer = trailer(headers)?;

    if req.uri().path() == "/echo" {
        tokio::time::sleep(wait).await;
        return Ok(echo(req, status));
    }

    let (head, body) = req.into_parts();
    let received = count_body(body, limits.max_request_body).await?;
    tokio::time::sleep(wait).await;

    let (content_type, body) = match body_bytes {
        Some(n) => ("text/plain", SyntheticBody::filler(n)),
        None => {
            let echoed = EchoedRequest::new(&head, received);
            let json = serde_json::to_vec(&echoed).expect("an echo serializes");
            ("application/json", SyntheticBody::new(json))
        }
    };
    let mut response = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type);
    let body = match trailer {
        None => body,
        Some((name, value)) => {
            response = response.header(TRAILER, name.as_str());
            let mut trailers = HeaderMap::new();
            trailers.insert(name, value);
            body.with_trailers(trailers)
        }
    };
    Ok(response
        .body(boxed(body))
        .expect("static response parts are valid"))
}

/// Streams the request body back, trailers included, without buffering it.
fn echo(req: Request<Incoming>, status: StatusCode) -> Response<ProxyBody> {
    let (head, body) = req.into_parts();
    let mut response = Response::new(boxed(body));
    *response.status_mut() = status;
    for name in [CONTENT_TYPE, TRAILER] {
        // HTTP/1 only sends the trailers the `trailer` header announces.
        for value in head.headers.get_all(&name) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

/// Parses `x-test-trailer: name=value`.
fn trailer(headers: &HeaderMap) -> Result<Option<(HeaderName, HeaderValue)>, RequestError> {
    let Some(raw) = headers.get(TRAILER_HEADER) else {
        return Ok(None);
    };
    let parsed = raw.to_str().ok().and_then(|text| {
        let (name, value) = text.split_once('=')?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
        let value = HeaderValue::from_str(value.trim()).ok()?;
        Some((name, value))
    });
    match parsed {
        Some(pair) => Ok(Some(pair)),
        None => Err(RequestError::BadDirective {
            header: TRAILER_HEADER,
            value: String::from_utf8_lossy(raw.as_bytes()).into_owned(),
            expected: "name=value",
        }),
    }
}

/// Reads a body to its end, counting (not keeping) at most `limit` bytes.
async fn count_body(mut body: Incoming, limit: usize) -> Result<u64, RequestError> {
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            received += data.len() as u64;
            if received > limit as u64 {
                return Err(RequestError::BodyTooLarge(limit));
            }
        }
    }
    Ok(received)
}

// === impl EchoedRequest ===

impl EchoedRequest {
    fn new(head: &http::request::Parts, body_bytes: u64) -> Self {
        let mut headers = BTreeMap::<String, String>::new();
        for (name, value) in &head.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(&value);
                })
                .or_insert_with(|| value.into_owned());
        }
        Self {
            method: head.method.to_string(),
            path: head.uri.path().to_owned(),
            query: head.uri.query().map(str::to_owned),
            version: format!("{:?}", head.version),
            headers,
            body_bytes,
        }
    }

    /// Parses a default response body.
    pub fn from_json(body: &Bytes) -> serde_json::Result<Self> {
        serde_json::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_joins_repeated_headers_and_keeps_the_query() {
        let req = Request::post("/books?page=2")
            .header("x-a", "1")
            .header("x-a", "2")
            .body(())
            .unwrap();
        let (head, ()) = req.into_parts();
        let echoed = EchoedRequest::new(&head, 5);
        assert_eq!(echoed.method, "POST");
        assert_eq!(echoed.path, "/books");
        assert_eq!(echoed.query.as_deref(), Some("page=2"));
        assert_eq!(echoed.version, "HTTP/1.1");
        assert_eq!(echoed.headers["x-a"], "1, 2");
        assert_eq!(echoed.body_bytes, 5);
    }

    #[test]
    fn trailer_directive_needs_name_and_value() {
        let mut headers = HeaderMap::new();
        assert!(trailer(&headers).unwrap().is_none());
        headers.insert(TRAILER_HEADER, "x-sum = 7".parse().unwrap());
        let (name, value) = trailer(&headers).unwrap().unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-sum", "7"));
        headers.insert(TRAILER_HEADER, "no-equals".parse().unwrap());
        let err = trailer(&headers).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x-test-trailer: \"no-equals\" is not name=value"
        );
    }
}
