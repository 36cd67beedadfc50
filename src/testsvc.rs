//! Small, real upstream servers for tests, benchmarks and the demo, and clients to call them.
//!
//! [`HttpTestService`] answers any path, shaped by `x-test-*` request headers (status, delay, body
//! size, trailers) and by default echoes what arrived as JSON; `/echo` streams the request body
//! back. [`GrpcTestService`] echoes the first message of any unary call and ends with the
//! `grpc-status` the request asks for. Both count requests in a [`RequestCounter`] so proxy tests
//! can tell whether (and how often) a request reached the upstream.
//!
//! Like the proxy, a server takes an already-bound listener and a shutdown future, so tests bind
//! `127.0.0.1:0` and `mesh test-server` owns binding and signals. Each connection runs in its own
//! task (at most [`Limits::max_connections`]) and speaks HTTP/1.1 or HTTP/2 with prior knowledge
//! on the same port. On shutdown the listener closes, connections finish their in-flight requests
//! for up to [`Limits::shutdown_grace`], and whatever is left is aborted.
//!
//! The clients in this module ([`http1_request`], [`http2_request`], [`grpc_call`]) open one
//! connection per call and give up after [`CLIENT_TIMEOUT`], so a broken proxy fails a test
//! instead of hanging it.

mod body;
mod client;
mod grpc;
mod http;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::proxy::body::ProxyBody;

pub use body::SyntheticBody;
pub use client::{
    grpc_call, http1_request, http2_request, ClientError, GrpcReply, HttpReply, CLIENT_MAX_BODY,
    CLIENT_TIMEOUT,
};
pub use grpc::{serve_grpc, GrpcAnswer, GrpcTestService};
pub use http::{serve_http, EchoedRequest, HttpAnswer, HttpTestService};

/// Every bound of a test server, with defaults that suit tests and benchmarks.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The most request-body bytes read from one request (413 or `RESOURCE_EXHAUSTED` beyond).
    pub max_request_body: usize,
    /// The longest `x-test-delay-ms` honoured; longer delays are cut to this.
    pub max_delay: Duration,
    /// The largest `x-test-body-bytes` served (a larger value is a 400).
    pub max_response_body: u64,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// How long an HTTP/1 client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may run on after shutdown begins.
    pub shutdown_grace: Duration,
    /// Added to every answer's delay (a slow replica, for balancing tests and benchmarks).
    pub delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_body: 16 << 20,
            max_delay: Duration::from_secs(60),
            max_response_body: 1 << 30,
            max_connections: 1024,
            max_concurrent_streams: 256,
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            delay: Duration::ZERO,
        }
    }
}

/// How many requests a server has received; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

// === impl RequestCounter ===

impl RequestCounter {
    /// The number of requests received so far (including refused ones).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Counts one more; returns the new count.
    fn increment(&self) -> u64 {
        self.0.fetch_add(1, Ordering::AcqRel) + 1
    }
}

/// How one kind of test upstream answers a request.
pub trait Answer: Send + Sync + 'static {
    /// The response to `req`, the `nth` request this server received (from 1), within `limits`.
    fn answer(
        limits: &Limits,
        nth: u64,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<ProxyBody>> + Send;
}

/// A test upstream answering as `A` does, with its limits and its request count.
pub struct TestService<A> {
    limits: Arc<Limits>,
    requests: RequestCounter,
    cancelled: RequestCounter,
    answer: PhantomData<fn() -> A>,
}

// === impl TestService ===

impl<A> Clone for TestService<A> {
    fn clone(&self) -> Self {
        TestService {
            limits: self.limits.clone(),
            requests: self.requests.clone(),
            cancelled: self.cancelled.clone(),
            answer: PhantomData,
        }
    }
}

impl<A> Default for TestService<A> {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl<A> std::fmt::Debug for TestService<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestService")
            .field("limits", &self.limits)
            .field("requests", &self.requests)
            .finish()
    }
}

impl<A> TestService<A> {
    /// A service with these limits.
    pub fn new(limits: Limits) -> Self {
        TestService {
            limits: Arc::new(limits),
            requests: RequestCounter::default(),
            cancelled: RequestCounter::default(),
            answer: PhantomData,
        }
    }

    /// A handle on the number of requests received, valid after `serve` takes the service.
    pub fn requests(&self) -> RequestCounter {
        self.requests.clone()
    }

    /// A handle on the number of requests whose caller went away before the answer (a reset
    /// HTTP/2 stream: the server dropped the request unanswered).
    pub fn cancelled(&self) -> RequestCounter {
        self.cancelled.clone()
    }
}

/// Counts a request as cancelled unless it is disarmed first.
struct CancelGuard(Option<RequestCounter>);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.increment();
        }
    }
}

impl<A: Answer> TestService<A> {
    /// Serves connections from `listener` until `shutdown` completes, then drains them.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let limits = self.limits.clone();
        serve_connections(listener, shutdown, &limits, move |req| {
            let this = self.clone();
            async move {
                let nth = this.requests.increment();
                let mut guard = CancelGuard(Some(this.cancelled.clone()));
                let response = A::answer(&this.limits, nth, req).await;
                guard.0 = None;
                response
            }
        })
        .await
    }
}

/// The `x-test-delay-ms` header, asking the server to wait before answering.
const DELAY_HEADER: &str = "x-test-delay-ms";

/// Why a test server refuses a request before answering it as asked. The text is the answer's
/// body, so it carries its cause (no `source()`).
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error("{header}: {value:?} is not {expected}")]
    BadDirective {
        header: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("request body is over the {0}-byte limit")]
    BodyTooLarge(usize),
    #[error("reading the request body: {0}")]
    Body(hyper::Error),
}

impl From<hyper::Error> for RequestError {
    fn from(e: hyper::Error) -> Self {
        RequestError::Body(e)
    }
}

/// Parses the directive header `name`, if present.
fn directive<T: FromStr>(
    headers: &HeaderMap,
    name: &'static str,
    expected: &'static str,
) -> Result<Option<T>, RequestError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let bad = || RequestError::BadDirective {
        header: name,
        value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        expected,
    };
    let text = value.to_str().map_err(|_| bad())?;
    text.trim().parse().map(Some).map_err(|_| bad())
}

/// The delay a request asks for, capped at `limits.max_delay`.
fn delay(headers: &HeaderMap, limits: &Limits) -> Result<Duration, RequestError> {
    let ms: Option<u64> = directive(headers, DELAY_HEADER, "a number of milliseconds")?;
    Ok((Duration::from_millis(ms.unwrap_or(0)) + limits.delay).min(limits.max_delay))
}

/// Consecutive accept failures (e.g. out of file descriptors) after which a server gives up.
const MAX_ACCEPT_FAILURES: u32 = 8;

/// Serves connections from `listener` with `handler` until `shutdown` completes, then drains.
pub(crate) async fn serve_connections<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    limits: &Limits,
    handler: F,
) -> io::Result<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        // Large heads pass, as through Go's servers (1 MiB): tests of the proxy's limits need
        // an upstream whose own limit is further out.
        .max_header_list_size(1 << 20)
        .max_concurrent_streams(limits.max_concurrent_streams);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut tasks = JoinSet::new();
    let mut failures = 0;
    let mut backoff = Duration::from_millis(5);
    tokio::pin!(shutdown);

    loop {
        while tasks.try_join_next().is_some() {}
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                failures += 1;
                if failures >= MAX_ACCEPT_FAILURES {
                    return Err(e);
                }
                tracing::warn!("test server accept failed: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        failures = 0;
        backoff = Duration::from_millis(5);
        // Latency tests measure the server, not Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let service = service_fn(move |req| {
            let answer = handler(req);
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tasks.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "test server connection ended: {e}");
            }
            drop(slot);
        });
    }

    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "test server shutdown grace of {:?} over; aborting connections",
            limits.shutdown_grace
        );
    }
    tasks.shutdown().await;
    Ok(())
}

/// A plain-text response (refusals and errors).
fn text_response(status: StatusCode, text: String) -> Response<ProxyBody> {
    let mut response = Response::new(crate::proxy::body::full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        ::http::header::CONTENT_TYPE,
        ::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
