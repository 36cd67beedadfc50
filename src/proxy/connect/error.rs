//! Why an upstream request failed before a response arrived ([`UpstreamError`]), and what the
//! retry policy reads from it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::NotProcessed;
use crate::proxy::replay::NotReplayable;

/// Why an upstream request failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Nothing listens at the address.
    #[error("connection to {addr} refused")]
    Refused { addr: SocketAddr },
    /// The TCP handshake did not finish in time.
    #[error("connecting to {addr} timed out after {after:?}")]
    ConnectTimeout { addr: SocketAddr, after: Duration },
    /// Another connect failure.
    #[error("connecting to {addr} failed")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The mTLS handshake with a meshed endpoint failed: the reason says whose certificate and
    /// why (wrong identity, another trust anchor, expired).
    #[error("mTLS with {addr} (expecting {server_id}) failed: {reason}")]
    Tls {
        addr: SocketAddr,
        /// The identity discovery expects there.
        server_id: std::sync::Arc<str>,
        reason: String,
    },
    /// An HTTP/2 connection had no free stream before the request's dispatch deadline.
    #[error("{addr}: no free HTTP/2 stream within {waited:?}")]
    Busy {
        addr: SocketAddr,
        waited: Duration,
        max_streams: Option<u32>,
    },
    /// The HTTP/2 client did not take the request within `ConnectConfig::ready_timeout`.
    #[error("{addr}: the HTTP/2 connection was not ready within {after:?}")]
    NotReady { addr: SocketAddr, after: Duration },
    /// The request was sent but no response head came within the response timeout.
    #[error("{addr}: no response within {after:?}")]
    NoResponse { addr: SocketAddr, after: Duration },
    /// A pooled HTTP/1 connection was closed by the server before any byte of the response, and
    /// the request could not be sent again on a fresh one.
    #[error("{addr}: a reused connection (idle {idle:?}) closed before answering; not sent again: {why}")]
    ReusedConnectionClosed {
        addr: SocketAddr,
        /// How long the connection had been pooled.
        idle: Duration,
        /// `--upstream-idle-timeout`.
        idle_timeout: Duration,
        why: NotReplayable,
    },
    /// The HTTP/2 server did not process the request (RFC 9113 §8.7).
    #[error("{addr}: the HTTP/2 stream was not processed: {how}")]
    NotProcessed {
        addr: SocketAddr,
        how: NotProcessed,
        /// The server's `max_concurrent_streams` when it refused.
        max_streams: Option<u32>,
    },
    /// The upstream's response head is over the head limit.
    #[error("{addr}: a response head of {bytes} bytes, over the limit of {limit} bytes")]
    ResponseHeadTooLarge {
        addr: SocketAddr,
        bytes: usize,
        limit: usize,
    },
    /// This proxy's HTTP/2 client refused the response on its stream: a head over what it reads
    /// at most, or a malformed one. Other streams on the connection go on.
    #[error("{addr}: response refused by the HTTP/2 client (over {most} bytes, or malformed)")]
    HeadRejected { addr: SocketAddr, most: usize },
    /// This proxy's HTTP/2 library closed the connection after the upstream broke its limits on
    /// some stream (e.g. a header block in more frames than it accepts); every request in flight
    /// on it failed with it.
    #[error("{addr}: HTTP/2 connection closed by this proxy ({reason})")]
    ConnectionAbandoned {
        addr: SocketAddr,
        reason: h2::Reason,
    },
    /// A request that had to be sent again could not be: its body was already sent.
    #[error("{addr}: the request could not be sent again: {why}")]
    NotReplayable {
        addr: SocketAddr,
        why: NotReplayable,
    },
    /// The connection failed before or while the request was answered.
    /// The upstream answered the HTTP/2 connection preface in HTTP/1.
    #[error("{addr} does not speak HTTP/2")]
    NotHttp2 { addr: SocketAddr },
    #[error("{addr}")]
    Http {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
}

impl UpstreamError {
    /// Whether the endpoint could not be connected at all (so it should be left out a while).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            UpstreamError::Refused { .. }
                | UpstreamError::ConnectTimeout { .. }
                | UpstreamError::Connect { .. }
                | UpstreamError::Tls { .. }
        )
    }

    /// Whether the upstream never processed the request, so any request may be sent again.
    pub fn is_not_processed(&self) -> bool {
        matches!(self, UpstreamError::NotProcessed { .. })
    }

    /// Whether the HTTP/2 server refused the stream (it had too many open): a try sent again
    /// waits for one of them to end ([`Pools::after_refusal`](super::Pools::after_refusal)).
    pub fn is_refused_stream(&self) -> bool {
        matches!(
            self,
            UpstreamError::NotProcessed {
                how: NotProcessed::Refused,
                ..
            }
        )
    }
}
