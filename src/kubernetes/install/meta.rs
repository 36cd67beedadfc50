//! The object metadata every printed manifest carries, and the two objects that are nothing
//! else: the Namespace and the ServiceAccount (Kubernetes API reference, `meta/v1` ObjectMeta,
//! `core/v1`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::PART_OF;

/// `metadata`: a name, the namespace of a namespaced object, and mesh's `part-of` label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectMeta {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// Metadata of a cluster-scoped object.
    pub fn cluster(name: &str) -> Self {
        ObjectMeta {
            name: name.to_string(),
            namespace: None,
            labels: BTreeMap::from([(PART_OF.0.to_string(), PART_OF.1.to_string())]),
        }
    }

    /// Metadata of an object in `namespace`.
    pub fn namespaced(name: &str, namespace: &str) -> Self {
        ObjectMeta {
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::cluster(name)
        }
    }
}

/// A `v1` Namespace.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Namespace {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
}

impl Namespace {
    pub(super) fn new(name: &str) -> Self {
        Namespace {
            api_version: "v1",
            kind: "Namespace",
            metadata: ObjectMeta::cluster(name),
        }
    }
}

/// A `v1` ServiceAccount.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServiceAccount {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
}

impl ServiceAccount {
    pub(super) fn new(name: &str, namespace: &str) -> Self {
        ServiceAccount {
            api_version: "v1",
            kind: "ServiceAccount",
            metadata: ObjectMeta::namespaced(name, namespace),
        }
    }
}

/// Whether `name` is an RFC 1123 label, as Kubernetes requires of a namespace: 1-63 characters,
/// lowercase letters, digits and `-`, starting and ending with a letter or digit.
///
/// Errors: what is wrong, in words.
pub fn is_dns_label(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > 63 {
        return Err("longer than 63 characters (RFC 1123 label)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("only lowercase letters, digits and '-' (RFC 1123 label)");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("it must start and end with a letter or digit (RFC 1123 label)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_follow_rfc_1123() {
        for good in ["mesh", "a", "emojivoto-2", &"a".repeat(63)] {
            assert_eq!(is_dns_label(good), Ok(()), "{good}");
        }
        for bad in ["", "Mesh", "a_b", "a.b", "-a", "a-", &"a".repeat(64)] {
            assert!(is_dns_label(bad).is_err(), "{bad}");
        }
    }
}
