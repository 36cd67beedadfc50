//! `mesh init`: install the capture rules in this network namespace (as an init container does
//! for a pod), print them (`--dry-run`), remove them (`--uninstall`), or prove they work
//! (`--check`). The rules themselves live in `crate::capture`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::args::parse_positive_duration;
use crate::capture::check::{self, Probe, DEFAULT_PROBE};
use crate::capture::config::DEFAULT_PROXY_UID;
use crate::capture::rules::{self, Chains};
use crate::capture::{Backend, BackendError, CaptureConfig, PortRange, PortSet, Subnet};

/// Install the rules that send a pod's TCP through its proxy (run as root, in the pod's network
/// namespace)
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mesh init --dry-run --skip-inbound-ports 2888,3888 \
                        --skip-outbound-ports 2888,3888\n  \
                        mesh init --check\n  mesh init --uninstall\n\n\
                        See docs/capture.md for the rule set and when to skip a port or mark \
                        it opaque."
)]
pub struct InitArgs {
    /// How to install the rules: `auto` picks the first of nft, iptables-nft, iptables-legacy
    /// that answers here, and says which
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,

    /// The proxy's uid: its connections are never captured (2102, Linkerd's, when neither this
    /// nor --proxy-gid is given)
    #[arg(long, value_name = "UID")]
    pub proxy_uid: Option<u32>,

    /// The proxy's gid: its connections are never captured
    #[arg(long, value_name = "GID")]
    pub proxy_gid: Option<u32>,

    /// The proxy's inbound port, where connections to the pod are redirected
    #[arg(long, default_value = "4143", value_name = "PORT", value_parser = port)]
    pub inbound_port: u16,

    /// The proxy's outbound port, where connections from the pod are redirected
    #[arg(long, default_value = "4140", value_name = "PORT", value_parser = port)]
    pub outbound_port: u16,

    /// The proxy's admin port, which callers reach directly (probes, Prometheus)
    #[arg(long, default_value = "4191", value_name = "PORT", value_parser = port)]
    pub admin_port: u16,

    /// Inbound ports that reach the app directly, never the proxy (e.g. 2888,3888 or 4000-4100)
    #[arg(long, value_delimiter = ',', value_name = "PORTS")]
    pub skip_inbound_ports: Vec<PortRange>,

    /// Outbound ports that leave the pod directly, never through the proxy
    #[arg(long, value_delimiter = ',', value_name = "PORTS")]
    pub skip_outbound_ports: Vec<PortRange>,

    /// Inbound connections from these CIDRs reach the app directly (Linkerd's skip-subnets)
    #[arg(long, value_delimiter = ',', value_name = "CIDRS")]
    pub skip_inbound_subnets: Vec<Subnet>,

    /// Outbound connections to these CIDRs leave the pod directly
    #[arg(long, value_delimiter = ',', value_name = "CIDRS")]
    pub skip_outbound_subnets: Vec<Subnet>,

    /// Print the exact input the backend would be given, and change nothing (no root needed)
    #[arg(long)]
    pub dry_run: bool,

    /// Remove the rules mesh installed (with `auto`: from every backend that has them)
    #[arg(long)]
    pub uninstall: bool,

    /// Prove capture works: listen on the outbound port, connect to --check-probe (as uid 65534
    /// when run as root, never as the proxy's user), and expect this check's own token back
    /// (before the proxy starts, as an init container)
    #[arg(long, conflicts_with_all = ["dry_run", "uninstall"])]
    pub check: bool,

    /// Where --check connects: an address only the capture rules can answer
    #[arg(long, default_value = DEFAULT_PROBE, value_name = "ADDR", requires = "check")]
    pub check_probe: SocketAddr,

    /// How long --check waits for its token
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub check_timeout: Duration,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// The first of nft, iptables-nft, iptables-legacy that works here
    Auto,
    /// nftables: one `inet mesh` table for IPv4 and IPv6 (`nft -f -`)
    Nft,
    /// iptables on nf_tables (`iptables-nft-restore`, `ip6tables-nft-restore`)
    IptablesNft,
    /// iptables on the legacy x_tables (`iptables-legacy-restore`, `ip6tables-legacy-restore`)
    IptablesLegacy,
}

impl BackendArg {
    fn backend(self) -> Option<Backend> {
        match self {
            BackendArg::Auto => None,
            BackendArg::Nft => Some(Backend::Nft),
            BackendArg::IptablesNft => Some(Backend::IptablesNft),
            BackendArg::IptablesLegacy => Some(Backend::IptablesLegacy),
        }
    }
}

fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err("a port is 1-65535".into()),
    }
}

impl InitArgs {
    /// The inbound, outbound and admin ports are three listeners: rules sending two directions
    /// to one port would hand the proxy connections it cannot tell apart.
    fn distinct_ports(&self) -> Result<(), clap::Error> {
        let ports = [
            ("--inbound-port", self.inbound_port),
            ("--outbound-port", self.outbound_port),
            ("--admin-port", self.admin_port),
        ];
        for (i, (a, pa)) in ports.iter().enumerate() {
            if let Some((b, _)) = ports[i + 1..].iter().find(|(_, pb)| pb == pa) {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "{a} and {b} are both {pa}: the proxy's inbound, outbound and admin \
                         ports must differ\n"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn config(&self) -> CaptureConfig {
        let proxy_uid = match (self.proxy_uid, self.proxy_gid) {
            (None, None) => Some(DEFAULT_PROXY_UID),
            (uid, _) => uid,
        };
        CaptureConfig {
            inbound_port: self.inbound_port,
            outbound_port: self.outbound_port,
            proxy_ports: vec![self.admin_port],
            proxy_uid,
            proxy_gid: self.proxy_gid,
            skip_inbound_ports: PortSet::new(self.skip_inbound_ports.clone()),
            skip_outbound_ports: PortSet::new(self.skip_outbound_ports.clone()),
            // As the port lists are merged: one rule per network that matters.
            skip_inbound_subnets: Subnet::merged(self.skip_inbound_subnets.clone()),
            skip_outbound_subnets: Subnet::merged(self.skip_outbound_subnets.clone()),
        }
    }
}

/// Runs `mesh init`.
pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    args.distinct_ports()?;
    let config = args.config();
    let chains = rules::chains(&config);
    if args.dry_run {
        return dry_run(&args, &chains);
    }
    let runtime = super::runtime(super::Threads::One)?;
    runtime.block_on(async {
        if args.check {
            return run_check(&args, &config).await;
        }
        if args.uninstall {
            return uninstall(args.backend).await;
        }
        let backend = chosen(args.backend).await?;
        backend.install(&chains).await?;
        super::print_stdout(&format!(
            "mesh init: capture rules installed ({backend}): inbound TCP -> :{}, outbound TCP -> :{}\n",
            config.inbound_port, config.outbound_port
        ))?;
        warn_of_other_rules(backend).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// The backend `--backend` names, or the one `auto` finds (said on stderr).
async fn chosen(arg: BackendArg) -> anyhow::Result<Backend> {
    match arg.backend() {
        Some(backend) => Ok(backend),
        None => {
            let (backend, why) = Backend::detect().await?;
            super::diag!("mesh init: backend {backend} ({why})");
            Ok(backend)
        }
    }
}

fn dry_run(args: &InitArgs, chains: &Chains) -> anyhow::Result<ExitCode> {
    let backend = match args.backend.backend() {
        Some(backend) => backend,
        None => {
            let backend = Backend::guess();
            super::diag!(
                "mesh init: backend {backend} (auto, judged by the binaries in PATH; without \
                 --dry-run the kernel is asked)"
            );
            backend
        }
    };
    let inputs = if args.uninstall {
        backend.uninstall_inputs()
    } else {
        backend.install_inputs(chains, None)
    };
    let mut out = inputs.join("\n");
    if backend != Backend::Nft {
        out.push_str(
            "# (the jumps from PREROUTING and OUTPUT are added, or deleted, only where \
             iptables-save shows them)\n",
        );
    }
    super::print_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

async fn uninstall(arg: BackendArg) -> anyhow::Result<ExitCode> {
    let backends = match arg.backend() {
        Some(backend) => vec![backend],
        // Whatever installed them: remove mesh's rules from every backend that answers.
        None => Backend::ALL.to_vec(),
    };
    let mut removed = Vec::new();
    for backend in backends {
        match backend.uninstall().await {
            Ok(true) => removed.push(backend.to_string()),
            Ok(false) => {}
            Err(BackendError::Tool { error, .. })
                if arg == BackendArg::Auto && error.is_missing() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(backend) = arg.backend() {
        warn_of_other_rules(backend).await;
    }
    let line = if removed.is_empty() {
        "mesh init: no capture rules to remove\n".to_string()
    } else {
        format!(
            "mesh init: capture rules removed ({})\n",
            removed.join(", ")
        )
    };
    super::print_stdout(&line)?;
    Ok(ExitCode::SUCCESS)
}

async fn run_check(args: &InitArgs, config: &CaptureConfig) -> anyhow::Result<ExitCode> {
    let probe = Probe {
        target: args.check_probe,
        outbound_port: config.outbound_port,
        timeout: args.check_timeout,
        proxy_uid: config.proxy_uid,
        proxy_gid: config.proxy_gid,
    };
    match check::check(&probe).await {
        Ok(seen) => {
            let original = seen
                .original_dst
                .map_or_else(String::new, |a| format!(" (original destination {a})"));
            super::print_stdout(&format!(
                "mesh init --check: capture works: a connection to {} as uid {} gid {} reached \
                 the outbound port {}{original}\n",
                probe.target, seen.prober.uid, seen.prober.gid, probe.outbound_port
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        // Where the rules are is the question only when the probe was not redirected; no route,
        // a taken port or the proxy's own user are said fully by the error itself.
        Err(e @ check::CheckError::NotRedirected { .. }) => {
            bail!("{e}\n  rules found: {}", found_rules().await)
        }
        Err(e) => bail!("{e}"),
    }
}

/// Says on stderr which other backends still hold mesh's rules: they capture too, each with the
/// flags of the `mesh init` that installed it, and the kernel applies whichever nat rule it meets
/// first. A backend whose tool is absent or fails is passed over: this is advice.
async fn warn_of_other_rules(chosen: Backend) {
    for other in Backend::ALL.into_iter().filter(|b| *b != chosen) {
        if let Ok(true) = other.installed().await {
            super::diag!(
                "mesh init: warning: {other} still holds capture rules of an earlier `mesh init`, \
                 which capture too and may win over {chosen}'s; remove them with \
                 `mesh init --uninstall --backend {other}`"
            );
        }
    }
}

/// Which backends hold mesh's rules, for a failed check's message: all of them, whichever
/// `--backend` says, since rules of any backend capture.
async fn found_rules() -> String {
    let mut seen = Vec::new();
    let mut any = false;
    let mut read = false;
    for backend in Backend::ALL {
        let state = match backend.installed().await {
            Ok(true) => {
                (any, read) = (true, true);
                "installed".to_string()
            }
            Ok(false) => {
                read = true;
                "none".to_string()
            }
            Err(BackendError::Tool { error, .. }) if error.is_missing() => {
                "not installed".to_string()
            }
            Err(e) => format!("unreadable ({e})"),
        };
        seen.push(format!("{backend}: {state}"));
    }
    let advice = if any {
        "the rules are there but did not capture the probe: is the probe's port or subnet skipped?"
    } else if read {
        "no capture rules in this network namespace: run `mesh init` first"
    } else {
        "no backend's rules could be read: run the check as root (or with CAP_NET_ADMIN)"
    };
    format!("{}; {advice}", seen.join(", "))
}
