//! The ServiceProfile CustomResourceDefinition, `serviceprofiles.linkerd.io`.
//!
//! Written for mesh to the schema Linkerd's CRD declares (`linkerd.io/v1alpha1` and
//! `v1alpha2`, v1alpha2 stored), so that the profiles `mesh profile` writes and the ones written
//! for Linkerd validate alike, and a cluster that already has Linkerd's CRD loses nothing by
//! keeping it (`mesh install --no-crd`). The validation rules are Linkerd's to the letter,
//! quirks included (see `spec_schema`); only the descriptions are mesh's own.
//! `tests/it/kubernetes_install.rs` compares the two on everything but descriptions.

use serde::Serialize;
use serde_json::{json, Value};

use super::meta::ObjectMeta;

/// The CRD's name: `<plural>.<group>`.
pub const NAME: &str = "serviceprofiles.linkerd.io";

/// A `CustomResourceDefinition` (`apiextensions.k8s.io/v1`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinition {
    api_version: &'static str,
    kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: CrdSpec,
}

/// The CRD's `spec`.
#[derive(Debug, Clone, Serialize)]
pub struct CrdSpec {
    pub group: &'static str,
    pub names: Value,
    pub scope: &'static str,
    pub versions: Vec<CrdVersion>,
}

/// One served version with its schema.
#[derive(Debug, Clone, Serialize)]
pub struct CrdVersion {
    pub name: &'static str,
    pub served: bool,
    pub storage: bool,
    pub schema: Value,
}

/// The CRD: v1alpha1 and v1alpha2 both served, v1alpha2 stored; namespaced; short name `sp`.
pub fn service_profile_crd() -> CustomResourceDefinition {
    let version = |name, storage, routes_required| CrdVersion {
        name,
        served: true,
        storage,
        schema: json!({ "openAPIV3Schema": {
            "type": "object",
            "properties": { "spec": spec_schema(routes_required) },
        }}),
    };
    CustomResourceDefinition {
        api_version: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: ObjectMeta::cluster(NAME),
        spec: CrdSpec {
            group: "linkerd.io",
            names: json!({
                "plural": "serviceprofiles",
                "singular": "serviceprofile",
                "kind": "ServiceProfile",
                "shortNames": ["sp"],
            }),
            scope: "Namespaced",
            // v1alpha1 required `routes`; v1alpha2 dropped that, and is the one stored.
            versions: vec![
                version("v1alpha1", false, true),
                version("v1alpha2", true, false),
            ],
        },
    }
}

/// The schema of a ServiceProfile's `spec`.
///
/// Linkerd's quirks are kept, since a cluster validates with whichever CRD it has and the two must
/// agree: `required` sits on the `dstOverrides` array rather than on its items (so it checks
/// nothing), a request condition's `not` is an array while a response condition's is an object,
/// and nested conditions are not checked at all (`x-kubernetes-preserve-unknown-fields`);
/// `mesh profile check` checks all of these properly.
fn spec_schema(routes_required: bool) -> Value {
    let mut spec = json!({
        "type": "object",
        "description": "The ServiceProfile: routes of a service, their metrics and retry policy \
                        (docs/profiles.md)",
        "properties": {
            "dstOverrides": {
                "type": "array",
                "required": ["authority", "weight"],
                "items": {
                    "type": "object",
                    "description": "A destination to send part of the traffic to, with its weight",
                    "properties": {
                        "authority": {"type": "string"},
                        "weight": quantity(),
                    },
                },
            },
            "opaquePorts": {"type": "array", "items": {"type": "string"}},
            "retryBudget": {
                "type": "object",
                "description": "How many retries the service's callers may add, over a window",
                "required": ["minRetriesPerSecond", "retryRatio", "ttl"],
                "properties": {
                    "minRetriesPerSecond": int32(),
                    "retryRatio": {"type": "number", "format": "float"},
                    "ttl": {"type": "string"},
                },
            },
            "routes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "A route: the requests it matches, and how they are measured, \
                                    timed out and retried",
                    "required": ["condition", "name"],
                    "properties": {
                        "condition": {
                            "type": "object",
                            "description": "Which requests the route matches",
                            "properties": {
                                "pathRegex": {"type": "string"},
                                "method": {"type": "string"},
                                "all": unchecked_list(),
                                "any": unchecked_list(),
                                "not": unchecked_list(),
                            },
                        },
                        "isRetryable": {"type": "boolean"},
                        "name": {"type": "string"},
                        "timeout": {"type": "string"},
                        "responseClasses": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "description": "A class of responses: failures or successes",
                                "required": ["condition"],
                                "properties": {
                                    "condition": {
                                        "type": "object",
                                        "description": "Which responses belong to the class",
                                        "properties": {
                                            "all": unchecked_list(),
                                            "any": unchecked_list(),
                                            "not": unchecked(),
                                            "status": {
                                                "type": "object",
                                                "description": "A range of status codes",
                                                "properties": {"max": int32(), "min": int32()},
                                            },
                                        },
                                    },
                                    "isFailure": {"type": "boolean"},
                                },
                            },
                        },
                    },
                },
            },
        },
    });
    if routes_required {
        spec["required"] = json!(["routes"]);
    }
    spec
}

/// An object whose fields the API server keeps without checking them.
fn unchecked() -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

fn unchecked_list() -> Value {
    json!({"type": "array", "items": unchecked()})
}

fn int32() -> Value {
    json!({"type": "integer", "format": "int32"})
}

/// A Kubernetes quantity (`1`, `500m`, `1Ki`): an integer or a string of that form.
fn quantity() -> Value {
    json!({
        "x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
    })
}
