//! Resource selectors, as operators type them: `deploy`, `deploy/web`, `deploy web voting`,
//! `po/web-0`, `ns/emojivoto`, `sts`, … — the words `kubectl` and Linkerd use.

use std::fmt;

use crate::identity::{Identity, WorkloadKind};
use crate::registry::ProxyRecord;

/// What kind of thing a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Namespace,
    Workload(WorkloadKind),
    /// A Kubernetes Service: the proxies that serve it (`--service NAME`), and requests to it.
    Service,
}

/// One selector: a kind, and a name unless it means all of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: ResourceKind,
    pub name: Option<String>,
}

/// Kinds accepted, for error messages.
const ACCEPTED: &str =
    "ns, deploy, sts, ds, job, cj, rs, rc, po or svc (e.g. deploy/web, po/web-0, ns/emojivoto, svc/web-svc)";

/// Why words are not resource selectors; the text says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("unknown resource type {word:?}: expected one of {ACCEPTED}")]
    UnknownType { word: String },
    #[error("give a resource: one of {ACCEPTED}")]
    Missing,
    #[error(
        "{name:?}: after a type, give plain names (deploy web voting), or use TYPE/NAME everywhere"
    )]
    NameAfterType { name: String },
    #[error("{arg:?}: expected TYPE/NAME, e.g. deploy/web")]
    NotTypeSlashName { arg: String },
}

impl ResourceKind {
    /// Parses a kind word (`deploy`, `deployments`, `ns`, …).
    pub fn parse(word: &str) -> Result<Self, ResourceError> {
        match word.to_ascii_lowercase().as_str() {
            "ns" | "namespace" | "namespaces" => Ok(ResourceKind::Namespace),
            "svc" | "service" | "services" => Ok(ResourceKind::Service),
            other => WorkloadKind::parse(other)
                .map(ResourceKind::Workload)
                .ok_or_else(|| ResourceError::UnknownType {
                    word: word.to_string(),
                }),
        }
    }

    /// The word used in output (`namespace`, `deployment`, `pod`), as Linkerd's JSON does.
    pub fn word(self) -> &'static str {
        match self {
            ResourceKind::Namespace => "namespace",
            ResourceKind::Service => "service",
            ResourceKind::Workload(WorkloadKind::Deployment) => "deployment",
            ResourceKind::Workload(WorkloadKind::StatefulSet) => "statefulset",
            ResourceKind::Workload(WorkloadKind::DaemonSet) => "daemonset",
            ResourceKind::Workload(WorkloadKind::Job) => "job",
            ResourceKind::Workload(WorkloadKind::ReplicaSet) => "replicaset",
            ResourceKind::Workload(WorkloadKind::Pod) => "pod",
            ResourceKind::Workload(WorkloadKind::ReplicationController) => "replicationcontroller",
            ResourceKind::Workload(WorkloadKind::CronJob) => "cronjob",
        }
    }

    /// The short word (`deploy`), for `type/name` keys.
    pub fn short(self) -> &'static str {
        match self {
            ResourceKind::Namespace => "ns",
            ResourceKind::Service => "svc",
            ResourceKind::Workload(k) => k.short(),
        }
    }
}

impl Resource {
    /// The name of the row a proxy of `identity` counts in, if this selector covers it.
    pub fn row_of(&self, identity: &Identity) -> Option<String> {
        let name = match self.kind {
            // Services are not identities: see `rows_of_services`.
            ResourceKind::Service => return None,
            ResourceKind::Namespace => identity.namespace.clone(),
            ResourceKind::Workload(WorkloadKind::Pod) => identity.pod.clone(),
            ResourceKind::Workload(kind) if identity.workload.kind == kind => {
                identity.workload.name.clone()
            }
            ResourceKind::Workload(_) => return None,
        };
        match &self.name {
            Some(wanted) if *wanted != name => None,
            _ => Some(name),
        }
    }

    /// The rows of a proxy serving `services` for a `svc` selector.
    pub fn rows_of_services(&self, services: &[String]) -> Vec<String> {
        if self.kind != ResourceKind::Service {
            return Vec::new();
        }
        services
            .iter()
            .filter(|s| self.name.as_ref().is_none_or(|n| n == *s))
            .cloned()
            .collect()
    }

    /// Whether a proxy of `identity`, serving `services`, belongs to this resource.
    pub fn covers(&self, identity: &Identity, services: &[String]) -> bool {
        self.matches(identity) || !self.rows_of_services(services).is_empty()
    }

    /// Whether a registered proxy belongs to this resource, in `namespace` (every one with `None`;
    /// a namespace selector names its own).
    pub fn selects(&self, record: &ProxyRecord, namespace: Option<&str>) -> bool {
        let Some(identity) = record.identity() else {
            return false;
        };
        let in_scope = self.kind == ResourceKind::Namespace
            || namespace.is_none_or(|n| n == identity.namespace);
        let services: Vec<String> = record.services.iter().map(|s| s.name.clone()).collect();
        in_scope && self.covers(&identity, &services)
    }

    /// Whether a proxy of `identity` belongs to this resource.
    pub fn matches(&self, identity: &Identity) -> bool {
        self.row_of(identity).is_some()
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{n}", self.kind.short()),
            None => f.write_str(self.kind.short()),
        }
    }
}

impl std::str::FromStr for Resource {
    type Err = ResourceError;

    /// One `TYPE` or `TYPE/NAME`.
    fn from_str(s: &str) -> Result<Self, ResourceError> {
        parse_one(s)
    }
}

/// Parses `TYPE`, `TYPE/NAME`, `TYPE/NAME TYPE/NAME…` or `TYPE NAME NAME…`.
pub fn parse_resources(args: &[String]) -> Result<Vec<Resource>, ResourceError> {
    let Some(first) = args.first() else {
        return Err(ResourceError::Missing);
    };
    if !first.contains('/') {
        let kind = ResourceKind::parse(first)?;
        if args.len() == 1 {
            return Ok(vec![Resource { kind, name: None }]);
        }
        return args[1..]
            .iter()
            .map(|name| {
                if name.contains('/') {
                    Err(ResourceError::NameAfterType { name: name.clone() })
                } else {
                    Ok(Resource {
                        kind,
                        name: Some(name.clone()),
                    })
                }
            })
            .collect();
    }
    args.iter().map(|a| parse_one(a)).collect()
}

/// Parses one `TYPE` or `TYPE/NAME`.
pub fn parse_one(arg: &str) -> Result<Resource, ResourceError> {
    match arg.split_once('/') {
        Some((kind, name)) if !name.is_empty() && !name.contains('/') => Ok(Resource {
            kind: ResourceKind::parse(kind)?,
            name: Some(name.to_string()),
        }),
        Some(_) => Err(ResourceError::NotTypeSlashName {
            arg: arg.to_string(),
        }),
        None => Ok(Resource {
            kind: ResourceKind::parse(arg)?,
            name: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn selectors_parse_in_every_form() {
        let web = Resource {
            kind: ResourceKind::Workload(WorkloadKind::Deployment),
            name: Some("web".into()),
        };
        assert_eq!(
            parse_resources(&args("deploy/web")).unwrap(),
            vec![web.clone()]
        );
        assert_eq!(
            parse_resources(&args("deployments web voting"))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_resources(&args("ns")).unwrap()[0].kind,
            ResourceKind::Namespace
        );
        assert!(parse_resources(&args("cm/x"))
            .unwrap_err()
            .to_string()
            .contains("unknown resource type"));
        assert_eq!(
            parse_resources(&args("svc/web")).unwrap()[0].kind,
            ResourceKind::Service
        );
        assert!(parse_resources(&[]).is_err());
    }

    #[test]
    fn rows_follow_the_kind() {
        let id = Identity {
            namespace: "emojivoto".into(),
            workload: "deploy/web".parse().unwrap(),
            pod: "web-0".into(),
        };
        assert_eq!(
            parse_one("deploy").unwrap().row_of(&id).as_deref(),
            Some("web")
        );
        assert_eq!(
            parse_one("po").unwrap().row_of(&id).as_deref(),
            Some("web-0")
        );
        assert_eq!(
            parse_one("ns").unwrap().row_of(&id).as_deref(),
            Some("emojivoto")
        );
        assert_eq!(parse_one("sts").unwrap().row_of(&id), None);
        assert_eq!(parse_one("deploy/voting").unwrap().row_of(&id), None);
    }
}
