//! The ServiceProfile routes in force for a proxy's traffic: what `mesh routes` lists, as
//! `linkerd viz routes` lists a ServiceProfile's routes rather than every route that ever had
//! numbers. A proxy says it in `/stats` (`profile_routes`) and in `/metrics`
//! (`profile_route_info`, so that a Prometheus source knows it too): a route a reload removed
//! leaves both at the next answer or scrape, while its counters (and Prometheus' series) stay.

use crate::admin_api::stats::{Direction, ProfileRoutes};
use crate::profile::matcher::DEFAULT_ROUTE;
use crate::proxy::state::ProxyState;

/// The routes in force inbound, for each service this proxy serves, and outbound, for each of
/// `outbound` (`fqdn:port` authorities it sent requests to): the profile's routes and
/// `[DEFAULT]`, or `[DEFAULT]` alone where no profile applies (none loaded, or removed), so a
/// reader can tell "no profile" from "not said".
pub(super) fn in_force(
    state: &ProxyState,
    outbound: impl IntoIterator<Item = String>,
) -> Vec<ProfileRoutes> {
    let config = &state.config;
    let mut wanted: Vec<(Direction, String)> = config
        .services
        .iter()
        .map(|s| {
            (
                Direction::Inbound,
                format!(
                    "{}.{}.svc.{}:{}",
                    s.name, config.identity.namespace, config.cluster_domain, s.port
                ),
            )
        })
        .chain(outbound.into_iter().map(|a| (Direction::Outbound, a)))
        .collect();
    wanted.sort();
    wanted.dedup();
    wanted
        .into_iter()
        .map(|(direction, authority)| {
            let fqdn = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h);
            let mut routes: Vec<String> = state.profiles.get(fqdn).map_or_else(Vec::new, |p| {
                p.matcher
                    .routes()
                    .iter()
                    .map(|r| r.name.to_string())
                    .collect()
            });
            routes.push(DEFAULT_ROUTE.to_string());
            ProfileRoutes {
                direction,
                authority,
                routes,
            }
        })
        .collect()
}
