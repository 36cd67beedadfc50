//! ServiceProfiles: the model, the generators that write them, and the checks that read them.
pub mod model;
pub use model::*;
pub mod duration;
pub mod go_regex;
pub mod matcher;
pub mod names;
pub mod observed;
pub mod openapi;
pub mod path_template;

/// Which service a generated profile is for.
#[derive(Debug, Clone)]
pub struct ProfileTarget {
    /// Kubernetes Service name (a DNS-1035 label).
    pub service: String,
    /// Namespace of the service (a DNS-1123 label).
    pub namespace: String,
    /// Cluster DNS domain, `cluster.local` by default.
    pub cluster_domain: String,
}

impl ProfileTarget {
    /// The `metadata.name` a generator writes: `<service>.<namespace>.svc.<cluster-domain>`.
    pub fn profile_name(&self) -> String {
        format!(
            "{}.{}.svc.{}",
            self.service, self.namespace, self.cluster_domain
        )
    }

    /// Checks that [`Self::profile_name`] is a name `mesh profile check` (and a cluster) accepts:
    /// each part may be valid while the whole is longer than the 253 characters of a DNS-1123
    /// subdomain.
    pub fn check_profile_name(&self) -> Result<(), names::NameError> {
        names::check_dns1123_subdomain(&self.profile_name())
    }
}

/// A generated profile plus what the generator noticed and the user should hear about.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The profile, ready to render.
    pub profile: ServiceProfile,
    /// Warnings (skipped references, ignored extensions), one sentence each.
    pub notices: Vec<String>,
}
pub mod check;
pub mod decode;
pub mod proto;
pub mod render;
mod schema;
pub mod template;
pub mod unmatchable;
