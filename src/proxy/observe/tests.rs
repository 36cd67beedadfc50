use std::net::SocketAddr;

use futures_util::stream::{self, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};

use super::*;
use crate::identity::Identity;
use crate::proxy::budget::RetryBudget;
use crate::proxy::metrics::{Direction, ErrorReason, HttpSnapshot};

const APP: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

fn labels() -> TrafficLabels {
    TrafficLabels {
        direction: Direction::Inbound,
        authority: Arc::from("voting-svc.emojivoto.svc.cluster.local:8080"),
        peer: None,
        route: Arc::from("[DEFAULT]"),
        service: None,
        tls: crate::proxy::metrics::TlsStatus::NotSecured(
            crate::proxy::metrics::NoTlsReason::NoTlsFromRemote,
        ),
    }
}

fn observation(metrics: &Arc<Metrics>, grpc: bool) -> Observation {
    Observation {
        metrics: metrics.clone(),
        errors: Arc::new(ErrorLog::new(std::time::Duration::from_secs(10))),
        labels: labels(),
        counters: metrics.request(&labels()),
        route: MatchedRoute::unmatched(Arc::new(RetryBudget::from_profile(None))),
        grpc_request: grpc,
        start: Instant::now(),
        record: Record::Effective,
        tap: None,
        upstream: SentTo::App(APP),
    }
}

fn metrics() -> Arc<Metrics> {
    Metrics::new(Identity {
        namespace: "emojivoto".into(),
        workload: "deploy/voting".parse().unwrap(),
        pod: "voting-0".into(),
    })
}

/// The outcomes recorded so far.
fn outcomes(metrics: &Metrics) -> Vec<(ResponseOutcome, u64)> {
    let snap = metrics.snapshot();
    let series: &HttpSnapshot = &snap.http[&labels()];
    series
        .effective
        .iter()
        .map(|(o, h)| (*o, h.count()))
        .collect()
}

/// A response whose body sends `first` and then nothing, never ending.
fn open_response(first: &'static str) -> Response<ProxyBody> {
    let frames =
        stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from(first)))]).chain(stream::pending());
    Response::new(boxed(StreamBody::new(frames)))
}

#[tokio::test]
async fn a_response_dropped_before_its_end_is_a_cancel() {
    let m = metrics();
    let resp = observation(&m, false).upstream(open_response("x"), None);
    let mut body = resp.into_body();
    assert!(body.frame().await.unwrap().unwrap().is_data());
    drop(body);
    let cancel = ResponseOutcome {
        status: 200,
        grpc_status: None,
        failure: true,
        error: Some(StreamError::Cancel),
    };
    assert_eq!(outcomes(&m), [(cancel, 1)]);
}

#[tokio::test]
async fn a_response_dropped_at_its_end_ended() {
    let m = metrics();
    let resp = Response::new(boxed(Full::new(Bytes::from("x"))));
    let mut body = observation(&m, false).upstream(resp, None).into_body();
    assert!(body.frame().await.unwrap().unwrap().is_data());
    // HTTP servers stop here: the body says it is at its end.
    assert!(body.is_end_stream());
    drop(body);
    let ok = ResponseOutcome {
        status: 200,
        grpc_status: None,
        failure: false,
        error: None,
    };
    assert_eq!(outcomes(&m), [(ok, 1)]);
}

#[tokio::test]
async fn a_request_dropped_while_pending_is_a_cancel_before_any_response() {
    let m = metrics();
    drop(observation(&m, true).pending());
    let cancel = ResponseOutcome {
        status: 0,
        grpc_status: None,
        failure: true,
        error: Some(StreamError::Cancel),
    };
    assert_eq!(outcomes(&m), [(cancel, 1)]);

    // Settled, it records what it is settled with instead.
    let m = metrics();
    let pending = observation(&m, false).pending();
    let resp = pending.upstream(Response::new(boxed(Full::new(Bytes::new()))), None);
    drop(resp);
    assert_eq!(outcomes(&m).len(), 1);
    assert_eq!(outcomes(&m)[0].0.error, None);
}

#[tokio::test]
async fn a_grpc_response_that_breaks_off_ends_with_unavailable_trailers() {
    let m = metrics();
    let frames = stream::iter([
        Ok::<_, BoxError>(Frame::data(Bytes::from("x"))),
        Err(BoxError::from("connection reset")),
    ]);
    let resp = Response::new(boxed(StreamBody::new(frames)));
    let mut body = observation(&m, true).upstream(resp, None).into_body();
    assert!(body.frame().await.unwrap().unwrap().is_data());
    let trailers = body
        .frame()
        .await
        .unwrap()
        .unwrap()
        .into_trailers()
        .unwrap();
    assert_eq!(trailers["grpc-status"], "14");
    let text = "the app at 127.0.0.1:8080 broke off the response after it had started (is it \
                crashing or being restarted?): connection reset";
    assert_eq!(trailers["grpc-message"], text);
    assert_eq!(trailers["mesh-proxy-error"], text);
    assert!(body.is_end_stream());
    assert!(body.frame().await.is_none());
    drop(body);
    let reset = ResponseOutcome {
        status: 200,
        grpc_status: Some(14),
        failure: true,
        error: Some(StreamError::Reset),
    };
    assert_eq!(outcomes(&m), [(reset, 1)]);
}

#[tokio::test]
async fn answers_made_in_a_body_are_counted_in_the_errors_family() {
    // A broken-off gRPC response, answered with trailers: one `protocol error`.
    let m = metrics();
    let frames = stream::iter([Err::<Frame<Bytes>, _>(BoxError::from("connection reset"))]);
    let resp = Response::new(boxed(StreamBody::new(frames)));
    let mut body = observation(&m, true).upstream(resp, None).into_body();
    assert!(body.frame().await.unwrap().unwrap().is_trailers());
    let errors = m.proxy_errors();
    assert_eq!(errors.get(Direction::Inbound, ErrorReason::Protocol), 1);

    // Trailers over the head limit (`connect/heads.rs` ends the body with the error): replaced
    // by the explanation, for a caller that is not gRPC too, and counted.
    let refused = ProxyError::TrailersTooLarge {
        addr: APP,
        bytes: 70_000,
        limit: 65_536,
    };
    let frames = stream::iter([Err::<Frame<Bytes>, _>(BoxError::from(refused))]);
    let resp = Response::new(boxed(StreamBody::new(frames)));
    let mut body = observation(&m, false).upstream(resp, None).into_body();
    let trailers = body
        .frame()
        .await
        .unwrap()
        .unwrap()
        .into_trailers()
        .unwrap();
    assert!(trailers["mesh-proxy-error"]
        .to_str()
        .unwrap()
        .contains("sent trailers of 70000 bytes"));
    assert!(body.frame().await.is_none());
    assert_eq!(errors.get(Direction::Inbound, ErrorReason::Protocol), 2);
}

#[tokio::test]
async fn any_other_response_that_breaks_off_passes_the_error_on() {
    let m = metrics();
    let frames = stream::iter([Err::<Frame<Bytes>, _>(BoxError::from("connection reset"))]);
    let resp = Response::new(boxed(StreamBody::new(frames)));
    let mut body = observation(&m, false).upstream(resp, None).into_body();
    assert!(body.frame().await.unwrap().is_err());
    drop(body);
    let reset = ResponseOutcome {
        status: 200,
        grpc_status: None,
        failure: true,
        error: Some(StreamError::Reset),
    };
    assert_eq!(outcomes(&m), [(reset, 1)]);
}
