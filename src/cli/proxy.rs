//! `mesh proxy`: run the sidecar proxy beside an app.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use tokio::net::TcpListener;

use super::args::ClusterDomainArg;
use crate::identity::{Identity, Workload};
use crate::profile::duration::parse_go_duration;
use crate::proxy::{serve, Limits, Listeners, ProxyConfig};
use crate::registry::ServicePort;

/// Run the sidecar proxy: inbound to the app, outbound for the app, and the admin port
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mesh proxy --workload deploy/web -n emojivoto --service web-svc:8080 \\\n    \
                  --app 127.0.0.1:8080 --profiles ./profiles"
)]
pub struct ProxyArgs {
    /// Where callers reach this workload's services (requests go on to --app)
    #[arg(
        long,
        env = "MESH_INBOUND",
        default_value = "0.0.0.0:4143",
        value_name = "ADDR"
    )]
    pub inbound: SocketAddr,

    /// Where the app sends its requests (as to an HTTP proxy, or with the target in Host)
    #[arg(
        long,
        env = "MESH_OUTBOUND",
        default_value = "127.0.0.1:4140",
        value_name = "ADDR"
    )]
    pub outbound: SocketAddr,

    /// The admin port: /ready, /live, /metrics, /stats
    #[arg(
        long,
        env = "MESH_ADMIN",
        default_value = "127.0.0.1:4191",
        value_name = "ADDR"
    )]
    pub admin: SocketAddr,

    /// Allow the admin port on a non-loopback address (as in Kubernetes, for Prometheus)
    #[arg(long)]
    pub admin_public: bool,

    /// The local app inbound requests go to; without it there is no inbound listener
    #[arg(long, env = "MESH_APP", value_name = "ADDR")]
    pub app: Option<SocketAddr>,

    /// Namespace of this workload
    #[arg(short = 'n', long, env = "MESH_NAMESPACE", default_value = "default")]
    pub namespace: String,

    /// This workload, as KIND/NAME (deploy/web, sts/zk)
    #[arg(long, env = "MESH_WORKLOAD", value_parser = parse_workload)]
    pub workload: Workload,

    /// This pod's name (default: the workload's name)
    #[arg(long, env = "MESH_POD")]
    pub pod: Option<String>,

    /// A service this workload serves, NAME[:PORT] (repeatable; port 80 if omitted)
    #[arg(
        long = "service",
        env = "MESH_SERVICES",
        value_delimiter = ',',
        value_name = "NAME[:PORT]"
    )]
    pub services: Vec<ServicePort>,

    /// Directory of ServiceProfile YAML files, reloaded when they change
    #[arg(long, env = "MESH_PROFILES", value_name = "DIR")]
    pub profiles: Option<PathBuf>,

    /// Static endpoints file (YAML: service authority -> addresses with labels)
    #[arg(long, env = "MESH_ENDPOINTS", value_name = "FILE")]
    pub endpoints: Option<PathBuf>,

    /// Local registry directory (default: $XDG_RUNTIME_DIR/mesh/registry or the temp dir)
    #[arg(long, env = "MESH_REGISTRY", value_name = "DIR")]
    pub registry: Option<PathBuf>,

    /// Neither register in nor discover from the local registry
    #[arg(long, conflicts_with = "registry")]
    pub no_registry: bool,

    /// Ports never parsed as HTTP, only forwarded as TCP (e.g. 2888,3888)
    #[arg(
        long,
        env = "MESH_OPAQUE_PORTS",
        value_delimiter = ',',
        value_name = "PORTS"
    )]
    pub opaque_ports: Vec<u16>,

    #[command(flatten)]
    pub cluster_domain: ClusterDomainArg,

    /// How long in-flight requests may take to finish after SIGTERM or SIGINT
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,

    /// Log filter (error, warn, info, debug, trace, or tracing directives)
    #[arg(long, env = "MESH_LOG", default_value = "info")]
    pub log_level: String,
}

fn parse_workload(s: &str) -> Result<Workload, String> {
    s.parse()
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_go_duration(s).map_err(|e| e.to_string())
}

/// Runs `mesh proxy` until SIGTERM or SIGINT.
pub fn run(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    if !args.admin.ip().is_loopback() && !args.admin_public {
        bail!(
            "the admin address {} is not loopback: anyone who reaches it can read metrics and traffic; \
             pass --admin-public to allow it (as in Kubernetes, for Prometheus)",
            args.admin
        );
    }
    crate::profile::names::check_dns1123_label(&args.namespace)
        .map_err(|e| anyhow::anyhow!("--namespace: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let shutdown = super::signal::shutdown_signal()?;
    let inbound = match args.app {
        Some(_) => Some(bind("inbound", args.inbound).await?),
        None => None,
    };
    let outbound = bind("outbound", args.outbound).await?;
    let admin = bind("admin", args.admin).await?;
    let addr = |l: &TcpListener| l.local_addr().map(|a| a.to_string()).unwrap_or_default();
    // One line on stdout, so scripts that bind port 0 learn the ports.
    super::print_stdout(&format!(
        "listening inbound={} outbound={} admin={}\n",
        inbound.as_ref().map_or("-".to_string(), addr),
        addr(&outbound),
        addr(&admin)
    ))?;
    let pod = args
        .pod
        .clone()
        .unwrap_or_else(|| args.workload.name.clone());
    let config = ProxyConfig {
        identity: Identity {
            namespace: args.namespace,
            workload: args.workload,
            pod,
        },
        services: args.services,
        app: args.app,
        cluster_domain: args.cluster_domain.cluster_domain,
        opaque_ports: args.opaque_ports,
        profiles_dir: args.profiles,
        endpoints_file: args.endpoints,
        registry_dir: if args.no_registry {
            None
        } else {
            Some(args.registry.unwrap_or_else(crate::registry::default_dir))
        },
        limits: Limits {
            shutdown_grace: args.shutdown_grace,
            ..Limits::default()
        },
    };
    let listeners = Listeners {
        inbound,
        outbound: Some(outbound),
        admin,
    };
    serve(config, listeners, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} listener to {addr}"))
}
