//! Records a response in metrics once it is complete: the body is watched for trailers (gRPC
//! status) and its end, so classification sees the whole response, while bytes stream through
//! untouched.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::upgrade::OnUpgrade;
use tokio::time::Instant;

use super::body::{boxed, ProxyBody};
use super::classify::{grpc_status, is_failure, is_grpc};
use super::forward::bridge_upgrade;
use super::metrics::{Metrics, ResponseOutcome, TrafficLabels};
use super::profiles::ServiceRoutes;
use super::tap::TappedRequest;

/// Which counters a response lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// What the caller saw (inbound: every response).
    Effective,
    /// Outbound without retries: the caller's response is also the only try.
    EffectiveAndActual,
}

/// What a request's response will be recorded against, known before it is sent upstream.
pub struct Observation {
    pub metrics: Arc<Metrics>,
    pub labels: TrafficLabels,
    /// The route's profile and index, for its response classes.
    pub route: Option<(Arc<ServiceRoutes>, usize)>,
    /// Whether the request was gRPC (a response without `content-type` still counts as gRPC).
    pub grpc_request: bool,
    /// When the request arrived.
    pub start: Instant,
    pub record: Record,
    /// The request's tap events, when someone taps.
    pub tap: Option<TappedRequest>,
}

impl Observation {
    /// Passes the upstream's response on, bridging an accepted upgrade; it is recorded once its
    /// body ends.
    pub fn upstream(
        self,
        mut resp: Response<ProxyBody>,
        client_upgrade: Option<OnUpgrade>,
    ) -> Response<ProxyBody> {
        if let (Some(client), StatusCode::SWITCHING_PROTOCOLS) = (client_upgrade, resp.status()) {
            bridge_upgrade(client, hyper::upgrade::on(&mut resp), self.metrics.panics());
        }
        let mut tap = self.tap;
        if let Some(t) = &mut tap {
            t.response_init(resp.status().as_u16());
        }
        let recorder = Recorder {
            status: resp.status().as_u16(),
            grpc: self.grpc_request || is_grpc(resp.headers()),
            header_grpc_status: grpc_status(resp.headers()),
            latency: self.start.elapsed(),
            metrics: self.metrics,
            labels: self.labels,
            route: self.route,
            record: self.record,
            tap,
        };
        resp.map(|body| boxed(ObservedBody::new(body, recorder)))
    }

    /// Records a response the proxy made itself and returns it. It is classified like any other
    /// response, so a 400 for the client's own mistake (a malformed body) is not counted as the
    /// upstream failing.
    pub fn local(self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let status = resp.status().as_u16();
        let grpc_status = grpc_status(resp.headers());
        let rule = self
            .route
            .as_ref()
            .and_then(|(p, i)| p.matcher.routes().get(*i));
        let outcome = ResponseOutcome {
            status,
            grpc_status,
            failure: is_failure(rule, status, self.grpc_request, grpc_status),
        };
        let latency = self.start.elapsed();
        self.metrics.response(&self.labels, outcome, latency);
        if self.record == Record::EffectiveAndActual {
            self.metrics.actual_response(&self.labels, outcome, latency);
        }
        if let Some(mut t) = self.tap {
            t.response_init(outcome.status);
            let bytes = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
            t.add_bytes(usize::try_from(bytes).unwrap_or(usize::MAX));
            t.response_end(outcome.grpc_status, false);
        }
        resp
    }
}

/// Everything needed to record one response.
pub struct Recorder {
    pub metrics: Arc<Metrics>,
    pub labels: TrafficLabels,
    /// The route's profile and index, for its response classes.
    pub route: Option<(Arc<ServiceRoutes>, usize)>,
    pub status: u16,
    pub grpc: bool,
    /// `grpc-status` already in the response headers (a trailers-only response).
    pub header_grpc_status: Option<u32>,
    /// Time from the request's arrival to the response headers.
    pub latency: Duration,
    pub record: Record,
    /// The request's tap events, when someone taps (response bytes are counted only then).
    pub tap: Option<TappedRequest>,
}

impl Recorder {
    /// Records the response, with the `grpc-status` of its trailers if any.
    pub fn finish(self, trailer_grpc_status: Option<u32>) {
        let grpc_status = trailer_grpc_status.or(self.header_grpc_status);
        let route = self
            .route
            .as_ref()
            .and_then(|(p, i)| p.matcher.routes().get(*i));
        let outcome = ResponseOutcome {
            status: self.status,
            grpc_status: if self.grpc { grpc_status } else { None },
            failure: is_failure(route, self.status, self.grpc, grpc_status),
        };
        self.metrics.response(&self.labels, outcome, self.latency);
        if self.record == Record::EffectiveAndActual {
            self.metrics
                .actual_response(&self.labels, outcome, self.latency);
        }
        if let Some(t) = self.tap {
            t.response_end(outcome.grpc_status, false);
        }
    }

    /// Records a response that failed mid-stream (a reset or a broken connection).
    pub fn finish_broken(self) {
        let outcome = ResponseOutcome {
            status: self.status,
            grpc_status: None,
            failure: true,
        };
        self.metrics.response(&self.labels, outcome, self.latency);
        if self.record == Record::EffectiveAndActual {
            self.metrics
                .actual_response(&self.labels, outcome, self.latency);
        }
        if let Some(t) = self.tap {
            t.response_end(None, true);
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its response when it ends (or is dropped).
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before its end: the caller went away or the stream was cut.
            if let Some(r) = this.project().recorder.take() {
                r.finish(None);
            }
        }
    }
}

impl<B> ObservedBody<B> {
    /// Watches `inner` for `recorder`.
    pub fn new(inner: B, recorder: Recorder) -> Self {
        ObservedBody {
            inner,
            recorder: Some(recorder),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for ObservedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                // Bytes are counted only for a tapped request: one branch otherwise.
                if let (Some(data), Some(Recorder { tap: Some(t), .. })) =
                    (f.data_ref(), this.recorder.as_mut())
                {
                    t.add_bytes(data.len());
                }
                if let Some(trailers) = f.trailers_ref() {
                    if let Some(r) = this.recorder.take() {
                        r.finish(grpc_status(trailers));
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(r) = this.recorder.take() {
                    r.finish_broken();
                }
            }
            None => {
                if let Some(r) = this.recorder.take() {
                    r.finish(None);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
