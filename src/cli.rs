//! Command-line layer: one module per subcommand, each with its clap flags and a `run` that calls
//! the library and prints. Nothing below `profile/` knows about clap.

pub mod args;
pub mod await_ready;
mod child;
pub mod completions;
pub mod demo;
pub mod edges;
pub mod identity;
mod identity_init;
mod identity_inspect;
mod identity_issue;
pub mod init;
pub mod inject;
pub mod install;
pub mod man;
pub mod profile;
pub mod proxy;
mod proxy_identity;
pub mod routes;
mod signal;
pub mod stat;
pub mod tap;
pub mod test_server;
pub mod uninject;
mod viz_common;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mesh: ServiceProfiles, a sidecar proxy, and the tables that read what it measured.
#[derive(Debug, Parser)]
#[command(name = "mesh", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, dispatched by [`run`].
#[derive(Debug, Subcommand)]
pub enum Command {
    Profile(profile::ProfileArgs),
    Proxy(Box<proxy::ProxyArgs>),
    Init(init::InitArgs),
    Install(install::InstallArgs),
    Inject(inject::InjectArgs),
    Uninject(uninject::UninjectArgs),
    Identity(identity::IdentityArgs),
    Demo(demo::DemoArgs),
    Await(await_ready::AwaitArgs),
    Stat(stat::StatArgs),
    Routes(routes::RoutesArgs),
    Edges(edges::EdgesArgs),
    Tap(tap::TapArgs),
    Completions(completions::CompletionsArgs),
    #[command(hide = true)]
    Man(man::ManArgs),
    #[command(hide = true)]
    TestServer(test_server::TestServerArgs),
}

impl Cli {
    /// The log filter this command asks for (`warn` unless it has a `--log-level`).
    pub fn log_filter(&self) -> String {
        match &self.command {
            // kube-rs's watcher logs each failed list or watch itself; the proxy says the same
            // once, with what it means (`--discovery kube`), so kube-rs's own lines are kept to
            // off unless the filter names kube.
            Command::Proxy(args) if args.log_level.contains("kube") => args.log_level.clone(),
            Command::Proxy(args) => format!("{},kube_runtime=off,kube_client=off", args.log_level),
            _ => "warn".to_string(),
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Profile(args) => profile::run(args),
        Command::Proxy(args) => proxy::run(*args),
        Command::Init(args) => init::run(args),
        Command::Install(args) => install::run(args),
        Command::Inject(args) => inject::run(args),
        Command::Uninject(args) => uninject::run(args),
        Command::Identity(args) => identity::run(args),
        Command::Await(args) => await_ready::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Stat(args) => stat::run(args),
        Command::Routes(args) => routes::run(args),
        Command::Edges(args) => edges::run(args),
        Command::Tap(args) => tap::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::TestServer(args) => test_server::run(args),
    }
}

/// How many threads a command's async runtime runs on.
pub(crate) enum Threads {
    /// One: a client that mostly waits (viz, await), and the proxy. A sidecar shares its pod's
    /// cores with the app, and on one thread a request's tasks (client connection, upstream
    /// connection) wake each other without crossing threads: 18% less CPU per HTTP/1 request and
    /// 28% less per HTTP/2 request than one worker per core on 2 cores. Linkerd's proxy runs on
    /// one core by default too.
    One,
    /// One per core: servers that should use the machine (test-server) and tap's merged streams.
    PerCore,
}

/// The async runtime of a long-running or networked command.
pub(crate) fn runtime(threads: Threads) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::PerCore => tokio::runtime::Builder::new_multi_thread(),
    };
    anyhow::Context::context(builder.enable_all().build(), "starting the async runtime")
}

/// Writes one diagnostic line to stderr, as `eprintln!` does, except that a closed or failing
/// stderr is not a panic: the line is dropped and the command goes on, so its exit code still
/// says what happened (a failed `profile check` stays 1 under `2>&1 | head`). ripgrep treats a
/// broken pipe as a quiet end the same way; `eprintln!` would panic (exit 101) instead.
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::cli::write_stderr_line(format_args!($($arg)*))
    };
}
pub(crate) use diag;

/// The writer behind `diag!`: one line, written under stderr's lock, errors ignored.
pub fn write_stderr_line(line: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    // Nothing useful can be done about a stderr that cannot be written: not even saying so.
    let _ = err.write_fmt(line).and_then(|()| err.write_all(b"\n"));
}

/// Whether `err` comes from writing to a pipe whose reader has gone (`mesh … | head`): a quiet
/// end of the command, not a failure (as ripgrep's `main` decides).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes all of `text` to stdout at once; a closed pipe (`mesh … | head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// An error and its causes as `main` prints them (`outer: inner: …`), for the errors a command
/// reports and goes on: typed errors keep their cause as `source()`, not in their own text.
pub(crate) struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}
