//! A pod → who answers there: whether it runs mesh's proxy, its workload and its service
//! account. Read from the pod itself (its spec and labels), once per pod: a pod's containers,
//! owner and service account never change while it lives, so discovery asks the API for each new
//! pod an EndpointSlice names (`get pods`) instead of watching every pod of the namespace.
//!
//! The workload comes, in this order, from the labels `mesh inject` writes on the pod template
//! ([`WORKLOAD_KIND_LABEL`] `deploy`, [`WORKLOAD_NAME_LABEL`] `web`), Linkerd's `linkerd.io/proxy-<kind>: <name>`
//! labels (so pods injected by Linkerd's injector are named the same), and the pod's controller
//! `ownerReference` (a ReplicaSet named `<deployment>-<pod-template-hash>` is its Deployment's).
//!
//! A meshed pod whose template `mesh inject` marked [`IDENTITY_MODE`]` = default` proves its
//! service account's identity with mutual TLS, as Linkerd's destination service reads
//! `linkerd.io/identity-mode` to tell its proxies which identity to expect of an endpoint.

use k8s_openapi::api::core::v1::Pod;

use crate::identity::{Workload, WorkloadKind};
// What `mesh inject` writes: the proxy container's name (in `initContainers` as a native
// sidecar, or in `containers`), and the workload's kind (`deploy`) and name as two labels (a
// label value cannot hold the `/` of `deploy/web`).
use crate::kubernetes::annotations::{IDENTITY_MODE, IDENTITY_MODE_DEFAULT};
use crate::kubernetes::inject::pod_spec::PROXY_CONTAINER;
use crate::kubernetes::inject::{WORKLOAD_KIND_LABEL, WORKLOAD_NAME_LABEL};

/// What discovery knows of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodIdentity {
    /// Whether the pod runs mesh's proxy (so requests to it get `mesh-peer`).
    pub meshed: bool,
    pub workload: Option<Workload>,
    pub service_account: Option<String>,
    /// Whether the pod's proxy proves its service account's identity (meshed, and marked
    /// [`IDENTITY_MODE`]` = default`).
    pub proves_identity: bool,
}

/// Reads `pod`.
pub fn pod_identity(pod: &Pod) -> PodIdentity {
    let spec = pod.spec.as_ref();
    let meshed = spec.is_some_and(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .any(|c| c.name == PROXY_CONTAINER)
    });
    let annotations = pod.metadata.annotations.as_ref();
    let identity_mode = annotations.and_then(|a| a.get(IDENTITY_MODE));
    PodIdentity {
        meshed,
        workload: workload(pod),
        service_account: spec.and_then(|s| s.service_account_name.clone()),
        proves_identity: meshed && identity_mode.is_some_and(|m| m == IDENTITY_MODE_DEFAULT),
    }
}

fn workload(pod: &Pod) -> Option<Workload> {
    let labels = pod.metadata.labels.as_ref();
    let injected =
        labels.and_then(|l| Some((l.get(WORKLOAD_KIND_LABEL)?, l.get(WORKLOAD_NAME_LABEL)?)));
    if let Some((kind, name)) = injected {
        return Some(Workload {
            kind: WorkloadKind::parse(kind)?,
            name: name.clone(),
        });
    }
    for kind in WorkloadKind::ALL {
        let key = format!("linkerd.io/proxy-{}", linkerd_word(kind));
        if let Some(name) = labels.and_then(|l| l.get(&key)) {
            return Some(Workload {
                kind,
                name: name.clone(),
            });
        }
    }
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    let kind = WorkloadKind::parse(&owner.kind)?;
    if kind == WorkloadKind::ReplicaSet {
        // A Deployment's ReplicaSet is `<deployment>-<hash>`, the hash also on the pod.
        let hash = labels.and_then(|l| l.get("pod-template-hash"));
        if let Some(deployment) = hash.and_then(|h| owner.name.strip_suffix(&format!("-{h}"))) {
            return Some(Workload {
                kind: WorkloadKind::Deployment,
                name: deployment.to_string(),
            });
        }
    }
    Some(Workload {
        kind,
        name: owner.name.clone(),
    })
}

/// The word Linkerd's injector puts after `linkerd.io/proxy-` for a kind.
fn linkerd_word(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "deployment",
        WorkloadKind::StatefulSet => "statefulset",
        WorkloadKind::DaemonSet => "daemonset",
        WorkloadKind::Job => "job",
        WorkloadKind::ReplicaSet => "replicaset",
        WorkloadKind::Pod => "pod",
        WorkloadKind::ReplicationController => "replicationcontroller",
        WorkloadKind::CronJob => "cronjob",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn said(p: &Pod) -> (bool, Option<String>, Option<String>) {
        let id = pod_identity(p);
        (
            id.meshed,
            id.workload.map(|w| w.to_string()),
            id.service_account,
        )
    }

    #[test]
    fn a_meshed_pod_proves_its_identity_only_when_its_template_says_default() {
        let with_mode = |meshed: bool, mode: Option<&str>| {
            let mut metadata = json!({"name": "web-0"});
            if let Some(mode) = mode {
                metadata["annotations"] = json!({IDENTITY_MODE: mode});
            }
            let proxy = if meshed {
                PROXY_CONTAINER
            } else {
                "linkerd-proxy"
            };
            pod_identity(&pod(json!({
                "metadata": metadata,
                "spec": {"serviceAccountName": "web", "containers": [{"name": proxy}, {"name": "web"}]},
            })))
            .proves_identity
        };
        assert!(with_mode(true, Some("default")));
        assert!(!with_mode(true, Some("disabled")));
        // Injected before identities existed: plaintext, as before.
        assert!(!with_mode(true, None));
        // The annotation without mesh's proxy proves nothing.
        assert!(!with_mode(false, Some("default")));
    }

    #[test]
    fn the_inject_label_then_linkerds_then_the_owner() {
        let injected = pod(json!({
            "metadata": {"name": "web-7d9c-x", "labels": {WORKLOAD_KIND_LABEL: "deploy", WORKLOAD_NAME_LABEL: "web", "pod-template-hash": "7d9c"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9c", "uid": "u", "controller": true}]},
            "spec": {"serviceAccountName": "web",
                     "initContainers": [{"name": "mesh-init"}, {"name": PROXY_CONTAINER, "restartPolicy": "Always"}],
                     "containers": [{"name": "web"}]},
        }));
        assert_eq!(
            said(&injected),
            (true, Some("deploy/web".into()), Some("web".into()))
        );

        let linkerd = pod(json!({
            "metadata": {"name": "zk-0", "labels": {"linkerd.io/proxy-statefulset": "zk"}},
            "spec": {"containers": [{"name": "linkerd-proxy"}, {"name": "zk"}]},
        }));
        assert_eq!(said(&linkerd), (false, Some("sts/zk".into()), None));

        let owned = pod(json!({
            "metadata": {"name": "voting-5f8b-y", "labels": {"pod-template-hash": "5f8b"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "voting-5f8b", "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": PROXY_CONTAINER}, {"name": "voting"}]},
        }));
        assert_eq!(said(&owned), (true, Some("deploy/voting".into()), None));

        let job = pod(json!({
            "metadata": {"name": "migrate-abc",
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "migrate", "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "migrate"}]},
        }));
        assert_eq!(said(&job).1.as_deref(), Some("job/migrate"));

        let bare =
            pod(json!({"metadata": {"name": "debug"}, "spec": {"containers": [{"name": "sh"}]}}));
        assert_eq!(said(&bare), (false, None, None));
    }
}
