//! `mesh tap`: which proxies a resource names, the tap query sent to each, and how their events
//! read as text. The streams themselves are in [`source`].
//!
//! ```text
//! RESOURCE (-n/-A) ──► registry records ──► admin /tap?query (one per proxy, concurrently)
//!     ──► merged JSON lines ──► text | wide ([`render`], as Linkerd prints them) | JSON
//! ```

pub mod render;
pub mod source;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::admin_api::tap::{ProxyDirection, TapEventKind, TapQuery};
use crate::identity::WorkloadKind;
use crate::registry::ProxyRecord;
use crate::viz::lookup::NoProxyFound;
use crate::viz::resource::{Resource, ResourceKind};

pub use render::{render_text, render_wide};
pub use source::{merge, TapError, TapItem, TapStream};

/// The proxies `mesh tap` opens a stream to: their admin addresses, and how to name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapTargets {
    pub admins: Vec<SocketAddr>,
    /// `deploy/web (emojivoto)`: what is tapped, for the "tapping …" line and errors.
    pub described: String,
}

/// The proxies to tap for `resource` in `namespace` (every one with `None`): the admin addresses
/// given, when any, else the proxies of the registry in `registry` that the resource selects.
pub fn targets(
    resource: &Resource,
    namespace: Option<&str>,
    admins: &[SocketAddr],
    registry: &Path,
) -> Result<TapTargets, NoProxyFound> {
    if !admins.is_empty() {
        let place = namespace.unwrap_or("all namespaces");
        return Ok(TapTargets {
            admins: admins.to_vec(),
            described: format!("{resource} ({place})"),
        });
    }
    let records = crate::registry::read_records(registry);
    let selected = select(&records, resource, namespace);
    if selected.is_empty() {
        return Err(NoProxyFound::new(
            std::slice::from_ref(resource),
            namespace,
            registry,
            &records,
        ));
    }
    Ok(TapTargets {
        admins: admin_addrs(&selected),
        described: describe(&selected),
    })
}

/// Narrows `query` to requests whose destination is `resource` (`--to`), in `namespace`.
pub fn narrow_destination(resource: &Resource, query: &mut TapQuery, namespace: &str) {
    match (resource.kind, &resource.name) {
        (ResourceKind::Service, name) => {
            query.to_namespace = Some(namespace.to_string());
            query.authority = name.clone();
        }
        (ResourceKind::Namespace, name) => query.to_namespace = name.clone(),
        (ResourceKind::Workload(WorkloadKind::Pod), name) => {
            query.to_namespace = Some(namespace.to_string());
            query.to_pod = name.clone();
        }
        (ResourceKind::Workload(kind), name) => {
            query.to_namespace = Some(namespace.to_string());
            query.to_workload = name.as_ref().map(|n| format!("{}/{n}", kind.short()));
        }
    }
}

/// The proxies in `records` that `resource` selects (in `namespace`, or every one with `None`).
pub fn select<'a>(
    records: &'a [ProxyRecord],
    resource: &Resource,
    namespace: Option<&str>,
) -> Vec<&'a ProxyRecord> {
    records
        .iter()
        .filter(|r| resource.selects(r, namespace))
        .collect()
}

/// `deploy/web (emojivoto), deploy/voting (emojivoto)`: the distinct workloads of `records`.
pub fn describe(records: &[&ProxyRecord]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for r in records {
        let name = format!("{} ({})", r.workload, r.namespace);
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen.join(", ")
}

/// The admin addresses of `records`.
pub fn admin_addrs(records: &[&ProxyRecord]) -> Vec<SocketAddr> {
    records.iter().map(|r| r.admin).collect()
}

/// `mesh profile --tap`: the `(method, path)` of every request the proxies at `admins` receive
/// during `duration`, sending `token` to public admin ports. `tick` is called about every 100 ms with the time elapsed (for a progress
/// bar). Fails only when no proxy could be tapped.
pub async fn observe_requests(
    admins: Vec<SocketAddr>,
    token: Option<Arc<str>>,
    duration: std::time::Duration,
    tick: impl Fn(std::time::Duration),
) -> Result<Vec<(String, String)>, TapError> {
    let query = TapQuery {
        direction: Some(ProxyDirection::Inbound),
        // Every request matters for the routes; the proxies' buffers still bound memory.
        max_rps: 10_000.0,
        ..TapQuery::new()
    };
    let mut streams = Vec::new();
    let mut first_error = None;
    for addr in admins {
        match TapStream::open_with_token(addr, &query, token.as_deref()).await {
            Ok(s) => streams.push(s),
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    if streams.is_empty() {
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    let mut lines = merge(streams);
    let start = tokio::time::Instant::now();
    let deadline = start + duration;
    let mut ticks = tokio::time::interval(std::time::Duration::from_millis(100));
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = ticks.tick() => tick(start.elapsed()),
            line = lines.recv() => match line {
                Some(TapItem::Line(crate::admin_api::tap::TapLine::Event(event))) => {
                    if let TapEventKind::RequestInitEvent(r) = event.kind {
                        seen.push((r.method, r.path));
                    }
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    tick(duration);
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ns: &str, workload: &str, pod: &str) -> ProxyRecord {
        ProxyRecord {
            namespace: ns.into(),
            workload: workload.into(),
            pod: pod.into(),
            services: vec![],
            inbound: None,
            admin: "127.0.0.1:4191".parse().unwrap(),
            outbound: None,
            tls_id: None,
            pid: 1,
        }
    }

    #[test]
    fn resources_select_their_proxies() {
        let records = [
            record("emojivoto", "deploy/web", "web-0"),
            record("emojivoto", "deploy/voting", "voting-0"),
            record("other", "deploy/web", "web-0"),
            record("emojivoto", "sts/zk", "zk-0"),
        ];
        let pick = |r: &str, ns| select(&records, &r.parse().unwrap(), ns).len();
        assert_eq!(pick("deploy/web", Some("emojivoto")), 1);
        assert_eq!(pick("deploy/web", None), 2);
        assert_eq!(pick("deploy", Some("emojivoto")), 2);
        assert_eq!(pick("po/zk-0", Some("emojivoto")), 1);
        assert_eq!(pick("ns/emojivoto", Some("default")), 3);
        assert_eq!(pick("deploy/nope", Some("emojivoto")), 0);
        assert!("cm/x".parse::<Resource>().is_err());
    }

    #[test]
    fn targets_are_the_addresses_given_or_the_registrys_proxies() {
        let web: Resource = "deploy/web".parse().unwrap();
        let admin: SocketAddr = ([127, 0, 0, 1], 4191).into();
        let dir = tempfile::tempdir().unwrap();
        let given = targets(&web, Some("emojivoto"), &[admin], dir.path()).unwrap();
        assert_eq!(given.admins, [admin]);
        assert_eq!(given.described, "deploy/web (emojivoto)");

        let err = targets(&web, None, &[], dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("no proxies registered for deploy/web in any namespace (registry "),
            "{text}"
        );
        assert!(text.ends_with("or pass --proxy-admin ADDR"), "{text}");
    }
}
