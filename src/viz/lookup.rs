//! What `mesh stat/routes/edges/tap` and `mesh profile --tap` say when the local registry has no
//! proxy for the resources asked for: one error, worded once, that names what was looked for and
//! where, and what the registry does hold: the closest name (`deploy/votes` → `deploy/voting`), the
//! namespace a name runs in when `-n` was another, a namespace given as a resource name (`-ns
//! emojivoto` reads as `-n s` followed by the name `emojivoto`), and the workloads registered.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::resource::{Resource, ResourceKind};
use crate::identity::WorkloadKind;
use crate::registry::ProxyRecord;

/// Most registered workloads listed in the error; more are counted.
const MAX_LISTED: usize = 12;

/// No registered proxy is selected by the resources asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no proxies registered for {resources} in {scope} (registry {}){hints}: start the workload's \
     proxy with `mesh proxy --workload KIND/NAME -n NAMESPACE`, pass -n or -A, point --registry \
     at the proxies' registry, or pass --proxy-admin ADDR",
    dir.display()
)]
pub struct NoProxyFound {
    /// `deploy/web, deploy/voting`.
    pub resources: String,
    /// `namespace emojivoto` or `any namespace`.
    pub scope: String,
    pub dir: PathBuf,
    /// What the registry holds that may be what was meant (boxed: the error stays small).
    pub hints: Box<Hints>,
}

/// The suggestions of a [`NoProxyFound`], printed `; did you mean …; registered: …`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// `deploy/voting (emojivoto)`, `-n emojivoto`, …: one per resource that has a likely intent.
    pub did_you_mean: Vec<String>,
    /// `deploy/web (emojivoto)`: the registered workloads, sorted, at most `MAX_LISTED`.
    pub registered: Vec<String>,
    /// How many more are registered than listed.
    pub more: usize,
    /// Whether the registry is empty while `KUBECONFIG` is set: the caller is likely asking about
    /// a cluster, whose proxies no local registry holds.
    pub cluster: bool,
}

impl NoProxyFound {
    /// The error for `resources` in `namespace` (every one with `None`), with hints from the
    /// `records` of the registry in `dir`.
    pub fn new(
        resources: &[Resource],
        namespace: Option<&str>,
        dir: &Path,
        records: &[ProxyRecord],
    ) -> Self {
        let workloads: BTreeSet<String> = records
            .iter()
            .map(|r| format!("{} ({})", r.workload, r.namespace))
            .collect();
        let hints = Box::new(Hints {
            did_you_mean: resources
                .iter()
                .filter_map(|r| did_you_mean(r, namespace, records))
                .collect(),
            more: workloads.len().saturating_sub(MAX_LISTED),
            registered: workloads.into_iter().take(MAX_LISTED).collect(),
            cluster: records.is_empty() && std::env::var_os("KUBECONFIG").is_some(),
        });
        NoProxyFound {
            resources: resources
                .iter()
                .map(Resource::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            scope: namespace.map_or("any namespace".to_string(), |ns| format!("namespace {ns}")),
            dir: dir.to_path_buf(),
            hints,
        }
    }
}

/// Checks a peer (`--to`/`--from`) against the registry's `records`: a named workload or pod that
/// no proxy registered in `namespace` (every one with `None`) is an error with the same hints as a
/// resource not found, so that a typo (`deploy/votes`) is not read as a peer without traffic.
/// Services and namespaces pass: a service may be reached without a registered proxy, and a
/// namespace is no typo of a workload.
pub fn check_peer(
    peer: &Resource,
    namespace: Option<&str>,
    dir: &Path,
    records: &[ProxyRecord],
) -> Result<(), NoProxyFound> {
    let named_workload = matches!(peer.kind, ResourceKind::Workload(_)) && peer.name.is_some();
    if !named_workload || records.iter().any(|r| peer.selects(r, namespace)) {
        return Ok(());
    }
    Err(NoProxyFound::new(
        std::slice::from_ref(peer),
        namespace,
        dir,
        records,
    ))
}

impl fmt::Display for Hints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.did_you_mean.is_empty() {
            write!(f, "; did you mean {}?", self.did_you_mean.join(", or "))?;
        }
        match (self.registered.is_empty(), self.more) {
            (true, _) => f.write_str("; none is registered there"),
            (false, 0) => write!(f, "; registered: {}", self.registered.join(", ")),
            (false, more) => write!(
                f,
                "; registered: {} and {more} more",
                self.registered.join(", ")
            ),
        }?;
        if self.cluster {
            f.write_str(
                "; KUBECONFIG is set, but the local registry knows only this machine's proxies: \
                 in a cluster, read what the proxies measured from Prometheus (--prometheus URL, \
                 scraping them as `mesh install`'s scrape config does)",
            )?;
        }
        Ok(())
    }
}

/// What `resource` (not found in `namespace`) most likely meant, from what is registered: the same
/// name in another namespace, a namespace given as the name, or the closest name of its kind.
fn did_you_mean(
    resource: &Resource,
    namespace: Option<&str>,
    records: &[ProxyRecord],
) -> Option<String> {
    let name = resource.name.as_deref()?;
    // (name, namespace) of every registered thing of the resource's kind.
    let candidates: BTreeSet<(String, String)> = records
        .iter()
        .flat_map(|r| {
            names_of(resource.kind, r)
                .into_iter()
                .map(|n| (n, r.namespace.clone()))
        })
        .collect();
    let kind = resource.kind.short();
    if resource.kind != ResourceKind::Namespace {
        if let Some((_, ns)) = candidates.iter().find(|(n, _)| n == name) {
            return Some(format!("{kind}/{name} in namespace {ns} (-n {ns})"));
        }
        if namespace.is_some() && records.iter().any(|r| r.namespace == name) {
            return Some(format!(
                "-n {name} ({name} is a namespace, here read as a {kind} name)"
            ));
        }
    }
    candidates
        .iter()
        .map(|(n, ns)| (strsim::levenshtein(name, n), n, ns))
        // Close: at most half the longer name's characters differ (`votes` → `voting`: 3 of 6).
        .filter(|(d, n, _)| *d <= name.chars().count().max(n.chars().count()).div_ceil(2))
        .min()
        .map(|(_, n, ns)| format!("{kind}/{n} ({ns})"))
}

/// The names a registered proxy answers to as a resource of `kind`.
fn names_of(kind: ResourceKind, record: &ProxyRecord) -> Vec<String> {
    match kind {
        ResourceKind::Namespace => vec![record.namespace.clone()],
        ResourceKind::Service => record.services.iter().map(|s| s.name.clone()).collect(),
        ResourceKind::Workload(WorkloadKind::Pod) => vec![record.pod.clone()],
        ResourceKind::Workload(wanted) => record
            .identity()
            .filter(|id| id.workload.kind == wanted)
            .map(|id| vec![id.workload.name])
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(namespace: &str, workload: &str, pod: &str) -> ProxyRecord {
        ProxyRecord {
            namespace: namespace.into(),
            workload: workload.into(),
            pod: pod.into(),
            services: Vec::new(),
            inbound: None,
            admin: ([127, 0, 0, 1], 4191).into(),
            outbound: None,
            tls_id: None,
            pid: 1,
        }
    }

    fn hint(resource: &str, namespace: Option<&str>, records: &[ProxyRecord]) -> Option<String> {
        did_you_mean(&resource.parse().unwrap(), namespace, records)
    }

    #[test]
    fn a_peer_no_proxy_registered_gets_the_hints_of_a_resource() {
        let records = [
            record("emojivoto", "deploy/voting", "voting-0"),
            record("emojivoto", "deploy/web", "web-0"),
        ];
        let dir = Path::new("/registry");
        let check = |peer: &str, ns| check_peer(&peer.parse().unwrap(), ns, dir, &records);
        let err = check("deploy/votes", None).unwrap_err();
        assert_eq!(err.hints.did_you_mean, ["deploy/voting (emojivoto)"]);
        assert!(check("deploy/voting", None).is_ok());
        assert!(check("po/voting-0", Some("emojivoto")).is_ok());
        assert!(check("deploy/voting", Some("default")).is_err());
        for unchecked in ["deploy", "svc/votes-svc", "ns/nowhere"] {
            assert!(check(unchecked, Some("emojivoto")).is_ok(), "{unchecked}");
        }
    }

    #[test]
    fn hints_name_what_was_probably_meant() {
        let records = [
            record("emojivoto", "deploy/voting", "voting-0"),
            record("emojivoto", "deploy/web", "web-0"),
        ];
        let ns = Some("emojivoto");
        for typo in ["deploy/votng", "deploy/votes", "deploy/Voting"] {
            assert_eq!(
                hint(typo, ns, &records).as_deref(),
                Some("deploy/voting (emojivoto)"),
                "{typo}"
            );
        }
        assert_eq!(
            hint("deploy/web", Some("default"), &records).as_deref(),
            Some("deploy/web in namespace emojivoto (-n emojivoto)")
        );
        assert_eq!(
            hint("deploy/emojivoto", Some("s"), &records).as_deref(),
            Some("-n emojivoto (emojivoto is a namespace, here read as a deploy name)")
        );
        assert_eq!(hint("deploy/payments", ns, &records), None);
        assert_eq!(hint("deploy", ns, &records), None);
    }
}
