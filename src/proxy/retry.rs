//! Sending an outbound request: placed by the balancer, bounded by the route's timeout, and tried
//! again within the service's retry budget when a try fails before its response streams to the
//! caller — on a retryable route, or on any route when the upstream did not process it
//! ([`policy`]).
//!
//! A try fails when its connection fails or its response headers classify as a failure (a 5xx, a
//! gRPC status in the headers, or the route's response classes); a gRPC status that only comes in
//! the trailers is known too late, as the body is already streaming. Every try lands in
//! `route_actual_response_total`; what the caller finally sees, in `route_response_total`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http::{Request, Response};
use hyper::upgrade::OnUpgrade;
use tokio::time::Instant;

use super::balance::InFlight;
use super::body::ProxyBody;
use super::classify::{grpc_status, is_grpc};
use super::connect::{Upstream, UpstreamError, Version};
use super::discovery::Endpoint;
use super::forward::{downstream_response, BadResponse};
use super::metrics::{Direction, PeerSide, ResponseOutcome, TcpLabels, TrafficLabels};
use super::observe::{Observation, Pending, Record};
use super::replay::Replayable;
use super::respond::{error_response, ProxyError, SentTo};
use super::route::MatchedRoute;
use super::state::ProxyState;
use super::tap::{tap_peer, TapRequestInfo};
use super::timeout::{Bound, Deadline, Expired};
use crate::tap_event::ProxyDirection;

pub mod policy;

pub use policy::MAX_TRIES;
use policy::{Attempted, Failure};

/// Where a request goes.
pub struct Destination {
    /// The service's authority (`web-svc.emojivoto.svc.cluster.local:8080`) or `ip:port`.
    pub authority: String,
    /// The service's profile name, when it is a service.
    pub fqdn: Option<String>,
    pub endpoints: Vec<Endpoint>,
}

/// A request ready to go upstream.
pub struct Outgoing {
    pub head: Parts,
    pub body: ProxyBody,
    pub version: Version,
    pub grpc: bool,
    /// The caller's side of an upgrade (WebSocket), when asked for; such requests are not retried.
    pub client_upgrade: Option<OnUpgrade>,
    /// The route, for its timeout, retryability, response classes and budget.
    pub route: MatchedRoute,
    /// When the request arrived.
    pub start: Instant,
    /// The app's end of the connection (the tap's source).
    pub remote: SocketAddr,
}

/// Sends `out` to `dst`, with the route's timeout and retries; always answers.
pub async fn send(
    state: &Arc<ProxyState>,
    dst: &Destination,
    out: Outgoing,
) -> Response<ProxyBody> {
    let Outgoing {
        head,
        body,
        version,
        grpc,
        mut client_upgrade,
        route,
        start,
        remote,
    } = out;
    let route_name = route.name();
    let deadline = state.deadline(start, route.timeout());
    let budget = route.budget();
    budget.deposit();
    let route_retryable = route.is_retryable() && client_upgrade.is_none();
    let mut req = Replayable::new(Request::from_parts(head, body));
    // The request's observation once it is counted (on its first endpoint): held across tries,
    // so a caller that goes away during any of them is recorded as a cancel.
    let mut pending: Option<Pending> = None;
    let mut tries = 0;
    loop {
        tries += 1;
        // The balancer's wait and the HTTP/2 stream waits share the one dispatch deadline.
        let until = deadline.dispatch_at();
        let placed = state
            .balancer
            .acquire(
                &dst.authority,
                &dst.endpoints,
                |a| state.pools.max_streams(a),
                Some(until),
            )
            .await;
        let in_flight = match placed {
            Ok(f) => f,
            Err(saturation) => {
                let observation = match pending.take() {
                    Some(p) => p.settle(),
                    None => {
                        let labels = count(state, dst, None, route_name);
                        let unplaced = SentTo::Service(labels.authority.clone());
                        observe(state, labels, &route, grpc, start, unplaced)
                    }
                };
                let err = match deadline.passed() {
                    Some(Bound::Route(t)) => timed_out(dst, route_name, t),
                    _ => ProxyError::FailFast {
                        authority: dst.authority.clone(),
                        saturation,
                    },
                };
                return fail(state, observation, err);
            }
        };
        let addr = in_flight.endpoint.addr;
        let observation = match &mut pending {
            Some(p) => {
                let o = p.get_mut();
                let authority = o.labels.authority.clone();
                o.upstream = SentTo::Endpoint { authority, addr };
                p
            }
            None => {
                let peer = in_flight.endpoint.identity.clone();
                let labels = count(state, dst, peer, route_name);
                let authority = labels.authority.clone();
                let upstream = SentTo::Endpoint { authority, addr };
                let mut observation = observe(state, labels, &route, grpc, start, upstream);
                // Tapped once the first endpoint is chosen (the destination is known), not per try.
                observation.tap = state.tap.request(
                    start,
                    || TapRequestInfo {
                        direction: ProxyDirection::Outbound,
                        source: tap_peer(remote, Some(&state.identity)),
                        destination: tap_peer(
                            in_flight.endpoint.addr,
                            in_flight.endpoint.identity.as_deref(),
                        ),
                        method: req.head().method.clone(),
                        authority: dst.authority.clone(),
                        path: req.head().uri.path().to_string(),
                    },
                    || req.head().headers.clone(),
                );
                pending.insert(observation.pending())
            }
        };
        let labels = &observation.get_mut().labels;
        let try_start = Instant::now();
        let sent = send_once(state, &in_flight, version, &mut req, &deadline);
        let result = deadline.cut(sent).await;
        let settle = |pending: &mut Option<Pending>| {
            pending
                .take()
                .expect("a placed request is observed")
                .settle()
        };
        let result = match result {
            Ok(result) => result,
            Err(Expired(Bound::Route(t))) => {
                return fail(state, settle(&mut pending), timed_out(dst, route_name, t));
            }
            Err(Expired(Bound::Response(after))) => {
                let addr = in_flight.endpoint.addr;
                let source = UpstreamError::NoResponse { addr, after };
                let authority = dst.authority.clone();
                let err = ProxyError::Endpoint {
                    authority,
                    addr,
                    source,
                };
                return fail(state, settle(&mut pending), err);
            }
        };
        let retry = |failure, req: &Replayable| {
            let attempted = Attempted {
                tries,
                route_retryable,
                deadline: Some(deadline.response_at()),
                body: req.can_replay(),
            };
            policy::retry(failure, attempted, budget)
        };
        match result {
            Ok(resp) => {
                in_flight.answered();
                let addr = in_flight.endpoint.addr;
                let outcome = header_outcome(&route, &resp, grpc);
                if outcome.failure && retry(Failure::Failed, &req) {
                    state
                        .metrics
                        .actual_response(labels, outcome, try_start.elapsed());
                    continue;
                }
                drop(in_flight);
                let upgrade = client_upgrade.take();
                let observation = settle(&mut pending);
                return match downstream_response(resp, version, upgrade.is_some()) {
                    Ok(resp) => observation.upstream(resp, upgrade),
                    Err(BadResponse::UnsolicitedSwitch) => {
                        let upstream = format!("{}: endpoint {}", dst.authority, addr);
                        fail(
                            state,
                            observation,
                            ProxyError::UnsolicitedSwitch { upstream },
                        )
                    }
                };
            }
            Err(source) => {
                if source.is_connect() {
                    in_flight.unreachable();
                }
                let failure = match source.is_not_processed() {
                    true => Failure::NotProcessed,
                    false => Failure::Failed,
                };
                let refused = source.is_refused_stream();
                let err = ProxyError::Endpoint {
                    authority: dst.authority.clone(),
                    addr: in_flight.endpoint.addr,
                    source,
                };
                if retry(failure, &req) {
                    state.errors.log("outbound", &err);
                    let outcome = ResponseOutcome {
                        status: err.status().as_u16(),
                        grpc_status: None,
                        failure: true,
                        error: None,
                    };
                    state
                        .metrics
                        .actual_response(labels, outcome, try_start.elapsed());
                    if refused {
                        let addr = in_flight.endpoint.addr;
                        drop(in_flight);
                        state
                            .pools
                            .after_refusal(addr, deadline.dispatch_at())
                            .await;
                    }
                    continue;
                }
                return fail(state, settle(&mut pending), err);
            }
        }
    }
}

/// Sends one try to the endpoint it was placed on, with this proxy's identity (`mesh-peer`) when
/// the endpoint is meshed: a plain destination never learns it.
async fn send_once(
    state: &ProxyState,
    placed: &InFlight,
    version: Version,
    req: &mut Replayable,
    deadline: &Deadline,
) -> Result<Response<ProxyBody>, UpstreamError> {
    let peer = placed.endpoint.identity.clone();
    // Per try: a retry may land on an endpoint of another kind than the try before.
    if peer.is_some() {
        req.headers_mut()
            .insert(crate::identity::PEER_HEADER, state.peer_header.clone());
    } else {
        req.headers_mut().remove(crate::identity::PEER_HEADER);
    }
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Outbound,
            side: PeerSide::Dst,
            peer: peer.clone(),
        })
    };
    let to = Upstream {
        addr: placed.endpoint.addr,
        version,
        counter: &counter,
    };
    state.pools.send(&to, req, deadline).await
}

/// Counts the request under its labels (once, whatever the tries).
fn count(
    state: &ProxyState,
    dst: &Destination,
    peer: Option<Arc<crate::identity::Identity>>,
    route: &Arc<str>,
) -> TrafficLabels {
    let labels = TrafficLabels {
        direction: Direction::Outbound,
        authority: Arc::from(dst.authority.as_str()),
        peer,
        route: route.clone(),
    };
    state.metrics.request(&labels);
    labels
}

fn observe(
    state: &ProxyState,
    labels: TrafficLabels,
    route: &MatchedRoute,
    grpc: bool,
    start: Instant,
    upstream: SentTo,
) -> Observation {
    Observation {
        metrics: state.metrics.clone(),
        labels,
        route: route.clone(),
        grpc_request: grpc,
        start,
        record: Record::EffectiveAndActual,
        tap: None,
        upstream,
    }
}

fn fail(state: &ProxyState, observation: Observation, err: ProxyError) -> Response<ProxyBody> {
    state.errors.log("outbound", &err);
    let grpc = observation.grpc_request;
    observation.local(error_response(&err, grpc))
}

fn timed_out(dst: &Destination, route: &str, timeout: Duration) -> ProxyError {
    ProxyError::Timeout {
        authority: dst.authority.clone(),
        route: route.to_string(),
        timeout,
    }
}

/// How a response looks from its headers alone (a gRPC status in trailers comes later).
fn header_outcome(
    route: &MatchedRoute,
    resp: &Response<ProxyBody>,
    grpc_request: bool,
) -> ResponseOutcome {
    let status = resp.status().as_u16();
    let grpc = grpc_request || is_grpc(resp.headers());
    let in_headers = grpc_status(resp.headers());
    let failure = match (grpc, in_headers) {
        (true, Some(g)) => route.is_failure(status, true, Some(g)),
        _ => route.is_failure(status, false, None),
    };
    ResponseOutcome {
        status,
        grpc_status: in_headers.filter(|_| grpc),
        failure,
        error: None,
    }
}
