//! One-shot clients for tests: each call opens a connection, sends one request, collects the
//! whole response (body and trailers), and gives up after [`CLIENT_TIMEOUT`].

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, TE};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::grpc::{self, FrameError};
use crate::proxy::body::{boxed, BoxError, ProxyBody};

/// How long one call may take, connecting included.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response body a call collects.
pub const CLIENT_MAX_BODY: usize = 64 << 20;

/// Why a test call failed. Tests print it as one line, so each text carries its cause (no
/// `source()` to print again).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connecting to {addr}: {cause}")]
    Connect { addr: SocketAddr, cause: io::Error },
    #[error("handshake with {addr}: {cause}")]
    Handshake {
        addr: SocketAddr,
        cause: hyper::Error,
    },
    #[error("sending the request: {0}")]
    Send(hyper::Error),
    #[error("reading the response body: {0}")]
    Body(BoxError),
    #[error("building the request: {0}")]
    Request(http::Error),
    #[error("response is not grpc frames: {0}")]
    Frames(FrameError),
    #[error("no response within {0:?}")]
    Timeout(Duration),
}

impl From<http::Error> for ClientError {
    fn from(e: http::Error) -> Self {
        ClientError::Request(e)
    }
}

impl From<FrameError> for ClientError {
    fn from(e: FrameError) -> Self {
        ClientError::Frames(e)
    }
}

/// A whole HTTP response.
#[derive(Debug)]
pub struct HttpReply {
    /// Status, version and headers.
    pub head: http::response::Parts,
    pub body: Bytes,
    /// The trailers, if the response had any.
    pub trailers: Option<HeaderMap>,
}

/// A whole gRPC response.
#[derive(Debug)]
pub struct GrpcReply {
    /// The HTTP status (200 for any gRPC answer).
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The response messages, unframed.
    pub messages: Vec<Bytes>,
    pub trailers: Option<HeaderMap>,
    /// `grpc-status` from the trailers, or from the headers of a trailers-only response.
    pub grpc_status: Option<u32>,
    /// `grpc-message`, percent-decoded, from the same place as `grpc_status`.
    pub grpc_message: Option<String>,
}

/// Sends `req` over a new HTTP/1.1 connection to `addr`.
///
/// The URI is sent as given (origin-form `/path` or absolute-form for a proxy); `host` is set from
/// the URI's authority or `addr` when missing. A server sends response trailers only if the request
/// says `te: trailers`; request trailers need a `trailer` header naming them.
pub async fn http1_request<B>(
    addr: SocketAddr,
    mut req: Request<B>,
) -> Result<HttpReply, ClientError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if !req.headers().contains_key(HOST) {
        let host = req
            .uri()
            .authority()
            .map_or_else(|| addr.to_string(), ToString::to_string);
        let host = HeaderValue::try_from(host).map_err(http::Error::from)?;
        req.headers_mut().insert(HOST, host);
    }
    with_timeout(async move {
        let io = TokioIo::new(connect(addr).await?);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, ProxyBody>(io)
            .await
            .map_err(|source| ClientError::Handshake {
                addr,
                cause: source,
            })?;
        tokio::spawn(conn);
        let response = sender
            .send_request(req.map(boxed))
            .await
            .map_err(ClientError::Send)?;
        collect(response).await
    })
    .await
}

/// Sends `req` over a new HTTP/2 connection (prior knowledge) to `addr`.
///
/// A URI without an authority gets one from the `host` header or `addr`, and `http` as scheme.
pub async fn http2_request<B>(addr: SocketAddr, req: Request<B>) -> Result<HttpReply, ClientError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let req = absolute(addr, req)?;
    with_timeout(async move {
        let response = send_http2(addr, req.map(boxed)).await?;
        collect(response).await
    })
    .await
}

/// Calls the unary gRPC method `path` (`/pkg.Service/Method`) on `addr` with one `message`
/// (already encoded, e.g. by prost) and `metadata` headers, over a new HTTP/2 connection.
pub async fn grpc_call(
    addr: SocketAddr,
    authority: &str,
    path: &str,
    message: &[u8],
    metadata: &[(&str, &str)],
) -> Result<GrpcReply, ClientError> {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{authority}{path}"))
        .header(CONTENT_TYPE, grpc::CONTENT_TYPE)
        .header(TE, "trailers");
    for (name, value) in metadata {
        builder = builder.header(*name, *value);
    }
    let req = builder.body(boxed(http_body_util::Full::new(grpc::encode_frame(
        message,
    ))))?;
    with_timeout(async move {
        let reply = collect(send_http2(addr, req).await?).await?;
        let messages = grpc::decode_all(&reply.body)?;
        let ending = reply.trailers.as_ref().unwrap_or(&reply.head.headers);
        Ok(GrpcReply {
            status: reply.head.status,
            grpc_status: grpc::status_in(ending),
            grpc_message: ending
                .get(grpc::GRPC_MESSAGE)
                .map(|v| grpc::decode_message(v.as_bytes())),
            headers: reply.head.headers,
            messages,
            trailers: reply.trailers,
        })
    })
    .await
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, ClientError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ClientError::Connect {
            addr,
            cause: source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn send_http2(
    addr: SocketAddr,
    req: Request<ProxyBody>,
) -> Result<Response<Incoming>, ClientError> {
    let io = TokioIo::new(connect(addr).await?);
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .map_err(|source| ClientError::Handshake {
            addr,
            cause: source,
        })?;
    tokio::spawn(conn);
    sender.send_request(req).await.map_err(ClientError::Send)
}

/// Gives `req` the scheme and authority HTTP/2 needs for `:scheme` and `:authority`.
fn absolute<B>(addr: SocketAddr, mut req: Request<B>) -> Result<Request<B>, http::Error> {
    if req.uri().authority().is_some() {
        return Ok(req);
    }
    let authority = match req.headers().get(HOST) {
        Some(host) => Authority::try_from(host.as_bytes())?,
        None => Authority::try_from(addr.to_string())?,
    };
    let mut parts = req.uri().clone().into_parts();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority);
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    *req.uri_mut() = Uri::from_parts(parts).map_err(http::Error::from)?;
    Ok(req)
}

async fn collect(response: Response<Incoming>) -> Result<HttpReply, ClientError> {
    let (head, body) = response.into_parts();
    let collected = Limited::new(body, CLIENT_MAX_BODY)
        .collect()
        .await
        .map_err(ClientError::Body)?;
    Ok(HttpReply {
        head,
        trailers: collected.trailers().cloned(),
        body: collected.to_bytes(),
    })
}

async fn with_timeout<T>(
    call: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(CLIENT_TIMEOUT, call)
        .await
        .unwrap_or(Err(ClientError::Timeout(CLIENT_TIMEOUT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http2_requests_get_an_authority_from_host_or_address() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let req = absolute(addr, Request::get("/a?b=1").body(()).unwrap()).unwrap();
        assert_eq!(req.uri(), "http://127.0.0.1:9/a?b=1");
        let req = Request::get("/").header(HOST, "web-svc").body(()).unwrap();
        assert_eq!(absolute(addr, req).unwrap().uri(), "http://web-svc/");
        let req = Request::get("http://books/x").body(()).unwrap();
        assert_eq!(absolute(addr, req).unwrap().uri(), "http://books/x");
    }
}
