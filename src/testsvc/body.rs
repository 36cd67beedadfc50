//! [`SyntheticBody`]: a body made up on the spot — some bytes, filler, then trailers.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

/// Filler is sent in chunks of this size, borrowed from one static buffer.
const FILLER_CHUNK: usize = 16 * 1024;
static FILLER: [u8; FILLER_CHUNK] = [b'x'; FILLER_CHUNK];

/// A body of fixed bytes, then `filler` bytes of `x`, then optional trailers.
///
/// Its size is known (so HTTP/1 gets a `content-length`) unless it has trailers, which over
/// HTTP/1 need chunked encoding and a `trailer` header naming them.
#[derive(Debug, Default)]
pub struct SyntheticBody {
    data: Bytes,
    filler: u64,
    trailers: Option<HeaderMap>,
}

// === impl SyntheticBody ===

impl SyntheticBody {
    /// A body of `data`.
    pub fn new(data: impl Into<Bytes>) -> Self {
        Self {
            data: data.into(),
            ..Self::default()
        }
    }

    /// `len` bytes of `x`, streamed in 16 KiB chunks without allocating them.
    pub fn filler(len: u64) -> Self {
        Self {
            filler: len,
            ..Self::default()
        }
    }

    /// The same body, ending with `trailers`.
    pub fn with_trailers(mut self, trailers: HeaderMap) -> Self {
        self.trailers = Some(trailers);
        self
    }
}

impl Body for SyntheticBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let frame = if !this.data.is_empty() {
            Frame::data(std::mem::take(&mut this.data))
        } else if this.filler > 0 {
            let n = usize::try_from(this.filler).map_or(FILLER_CHUNK, |n| n.min(FILLER_CHUNK));
            this.filler -= n as u64;
            Frame::data(Bytes::from_static(&FILLER[..n]))
        } else if let Some(trailers) = this.trailers.take() {
            Frame::trailers(trailers)
        } else {
            return Poll::Ready(None);
        };
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty() && self.filler == 0 && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = self.data.len() as u64 + self.filler;
        match self.trailers {
            None => SizeHint::with_exact(len),
            Some(_) => {
                let mut hint = SizeHint::new();
                hint.set_lower(len);
                hint
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn filler_is_streamed_in_chunks_of_x() {
        let len = FILLER_CHUNK as u64 * 2 + 3;
        let mut body = SyntheticBody::filler(len);
        assert_eq!(body.size_hint().exact(), Some(len));
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.iter().all(|&b| b == b'x'));
            sizes.push(data.len());
        }
        assert_eq!(sizes, [FILLER_CHUNK, FILLER_CHUNK, 3]);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn trailers_come_last_and_make_the_size_unknown() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", "7".parse().unwrap());
        let body = SyntheticBody::new("abc").with_trailers(trailers.clone());
        assert_eq!(body.size_hint().exact(), None);
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "abc");
    }

    #[test]
    fn an_empty_body_ends_at_once() {
        assert!(SyntheticBody::default().is_end_stream());
        assert!(!SyntheticBody::default()
            .with_trailers(HeaderMap::new())
            .is_end_stream());
    }
}
