//! gRPC on the wire, as far as mesh needs it: length-prefixed message frames, status codes, and
//! the percent-encoding of `grpc-message`.
//!
//! The proxy never parses protobuf; it only needs to know where messages start and end, and what
//! `grpc-status` a response ended with (a 200 with `grpc-status: 14` is a failure). The test
//! upstreams in [`crate::testsvc`] use the same framing to echo messages back.
//!
//! A frame is a 5-byte header — a compressed flag (always 0 here: mesh negotiates no compression)
//! and the message length as a big-endian `u32` — followed by the message bytes. See
//! <https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md>.

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderMap;

/// The largest message accepted (4 MiB, gRPC's usual default for received messages).
pub const MAX_MESSAGE: usize = 4 << 20;

/// Bytes before each message: the compressed flag and the big-endian `u32` length.
pub const FRAME_HEADER: usize = 5;

/// The `content-type` of gRPC requests and responses (`application/grpc+proto` etc. also match).
pub const CONTENT_TYPE: &str = "application/grpc";

/// The header or trailer carrying the decimal status code.
pub const GRPC_STATUS: &str = "grpc-status";

/// The header or trailer carrying the percent-encoded status message.
pub const GRPC_MESSAGE: &str = "grpc-message";

/// Frames one uncompressed message.
pub fn encode_frame(msg: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(FRAME_HEADER + msg.len());
    buf.put_u8(0);
    // A message that does not fit in u32 cannot be framed at all; callers send far less.
    buf.put_u32(u32::try_from(msg.len()).expect("grpc message shorter than 4 GiB"));
    buf.put_slice(msg);
    buf.freeze()
}

/// Why a byte stream is not a sequence of acceptable gRPC frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The compressed flag is set; mesh negotiates no compression.
    #[error("grpc frame has compressed flag {0}; compression is not supported")]
    Compressed(u8),
    /// The length prefix is over the limit.
    #[error("grpc message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    /// The stream ended in the middle of a frame.
    #[error("grpc stream ends inside a frame ({0} bytes left over)")]
    Truncated(usize),
}

/// Accumulates bytes as they arrive and yields complete messages.
///
/// Call [`next_message`](Self::next_message) until it returns `None` after each
/// [`push`](Self::push): the length is checked as soon as a header is buffered, so the buffer never
/// grows past one frame (at most `max_message` + 5 bytes) plus the last chunk pushed.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_message: usize,
}

// === impl FrameDecoder ===

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting messages up to [`MAX_MESSAGE`].
    pub fn new() -> Self {
        Self::with_max_message(MAX_MESSAGE)
    }

    /// A decoder accepting messages up to `max_message` bytes.
    pub fn with_max_message(max_message: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_message,
        }
    }

    /// Appends bytes received from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `None` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < FRAME_HEADER {
            return Ok(None);
        }
        let flag = self.buf[0];
        if flag != 0 {
            return Err(FrameError::Compressed(flag));
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max_message {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_message,
            });
        }
        if self.buf.len() < FRAME_HEADER + len {
            return Ok(None);
        }
        self.buf.advance(FRAME_HEADER);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// Bytes received but not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Ends the stream: an error if it stopped inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(FrameError::Truncated(n)),
        }
    }
}

/// Splits a complete body into its messages (limit [`MAX_MESSAGE`]); a trailing partial frame is
/// an error.
pub fn decode_all(buf: &[u8]) -> Result<Vec<Bytes>, FrameError> {
    let mut decoder = FrameDecoder::new();
    decoder.push(buf);
    let mut messages = Vec::new();
    while let Some(msg) = decoder.next_message()? {
        messages.push(msg);
    }
    decoder.finish()?;
    Ok(messages)
}

/// A gRPC status code (the value of `grpc-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

// === impl Code ===

impl Code {
    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code with this number, `None` outside 0..=16.
    pub fn from_u32(n: u32) -> Option<Code> {
        Self::ALL.get(usize::try_from(n).ok()?).copied()
    }

    /// The code's number.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// The spec's name (`UNAVAILABLE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The numeric `grpc-status` in `headers` (trailers, or the headers of a trailers-only response);
/// `None` when absent or not a number.
pub fn status_in(headers: &HeaderMap) -> Option<u32> {
    headers.get(GRPC_STATUS)?.to_str().ok()?.trim().parse().ok()
}

/// Percent-encodes a status message for `grpc-message`: bytes outside printable ASCII
/// (0x20..=0x7E) and `%` itself become `%XX`, as the spec asks.
pub fn encode_message(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for &b in msg.as_bytes() {
        if (0x20..=0x7E).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes a `grpc-message` value. As the spec asks of receivers, a `%` not followed by two hex
/// digits is kept as it is, and bytes that are not UTF-8 become U+FFFD.
pub fn decode_message(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let hex = |j: usize| value.get(j).and_then(|&c| char::from(c).to_digit(16));
        match (value[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits are at most 0xFF.
                out.push(u8::try_from(hi << 4 | lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_flag_and_big_endian_length() {
        let frame = encode_frame(b"hello");
        assert_eq!(&frame[..], b"\0\0\0\0\x05hello");
        assert_eq!(&encode_frame(b"")[..], b"\0\0\0\0\0");
    }

    #[test]
    fn decode_all_splits_concatenated_frames() {
        let mut body = encode_frame(b"one").to_vec();
        body.extend_from_slice(&encode_frame(b""));
        body.extend_from_slice(&encode_frame(b"three"));
        let messages = decode_all(&body).unwrap();
        assert_eq!(
            messages,
            vec![Bytes::from("one"), Bytes::new(), Bytes::from("three")]
        );
        assert_eq!(decode_all(b"").unwrap(), Vec::<Bytes>::new());
    }

    #[test]
    fn decode_all_rejects_a_trailing_partial_frame() {
        let mut body = encode_frame(b"one").to_vec();
        body.extend_from_slice(&encode_frame(b"two")[..6]);
        assert_eq!(decode_all(&body), Err(FrameError::Truncated(6)));
        assert_eq!(decode_all(b"\0\0"), Err(FrameError::Truncated(2)));
    }

    #[test]
    fn decoder_yields_messages_split_across_pushes() {
        let frame = encode_frame(b"split me");
        let mut decoder = FrameDecoder::new();
        for byte in &frame[..frame.len() - 1] {
            decoder.push(std::slice::from_ref(byte));
            assert_eq!(decoder.next_message(), Ok(None));
        }
        decoder.push(&frame[frame.len() - 1..]);
        assert_eq!(decoder.next_message(), Ok(Some(Bytes::from("split me"))));
        assert_eq!(decoder.next_message(), Ok(None));
        assert_eq!(decoder.buffered(), 0);
        assert_eq!(decoder.finish(), Ok(()));
    }

    #[test]
    fn decoder_rejects_compressed_frames() {
        let mut decoder = FrameDecoder::new();
        decoder.push(b"\x01\0\0\0\x01x");
        assert_eq!(decoder.next_message(), Err(FrameError::Compressed(1)));
    }

    #[test]
    fn decoder_rejects_oversized_length_before_the_body_arrives() {
        let mut decoder = FrameDecoder::new();
        let len = u32::try_from(MAX_MESSAGE + 1).unwrap().to_be_bytes();
        decoder.push(&[0, len[0], len[1], len[2], len[3]]);
        assert_eq!(
            decoder.next_message(),
            Err(FrameError::TooLarge {
                len: MAX_MESSAGE + 1,
                max: MAX_MESSAGE
            })
        );
        let mut small = FrameDecoder::with_max_message(2);
        small.push(&encode_frame(b"abc"));
        assert_eq!(
            small.next_message(),
            Err(FrameError::TooLarge { len: 3, max: 2 })
        );
    }

    #[test]
    fn codes_round_trip_through_numbers() {
        for n in 0..=16 {
            assert_eq!(Code::from_u32(n).map(Code::as_u32), Some(n));
        }
        assert_eq!(Code::from_u32(17), None);
        assert_eq!(Code::Unavailable.as_u32(), 14);
        assert_eq!(Code::Unimplemented.to_string(), "UNIMPLEMENTED");
        assert_eq!(Code::Internal.as_u32(), 13);
    }

    #[test]
    fn status_is_read_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_in(&headers), None);
        headers.insert(GRPC_STATUS, "14".parse().unwrap());
        assert_eq!(status_in(&headers), Some(14));
        headers.insert(GRPC_STATUS, "x".parse().unwrap());
        assert_eq!(status_in(&headers), None);
    }

    #[test]
    fn message_encoding_escapes_percent_and_non_printable_bytes() {
        assert_eq!(encode_message("plain text"), "plain text");
        assert_eq!(encode_message("50% off\n"), "50%25 off%0A");
        assert_eq!(encode_message("café"), "caf%C3%A9");
    }

    #[test]
    fn message_decoding_inverts_encoding_and_keeps_bad_escapes() {
        for text in ["plain", "50% off\n", "café ✓", "%", ""] {
            assert_eq!(decode_message(encode_message(text).as_bytes()), text);
        }
        assert_eq!(decode_message(b"100%"), "100%");
        assert_eq!(decode_message(b"%zz%4"), "%zz%4");
        assert_eq!(decode_message(b"%ff"), "\u{FFFD}");
    }
}
