//! Discovery and the forwarding policy: where an outbound request may go. The authority is
//! expanded like a pod's DNS search path and resolved to endpoints (the destinations' inbound
//! proxies when meshed); the [policy](crate::proxy::policy) decides whether the request may go
//! there at all (no loops, no addresses on this host the caller names itself, no unknown
//! addresses unless allowed). A refusal is counted in `proxy_refused_total` and explained.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::proxy::discovery::{target_of, Endpoint, ServiceName, Target};
use crate::proxy::metrics::{Direction, DstService, Refused};
use crate::proxy::policy::{LoopSign, Named, Refusal};
use crate::proxy::respond::ProxyError;
use crate::proxy::state::ProxyState;

/// Where a request goes.
pub struct Destination {
    /// The service's authority (`web-svc.emojivoto.svc.cluster.local:8080`) or `ip:port`.
    pub authority: Arc<str>,
    /// The service's profile name, when it is a service.
    pub fqdn: Option<Arc<str>>,
    /// The service, as metrics label it (`dst_service`), when it is a service.
    pub service: Option<Arc<DstService>>,
    pub endpoints: Vec<Endpoint>,
    /// A captured request that no known service claims, going on to where the app was
    /// connecting: there the proxy is transparent, and the request goes unchanged (an egress
    /// proxy outside the pod gets its absolute-form target and its `CONNECT`).
    pub original: bool,
}

/// What an authority's text names, with the names mesh derives from it: parsed once per
/// distinct authority (`ProxyState::targets`), since an app calls few services many times.
pub enum NamedTarget {
    /// `ip:port`, with its text.
    Addr {
        addr: SocketAddr,
        authority: Arc<str>,
    },
    /// A cluster service, with its profile name (`fqdn`), `fqdn:port` and its metric labels.
    Service {
        service: ServiceName,
        fqdn: Arc<str>,
        authority: Arc<str>,
        labels: Arc<DstService>,
    },
    /// A host name outside the cluster.
    External,
}

impl NamedTarget {
    /// What `authority` names as seen from `namespace`; `None` when it is no authority.
    pub fn parse(authority: &str, namespace: &str, cluster_domain: &str) -> Option<Self> {
        Some(match target_of(authority, namespace, cluster_domain)? {
            Target::Addr(addr) => NamedTarget::Addr {
                addr,
                authority: Arc::from(addr.to_string()),
            },
            Target::Service(service) => {
                let (fqdn, authority) = (service.fqdn(), service.authority());
                let labels = Arc::new(DstService {
                    name: Arc::from(service.name.as_str()),
                    namespace: Arc::from(service.namespace.as_str()),
                });
                NamedTarget::Service {
                    service,
                    fqdn: Arc::from(fqdn),
                    authority: Arc::from(authority),
                    labels,
                }
            }
            Target::External { .. } => NamedTarget::External,
        })
    }
}

/// Resolves an authority to its endpoints, if the forwarding policy lets the request go there
/// (`connect` for `CONNECT`, `marked` when it carries this proxy's loop marker).
///
/// `original` is where a captured connection was going (transparent capture): a request for a
/// service discovery knows (a `CONNECT`: to one of its opaque ports) is balanced over its
/// endpoints as in explicit mode; any other request goes on to the original destination
/// ([`Policy::decide_original`]), never a 502 for an unknown host: a `CONNECT` to anything else
/// is for a forward proxy the app was connecting to (squid), whose business it is.
///
/// [`Policy::decide_original`]: crate::proxy::policy::Policy::decide_original
pub async fn destination(
    state: &ProxyState,
    authority: &str,
    connect: bool,
    marked: bool,
    original: Option<SocketAddr>,
) -> Result<Destination, ProxyError> {
    let config = &state.config;
    let target = state.targets.get_or(authority, || {
        let parsed = NamedTarget::parse(
            authority,
            &config.identity.namespace,
            &config.cluster_domain,
        );
        parsed.map(Arc::new)
    });
    if let Some(original) = original {
        let known = match target.as_deref() {
            Some(NamedTarget::Service { service, .. }) => {
                (!connect || state.policy.opaque_ports.contains(&service.port))
                    && !state.resolve.resolve(service).await.is_empty()
            }
            _ => false,
        };
        if !known {
            // A ClusterIP the app reached by DNS: balanced over the service's pods, as if it
            // had named the service.
            if let Some(service) = state.resolve.service_at(original).await {
                if let Some(d) = cluster_ip_service(state, service, marked).await? {
                    return Ok(d);
                }
            }
            return original_destination(state, original, marked).await;
        }
    }
    let target = target.ok_or_else(|| ProxyError::BadAuthority(authority.to_string()))?;
    match &*target {
        NamedTarget::Addr {
            addr,
            authority: text,
        } => {
            let addr = *addr;
            let known = state.resolve.endpoint(addr).await;
            let named = Named::Address {
                addr,
                known: known.is_some(),
            };
            if let Err(r) = state.policy.decide(named, connect, marked) {
                return Err(refused(state, r, authority, addr.port(), None));
            }
            Ok(Destination {
                authority: text.clone(),
                fqdn: None,
                service: None,
                // A known endpoint keeps its identity (meshed: it gets `mesh-peer`); an allowed
                // address is plain.
                endpoints: vec![known.unwrap_or(Endpoint {
                    addr,
                    identity: None,
                    tls: None,
                })],
                original: false,
            })
        }
        NamedTarget::External => Err(ProxyError::External(authority.to_string())),
        NamedTarget::Service {
            service,
            fqdn,
            authority: text,
            labels,
        } => {
            let endpoints = state.resolve.resolve(service).await;
            let named = Named::Service {
                port: service.port,
                endpoints: &endpoints,
            };
            if let Err(r) = state.policy.decide(named, connect, marked) {
                let mut err = refused(state, r, authority, service.port, Some(service));
                // Discovery may know why it has no endpoints (a refused watch, say): say it.
                if let ProxyError::UnknownService { explained, .. } = &mut err {
                    *explained = state.resolve.explain(service).await;
                }
                return Err(err);
            }
            Ok(Destination {
                authority: text.clone(),
                fqdn: Some(fqdn.clone()),
                service: Some(labels.clone()),
                endpoints,
                original: false,
            })
        }
    }
}

/// `service`'s endpoints for a captured request to its ClusterIP, if it has any and the policy
/// lets the request go there (`None`: none; the caller forwards to the ClusterIP itself).
async fn cluster_ip_service(
    state: &ProxyState,
    service: ServiceName,
    marked: bool,
) -> Result<Option<Destination>, ProxyError> {
    let endpoints = state.resolve.resolve(&service).await;
    if endpoints.is_empty() {
        return Ok(None);
    }
    let authority = service.authority();
    let named = Named::Service {
        port: service.port,
        endpoints: &endpoints,
    };
    if let Err(r) = state.policy.decide(named, false, marked) {
        return Err(refused(state, r, &authority, service.port, Some(&service)));
    }
    let labels = Arc::new(DstService {
        name: Arc::from(service.name.as_str()),
        namespace: Arc::from(service.namespace.as_str()),
    });
    Ok(Some(Destination {
        authority: Arc::from(authority),
        fqdn: Some(Arc::from(service.fqdn())),
        service: Some(labels),
        endpoints,
        original: false,
    }))
}

/// The original destination of a captured request, as its one endpoint (a meshed one when
/// discovery knows the address), if the policy lets it go there.
async fn original_destination(
    state: &ProxyState,
    original: SocketAddr,
    marked: bool,
) -> Result<Destination, ProxyError> {
    let authority = original.to_string();
    if let Err(r) = state.policy.decide_original(original, marked) {
        return Err(refused(state, r, &authority, original.port(), None));
    }
    let known = state.resolve.endpoint(original).await;
    Ok(Destination {
        authority: Arc::from(authority),
        fqdn: None,
        service: None,
        endpoints: vec![known.unwrap_or(Endpoint {
            addr: original,
            identity: None,
            tls: None,
        })],
        original: true,
    })
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
                explained: None,
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
    state.metrics.refused(Direction::Outbound, counted);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_is_parsed_into_the_names_requests_are_counted_and_profiled_under() {
        let parse = |a| NamedTarget::parse(a, "emojivoto", "cluster.local");
        let Some(NamedTarget::Service {
            service,
            fqdn,
            authority,
            labels,
        }) = parse("Web-Svc:8080")
        else {
            panic!("a short service name is a service");
        };
        assert_eq!(service.name, "web-svc");
        assert_eq!(&*fqdn, "web-svc.emojivoto.svc.cluster.local");
        assert_eq!(&*authority, "web-svc.emojivoto.svc.cluster.local:8080");
        assert_eq!(
            (&*labels.name, &*labels.namespace),
            ("web-svc", "emojivoto")
        );
        let Some(NamedTarget::Addr { addr, authority }) = parse("127.0.0.1:9") else {
            panic!("an address is an address");
        };
        assert_eq!((addr.port(), &*authority), (9, "127.0.0.1:9"));
        assert!(matches!(
            parse("www.example.com:443"),
            Some(NamedTarget::External)
        ));
        assert!(parse("web-svc:notaport").is_none());
    }
}
