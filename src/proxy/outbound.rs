//! Outbound: requests from the local app to other services.
//!
//! The app sends requests here as to an HTTP proxy (absolute URI) or with the target in `Host` /
//! `:authority`. The authority is expanded like a pod's DNS search path and resolved through
//! discovery to endpoints (the destinations' inbound proxies when meshed); the forwarding
//! [`policy`](super::policy) decides whether the request may go there at all (no loops, no
//! addresses on this host the caller names itself, no unknown addresses unless allowed).
//! [`retry::send`] places the request on an endpoint under the route's timeout and retry policy,
//! with this proxy's identity in the `mesh-peer` header when the endpoint is meshed, and its loop
//! marker in `mesh-hop` ([`super::hop`]). `CONNECT host:port` opens an opaque TCP tunnel to an
//! endpoint, on opaque ports only.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

use super::body::{empty, ProxyBody};
use super::classify::is_grpc;
use super::connect::connect_tcp;
use super::discovery::{target_of, Endpoint, ServiceName, Target};
use super::forward::{authority_of, upstream_request, version_of, wants_upgrade};
use super::hop::strip_from_app;
use super::metrics::{Direction, PeerSide, Refused, TcpLabels};
use super::policy::{LoopSign, Named, Refusal};
use super::respond::{error_response, ProxyError};
use super::retry::{self, Destination, Outgoing};
use super::route::MatchedRoute;
use super::state::ProxyState;

/// Handles one request from the app (connected from `remote`).
pub async fn handle(
    state: Arc<ProxyState>,
    remote: SocketAddr,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    let grpc = is_grpc(req.headers());
    let Some(raw_authority) = authority_of(&req) else {
        return reject(&state, ProxyError::NoAuthority, grpc);
    };
    let connect = req.method() == Method::CONNECT;
    let marked = state.hop.seen_in(req.headers());
    let dst = match destination(&state, &raw_authority, connect, marked).await {
        Ok(dst) => dst,
        Err(err) => return reject(&state, err, grpc),
    };
    if connect {
        return tunnel(state, req, dst).await;
    }
    let route = MatchedRoute::outbound(
        &state,
        dst.fqdn.as_deref(),
        &dst.authority,
        req.method().as_str(),
        req.uri().path(),
    );
    let upgrade = wants_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let version = version_of(&req);
    let upstream = upstream_request(req, &raw_authority, upgrade);
    let (mut head, body) = upstream.into_parts();
    // An app is never a proxy: what it wrote as `mesh-peer` or `l5d-*` goes no further. This
    // proxy's `mesh-peer` is added per endpoint, to meshed ones only (`retry::send`).
    strip_from_app(&mut head.headers);
    state.hop.add_to(&mut head.headers);
    let out = Outgoing {
        head,
        body,
        version,
        grpc,
        client_upgrade,
        route,
        start,
        remote,
    };
    retry::send(&state, &dst, out).await
}

/// Resolves an authority to its endpoints, if the forwarding policy lets the request go there
/// (`connect` for `CONNECT`, `marked` when it carries this proxy's loop marker).
async fn destination(
    state: &ProxyState,
    authority: &str,
    connect: bool,
    marked: bool,
) -> Result<Destination, ProxyError> {
    let config = &state.config;
    let target = target_of(
        authority,
        &config.identity.namespace,
        &config.cluster_domain,
    )
    .ok_or_else(|| ProxyError::BadAuthority(authority.to_string()))?;
    match target {
        Target::Addr(addr) => {
            let known = state.resolve.endpoint(addr).await;
            let named = Named::Address {
                addr,
                known: known.is_some(),
            };
            if let Err(r) = state.policy.decide(named, connect, marked) {
                return Err(refused(state, r, authority, addr.port(), None));
            }
            Ok(Destination {
                authority: addr.to_string(),
                fqdn: None,
                // A known endpoint keeps its identity (meshed: it gets `mesh-peer`); an allowed
                // address is plain.
                endpoints: vec![known.unwrap_or(Endpoint {
                    addr,
                    identity: None,
                })],
            })
        }
        Target::External { .. } => Err(ProxyError::External(authority.to_string())),
        Target::Service(service) => {
            let endpoints = state.resolve.resolve(&service).await;
            let named = Named::Service {
                port: service.port,
                endpoints: &endpoints,
            };
            if let Err(r) = state.policy.decide(named, connect, marked) {
                return Err(refused(state, r, authority, service.port, Some(&service)));
            }
            Ok(Destination {
                authority: service.authority(),
                fqdn: Some(service.fqdn()),
                endpoints,
            })
        }
    }
}

/// Counts a policy refusal and explains it.
fn refused(
    state: &ProxyState,
    refusal: Refusal,
    authority: &str,
    port: u16,
    service: Option<&ServiceName>,
) -> ProxyError {
    let authority = authority.to_string();
    let (counted, err) = match (refusal, service) {
        (Refusal::Loop(sign), _) => {
            let counted = match sign {
                LoopSign::OwnListener => Refused::LoopListener,
                LoopSign::HopMarker => Refused::LoopHop,
            };
            (counted, ProxyError::Loop { authority, sign })
        }
        (Refusal::UnknownService, Some(service)) => (
            Refused::UnknownService,
            ProxyError::UnknownService {
                authority,
                service: service.authority(),
                looked_in: state.resolve.describe(),
                name: service.name.clone(),
                port: service.port,
                namespace: service.namespace.clone(),
            },
        ),
        (Refusal::UnknownService | Refusal::UnknownAddress, _) => (
            Refused::UnknownAddress,
            ProxyError::UnknownDestination {
                authority,
                looked_in: state.resolve.describe(),
            },
        ),
        (Refusal::LocalAddress, _) => (
            Refused::LocalAddress,
            ProxyError::LocalDestination { authority },
        ),
        (Refusal::TunnelNotOpaque, _) => {
            let opaque: Vec<String> = state
                .policy
                .opaque_ports
                .iter()
                .map(u16::to_string)
                .collect();
            let opaque = if opaque.is_empty() {
                "none".to_string()
            } else {
                opaque.join(",")
            };
            (
                Refused::TunnelNotOpaque,
                ProxyError::TunnelNotOpaque {
                    authority,
                    port,
                    opaque,
                },
            )
        }
    };
    state.metrics.refused(counted);
    err
}

/// `CONNECT`: connect to an endpoint, answer 200, then relay bytes both ways as opaque TCP.
async fn tunnel(
    state: Arc<ProxyState>,
    req: Request<Incoming>,
    dst: Destination,
) -> Response<ProxyBody> {
    let max_streams = |_| None;
    let placed = match state
        .balancer
        .acquire(&dst.authority, &dst.endpoints, max_streams, None)
        .await
    {
        Ok(placed) => placed,
        Err(saturation) => {
            let authority = dst.authority;
            return reject(
                &state,
                ProxyError::FailFast {
                    authority,
                    saturation,
                },
                false,
            );
        }
    };
    let endpoint = placed.endpoint.clone();
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Outbound,
            side: PeerSide::Dst,
            peer: endpoint.identity.clone(),
        })
    };
    let connect = &state.config.limits.connect;
    let mut upstream = match connect_tcp(endpoint.addr, connect, &counter).await {
        Ok(io) => io,
        Err(source) => {
            if source.is_connect() {
                placed.unreachable();
            }
            let (authority, addr) = (dst.authority, endpoint.addr);
            return reject(
                &state,
                ProxyError::Endpoint {
                    authority,
                    addr,
                    source,
                },
                false,
            );
        }
    };
    placed.answered();
    // The tunnel is long-lived: it does not hold request capacity on the endpoint.
    drop(placed);
    super::guard::spawn(state.metrics.panics(), "tunnel", async move {
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

fn reject(state: &ProxyState, err: ProxyError, grpc: bool) -> Response<ProxyBody> {
    state.errors.log("outbound", &err);
    error_response(&err, grpc)
}
