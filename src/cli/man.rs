//! `mesh man [SUBCOMMAND]` (hidden): the roff manual page, also committed under `docs/man/`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};

use super::{print_stdout, Cli};

/// Print the manual page of mesh or of one subcommand
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand, e.g. profile
    pub subcommand: Option<String>,
}

/// Renders the page of `subcommand` (or of `mesh` itself).
pub fn page(subcommand: Option<&str>) -> anyhow::Result<String> {
    let mut command = Cli::command();
    command.build();
    let command = match subcommand {
        None => command,
        Some(name) => command
            .find_subcommand(name)
            .with_context(|| format!("no subcommand {name:?}"))?
            .clone()
            .name(format!("mesh-{name}")),
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(command).render(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Runs `mesh man`.
pub fn run(args: ManArgs) -> anyhow::Result<ExitCode> {
    print_stdout(&page(args.subcommand.as_deref())?)?;
    Ok(ExitCode::SUCCESS)
}
