//! Inbound: requests from callers (usually their outbound proxies) to the local app.
//!
//! The caller's identity comes from the `mesh-peer` header its proxy adds (stripped before the app
//! sees the request); the authority is canonicalised against the services this workload serves, so
//! `web-svc:8080` and `web-svc.emojivoto.svc.cluster.local:8080` count as one.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::time::Instant;

use super::body::ProxyBody;
use super::classify::is_grpc;
use super::discovery::{target_of, Target};
use super::forward::{authority_of, upstream_request, version_of, wants_upgrade};
use super::metrics::{Direction, PeerSide, TcpLabels, TrafficLabels};
use super::observe::{Observation, Record};
use super::respond::{error_response, ProxyError, Upstream};
use super::state::ProxyState;
use super::tap::{tap_peer, TapRequestInfo};
use crate::identity::{Identity, PEER_HEADER};
use crate::tap_event::ProxyDirection;

/// Handles one inbound request from `remote` by passing it to the app at `app`.
pub async fn handle(
    state: Arc<ProxyState>,
    app: SocketAddr,
    remote: SocketAddr,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let peer = req
        .headers_mut()
        .remove(PEER_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .and_then(|v| {
            state
                .peers
                .get_or(&v, || Identity::from_header(&v).map(Arc::new))
        });
    let raw_authority = authority_of(&req).unwrap_or_else(|| app.to_string());
    let fqdn_authority = state
        .own_services
        .get_or(&raw_authority, || own_service(&state, &raw_authority));
    let (route, route_name) = state.route(
        fqdn_authority.as_ref().map(|(fqdn, _)| &**fqdn),
        req.method().as_str(),
        req.uri().path(),
    );
    let labels = TrafficLabels {
        direction: Direction::Inbound,
        authority: fqdn_authority.map_or_else(|| Arc::from(raw_authority.as_str()), |(_, a)| a),
        peer,
        route: route_name,
    };
    state.metrics.request(&labels);
    let tap = state.tap.request(
        start,
        || TapRequestInfo {
            direction: ProxyDirection::Inbound,
            source: tap_peer(remote, labels.peer.as_deref()),
            destination: tap_peer(app, Some(&state.identity)),
            method: req.method().clone(),
            authority: raw_authority.clone(),
            path: req.uri().path().to_string(),
        },
        || req.headers().clone(),
    );

    let upgrade = wants_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let version = version_of(&req);
    let grpc_request = is_grpc(req.headers());
    let upstream = upstream_request(req, &raw_authority, upgrade);
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Inbound,
            side: PeerSide::Dst,
            peer: None,
        })
    };
    let observation = Observation {
        metrics: state.metrics.clone(),
        labels,
        route,
        grpc_request,
        start,
        record: Record::Effective,
        tap,
        upstream: Upstream::App(app),
    };
    // Dropped while awaiting the app (the caller went away), it records a cancel.
    let observation = observation.pending();
    match state.pools.send(app, version, upstream, &counter).await {
        Ok(resp) => observation.upstream(resp, client_upgrade),
        Err(source) => {
            let err = ProxyError::App { addr: app, source };
            state.errors.log("inbound", &err);
            observation.local(error_response(&err, grpc_request))
        }
    }
}

/// `(fqdn, fqdn:port)` when the authority names one of this workload's services.
fn own_service(state: &ProxyState, authority: &str) -> Option<(Arc<str>, Arc<str>)> {
    let config = &state.config;
    let Some(Target::Service(s)) = target_of(
        authority,
        &config.identity.namespace,
        &config.cluster_domain,
    ) else {
        return None;
    };
    let ours = s.namespace == config.identity.namespace
        && config
            .services
            .iter()
            .any(|own| own.name == s.name && own.port == s.port);
    ours.then(|| (Arc::from(s.fqdn()), Arc::from(s.authority())))
}
