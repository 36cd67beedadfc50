//! The one HTTP client for proxies' admin ports (`/ready`, `/stats`, `/tap`), used by `mesh
//! await`, `mesh proxy -- APP`, the viz commands and the demo. Each call opens one HTTP/1.1
//! connection to the address (admin ports are local or in-cluster; no proxy, no TLS, no pool) and
//! is bounded: the connection, the request and the answer's head come within
//! [`AdminClient::timeout`], and a body read whole ([`AdminClient::get`]) is at most
//! [`AdminClient::max_body`] bytes. A stream ([`AdminClient::open`]) is the caller's to read.
//!
//! Test traffic goes through `testsvc`'s clients instead: they collect trailers and speak HTTP/2.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Default longest wait for the connection and the answer (the whole of it for [`AdminClient::get`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default largest body [`AdminClient::get`] reads.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// Largest error body read from a refused [`AdminClient::open`]: enough for the proxy's one-line
/// explanation.
pub const MAX_REFUSAL_BODY: usize = 4096;

/// Why a call to an admin port failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Nothing accepted the connection (the proxy is not running, or not yet).
    #[error("connecting to the admin port {addr}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The connection broke, or the answer was not HTTP.
    #[error("request to {addr}")]
    Http {
        addr: SocketAddr,
        source: hyper::Error,
    },
    /// No (whole) answer within the client's timeout.
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    /// The body was longer than the client reads.
    #[error("{addr} answered with a body over {limit} bytes")]
    TooLarge { addr: SocketAddr, limit: usize },
    /// [`AdminClient::open`] got another status than 200.
    #[error("{addr} refused with {status}: {message}")]
    Refused {
        addr: SocketAddr,
        status: StatusCode,
        /// The start of the body: the proxy's explanation.
        message: String,
    },
    /// The path or token cannot be sent in a request (a caller's mistake, not the proxy's).
    #[error("not a valid request to {addr}")]
    Request {
        addr: SocketAddr,
        source: http::Error,
    },
}

/// An answer read whole.
#[derive(Debug, Clone)]
pub struct AdminAnswer {
    pub status: StatusCode,
    /// At most the client's `max_body` bytes.
    pub body: Bytes,
}

/// A client for admin ports: its bounds and the bearer token it sends, if any.
#[derive(Debug, Clone)]
pub struct AdminClient {
    /// Longest wait for the connection and the answer's head, and for [`get`](Self::get) the
    /// whole body too.
    pub timeout: Duration,
    /// Largest body [`get`](Self::get) reads; a longer one is [`AdminError::TooLarge`].
    pub max_body: usize,
    /// Sent as `Authorization: Bearer TOKEN` (what a public admin port requires for `/tap` and
    /// `/shutdown`; see `--admin-token-file`).
    pub token: Option<Arc<str>>,
}

impl Default for AdminClient {
    fn default() -> Self {
        AdminClient {
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            token: None,
        }
    }
}

// === impl AdminClient ===

impl AdminClient {
    /// A client with the default bounds and no token.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same client with another timeout.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        AdminClient { timeout, ..self }
    }

    /// The same client with another body limit.
    pub fn with_max_body(self, max_body: usize) -> Self {
        AdminClient { max_body, ..self }
    }

    /// The same client sending `token` as its bearer token.
    pub fn with_token(self, token: Option<Arc<str>>) -> Self {
        AdminClient { token, ..self }
    }

    /// `GET path_and_query` (e.g. `/stats?window=60000ms`) from the admin port at `addr`, read
    /// whole: any status, and the body if it is at most `max_body` bytes.
    pub async fn get(
        &self,
        addr: SocketAddr,
        path_and_query: &str,
    ) -> Result<AdminAnswer, AdminError> {
        let timeout = self.timeout;
        let call = async {
            let resp = self.send(addr, path_and_query).await?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), self.max_body)
                .collect()
                .await
                .map_err(|e| match e.downcast::<hyper::Error>() {
                    Ok(source) => AdminError::Http {
                        addr,
                        source: *source,
                    },
                    Err(_) => AdminError::TooLarge {
                        addr,
                        limit: self.max_body,
                    },
                })?
                .to_bytes();
            Ok(AdminAnswer { status, body })
        };
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(AdminError::Timeout { addr, timeout }))
    }

    /// `GET path_and_query` from the admin port at `addr`, returning once the head arrived with
    /// 200; the body (a stream such as `/tap`'s) is the caller's to read, without a timeout.
    /// Another status is [`AdminError::Refused`] with the start of its body.
    pub async fn open(
        &self,
        addr: SocketAddr,
        path_and_query: &str,
    ) -> Result<Response<Incoming>, AdminError> {
        let timeout = self.timeout;
        let call = async {
            let resp = self.send(addr, path_and_query).await?;
            if resp.status() == StatusCode::OK {
                return Ok(resp);
            }
            let status = resp.status();
            let message = Limited::new(resp.into_body(), MAX_REFUSAL_BODY)
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
                .unwrap_or_default();
            Err(AdminError::Refused {
                addr,
                status,
                message,
            })
        };
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(AdminError::Timeout { addr, timeout }))
    }

    /// Connects, sends the request and waits for the head.
    async fn send(
        &self,
        addr: SocketAddr,
        path_and_query: &str,
    ) -> Result<Response<Incoming>, AdminError> {
        let request = |source| AdminError::Request { addr, source };
        let mut req = Request::get(path_and_query).header(header::HOST, addr.to_string());
        if let Some(token) = &self.token {
            let value =
                HeaderValue::try_from(format!("Bearer {token}")).map_err(|e| request(e.into()))?;
            req = req.header(header::AUTHORIZATION, value);
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(request)?;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| AdminError::Connect { addr, source })?;
        // Requests are one small write; do not wait for Nagle's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let http = |source| AdminError::Http { addr, source };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(http)?;
        // The connection task ends when the response (or the stream) is dropped.
        tokio::spawn(conn);
        sender.send_request(req).await.map_err(http)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    use super::*;

    /// A server answering one connection with `answer`, passing on the request head it read.
    async fn answering(answer: &'static str) -> (SocketAddr, oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed before its request ended");
                head.extend_from_slice(&buf[..n]);
            }
            let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
            conn.write_all(answer.as_bytes()).await.unwrap();
            // Held open until the client is done, so a short body is the answer's, not an EOF's.
            let _ = conn.read(&mut buf).await;
        });
        (addr, rx)
    }

    #[tokio::test]
    async fn get_reads_any_status_and_the_body_and_sends_the_token() {
        let (addr, head) =
            answering("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 10\r\n\r\nnot ready\n")
                .await;
        let client = AdminClient::new().with_token(Some("s3cret".into()));
        let answer = client.get(addr, "/ready").await.unwrap();
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.body, "not ready\n");
        let head = head.await.unwrap().to_ascii_lowercase();
        assert!(head.starts_with("get /ready http/1.1\r\n"), "{head}");
        assert!(head.contains("authorization: bearer s3cret\r\n"), "{head}");
        assert!(head.contains(&format!("host: {addr}\r\n")), "{head}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let (addr, _head) =
            answering("HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n01234567890").await;
        let err = AdminClient::new()
            .with_max_body(10)
            .get(addr, "/stats")
            .await
            .unwrap_err();
        assert!(
            matches!(err, AdminError::TooLarge { limit: 10, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn open_hands_over_a_200_and_explains_a_refusal() {
        let (addr, _head) =
            answering("HTTP/1.1 401 Unauthorized\r\ncontent-length: 15\r\n\r\ntoken required\n")
                .await;
        match AdminClient::new().open(addr, "/tap").await {
            Err(AdminError::Refused {
                status, message, ..
            }) => {
                assert_eq!(status, StatusCode::UNAUTHORIZED);
                assert_eq!(message, "token required");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let (addr, _head) =
            answering("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
        let resp = AdminClient::new().open(addr, "/tap").await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_admin_port_times_out_at_the_timeout() {
        // Bound and never accepted: the kernel completes the connection, nothing answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let start = tokio::time::Instant::now();
        let timeout = Duration::from_millis(1500);
        let err = AdminClient::new()
            .with_timeout(timeout)
            .get(addr, "/stats")
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Timeout { .. }), "{err}");
        assert_eq!(start.elapsed(), timeout);
        drop(listener);
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error_naming_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = AdminClient::new().get(addr, "/ready").await.unwrap_err();
        assert!(matches!(err, AdminError::Connect { .. }), "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
