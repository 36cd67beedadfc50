//! One `/tap` stream: a task that reads the broadcast, keeps the requests its query selects (at
//! most `max_rps` per second, by token bucket) and their responses, and writes them as JSON lines
//! into a bounded channel the HTTP body reads from.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::{Published, PublishedKind, Tap, TapRequest};
use crate::admin_api::tap::{
    Header, RequestInit, ResponseEnd, ResponseInit, RouteMeta, TapEvent, TapEventKind, TapQuery,
};
use crate::proxy::body::{boxed, BoxError, ProxyBody};

/// Lines queued between a stream's task and its HTTP body.
const LINE_BUFFER: usize = 64;

/// Requests one stream follows at once (admitted, response not ended yet); more are skipped.
const MAX_FOLLOWED: usize = 10_000;

/// Every tap stream slot is taken (or the proxy is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("too many tap streams open (at most {max}); try again later")]
pub struct TapStreamsBusy {
    pub max: usize,
}

/// Starts a stream for `query` on `tap`.
pub(super) fn open(tap: &Tap, query: TapQuery) -> Result<ProxyBody, TapStreamsBusy> {
    let busy = || TapStreamsBusy {
        max: super::MAX_TAP_STREAMS,
    };
    if *tap.closed.borrow() {
        return Err(busy());
    }
    let permit = tap
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| busy())?;
    let header_guard = query
        .headers
        .then(|| HeaderStream::new(&tap.header_streams));
    let events = tap.events.subscribe();
    let (lines, body) = mpsc::channel(LINE_BUFFER);
    let stream = Stream {
        filter: Filter::new(query),
        events,
        lines,
        closed: tap.closed.subscribe(),
        _permit: permit,
        _headers: header_guard,
    };
    tokio::spawn(stream.run());
    Ok(boxed(LineBody(body)))
}

struct Stream {
    filter: Filter,
    events: broadcast::Receiver<Arc<Published>>,
    lines: mpsc::Sender<Bytes>,
    closed: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
    _headers: Option<HeaderStream>,
}

impl Stream {
    async fn run(mut self) {
        loop {
            let received = tokio::select! {
                _ = self.lines.closed() => return,
                _ = self.closed.wait_for(|c| *c) => return,
                r = self.events.recv() => r,
            };
            let line = match received {
                Ok(event) => match self.filter.pass(&event) {
                    Some(e) => serde_json::to_vec(&e).ok(),
                    None => None,
                },
                Err(RecvError::Lagged(n)) => Some(format!("{{\"lost\":{n}}}").into_bytes()),
                Err(RecvError::Closed) => return,
            };
            let Some(mut line) = line else { continue };
            line.push(b'\n');
            tokio::select! {
                sent = self.lines.send(Bytes::from(line)) => if sent.is_err() { return },
                _ = self.closed.wait_for(|c| *c) => return,
            }
        }
    }
}

/// Which events a stream passes.
struct Filter {
    query: TapQuery,
    bucket: TokenBucket,
    /// Requests admitted whose response has not ended.
    followed: HashSet<u64>,
}

impl Filter {
    fn new(query: TapQuery) -> Self {
        Filter {
            bucket: TokenBucket::new(query.max_rps),
            query,
            followed: HashSet::new(),
        }
    }

    fn pass(&mut self, event: &Published) -> Option<TapEvent> {
        let r = &event.request;
        let id = r.id.base;
        match &event.kind {
            PublishedKind::RequestInit => {
                let admit = matches(&self.query, r)
                    && self.followed.len() < MAX_FOLLOWED
                    && self.bucket.take(Instant::now());
                if !admit {
                    return None;
                }
                self.followed.insert(id);
            }
            PublishedKind::ResponseInit { .. } if !self.followed.contains(&id) => return None,
            PublishedKind::ResponseEnd { .. } if !self.followed.remove(&id) => return None,
            _ => {}
        }
        Some(to_event(event, self.query.headers))
    }
}

/// `voting-svc` matches `voting-svc`, `voting-svc:8080` and `voting-svc.emojivoto.svc…:8080`.
fn authority_is(authority: &str, wanted: &str) -> bool {
    authority
        .strip_prefix(wanted)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with(':'))
}

fn matches(q: &TapQuery, r: &TapRequest) -> bool {
    let dst = &r.destination.metadata;
    q.direction.is_none_or(|d| d == r.direction)
        && q.path.as_deref().is_none_or(|p| r.path.starts_with(p))
        && q.method.as_deref().is_none_or(|m| r.method.as_str() == m)
        && q.authority
            .as_deref()
            .is_none_or(|a| authority_is(&r.authority, a))
        && q.to_namespace
            .as_deref()
            .is_none_or(|n| dst.namespace() == Some(n))
        && q.to_workload.as_deref().is_none_or(|w| dst.is_workload(w))
        && q.to_pod.as_deref().is_none_or(|p| dst.pod() == Some(p))
}

/// Headers whose values tap never shows, even with `headers=true`: credentials and sessions.
pub const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "mesh-admin-token",
];
/// What tap shows instead of a secret header's value.
pub const REDACTED: &str = "[redacted]";

fn to_event(event: &Published, with_headers: bool) -> TapEvent {
    let r = &event.request;
    let shown = |headers: &HeaderMap| match with_headers {
        true => show_headers(headers),
        false => Vec::new(),
    };
    let kind = match &event.kind {
        PublishedKind::RequestInit => TapEventKind::RequestInitEvent(RequestInit {
            id: r.id,
            method: r.method.to_string(),
            scheme: r.scheme.to_string(),
            authority: r.authority.clone(),
            path: r.path.clone(),
            headers: shown(&r.headers),
        }),
        PublishedKind::ResponseInit {
            status,
            since_request,
            proxy_error,
            headers,
        } => TapEventKind::ResponseInitEvent(ResponseInit {
            id: r.id,
            since_request_init: (*since_request).into(),
            http_status: *status,
            headers: shown(headers),
            proxy_error: proxy_error.map(|e| e.as_str().to_string()),
        }),
        PublishedKind::ResponseEnd {
            since_request,
            since_response,
            bytes,
            grpc_status,
            error,
            trailers,
        } => TapEventKind::ResponseEndEvent(ResponseEnd {
            id: r.id,
            since_request_init: (*since_request).into(),
            since_response_init: (*since_response).into(),
            response_bytes: *bytes,
            trailers: shown(trailers),
            // Linkerd's field: 0 for a response without one.
            grpc_status_code: grpc_status.unwrap_or(0),
            reset_error_code: None,
            grpc_status: *grpc_status,
            reset: error.is_some(),
            error: error.map(|e| e.as_str().to_string()),
        }),
    };
    TapEvent {
        source: r.source.clone(),
        destination: r.destination.clone(),
        route_meta: r.route.as_deref().map(RouteMeta::route),
        proxy_direction: r.direction,
        kind,
    }
}

/// `headers` as tap shows them: text values as text, others as bytes, secrets redacted.
fn show_headers(headers: &HeaderMap) -> Vec<Header> {
    headers
        .iter()
        .map(
            |(name, value)| match SECRET_HEADERS.contains(&name.as_str()) {
                true => Header::new(name.as_str(), REDACTED.as_bytes()),
                false => Header::new(name.as_str(), value.as_bytes()),
            },
        )
        .collect()
}

/// Admits `rate` requests per second on average, in bursts of at most `rate` (at least one).
struct TokenBucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    fn new(rate: f64) -> Self {
        TokenBucket {
            rate,
            tokens: rate.max(1.0),
            at: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate.max(1.0));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Counts a stream that wants header values, for as long as it is open.
struct HeaderStream(Arc<AtomicUsize>);

impl HeaderStream {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        HeaderStream(count.clone())
    }
}

impl Drop for HeaderStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The HTTP body of a stream: its lines, until the stream's task ends.
struct LineBody(mpsc::Receiver<Bytes>);

impl Body for LineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(Frame::data(l))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn token_bucket_refills_at_its_rate() {
        let mut bucket = TokenBucket::new(2.0);
        let now = Instant::now();
        assert!(bucket.take(now) && bucket.take(now));
        assert!(!bucket.take(now));
        assert!(bucket.take(now + Duration::from_millis(500)));
        assert!(!bucket.take(now + Duration::from_millis(500)));
    }
}
