//! The `mesh` binary: parse arguments, run one subcommand, map the outcome to an exit code.
//!
//! Exit codes: 0 success, 1 bad input or a failed check, 2 usage errors (clap's own).
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// jemalloc: the proxy makes many small, short-lived allocations per request, which jemalloc serves
/// faster than glibc's malloc (bench/proxy.sh: about 10% more requests per second).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// One arena: with a handful of threads, more arenas only add idle memory (peak RSS under the
/// benchmark's load drops from about 21 to 17 MiB at the same throughput).
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8; 10] = b"narenas:1\0";

fn main() -> ExitCode {
    let cli = mesh::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(cli.log_filter())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match mesh::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mesh: {err:#}");
            ExitCode::from(1)
        }
    }
}
