//! Records a response in metrics once it is complete: the body is watched for trailers (gRPC
//! status) and its end, so classification sees the whole response, while bytes stream through
//! untouched.
//!
//! Every counted request ends as exactly one outcome and one tap end event, also when it does not
//! end normally (`error` in [`ResponseOutcome`]): a request whose caller goes away before any
//! response — its future is dropped while [`Pending`] — is a `cancel` with status 0; a response
//! body dropped before its end is a `cancel` with the response's status; a response that breaks
//! off upstream is a `reset`, and a gRPC caller then gets trailers with the status a direct call
//! would have ended with instead of a reset stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use hyper::upgrade::OnUpgrade;
use tokio::time::Instant;

use super::body::{boxed, BoxError, ProxyBody};
use super::classify::{grpc_status, is_grpc};
use super::forward::bridge_upgrade;
use super::metrics::{HttpCounters, Metrics, ResponseOutcome, StreamError, TrafficLabels};
use super::respond::{self, error_trailers, ErrorLog, ProxyError, SentTo};
use super::route::MatchedRoute;
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
    /// Where errors the proxy finds in the response body are logged (through [`respond`]).
    pub errors: Arc<ErrorLog>,
    pub labels: TrafficLabels,
    /// The counters of `labels`' series, found when the request was counted.
    pub counters: HttpCounters,
    /// The route, for its response classes.
    pub route: MatchedRoute,
    /// Whether the request was gRPC (a response without `content-type` still counts as gRPC).
    pub grpc_request: bool,
    /// When the request arrived.
    pub start: Instant,
    pub record: Record,
    /// The request's tap events, when someone taps.
    pub tap: Option<TappedRequest>,
    /// Where the request went (the app, or the endpoint of this try), for error texts.
    pub upstream: SentTo,
}

/// An [`Observation`] whose response is awaited. Dropped so — the request's future was dropped
/// because its caller reset the stream or closed the connection — it records the request as
/// cancelled before any response: one outcome (`status_code="0"`, `error="cancel"`, a failure)
/// and one tap end event (`reset`, `error: cancel`).
pub struct Pending(Option<Observation>);

impl Observation {
    /// Holds the observation while its response is awaited.
    pub fn pending(self) -> Pending {
        Pending(Some(self))
    }

    /// Records the request as cancelled by its caller before any response.
    fn cancelled(self) {
        let outcome = ResponseOutcome {
            status: 0,
            grpc_status: None,
            failure: true,
            error: Some(StreamError::Cancel),
        };
        self.count(outcome);
        if let Some(t) = self.tap {
            t.response_end(None, outcome.error);
        }
    }

    /// Counts `outcome` now, in the counters of [`Record`].
    fn count(&self, outcome: ResponseOutcome) {
        let latency = self.start.elapsed();
        self.counters.response(outcome, latency);
        if self.record == Record::EffectiveAndActual {
            self.counters.actual_response(outcome, latency);
        }
    }

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
            t.response_init(resp.status().as_u16(), resp.headers());
        }
        let recorder = Recorder {
            status: resp.status().as_u16(),
            grpc: self.grpc_request || is_grpc(resp.headers()),
            header_grpc_status: grpc_status(resp.headers()),
            latency: self.start.elapsed(),
            metrics: self.metrics,
            errors: self.errors,
            labels: self.labels,
            counters: self.counters,
            route: self.route,
            record: self.record,
            tap,
            upstream: self.upstream,
        };
        resp.map(|body| boxed(ObservedBody::new(body, recorder)))
    }

    /// Records a response the proxy made itself and returns it. It is classified like any other
    /// response, so a 400 for the client's own mistake (a malformed body) is not counted as the
    /// upstream failing.
    pub fn local(self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let status = resp.status().as_u16();
        let grpc_status = grpc_status(resp.headers());
        let outcome = ResponseOutcome {
            status,
            grpc_status,
            failure: self
                .route
                .is_failure(status, self.grpc_request, grpc_status),
            error: None,
        };
        self.count(outcome);
        if let Some(mut t) = self.tap {
            t.response_init(outcome.status, resp.headers());
            let bytes = http_body::Body::size_hint(resp.body()).exact().unwrap_or(0);
            t.add_bytes(usize::try_from(bytes).unwrap_or(usize::MAX));
            t.response_end(outcome.grpc_status, None);
        }
        resp
    }
}

// === impl Pending ===

impl Pending {
    /// The observation, for its labels or to set its tap and upstream.
    pub fn get_mut(&mut self) -> &mut Observation {
        self.0
            .as_mut()
            .expect("a pending observation is held until it is settled")
    }

    /// The observation, no longer awaited: the caller records the outcome with it
    /// ([`Observation::upstream`] or [`Observation::local`]).
    pub fn settle(mut self) -> Observation {
        self.0
            .take()
            .expect("a pending observation is settled once")
    }

    /// Passes the upstream's response on ([`Observation::upstream`]).
    pub fn upstream(
        self,
        resp: Response<ProxyBody>,
        client_upgrade: Option<OnUpgrade>,
    ) -> Response<ProxyBody> {
        self.settle().upstream(resp, client_upgrade)
    }

    /// Records a response the proxy made itself ([`Observation::local`]).
    pub fn local(self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        self.settle().local(resp)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(observation) = self.0.take() {
            observation.cancelled();
        }
    }
}

/// Everything needed to record one response.
pub struct Recorder {
    pub metrics: Arc<Metrics>,
    /// Where errors the proxy finds in the body are logged (through [`respond`]).
    pub errors: Arc<ErrorLog>,
    pub labels: TrafficLabels,
    /// The counters of `labels`' series.
    pub counters: HttpCounters,
    /// The route, for its response classes.
    pub route: MatchedRoute,
    pub status: u16,
    pub grpc: bool,
    /// `grpc-status` already in the response headers (a trailers-only response).
    pub header_grpc_status: Option<u32>,
    /// Time from the request's arrival to the response headers.
    pub latency: Duration,
    pub record: Record,
    /// The request's tap events, when someone taps (response bytes are counted only then).
    pub tap: Option<TappedRequest>,
    /// Where the response comes from, for the text of a broken response.
    pub upstream: SentTo,
}

impl Recorder {
    /// Records the response, with the `grpc-status` of its trailers if any.
    pub fn finish(self, trailer_grpc_status: Option<u32>) {
        let grpc_status = trailer_grpc_status.or(self.header_grpc_status);
        let outcome = ResponseOutcome {
            status: self.status,
            grpc_status: if self.grpc { grpc_status } else { None },
            failure: self.route.is_failure(self.status, self.grpc, grpc_status),
            error: None,
        };
        self.record(outcome);
    }

    /// Records a response that broke off: upstream (`Reset`; `grpc_status` is what a gRPC caller
    /// was told instead) or because the caller went away (`Cancel`).
    pub fn finish_broken(self, error: StreamError, grpc_status: Option<u32>) {
        let outcome = ResponseOutcome {
            status: self.status,
            grpc_status,
            failure: true,
            error: Some(error),
        };
        self.record(outcome);
    }

    fn record(self, outcome: ResponseOutcome) {
        self.counters.response(outcome, self.latency);
        if self.record == Record::EffectiveAndActual {
            self.counters.actual_response(outcome, self.latency);
        }
        if let Some(t) = self.tap {
            t.response_end(outcome.grpc_status, outcome.error);
        }
    }
}

/// A response body that records its response when it ends (or is dropped).
pub struct ObservedBody {
    inner: ProxyBody,
    recorder: Option<Recorder>,
    /// Ended by the proxy's own trailers after the upstream's body failed.
    rescued: bool,
}

impl ObservedBody {
    /// Watches `inner` for `recorder`.
    pub fn new(inner: ProxyBody, recorder: Recorder) -> Self {
        ObservedBody {
            inner,
            recorder: Some(recorder),
            rescued: false,
        }
    }

    /// The upstream's body failed mid-stream, or the proxy refused its trailers. Trailers the
    /// proxy refused (a [`ProxyError`], over the head limit: `connect/heads.rs`) are replaced by
    /// trailers explaining why, for every caller; the response is complete otherwise. When the
    /// upstream broke off, a gRPC caller gets trailers with the status a direct call would have
    /// ended with (a reset stream reads as INTERNAL to gRPC clients, whatever the cause); any
    /// other caller gets the error, so its stream is reset too. Each answer the proxy makes here
    /// is logged, counted and tapped as the rescue point does ([`respond::record_in`]).
    fn broke_off(&mut self, source: BoxError) -> Option<Result<Frame<Bytes>, BoxError>> {
        let Some(mut r) = self.recorder.take() else {
            return Some(Err(source));
        };
        let (err, broken) = match source.downcast::<ProxyError>() {
            Ok(refused) => (*refused, false),
            Err(source) if !r.grpc => {
                r.finish_broken(StreamError::Reset, None);
                return Some(Err(source));
            }
            Err(source) => {
                let upstream = r.upstream.clone();
                (ProxyError::ResponseBroken { upstream, source }, true)
            }
        };
        respond::record_in(&r.errors, &r.metrics, r.labels.direction, &err);
        let trailers = error_trailers(&err, r.grpc);
        if let Some(t) = &mut r.tap {
            t.answered_by_proxy(err.reason());
            t.trailers(&trailers);
        }
        match broken {
            true => r.finish_broken(StreamError::Reset, grpc_status(&trailers)),
            false => r.finish(grpc_status(&trailers)),
        }
        self.rescued = true;
        Some(Ok(Frame::trailers(trailers)))
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        if let Some(r) = self.recorder.take() {
            // HTTP servers stop polling a body that says it is at its end: that is its end.
            // Dropped before it, the caller went away (it reset the stream or hung up).
            if self.inner.is_end_stream() {
                r.finish(None);
            } else {
                r.finish_broken(StreamError::Cancel, None);
            }
        }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.rescued {
            return Poll::Ready(None);
        }
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Err(source)) => return Poll::Ready(this.broke_off(source)),
            frame => frame,
        };
        match &frame {
            Some(Ok(f)) => {
                // Bytes are counted only for a tapped request: one branch otherwise.
                if let (Some(data), Some(Recorder { tap: Some(t), .. })) =
                    (f.data_ref(), this.recorder.as_mut())
                {
                    t.add_bytes(data.len());
                }
                if let Some(trailers) = f.trailers_ref() {
                    if let Some(mut r) = this.recorder.take() {
                        if let Some(t) = &mut r.tap {
                            t.trailers(trailers);
                        }
                        r.finish(grpc_status(trailers));
                    }
                }
            }
            // The end.
            _ => {
                if let Some(r) = this.recorder.take() {
                    r.finish(None);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.rescued || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
