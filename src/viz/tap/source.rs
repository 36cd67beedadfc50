//! Reading proxies' `/tap` streams: one HTTP/1 connection per proxy, its body split into JSON
//! lines, and several streams merged into one bounded channel.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::tap_event::{TapLine, TapQuery};

/// Longest wait for a proxy to accept the connection and answer the tap request.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest line read from a stream; a longer one ends it.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Lines waiting between the streams and the printer.
pub const MERGE_BUFFER: usize = 1024;

/// Largest error body read from a proxy that refused the tap.
const MAX_ERROR_BODY: usize = 4096;

/// Why a proxy's tap stream could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error("connecting to the admin port {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("tap request to {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: hyper::Error,
    },
    #[error("{addr} did not answer the tap request within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    #[error("{addr} refused the tap with {status}: {message}")]
    Refused {
        addr: SocketAddr,
        status: StatusCode,
        message: String,
    },
    #[error("{addr} sent a line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong { addr: SocketAddr },
    #[error("{addr} sent a line that is not a tap event: {source}")]
    BadLine {
        addr: SocketAddr,
        source: serde_json::Error,
    },
}

/// One proxy's open tap stream.
pub struct TapStream {
    addr: SocketAddr,
    body: Incoming,
    buf: BytesMut,
}

/// What [`merge`] passes on: a line of one proxy, or why its stream failed.
#[derive(Debug)]
pub enum TapItem {
    Line(TapLine),
    Failed(TapError),
}

impl TapStream {
    /// Asks the proxy whose admin port is `addr` for a tap of `query`; returns once it answered.
    pub async fn open(addr: SocketAddr, query: &TapQuery) -> Result<TapStream, TapError> {
        Self::open_with_token(addr, query, None).await
    }

    /// [`open`](Self::open), with the bearer token a public admin port requires.
    pub async fn open_with_token(
        addr: SocketAddr,
        query: &TapQuery,
        token: Option<&str>,
    ) -> Result<TapStream, TapError> {
        let timeout = OPEN_TIMEOUT;
        tokio::time::timeout(timeout, Self::open_now(addr, query, token))
            .await
            .map_err(|_| TapError::Timeout { addr, timeout })?
    }

    async fn open_now(
        addr: SocketAddr,
        query: &TapQuery,
        token: Option<&str>,
    ) -> Result<TapStream, TapError> {
        let http = |source| TapError::Http { addr, source };
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| TapError::Connect { addr, source })?;
        let _ = tcp.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(http)?;
        tokio::spawn(conn);
        let mut req = Request::get(format!("/tap?{}", query.to_query_string()))
            .header(header::HOST, addr.to_string());
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(Empty::<bytes::Bytes>::new())
            .expect("a GET of a well-formed path is a valid request");
        let resp = sender.send_request(req).await.map_err(http)?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_ERROR_BODY)
                .collect()
                .await;
            let message = body
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
                .unwrap_or_default();
            return Err(TapError::Refused {
                addr,
                status,
                message,
            });
        }
        Ok(TapStream {
            addr,
            body: resp.into_body(),
            buf: BytesMut::new(),
        })
    }

    /// The proxy's admin address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next line, or `None` once the proxy ended the stream.
    pub async fn next_line(&mut self) -> Result<Option<TapLine>, TapError> {
        let addr = self.addr;
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line = self.buf.split_to(end + 1);
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(text)
                    .map(Some)
                    .map_err(|source| TapError::BadLine { addr, source });
            }
            if self.buf.len() > MAX_LINE_BYTES {
                return Err(TapError::LineTooLong { addr });
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(source)) => return Err(TapError::Http { addr, source }),
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            self.buf.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                }
            }
        }
    }
}

/// Reads every stream in its own task and passes their lines on through one bounded channel, which
/// closes once every stream has ended.
pub fn merge(streams: Vec<TapStream>) -> mpsc::Receiver<TapItem> {
    let (tx, rx) = mpsc::channel(MERGE_BUFFER);
    for mut stream in streams {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let item = match stream.next_line().await {
                    Ok(Some(line)) => TapItem::Line(line),
                    Ok(None) => return,
                    Err(e) => TapItem::Failed(e),
                };
                let failed = matches!(item, TapItem::Failed(_));
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
    }
    rx
}
