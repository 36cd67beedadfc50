//! Upstream header blocks and the head limit (`Limits::max_header_bytes`, 64 KiB): response heads
//! and trailer blocks up to it pass on every hop; a larger one fails its own stream with an
//! explanation, and other streams on the connection go on.
//!
//! The HTTP clients read blocks up to twice the limit ([`most`]), so a block a little over it
//! arrives whole and can be explained: a response head becomes a 502 with `mesh-proxy-error`
//! (gRPC: a status and `grpc-message`), and trailers — which come after the response has started
//! — end the body with a [`ProxyError`], which the response's observed body (`observe`) replaces
//! by trailers carrying the explanation. Past twice the limit the HTTP/2 library
//! resets the stream itself, and past about 11 frames of 16 KiB for one block it closes the
//! whole connection (docs/proxy.md). HTTP/1 trailers stop at 16 KiB in hyper's client, which has
//! no setting for them.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body::{Body, Frame, SizeHint};

use super::{UpstreamError, Version};
use crate::proxy::body::{boxed, BoxError, ProxyBody};
use crate::proxy::respond::ProxyError;

/// The most the HTTP clients read of one block: twice the limit (at least 8 KiB).
pub fn most(limit: usize) -> usize {
    limit.saturating_mul(2).max(8192)
}

/// The size of a header block as HTTP/1 sends it: `name: value\r\n` per field.
pub fn block_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum()
}

/// Passes `resp` on if its head is within `limit`, watching its HTTP/2 trailers.
pub fn limit(
    resp: Response<ProxyBody>,
    addr: SocketAddr,
    version: Version,
    limit: usize,
) -> Result<Response<ProxyBody>, UpstreamError> {
    // The status line, as HTTP/1 sends it.
    let bytes = block_bytes(resp.headers()) + "HTTP/1.1 200 OK\r\n".len();
    if bytes > limit {
        // Dropping the response resets its stream (HTTP/2) or closes its connection (HTTP/1).
        return Err(UpstreamError::ResponseHeadTooLarge { addr, bytes, limit });
    }
    if version == Version::Http1 || resp.body().is_end_stream() {
        return Ok(resp);
    }
    Ok(resp.map(|inner| boxed(TrailerLimit { inner, addr, limit })))
}

/// A response body whose trailers over the limit are replaced by an explanation.
struct TrailerLimit {
    inner: ProxyBody,
    addr: SocketAddr,
    limit: usize,
}

impl Body for TrailerLimit {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        let Some(Ok(frame)) = frame else {
            return Poll::Ready(frame);
        };
        let Some(trailers) = frame.trailers_ref() else {
            return Poll::Ready(Some(Ok(frame)));
        };
        let bytes = block_bytes(trailers);
        if bytes <= self.limit {
            return Poll::Ready(Some(Ok(frame)));
        }
        // The response's observed body (`observe`) replaces them with trailers explaining this,
        // and logs, counts and taps it as the rescue point does.
        let err = ProxyError::TrailersTooLarge {
            addr: self.addr,
            bytes,
            limit: self.limit,
        };
        Poll::Ready(Some(Err(Box::new(err))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
