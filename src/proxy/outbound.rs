//! Outbound: requests from the local app to other services.
//!
//! The app sends requests here as to an HTTP proxy (absolute URI) or with the target in `Host` /
//! `:authority`. The authority is expanded like a pod's DNS search path, resolved through discovery
//! to endpoints (the destinations' inbound proxies when meshed), and the request goes to one of
//! them with this proxy's identity in the `mesh-peer` header. `CONNECT host:port` opens an opaque TCP
//! tunnel to the resolved endpoint.

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::body::{empty, ProxyBody};
use super::classify::is_grpc;
use super::connect::connect_tcp;
use super::discovery::{target_of, Endpoint, Target};
use super::forward::{authority_of, upstream_request, version_of, wants_upgrade};
use super::metrics::{Direction, PeerSide, TcpLabels, TrafficLabels};
use super::observe::{Observation, Record};
use super::respond::{error_response, ProxyError};
use super::state::ProxyState;
use crate::identity::PEER_HEADER;

/// Where a request goes: the labels' authority, the profile name, and the chosen endpoint.
struct Destination {
    authority: String,
    fqdn: Option<String>,
    endpoint: Endpoint,
}

/// Handles one request from the app.
pub async fn handle(state: Arc<ProxyState>, req: Request<Incoming>) -> Response<ProxyBody> {
    let start = Instant::now();
    let Some(raw_authority) = authority_of(&req) else {
        return reject(&state, ProxyError::NoAuthority);
    };
    let dst = match destination(&state, &raw_authority).await {
        Ok(dst) => dst,
        Err(err) => return reject(&state, err),
    };
    if req.method() == Method::CONNECT {
        return tunnel(state, req, dst).await;
    }
    let (route, route_name) =
        state.route(dst.fqdn.as_deref(), req.method().as_str(), req.uri().path());
    let labels = TrafficLabels {
        direction: Direction::Outbound,
        authority: Arc::from(dst.authority.as_str()),
        peer: dst.endpoint.identity.clone(),
        route: route_name,
    };
    state.metrics.request(&labels);

    let mut req = req;
    let upgrade = wants_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let version = version_of(&req);
    let grpc_request = is_grpc(req.headers());
    let mut upstream = upstream_request(req, &raw_authority, upgrade);
    upstream
        .headers_mut()
        .insert(PEER_HEADER, state.peer_header.clone());
    let peer = dst.endpoint.identity.clone();
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Outbound,
            side: PeerSide::Dst,
            peer: peer.clone(),
        })
    };
    let observation = Observation {
        metrics: state.metrics.clone(),
        labels,
        route,
        grpc_request,
        start,
        record: Record::EffectiveAndActual,
    };
    match state
        .pools
        .send(dst.endpoint.addr, version, upstream, &counter)
        .await
    {
        Ok(resp) => observation.upstream(resp, client_upgrade),
        Err(source) => {
            let err = ProxyError::Endpoint {
                authority: dst.authority.clone(),
                addr: dst.endpoint.addr,
                source,
            };
            state.errors.log("outbound", &err);
            observation.local(error_response(&err))
        }
    }
}

/// Resolves an authority to one endpoint.
async fn destination(state: &ProxyState, authority: &str) -> Result<Destination, ProxyError> {
    let config = &state.config;
    let target = target_of(
        authority,
        &config.identity.namespace,
        &config.cluster_domain,
    )
    .ok_or_else(|| ProxyError::BadAuthority(authority.to_string()))?;
    match target {
        Target::Addr(addr) => Ok(Destination {
            authority: addr.to_string(),
            fqdn: None,
            endpoint: Endpoint {
                addr,
                identity: None,
            },
        }),
        Target::External { .. } => Err(ProxyError::External(authority.to_string())),
        Target::Service(service) => {
            let endpoints = state.resolve.resolve(&service).await;
            let endpoint =
                state
                    .pick(&endpoints)
                    .cloned()
                    .ok_or_else(|| ProxyError::UnknownService {
                        authority: authority.to_string(),
                        service: service.authority(),
                        looked_in: state.resolve.describe(),
                        name: service.name.clone(),
                        port: service.port,
                        namespace: service.namespace.clone(),
                    })?;
            Ok(Destination {
                authority: service.authority(),
                fqdn: Some(service.fqdn()),
                endpoint,
            })
        }
    }
}

/// `CONNECT`: connect to the endpoint, answer 200, then relay bytes both ways as opaque TCP.
async fn tunnel(
    state: Arc<ProxyState>,
    req: Request<Incoming>,
    dst: Destination,
) -> Response<ProxyBody> {
    let peer = dst.endpoint.identity.clone();
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Outbound,
            side: PeerSide::Dst,
            peer: peer.clone(),
        })
    };
    let mut upstream = match connect_tcp(
        dst.endpoint.addr,
        state.config.limits.connect.connect_timeout,
        &counter,
    )
    .await
    {
        Ok(io) => io,
        Err(source) => {
            return reject(
                &state,
                ProxyError::Endpoint {
                    authority: dst.authority,
                    addr: dst.endpoint.addr,
                    source,
                },
            );
        }
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(client) => {
                let mut client = TokioIo::new(client);
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!(authority = %dst.authority, "tunnel ended: {e}");
                }
            }
            Err(e) => tracing::debug!("CONNECT upgrade failed: {e}"),
        }
    });
    Response::new(empty())
}

fn reject(state: &ProxyState, err: ProxyError) -> Response<ProxyBody> {
    state.errors.log("outbound", &err);
    error_response(&err)
}
