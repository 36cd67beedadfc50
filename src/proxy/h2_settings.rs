//! Learns an HTTP/2 server's `SETTINGS_MAX_CONCURRENT_STREAMS` from the first frame it sends,
//! and holds requests to it: streams beyond the limit would otherwise queue inside the HTTP/2
//! client without bound, waiting for streams that may take arbitrarily long to end.
//!
//! A server must open its side of the connection with a SETTINGS frame; reading that one frame
//! as it passes tells the balancer how many requests the endpoint takes at once, so a saturated
//! upstream is reported by its real limit ("max_concurrent_streams 10") instead of as a
//! mysterious stall. Later SETTINGS changes are not followed; the bytes pass through untouched.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// The limit as shared with the pool and the balancer.
pub type MaxStreams = Arc<StreamLimit>;

/// A server's `max_concurrent_streams`, once its first SETTINGS frame has been read, and the
/// streams open on its connection.
#[derive(Debug, Default)]
pub struct StreamLimit {
    /// 0 until known; `u32::MAX` when the server sets none.
    value: AtomicU32,
    learned: Notify,
    open: AtomicU32,
    closed: Notify,
}

/// One open stream; dropping it (when the response has ended) frees the slot.
#[derive(Debug)]
pub struct StreamSlot(Arc<StreamLimit>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.closed.notify_one();
    }
}

impl StreamLimit {
    /// The limit, if known; `Some(u32::MAX)` when the server sets none.
    pub fn get(&self) -> Option<u32> {
        match self.value.load(Ordering::Acquire) {
            0 => None,
            n => Some(n),
        }
    }

    fn set(&self, limit: u32) {
        self.value.store(limit.max(1), Ordering::Release);
        self.learned.notify_waiters();
    }

    /// A stream under the limit (none known yet: no limit), waiting at most `timeout` for one.
    pub async fn open(self: &Arc<Self>, timeout: Duration) -> Option<StreamSlot> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let closed = self.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            let limit = self.get().unwrap_or(u32::MAX);
            let took = self
                .open
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                });
            if took.is_ok() {
                return Some(StreamSlot(self.clone()));
            }
            tokio::time::timeout_at(deadline, closed).await.ok()?;
        }
    }

    /// Waits (at most `timeout`) until the limit is known.
    pub async fn wait_known(&self, timeout: Duration) -> Option<u32> {
        let learned = self.learned.notified();
        tokio::pin!(learned);
        learned.as_mut().enable();
        if let Some(n) = self.get() {
            return Some(n);
        }
        let _ = tokio::time::timeout(timeout, learned).await;
        self.get()
    }
}

const FRAME_HEADER: usize = 9;
const SETTINGS: u8 = 0x4;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// Bytes kept while looking: a frame header and a SETTINGS payload of reasonable size.
const MAX_SNIFF: usize = FRAME_HEADER + 6 * 64;

pin_project_lite::pin_project! {
    /// Passes `io` through, reading the first frame the server sends.
    pub struct SettingsSniffer<I> {
        #[pin]
        io: I,
        seen: Option<Vec<u8>>,
        max_streams: MaxStreams,
    }
}

impl<I> SettingsSniffer<I> {
    /// Wraps an upstream connection; the limit lands in `max_streams`.
    pub fn new(io: I, max_streams: MaxStreams) -> Self {
        SettingsSniffer {
            io,
            seen: Some(Vec::new()),
            max_streams,
        }
    }
}

/// The limit in a SETTINGS frame (`u32::MAX` if absent); `None` while more bytes are needed.
fn parse(seen: &[u8]) -> Option<Option<u32>> {
    if seen.len() < FRAME_HEADER {
        return None;
    }
    let len = usize::from(seen[0]) << 16 | usize::from(seen[1]) << 8 | usize::from(seen[2]);
    if seen[3] != SETTINGS {
        return Some(None);
    }
    let payload = &seen[FRAME_HEADER..];
    if payload.len() < len.min(MAX_SNIFF - FRAME_HEADER) {
        return None;
    }
    let limit = payload[..len.min(payload.len())]
        .chunks_exact(6)
        .find(|e| u16::from_be_bytes([e[0], e[1]]) == MAX_CONCURRENT_STREAMS)
        .map(|e| u32::from_be_bytes([e[2], e[3], e[4], e[5]]));
    Some(Some(limit.unwrap_or(u32::MAX)))
}

impl<I: AsyncRead> AsyncRead for SettingsSniffer<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let res = this.io.poll_read(cx, buf);
        if let Some(seen) = this.seen.as_mut() {
            let new = &buf.filled()[before..];
            let room = MAX_SNIFF - seen.len();
            seen.extend_from_slice(&new[..new.len().min(room)]);
            if let Some(found) = parse(seen) {
                this.max_streams.set(found.unwrap_or(u32::MAX));
                *this.seen = None;
            } else if seen.len() >= MAX_SNIFF {
                *this.seen = None;
            }
        }
        res
    }
}

impl<I: AsyncWrite> AsyncWrite for SettingsSniffer<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(entries: &[(u16, u32)]) -> Vec<u8> {
        let len = entries.len() * 6;
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            SETTINGS,
            0,
            0,
            0,
            0,
            0,
        ];
        for (id, v) in entries {
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(&v.to_be_bytes());
        }
        f
    }

    #[test]
    fn the_limit_is_read_from_the_first_settings_frame() {
        let frame = settings(&[(0x4, 65535), (MAX_CONCURRENT_STREAMS, 10)]);
        assert_eq!(parse(&frame[..5]), None);
        assert_eq!(parse(&frame[..12]), None);
        assert_eq!(parse(&frame), Some(Some(10)));
        assert_eq!(parse(&settings(&[(0x4, 65535)])), Some(Some(u32::MAX)));
        assert_eq!(
            parse(&[0, 0, 4, 0x8, 0, 0, 0, 0, 0]),
            Some(None),
            "not SETTINGS"
        );
    }
}
