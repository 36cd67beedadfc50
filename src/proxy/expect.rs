//! `Expect: 100-continue` decided by the app, not the proxy (RFC 9110 §10.1.1).
//!
//! A client that sends `Expect: 100-continue` waits for `100 Continue` (or a final answer) before
//! uploading its body. The proxy's own HTTP/1 server sends `100 Continue` as soon as the body is
//! first read, so reading it at once would tell the client to upload before the app had a say:
//! an app about to answer 413 would receive megabytes it then throws away. So the request goes on
//! with the expectation, and its body is held back until the app answers `100 Continue` (hyper
//! reports it through [`hyper::ext::on_informational`]). If the app answers with a final status
//! first, the body is never read and the client never told to send it.
//!
//! An app that ignores the expectation and waits for the body would wait forever; like curl's and
//! Go's clients, the gate opens by itself after [`EXPECT_CONTINUE_TIMEOUT`].
//!
//! HTTP/1 only: hyper's HTTP/2 client reports no interim responses, so on an HTTP/2 hop the
//! expectation is forwarded and the body flows at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use http::{header, Request, StatusCode};
use http_body::{Body, Frame, SizeHint};

use super::body::{boxed, BoxError, ProxyBody};
use super::headers::has_token;

/// How long the body waits for the app's `100 Continue` before it is sent anyway (curl waits 1 s).
pub const EXPECT_CONTINUE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `req` expects `100 Continue` before it sends its body.
pub fn expects_continue<B>(req: &Request<B>) -> bool {
    has_token(req.headers(), header::EXPECT, "100-continue")
}

/// Holds back `req`'s body until the upstream answers `100 Continue` (or the timeout passes),
/// when the request expects it. For HTTP/1 upstream requests only.
pub fn hold_body_until_continue(req: Request<ProxyBody>) -> Request<ProxyBody> {
    if !expects_continue(&req) || req.body().is_end_stream() {
        return req;
    }
    let gate = Arc::new(Gate::default());
    let (parts, body) = req.into_parts();
    let mut req = Request::from_parts(
        parts,
        boxed(HeldBody {
            inner: body,
            gate: gate.clone(),
            timer: None,
        }),
    );
    hyper::ext::on_informational(&mut req, move |res| {
        if res.status() == StatusCode::CONTINUE {
            gate.open();
        }
    });
    req
}

/// Opened once by the upstream's `100 Continue`.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    waker: AtomicWaker,
}

impl Gate {
    fn open(&self) {
        self.open.store(true, Ordering::Release);
        self.waker.wake();
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

/// A request body that is not read before its gate opens.
struct HeldBody {
    inner: ProxyBody,
    gate: Arc<Gate>,
    /// Started when the body is first asked for.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for HeldBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if !this.gate.is_open() {
            this.gate.waker.register(cx.waker());
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(EXPECT_CONTINUE_TIMEOUT)));
            if !this.gate.is_open() && timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.gate.open.store(true, Ordering::Release);
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::body::full;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn the_body_waits_for_the_timeout_without_a_continue() {
        let req = Request::put("/")
            .header("expect", "100-continue")
            .body(full("data"))
            .unwrap();
        let held = hold_body_until_continue(req);
        let start = tokio::time::Instant::now();
        let body = held.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "data");
        assert_eq!(start.elapsed(), EXPECT_CONTINUE_TIMEOUT);
    }

    #[test]
    fn only_requests_that_expect_it_are_held() {
        let plain = Request::put("/").body(full("data")).unwrap();
        assert!(!expects_continue(&plain));
        let expecting = Request::put("/")
            .header("expect", "100-Continue")
            .body(())
            .unwrap();
        assert!(expects_continue(&expecting));
    }
}
