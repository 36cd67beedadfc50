//! `mesh demo`: the emojivoto-style demo, meshed, on loopback.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::demo::{DemoOptions, Running, NAMESPACE};

/// Run an emojivoto-style app on 127.0.0.1, each workload behind its own mesh proxy
#[derive(Debug, Args)]
#[command(
    after_help = "Then, in another terminal:\n  mesh stat deploy -n emojivoto\n  mesh routes deploy/voting -n emojivoto\n  mesh routes deploy/vote-bot -n emojivoto --to deploy/web -o wide\n  mesh edges deploy -n emojivoto\n  mesh tap deploy/web -n emojivoto"
)]
pub struct DemoArgs {
    /// Stop after this long (default: run until Ctrl-C or SIGTERM)
    #[arg(long, value_name = "DURATION", value_parser = super::args::parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Time between the vote bot's requests
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = super::args::parse_positive_duration)]
    pub vote_interval: Duration,

    /// Also start a local Prometheus (the `prometheus` binary) scraping every demo proxy
    #[arg(long)]
    pub prometheus: bool,

    /// Run the proxies without identities: plaintext between them, no mutual TLS
    #[arg(long)]
    pub no_identity: bool,

    #[command(flatten)]
    pub registry: super::args::RegistryArg,
}

/// Runs `mesh demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    super::runtime(super::Threads::PerCore)?.block_on(run_async(args))
}

async fn run_async(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let shutdown = super::signal::shutdown_signal()?;
    // Held until the demo has stopped (its proxies' records removed): the claim, not the records,
    // is what keeps two demos started at the same moment from both running.
    let _claim = claim_the_registry(&args.registry.dir())?;
    refuse_a_second_demo(&args.registry.dir())?;
    let work = tempfile_dir()?;
    let opts = DemoOptions {
        registry: args.registry.dir(),
        work_dir: work.clone(),
        vote_interval: args.vote_interval,
        mtls: !args.no_identity,
    };
    let running = Running::start(&opts).await.context("starting the demo")?;
    let mut text = format!(
        "mesh demo: emojivoto in namespace {NAMESPACE} on 127.0.0.1 (registry {})\n",
        opts.registry.display()
    );
    for w in &running.workloads {
        let app = w.app.map_or("-".to_string(), |a| a.to_string());
        let inbound = w.inbound.map_or("-".to_string(), |a| a.to_string());
        text += &format!(
            "  {:<16} app {:<21} proxy inbound {:<21} outbound {:<21} admin {}\n",
            w.workload, app, inbound, w.outbound, w.admin
        );
    }
    if opts.mtls {
        text += &format!(
            "Mutual TLS between the proxies: each workload proves its service account (its name), \
             issued by a trust anchor in {}\n",
            work.join("identity").display()
        );
    }
    text +=
        "\nThe vote bot is voting; voting's VoteDoughnut always fails. Try, in another terminal:\n";
    // Copied as printed, the commands must find this demo: name its registry unless it is the
    // one they look in by default.
    let registry_flag = if opts.registry == crate::registry::default_dir() {
        String::new()
    } else {
        format!(
            " --registry {}",
            shell_quoted(&opts.registry.to_string_lossy())
        )
    };
    for cmd in [
        "mesh stat deploy -n emojivoto",
        "mesh routes deploy/voting -n emojivoto",
        "mesh routes deploy/vote-bot -n emojivoto --to deploy/web -o wide",
        "mesh edges deploy -n emojivoto",
        "mesh tap deploy/web -n emojivoto",
    ] {
        text += &format!("  {cmd}{registry_flag}\n");
    }
    let prometheus = if args.prometheus {
        let admins: Vec<_> = running.workloads.iter().map(|w| w.admin).collect();
        let p = crate::demo::LocalPrometheus::start(&work, &admins).await?;
        text += &format!("\nPrometheus scrapes the proxies every second at {}; add --prometheus {} to the commands\n", p.url, p.url);
        Some(p)
    } else {
        None
    };
    text += "\ndemo ready (Ctrl-C to stop)\n";
    super::print_stdout(&text)?;
    match args.duration {
        Some(d) => {
            tokio::select! {
                _ = shutdown => {}
                _ = tokio::time::sleep(d) => {}
            }
        }
        None => shutdown.await,
    }
    drop(prometheus);
    running.stop().await;
    let _ = std::fs::remove_dir_all(&work);
    super::diag!("mesh demo: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Takes the registry's demo claim (one step, so of two demos started together one is refused).
fn claim_the_registry(registry: &std::path::Path) -> anyhow::Result<crate::registry::claim::Claim> {
    use crate::registry::claim::{Claim, ClaimError};
    match Claim::take(registry, NAMESPACE) {
        Err(ClaimError::Held { pid, .. }) => {
            let pid = pid.map_or(String::new(), |p| format!(" (pid {p})"));
            anyhow::bail!(
                "another mesh demo{pid} is running in the registry {}: stop it, or give this one \
                 its own registry with --registry DIR",
                registry.display()
            )
        }
        claim => Ok(claim.context("claiming the registry for the demo")?),
    }
}

/// Refuses to start while live proxies of the demo's namespace are in `registry`: a second demo
/// would register the same workloads beside the first, and `mesh stat` would sum both as one.
fn refuse_a_second_demo(registry: &std::path::Path) -> anyhow::Result<()> {
    let pids: std::collections::BTreeSet<u32> = crate::registry::read_records(registry)
        .into_iter()
        .filter(|r| r.namespace == NAMESPACE)
        .map(|r| r.pid)
        .collect();
    if !pids.is_empty() {
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        anyhow::bail!(
            "proxies of namespace {NAMESPACE} are already running in the registry {} (pid {}): \
             another mesh demo? Stop it, or give this one its own registry with --registry DIR",
            registry.display(),
            pids.join(", ")
        );
    }
    Ok(())
}

/// `text` as one word for a POSIX shell: as it is when it needs no quoting, else in single quotes.
fn shell_quoted(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:,@%=".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A fresh directory for the demo's generated profiles.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("mesh-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
