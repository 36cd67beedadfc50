//! A captured `CONNECT` to the app's own forward proxy (an egress proxy outside the pod, reached
//! through `HTTPS_PROXY`): the request is that proxy's to answer, so it is passed on as sent and
//! its answer passed back, 2xx (then the tunnel is relayed byte for byte) or not (a `407 Proxy
//! Authentication Required`, say, goes back to the app whole). RFC 9110 §9.3.6.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most headers in the forward proxy's answer.
const MAX_HEADERS: usize = 100;

/// Largest body of a refusal passed back (a 407's page); larger ones are cut, the connection then
/// closed.
pub const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// The forward proxy's answer to the `CONNECT`.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// Bytes read past the head: the tunnel's first bytes (2xx) or the refusal's body.
    pub rest: Bytes,
}

/// Why the answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("sending the CONNECT: {0}")]
    Send(std::io::Error),
    #[error("reading its answer: {0}")]
    Read(std::io::Error),
    #[error("it closed the connection without answering")]
    Closed,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("its answer's head is over {0} bytes")]
    TooLarge(usize),
    #[error("its answer is not HTTP/1: {0}")]
    Malformed(String),
}

/// The request head `req` as sent on the wire: `CONNECT authority HTTP/1.1` and its headers.
pub fn head<B>(req: &Request<B>) -> Vec<u8> {
    let mut out = format!("CONNECT {} HTTP/1.1\r\n", req.uri()).into_bytes();
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Sends `head` on `io` and reads the answer's head (at most `limit` bytes, within `timeout`).
pub async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    head: &[u8],
    limit: usize,
    timeout: Duration,
) -> Result<Answer, AnswerError> {
    io.write_all(head).await.map_err(AnswerError::Send)?;
    let read = async {
        let mut buf = BytesMut::with_capacity(4096);
        loop {
            if let Some(answer) = parse(&buf)? {
                return Ok(answer);
            }
            if buf.len() >= limit {
                return Err(AnswerError::TooLarge(limit));
            }
            let mut chunk = vec![0; (limit - buf.len()).min(8192)];
            let n = io.read(&mut chunk).await.map_err(AnswerError::Read)?;
            if n == 0 {
                return Err(AnswerError::Closed);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| AnswerError::Timeout(timeout))?
}

fn parse(buf: &[u8]) -> Result<Option<Answer>, AnswerError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(AnswerError::Malformed(e.to_string())),
    };
    let status = response
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| AnswerError::Malformed("no status".into()))?;
    let mut map = HeaderMap::new();
    for h in response.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|e| AnswerError::Malformed(e.to_string()))?;
        let value =
            HeaderValue::from_bytes(h.value).map_err(|e| AnswerError::Malformed(e.to_string()))?;
        map.append(name, value);
    }
    Ok(Some(Answer {
        status,
        headers: map,
        rest: Bytes::copy_from_slice(&buf[len..]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_head_goes_as_sent_and_the_answer_is_read_with_what_follows() {
        let req = Request::connect("example.com:443")
            .header("host", "example.com:443")
            .header("proxy-authorization", "Basic dTpw")
            .body(())
            .unwrap();
        let wire = head(&req);
        assert_eq!(
            String::from_utf8(wire.clone()).unwrap(),
            "CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\nproxy-authorization: Basic dTpw\r\n\r\n"
        );
        let (mut ours, mut theirs) = tokio::io::duplex(1024);
        let server = tokio::spawn(async move {
            let mut got = vec![0; wire.len()];
            theirs.read_exact(&mut got).await.unwrap();
            theirs
                .write_all(b"HTTP/1.1 200 Connection established\r\nvia: squid\r\n\r\nTLS")
                .await
                .unwrap();
            got
        });
        let answer = ask(&mut ours, &head(&req), 4096, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["via"], "squid");
        assert_eq!(&answer.rest[..], b"TLS");
        assert_eq!(server.await.unwrap(), head(&req));
    }

    #[tokio::test]
    async fn a_silent_or_closing_or_garbled_proxy_is_named() {
        for (reply, wanted) in [
            (&b""[..], "closed the connection"),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP/1"),
        ] {
            let (mut ours, mut theirs) = tokio::io::duplex(1024);
            tokio::spawn(async move {
                let mut sink = [0; 64];
                let _ = theirs.read(&mut sink).await;
                let _ = theirs.write_all(reply).await;
            });
            let req = Request::connect("x:1").body(()).unwrap();
            let err = ask(&mut ours, &head(&req), 4096, Duration::from_secs(5))
                .await
                .unwrap_err();
            assert!(err.to_string().contains(wanted), "{err}");
        }
    }
}
