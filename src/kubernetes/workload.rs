//! Which kinds of object run pods, and where each keeps the pod it runs: its pod template
//! (`spec.template`; a CronJob's under `spec.jobTemplate.spec.template`), or, for a Pod, the object
//! itself. These are the kinds Linkerd's injector handles and mesh's workload identity names.

use crate::identity::WorkloadKind;
use crate::yaml::Mapping;

use super::FieldError;

/// The workload kind of a manifest's `kind` (exactly as the API spells it), or `None` for kinds
/// that run no pods of their own (Service, ConfigMap, …) or that mesh does not know.
pub fn kind(kind: &str) -> Option<WorkloadKind> {
    let known = match kind {
        "Deployment" => WorkloadKind::Deployment,
        "StatefulSet" => WorkloadKind::StatefulSet,
        "DaemonSet" => WorkloadKind::DaemonSet,
        "ReplicaSet" => WorkloadKind::ReplicaSet,
        "ReplicationController" => WorkloadKind::ReplicationController,
        "Job" => WorkloadKind::Job,
        "CronJob" => WorkloadKind::CronJob,
        "Pod" => WorkloadKind::Pod,
        _ => return None,
    };
    Some(known)
}

/// The workload kind `kind` most likely misspells (`Deploymnet`, `statefulset`: at most two
/// letters off, or another case), or `None`: a kind that is no workload's and no typo of one
/// (Service, an Argo Rollout) is not refused.
pub fn misspelt(kind: &str) -> Option<&'static str> {
    const WORKLOADS: [&str; 8] = [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "Pod",
    ];
    if WORKLOADS.contains(&kind) {
        return None;
    }
    let lower = kind.to_ascii_lowercase();
    WORKLOADS
        .into_iter()
        .filter(|w| w.len() > 3 || lower == w.to_ascii_lowercase())
        .map(|w| (strsim::levenshtein(&lower, &w.to_ascii_lowercase()), w))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, w)| w)
}

/// The path from the object to its pod (a mapping with `metadata` and `spec`); empty for a Pod.
pub fn pod_path(kind: WorkloadKind) -> &'static [&'static str] {
    match kind {
        WorkloadKind::Pod => &[],
        WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template"],
        _ => &["spec", "template"],
    }
}

/// `prefix.key`, or `key` at the root: a field path inside the object.
pub fn field(prefix: &[&str], key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{}.{key}", prefix.join("."))
    }
}

/// Whether an object of an unknown kind carries a pod template (`spec.template.spec.containers`),
/// as custom workloads (Argo Rollouts, OpenKruise) do: inject leaves it alone, and says its pods
/// are not meshed.
pub fn has_pod_template(object: &Mapping) -> bool {
    super::tree::get(object, &["spec", "template", "spec", "containers"]).is_some()
}

/// The pod of `object` (a workload of `kind`): its template, or the object itself for a Pod.
///
/// Errors: the template (or a mapping on its path) is missing or not a mapping, naming the field.
pub fn pod_mut(object: &mut Mapping, kind: WorkloadKind) -> Result<&mut Mapping, FieldError> {
    let path = pod_path(kind);
    let mut here = object;
    for (i, key) in path.iter().enumerate() {
        let field = path[..=i].join(".");
        here = match here.get_mut(*key) {
            Some(node) => node
                .as_mapping_mut()
                .ok_or_else(|| FieldError::new(&field, "not a mapping"))?,
            None => {
                return Err(FieldError::new(
                    field,
                    format!(
                        "missing: a {kind:?} describes its pods in {}",
                        path.join(".")
                    ),
                ))
            }
        };
    }
    Ok(here)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_of_a_workload_kind_is_named_and_other_kinds_pass() {
        for (typo, meant) in [
            ("Deploymnet", "Deployment"),
            ("deployment", "Deployment"),
            ("Statefulset", "StatefulSet"),
            ("CronJobs", "CronJob"),
            ("job", "Job"),
        ] {
            assert_eq!(misspelt(typo), Some(meant), "{typo}");
        }
        for other in [
            "Deployment",
            "Service",
            "ConfigMap",
            "Node",
            "Rollout",
            "Namespace",
            "Secret",
        ] {
            assert_eq!(misspelt(other), None, "{other}");
        }
    }
}
