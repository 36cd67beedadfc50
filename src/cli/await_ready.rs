//! `mesh await`: wait until a proxy is ready, then run a command, so an app started beside its
//! proxy (e.g. in a second container) does not make requests before the proxy can carry them.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::args::{parse_positive_duration, DEFAULT_ADMIN_ADDR};
use super::child;
use super::signal::StopSignals;
use crate::proxy::readiness::{self, POLL_INTERVAL};

/// Wait until the proxy is ready, then run a command
#[derive(Debug, Args)]
#[command(
    after_help = "Exits with the command's exit code (128 + N if a signal N killed it), 0 without a \
                  command, or 1 if the proxy is not ready in time.\n\n\
                  Example:\n  mesh await --timeout 1m -- ./web --port 8080"
)]
pub struct AwaitArgs {
    /// The proxy's admin address, asked for /ready
    #[arg(
        long,
        env = "MESH_ADMIN",
        default_value = DEFAULT_ADMIN_ADDR,
        value_name = "ADDR"
    )]
    pub admin: SocketAddr,

    /// How long to wait for the proxy before giving up
    #[arg(long, default_value = "2m", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// The command to run once the proxy is ready (stop signals are passed on to it)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Runs `mesh await`.
pub fn run(args: AwaitArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime(super::Threads::One)?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: AwaitArgs) -> anyhow::Result<ExitCode> {
    super::diag!("mesh: waiting for the proxy at {} to be ready", args.admin);
    readiness::wait_ready(args.admin, POLL_INTERVAL, args.timeout).await?;
    if args.command.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    // Installed before the command starts, so a signal sent right after reaches it.
    let mut signals = StopSignals::install()?;
    let mut command = child::spawn(&args.command, &[])?;
    let status = child::wait_passing_signals(&mut command, &mut signals).await?;
    Ok(child::exit_code(status))
}
