//! `mesh man [SUBCOMMAND…]` (hidden): the roff manual pages, also committed under `docs/man/`.
//!
//! There is one page per visible command, subcommands of subcommands included (`mesh-profile-check.1`),
//! so every page another page's SUBCOMMANDS section names exists. The `help` subcommand clap adds
//! gets no page and no mention, as clap_mangen's own `generate_to` does: `man mesh` is its help.
//! `mesh man --dir docs/man` writes them all.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Command, CommandFactory};

use super::{print_stdout, Cli};

/// Print the manual page of mesh or of one subcommand
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand, e.g. profile, or profile check
    pub subcommand: Vec<String>,

    /// Write every page into DIR (mesh.1, mesh-profile.1, mesh-profile-check.1, …) instead
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub dir: Option<PathBuf>,
}

/// One manual page: its file name (`mesh-profile-check.1`) and its roff text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `mesh.1`, `mesh-profile.1`, …
    pub file_name: String,
    /// The page, in roff.
    pub text: String,
}

/// Every page: `mesh` first, then each visible subcommand depth-first.
pub fn pages() -> anyhow::Result<Vec<Page>> {
    let mut pages = Vec::new();
    collect(&documented_command(), &mut pages)?;
    Ok(pages)
}

/// Renders the page of the subcommand at `path` (`["profile", "check"]`), or of `mesh` itself.
pub fn page(path: &[String]) -> anyhow::Result<String> {
    let mut command = documented_command();
    for name in path {
        command = command
            .find_subcommand(name)
            .filter(|sub| !sub.is_hide_set())
            .with_context(|| {
                format!(
                    "no subcommand {:?} of {}",
                    name,
                    command.get_display_name().unwrap_or(command.get_name())
                )
            })?
            .clone();
    }
    Ok(render(&command)?.text)
}

/// [`Cli`], built, without clap's `help` subcommands.
fn documented_command() -> Command {
    fn no_help_subcommand(cmd: Command) -> Command {
        cmd.disable_help_subcommand(true)
            .mut_subcommands(no_help_subcommand)
    }
    let mut command = no_help_subcommand(Cli::command());
    command.build();
    command
}

fn collect(command: &Command, pages: &mut Vec<Page>) -> anyhow::Result<()> {
    pages.push(render(command)?);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}

/// A built command's page, named after its display name (`mesh-profile-check`), which is also
/// what its parent's SUBCOMMANDS section calls it.
fn render(command: &Command) -> anyhow::Result<Page> {
    let name = command
        .get_display_name()
        .unwrap_or(command.get_name())
        .to_owned();
    let page = clap_mangen::Man::new(command.clone().name(name.clone()));
    let mut buf = Vec::new();
    page.render(&mut buf)?;
    Ok(Page {
        file_name: page.get_filename(),
        text: String::from_utf8_lossy(&buf).into_owned(),
    })
}

/// Runs `mesh man`.
pub fn run(args: ManArgs) -> anyhow::Result<ExitCode> {
    let Some(dir) = args.dir else {
        print_stdout(&page(&args.subcommand)?)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for page in pages()? {
        let file = dir.join(&page.file_name);
        std::fs::write(&file, &page.text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
