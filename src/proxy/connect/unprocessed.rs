//! HTTP/2 streams the server did not process. RFC 9113 §8.7: a stream refused with
//! `REFUSED_STREAM`, or above the last stream id of the server's GOAWAY, was never processed, so
//! the request may be sent again whatever its method.
//!
//! The h2 library reports both as errors on the stream: a reset with reason `REFUSED_STREAM` from
//! the remote, and a GOAWAY from the remote, which it hands only to streams above the frame's
//! last stream id (streams at or below it end normally, or with a broken pipe if the connection
//! closes under them). A reset the library made itself (e.g. for a response head over its limit)
//! is not a refusal, and neither is any other reason. A request the HTTP/2 client had not yet
//! sent when its connection closed was not processed either.

use std::error::Error as _;
use std::net::SocketAddr;

use h2::Reason;
use http::Request;
use hyper::client::conn::TrySendError;

use super::UpstreamError;
use crate::proxy::body::ProxyBody;

/// What a failed HTTP/2 send means: not processed (may be sent again), refused by this proxy's
/// own HTTP/2 library (explained), or another failure. `max_streams` is the server's limit now;
/// `most` the largest head the client reads.
pub(super) fn send_error(
    addr: SocketAddr,
    mut error: TrySendError<Request<ProxyBody>>,
    max_streams: Option<u32>,
    most: usize,
) -> UpstreamError {
    let unsent = error.take_message().is_some();
    let source = error.into_error();
    if let Some(how) = not_processed(unsent, &source) {
        return UpstreamError::NotProcessed {
            addr,
            how,
            max_streams,
        };
    }
    match refused_by_library(&source) {
        Some(Refusal::Stream) => UpstreamError::HeadRejected { addr, most },
        Some(Refusal::Connection(reason)) => UpstreamError::ConnectionAbandoned { addr, reason },
        None => UpstreamError::Http { addr, source },
    }
}

/// How the server let a stream go unprocessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotProcessed {
    /// `RST_STREAM` with `REFUSED_STREAM`.
    #[error("the server refused the stream (REFUSED_STREAM)")]
    Refused,
    /// GOAWAY with a last stream id below the stream.
    #[error("the server was closing the connection (GOAWAY) before the stream")]
    GoingAway,
    /// The connection closed before the request was sent on it.
    #[error("the connection closed before the request was sent on it")]
    NotSent,
}

/// Whether the server never processed a request given to the HTTP/2 client, which failed with
/// `error` (`unsent`: the client handed the request back unsent).
pub fn not_processed(unsent: bool, error: &hyper::Error) -> Option<NotProcessed> {
    if unsent {
        return Some(NotProcessed::NotSent);
    }
    let mut cause = error.source();
    while let Some(e) = cause {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return classify(h2.is_remote(), h2.is_reset(), h2.is_go_away(), h2.reason());
        }
        cause = e.source();
    }
    None
}

/// What this proxy's own HTTP/2 library refused, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It reset the stream (the response broke the protocol or its limits, e.g. a head over
    /// `max_header_list_size`); other streams go on.
    Stream,
    /// It closed the connection with this GOAWAY reason (e.g. a header block in more frames
    /// than it accepts); every stream on it failed.
    Connection(Reason),
}

/// Whether `error` is this proxy's HTTP/2 library refusing a response or its connection.
pub fn refused_by_library(error: &hyper::Error) -> Option<Refusal> {
    let mut cause = error.source();
    while let Some(e) = cause {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return match (h2.is_library(), h2.is_reset(), h2.is_go_away(), h2.reason()) {
                (true, true, _, Some(Reason::PROTOCOL_ERROR)) => Some(Refusal::Stream),
                (true, _, true, Some(reason)) => Some(Refusal::Connection(reason)),
                _ => None,
            };
        }
        cause = e.source();
    }
    None
}

/// The decision on an h2 error's parts.
fn classify(
    remote: bool,
    reset: bool,
    go_away: bool,
    reason: Option<Reason>,
) -> Option<NotProcessed> {
    match (remote, reset, go_away, reason) {
        (true, true, _, Some(Reason::REFUSED_STREAM)) => Some(NotProcessed::Refused),
        (true, _, true, _) => Some(NotProcessed::GoingAway),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_refusals_and_goaways_count() {
        let refused = Some(Reason::REFUSED_STREAM);
        assert_eq!(
            classify(true, true, false, refused),
            Some(NotProcessed::Refused)
        );
        assert_eq!(
            classify(true, false, true, Some(Reason::NO_ERROR)),
            Some(NotProcessed::GoingAway)
        );
        assert_eq!(
            classify(false, true, false, refused),
            None,
            "a reset the client library made itself"
        );
        assert_eq!(
            classify(true, true, false, Some(Reason::CANCEL)),
            None,
            "a cancelled stream may have been processed"
        );
        assert_eq!(
            classify(false, false, true, Some(Reason::PROTOCOL_ERROR)),
            None,
            "our own GOAWAY"
        );
    }
}
