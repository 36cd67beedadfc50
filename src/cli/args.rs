//! Flags shared by several subcommands, defined once and flattened where used.

use std::time::Duration;

use clap::Args;

use crate::profile::duration::parse_go_duration;
use crate::profile::names::{check_dns1123_label, check_dns1123_subdomain};

/// Where a proxy's admin port is unless `--admin` (or `MESH_ADMIN`) says otherwise: `mesh proxy`
/// listens there, `mesh await` asks there.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:4191";

/// `-n/--namespace`.
#[derive(Debug, Clone, Args)]
pub struct NamespaceArg {
    /// Namespace of the service or resources
    #[arg(short = 'n', long = "namespace", default_value = "default", value_parser = parse_namespace)]
    pub namespace: String,
}

/// `--cluster-domain`.
#[derive(Debug, Clone, Args)]
pub struct ClusterDomainArg {
    /// Kubernetes cluster DNS domain
    #[arg(long = "cluster-domain", default_value = "cluster.local", value_parser = parse_cluster_domain)]
    pub cluster_domain: String,
}

fn parse_namespace(s: &str) -> Result<String, String> {
    check_dns1123_label(s).map(|()| s.to_string())
}

fn parse_cluster_domain(s: &str) -> Result<String, String> {
    check_dns1123_subdomain(s).map(|()| s.to_string())
}

/// Parses a Go-style duration flag (`300ms`, `30s`, `2m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_go_duration(s).map_err(|e| e.to_string())
}
