//! The RBAC objects discovery needs: a ClusterRole with read-only rights on what a proxy resolves
//! from, and the ClusterRoleBinding that grants it (Kubernetes API reference,
//! `rbac.authorization.k8s.io/v1`); and the one right the proxies' identity needs of
//! cert-manager's csi-driver-spiffe, granted to the same service accounts.
//!
//! # Whom the role is bound to
//!
//! mesh has no central destination controller: each proxy watches the API with its own pod's
//! service account, so the subjects are the meshed pods' service accounts, whatever they are
//! called. Kubernetes puts every service account token in the groups `system:serviceaccounts` and
//! `system:serviceaccounts:<namespace>`, so the binding names groups, not accounts:
//!
//! - [`Subjects::AllServiceAccounts`] (the default): every service account in the cluster, so a
//!   workload meshed in any namespace works at once. The price: any pod, meshed or not, may then
//!   read every Service, EndpointSlice, ServiceProfile and *pod* in the cluster — and a pod's spec
//!   shows its environment, including values a manifest wrote there in plain text.
//! - [`Subjects::Namespaces`]: only the service accounts of the listed namespaces, for clusters
//!   where that matters; a namespace meshed later must be added (re-run `mesh install`).
//!
//! The service account `mesh` of the install namespace is always a subject: it is the account for
//! a proxy or the CLI run outside the cluster. Linkerd avoids the trade by running one destination
//! controller that alone holds these rights; DESIGN.md's seam keeps that possible.
//!
//! # The identity role
//!
//! csi-driver-spiffe (the source of the identity `mesh inject` mounts by default) asks cert-manager
//! for each pod's certificate as the pod's own service account, by creating a CertificateRequest
//! in the pod's namespace: the account needs `create` on `certificaterequests.cert-manager.io`
//! ([`IDENTITY_ROLE`]), and nothing else. That right is safe only where cert-manager's default
//! approver is off, as csi-driver-spiffe requires, so that its approver alone approves requests,
//! and only one whose SPIFFE ID is the requesting account's own; elsewhere any account could have
//! any issuer sign what it asks. `mesh install --no-identity-rbac` leaves it out.

use std::fmt;

use serde::Serialize;

use super::meta::ObjectMeta;
use super::SERVICE_ACCOUNT;

/// The name of the ClusterRole (and of its binding): cluster-wide, one per cluster.
pub const CLUSTER_ROLE: &str = "mesh-discovery";
/// The name of the ClusterRole (and of its binding) that lets the meshed pods' service accounts
/// request their own certificates from csi-driver-spiffe.
pub const IDENTITY_ROLE: &str = "mesh-identity";

/// The verbs discovery uses: a list and a watch per resource, and a get for one object.
const READ: [&str; 3] = ["get", "list", "watch"];

/// One rule of a role: these verbs on these resources of these API groups (`""` is the core
/// group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

impl PolicyRule {
    fn read(group: &str, resources: &[&str]) -> Self {
        PolicyRule {
            api_groups: vec![group.to_string()],
            resources: resources.iter().map(|r| r.to_string()).collect(),
            verbs: READ.iter().map(|v| v.to_string()).collect(),
        }
    }

    /// Whether this rule allows `verb` on `resource` of API group `group` (no wildcards: mesh's
    /// rules name everything).
    pub fn allows(&self, group: &str, resource: &str, verb: &str) -> bool {
        self.api_groups.iter().any(|g| g == group)
            && self.resources.iter().any(|r| r == resource)
            && self.verbs.iter().any(|v| v == verb)
    }
}

/// A `ClusterRole`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRole {
    api_version: &'static str,
    kind: &'static str,
    pub metadata: ObjectMeta,
    pub rules: Vec<PolicyRule>,
}

impl ClusterRole {
    /// [`CLUSTER_ROLE`]: get, list and watch on EndpointSlices (which pods serve a service),
    /// Services (ClusterIP:port → service, named target ports), pods (an endpoint's workload label
    /// and service account) and ServiceProfiles. No write, no secret, no other resource.
    pub fn discovery() -> Self {
        ClusterRole {
            api_version: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: ObjectMeta::cluster(CLUSTER_ROLE),
            rules: vec![
                PolicyRule::read("discovery.k8s.io", &["endpointslices"]),
                PolicyRule::read("", &["services", "pods"]),
                PolicyRule::read("linkerd.io", &["serviceprofiles"]),
            ],
        }
    }

    /// [`IDENTITY_ROLE`]: create CertificateRequests (cert-manager.io), which csi-driver-spiffe
    /// does as the pod's service account. No read, and nothing else.
    pub fn identity() -> Self {
        ClusterRole {
            api_version: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: ObjectMeta::cluster(IDENTITY_ROLE),
            rules: vec![PolicyRule {
                api_groups: vec!["cert-manager.io".into()],
                resources: vec!["certificaterequests".into()],
                verbs: vec!["create".into()],
            }],
        }
    }

    /// Whether any rule allows `verb` on `resource` of `group`: what an API server's RBAC would
    /// answer for a subject bound to this role alone.
    pub fn allows(&self, group: &str, resource: &str, verb: &str) -> bool {
        self.rules.iter().any(|r| r.allows(group, resource, verb))
    }
}

/// Whose service accounts may read discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subjects {
    /// The group `system:serviceaccounts`: every service account in the cluster.
    AllServiceAccounts,
    /// The groups `system:serviceaccounts:<ns>` of these namespaces (where meshed pods run),
    /// sorted and without repeats (as [`Subjects::namespaces`] makes it).
    Namespaces(Vec<String>),
}

impl Subjects {
    /// The service accounts of `namespaces`, sorted and each once, so the binding (and its diff
    /// after another `mesh install`) does not depend on the order they were given in.
    pub fn namespaces(namespaces: impl IntoIterator<Item = String>) -> Self {
        let mut namespaces: Vec<String> = namespaces.into_iter().collect();
        namespaces.sort();
        namespaces.dedup();
        Subjects::Namespaces(namespaces)
    }
}

impl fmt::Display for Subjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subjects::AllServiceAccounts => f.write_str(
                "here every service account in the cluster (group system:serviceaccounts; narrow \
                 it with --proxy-namespaces)",
            ),
            Subjects::Namespaces(ns) => write!(
                f,
                "here the service accounts of the namespaces {}",
                ns.join(", ")
            ),
        }
    }
}

/// A subject of a binding: a group, or a service account in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_group: Option<&'static str>,
}

impl Subject {
    fn group(name: String) -> Self {
        Subject {
            kind: "Group",
            name,
            namespace: None,
            api_group: Some("rbac.authorization.k8s.io"),
        }
    }
}

/// What a binding grants: a role, by kind and name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    api_group: &'static str,
    kind: &'static str,
    name: &'static str,
}

/// A `ClusterRoleBinding`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRoleBinding {
    api_version: &'static str,
    kind: &'static str,
    pub metadata: ObjectMeta,
    role_ref: RoleRef,
    pub subjects: Vec<Subject>,
}

impl ClusterRoleBinding {
    /// Grants [`CLUSTER_ROLE`] to the service account `mesh` of `namespace` and to `subjects`.
    pub fn discovery(namespace: &str, subjects: &Subjects) -> Self {
        let mut all = vec![Subject {
            kind: "ServiceAccount",
            name: SERVICE_ACCOUNT.to_string(),
            namespace: Some(namespace.to_string()),
            api_group: None,
        }];
        all.extend(groups(subjects));
        Self::granting(CLUSTER_ROLE, all)
    }

    /// Grants [`IDENTITY_ROLE`] to `subjects` (the meshed pods' accounts: `mesh`, which no pod
    /// runs as, needs no certificate).
    pub fn identity(subjects: &Subjects) -> Self {
        Self::granting(IDENTITY_ROLE, groups(subjects))
    }

    /// The binding named as the ClusterRole `role` it grants to `subjects`.
    fn granting(role: &'static str, subjects: Vec<Subject>) -> Self {
        ClusterRoleBinding {
            api_version: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: ObjectMeta::cluster(role),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io",
                kind: "ClusterRole",
                name: role,
            },
            subjects,
        }
    }
}

/// The groups that hold `subjects`' service accounts.
fn groups(subjects: &Subjects) -> Vec<Subject> {
    match subjects {
        Subjects::AllServiceAccounts => vec![Subject::group("system:serviceaccounts".to_string())],
        Subjects::Namespaces(namespaces) => namespaces
            .iter()
            .map(|ns| Subject::group(format!("system:serviceaccounts:{ns}")))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_reads_what_discovery_needs_and_nothing_else() {
        let role = ClusterRole::discovery();
        for verb in READ {
            assert!(role.allows("discovery.k8s.io", "endpointslices", verb));
            assert!(role.allows("", "services", verb));
            assert!(role.allows("", "pods", verb));
            assert!(role.allows("linkerd.io", "serviceprofiles", verb));
        }
        for (group, resource, verb) in [
            ("", "secrets", "get"),
            ("", "endpoints", "list"),
            ("", "pods", "create"),
            ("", "pods", "delete"),
            ("linkerd.io", "serviceprofiles", "update"),
            ("discovery.k8s.io", "endpointslices", "patch"),
            ("apps", "deployments", "get"),
            ("", "configmaps", "watch"),
        ] {
            assert!(
                !role.allows(group, resource, verb),
                "{verb} {group}/{resource}"
            );
        }
    }

    #[test]
    fn the_identity_role_only_creates_certificate_requests_for_the_same_groups() {
        let role = ClusterRole::identity();
        assert!(role.allows("cert-manager.io", "certificaterequests", "create"));
        for (group, resource, verb) in [
            ("cert-manager.io", "certificaterequests", "get"),
            ("cert-manager.io", "certificaterequests", "update"),
            ("cert-manager.io", "certificates", "create"),
            (
                "certificates.k8s.io",
                "certificatesigningrequests",
                "create",
            ),
            ("", "secrets", "get"),
        ] {
            assert!(
                !role.allows(group, resource, verb),
                "{verb} {group}/{resource}"
            );
        }
        let b = ClusterRoleBinding::identity(&Subjects::namespaces(["zk".into()]));
        let names: Vec<_> = b.subjects.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["system:serviceaccounts:zk"]);
        assert_eq!(b.role_ref.name, IDENTITY_ROLE);
    }

    #[test]
    fn the_binding_names_groups_and_the_mesh_account() {
        let b = ClusterRoleBinding::discovery(
            "mesh",
            &Subjects::namespaces(["b".into(), "a".into(), "b".into()]),
        );
        let names: Vec<_> = b.subjects.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mesh",
                "system:serviceaccounts:a",
                "system:serviceaccounts:b"
            ]
        );
        let all = ClusterRoleBinding::discovery("m", &Subjects::AllServiceAccounts);
        assert_eq!(all.subjects[0].namespace.as_deref(), Some("m"));
        assert_eq!(all.subjects[1].name, "system:serviceaccounts");
    }
}
