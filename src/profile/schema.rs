//! The shape of a ServiceProfile document, checked before it is decoded, so that every mistake of a
//! document is found in one pass and told in the user's words.
//!
//! The shapes follow what a cluster enforces: the types of the ServiceProfile CRD's v1alpha2
//! `openAPIV3Schema` (`name: 404` is refused there: `type: string`), Kubernetes' `ObjectMeta` as the
//! API reference defines it (what `kubectl get sp NAME -o yaml` prints), and Linkerd's strict
//! decoding (an unknown field is an error, nested conditions are typed, the request condition's
//! `not` is one object as Linkerd's Go types read it, not the list the CRD declares). Null values
//! count as absent, as the API server prunes them. Values are checked here only for their type and
//! for what the typed model could not hold (a negative status); meaning (a status outside 100-599, a
//! duration that does not parse) is `check_profile`'s job, which runs on what decoded.

use serde_json::Value;

use crate::yaml::Step;

mod kubernetes;
mod messages;
pub(crate) use messages::quoted;

pub(crate) use kubernetes::{LIST, SERVICE_PROFILE};

/// What a value must be. Shapes refer to each other (a condition holds conditions), so they are
/// statics (see `kubernetes`), and `Debug` prints one level only.
pub(crate) enum Shape {
    /// `type: string`.
    String,
    /// A string holding a Go duration (`timeout`, `ttl`).
    Duration,
    /// An RFC 3339 date-time string (`creationTimestamp`).
    Time,
    /// `type: integer` within the range of the Go field (`uint32`, `int64`).
    Integer { min: i64, max: i64 },
    /// `type: number`.
    Number,
    /// `type: boolean`.
    Boolean,
    /// `x-kubernetes-int-or-string` (a quantity such as `weight`).
    IntOrString,
    /// `map[string]string` (`labels`, `annotations`).
    StringMap,
    /// `type: array` of items of one shape.
    List(&'static Shape),
    /// `type: object` with these fields and no others.
    Object(&'static [Field]),
    /// Anything (`managedFields[].fieldsV1`).
    Any,
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(messages::expected(self))
    }
}

/// One field of a [`Shape::Object`].
#[derive(Debug)]
pub(crate) struct Field {
    /// The key as written (`pathRegex`).
    pub name: &'static str,
    pub shape: &'static Shape,
    /// Whether the field must be present (and not null).
    pub required: bool,
}

/// A place where a document differs from its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Path of the value (or of the unknown key) from the document's root.
    pub path: Vec<Step>,
    /// Whether the problem is the key itself (an unknown field) rather than its value.
    pub at_key: bool,
    /// What is wrong (`expected a string, found the number 404`).
    pub message: String,
    /// How to fix it, when that is clear (`quote it`).
    pub hint: Option<String>,
    /// How `message` shows the number found (`1e+20`), when it shows one: the decoder, which has
    /// the file, replaces it with the number as written (`99999999999999999999`) where it differs.
    pub number_shown: Option<String>,
}

/// Every place where `value` differs from `shape`, in document order of the walk.
pub(crate) fn check(value: &Value, shape: &Shape) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk(value, shape, &mut Vec::new(), &mut problems);
    problems
}

fn walk(value: &Value, shape: &Shape, path: &mut Vec<Step>, out: &mut Vec<Problem>) {
    use Shape::*;
    let fits = match (shape, value) {
        (Any, _) | (String, Value::String(_)) | (Boolean, Value::Bool(_)) => true,
        (Number, Value::Number(_)) | (IntOrString, Value::String(_)) => true,
        (Duration, Value::String(_)) => true,
        (Time, Value::String(s)) => is_rfc3339(s),
        (Integer { min, max }, Value::Number(n)) => {
            n.as_i64().is_some_and(|i| (*min..=*max).contains(&i))
        }
        (IntOrString, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (StringMap, Value::Object(map)) => {
            for (key, v) in map {
                if !v.is_string() && !v.is_null() {
                    path.push(Step::Key(key.clone()));
                    out.push(messages::mismatch(path, &String, v));
                    path.pop();
                }
            }
            true
        }
        (List(item), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i));
                walk(v, item, path, out);
                path.pop();
            }
            true
        }
        (Object(fields), Value::Object(map)) => {
            object(map, fields, path, out);
            true
        }
        _ => false,
    };
    if !fits {
        out.push(messages::mismatch(path, shape, value));
    }
}

fn object(
    map: &serde_json::Map<std::string::String, Value>,
    fields: &[Field],
    path: &mut Vec<Step>,
    out: &mut Vec<Problem>,
) {
    for (key, v) in map {
        path.push(Step::Key(key.clone()));
        match fields.iter().find(|f| f.name == key.as_str()) {
            Some(_) if v.is_null() => {}
            Some(field) => walk(v, field.shape, path, out),
            None => out.push(messages::unknown_field(path, key, fields)),
        }
        path.pop();
    }
    for field in fields.iter().filter(|f| f.required) {
        if map.get(field.name).is_none_or(Value::is_null) {
            out.push(Problem {
                path: path.clone(),
                at_key: false,
                message: format!("missing field `{}`", field.name),
                hint: None,
                number_shown: None,
            });
        }
    }
}

/// `2024-05-01T12:00:00Z`, with optional fractional seconds and a numeric offset, as Kubernetes
/// `metav1.Time` reads it.
fn is_rfc3339(text: &str) -> bool {
    static RFC3339: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
            .expect("static regex")
    });
    RFC3339.is_match(text)
}

#[cfg(test)]
mod tests;
