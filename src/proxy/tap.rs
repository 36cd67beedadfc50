//! Tap: live request and response events for `mesh tap`, published to a bounded broadcast and
//! streamed from the admin port's `/tap` as newline-delimited JSON (`docs/tap.md`).
//!
//! The hot path pays one atomic load per request while nobody taps ([`Tap::request`] checks for
//! open streams before building anything). While someone does, a request's metadata is built
//! once and shared by its three events (request init, response init, response end), with the
//! route the proxy matched (`routeMeta`); each tap stream filters them by its query, rate-limits
//! requests with a token bucket, and writes lines to its HTTP body. Headers and trailers are
//! copied only while a stream asks for them. A reader slower than the traffic loses events and is
//! told how many.

mod stream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use http::{HeaderMap, Method};
use tokio::sync::{broadcast, watch, Semaphore};
use tokio::time::Instant;

use super::body::ProxyBody;
use super::metrics::{ErrorReason, StreamError};
use crate::admin_api::tap::{Peer, PeerMetadata, ProxyDirection, StreamId, TapQuery};

pub use stream::TapStreamsBusy;

/// Events buffered for each tap stream; a stream further behind loses the oldest and is told.
pub const TAP_CAPACITY: usize = 1024;

/// Tap streams open at once per proxy; more get 503.
pub const MAX_TAP_STREAMS: usize = 16;

/// One proxy's tap: where requests publish their events and where `/tap` streams subscribe.
pub struct Tap {
    events: broadcast::Sender<Arc<Published>>,
    next_id: AtomicU64,
    /// Open streams that asked for header values (requests copy their headers only then).
    header_streams: Arc<AtomicUsize>,
    streams: Arc<Semaphore>,
    closed: watch::Sender<bool>,
}

/// A tapped request as every stream sees it, built once per request while someone taps.
#[derive(Debug)]
pub struct TapRequest {
    pub id: StreamId,
    pub direction: ProxyDirection,
    pub source: Peer,
    pub destination: Peer,
    pub method: Method,
    pub scheme: &'static str,
    pub authority: String,
    pub path: String,
    /// The ServiceProfile route the request matched (`[DEFAULT]` when none did); `None` when the
    /// proxy answered it before matching one.
    pub route: Option<Arc<str>>,
    /// Whether a stream asked for headers when the request arrived: its response headers and
    /// trailers are then copied too.
    pub with_headers: bool,
    /// The request headers; empty unless a stream asked for them.
    pub headers: HeaderMap,
}

/// What [`Tap::request`] needs to describe a request (the id is the tap's to give).
pub struct TapRequestInfo {
    pub direction: ProxyDirection,
    pub source: Peer,
    pub destination: Peer,
    pub method: Method,
    pub authority: String,
    pub path: String,
    /// The route matched, when one was ([`TapRequest::route`]).
    pub route: Option<Arc<str>>,
}

/// One event, as published.
#[derive(Debug)]
pub struct Published {
    pub request: Arc<TapRequest>,
    pub kind: PublishedKind,
}

/// What happened to the request.
#[derive(Debug)]
pub enum PublishedKind {
    RequestInit,
    ResponseInit {
        status: u16,
        since_request: std::time::Duration,
        /// Why the proxy answered itself, when it did (`proxyError` in the event).
        proxy_error: Option<ErrorReason>,
        /// The response headers; empty unless a stream asked for headers.
        headers: HeaderMap,
    },
    ResponseEnd {
        since_request: std::time::Duration,
        since_response: std::time::Duration,
        bytes: u64,
        grpc_status: Option<u32>,
        /// Set when the exchange broke off instead of ending (`reset: true` in the event).
        error: Option<StreamError>,
        /// The response trailers; empty unless a stream asked for headers.
        trailers: HeaderMap,
    },
}

/// A request being tapped: publishes its response events as they happen.
pub struct TappedRequest {
    events: broadcast::Sender<Arc<Published>>,
    request: Arc<TapRequest>,
    start: Instant,
    response_at: Option<Instant>,
    bytes: u64,
    proxy_error: Option<ErrorReason>,
    /// Boxed: only taps that ask for headers copy them, and every request's observation holds
    /// this value.
    trailers: Option<Box<HeaderMap>>,
}

// === impl Tap ===

impl Tap {
    /// A tap nobody listens to yet.
    pub fn new() -> Self {
        Tap {
            events: broadcast::channel(TAP_CAPACITY).0,
            next_id: AtomicU64::new(1),
            header_streams: Arc::new(AtomicUsize::new(0)),
            streams: Arc::new(Semaphore::new(MAX_TAP_STREAMS)),
            closed: watch::channel(false).0,
        }
    }

    /// Whether any tap stream is open: one atomic load. (`broadcast::Sender::receiver_count` would
    /// take the channel's lock on every request; a stream holds a permit for as long as it is
    /// subscribed, so the permits say the same.)
    pub fn is_active(&self) -> bool {
        self.streams.available_permits() < MAX_TAP_STREAMS
    }

    /// Publishes a request's init event when someone taps; `None` (and nothing built) otherwise.
    /// `headers` is called only when a stream wants header values.
    pub fn request(
        &self,
        start: Instant,
        info: impl FnOnce() -> TapRequestInfo,
        headers: impl FnOnce() -> HeaderMap,
    ) -> Option<TappedRequest> {
        if !self.is_active() {
            return None;
        }
        let info = info();
        let with_headers = self.header_streams.load(Ordering::Relaxed) > 0;
        let headers = match with_headers {
            true => headers(),
            false => HeaderMap::new(),
        };
        let request = Arc::new(TapRequest {
            id: StreamId {
                base: self.next_id.fetch_add(1, Ordering::Relaxed),
                stream: 0,
            },
            direction: info.direction,
            source: info.source,
            destination: info.destination,
            method: info.method,
            scheme: "HTTP",
            authority: info.authority,
            path: info.path,
            route: info.route,
            with_headers,
            headers,
        });
        let tapped = TappedRequest {
            events: self.events.clone(),
            request,
            start,
            response_at: None,
            bytes: 0,
            proxy_error: None,
            trailers: None,
        };
        tapped.publish(PublishedKind::RequestInit);
        Some(tapped)
    }

    /// Opens a stream of the events `query` selects, as a body of JSON lines; it ends when the
    /// client goes away or the proxy shuts down.
    pub fn subscribe(&self, query: TapQuery) -> Result<ProxyBody, TapStreamsBusy> {
        stream::open(self, query)
    }

    /// Ends every open stream (the proxy is shutting down) and refuses new ones.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
}

impl Default for Tap {
    fn default() -> Self {
        Tap::new()
    }
}

// === impl TappedRequest ===

impl TappedRequest {
    /// The response the proxy is about to give is its own answer to an error of `reason`
    /// (`respond::rescue`): its response init event says so.
    pub fn answered_by_proxy(&mut self, reason: ErrorReason) {
        self.proxy_error = Some(reason);
    }

    /// The response `headers` arrived with `status`.
    pub fn response_init(&mut self, status: u16, headers: &HeaderMap) {
        let now = Instant::now();
        self.response_at = Some(now);
        self.publish(PublishedKind::ResponseInit {
            status,
            since_request: now.duration_since(self.start),
            proxy_error: self.proxy_error,
            headers: self.copied(headers),
        });
    }

    /// The response ended with `trailers` (shown in its end event).
    pub fn trailers(&mut self, trailers: &HeaderMap) {
        if self.request.with_headers {
            self.trailers = Some(Box::new(trailers.clone()));
        }
    }

    /// `headers`, when a stream asked for headers as the request arrived.
    fn copied(&self, headers: &HeaderMap) -> HeaderMap {
        match self.request.with_headers {
            true => headers.clone(),
            false => HeaderMap::new(),
        }
    }

    /// Counts `n` response body bytes.
    pub fn add_bytes(&mut self, n: usize) {
        self.bytes += n as u64;
    }

    /// The exchange ended: its response ended, or it broke off (`error`) — possibly before any
    /// response, as when the caller cancels a request still waiting for one.
    pub fn response_end(mut self, grpc_status: Option<u32>, error: Option<StreamError>) {
        let now = Instant::now();
        let trailers = self.trailers.take().map_or_else(HeaderMap::new, |t| *t);
        self.publish(PublishedKind::ResponseEnd {
            since_request: now.duration_since(self.start),
            since_response: now.duration_since(self.response_at.unwrap_or(now)),
            bytes: self.bytes,
            grpc_status,
            error,
            trailers,
        });
    }

    fn publish(&self, kind: PublishedKind) {
        // No receivers left is fine: the tap ended while the request was in flight.
        let _ = self.events.send(Arc::new(Published {
            request: self.request.clone(),
            kind,
        }));
    }
}

/// A peer whose workload is known from `identity`, at `addr`.
pub fn tap_peer(
    addr: SocketAddr,
    identity: Option<&crate::identity::Identity>,
    tls: &'static str,
) -> Peer {
    let metadata = match identity {
        Some(identity) => PeerMetadata::of(identity, tls),
        None => PeerMetadata::new(tls),
    };
    Peer::new(addr, metadata)
}
