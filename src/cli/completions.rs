//! `mesh completions SHELL`: shell completion scripts (also committed under `completions/`).

use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{print_stdout, Cli};

/// Print a shell completion script
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  mesh completions bash > /etc/bash_completion.d/mesh")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Generates the script for one shell.
pub fn script(shell: Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mesh", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs `mesh completions`.
pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    print_stdout(&script(args.shell))?;
    Ok(ExitCode::SUCCESS)
}
