//! `mesh completions SHELL`: shell completion scripts (also committed under `completions/`).
//!
//! clap_complete writes the scripts from the command definition, with two gaps filled here: it
//! offers hidden subcommands (`man`, `test-server`) like any other, so the scripts are generated
//! from [`completed_command`], which leaves them out; and its fish script completes only options,
//! so at a positional argument fish would fall back to file names (`mesh completions <TAB>`),
//! which `fish_positionals` replaces with the argument's values, or with nothing when the
//! argument is a name rather than a path.

use std::process::ExitCode;

use clap::{Args, Command, CommandFactory, ValueHint};
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
    let mut command = completed_command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut command, "mesh", &mut buf);
    let mut script = String::from_utf8_lossy(&buf).into_owned();
    if shell == Shell::Fish {
        command.build();
        script.push_str(
            "\n# Added by mesh (src/cli/completions.rs): what clap_complete's fish script does not \
             complete.\n",
        );
        fish_positionals(&command, &[], &mut script);
    }
    script
}

/// The command line as shells should complete it: [`Cli`] without its hidden subcommands, at
/// every level.
pub fn completed_command() -> Command {
    without_hidden(Cli::command())
}

fn without_hidden(cmd: Command) -> Command {
    let cmd = cmd.mut_subcommands(without_hidden);
    if !cmd.get_subcommands().any(Command::is_hide_set) {
        return cmd;
    }
    // clap can add subcommands but not remove one: build the command again around the visible
    // ones, with what completion reads (name, texts, version, arguments).
    let mut bare = Command::new(cmd.get_name().to_owned())
        .propagate_version(cmd.is_propagate_version_set())
        .disable_help_subcommand(cmd.is_disable_help_subcommand_set())
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        bare = bare.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        bare = bare.long_about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        bare = bare.version(version.to_owned());
    }
    bare
}

/// Appends fish completions for the positional arguments of `cmd` (reached by `path`) and of its
/// subcommands, in the condition syntax of clap_complete's fish script (two levels deep, as
/// there). At a positional argument with values (`completions SHELL`) those are offered; at one
/// that names something (`profile SERVICE`, `stat RESOURCE`), or where a command takes no
/// positional argument (`demo`, `help stat`), no file names are. Arguments that may be paths or
/// a command to run keep fish's default, file names.
fn fish_positionals(cmd: &Command, path: &[&str], out: &mut String) {
    if let Some(condition) = fish_condition(cmd, path) {
        let positionals: Vec<_> = cmd.get_positionals().collect();
        let takes_paths = positionals.iter().any(|arg| {
            arg.is_last_set()
                || !matches!(arg.get_value_hint(), ValueHint::Unknown | ValueHint::Other)
        });
        if !takes_paths {
            let values: Vec<String> = positionals
                .iter()
                .flat_map(|arg| arg.get_possible_values())
                .filter(|value| !value.is_hide_set())
                .map(|value| value.get_name().to_owned())
                .collect();
            out.push_str(&format!("complete -c mesh -n \"{condition}\" -f"));
            if !values.is_empty() {
                out.push_str(&format!(" -a \"{}\"", values.join(" ")));
            }
            out.push('\n');
        }
    }
    if let [command] = path {
        fish_own_name_subcommands(cmd, command, out);
    }
    for sub in cmd.get_subcommands() {
        let mut sub_path = path.to_vec();
        sub_path.push(sub.get_name());
        fish_positionals(sub, &sub_path, out);
    }
}

/// Offers the subcommands of a command that has a subcommand of its own name (`help`, whose
/// `help` explains itself). clap_complete offers them only while none of their names has been
/// typed, a list that then includes the command's own name, which has just been typed: so
/// `mesh help <TAB>` offered nothing (then file names). The same lines, with the own name left
/// out of that list.
fn fish_own_name_subcommands(cmd: &Command, command: &str, out: &mut String) {
    if !cmd.get_subcommands().any(|sub| sub.get_name() == command) {
        return;
    }
    let others: Vec<&str> = cmd
        .get_subcommands()
        .map(Command::get_name)
        .filter(|name| *name != command)
        .collect();
    for sub in cmd.get_subcommands() {
        out.push_str(&format!(
            "complete -c mesh -n \"__fish_mesh_using_subcommand {command}; and not \
             __fish_seen_subcommand_from {}\" -f -a \"{}\"",
            others.join(" "),
            sub.get_name()
        ));
        if let Some(about) = sub.get_about() {
            // In fish's single quotes only `\` and `'` are special.
            let about = about.to_string().replace('\n', " ");
            let about = about.replace('\\', "\\\\").replace('\'', "\\'");
            out.push_str(&format!(" -d '{about}'"));
        }
        out.push('\n');
    }
}

/// The `-n` condition under which fish is completing the arguments of the command at `path`, as
/// clap_complete's fish script spells it; `None` for the root and below two levels.
fn fish_condition(cmd: &Command, path: &[&str]) -> Option<String> {
    match path {
        [command] => {
            let mut condition = format!("__fish_mesh_using_subcommand {command}");
            if cmd.has_subcommands() {
                condition.push_str("; and not __fish_seen_subcommand_from");
                for sub in cmd.get_subcommands() {
                    condition.push(' ');
                    condition.push_str(sub.get_name());
                }
            }
            Some(condition)
        }
        [command, subcommand] => Some(format!(
            "__fish_mesh_using_subcommand {command}; and __fish_seen_subcommand_from {subcommand}"
        )),
        _ => None,
    }
}

/// Runs `mesh completions`.
pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    print_stdout(&script(args.shell))?;
    Ok(ExitCode::SUCCESS)
}
