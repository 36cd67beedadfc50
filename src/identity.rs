//! Workload identity: which namespace, workload (`deploy/web`) and pod a proxy, an endpoint or a
//! peer belongs to. Proxies learn theirs from flags or the environment (in Kubernetes, the downward
//! API); the CLI's resource selectors use the same words.

use std::fmt;
use std::str::FromStr;

use crate::profile::names::{check_dns1123_subdomain, NameError};

/// Kinds of workload, as Kubernetes names them: every kind Linkerd's proxy injector labels a pod
/// with (`linkerd.io/proxy-<kind>`, which its Prometheus turns into the `<kind>` label), and pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    ReplicaSet,
    Pod,
    ReplicationController,
    CronJob,
}

impl WorkloadKind {
    /// Every kind, in a stable order.
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::ReplicaSet,
        WorkloadKind::Pod,
        WorkloadKind::ReplicationController,
        WorkloadKind::CronJob,
    ];

    /// Parses `deploy`, `deployment`, `deployments`, `sts`, `statefulset`, `po`, `pod`, `rc`,
    /// `cj` … : the singular, the plural and kubectl's short name of each kind.
    pub fn parse(word: &str) -> Option<Self> {
        let kind = match word.to_ascii_lowercase().as_str() {
            "deploy" | "deployment" | "deployments" => WorkloadKind::Deployment,
            "sts" | "statefulset" | "statefulsets" => WorkloadKind::StatefulSet,
            "ds" | "daemonset" | "daemonsets" => WorkloadKind::DaemonSet,
            "job" | "jobs" => WorkloadKind::Job,
            "rs" | "replicaset" | "replicasets" => WorkloadKind::ReplicaSet,
            "po" | "pod" | "pods" => WorkloadKind::Pod,
            "rc" | "replicationcontroller" | "replicationcontrollers" => {
                WorkloadKind::ReplicationController
            }
            "cj" | "cronjob" | "cronjobs" => WorkloadKind::CronJob,
            _ => return None,
        };
        Some(kind)
    }

    /// The short name used in resource selectors (`deploy`).
    pub fn short(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deploy",
            WorkloadKind::StatefulSet => "sts",
            WorkloadKind::DaemonSet => "ds",
            WorkloadKind::Job => "job",
            WorkloadKind::ReplicaSet => "rs",
            WorkloadKind::Pod => "po",
            WorkloadKind::ReplicationController => "rc",
            WorkloadKind::CronJob => "cj",
        }
    }

    /// The metric label key Linkerd uses for this kind (`deployment`, `dst_deployment`); a job's is
    /// `k8s_job`, since Prometheus keeps `job` for the scrape job.
    pub fn label(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
            WorkloadKind::Job => "k8s_job",
            WorkloadKind::ReplicaSet => "replicaset",
            WorkloadKind::Pod => "pod",
            WorkloadKind::ReplicationController => "replicationcontroller",
            WorkloadKind::CronJob => "cronjob",
        }
    }
}

/// A workload: kind and name, written `deploy/web`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
}

/// Why a text is not a workload (`deploy/web`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    #[error("{text:?} is not a workload: expected KIND/NAME, e.g. deploy/web")]
    NotKindSlashName { text: String },
    #[error("{text:?}: unknown workload kind {kind:?} (expected deploy, sts, ds, job, cj, rs, rc or po)")]
    UnknownKind { text: String, kind: String },
    // The name's fault is part of the text, not a `source()`: clap shows parse errors as one text.
    #[error("{text:?}: {reason}")]
    BadName { text: String, reason: NameError },
}

impl FromStr for Workload {
    type Err = WorkloadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = || s.to_string();
        let (kind, name) = s
            .split_once('/')
            .ok_or_else(|| WorkloadError::NotKindSlashName { text: text() })?;
        let kind = WorkloadKind::parse(kind).ok_or_else(|| WorkloadError::UnknownKind {
            text: text(),
            kind: kind.to_string(),
        })?;
        check_dns1123_subdomain(name).map_err(|reason| WorkloadError::BadName {
            text: text(),
            reason,
        })?;
        Ok(Workload {
            kind,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.short(), self.name)
    }
}

/// Who a proxy (or an endpoint, or a peer) is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub namespace: String,
    pub workload: Workload,
    pub pod: String,
}

/// The header an outbound proxy adds so the inbound proxy on the other side knows its peer:
/// `namespace=emojivoto;workload=deploy/vote-bot;pod=vote-bot-0`. It is not authenticated: over
/// mutual TLS the inbound believes it only for the workload and pod, and only when its namespace
/// is the certificate's (the certificate proves namespace and service account); over plaintext it
/// is believed as sent (`tls="no_identity"`). The inbound proxy strips it before the app.
pub const PEER_HEADER: &str = "mesh-peer";

impl Identity {
    /// The value of [`PEER_HEADER`].
    pub fn to_header(&self) -> String {
        format!(
            "namespace={};workload={};pod={}",
            self.namespace, self.workload, self.pod
        )
    }

    /// Parses a [`PEER_HEADER`] value; `None` when malformed.
    pub fn from_header(value: &str) -> Option<Identity> {
        let (mut namespace, mut workload, mut pod) = (None, None, None);
        for part in value.split(';') {
            let (k, v) = part.trim().split_once('=')?;
            match k {
                "namespace" => namespace = Some(v.to_string()),
                "workload" => workload = v.parse::<Workload>().ok(),
                "pod" => pod = Some(v.to_string()),
                _ => {}
            }
        }
        Some(Identity {
            namespace: namespace?,
            workload: workload?,
            pod: pod.unwrap_or_default(),
        })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in namespace {} (pod {})",
            self.workload, self.namespace, self.pod
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_parse_short_and_long_kinds() {
        let w: Workload = "deployment/web".parse().unwrap();
        assert_eq!(w.to_string(), "deploy/web");
        assert_eq!(
            "sts/zk".parse::<Workload>().unwrap().kind,
            WorkloadKind::StatefulSet
        );
        assert!("web".parse::<Workload>().is_err());
        assert!("cm/web".parse::<Workload>().is_err());
    }

    #[test]
    fn every_kind_linkerd_labels_parses_as_kubectl_spells_it() {
        for (words, kind, label) in [
            (
                ["rc", "replicationcontroller", "ReplicationControllers"],
                WorkloadKind::ReplicationController,
                "replicationcontroller",
            ),
            (
                ["cj", "cronjob", "cronjobs"],
                WorkloadKind::CronJob,
                "cronjob",
            ),
        ] {
            for word in words {
                let w: Workload = format!("{word}/nightly-report").parse().unwrap();
                assert_eq!(w.kind, kind, "{word}");
                assert_eq!(w.kind.label(), label);
            }
        }
        assert_eq!(
            "replicationcontroller/legacy"
                .parse::<Workload>()
                .unwrap()
                .to_string(),
            "rc/legacy"
        );
        // Every kind's short name and label round-trip through the parser.
        for kind in WorkloadKind::ALL {
            assert_eq!(WorkloadKind::parse(kind.short()), Some(kind));
        }
    }

    #[test]
    fn peer_header_round_trips() {
        let id = Identity {
            namespace: "emojivoto".into(),
            workload: "deploy/vote-bot".parse().unwrap(),
            pod: "vote-bot-0".into(),
        };
        assert_eq!(Identity::from_header(&id.to_header()), Some(id));
        assert_eq!(Identity::from_header("garbage"), None);
    }
}
