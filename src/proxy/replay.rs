//! Request bodies that can be sent again, for retries, without delaying the first try.
//!
//! The first try streams the caller's body as it arrives and keeps a copy of up to
//! [`MAX_REPLAY_BYTES`]; a retry sends the copy, then goes on reading the caller's body where the
//! previous try left it (a try may fail before the upstream read everything). Past the limit the
//! copy is dropped and the request can no longer be retried, so memory stays bounded whatever
//! the caller sends.
//!
//! [`Replayable`] is a whole request held that way for every upstream send: an empty body costs
//! nothing to send again, a body known to be over the limit streams once unwrapped, and anything
//! else goes through a [`Replay`].

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Request};
use http_body::{Body, Frame, SizeHint};

use super::body::{boxed, empty, BoxError, ProxyBody};

/// Largest request body kept for retries (64 KiB).
pub const MAX_REPLAY_BYTES: usize = 64 * 1024;

/// What all tries of one request share.
struct Shared {
    /// The caller's body, until it ends.
    rest: Option<ProxyBody>,
    /// Data frames read from the caller so far.
    frames_read: usize,
    /// Those frames, while under the limit.
    recorded: Vec<Bytes>,
    recorded_bytes: usize,
    trailers: Option<HeaderMap>,
    /// The body grew past the limit (or failed): no more tries.
    overflowed: bool,
    /// The caller's body failed.
    failed: bool,
    /// The caller's body's size, as it declared it (so a try can send `content-length`).
    size: SizeHint,
}

/// The source of each try's body.
#[derive(Clone)]
pub struct Replay {
    shared: Arc<Mutex<Shared>>,
}

/// One try's body: the recorded frames, then the rest of the caller's body.
pub struct ReplayBody {
    shared: Arc<Mutex<Shared>>,
    /// Data frames this try has sent.
    position: usize,
    trailers_sent: bool,
    done: bool,
}

impl Replay {
    /// Wraps the caller's body.
    pub fn new(body: ProxyBody) -> Self {
        Replay {
            shared: Arc::new(Mutex::new(Shared {
                size: body.size_hint(),
                rest: Some(body),
                frames_read: 0,
                recorded: Vec::new(),
                recorded_bytes: 0,
                trailers: None,
                overflowed: false,
                failed: false,
            })),
        }
    }

    /// A body for the next try.
    pub fn body(&self) -> ReplayBody {
        ReplayBody {
            shared: self.shared.clone(),
            position: 0,
            trailers_sent: false,
            done: false,
        }
    }

    /// Whether another try can still be sent the whole body.
    pub fn can_replay(&self) -> bool {
        !self.lock().overflowed
    }

    /// Why another try cannot be sent the whole body, if it cannot.
    pub fn why_not(&self) -> Option<NotReplayable> {
        let shared = self.lock();
        match (shared.failed, shared.overflowed) {
            (true, _) => Some(NotReplayable::BodyFailed),
            (false, true) => Some(NotReplayable::BodyTooLarge),
            (false, false) => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let mut shared = this.shared.lock().unwrap_or_else(|p| p.into_inner());
        if this.position < shared.recorded.len() {
            let data = shared.recorded[this.position].clone();
            this.position += 1;
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if this.position < shared.frames_read {
            // An earlier try read past what was kept: this one cannot be sent whole.
            return Poll::Ready(Some(Err("request body too large to send again".into())));
        }
        while let Some(rest) = shared.rest.as_mut() {
            let frame = match Pin::new(rest).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(frame) => frame,
            };
            match frame {
                // An empty DATA frame carries nothing, and sent on without ending the stream it
                // counts against the peer's patience: h2 servers close the connection after 100
                // of them (ENHANCE_YOUR_CALM "too_many_data_frames").
                Some(Ok(frame)) if frame.data_ref().is_some_and(|d| d.is_empty()) => {}
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        record(&mut shared, data);
                        shared.frames_read += 1;
                        this.position += 1;
                    } else if let Some(trailers) = frame.trailers_ref() {
                        shared.trailers = Some(trailers.clone());
                        this.trailers_sent = true;
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Some(Err(e)) => {
                    // The caller's body broke: no try can be sent whole any more.
                    shared.overflowed = true;
                    shared.failed = true;
                    shared.rest = None;
                    return Poll::Ready(Some(Err(e)));
                }
                None => shared.rest = None,
            }
        }
        if !this.trailers_sent {
            this.trailers_sent = true;
            if let Some(t) = shared.trailers.clone() {
                return Poll::Ready(Some(Ok(Frame::trailers(t))));
            }
        }
        this.done = true;
        Poll::Ready(None)
    }

    /// True as soon as this try has sent everything and the caller's body has said it ends, so
    /// the last DATA frame carries END_STREAM (instead of an empty frame after it).
    fn is_end_stream(&self) -> bool {
        if self.done {
            return true;
        }
        let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let caught_up = self.position >= shared.frames_read;
        let ended = shared.rest.as_ref().is_none_or(|rest| rest.is_end_stream());
        caught_up && ended && (self.trailers_sent || shared.trailers.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        if self.position == 0 && !self.trailers_sent && !self.done {
            self.shared
                .lock()
                .map_or_else(|p| p.into_inner().size, |s| s.size)
        } else {
            SizeHint::default()
        }
    }
}

/// A request that can be sent more than once while its body allows: its head is copied for each
/// send (extensions are per send and not copied).
pub struct Replayable {
    head: Parts,
    body: Source,
}

enum Source {
    /// No body: every send gets an empty one.
    Empty,
    /// Kept for replay up to the limit.
    Kept(Replay),
    /// Known to be over the limit: sent once, as it is.
    Once(Option<ProxyBody>),
}

/// Why a request cannot be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotReplayable {
    /// Its body is larger than what is kept for replay.
    #[error("its body is over the {} KiB kept to send a request again", MAX_REPLAY_BYTES / 1024)]
    BodyTooLarge,
    /// The caller's body failed, so no send can have all of it.
    #[error("the caller's request body failed")]
    BodyFailed,
}

impl Replayable {
    /// Holds `req` for sending. Checking the body costs nothing when it is empty (no wrapper).
    pub fn new(req: Request<ProxyBody>) -> Self {
        let (head, body) = req.into_parts();
        let body = if body.is_end_stream() {
            Source::Empty
        } else {
            let declared = body.size_hint().lower();
            if declared > MAX_REPLAY_BYTES as u64 {
                Source::Once(Some(body))
            } else {
                Source::Kept(Replay::new(body))
            }
        };
        Replayable { head, body }
    }

    /// The request's head.
    pub fn head(&self) -> &Parts {
        &self.head
    }

    /// The request's header fields, for every later send.
    pub fn headers_mut(&mut self) -> &mut http::HeaderMap {
        &mut self.head.headers
    }

    /// The request for one more send, or why there can be none.
    pub fn next_send(&mut self) -> Result<Request<ProxyBody>, NotReplayable> {
        self.can_replay()?;
        let body = match &mut self.body {
            Source::Empty => empty(),
            Source::Kept(replay) => boxed(replay.body()),
            Source::Once(body) => body.take().ok_or(NotReplayable::BodyTooLarge)?,
        };
        Ok(Request::from_parts(copy_head(&self.head), body))
    }

    /// Whether one more send could carry the whole body.
    pub fn can_replay(&self) -> Result<(), NotReplayable> {
        match &self.body {
            Source::Empty => Ok(()),
            Source::Kept(replay) => replay.why_not().map_or(Ok(()), Err),
            Source::Once(Some(_)) => Ok(()),
            Source::Once(None) => Err(NotReplayable::BodyTooLarge),
        }
    }
}

/// A copy of a request head for another send (extensions are per send and not copied).
pub fn copy_head(head: &Parts) -> Parts {
    let mut req = Request::new(());
    *req.method_mut() = head.method.clone();
    *req.uri_mut() = head.uri.clone();
    *req.version_mut() = head.version;
    *req.headers_mut() = head.headers.clone();
    req.into_parts().0
}

fn record(shared: &mut Shared, data: &Bytes) {
    if shared.overflowed {
        return;
    }
    if shared.recorded_bytes + data.len() > MAX_REPLAY_BYTES {
        shared.overflowed = true;
        shared.recorded = Vec::new();
        return;
    }
    shared.recorded_bytes += data.len();
    shared.recorded.push(data.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::body::boxed;
    use http_body_util::BodyExt;

    /// A caller's body made of `chunks` (and trailers), one frame per poll.
    struct Frames(std::collections::VecDeque<Frame<Bytes>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    fn caller_body(chunks: Vec<&'static [u8]>, trailers: bool) -> ProxyBody {
        let mut frames: std::collections::VecDeque<Frame<Bytes>> = chunks
            .into_iter()
            .map(|c| Frame::data(Bytes::from_static(c)))
            .collect();
        if trailers {
            let mut t = HeaderMap::new();
            t.insert("x-checksum", "42".parse().unwrap());
            frames.push_back(Frame::trailers(t));
        }
        boxed(Frames(frames))
    }

    async fn read(body: ReplayBody) -> (Vec<u8>, Option<HeaderMap>) {
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        (collected.to_bytes().to_vec(), trailers)
    }

    #[tokio::test]
    async fn empty_data_frames_are_not_passed_on() {
        let replay = Replay::new(caller_body(vec![b"a", b"", b"b", b""], false));
        let mut body = replay.body();
        let mut sent = Vec::new();
        while let Some(frame) = body.frame().await {
            sent.push(frame.unwrap().into_data().unwrap());
        }
        assert_eq!(sent, ["a", "b"]);
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn every_try_sends_the_whole_body_and_trailers() {
        let replay = Replay::new(caller_body(vec![b"hello ", b"world"], true));
        for _ in 0..3 {
            let (data, trailers) = read(replay.body()).await;
            assert_eq!(data, b"hello world");
            assert_eq!(trailers.unwrap()["x-checksum"], "42");
            assert!(replay.can_replay());
        }
    }

    #[tokio::test]
    async fn a_try_that_stopped_early_is_continued_by_the_next() {
        let replay = Replay::new(caller_body(vec![b"a", b"b", b"c"], false));
        let mut first = replay.body();
        let frame = first.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "a");
        drop(first);
        assert_eq!(read(replay.body()).await.0, b"abc");
    }

    #[tokio::test]
    async fn a_request_is_held_by_what_its_body_costs_to_send_again() {
        let head = || Request::post("/x");
        // No body: nothing is wrapped, every send gets an empty one.
        let mut empty_req = Replayable::new(head().body(crate::proxy::body::empty()).unwrap());
        assert!(matches!(empty_req.body, Source::Empty));
        for _ in 0..3 {
            assert!(empty_req.next_send().unwrap().body().is_end_stream());
        }
        // A body declared larger than the limit streams once, unwrapped.
        let big = boxed(http_body_util::Full::new(Bytes::from(vec![
            1u8;
            MAX_REPLAY_BYTES
                + 1
        ])));
        let mut big_req = Replayable::new(head().body(big).unwrap());
        assert!(matches!(big_req.body, Source::Once(Some(_))));
        assert!(big_req.next_send().is_ok());
        assert_eq!(big_req.can_replay(), Err(NotReplayable::BodyTooLarge));
        assert!(big_req.next_send().is_err());
        // A small body is held: every send carries all of it, and the head is copied.
        let small = caller_body(vec![b"vote"], false);
        let mut small_req = Replayable::new(head().header("x-a", "1").body(small).unwrap());
        for _ in 0..2 {
            let (parts, body) = small_req.next_send().unwrap().into_parts();
            assert_eq!(parts.headers["x-a"], "1");
            assert_eq!(body.collect().await.unwrap().to_bytes(), "vote");
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_stream_once_and_are_not_replayable() {
        let big: &'static [u8] = Box::leak(vec![7u8; MAX_REPLAY_BYTES].into_boxed_slice());
        let replay = Replay::new(caller_body(vec![b"x", big], false));
        assert_eq!(read(replay.body()).await.0.len(), MAX_REPLAY_BYTES + 1);
        assert!(!replay.can_replay());
    }
}
