//! From a series' labels to what it describes: the proxy that exported it (its own
//! `namespace`, workload kind label and `pod`), the peer (`src_*` inbound, `dst_*` outbound) and
//! how it was authenticated (`tls`, `client_id`/`server_id`, `no_tls_reason`), the direction, and
//! the HTTP or TCP series of the report being rebuilt.

use std::collections::{BTreeMap, HashMap};

use super::{Building, HttpKey, PeerTls, ProxyKey, TcpKey};
use crate::admin_api::stats::{
    Direction, HttpStats, PeerSide, ResponseStats, TcpStats, WorkloadRef,
};
use crate::identity::{Identity, Workload, WorkloadKind};

/// The proxy a series belongs to, by its own labels: namespace, workload kind label, pod.
pub(super) fn proxy_of(labels: &HashMap<String, String>) -> Option<(ProxyKey, Identity)> {
    let id = identity(labels, "")?;
    Some(((id.namespace.clone(), id.pod.clone()), id))
}

pub(super) fn identity(labels: &HashMap<String, String>, prefix: &str) -> Option<Identity> {
    let get = |k: &str| labels.get(&format!("{prefix}{k}")).cloned();
    let namespace = get("namespace")?;
    // `dst_namespace` alone names a service (`dst_service`) whose endpoint is not meshed.
    if get("pod").is_none() && !WorkloadKind::ALL.iter().any(|k| get(k.label()).is_some()) {
        return None;
    }
    let pod = get("pod").unwrap_or_default();
    let workload = WorkloadKind::ALL
        .iter()
        .filter(|k| **k != WorkloadKind::Pod)
        .find_map(|k| get(k.label()).map(|name| Workload { kind: *k, name }))
        .unwrap_or(Workload {
            kind: WorkloadKind::Pod,
            name: pod.clone(),
        });
    Some(Identity {
        namespace,
        workload,
        pod,
    })
}

pub(super) fn peer_of(
    labels: &HashMap<String, String>,
    direction: Direction,
) -> Option<WorkloadRef> {
    identity(labels, direction.peer_prefix()).map(|id| WorkloadRef {
        namespace: id.namespace,
        workload: id.workload.to_string(),
        pod: id.pod,
    })
}

/// The peer's TLS state as Linkerd's proxy labels it: with `tls="true"`, the identity the peer
/// proved (`client_id` inbound, `server_id` outbound); else `no_tls_reason`. A series without
/// either (`tls="no_identity"` alone, as the proxy labels TCP) says nothing.
pub(super) fn tls_of(labels: &HashMap<String, String>, direction: Direction) -> PeerTls {
    let id = match direction {
        Direction::Inbound => "client_id",
        Direction::Outbound => "server_id",
    };
    match labels.get("tls").map(String::as_str) {
        Some("true") => (labels.get(id).cloned(), None),
        _ => (None, labels.get("no_tls_reason").cloned()),
    }
}

pub(super) fn direction_of(labels: &HashMap<String, String>) -> Option<Direction> {
    match labels.get("direction")?.as_str() {
        "inbound" => Some(Direction::Inbound),
        "outbound" => Some(Direction::Outbound),
        _ => None,
    }
}

pub(super) fn http_entry<'a>(
    proxies: &'a mut BTreeMap<ProxyKey, Building>,
    labels: &HashMap<String, String>,
) -> Option<(&'a mut Building, HttpKey)> {
    let (key, id) = proxy_of(labels)?;
    let direction = direction_of(labels)?;
    let authority = labels.get("dst").cloned().unwrap_or_default();
    let route = labels.get("rt_route").cloned().unwrap_or_default();
    let peer = peer_of(labels, direction);
    let tls = tls_of(labels, direction);
    let b = proxies.entry(key).or_default();
    b.identity.get_or_insert(id);
    let hk = (
        direction,
        authority.clone(),
        route.clone(),
        peer.clone(),
        tls.clone(),
    );
    b.http.entry(hk.clone()).or_insert_with(|| HttpStats {
        direction,
        authority,
        route,
        peer,
        peer_tls_id: tls.0,
        no_tls_reason: tls.1,
        requests: 0,
        responses: ResponseStats::default(),
        actual_responses: ResponseStats::default(),
    });
    Some((b, hk))
}

pub(super) fn tcp_entry<'a>(
    proxies: &'a mut BTreeMap<ProxyKey, Building>,
    labels: &HashMap<String, String>,
) -> Option<(&'a mut Building, TcpKey)> {
    let (key, id) = proxy_of(labels)?;
    let direction = direction_of(labels)?;
    let side = match labels.get("peer")?.as_str() {
        "src" => PeerSide::Src,
        _ => PeerSide::Dst,
    };
    let peer = peer_of(labels, direction);
    let tls = tls_of(labels, direction);
    let b = proxies.entry(key).or_default();
    b.identity.get_or_insert(id);
    let tk = (direction, side, peer.clone(), tls.clone());
    b.tcp.entry(tk.clone()).or_insert_with(|| TcpStats {
        direction,
        peer_side: side,
        peer,
        peer_tls_id: tls.0,
        no_tls_reason: tls.1,
        opened: 0,
        closed: 0,
        open: 0,
        read_bytes: 0,
        write_bytes: 0,
    });
    Some((b, tk))
}
