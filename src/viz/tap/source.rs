//! Reading proxies' `/tap` streams: one HTTP/1 connection per proxy, its body split into JSON
//! lines, and several streams merged into one bounded channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::admin_api::tap::{TapLine, TapQuery};
use crate::admin_api::{AdminClient, AdminError};

/// Longest wait for a proxy to accept the connection and answer the tap request.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest line read from a stream; a longer one ends it.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Lines waiting between the streams and the printer.
pub const MERGE_BUFFER: usize = 1024;

/// Why a proxy's tap stream could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error("connecting to the admin port {addr}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("tap request to {addr}")]
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
    #[error("{addr} sent a line that is not a tap event")]
    BadLine {
        addr: SocketAddr,
        source: serde_json::Error,
    },
    /// The request could not be sent (e.g. a token with a character a header cannot carry).
    #[error(transparent)]
    Admin(AdminError),
}

impl From<AdminError> for TapError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Connect { addr, source } => TapError::Connect { addr, source },
            AdminError::Http { addr, source } => TapError::Http { addr, source },
            AdminError::Timeout { addr, timeout } => TapError::Timeout { addr, timeout },
            AdminError::Refused {
                addr,
                status,
                message,
            } => TapError::Refused {
                addr,
                status,
                message,
            },
            other => TapError::Admin(other),
        }
    }
}

/// One proxy's open tap stream.
pub struct TapStream {
    addr: SocketAddr,
    body: Incoming,
    lines: LineDecoder,
}

/// Splits a `/tap` body into lines and decodes each as a [`TapLine`], whatever the chunking of the
/// bytes; blank lines are skipped. A line longer than [`MAX_LINE_BYTES`] is an error, so a stream
/// without newlines cannot grow the buffer without bound.
#[derive(Debug, Default)]
pub struct LineDecoder {
    buf: BytesMut,
    /// Bytes at the front of `buf` already known to hold no newline.
    scanned: usize,
}

/// Why a line of a tap stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("a line longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    #[error("a line that is not a tap event")]
    BadLine(#[source] serde_json::Error),
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
        Self::open_now(addr, query, token).await
    }

    async fn open_now(
        addr: SocketAddr,
        query: &TapQuery,
        token: Option<&str>,
    ) -> Result<TapStream, TapError> {
        let client = AdminClient::new()
            .with_timeout(OPEN_TIMEOUT)
            .with_token(token.map(Arc::from));
        let resp = client
            .open(addr, &format!("/tap?{}", query.to_query_string()))
            .await?;
        Ok(TapStream {
            addr,
            body: resp.into_body(),
            lines: LineDecoder::default(),
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
            match self.lines.next_line() {
                Ok(Some(line)) => return Ok(Some(line)),
                Ok(None) => {}
                Err(LineError::TooLong) => return Err(TapError::LineTooLong { addr }),
                Err(LineError::BadLine(source)) => return Err(TapError::BadLine { addr, source }),
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(source)) => return Err(TapError::Http { addr, source }),
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            self.lines.push(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                }
            }
        }
    }
}

// === impl LineDecoder ===

impl LineDecoder {
    /// Appends bytes received from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line, decoded; `Ok(None)` while no complete line is buffered. After an
    /// error the stream is not worth reading further.
    pub fn next_line(&mut self) -> Result<Option<TapLine>, LineError> {
        loop {
            let Some(at) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') else {
                self.scanned = self.buf.len();
                if self.buf.len() > MAX_LINE_BYTES {
                    return Err(LineError::TooLong);
                }
                return Ok(None);
            };
            let line = self.buf.split_to(self.scanned + at + 1);
            self.scanned = 0;
            let text = &line[..line.len() - 1];
            if text.len() > MAX_LINE_BYTES {
                return Err(LineError::TooLong);
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return serde_json::from_slice(text)
                .map(Some)
                .map_err(LineError::BadLine);
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

#[cfg(test)]
mod tests {
    use super::*;

    const LOST: &[u8] = b"{\"lost\": 3}\n";

    #[test]
    fn lines_are_decoded_whatever_the_chunking() {
        let mut body = LOST.to_vec();
        body.extend_from_slice(b"\n  \n");
        body.extend_from_slice(LOST);
        for piece in [1, 5, body.len()] {
            let mut lines = LineDecoder::default();
            let mut seen = Vec::new();
            for chunk in body.chunks(piece) {
                lines.push(chunk);
                while let Some(line) = lines.next_line().unwrap() {
                    seen.push(line);
                }
            }
            assert_eq!(
                seen,
                vec![TapLine::Lost { lost: 3 }; 2],
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn a_line_over_the_limit_or_not_an_event_is_an_error() {
        let mut lines = LineDecoder::default();
        lines.push(&vec![b' '; MAX_LINE_BYTES + 1]);
        assert!(matches!(lines.next_line(), Err(LineError::TooLong)));

        let mut lines = LineDecoder::default();
        lines.push(b"{\"lost\": -1}\n");
        assert!(matches!(lines.next_line(), Err(LineError::BadLine(_))));
    }
}
