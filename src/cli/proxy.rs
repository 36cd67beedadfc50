//! `mesh proxy`: run the sidecar proxy beside an app, and with `-- APP`, run the app under it.
//!
//! With `-- APP` the proxy owns the app's lifetime, so the app never runs without its proxy: the
//! app starts once the proxy's own `/ready` says so, stop signals are passed on to the app, and the
//! proxy drains only once the app has exited (an app that makes requests while it stops still has
//! its proxy); `mesh proxy` then exits with the app's exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::builder::{BoolishValueParser, RangedU64ValueParser};
use clap::{ArgAction, Args};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::args::{
    parse_duration, parse_positive_duration, AdminTokenArg, ClusterDomainArg, NamespaceArg,
    RegistryArg, DEFAULT_ADMIN_ADDR,
};
use super::child;
use super::signal::StopSignals;
use crate::identity::{Identity, Workload};
use crate::proxy::connect::ConnectConfig;
use crate::proxy::policy::{AllowList, AllowRule};
use crate::proxy::readiness::{self, POLL_INTERVAL};
use crate::proxy::{
    check, serve, Capture, InboundForward, KubeApi, Limits, Listeners, ProxyConfig, ServeError,
};
use crate::registry::ServicePort;

/// How long `mesh proxy -- APP` waits for its own proxy to be ready before giving up.
const APP_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the app may take to exit after SIGTERM when its proxy has failed under it.
const APP_STOP_GRACE: Duration = Duration::from_secs(10);

/// Run the sidecar proxy: inbound to the app, outbound for the app, and the admin port
#[derive(Debug, Args)]
#[command(
    mut_arg("namespace", |a| a.help("Namespace of this workload")),
    mut_arg("admin_token_file", |a| a.help(
        "File holding the bearer token /tap and /shutdown require on a public admin port (without \
         it, both are off there)"
    )),
    after_help = "Example:\n  mesh proxy --workload deploy/web -n emojivoto --service web-svc:8080 \\\n    \
                  --app 127.0.0.1:8080 --profiles ./profiles -- ./web --port 8080"
)]
pub struct ProxyArgs {
    /// Where callers reach this workload's services (requests go on to --app) [default:
    /// 0.0.0.0:4143; with --capture `[::]:4143`, as redirected IPv6 connections arrive on IPv6]
    #[arg(long, env = "MESH_INBOUND", value_name = "ADDR")]
    pub inbound: Option<SocketAddr>,

    /// Where the app sends its requests (as to an HTTP proxy, or with the target in Host)
    /// [default: 127.0.0.1:4140; with --capture `[::]:4140`]
    #[arg(long, env = "MESH_OUTBOUND", value_name = "ADDR")]
    pub outbound: Option<SocketAddr>,

    /// The admin port: /ready, /live, /metrics, /stats, /tap, POST /shutdown
    #[arg(
        long,
        env = "MESH_ADMIN",
        default_value = DEFAULT_ADMIN_ADDR,
        value_name = "ADDR"
    )]
    pub admin: SocketAddr,

    /// Allow the admin port on a non-loopback address (as in Kubernetes, for Prometheus)
    #[arg(long)]
    pub admin_public: bool,

    #[command(flatten)]
    pub admin_token: AdminTokenArg,

    /// The local app inbound requests go to; without it there is no inbound listener
    #[arg(long, env = "MESH_APP", value_name = "ADDR")]
    pub app: Option<SocketAddr>,

    #[command(flatten)]
    pub namespace: NamespaceArg,

    #[command(flatten)]
    pub identity: super::proxy_identity::IdentityArgs,

    /// This workload, as KIND/NAME (deploy/web, sts/zk)
    #[arg(long, env = "MESH_WORKLOAD", value_parser = parse_workload)]
    pub workload: Workload,

    /// This pod's name (default: the workload's name)
    #[arg(long, env = "MESH_POD")]
    pub pod: Option<String>,

    /// A service this workload serves (repeatable; port 80 if omitted).
    /// Its requests go to APP_PORT on the app's host; without it, to --app when the workload has
    /// one service port, else to the service port itself on the app's host
    #[arg(
        long = "service",
        env = "MESH_SERVICES",
        value_delimiter = ',',
        value_name = "NAME[:PORT][=APP_PORT]"
    )]
    pub services: Vec<ServicePort>,

    /// Directory of ServiceProfile YAML files, reloaded when they change (one that does not exist
    /// yet is watched for; a path that is not a directory is refused)
    #[arg(long, env = "MESH_PROFILES", value_name = "DIR", value_parser = parse_profiles_dir)]
    pub profiles: Option<PathBuf>,

    /// Where ServiceProfiles come from besides --profiles DIR: `none`, or `kube` (the
    /// serviceprofiles.linkerd.io objects of the Kubernetes API, watched cluster-wide; a file in
    /// DIR with the same name wins)
    #[arg(long, env = "MESH_PROFILE_SOURCE", value_enum, default_value = "none")]
    pub profile_source: ProfileSourceArg,

    /// Static endpoints file (YAML: service authority -> addresses with labels)
    #[arg(long, env = "MESH_ENDPOINTS", value_name = "FILE")]
    pub endpoints: Option<PathBuf>,

    #[command(flatten)]
    pub registry: RegistryArg,

    /// Neither register in nor discover from the local registry
    #[arg(long, conflicts_with = "registry")]
    pub no_registry: bool,

    /// Where services' endpoints come from after --endpoints: `registry` (this machine's local
    /// registry) or `kube` (the Kubernetes API: EndpointSlices and Services, through KUBECONFIG
    /// or the pod's service account; the registry is then neither used nor joined)
    #[arg(long, env = "MESH_DISCOVERY", value_enum, default_value = "registry")]
    pub discovery: DiscoveryArg,

    /// Ports never parsed as HTTP, only forwarded as TCP (e.g. 2888,3888; `none` for none). The
    /// default is Linkerd's: SMTP, MySQL, Galera, PostgreSQL, Redis, Elasticsearch, memcached
    #[arg(
        long,
        env = "MESH_OPAQUE_PORTS",
        value_delimiter = ',',
        value_name = "PORTS",
        default_value = "25,587,3306,4444,5432,6379,9300,11211",
        value_parser = parse_opaque_port
    )]
    pub opaque_ports: Vec<Option<u16>>,

    /// Also forward to these addresses, which discovery does not know: CIDR[:PORT[-PORT]]
    /// (repeatable). Loopback and link-local addresses open only to a rule inside those ranges
    /// (127.0.0.1/32:8080); see docs/security.md for the risk
    #[arg(
        long = "allow-destination",
        env = "MESH_ALLOW_DESTINATIONS",
        value_delimiter = ',',
        value_name = "CIDR[:PORTS]"
    )]
    pub allow_destinations: Vec<AllowRule>,

    #[command(flatten)]
    pub cluster_domain: ClusterDomainArg,

    /// How long in-flight requests may take to finish after SIGTERM or SIGINT
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,

    /// Requests in flight to one endpoint at most
    #[arg(
        long,
        env = "MESH_MAX_IN_FLIGHT",
        default_value = "10000",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
        value_name = "N"
    )]
    pub max_in_flight: usize,

    /// Longest wait for an endpoint with capacity; past it the request fails fast with 503
    #[arg(long, default_value = "3s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub dispatch_timeout: Duration,

    /// Longest wait for a response, counted from the request's arrival (retries included), for
    /// routes without a shorter ServiceProfile timeout; past it the caller gets 504
    #[arg(long, default_value = "5m", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub response_timeout: Duration,

    /// How long an idle HTTP/1 connection to an app or endpoint is kept for reuse; keep it shorter
    /// than the upstreams' keep-alive timeout
    #[arg(long, default_value = "1.5s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub upstream_idle_timeout: Duration,

    /// How long an upstream HTTP/2 connection with open streams may stay silent before it is
    /// PINGed. gRPC servers take one PING per 5 minutes on a connection they send nothing on and
    /// close it (killing quiet streams) after a few more; dead upstreams are found sooner by TCP
    /// keepalive
    #[arg(long, default_value = "5m", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub upstream_ping_interval: Duration,

    /// Longest wait for a client's request head, and for its next request on an idle HTTP/1
    /// keep-alive connection; slower clients are disconnected
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub header_read_timeout: Duration,

    /// Longest wait for a new connection's first bytes; inbound, a silent client is then treated
    /// as opaque TCP (server-speaks-first protocols), outbound it is closed
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub detect_timeout: Duration,

    /// Client connections open at once per listener; more wait in the kernel's backlog
    #[arg(
        long,
        env = "MESH_MAX_CONNECTIONS",
        default_value = "20000",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..),
        value_name = "N"
    )]
    pub max_connections: usize,

    /// Transparent capture: connections arrive redirected by `mesh init`'s rules and each goes on
    /// to its original destination (inbound: the app port the caller connected to, so --app is
    /// not needed and --service only names the services; outbound: where the app was connecting,
    /// unless Host names a known service). Connections made to the listeners directly are served
    /// as without it; redirected ones are detected without it too
    // As a pod sets it: 1/0, true/false, yes/no, on/off.
    #[arg(long, env = "MESH_CAPTURE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub capture: bool,

    /// With --capture, where inbound connections go: `original` (the pod IP and port the caller
    /// connected to; the default) or `localhost` (that port on loopback, for apps bound to
    /// 127.0.0.1 only)
    #[arg(long, value_enum, value_name = "TO")]
    pub inbound_forward: Option<InboundForwardArg>,

    /// With --capture and -- APP: run the app as this uid (and --app-gid), which the capture
    /// rules do not exempt; without it that combination is refused, as the app would run as the
    /// proxy's own user and its traffic would skip the proxy
    #[arg(long, value_name = "UID", requires = "command")]
    pub app_uid: Option<u32>,

    /// The gid to run the app as, with --app-uid (default: that user's primary group, or the gid
    /// numbered as the uid; never the proxy's own group)
    #[arg(long, value_name = "GID", requires = "app_uid")]
    pub app_gid: Option<u32>,

    /// Log filter (error, warn, info, debug, trace, or tracing directives)
    #[arg(long, env = "MESH_LOG", default_value = "info")]
    pub log_level: String,

    /// Run this app once the proxy is ready (with MESH_OUTBOUND_ADDR, MESH_ADMIN_ADDR and
    /// MESH_INBOUND_ADDR set); stop signals go to the app, the proxy stops when it exits, and mesh
    /// exits with its exit code
    #[arg(last = true, value_name = "APP")]
    pub command: Vec<String>,
}

/// `--profile-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileSourceArg {
    None,
    Kube,
}

/// `--discovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiscoveryArg {
    Registry,
    Kube,
}

/// `--inbound-forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InboundForwardArg {
    // No doc comments on the values: documented values would switch `mesh proxy --help` to
    // the long layout; the flag's own help says what each means.
    Original,
    Localhost,
}

fn parse_workload(s: &str) -> Result<Workload, crate::identity::WorkloadError> {
    s.parse()
}

/// `--profiles DIR`: a path that exists must be a directory. A file given by mistake (the profile
/// itself, say) would start a proxy that applies no profile at all, so it is a usage error; a
/// path that does not exist yet is accepted, as a volume may be mounted after the proxy starts
/// (the proxy warns that it is absent and watches for it).
fn parse_profiles_dir(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => Ok(path),
        Ok(_) => Err(
            "not a directory: --profiles takes a directory of ServiceProfile YAML \
             files (*.yaml, *.yml); put the file in one"
                .to_owned(),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(path),
        Err(e) => Err(format!("cannot be read: {e}")),
    }
}

/// A port of `--opaque-ports`, or `none` (which adds none, so `--opaque-ports none` clears the
/// default list).
fn parse_opaque_port(s: &str) -> Result<Option<u16>, String> {
    match s.trim() {
        "none" => Ok(None),
        p => p
            .parse::<u16>()
            .map(Some)
            .map_err(|_| format!("{p:?} is not a port (1-65535) or `none`")),
    }
}

/// The inbound and outbound listeners' addresses: the flags', else the defaults. Explicit mode
/// keeps the outbound on loopback (only the app uses it) and the inbound on IPv4. Under
/// `--capture` both are dual-stack `[::]`: `mesh init` redirects IPv4 and IPv6, and a redirected
/// IPv6 connection arrives on the IPv6 side. That opens the outbound port to callers outside the
/// pod only on paper: their connections to it are redirected to the inbound first, which refuses
/// the outbound as a destination (a loop), so it is never a relay for strangers.
fn listen_addrs(args: &ProxyArgs) -> (SocketAddr, SocketAddr) {
    let any = |port| SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
    let (inbound, outbound) = if args.capture {
        (any(4143), any(4140))
    } else {
        (
            SocketAddr::from(([0, 0, 0, 0], 4143)),
            SocketAddr::from(([127, 0, 0, 1], 4140)),
        )
    };
    (
        args.inbound.unwrap_or(inbound),
        args.outbound.unwrap_or(outbound),
    )
}

/// Runs `mesh proxy` until SIGTERM or SIGINT, or with `-- APP` until the app exits.
pub fn run(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    let (inbound, outbound) = listen_addrs(&args);
    if !args.admin.ip().is_loopback() && !args.admin_public {
        bail!(
            "the admin address {} is not loopback: anyone who reaches it can read metrics and traffic; \
             pass --admin-public to allow it (as in Kubernetes, for Prometheus)",
            args.admin
        );
    }
    if let (Some(forward), false) = (args.inbound_forward, args.capture) {
        let forward = clap::ValueEnum::to_possible_value(&forward)
            .map_or_else(String::new, |v| v.get_name().to_string());
        bail!(
            "--inbound-forward {forward} takes effect under --capture only: without it, inbound \
             requests go to --app (or to each service's app port, --service NAME:PORT=APP_PORT); \
             add --capture (the pod's connections redirected by `mesh init`) or drop \
             --inbound-forward"
        );
    }
    let listeners = [
        (
            "--inbound",
            Some(inbound).filter(|_| args.capture || args.app.is_some()),
        ),
        ("--outbound", Some(outbound)),
        ("--admin", Some(args.admin)),
    ];
    if let Some(why) = listener_clash(&listeners, args.capture) {
        bail!("{why}");
    }
    if args.capture && !args.command.is_empty() && args.app_uid.is_none() {
        bail!(
            "--capture with -- APP: the app would run as the proxy's own user, whose connections \
             `mesh init` exempts from capture (--proxy-uid), so its traffic would silently skip \
             the proxy; pass --app-uid UID (a user the rules capture) or run the app in its own \
             container"
        );
    }
    if args
        .app_uid
        .is_some_and(|uid| uid == nix::unistd::geteuid().as_raw())
    {
        bail!(
            "--app-uid {}: that is the proxy's own uid, which the capture rules exempt; give the \
             app another user",
            nix::unistd::geteuid()
        );
    }
    if let Some(gid) = app_gid(&args).filter(|gid| *gid == nix::unistd::getegid().as_raw()) {
        bail!(
            "the app would run with gid {gid}, the proxy's own group, which `mesh init \
             --proxy-gid` may exempt from capture: give the app another group with --app-gid"
        );
    }
    if args.capture {
        // `mesh init` redirects both IP families, to the pod's addresses and to loopback: only a
        // listener on [::] takes them all.
        for (flag, addr) in [("--inbound", inbound), ("--outbound", outbound)] {
            if addr.ip() != std::net::Ipv6Addr::UNSPECIFIED {
                super::diag!(
                    "mesh: warning: {flag} {addr}: connections the capture rules redirect to \
                     port {port} arrive over IPv4 and IPv6 and on the pod's own addresses, and \
                     this listener refuses some of them; bind {flag} '[::]:{port}'",
                    port = addr.port()
                );
            }
        }
    }
    let runtime = super::runtime(super::Threads::One)?;
    runtime.block_on(run_async(args, (inbound, outbound)))
}

/// Why the listeners (flag, address; `None` when not bound) cannot all be bound as asked, if they
/// cannot: two on one port of overlapping addresses would fail to bind with "address in use",
/// which reads as another process holding it. Under `capture` the inbound and outbound ports must
/// differ whatever their addresses: `mesh init` redirects each direction to its own port, and
/// the proxy tells them apart by the listener a connection arrives on. Port 0 (any free port)
/// never clashes.
fn listener_clash(listeners: &[(&str, Option<SocketAddr>)], capture: bool) -> Option<String> {
    let bound: Vec<(&str, SocketAddr)> = listeners
        .iter()
        .filter_map(|(flag, addr)| addr.map(|a| (*flag, a)))
        .collect();
    for (i, (flag_a, a)) in bound.iter().enumerate() {
        for (flag_b, b) in &bound[i + 1..] {
            if a.port() != b.port() || a.port() == 0 {
                continue;
            }
            let port = a.port();
            let directions = [*flag_a, *flag_b] == ["--inbound", "--outbound"];
            if capture && directions {
                return Some(format!(
                    "{flag_a} {a} and {flag_b} {b} share port {port}: under --capture `mesh init` \
                     redirects inbound and outbound connections to two different ports \
                     (--inbound-port, --outbound-port), and the proxy tells the directions apart \
                     by the port a connection arrives on; give each its own port"
                ));
            }
            if overlap(a.ip(), b.ip()) {
                return Some(format!(
                    "{flag_a} {a} and {flag_b} {b}: two listeners on port {port} of the same \
                     address cannot both be bound; give each its own port"
                ));
            }
        }
    }
    None
}

/// Whether sockets bound to `a` and `b` on one port would take each other's connections: the
/// same address, or an unspecified one covering the other (`0.0.0.0` every IPv4 address, `[::]`
/// every address, IPv4 too, as the proxy binds it dual-stack).
fn overlap(a: std::net::IpAddr, b: std::net::IpAddr) -> bool {
    let covers = |wide: std::net::IpAddr, other: std::net::IpAddr| match wide {
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => true,
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => {
            other.to_canonical().is_ipv4() || other.is_unspecified()
        }
        _ => false,
    };
    a.to_canonical() == b.to_canonical() || covers(a, b) || covers(b, a)
}

/// What the proxy takes from the Kubernetes API, and where the API is (kube-rs's inference:
/// `KUBECONFIG`, else the pod's service account); `None` when it takes nothing.
async fn kube_api(
    discovery: DiscoveryArg,
    profiles: ProfileSourceArg,
) -> anyhow::Result<Option<KubeApi>> {
    let discovery = discovery == DiscoveryArg::Kube;
    let profiles = profiles == ProfileSourceArg::Kube;
    if !discovery && !profiles {
        return Ok(None);
    }
    let flags = match (discovery, profiles) {
        (true, true) => "--discovery kube and --profile-source kube",
        (true, false) => "--discovery kube",
        _ => "--profile-source kube",
    };
    let config = kube::Config::infer().await.map_err(|e| {
        anyhow::anyhow!(
            "{flags}: no Kubernetes API to talk to: {e}; set KUBECONFIG, or run in a pod with a \
             service account token"
        )
    })?;
    Ok(Some(KubeApi {
        config,
        discovery,
        profiles,
    }))
}

/// The app's gid under --app-uid: --app-gid, else the user's primary group from the passwd
/// database, else the gid numbered as the uid. Never the proxy's own group by default: a
/// `mesh init --proxy-gid` rule would exempt the app's connections from capture.
fn app_gid(args: &ProxyArgs) -> Option<u32> {
    let uid = args.app_uid?;
    Some(args.app_gid.unwrap_or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or(uid, |user| user.gid.as_raw())
    }))
}

async fn run_async(
    args: ProxyArgs,
    (inbound_addr, outbound_addr): (SocketAddr, SocketAddr),
) -> anyhow::Result<ExitCode> {
    let app_gid = app_gid(&args);
    let mut signals = StopSignals::install()?;
    // Inbound and outbound clients, each possibly relayed (two descriptors), and upstream pools.
    raise_open_file_limit(4 * args.max_connections as u64 + 1024);
    let inbound = match (args.app, args.capture) {
        (None, false) => None,
        _ => Some(bind("inbound", inbound_addr).await?),
    };
    let outbound = bind("outbound", outbound_addr).await?;
    let admin = bind("admin", args.admin).await?;
    let bound = BoundAddrs {
        inbound: inbound.as_ref().map(local_addr).transpose()?,
        outbound: local_addr(&outbound)?,
        admin: local_addr(&admin)?,
    };
    let pod = args
        .pod
        .clone()
        .unwrap_or_else(|| args.workload.name.clone());
    let limits = limits(&args);
    let opaque_ports = args.opaque_ports.into_iter().flatten().collect();
    let identity = Identity {
        namespace: args.namespace.namespace,
        workload: args.workload,
        pod,
    };
    let (tls, require_identity) = args.identity.load(&identity)?;
    let config = ProxyConfig {
        identity,
        services: args.services,
        app: args.app,
        cluster_domain: args.cluster_domain.cluster_domain,
        opaque_ports,
        allow_destinations: AllowList(args.allow_destinations),
        profiles_dir: args.profiles,
        endpoints_file: args.endpoints,
        registry_dir: if args.no_registry || args.discovery == DiscoveryArg::Kube {
            None
        } else {
            Some(args.registry.dir())
        },
        kube: kube_api(args.discovery, args.profile_source).await?,
        limits,
        admin: crate::proxy::AdminAccess {
            public: !args.admin.ip().is_loopback(),
            token: args.admin_token.read()?,
        },
        capture: args.capture.then_some(Capture {
            inbound_forward: match args.inbound_forward {
                None | Some(InboundForwardArg::Original) => InboundForward::OriginalDst,
                Some(InboundForwardArg::Localhost) => InboundForward::Localhost,
            },
        }),
        tls,
        require_identity,
    };
    let app_user = (args.app_uid, app_gid);
    let listeners = Listeners {
        inbound,
        outbound: Some(outbound),
        admin,
    };
    // Refused before the ports are announced: a script that waits for the line below must not
    // take a proxy that is about to exit for a running one.
    check(&config, &listeners)?;
    // One line on stdout, so scripts that bind port 0 learn the ports.
    super::print_stdout(&format!(
        "listening inbound={} outbound={} admin={}\n",
        bound.inbound.map_or("-".to_string(), |a| a.to_string()),
        bound.outbound,
        bound.admin
    ))?;
    if args.command.is_empty() {
        serve(config, listeners, async move {
            signals.recv().await;
        })
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    let proxy = RunningProxy::start(config, listeners);
    run_app(proxy, &bound, &args.command, app_user, signals).await
}

/// Runs `app` beside the running `proxy`: starts it once the proxy is ready, passes stop signals
/// on to it, drains the proxy once it has exited, and returns its exit code.
async fn run_app(
    mut proxy: RunningProxy,
    bound: &BoundAddrs,
    app: &[String],
    (uid, gid): (Option<u32>, Option<u32>),
    mut signals: StopSignals,
) -> anyhow::Result<ExitCode> {
    super::diag!(
        "mesh: waiting for the proxy to be ready at {} before starting {}",
        bound.admin,
        app[0]
    );
    tokio::select! {
        ready = readiness::wait_ready(bound.admin, POLL_INTERVAL, APP_READY_TIMEOUT) => {
            if let Err(e) = ready {
                proxy.shut_down().await?;
                return Err(anyhow::Error::new(e).context(format!("not starting {}", app[0])));
            }
        }
        ended = &mut proxy.task => {
            ended.context("proxy task")??;
            bail!("the proxy stopped before it was ready");
        }
        signal = signals.recv() => {
            // Stopped before the app started: the app never runs, and mesh exits as it would have.
            proxy.shut_down().await?;
            return Ok(ExitCode::from(128 + signal.number()));
        }
    }

    let mut env = vec![
        ("MESH_OUTBOUND_ADDR", bound.outbound.to_string()),
        ("MESH_ADMIN_ADDR", bound.admin.to_string()),
    ];
    if let Some(inbound) = bound.inbound {
        env.push(("MESH_INBOUND_ADDR", inbound.to_string()));
    }
    let mut app_process = match child::spawn_as(app, &env, uid, gid) {
        Ok(process) => process,
        Err(e) => {
            proxy.shut_down().await?;
            return Err(e);
        }
    };
    tokio::select! {
        status = child::wait_passing_signals(&mut app_process, &mut signals) => {
            proxy.shut_down().await?;
            Ok(child::exit_code(status?))
        }
        ended = &mut proxy.task => {
            // The proxy failed under the app, or was shut down through its admin port: stop the
            // app too (it would have no proxy).
            child::stop(&mut app_process, APP_STOP_GRACE).await;
            ended.context("proxy task")??;
            super::diag!("mesh: the proxy was shut down on its admin port (POST /shutdown); stopped {}", app[0]);
            Ok(child::exit_code(app_process.wait().await?))
        }
    }
}

/// The addresses the listeners were bound to (port 0 resolved).
struct BoundAddrs {
    inbound: Option<SocketAddr>,
    outbound: SocketAddr,
    admin: SocketAddr,
}

/// A proxy serving in its own task until told to stop.
struct RunningProxy {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

// === impl RunningProxy ===

impl RunningProxy {
    fn start(config: ProxyConfig, listeners: Listeners) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(config, listeners, async move {
            let _ = stopped.await;
        }));
        RunningProxy { stop, task }
    }

    /// Stops accepting, lets in-flight requests finish (up to the shutdown grace), and waits.
    async fn shut_down(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        Ok(self.task.await.context("proxy task")??)
    }
}

/// Raises this process's open-file limit towards `wanted`, within the hard limit (as Go programs
/// do at start): the usual soft limit of 1024 would refuse connections long before
/// `--max-connections`. Running out anyway is reported by the accept loop.
fn raise_open_file_limit(wanted: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let target = wanted.min(hard);
        if target > soft {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, target, hard);
        }
    }
}

/// The bounds the flags set; the rest keep their defaults.
fn limits(args: &ProxyArgs) -> Limits {
    let defaults = Limits::default();
    Limits {
        shutdown_grace: args.shutdown_grace,
        max_in_flight: args.max_in_flight,
        dispatch_timeout: args.dispatch_timeout,
        header_read_timeout: args.header_read_timeout,
        detect_timeout: args.detect_timeout,
        max_connections: args.max_connections,
        connect: ConnectConfig {
            response_timeout: args.response_timeout,
            idle_timeout: args.upstream_idle_timeout,
            ping_interval: args.upstream_ping_interval,
            ..defaults.connect.clone()
        },
        ..defaults
    }
}

fn local_addr(listener: &TcpListener) -> anyhow::Result<SocketAddr> {
    listener
        .local_addr()
        .context("reading a listener's bound address")
}

/// Binds a listener with the backlog of [`Limits::accept_backlog`], not the 128 of
/// `TcpListener::bind`: a burst of 500 uploads overflowed that and got 504s. An address in use
/// names the flag that moves it: a second proxy on one machine meets the first's default ports.
async fn bind(what: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listen = || {
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        // As TcpListener::bind does: a restarted proxy can bind while old connections linger.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(Limits::default().accept_backlog)
    };
    listen().map_err(|e| {
        let context = format!("binding the {what} listener to {addr}");
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "{context}: {e}; another process (another mesh proxy?) has it: give this one its \
                 own with --{what} ADDR"
            )
        } else {
            anyhow::Error::new(e).context(context)
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use crate::proxy::config::DEFAULT_OPAQUE_PORTS;

    fn opaque_ports(extra: &[&str]) -> Vec<u16> {
        let argv = [&["mesh", "proxy", "--workload", "deploy/web"], extra].concat();
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Proxy(args) => args.opaque_ports.into_iter().flatten().collect(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn listeners_clash_on_one_port_of_overlapping_addresses_and_under_capture_on_any() {
        use super::listener_clash;
        let clash = |inbound: &str, outbound: &str, capture| {
            let listeners = [
                ("--inbound", Some(inbound.parse().unwrap())),
                ("--outbound", Some(outbound.parse().unwrap())),
                ("--admin", Some("127.0.0.1:4191".parse().unwrap())),
            ];
            listener_clash(&listeners, capture).is_some()
        };
        assert!(!clash("0.0.0.0:4143", "127.0.0.1:4140", false));
        assert!(clash("0.0.0.0:4140", "127.0.0.1:4140", false));
        assert!(clash("[::]:4140", "127.0.0.1:4140", false));
        assert!(clash("10.1.2.3:4140", "10.1.2.3:4140", false));
        assert!(!clash("10.1.2.3:4140", "127.0.0.1:4140", false));
        assert!(!clash("0.0.0.0:4140", "[fd00::1]:4140", false));
        assert!(clash("10.1.2.3:4140", "127.0.0.1:4140", true));
        assert!(!clash("[::]:0", "[::]:0", true));
        assert!(clash("[::]:4143", "[::]:4191", false), "the admin port too");
        let unbound = [
            ("--inbound", None),
            ("--outbound", Some("127.0.0.1:4140".parse().unwrap())),
        ];
        assert!(listener_clash(&unbound, false).is_none());
    }

    #[test]
    fn listeners_default_to_dual_stack_under_capture_only() {
        let addrs = |extra: &[&str]| {
            let argv = [&["mesh", "proxy", "--workload", "deploy/web"], extra].concat();
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Proxy(args) => {
                    let (i, o) = super::listen_addrs(&args);
                    (i.to_string(), o.to_string())
                }
                _ => unreachable!(),
            }
        };
        let pair = |i: &str, o: &str| (i.to_string(), o.to_string());
        assert_eq!(addrs(&[]), pair("0.0.0.0:4143", "127.0.0.1:4140"));
        assert_eq!(addrs(&["--capture"]), pair("[::]:4143", "[::]:4140"));
        let given = [
            "--capture",
            "--inbound",
            "10.0.0.1:1",
            "--outbound",
            "10.0.0.1:2",
        ];
        assert_eq!(addrs(&given), pair("10.0.0.1:1", "10.0.0.1:2"));
    }

    #[test]
    fn opaque_ports_default_to_linkerds_and_can_be_replaced_or_cleared() {
        assert_eq!(opaque_ports(&[]), DEFAULT_OPAQUE_PORTS);
        assert_eq!(opaque_ports(&["--opaque-ports", "2888,3888"]), [2888, 3888]);
        assert_eq!(opaque_ports(&["--opaque-ports", "none"]), Vec::<u16>::new());
    }
}
