//! Outbound: requests from the local app to other services, one walk per request.
//!
//! The app sends requests here as to an HTTP proxy (absolute URI) or with the target in `Host` /
//! `:authority`. [`handle`] reads as the walk: the authority → its [destination](mod@destination) (discovery and
//! the forwarding policy; `CONNECT` opens a [tunnel]) → the [route match](super::route) → the
//! request's [deadline](super::timeout) → [retry] over [tries] (each one
//! [balanced](super::balance) onto an endpoint, then sent over its [connection](super::connect),
//! with this proxy's identity in `mesh-peer` when the endpoint is meshed and its loop marker in
//! `mesh-hop`, [`super::hop`]) → the response, or the [rescue](super::respond) of an error.

pub mod destination;
pub mod tries;
pub mod tunnel;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use tokio::time::Instant;

use super::body::ProxyBody;
use super::classify::is_grpc;
use super::forward::{authority_of, downstream_response, upstream_request, version_of};
use super::forward::{wants_upgrade, BadResponse};
use super::hop::strip_from_app;
use super::metrics::Direction;
use super::observe::Observation;
use super::respond::{self, ProxyError, RefusedRequest, Seen};
use super::retry::{self, RetryPolicy};
use super::route::MatchedRoute;
use super::state::ProxyState;
use super::timeout::Deadline;

use destination::destination;
pub use destination::Destination;
use tries::EndpointTries;

/// Handles one request from the app (connected from `remote`; under transparent capture, to
/// `original`, where the app was connecting).
pub async fn handle(
    state: Arc<ProxyState>,
    remote: SocketAddr,
    original: Option<SocketAddr>,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let grpc = is_grpc(req.headers());
    // An HTTP/1.0 request may name no authority; under capture, where it was going says it.
    let Some(raw_authority) = authority_of(&req).or_else(|| original.map(|o| o.to_string())) else {
        return refuse(&state, ProxyError::NoAuthority, &req, remote);
    };
    let connect = req.method() == Method::CONNECT;
    let marked = state.hop.seen_in(req.headers());
    let dst = match destination(&state, &raw_authority, connect, marked, original).await {
        Ok(dst) => dst,
        Err(err) => return refuse(&state, err, &req, remote),
    };
    if connect && dst.original {
        return tunnel::forward(state, remote, req, dst).await;
    }
    if connect {
        // A tunnel waits for capacity as any request does; no response deadline follows (it
        // relays bytes, not one response).
        let deadline = Deadline::new(start, None, &state.config.limits);
        return tunnel::open(state, remote, req, dst, deadline).await;
    }
    let route = MatchedRoute::outbound(
        &state,
        dst.fqdn.as_deref(),
        &dst.authority,
        req.method().as_str(),
        req.uri().path(),
    );
    let deadline = state.deadline(start, route.timeout());

    let upgrade = wants_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let version = version_of(&req);
    let upstream = upstream_request(req, &raw_authority, upgrade, dst.original);
    let (mut head, body) = upstream.into_parts();
    // An app is never a proxy: what it wrote as `mesh-peer` or `l5d-*` goes no further. This
    // proxy's `mesh-peer` is added per endpoint, to meshed ones only (`tries`).
    strip_from_app(&mut head.headers);
    state.hop.add_to(&mut head.headers);

    let policy = RetryPolicy {
        route: &route,
        // An upgraded request's bytes cannot be sent again.
        retryable: route.is_retryable() && client_upgrade.is_none(),
        grpc,
        deadline: &deadline,
    };
    let mut tries = EndpointTries::new(&state, &dst, &route, &deadline, version, grpc, remote);
    let sent = retry::send(&policy, Request::from_parts(head, body), &mut tries).await;
    let endpoint = tries.last_endpoint();
    let observation = tries.into_observation();
    let resp = match sent {
        Ok(resp) => resp,
        Err(err) => return fail(&state, observation, err),
    };
    match downstream_response(resp, version, client_upgrade.is_some()) {
        Ok(resp) => observation.upstream(resp, client_upgrade),
        Err(BadResponse::UnsolicitedSwitch) => {
            let addr = endpoint.map_or_else(String::new, |a| a.to_string());
            let upstream = format!("{}: endpoint {addr}", dst.authority);
            fail(
                &state,
                observation,
                ProxyError::UnsolicitedSwitch { upstream },
            )
        }
    }
}

/// Respond: answers a counted request that cannot go on (the rescue point).
fn fail(state: &ProxyState, observation: Observation, err: ProxyError) -> Response<ProxyBody> {
    respond::rescue(
        state,
        Direction::Outbound,
        err,
        Seen::Observed(Box::new(observation)),
    )
}

/// Respond: answers a request refused before it was counted (the rescue point).
fn refuse<B>(
    state: &ProxyState,
    err: ProxyError,
    req: &Request<B>,
    remote: SocketAddr,
) -> Response<ProxyBody> {
    let seen = Seen::Refused(RefusedRequest::of(req, remote));
    respond::rescue(state, Direction::Outbound, err, seen)
}
