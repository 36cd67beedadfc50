//! `mesh install`: the manifests a cluster needs once, before `mesh inject` meshes a workload.
//!
//! In `kubectl apply` order (a namespace before what lives in it, the CRD before any profile):
//!
//! 1. the ServiceProfile CRD, `serviceprofiles.linkerd.io` ([`crd`]), served as `v1alpha1` and
//!    `v1alpha2` to the same schema Linkerd installs, so profiles written for Linkerd apply
//!    unchanged and a cluster that has Linkerd's CRD can leave ours out ([`InstallOptions::crd`]);
//! 2. the namespace (`mesh` by default) and its service account `mesh`;
//! 3. the ClusterRole [`rbac::CLUSTER_ROLE`] with the least rights discovery needs, and the
//!    ClusterRoleBinding that grants it to the meshed pods' service accounts ([`rbac`]); then,
//!    unless left out, [`rbac::IDENTITY_ROLE`] and its binding, the one right csi-driver-spiffe
//!    needs of those accounts to get the proxies' certificates;
//! 4. a ConfigMap holding `prometheus.yml`, the scrape config for the proxies
//!    ([`prometheus`]).
//!
//! Everything is built before anything is printed, so an error leaves no partial output.

pub mod crd;
mod meta;
pub mod prometheus;
pub mod rbac;

pub use meta::{is_dns_label, ObjectMeta};

use serde::Serialize;

/// The namespace `mesh install` creates unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "mesh";

/// The service account in the install namespace that is always bound to the discovery role: for a
/// proxy or the CLI run outside the cluster with a token of its own (`kubectl create token`).
pub const SERVICE_ACCOUNT: &str = "mesh";

/// The label every object `mesh install` prints carries (`kubectl get … -l` finds them).
pub const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "mesh");

/// What `mesh install` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// The namespace to create, holding the service account and the scrape config (a DNS label).
    pub namespace: String,
    /// Whether to print the ServiceProfile CRD; `false` for a cluster that already has Linkerd's
    /// (the same schema: profiles work with either).
    pub crd: bool,
    /// Whose service accounts may read discovery ([`rbac::Subjects`]), and request their
    /// certificates.
    pub subjects: rbac::Subjects,
    /// Whether to print [`rbac::IDENTITY_ROLE`] and its binding; `false` where no workload's
    /// identity comes from csi-driver-spiffe.
    pub identity_rbac: bool,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            namespace: DEFAULT_NAMESPACE.to_string(),
            crd: true,
            subjects: rbac::Subjects::AllServiceAccounts,
            identity_rbac: true,
        }
    }
}

/// Why the manifests could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A namespace that Kubernetes would refuse (RFC 1123 label), with the setting it came from.
    #[error("{field}: {value:?} is not a namespace name: {why}")]
    Namespace {
        /// `namespace` or `proxy namespaces`.
        field: &'static str,
        value: String,
        why: &'static str,
    },
}

/// One printed document: what it is (a comment above it) and the object.
struct Document {
    /// A line saying why the cluster needs it.
    why: String,
    yaml: String,
}

impl Document {
    fn new<T: Serialize>(why: String, object: &T) -> Self {
        // Typed objects with string keys and no floats: serializing them cannot fail.
        let yaml = crate::yaml::to_string(object).expect("a manifest always serializes");
        Document { why, yaml }
    }
}

/// The multi-document YAML `mesh install` prints: each document after `---` and a comment saying
/// what it is for.
///
/// Errors: a namespace that is no DNS label ([`InstallError::Namespace`], naming the setting).
pub fn manifests(options: &InstallOptions) -> Result<String, InstallError> {
    check_namespace("namespace", &options.namespace)?;
    if let rbac::Subjects::Namespaces(namespaces) = &options.subjects {
        for ns in namespaces {
            check_namespace("proxy namespaces", ns)?;
        }
    }
    let ns = options.namespace.as_str();
    let mut docs = Vec::new();
    if options.crd {
        docs.push(Document::new(
            "The ServiceProfile CRD, to Linkerd's schema (leave it out with --no-crd where Linkerd \
             installed it)."
                .into(),
            &crd::service_profile_crd(),
        ));
    }
    docs.push(Document::new(
        "The namespace of mesh's own objects.".into(),
        &meta::Namespace::new(ns),
    ));
    docs.push(Document::new(
        "An account with discovery's read rights, for a proxy or the CLI run outside the \
         cluster (kubectl create token)."
            .into(),
        &meta::ServiceAccount::new(SERVICE_ACCOUNT, ns),
    ));
    docs.push(Document::new(
        "What a proxy's discovery reads: endpoints, services, pods and ServiceProfiles; nothing \
         else, and never a write."
            .into(),
        &rbac::ClusterRole::discovery(),
    ));
    docs.push(Document::new(
        format!(
            "Each proxy does its own discovery with its pod's service account: {}.",
            options.subjects
        ),
        &rbac::ClusterRoleBinding::discovery(ns, &options.subjects),
    ));
    if options.identity_rbac {
        docs.push(Document::new(
            "The proxies' identity from cert-manager's csi-driver-spiffe (mesh inject's default):              it requests each pod's certificate as the pod's service account. Safe with              cert-manager's default approver off, as csi-driver-spiffe requires; leave it out              with --no-identity-rbac otherwise."
                .into(),
            &rbac::ClusterRole::identity(),
        ));
        docs.push(Document::new(
            format!(
                "Whose pods may request their certificates: {}.",
                options.subjects
            ),
            &rbac::ClusterRoleBinding::identity(&options.subjects),
        ));
    }
    docs.push(Document::new(
        "The scrape config for the proxies, for a Prometheus in this namespace (or print it alone \
         with --prometheus-config and merge it into yours)."
            .into(),
        &prometheus::config_map(ns),
    ));
    let mut out = String::new();
    for doc in docs {
        out.push_str("---\n");
        for line in wrap(&doc.why, 98) {
            out.push_str("# ");
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&doc.yaml);
    }
    Ok(out)
}

fn check_namespace(field: &'static str, value: &str) -> Result<(), InstallError> {
    is_dns_label(value).map_err(|why| InstallError::Namespace {
        field,
        value: value.to_string(),
        why,
    })
}

/// `text` in lines of at most `width` characters, broken between words.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("lines starts with one");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_is_preceded_by_its_separator_and_comment() {
        let text = manifests(&InstallOptions::default()).unwrap();
        let docs = crate::yaml::documents(&text);
        let kinds: Vec<_> = docs
            .iter()
            .map(|d| d.as_ref().unwrap()["kind"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "Namespace",
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "ClusterRole",
                "ClusterRoleBinding",
                "ConfigMap"
            ]
        );
        let without_identity = manifests(&InstallOptions {
            identity_rbac: false,
            ..InstallOptions::default()
        })
        .unwrap();
        assert!(!without_identity.contains("mesh-identity"));
        let without = manifests(&InstallOptions {
            crd: false,
            ..InstallOptions::default()
        })
        .unwrap();
        assert!(!without.contains("CustomResourceDefinition"));
    }

    #[test]
    fn a_bad_namespace_is_refused_naming_its_setting() {
        let err = manifests(&InstallOptions {
            namespace: "Mesh".into(),
            ..InstallOptions::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "namespace: \"Mesh\" is not a namespace name: only lowercase letters, digits and '-' \
             (RFC 1123 label)"
        );
        let err = manifests(&InstallOptions {
            subjects: rbac::Subjects::Namespaces(vec!["emojivoto".into(), "-x".into()]),
            ..InstallOptions::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with("proxy namespaces: \"-x\""),
            "{err}"
        );
    }
}
