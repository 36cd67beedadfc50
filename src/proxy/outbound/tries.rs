//! One try of an outbound request, as the [retry](crate::proxy::retry) loop sends it: placed on
//! an endpoint of the service by the [balancer](crate::proxy::balance), counted and tapped once
//! the first endpoint is chosen (its identity is the `dst_*` labels and the tap's destination),
//! then sent over that endpoint's [pooled connection](crate::proxy::connect), with this proxy's
//! identity (`mesh-peer`) when the endpoint is meshed.

use std::net::SocketAddr;
use std::sync::Arc;

use http::Response;
use tokio::time::Instant;

use super::Destination;
use crate::admin_api::tap::ProxyDirection;
use crate::identity::Identity;
use crate::proxy::balance::InFlight;
use crate::proxy::body::ProxyBody;
use crate::proxy::connect::{Upstream, UpstreamError, UpstreamTls, Version};
use crate::proxy::metrics::{
    Direction, HttpCounters, PeerSide, ResponseOutcome, TcpLabels, TlsStatus, TrafficLabels,
};
use crate::proxy::observe::{Observation, Pending, Record};
use crate::proxy::replay::Replayable;
use crate::proxy::respond::{ProxyError, SentTo, TriesMade};
use crate::proxy::retry::policy::Failure;
use crate::proxy::retry::{SendTry, Tried, TryFailed};
use crate::proxy::route::MatchedRoute;
use crate::proxy::state::ProxyState;
use crate::proxy::tap::{tap_peer, TapRequestInfo};
use crate::proxy::timeout::{Bound, Deadline};

/// The tries of one outbound request to `dst`.
pub struct EndpointTries<'a> {
    state: &'a ProxyState,
    dst: &'a Destination,
    route: &'a MatchedRoute,
    deadline: &'a Deadline,
    version: Version,
    grpc: bool,
    /// When the request arrived.
    start: Instant,
    /// The app's end of the connection (the tap's source).
    remote: SocketAddr,
    /// The request's observation once it is counted (on its first endpoint): held across tries,
    /// so a caller that goes away during any of them is recorded as a cancel.
    pending: Option<Pending>,
    /// The endpoint of the latest try, and when that try started.
    last: Option<(SocketAddr, Instant)>,
}

impl<'a> EndpointTries<'a> {
    /// Tries of a request to `dst` on `route` under `deadline` (which knows when it arrived),
    /// spoken in `version`; `grpc` when the request is gRPC; it came from the app's `remote`.
    pub fn new(
        state: &'a ProxyState,
        dst: &'a Destination,
        route: &'a MatchedRoute,
        deadline: &'a Deadline,
        version: Version,
        grpc: bool,
        remote: SocketAddr,
    ) -> Self {
        EndpointTries {
            state,
            dst,
            route,
            deadline,
            version,
            grpc,
            start: deadline.arrived(),
            remote,
            pending: None,
            last: None,
        }
    }

    /// The endpoint the latest try went to, if any was placed.
    pub fn last_endpoint(&self) -> Option<SocketAddr> {
        self.last.map(|(addr, _)| addr)
    }

    /// The request's observation, no longer awaited, to record what the caller gets. A request
    /// no endpoint took is counted now, without a peer.
    pub fn into_observation(mut self) -> Observation {
        if let Some(pending) = self.pending.take() {
            return pending.settle();
        }
        let tls = self.state.outbound_tls(None);
        let (labels, counters) = self.count(None, tls);
        let unplaced = SentTo::Service(labels.authority.clone());
        self.observation(labels, counters, unplaced)
    }

    /// Balance: an endpoint with capacity, waiting no longer than the dispatch deadline.
    async fn place(&self) -> Result<InFlight, TryFailed> {
        let state = self.state;
        let placed = state
            .balancer
            .acquire(
                &self.dst.authority,
                &self.dst.endpoints,
                |a| state.pools.max_streams(a),
                self.deadline.dispatch_at(),
            )
            .await;
        // Past the request's deadline, the retry loop says so instead ([`SendTry::expired`]).
        placed.map_err(|saturation| {
            let err = ProxyError::FailFast {
                authority: self.dst.authority.to_string(),
                saturation,
            };
            TryFailed {
                err,
                failure: Failure::Unplaced,
                refused: false,
            }
        })
    }

    /// Counts and taps the request once, on its first endpoint.
    fn observe(&mut self, placed: &InFlight, req: &Replayable) {
        let addr = placed.endpoint.addr;
        if let Some(p) = &mut self.pending {
            let o = p.get_mut();
            let authority = o.labels.authority.clone();
            o.upstream = SentTo::Endpoint { authority, addr };
            return;
        }
        let tls = self.state.outbound_tls(placed.endpoint.tls.as_ref());
        let tls_label = tls.label();
        let (labels, counters) = self.count(placed.endpoint.identity.clone(), tls);
        let authority = labels.authority.clone();
        let upstream = SentTo::Endpoint { authority, addr };
        let mut observation = self.observation(labels, counters, upstream);
        let state = self.state;
        observation.tap = state.tap.request(
            self.start,
            || TapRequestInfo {
                direction: ProxyDirection::Outbound,
                // The app's hop is plaintext on the pod; the endpoint's is what the labels say.
                source: tap_peer(self.remote, Some(&state.identity), "no_identity"),
                destination: tap_peer(addr, placed.endpoint.identity.as_deref(), tls_label),
                method: req.head().method.clone(),
                authority: self.dst.authority.to_string(),
                path: req.head().uri.path().to_string(),
                route: Some(self.route.name().clone()),
            },
            || req.head().headers.clone(),
        );
        self.pending = Some(observation.pending());
    }

    /// Counts the request under its labels (once, whatever the tries).
    fn count(&self, peer: Option<Arc<Identity>>, tls: TlsStatus) -> (TrafficLabels, HttpCounters) {
        let labels = TrafficLabels {
            direction: Direction::Outbound,
            authority: self.dst.authority.clone(),
            peer,
            route: self.route.name().clone(),
            service: self.dst.service.clone(),
            tls,
        };
        let counters = self.state.metrics.request(&labels);
        (labels, counters)
    }

    fn observation(
        &self,
        labels: TrafficLabels,
        counters: HttpCounters,
        upstream: SentTo,
    ) -> Observation {
        Observation {
            metrics: self.state.metrics.clone(),
            errors: self.state.errors.clone(),
            labels,
            counters,
            route: self.route.clone(),
            grpc_request: self.grpc,
            start: self.start,
            record: Record::EffectiveAndActual,
            tap: None,
            upstream,
        }
    }
}

impl SendTry for EndpointTries<'_> {
    async fn send(&mut self, req: &mut Replayable) -> Tried {
        let placed = self.place().await?;
        self.observe(&placed, req);
        let addr = placed.endpoint.addr;
        self.last = Some((addr, Instant::now()));
        match connect(self.state, &placed, self.version, req, self.deadline).await {
            Ok(resp) => {
                placed.answered();
                Ok(resp)
            }
            Err(source) => {
                if source.is_connect() {
                    placed.unreachable();
                }
                let failure = match source.is_not_processed() {
                    true => Failure::NotProcessed,
                    false => Failure::Failed,
                };
                let refused = source.is_refused_stream();
                let err = ProxyError::Endpoint {
                    authority: self.dst.authority.to_string(),
                    addr,
                    source,
                };
                Err(TryFailed {
                    err,
                    failure,
                    refused,
                })
            }
        }
    }

    async fn retrying(&mut self, outcome: ResponseOutcome, failed: Option<&TryFailed>) {
        if let Some(f) = failed {
            self.state.errors.log("outbound", &f.err);
        }
        let Some((addr, started)) = self.last else {
            return;
        };
        if let Some(p) = &mut self.pending {
            p.get_mut()
                .counters
                .actual_response(outcome, started.elapsed());
        }
        if failed.is_some_and(|f| f.refused) {
            let until = self.deadline.dispatch_at();
            self.state.pools.after_refusal(addr, until).await;
        }
    }

    fn expired(&self, bound: Bound, made: TriesMade) -> ProxyError {
        let authority = self.dst.authority.clone();
        match (bound, self.last) {
            (Bound::Route(timeout), _) => ProxyError::Timeout {
                authority: authority.to_string(),
                route: self.route.name().to_string(),
                timeout,
                tries: made,
            },
            (Bound::Response(after), Some((addr, _))) => ProxyError::NoResponse {
                upstream: SentTo::Endpoint { authority, addr },
                after,
                tries: made,
            },
            (Bound::Response(after), None) => ProxyError::Unplaced {
                authority: authority.to_string(),
                after,
            },
        }
    }
}

/// Connect: sends one try over the pooled connection to the endpoint it was placed on, with this
/// proxy's identity (`mesh-peer`) when the endpoint is meshed: a plain destination never learns
/// it.
async fn connect(
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
            .insert(crate::proxy::hop::PEER, state.peer_header.clone());
    } else {
        req.headers_mut().remove(crate::proxy::hop::PEER);
    }
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Outbound,
            side: PeerSide::Dst,
            peer: peer.clone(),
            tls: state.outbound_tls(placed.endpoint.tls.as_ref()),
        })
    };
    // mTLS when both ends have an identity: the endpoint's, from discovery, is what its
    // certificate must prove.
    let tls = UpstreamTls::toward(state.config.tls.as_ref(), placed.endpoint.tls.as_ref());
    let to = Upstream {
        addr: placed.endpoint.addr,
        version,
        counter: &counter,
        tls,
    };
    state.pools.send(&to, req, deadline).await
}
