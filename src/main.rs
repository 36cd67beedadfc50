//! The `mesh` binary: parse arguments, run one subcommand, map the outcome to an exit code.
//!
//! Exit codes: 0 success, 1 bad input or a failed check, 2 usage errors (clap's own).
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

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
