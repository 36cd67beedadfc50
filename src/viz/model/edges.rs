//! The edges of `mesh edges`: which resources send traffic to which, and whether that traffic was
//! mutual TLS, as either end's proxy saw it.
//!
//! Every series a proxy reports names its peer and how the connection was authenticated, as
//! Linkerd's proxy labels its metrics: inbound, the identity the caller's certificate proved
//! (`client_id`) or why there was none; outbound, the identity the server's proved (`server_id`) or
//! why not (`no_tls_reason`). An edge gathers what both ends said over the window. The end that
//! proved the other's identity also vouches for its own: a proxy's own identity (`tls_id` in its
//! `/stats`) is the `client_id` of its mutual-TLS outbound series and the `server_id` of its
//! inbound ones. Linkerd's metrics API answers the same question from the outbound side alone
//! (`server_id`, `no_tls_reason`), with the client's identity from its pod.

use std::collections::BTreeMap;

use super::{identity_of, Query};
use crate::admin_api::stats::Direction;
use crate::identity::Identity;
use crate::viz::resource::Resource;
use crate::viz::source::ProxyStats;

/// One edge of `mesh edges`: traffic from one resource to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub src: String,
    pub src_namespace: String,
    pub dst: String,
    pub dst_namespace: String,
    /// What the edge's traffic proved of its two ends.
    pub tls: EdgeTls,
}

/// What an edge's traffic in the window proved of its ends: their TLS identities, each a DNS-style
/// name (`web.emojivoto.serviceaccount.identity.mesh.cluster.local`), and why some of the traffic
/// was not mutual TLS, if it was not all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeTls {
    /// The client's identity, when some of the traffic proved it.
    pub client_id: Option<String>,
    /// The server's identity, when some of the traffic proved it.
    pub server_id: Option<String>,
    /// Why some of the traffic was not mutual TLS: a `no_tls_reason` label value
    /// (`no_tls_from_remote`, `not_provided_by_service_discovery`, `local_identity_disabled`).
    /// When both ends gave one, the client's: it is the client that chooses to speak TLS, so its
    /// reason is the cause and the server's the consequence.
    pub no_tls_reason: Option<String>,
}

/// Whether an edge is secured, as the SECURED column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secured<'a> {
    /// All of the edge's traffic that said anything of TLS was mutual TLS.
    Yes,
    /// Some of it was not, for this reason (a `no_tls_reason` label value).
    No(&'a str),
    /// None of its traffic said (opaque TCP alone: the proxy's TCP series carry no TLS state).
    Unknown,
}

// === impl EdgeTls ===

impl EdgeTls {
    /// Whether the edge is secured: mutual TLS proved an identity and no traffic went without.
    pub fn secured(&self) -> Secured<'_> {
        match (&self.no_tls_reason, &self.client_id, &self.server_id) {
            (Some(reason), _, _) => Secured::No(reason),
            (None, None, None) => Secured::Unknown,
            (None, _, _) => Secured::Yes,
        }
    }
}

/// What one edge's series said of TLS so far: the identities first proved, and the first reason
/// each side gave for going without.
#[derive(Default)]
struct Seen {
    client_id: Option<String>,
    server_id: Option<String>,
    client_reason: Option<String>,
    server_reason: Option<String>,
}

// === impl Seen ===

impl Seen {
    /// One series of the proxy whose own identity is `own`: `peer_tls_id` is the peer's proven
    /// identity, `reason` why the series was not mutual TLS (absent both: it did not say).
    fn note(
        &mut self,
        direction: Direction,
        own: Option<&str>,
        peer_tls_id: Option<&str>,
        reason: Option<&str>,
    ) {
        let (mine, theirs, my_reason) = match direction {
            Direction::Outbound => (
                &mut self.client_id,
                &mut self.server_id,
                &mut self.client_reason,
            ),
            Direction::Inbound => (
                &mut self.server_id,
                &mut self.client_id,
                &mut self.server_reason,
            ),
        };
        // An empty value says nothing (Prometheus drops empty labels alike).
        let (peer_tls_id, reason) = (
            peer_tls_id.filter(|id| !id.is_empty()),
            reason.filter(|r| !r.is_empty()),
        );
        if let Some(peer) = peer_tls_id {
            theirs.get_or_insert_with(|| peer.to_string());
            if let Some(own) = own {
                mine.get_or_insert_with(|| own.to_string());
            }
        }
        if let Some(reason) = reason {
            my_reason.get_or_insert_with(|| reason.to_string());
        }
    }

    fn finish(self) -> EdgeTls {
        EdgeTls {
            client_id: self.client_id,
            server_id: self.server_id,
            no_tls_reason: self.client_reason.or(self.server_reason),
        }
    }
}

/// A row of one end: (name, namespace).
type End = (String, String);

/// The edges between resources of the queried kinds, seen by either end's proxy, sorted by source
/// then destination (name before namespace).
pub fn edges(query: &Query, proxies: &[ProxyStats]) -> Vec<Edge> {
    let mut out: BTreeMap<(End, End), Seen> = BTreeMap::new();
    for resource in &query.resources {
        let row = |id: &Identity| {
            query
                .row_of(resource, id)
                .map(|name| (name, id.namespace.clone()))
        };
        for p in proxies {
            let Some(me) = row(&p.identity) else { continue };
            let Ok(report) = &p.stats else { continue };
            let own = report.tls_id.as_deref();
            let series = report
                .http
                .iter()
                .filter_map(|h| {
                    let tls = (h.peer_tls_id.as_deref(), h.no_tls_reason.as_deref());
                    Some((h.direction, h.peer.as_ref()?, tls))
                })
                .chain(report.tcp.iter().filter_map(|t| {
                    let tls = (t.peer_tls_id.as_deref(), t.no_tls_reason.as_deref());
                    Some((t.direction, t.peer.as_ref()?, tls))
                }));
            // A peer is any resource of the type: `edges deploy/web` lists web's edges with the
            // other deployments (matched by its own name, a peer would have to be web itself).
            let peer_type = Resource {
                kind: resource.kind,
                name: None,
            };
            for (direction, peer, (peer_tls_id, reason)) in series {
                // A peer outside the scope still counts: edges cross namespaces.
                let Some(peer) = identity_of(peer)
                    .and_then(|id| peer_type.row_of(&id).map(|n| (n, id.namespace)))
                else {
                    continue;
                };
                let key = match direction {
                    Direction::Outbound => (me.clone(), peer),
                    Direction::Inbound => (peer, me.clone()),
                };
                out.entry(key)
                    .or_default()
                    .note(direction, own, peer_tls_id, reason);
            }
        }
    }
    out.into_iter()
        .map(|((src, dst), seen)| Edge {
            src: src.0,
            src_namespace: src.1,
            dst: dst.0,
            dst_namespace: dst.1,
            tls: seen.finish(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
