//! Protocol detection: the first bytes of an accepted connection decide whether it is HTTP/2 (the
//! prior-knowledge preface gRPC uses), HTTP/1, or opaque TCP.
//!
//! Detection fails closed: a connection is opaque only when its first bytes are positively not
//! HTTP/1 — after any empty lines (which RFC 9112 §2.2 asks a server to tolerate, and hyper does),
//! a byte that is not text: a control character or a byte over 0x7E, as TLS, PostgreSQL or any
//! binary protocol sends first. Anything textual goes to the HTTP/1 parser, which either reads it
//! as a request or answers 400 (a space or a tab before the method included): a request the
//! detector merely failed to recognise, or one a lenient app would accept, is never relayed to the
//! app unparsed, past the proxy's checks.
//!
//! Bytes read while deciding are not lost: [`PrefixedIo`] replays them to whoever reads next. The read
//! is bounded in size ([`DETECT_BYTES`]) and in time (the caller's timeout): a client that sends
//! nothing (a server-speaks-first protocol) is [`Protocol::Silent`] once the timeout passes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::io::{Hooks, PassThrough};

/// The HTTP/2 connection preface a prior-knowledge client sends first.
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Enough bytes to tell HTTP/2 (24-byte preface) and an HTTP/1 request line apart from anything else.
pub const DETECT_BYTES: usize = 24;

/// What a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
    /// Positively not HTTP, or closed before saying anything.
    Opaque,
    /// Nothing arrived within the detection timeout: a server-speaks-first protocol, likely.
    Silent,
}

/// Reads the first bytes of `io` (at most [`DETECT_BYTES`], waiting at most `timeout`) and decides
/// its protocol. The bytes read are returned inside the [`PrefixedIo`].
pub async fn detect<I>(mut io: I, timeout: Duration) -> io::Result<(Protocol, PrefixedIo<I>)>
where
    I: AsyncRead + Unpin,
{
    let mut buf = BytesMut::with_capacity(DETECT_BYTES);
    let deadline = tokio::time::Instant::now() + timeout;
    let protocol = loop {
        if let Some(p) = classify(&buf) {
            break p;
        }
        let mut chunk = [0u8; DETECT_BYTES];
        let want = DETECT_BYTES - buf.len();
        match tokio::time::timeout_at(deadline, io.read(&mut chunk[..want])).await {
            Ok(Ok(0)) => break Protocol::Opaque, // closed before deciding: nothing to parse
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(e),
            Err(_elapsed) => break Protocol::Silent,
        }
    };
    Ok((protocol, PrefixedIo::new(buf.freeze(), io)))
}

/// `Some(protocol)` once `buf` decides it, `None` while more bytes are needed.
pub fn classify(buf: &[u8]) -> Option<Protocol> {
    let n = buf.len().min(H2_PREFACE.len());
    if n > 0 && buf[..n] == H2_PREFACE[..n] {
        return (n == H2_PREFACE.len()).then_some(Protocol::Http2);
    }
    match buf.iter().find(|b| !matches!(b, b'\r' | b'\n')) {
        Some(&b) if is_text(b) => Some(Protocol::Http1),
        Some(_) => Some(Protocol::Opaque),
        // Only empty lines so far: whatever follows is the HTTP/1 parser's to judge.
        None if buf.len() >= DETECT_BYTES => Some(Protocol::Http1),
        None => None,
    }
}

/// Printable ASCII, a space or a tab: what an HTTP/1 request line (or a mangled one) is made of.
fn is_text(b: u8) -> bool {
    b.is_ascii_graphic() || b == b' ' || b == b'\t'
}

/// An I/O whose first reads return bytes already read from it.
pub type PrefixedIo<I> = PassThrough<I, Replay>;

/// The hooks of [`PrefixedIo`]: the bytes still to replay.
#[derive(Debug)]
pub struct Replay(Bytes);

impl<I> PrefixedIo<I> {
    /// Replays `prefix` before reading from `io`.
    pub fn new(prefix: Bytes, io: I) -> Self {
        PassThrough::with_hooks(io, Replay(prefix))
    }
}

impl Replay {
    /// The bytes still to replay.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes still to replay, taken.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Hooks for Replay {
    fn poll_read<I: AsyncRead>(
        &mut self,
        io: Pin<&mut I>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.0.is_empty() {
            let n = self.0.len().min(buf.remaining());
            buf.put_slice(&self.0[..n]);
            self.0.advance(n);
            return Poll::Ready(Ok(()));
        }
        io.poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_first_bytes() {
        assert_eq!(classify(b""), None);
        assert_eq!(classify(b"G"), Some(Protocol::Http1));
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Protocol::Http1));
        assert_eq!(
            classify(b"PRI * HTTP/2.0\r\n"),
            None,
            "a preface prefix needs more bytes"
        );
        assert_eq!(classify(H2_PREFACE), Some(Protocol::Http2));
        assert_eq!(classify(b"PRI / HTTP/1.1\r\n"), Some(Protocol::Http1));
        assert_eq!(
            classify(b"\x16\x03\x01\x02\x00"),
            Some(Protocol::Opaque),
            "TLS"
        );
        assert_eq!(
            classify(b"\x00\x00\x00\x08"),
            Some(Protocol::Opaque),
            "binary"
        );
    }

    #[test]
    fn anything_that_starts_like_a_request_is_for_the_http_parser() {
        for start in [
            &b"\r\nPOST /x HTTP/1.1\r\n"[..],
            b"\r\n\r\n\nGET",
            b"GET\t/x HTTP/1.1",
            b"AVERYLONGMETHODTOKENOFMORETHAN24BYTES / HTTP/1.1",
            &[b'A'; 30],
            &[b'\n'; DETECT_BYTES],
            b" GET / HTTP/1.1",
            b"\tGET / HTTP/1.1",
            b"(GET) / HTTP/1.1",
        ] {
            assert_eq!(
                classify(start),
                Some(Protocol::Http1),
                "{:?}",
                String::from_utf8_lossy(start)
            );
        }
        assert_eq!(classify(b"\r\n\r\n"), None, "empty lines: wait for more");
        assert_eq!(classify(b"\r\n\x16"), Some(Protocol::Opaque));
    }

    #[tokio::test]
    async fn detected_bytes_are_replayed() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (protocol, mut io) = detect(server, Duration::from_secs(5)).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        let mut all = vec![0u8; 27];
        io.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_silent_after_the_timeout() {
        let (_client, server) = tokio::io::duplex(64);
        let (protocol, _) = detect(server, Duration::from_secs(10)).await.unwrap();
        assert_eq!(protocol, Protocol::Silent);
    }
}
