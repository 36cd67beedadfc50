//! The `mesh` binary: parse arguments, run one subcommand, map the outcome to an exit code.
//!
//! Exit codes: 0 success, 1 bad input or a failed check, 2 usage errors (clap's own).
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mesh::cli::Cli::parse();
    match mesh::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mesh: {err:#}");
            ExitCode::from(1)
        }
    }
}
