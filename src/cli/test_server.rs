//! Placeholder: `mesh test-server` (hidden; work in progress).
use std::process::ExitCode;

use clap::Args;

/// Run a small upstream server for tests and benchmarks
#[derive(Debug, Args)]
pub struct TestServerArgs {}

/// Runs `mesh test-server`.
pub fn run(_args: TestServerArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet implemented")
}
