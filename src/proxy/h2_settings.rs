//! Follows an HTTP/2 server's `SETTINGS_MAX_CONCURRENT_STREAMS` for the whole connection, and
//! holds requests to it: streams beyond the limit would otherwise queue inside the HTTP/2 client
//! without bound, waiting for streams that may take arbitrarily long to end.
//!
//! A server opens its side of the connection with a SETTINGS frame and may send more at any time
//! (RFC 9113 §6.5); each takes effect when it arrives. The bytes the server sends pass through a
//! small frame-boundary tracker on the read path: it reads each 9-byte frame header, looks into
//! the payload of SETTINGS frames six bytes (one setting) at a time, and skips every other
//! payload by its length without copying it. So the balancer and the fail-fast text always use
//! the limit in force now ("max_concurrent_streams 10"), with a fixed few bytes of state per
//! connection; the bytes pass through untouched.
//!
//! A server that does not speak HTTP/2 answers the connection preface in HTTP/1 (`HTTP/1.1 400
//! Bad Request`), which an HTTP/2 client can only report as a malformed frame. The first bytes
//! tell: [`StreamLimit::answered_in_http1`] lets the pool say what happened.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::io::{Hooks, PassThrough};

/// The limit as shared with the pool and the balancer.
pub type MaxStreams = Arc<StreamLimit>;

/// A server's `max_concurrent_streams` now, once its first SETTINGS frame has been read, and the
/// streams open on its connection.
#[derive(Debug, Default)]
pub struct StreamLimit {
    /// 0 until known; `u32::MAX` when the server sets none.
    value: AtomicU32,
    learned: Notify,
    open: AtomicU32,
    /// Notified once per stream that ends: a waiter may open one.
    closed: Notify,
    /// Notified when a stream ends while retries of refused streams wait (`after_refusal`).
    ended: Notify,
    after_refusal: AtomicU32,
    /// The server answered the preface in HTTP/1: it does not speak HTTP/2.
    http1: AtomicBool,
}

/// One open stream; dropping it (when the response has ended) frees the slot.
#[derive(Debug)]
pub struct StreamSlot(Arc<StreamLimit>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        // One freed stream is one request's turn: waking every waiter would have them all race
        // for it (with hundreds queued, a herd for each stream that ends).
        self.0.closed.notify_one();
        // Retries of refused streams wait for any stream to end; usually there are none.
        if self.0.after_refusal.load(Ordering::SeqCst) > 0 {
            self.0.ended.notify_waiters();
        }
    }
}

/// Counts a task waiting for a stream to end, while it waits.
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicU32) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
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
        self.http1.store(false, Ordering::Release);
        self.learned.notify_waiters();
        // A raised limit makes room for requests waiting to open a stream.
        self.closed.notify_waiters();
    }

    /// A stream under the limit (none known yet: no limit), waiting until `deadline` at most.
    /// After the limit is lowered below the streams open, none opens until enough have closed.
    pub async fn open(self: &Arc<Self>, deadline: Instant) -> Option<StreamSlot> {
        if let Some(slot) = self.try_open() {
            return Some(slot);
        }
        loop {
            let closed = self.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            // Looked at again once registered, so a stream that ended meanwhile is not missed.
            // (A wake-up this waiter received and does not need passes to the next one when
            // `closed` is dropped: tokio's `Notified` hands it on.)
            if let Some(slot) = self.try_open() {
                return Some(slot);
            }
            tokio::time::timeout_at(deadline, closed).await.ok()?;
        }
    }

    fn try_open(self: &Arc<Self>) -> Option<StreamSlot> {
        let limit = self.get().unwrap_or(u32::MAX);
        self.open
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| StreamSlot(self.clone()))
    }

    /// Waits until one of the streams open now has ended, or until `deadline`; at once when none
    /// is open. A server that refused a stream had too many: the next try waits for one to end.
    pub async fn one_ended(&self, deadline: Instant) {
        let _waiting = Waiting::new(&self.after_refusal);
        let ended = self.ended.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        if self.open.load(Ordering::SeqCst) == 0 {
            return;
        }
        let _ = tokio::time::timeout_at(deadline, ended).await;
    }

    /// Whether the server answered in HTTP/1 instead of HTTP/2.
    pub fn answered_in_http1(&self) -> bool {
        self.http1.load(Ordering::Acquire)
    }

    fn mark_http1(&self) {
        self.http1.store(true, Ordering::Release);
        // No SETTINGS will come: nobody waits for them.
        self.learned.notify_waiters();
    }

    /// Waits (at most `timeout`) until the limit is known, or the server has shown it speaks
    /// HTTP/1.
    pub async fn wait_known(&self, timeout: Duration) -> Option<u32> {
        let learned = self.learned.notified();
        tokio::pin!(learned);
        learned.as_mut().enable();
        if self.get().is_some() || self.answered_in_http1() {
            return self.get();
        }
        let _ = tokio::time::timeout(timeout, learned).await;
        self.get()
    }
}

const FRAME_HEADER: usize = 9;
const SETTINGS: u8 = 0x4;
const ACK: u8 = 0x1;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const SETTING_LEN: usize = 6;

/// Where the tracker is in the server's byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Reading a frame header: `have` of its 9 bytes so far.
    Header { have: usize },
    /// In a SETTINGS payload with `left` bytes to go, `have` bytes into the current setting.
    Settings { left: usize, have: usize },
    /// Skipping `left` bytes of another frame's payload.
    Skip { left: usize },
}

/// Frame boundaries of the server's side of a connection, and the limits found on the way.
#[derive(Debug)]
struct FrameTracker {
    at: Position,
    header: [u8; FRAME_HEADER],
    setting: [u8; SETTING_LEN],
    /// No SETTINGS frame has ended yet (the first one sets the limit even without the setting).
    first: bool,
    /// The limit in the SETTINGS frame being read, once seen.
    found: Option<u32>,
}

impl FrameTracker {
    fn new() -> Self {
        FrameTracker {
            at: Position::Header { have: 0 },
            header: [0; FRAME_HEADER],
            setting: [0; SETTING_LEN],
            first: true,
            found: None,
        }
    }

    /// Follows `bytes`; calls `limit` with the limit in force after each SETTINGS frame that
    /// sets it (`u32::MAX` when the server's first SETTINGS frame sets none).
    fn track(&mut self, mut bytes: &[u8], limit: &mut impl FnMut(u32)) {
        while !bytes.is_empty() {
            match self.at {
                Position::Header { have } => {
                    let n = (FRAME_HEADER - have).min(bytes.len());
                    self.header[have..have + n].copy_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if have + n < FRAME_HEADER {
                        self.at = Position::Header { have: have + n };
                        continue;
                    }
                    let h = &self.header;
                    let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                    if h[3] == SETTINGS && h[4] & ACK == 0 {
                        self.at = Position::Settings { left: len, have: 0 };
                        if len == 0 {
                            self.settings_end(limit);
                        }
                    } else {
                        self.at = Position::Skip { left: len };
                    }
                }
                Position::Skip { left } => {
                    let n = left.min(bytes.len());
                    bytes = &bytes[n..];
                    self.at = match left - n {
                        0 => Position::Header { have: 0 },
                        left => Position::Skip { left },
                    };
                }
                Position::Settings { left, have } => {
                    let n = (SETTING_LEN - have).min(left).min(bytes.len());
                    self.setting[have..have + n].copy_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    let (left, have) = (left - n, have + n);
                    if have == SETTING_LEN {
                        let s = &self.setting;
                        if u16::from_be_bytes([s[0], s[1]]) == MAX_CONCURRENT_STREAMS {
                            self.found = Some(u32::from_be_bytes([s[2], s[3], s[4], s[5]]));
                        }
                    }
                    self.at = Position::Settings {
                        left,
                        have: have % SETTING_LEN,
                    };
                    if left == 0 {
                        self.settings_end(limit);
                    }
                }
            }
        }
    }

    fn settings_end(&mut self, limit: &mut impl FnMut(u32)) {
        match (self.found.take(), self.first) {
            (Some(n), _) => limit(n),
            // The initial value is unlimited (RFC 9113 §6.5.2); a later frame without the
            // setting leaves it as it is.
            (None, true) => limit(u32::MAX),
            (None, false) => {}
        }
        self.first = false;
        self.at = Position::Header { have: 0 };
    }
}

/// Passes `io` through, following the SETTINGS frames the server sends.
pub type SettingsSniffer<I> = PassThrough<I, SettingsTracker>;

/// The hooks of [`SettingsSniffer`]: what the server's bytes have said so far.
#[derive(Debug)]
pub struct SettingsTracker {
    tracker: FrameTracker,
    max_streams: MaxStreams,
    // The first bytes the server sent, until there are enough to tell HTTP/1 from HTTP/2.
    first: Option<([u8; HTTP1.len()], usize)>,
}

/// How an HTTP/1 server's answer starts.
const HTTP1: &[u8; 5] = b"HTTP/";

impl<I> SettingsSniffer<I> {
    /// Wraps an upstream connection; the limit in force lands in `max_streams`.
    pub fn new(io: I, max_streams: MaxStreams) -> Self {
        let tracker = SettingsTracker {
            tracker: FrameTracker::new(),
            max_streams,
            first: Some(([0; HTTP1.len()], 0)),
        };
        PassThrough::with_hooks(io, tracker)
    }
}

/// Adds `new` to the first bytes seen; `Some(answered_in_http1)` once there are enough.
fn first_bytes(first: &mut ([u8; HTTP1.len()], usize), new: &[u8]) -> Option<bool> {
    let (seen, len) = first;
    let take = new.len().min(HTTP1.len() - *len);
    seen[*len..*len + take].copy_from_slice(&new[..take]);
    *len += take;
    (*len == HTTP1.len()).then(|| seen == HTTP1)
}

impl Hooks for SettingsTracker {
    fn on_read(&mut self, new: &[u8]) {
        let max_streams = &self.max_streams;
        if let Some(first) = self.first.as_mut() {
            match first_bytes(first, new) {
                Some(true) => {
                    max_streams.mark_http1();
                    self.first = None;
                }
                Some(false) => self.first = None,
                None => {}
            }
        }
        self.tracker.track(new, &mut |n| max_streams.set(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http1_answer_is_told_from_a_settings_frame_in_any_pieces() {
        let answer = b"HTTP/1.1 400 Bad Request\r\n";
        for split in 0..=HTTP1.len() {
            let mut first = ([0; HTTP1.len()], 0);
            let early = first_bytes(&mut first, &answer[..split]);
            assert_eq!(early, (split == HTTP1.len()).then_some(true));
            assert_eq!(first_bytes(&mut first, &answer[split..]), Some(true));
        }
        let mut first = ([0; HTTP1.len()], 0);
        let settings = [0, 0, 6, SETTINGS, 0, 0, 0, 0, 0];
        assert_eq!(first_bytes(&mut first, &settings), Some(false));
    }

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    fn settings(entries: &[(u16, u32)]) -> Vec<u8> {
        let payload: Vec<u8> = entries
            .iter()
            .flat_map(|(id, v)| [id.to_be_bytes().as_slice(), &v.to_be_bytes()].concat())
            .collect();
        frame(SETTINGS, 0, &payload)
    }

    /// The limits the tracker reports for `stream`, read in pieces of `step` bytes.
    fn limits(stream: &[u8], step: usize) -> Vec<u32> {
        let mut tracker = FrameTracker::new();
        let mut seen = Vec::new();
        for piece in stream.chunks(step) {
            tracker.track(piece, &mut |n| seen.push(n));
        }
        seen
    }

    #[test]
    fn every_settings_frame_is_followed_across_any_read_boundaries() {
        let data = frame(0x0, 0x1, &[7u8; 300]);
        let stream = [
            settings(&[(0x4, 65535), (MAX_CONCURRENT_STREAMS, 100)]),
            frame(SETTINGS, ACK, &[]),
            frame(0x1, 0x4, &[1, 2, 3]),
            data.clone(),
            // Bytes that look like a SETTINGS frame inside a payload are payload.
            frame(0x0, 0x0, &settings(&[(MAX_CONCURRENT_STREAMS, 1)])),
            settings(&[(MAX_CONCURRENT_STREAMS, 10)]),
            settings(&[(0x4, 1)]),
            data,
            settings(&[(MAX_CONCURRENT_STREAMS, 5), (MAX_CONCURRENT_STREAMS, 20)]),
        ]
        .concat();
        for step in [1, 2, 5, 9, 13, 64, stream.len()] {
            assert_eq!(limits(&stream, step), vec![100, 10, 20], "step {step}");
        }
    }

    #[test]
    fn a_first_settings_frame_without_the_limit_means_unlimited() {
        let stream = [
            settings(&[(0x4, 65535)]),
            settings(&[]),
            settings(&[(0x3, 7)]),
        ]
        .concat();
        assert_eq!(limits(&stream, 4), vec![u32::MAX, 7]);
        assert_eq!(limits(&settings(&[]), 3), vec![u32::MAX]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_waits_for_room_until_the_deadline_only() {
        let limit = Arc::new(StreamLimit::default());
        limit.set(1);
        let deadline = Instant::now() + Duration::from_secs(1);
        let first = limit.open(deadline).await.expect("room for one");
        let started = Instant::now();
        assert!(limit.open(deadline).await.is_none());
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        // A limit raised while a request waits lets it open at once.
        let deadline = Instant::now() + Duration::from_secs(1);
        let waiting = tokio::spawn({
            let limit = limit.clone();
            async move { limit.open(deadline).await.is_some() }
        });
        tokio::task::yield_now().await;
        limit.set(2);
        assert!(waiting.await.unwrap());
        assert_eq!(started.elapsed(), Duration::from_secs(1), "no wait");
        drop(first);
    }
}
