//! `mesh uninject`: takes out of a pod exactly what [`super::inject`] added (its two containers,
//! its volumes, its labels and annotations) and restores the fields it changed from the record it
//! left ([`PREVIOUS_ANNOTATION`]). A pod without inject's mark is left unchanged. Mappings and
//! lists that end up empty are removed, as inject creates them when absent.

use crate::yaml::{Mapping, Tree};

use super::inject::{
    identity::IDENTITY_VOLUME,
    pod_spec::{API_TOKEN_VOLUME, INIT_CONTAINER, PROXY_CONTAINER, XTABLES_VOLUME},
    GRACE_FIELD, INJECTED_ANNOTATION, PREVIOUS_ANNOTATION, WORKLOAD_KIND_LABEL,
    WORKLOAD_NAME_LABEL,
};
use super::tree::{self, s};
use super::workload;
use super::{FieldError, Object, Outcome};

/// Uninjects one object: an injected workload loses what inject added; anything else is left.
///
/// Errors: the pod template is missing, or inject's record is not the JSON inject writes.
pub fn uninject(object: Object<'_>) -> Result<Outcome, FieldError> {
    let outcome = |what: &str, changed: bool| Outcome {
        object: object.display.clone(),
        what: what.to_string(),
        changed,
    };
    let Some(kind) = workload::kind(object.kind) else {
        return Ok(outcome("unchanged: not a workload", false));
    };
    let prefix = workload::pod_path(kind);
    let at = |key: &str| workload::field(prefix, key);
    let pod = workload::pod_mut(object.tree, kind)?;
    if tree::get_str(pod, &["metadata", "annotations", INJECTED_ANNOTATION]).is_none() {
        return Ok(outcome("not injected, unchanged", false));
    }
    let record_field = format!("{}.{PREVIOUS_ANNOTATION}", at("metadata.annotations"));
    let previous: serde_json::Map<String, serde_json::Value> =
        match tree::get_str(pod, &["metadata", "annotations", PREVIOUS_ANNOTATION]) {
            None => serde_json::Map::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                FieldError::new(&record_field, format!("not the record inject writes: {e}"))
            })?,
        };
    if let Some(Tree::Mapping(spec)) = pod.get_mut("spec") {
        for key in ["initContainers", "containers"] {
            if let Some(Tree::Sequence(list)) = spec.get_mut(key) {
                list.retain(|c| {
                    !matches!(tree::name_of(c), Some(INIT_CONTAINER | PROXY_CONTAINER))
                });
            }
        }
        if let Some(Tree::Sequence(volumes)) = spec.get_mut("volumes") {
            volumes.retain(|v| {
                !matches!(
                    tree::name_of(v),
                    Some(XTABLES_VOLUME | API_TOKEN_VOLUME | IDENTITY_VOLUME)
                )
            });
        }
        tree::remove_if_empty(spec, "initContainers");
        tree::remove_if_empty(spec, "volumes");
        if let Some(before) = previous.get(GRACE_FIELD) {
            restore(spec, GRACE_FIELD, before, &record_field)?;
        }
    }
    if let Some(Tree::Mapping(metadata)) = pod.get_mut("metadata") {
        if let Some(Tree::Mapping(labels)) = metadata.get_mut("labels") {
            tree::remove(labels, WORKLOAD_KIND_LABEL);
            tree::remove(labels, WORKLOAD_NAME_LABEL);
        }
        if let Some(Tree::Mapping(annotations)) = metadata.get_mut("annotations") {
            tree::remove(annotations, INJECTED_ANNOTATION);
            tree::remove(annotations, PREVIOUS_ANNOTATION);
            for (key, before) in &previous {
                if key != GRACE_FIELD {
                    restore(annotations, key, before, &record_field)?;
                }
            }
        }
        tree::remove_if_empty(metadata, "labels");
        tree::remove_if_empty(metadata, "annotations");
    }
    tree::remove_if_empty(pod, "metadata");
    Ok(outcome("uninjected", true))
}

/// Sets `key` back to `before` (a JSON value from the record), or removes it when `before` is null.
fn restore(
    map: &mut Mapping,
    key: &str,
    before: &serde_json::Value,
    record_field: &str,
) -> Result<(), FieldError> {
    if before.is_null() {
        tree::remove(map, key);
        return Ok(());
    }
    let value: Tree = crate::yaml::from_str(&before.to_string()).map_err(|e| {
        FieldError::new(
            record_field,
            format!("{key}: not a value inject records: {e}"),
        )
    })?;
    map.insert(s(key), value);
    Ok(())
}
