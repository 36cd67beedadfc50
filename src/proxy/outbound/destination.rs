//! Discovery and the forwarding policy: where an outbound request may go. The authority is
//! expanded like a pod's DNS search path and resolved to endpoints (the destinations' inbound
//! proxies when meshed); the [policy](crate::proxy::policy) decides whether the request may go
//! there at all (no loops, no addresses on this host the caller names itself, no unknown
//! addresses unless allowed). A refusal is counted in `proxy_refused_total` and explained.

use crate::proxy::discovery::{target_of, Endpoint, ServiceName, Target};
use crate::proxy::metrics::Refused;
use crate::proxy::policy::{LoopSign, Named, Refusal};
use crate::proxy::respond::ProxyError;
use crate::proxy::state::ProxyState;

/// Where a request goes.
pub struct Destination {
    /// The service's authority (`web-svc.emojivoto.svc.cluster.local:8080`) or `ip:port`.
    pub authority: String,
    /// The service's profile name, when it is a service.
    pub fqdn: Option<String>,
    pub endpoints: Vec<Endpoint>,
}

/// Resolves an authority to its endpoints, if the forwarding policy lets the request go there
/// (`connect` for `CONNECT`, `marked` when it carries this proxy's loop marker).
pub async fn destination(
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
