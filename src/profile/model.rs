//! The ServiceProfile resource (`linkerd.io/v1alpha2`) as serde types.
//!
//! Fields are declared in alphabetical order and empty or false values are skipped when writing, so
//! serializing a profile yields exactly the key order and omissions of Linkerd's Go types marshalled
//! through `sigs.k8s.io/yaml`. Reading rejects unknown fields, as `kubectl apply --validate=strict` and
//! Linkerd's own `UnmarshalStrict` do. Files are read through `profile::decode`, which checks the
//! shape of a whole document (every problem, with lines) before these types decode it.

use serde::{Deserialize, Serialize};

mod object_meta;
pub use object_meta::{ManagedFieldsEntry, ObjectMeta, OwnerReference};

/// `apiVersion` of every profile mesh writes.
pub const API_VERSION: &str = "linkerd.io/v1alpha2";
/// The older version clusters still serve; accepted when reading.
pub const API_VERSION_V1ALPHA1: &str = "linkerd.io/v1alpha1";
/// `kind` of a ServiceProfile.
pub const KIND: &str = "ServiceProfile";

/// A Kubernetes ServiceProfile: per-route metrics, retries and timeouts for one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceProfile {
    /// Always [`API_VERSION`] when written by mesh.
    pub api_version: String,
    /// Always [`KIND`].
    pub kind: String,
    /// Name (`<service>.<namespace>.svc.<cluster-domain>`) and namespace.
    pub metadata: ObjectMeta,
    /// Routes, retry budget and traffic-split overrides.
    #[serde(default)]
    pub spec: ProfileSpec,
}

/// `spec` of a ServiceProfile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileSpec {
    /// Traffic-split targets; when present, requests go to these authorities by weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dst_overrides: Vec<WeightedDst>,
    /// Deprecated by Linkerd in favour of an annotation; accepted and ignored by mesh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opaque_ports: Vec<String>,
    /// Bounds retries of all retryable routes of this service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_budget: Option<RetryBudget>,
    /// Ordered: a request takes the first route whose condition matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSpec>,
}

/// One named route: a request condition plus what to do with matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteSpec {
    /// Which requests belong to the route.
    pub condition: RequestMatch,
    /// The operator's promise that a request may be sent again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_retryable: bool,
    /// Shown as `rt_route` in metrics and ROUTE in `mesh routes`.
    pub name: String,
    /// First match decides whether a response is a failure; unmatched: 5xx is a failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_classes: Vec<ResponseClass>,
    /// Go duration (`250ms`, `1m30s`) bounding the whole request, retries included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// A request condition. Fields set together must all hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<RequestMatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<RequestMatch>>,
    /// HTTP method, compared exactly (`GET`, `POST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<RequestMatch>>,
    /// A regular expression that must match the whole request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_regex: Option<String>,
}

/// Classifies responses matching `condition` as failures or successes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResponseClass {
    pub condition: ResponseMatch,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_failure: bool,
}

/// A response condition. Fields set together must all hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResponseMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<ResponseMatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<ResponseMatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<ResponseMatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusRange>,
}

/// An inclusive range of HTTP status codes; a missing bound is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
}

/// How many retries a service may see, relative to its original requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryBudget {
    /// Retries allowed per second regardless of the ratio, so low-traffic services can retry.
    pub min_retries_per_second: u32,
    /// Retries allowed per original request (0.2 = 20% extra load at most).
    pub retry_ratio: f32,
    /// Go duration over which requests and retries are counted.
    pub ttl: String,
}

impl Default for RetryBudget {
    /// Linkerd's and mesh's defaults: 20% extra load, 10 retries/s floor, a 10 s window.
    fn default() -> Self {
        RetryBudget {
            min_retries_per_second: 10,
            retry_ratio: 0.2,
            ttl: "10s".to_string(),
        }
    }
}

/// A weighted alternative destination (traffic split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedDst {
    /// `host:port` the share of traffic goes to.
    pub authority: String,
    /// A Kubernetes quantity (`1`, `500m`, `"100"`).
    pub weight: Weight,
}

/// A Kubernetes `resource.Quantity`, written as an integer or a string.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Weight {
    Integer(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for Weight {
    /// An integer or a string; anything else is "expected a whole number or a quantity such as
    /// \"500m\"" (serde's untagged enums would say only that no variant matched).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WeightVisitor;

        impl serde::de::Visitor<'_> for WeightVisitor {
            type Value = Weight;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number or a quantity such as \"500m\"")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Weight, E> {
                Ok(Weight::Integer(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Weight, E> {
                i64::try_from(v)
                    .map(Weight::Integer)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Weight, E> {
                Ok(Weight::Text(v.to_string()))
            }
        }

        deserializer.deserialize_any(WeightVisitor)
    }
}

impl ServiceProfile {
    /// An empty profile for `<service>.<namespace>.svc.<cluster_domain>`.
    pub fn new(service: &str, namespace: &str, cluster_domain: &str) -> Self {
        ServiceProfile {
            api_version: API_VERSION.to_string(),
            kind: KIND.to_string(),
            metadata: ObjectMeta {
                name: format!("{service}.{namespace}.svc.{cluster_domain}"),
                namespace: Some(namespace.to_string()),
                ..ObjectMeta::default()
            },
            spec: ProfileSpec::default(),
        }
    }
}

impl RequestMatch {
    /// The condition generators write: one method and one path pattern.
    pub fn method_and_path(method: &str, path_regex: String) -> Self {
        RequestMatch {
            method: Some(method.to_string()),
            path_regex: Some(path_regex),
            ..RequestMatch::default()
        }
    }
}

impl ResponseClass {
    /// A class for the statuses `min..=max`.
    pub fn status(min: u32, max: u32, is_failure: bool) -> Self {
        ResponseClass {
            condition: ResponseMatch {
                status: Some(StatusRange {
                    max: Some(max),
                    min: Some(min),
                }),
                ..ResponseMatch::default()
            },
            is_failure,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}
