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

/// A duration that must be longer than zero (a timeout of zero would refuse everything).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be longer than 0".into()),
        d => Ok(d),
    }
}

/// How viz commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VizOutput {
    /// A table, as Linkerd prints it
    Table,
    /// A table with more columns
    Wide,
    /// JSON, for jq
    Json,
}

/// The flags every viz command shares.
#[derive(Debug, Clone, Args)]
pub struct VizArgs {
    /// Namespace of the resources
    #[arg(short = 'n', long = "namespace", default_value = "default", env = "MESH_NAMESPACE", value_parser = parse_namespace)]
    pub namespace: String,

    /// Look in every namespace
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,

    /// Only traffic from this resource (e.g. deploy/vote-bot)
    #[arg(long, value_name = "RESOURCE", conflicts_with = "to")]
    pub from: Option<String>,

    /// Only traffic to this resource, as its callers saw it (e.g. deploy/voting)
    #[arg(long, value_name = "RESOURCE")]
    pub to: Option<String>,

    /// How far back to look (e.g. 10s, 1m, 10m, 1h)
    #[arg(short = 't', long = "time-window", value_name = "DURATION", default_value = "1m", value_parser = parse_duration)]
    pub window: Duration,

    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: VizOutput,

    /// Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)
    #[arg(long, value_name = "DIR", env = "MESH_REGISTRY")]
    pub registry: Option<std::path::PathBuf>,

    /// Ask this proxy admin address instead of the registry (repeatable)
    #[arg(long = "proxy-admin", value_name = "ADDR")]
    pub proxy_admin: Vec<std::net::SocketAddr>,

    /// Read the numbers from this Prometheus server (which scrapes the proxies) instead
    #[arg(
        long,
        value_name = "URL",
        env = "MESH_PROMETHEUS",
        conflicts_with = "proxy_admin"
    )]
    pub prometheus: Option<String>,
}
