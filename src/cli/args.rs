//! Flags shared by several subcommands, each defined once (as cargo's `arg_*` helpers) with one
//! validation, and flattened where used. A command words a shared flag's help for itself with
//! `#[command(mut_arg("namespace", |a| a.help(…)))]`; name, env, default and parser stay here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::profile::duration::parse_go_duration;
use crate::profile::names::{check_dns1123_label, check_dns1123_subdomain, NameError};

/// Where a proxy's admin port is unless `--admin` (or `MESH_ADMIN`) says otherwise: `mesh proxy`
/// listens there, `mesh await` asks there.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:4191";

/// `-n/--namespace`: a Kubernetes namespace (a DNS-1123 label), `MESH_NAMESPACE` in a pod.
#[derive(Debug, Clone, Args)]
pub struct NamespaceArg {
    /// Namespace of the resources
    #[arg(
        short = 'n',
        long = "namespace",
        default_value = "default",
        env = "MESH_NAMESPACE",
        value_parser = parse_namespace
    )]
    pub namespace: String,
}

/// `-n` with `-A/--all-namespaces`: where the viz commands look.
#[derive(Debug, Clone, Args)]
pub struct NamespacesArgs {
    #[command(flatten)]
    pub namespace: NamespaceArg,

    /// Look in every namespace
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
}

impl NamespacesArgs {
    /// The namespace to look in; `None` with `-A`.
    pub fn scope(&self) -> Option<&str> {
        (!self.all_namespaces).then_some(self.namespace())
    }

    /// The namespace `-n` names (also with `-A`, where `--to` still needs one).
    pub fn namespace(&self) -> &str {
        &self.namespace.namespace
    }
}

/// A command's output formats, and which one `-o` defaults to.
pub trait OutputFormats: ValueEnum + Clone + Send + Sync + 'static {
    /// The name of the default format.
    const DEFAULT: &'static str;
}

/// `-o/--output`, over the command's own formats `F`.
#[derive(Debug, Clone, Args)]
pub struct OutputArg<F: OutputFormats> {
    /// Output format
    #[arg(
        short = 'o',
        long = "output",
        value_enum,
        default_value = F::DEFAULT,
        value_parser = clap::builder::EnumValueParser::<F>::new()
    )]
    pub output: F,
}

/// `--registry`: the local registry directory.
#[derive(Debug, Clone, Args)]
pub struct RegistryArg {
    /// Local registry of running proxies (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)
    #[arg(long = "registry", value_name = "DIR", env = "MESH_REGISTRY")]
    pub registry: Option<PathBuf>,
}

impl RegistryArg {
    /// The directory given, or the default one.
    pub fn dir(&self) -> PathBuf {
        self.registry
            .clone()
            .unwrap_or_else(crate::registry::default_dir)
    }
}

/// `--admin-token-file`: the bearer token of public admin ports.
#[derive(Debug, Clone, Args)]
pub struct AdminTokenArg {
    /// File holding the bearer token of proxies whose admin port is public
    #[arg(
        long = "admin-token-file",
        env = "MESH_ADMIN_TOKEN_FILE",
        value_name = "FILE"
    )]
    pub admin_token_file: Option<PathBuf>,
}

impl AdminTokenArg {
    /// The token in the file, if one is given (an empty file is an error).
    pub fn read(&self) -> anyhow::Result<Option<Arc<str>>> {
        self.admin_token_file
            .as_deref()
            .map(crate::admin_api::read_token_file)
            .transpose()
            .context("--admin-token-file")
    }
}

/// `--proxy-admin`: admin addresses asked instead of the registry's proxies.
#[derive(Debug, Clone, Args)]
pub struct ProxyAdminArg {
    /// Ask this proxy admin address instead of the registry (repeatable)
    #[arg(long = "proxy-admin", value_name = "ADDR")]
    pub proxy_admin: Vec<SocketAddr>,
}

/// `--cluster-domain`.
#[derive(Debug, Clone, Args)]
pub struct ClusterDomainArg {
    /// Kubernetes cluster DNS domain
    #[arg(long = "cluster-domain", default_value = "cluster.local", value_parser = parse_cluster_domain)]
    pub cluster_domain: String,
}

fn parse_cluster_domain(s: &str) -> Result<String, NameError> {
    check_dns1123_subdomain(s).map(|()| s.to_string())
}

/// Parses a Go-style duration flag (`300ms`, `30s`, `2m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_go_duration(s).map_err(|e| e.to_string())
}

/// A duration that must be longer than zero: every duration flag that would refuse everything
/// (a timeout), never end (an interval: tokio's `interval` panics on zero) or do nothing (a run
/// length) at 0 takes this parser, so 0 is a usage error (exit 2) naming the flag. Only flags
/// where 0 means something (`--shutdown-grace`: stop at once; `--delay`: none) take
/// [`parse_duration`].
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

impl OutputFormats for VizOutput {
    const DEFAULT: &'static str = "table";
}

/// The flags every viz command shares.
#[derive(Debug, Clone, Args)]
pub struct VizArgs {
    #[command(flatten)]
    pub namespaces: NamespacesArgs,

    /// Only traffic from this resource (e.g. deploy/vote-bot)
    #[arg(long, value_name = "RESOURCE", conflicts_with = "to")]
    pub from: Option<String>,

    /// Only traffic to this resource, as its callers saw it (e.g. deploy/voting)
    #[arg(long, value_name = "RESOURCE")]
    pub to: Option<String>,

    /// How far back to look (e.g. 10s, 1m, 10m, 1h; at most 1h unless --prometheus)
    // `--window` (the admin API's word, `/stats?window=`) is accepted too: without it clap would
    // answer it with a tip to pass `-- --window` as a resource.
    #[arg(
        short = 't',
        long = "time-window",
        alias = "window",
        value_name = "DURATION",
        default_value = "1m",
        value_parser = parse_positive_duration
    )]
    pub window: Duration,

    #[command(flatten)]
    pub output: OutputArg<VizOutput>,

    #[command(flatten)]
    pub registry: RegistryArg,

    #[command(flatten)]
    pub proxy_admin: ProxyAdminArg,

    /// Read the numbers from this Prometheus server (which scrapes the proxies) instead
    #[arg(
        long,
        value_name = "URL",
        env = "MESH_PROMETHEUS",
        conflicts_with = "proxy_admin",
        value_parser = parse_prometheus_url
    )]
    pub prometheus: Option<String>,
}

/// `--prometheus`: an absolute `http://` URL. reqwest is built without TLS here (Cargo.toml), so
/// `https://` is refused now rather than by the first request.
fn parse_prometheus_url(s: &str) -> Result<String, String> {
    if !s.contains("://") {
        return Err(
            "not an absolute URL: give the scheme and host, e.g. http://prometheus:9090".into(),
        );
    }
    let url = reqwest::Url::parse(s)
        .map_err(|e| format!("not a URL ({e}): e.g. http://prometheus:9090"))?;
    match url.scheme() {
        "http" if url.host().is_some() => Ok(s.to_string()),
        "http" => Err("no host: e.g. http://prometheus:9090".into()),
        "https" => Err(
            "mesh reads Prometheus over plain HTTP; https:// is not supported (use \
                        Prometheus's plain-HTTP address, or a port-forward to it)"
                .into(),
        ),
        other => Err(format!(
            "the scheme {other}:// is not HTTP: e.g. http://prometheus:9090"
        )),
    }
}

fn parse_namespace(s: &str) -> Result<String, NameError> {
    check_dns1123_label(s).map(|()| s.to_string())
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn every_namespace_flag_is_validated_alike() {
        let commands: [&[&str]; 4] = [
            &["mesh", "proxy", "--workload", "deploy/web"],
            &["mesh", "tap", "deploy"],
            &["mesh", "stat", "deploy"],
            &["mesh", "profile", "--template", "web"],
        ];
        for command in commands {
            let argv = [command, &["-n", "Prod"]].concat();
            let err = Cli::try_parse_from(&argv).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{argv:?}");
            let text = err.to_string();
            assert!(
                text.contains("invalid value 'Prod' for '--namespace <NAMESPACE>'"),
                "{argv:?}: {text}"
            );
        }
    }

    #[test]
    fn output_defaults_to_each_commands_own_format() {
        let parse = |argv: &[&str]| Cli::try_parse_from(argv).unwrap().command;
        match parse(&["mesh", "stat", "deploy"]) {
            Command::Stat(args) => assert_eq!(args.viz.output.output, super::VizOutput::Table),
            _ => unreachable!(),
        }
        match parse(&["mesh", "tap", "deploy", "-o", "json"]) {
            Command::Tap(args) => assert_eq!(args.output.output, crate::cli::tap::TapOutput::Json),
            _ => unreachable!(),
        }
        match parse(&["mesh", "profile", "--template", "web"]) {
            Command::Profile(args) => assert!(matches!(
                args.output.output,
                crate::cli::profile::OutputFormat::Yaml
            )),
            _ => unreachable!(),
        }
    }
}
