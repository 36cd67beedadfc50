//! The shapes themselves: a ServiceProfile (the CRD's v1alpha2 schema, typed as Linkerd's Go types
//! read it), Kubernetes' `ObjectMeta`, and the `List` that `kubectl get sp -o yaml` prints.
//!
//! `ObjectMeta`, `OwnerReference`, `ManagedFieldsEntry` and `ListMeta` follow the Kubernetes API
//! reference (`meta/v1`, as served by Kubernetes 1.30-1.34): every field a cluster returns, with its
//! type, so `kubectl get serviceprofile NAME -o yaml` passes and a misspelt `namespce` does not.
//! Fields are listed in alphabetical order, as the reference lists them.

use super::{Field, Shape};

const fn opt(name: &'static str, shape: &'static Shape) -> Field {
    Field {
        name,
        shape,
        required: false,
    }
}

const fn req(name: &'static str, shape: &'static Shape) -> Field {
    Field {
        name,
        shape,
        required: true,
    }
}

static STRING: Shape = Shape::String;
static STRINGS: Shape = Shape::List(&STRING);
static DURATION: Shape = Shape::Duration;
static TIME: Shape = Shape::Time;
static NUMBER: Shape = Shape::Number;
static BOOLEAN: Shape = Shape::Boolean;
static STRING_MAP: Shape = Shape::StringMap;
static ANY: Shape = Shape::Any;
/// Go `uint32` (status bounds, `minRetriesPerSecond`): the typed model holds no negative value.
static UINT32: Shape = Shape::Integer {
    min: 0,
    max: u32::MAX as i64,
};
/// Go `int64` (`generation`, `deletionGracePeriodSeconds`).
static INT64: Shape = Shape::Integer {
    min: i64::MIN,
    max: i64::MAX,
};
static INT_OR_STRING: Shape = Shape::IntOrString;

/// A `linkerd.io/v1alpha2` (or v1alpha1) ServiceProfile.
pub(crate) static SERVICE_PROFILE: Shape = Shape::Object(&SERVICE_PROFILE_FIELDS);
static SERVICE_PROFILE_FIELDS: [Field; 4] = [
    req("apiVersion", &STRING),
    req("kind", &STRING),
    req("metadata", &OBJECT_META),
    opt("spec", &SPEC),
];

static SPEC: Shape = Shape::Object(&SPEC_FIELDS);
static SPEC_FIELDS: [Field; 4] = [
    opt("dstOverrides", &WEIGHTED_DSTS),
    opt("opaquePorts", &STRINGS),
    opt("retryBudget", &RETRY_BUDGET),
    opt("routes", &ROUTES),
];

static WEIGHTED_DSTS: Shape = Shape::List(&WEIGHTED_DST);
static WEIGHTED_DST: Shape = Shape::Object(&WEIGHTED_DST_FIELDS);
static WEIGHTED_DST_FIELDS: [Field; 2] = [req("authority", &STRING), req("weight", &INT_OR_STRING)];

static RETRY_BUDGET: Shape = Shape::Object(&RETRY_BUDGET_FIELDS);
static RETRY_BUDGET_FIELDS: [Field; 3] = [
    req("minRetriesPerSecond", &UINT32),
    req("retryRatio", &NUMBER),
    req("ttl", &DURATION),
];

static ROUTES: Shape = Shape::List(&ROUTE);
static ROUTE: Shape = Shape::Object(&ROUTE_FIELDS);
static ROUTE_FIELDS: [Field; 5] = [
    req("condition", &REQUEST_MATCH),
    opt("isRetryable", &BOOLEAN),
    req("name", &STRING),
    opt("responseClasses", &RESPONSE_CLASSES),
    opt("timeout", &DURATION),
];

static REQUEST_MATCHES: Shape = Shape::List(&REQUEST_MATCH);
static REQUEST_MATCH: Shape = Shape::Object(&REQUEST_MATCH_FIELDS);
static REQUEST_MATCH_FIELDS: [Field; 5] = [
    opt("all", &REQUEST_MATCHES),
    opt("any", &REQUEST_MATCHES),
    opt("method", &STRING),
    // Linkerd reads one object; the CRD declares a list (see the module comment).
    opt("not", &REQUEST_MATCH),
    opt("pathRegex", &STRING),
];

static RESPONSE_CLASSES: Shape = Shape::List(&RESPONSE_CLASS);
static RESPONSE_CLASS: Shape = Shape::Object(&RESPONSE_CLASS_FIELDS);
static RESPONSE_CLASS_FIELDS: [Field; 2] = [
    req("condition", &RESPONSE_MATCH),
    opt("isFailure", &BOOLEAN),
];

static RESPONSE_MATCHES: Shape = Shape::List(&RESPONSE_MATCH);
static RESPONSE_MATCH: Shape = Shape::Object(&RESPONSE_MATCH_FIELDS);
static RESPONSE_MATCH_FIELDS: [Field; 4] = [
    opt("all", &RESPONSE_MATCHES),
    opt("any", &RESPONSE_MATCHES),
    opt("not", &RESPONSE_MATCH),
    opt("status", &RANGE),
];

static RANGE: Shape = Shape::Object(&RANGE_FIELDS);
static RANGE_FIELDS: [Field; 2] = [opt("max", &UINT32), opt("min", &UINT32)];

/// Kubernetes `ObjectMeta` (`io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`).
pub(crate) static OBJECT_META: Shape = Shape::Object(&OBJECT_META_FIELDS);
static OBJECT_META_FIELDS: [Field; 15] = [
    opt("annotations", &STRING_MAP),
    opt("creationTimestamp", &TIME),
    opt("deletionGracePeriodSeconds", &INT64),
    opt("deletionTimestamp", &TIME),
    opt("finalizers", &STRINGS),
    opt("generateName", &STRING),
    opt("generation", &INT64),
    opt("labels", &STRING_MAP),
    opt("managedFields", &MANAGED_FIELDS),
    opt("name", &STRING),
    opt("namespace", &STRING),
    opt("ownerReferences", &OWNER_REFERENCES),
    opt("resourceVersion", &STRING),
    opt("selfLink", &STRING),
    opt("uid", &STRING),
];

static MANAGED_FIELDS: Shape = Shape::List(&MANAGED_FIELDS_ENTRY);
static MANAGED_FIELDS_ENTRY: Shape = Shape::Object(&MANAGED_FIELDS_ENTRY_FIELDS);
static MANAGED_FIELDS_ENTRY_FIELDS: [Field; 7] = [
    opt("apiVersion", &STRING),
    opt("fieldsType", &STRING),
    // A set of field paths in the server's own format: kept, never read.
    opt("fieldsV1", &ANY),
    opt("manager", &STRING),
    opt("operation", &STRING),
    opt("subresource", &STRING),
    opt("time", &TIME),
];

static OWNER_REFERENCES: Shape = Shape::List(&OWNER_REFERENCE);
static OWNER_REFERENCE: Shape = Shape::Object(&OWNER_REFERENCE_FIELDS);
static OWNER_REFERENCE_FIELDS: [Field; 6] = [
    req("apiVersion", &STRING),
    opt("blockOwnerDeletion", &BOOLEAN),
    opt("controller", &BOOLEAN),
    req("kind", &STRING),
    req("name", &STRING),
    req("uid", &STRING),
];

/// What `kubectl get sp -o yaml` prints for several objects: `kind: List` (or the API's own
/// `ServiceProfileList`) with the objects in `items`. Each item is checked as a ServiceProfile.
pub(crate) static LIST: Shape = Shape::Object(&LIST_FIELDS);
static LIST_FIELDS: [Field; 4] = [
    opt("apiVersion", &STRING),
    req("items", &ITEMS),
    req("kind", &STRING),
    opt("metadata", &LIST_META),
];
static ITEMS: Shape = Shape::List(&ANY);

/// Kubernetes `ListMeta`.
static LIST_META: Shape = Shape::Object(&LIST_META_FIELDS);
static LIST_META_FIELDS: [Field; 4] = [
    opt("continue", &STRING),
    opt("remainingItemCount", &INT64),
    opt("resourceVersion", &STRING),
    opt("selfLink", &STRING),
];
