//! The `mesh` binary: parse arguments, run one subcommand, map the outcome to an exit code.
//!
//! Exit codes: 0 success, 1 bad input or a failed check, 2 usage errors (clap's own, and flag
//! values refused after parsing, such as `-t 2h` without Prometheus). A closed
//! stdout (`mesh … | head`) ends a command quietly with 0, as ripgrep does; a closed stderr is
//! never a panic (`eprintln!` would exit 101): diagnostics go through `cli::diag!`, which drops
//! what it cannot write.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![deny(clippy::print_stderr, clippy::print_stdout)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

/// jemalloc: the proxy makes many small, short-lived allocations per request, which jemalloc serves
/// faster than glibc's malloc (bench/proxy.sh: about 10% more requests per second).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// One arena: with a handful of threads, more arenas only add idle memory (peak RSS under the
/// benchmark's load drops from about 21 to 17 MiB at the same throughput).
///
/// Freed pages are returned to the OS over 5 s (jemalloc's default: 10 s) by the thread
/// [`purge_in_background`] starts, with `MADV_DONTNEED` at once (`muzzy_decay_ms:0`: no lazy
/// `MADV_FREE` stage, whose pages still count in RSS until the kernel runs short of memory). After
/// a burst of 500 concurrent 1 MiB uploads both proxies are under 2x their idle RSS within about
/// 20 s and at about 1.5x after 30 s (bench/upload-burst.sh). `_RJEM_MALLOC_CONF` in the
/// environment overrides these.
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8; 47] = b"narenas:1,dirty_decay_ms:5000,muzzy_decay_ms:0\0";

/// Starts jemalloc's background thread, which returns freed pages to the OS on time. Without it
/// jemalloc purges only from inside allocator calls, so an idle process keeps whatever a burst
/// left dirty: 110 MiB of freed pages stayed in each proxy's RSS for as long as it was idle.
/// Enabled here at run time, as jemalloc's manual advises (through `malloc_conf` it may deadlock
/// while initialising); one thread is enough for the one arena.
fn purge_in_background() -> Result<(), tikv_jemalloc_ctl::Error> {
    tikv_jemalloc_ctl::max_background_threads::write(1)?;
    tikv_jemalloc_ctl::background_thread::write(true)
}

fn main() -> ExitCode {
    let cli = mesh::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(cli.log_filter())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        // Its default reports a failed write with `eprintln!`, which panics when stderr is closed.
        .log_internal_errors(false)
        .init();
    // Before any TLS config is built (kube's client, mTLS): rustls panics when it must pick among
    // providers itself (src/mtls/provider.rs).
    mesh::mtls::provider::install();
    if let Err(err) = purge_in_background() {
        tracing::warn!("jemalloc's background purging is off ({err}): memory freed after a burst stays in RSS while idle");
    }
    match mesh::cli::run(cli) {
        Ok(code) => code,
        Err(err) if mesh::cli::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => match err.downcast::<clap::Error>() {
            // A usage error found after parsing (a value that depends on another flag): exit 2,
            // as for clap's own.
            Ok(usage) => {
                let _ = usage.print();
                ExitCode::from(2)
            }
            Err(err) => {
                mesh::cli::write_stderr_line(format_args!("mesh: {err:#}"));
                ExitCode::from(1)
            }
        },
    }
}
