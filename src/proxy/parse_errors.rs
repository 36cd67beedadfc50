//! Explained answers to HTTP/1 requests that hyper's parser refuses itself.
//!
//! hyper answers a request head it cannot parse before any of the proxy's code runs: a bare
//! `400 Bad Request` (malformed request line or field), `414 URI Too Long` (a target over its fixed
//! 65,534 bytes) or `431` (a head over twice the proxy's head limit), each with
//! `connection: close`, `content-length: 0` and `date` only. A client would learn nothing from
//! them, so [`ExplainParseErrors`] sits between hyper and the client's socket and writes, in place
//! of such an answer, the proxy's own response for the same status with its `mesh-proxy-error`
//! explanation (built by [`respond::error_response_bytes`]).
//!
//! Telling hyper's answer from a response being proxied: hyper writes it only after reading a
//! head it could not parse, so no request reached the proxy's service since the previous write,
//! and its bytes have one exact shape. A response the proxy passes on starts after a service call;
//! the rest of its writes are body bytes, which would have to be byte for byte such an answer.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::AsyncWrite;

use super::io::{Hooks, PassThrough};
use super::respond::{self, ProxyError};

/// hyper's fixed limit on an HTTP/1 request target (`MAX_URI_LEN` in hyper 1.x).
pub const HYPER_MAX_URI_LEN: usize = (u16::MAX - 1) as usize;

/// hyper's parse-error answers are shorter than this; longer writes are not looked into.
const MAX_ANSWER: usize = 128;

/// Requests the service has been called with on one connection.
pub type ServiceCalls = Arc<AtomicU64>;

/// What the proxy says instead of one of hyper's automatic answers.
pub trait OnParseError: Send + Sync {
    /// The error for hyper's `status`; logged by the implementation as it sees fit.
    fn explain(&self, status: u16) -> Option<ProxyError>;
}

/// An HTTP/1 server connection's I/O that replaces hyper's bare parse-error answers.
pub type ExplainParseErrors<I, E> = PassThrough<I, ParseErrorAnswers<E>>;

/// The hooks of [`ExplainParseErrors`], on the write path.
pub struct ParseErrorAnswers<E> {
    calls: ServiceCalls,
    calls_at_last_write: u64,
    explain: E,
    // The explained answer being written, and the length of hyper's answer it stands for.
    replacing: Option<(Bytes, usize)>,
}

impl<I, E> ExplainParseErrors<I, E> {
    /// Wraps `io`; the service counts its calls in `calls`.
    pub fn new(io: I, calls: ServiceCalls, explain: E) -> Self {
        let answers = ParseErrorAnswers {
            calls,
            calls_at_last_write: 0,
            explain,
            replacing: None,
        };
        PassThrough::with_hooks(io, answers)
    }
}

/// The status of `bytes` when they are exactly one of hyper's parse-error answers.
fn hyper_parse_error(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let (status_line, fields) = rest.split_once("\r\n")?;
    let status = match status_line {
        "400 Bad Request" => 400,
        "414 URI Too Long" => 414,
        "431 Request Header Fields Too Large" => 431,
        _ => return None,
    };
    let fields = fields.strip_prefix("connection: close\r\ncontent-length: 0\r\ndate: ")?;
    let date = fields.strip_suffix("\r\n\r\n")?;
    // An IMF-fixdate: `Mon, 30 Nov 2026 20:46:33 GMT`.
    (date.len() == 29 && date.ends_with(" GMT")).then_some(status)
}

impl<E: OnParseError> ParseErrorAnswers<E> {
    /// Starts replacing `bytes` if they are hyper's answer and no request was served since the
    /// last write.
    fn inspect(&mut self, bytes: &[u8]) {
        let calls = self.calls.load(Ordering::Acquire);
        let since_last = calls != self.calls_at_last_write;
        self.calls_at_last_write = calls;
        if since_last || self.replacing.is_some() || bytes.len() > MAX_ANSWER {
            return;
        }
        let Some(status) = hyper_parse_error(bytes) else {
            return;
        };
        if let Some(err) = self.explain.explain(status) {
            self.replacing = Some((respond::error_response_bytes(&err), bytes.len()));
        }
    }

    /// Writes the replacement; `Ready(n)` reports hyper's `n` bytes written once it all is.
    fn write_replacement<I: AsyncWrite>(
        &mut self,
        mut io: Pin<&mut I>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        while let Some((bytes, _)) = self.replacing.as_mut().filter(|(b, _)| !b.is_empty()) {
            let n = std::task::ready!(io.as_mut().poll_write(cx, bytes))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            bytes.advance(n);
        }
        let (_, stood_for) = self.replacing.take().unwrap_or_default();
        Poll::Ready(Ok(stood_for))
    }
}

impl<E: OnParseError> Hooks for ParseErrorAnswers<E> {
    fn poll_write<I: AsyncWrite>(
        &mut self,
        io: Pin<&mut I>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            self.inspect(buf);
        }
        if self.replacing.is_some() {
            return self.write_replacement(io, cx);
        }
        io.poll_write(cx, buf)
    }

    fn poll_write_vectored<I: AsyncWrite>(
        &mut self,
        io: Pin<&mut I>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            if total <= MAX_ANSWER {
                // Joined on the stack: a small write must not cost an allocation.
                let mut joined = [0u8; MAX_ANSWER];
                let mut len = 0;
                for b in bufs {
                    joined[len..len + b.len()].copy_from_slice(b);
                    len += b.len();
                }
                self.inspect(&joined[..len]);
            } else {
                // Too long to be hyper's answer: just note that a write happened.
                self.inspect(&[]);
            }
        }
        if self.replacing.is_some() {
            return self.write_replacement(io, cx);
        }
        io.poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HYPER_414: &[u8] = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 20:46:33 GMT\r\n\r\n";

    struct Explain;
    impl OnParseError for Explain {
        fn explain(&self, status: u16) -> Option<ProxyError> {
            (status == 414).then_some(ProxyError::UriTooLong {
                limit: HYPER_MAX_URI_LEN,
            })
        }
    }

    async fn written(calls: &ServiceCalls, writes: &[&[u8]], bump_before: &[bool]) -> String {
        let (client, mut server) = tokio::io::duplex(4096);
        let mut io = ExplainParseErrors::new(client, calls.clone(), Explain);
        for (w, bump) in writes.iter().zip(bump_before) {
            if *bump {
                calls.fetch_add(1, Ordering::AcqRel);
            }
            io.write_all(w).await.unwrap();
        }
        drop(io);
        let mut out = String::new();
        server.read_to_string(&mut out).await.unwrap();
        out
    }

    #[test]
    fn only_hypers_exact_answers_are_recognised() {
        assert_eq!(hyper_parse_error(HYPER_414), Some(414));
        let with_more = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\nx-app: 1\r\ndate: Mon, 30 Nov 2026 20:46:33 GMT\r\n\r\n";
        assert_eq!(hyper_parse_error(with_more), None);
        assert_eq!(hyper_parse_error(b"HTTP/1.1 200 OK\r\n\r\n"), None);
    }

    #[tokio::test]
    async fn a_parse_error_before_any_request_is_explained() {
        let calls = ServiceCalls::default();
        let out = written(&calls, &[HYPER_414], &[false]).await;
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{out}");
        assert!(
            out.contains("mesh-proxy-error: the request target is over"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn a_parse_error_written_vectored_is_explained() {
        let (client, mut server) = tokio::io::duplex(4096);
        let mut io = ExplainParseErrors::new(client, ServiceCalls::default(), Explain);
        let (head, rest) = HYPER_414.split_at(30);
        let bufs = [io::IoSlice::new(head), io::IoSlice::new(rest)];
        let n = io.write_vectored(&bufs).await.unwrap();
        assert_eq!(n, HYPER_414.len(), "hyper is told its answer was written");
        drop(io);
        let mut out = String::new();
        server.read_to_string(&mut out).await.unwrap();
        assert!(out.contains("mesh-proxy-error"), "{out}");
    }

    #[tokio::test]
    async fn a_proxied_answer_of_the_same_shape_passes_untouched() {
        // The app's own bare 414, written after the service was called for the request.
        let calls = ServiceCalls::default();
        let out = written(&calls, &[HYPER_414], &[true]).await;
        assert_eq!(out.as_bytes(), HYPER_414);
    }

    #[tokio::test]
    async fn a_parse_error_after_served_requests_is_explained() {
        let calls = ServiceCalls::default();
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        let out = written(&calls, &[ok, HYPER_414], &[true, false]).await;
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("mesh-proxy-error"), "{out}");
    }
}
