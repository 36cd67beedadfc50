//! The process `mesh proxy -- APP` and `mesh await -- CMD` run: started with inherited stdio and
//! extra environment, sent on the stop signals mesh receives, and its end turned into mesh's
//! exit code (its own code, or 128 + the signal that killed it, as a shell reports it).

use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context};
use tokio::process::{Child, Command};

use super::signal::{StopSignal, StopSignals};

/// Starts `argv` (program and arguments) with stdio inherited and `env` added to mesh's own
/// environment. The child is killed if mesh fails before it has waited for it.
pub fn spawn(argv: &[String], env: &[(&str, String)]) -> anyhow::Result<Child> {
    spawn_as(argv, env, None, None)
}

/// [`spawn`], as `uid` and `gid` when given (dropping privileges needs root; the child then has
/// no supplementary groups).
pub fn spawn_as(
    argv: &[String],
    env: &[(&str, String)],
    uid: Option<u32>,
    gid: Option<u32>,
) -> anyhow::Result<Child> {
    let (program, args) = argv.split_first().context("no command to run")?;
    ensure!(!program.is_empty(), "the command to run is empty");
    let mut command = Command::new(program);
    if let Some(gid) = gid {
        command.gid(gid);
    }
    if let Some(uid) = uid {
        command.uid(uid);
    }
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting `{}`", argv.join(" ")))
}

/// Waits for `child` to exit, passing each stop signal mesh receives on to it meanwhile (the
/// child decides how to stop; mesh only ends when it does).
pub async fn wait_passing_signals(
    child: &mut Child,
    signals: &mut StopSignals,
) -> anyhow::Result<ExitStatus> {
    loop {
        tokio::select! {
            status = child.wait() => return status.context("waiting for the command to exit"),
            signal = signals.recv() => pass_on(child, signal),
        }
    }
}

/// Asks `child` to stop as a stop signal would (SIGTERM), and kills it if it has not exited
/// within `grace`.
pub async fn stop(child: &mut Child, grace: Duration) {
    pass_on(child, StopSignal::Terminate);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// Sends `signal` to `child`; a child that has just exited is not an error.
#[cfg(unix)]
fn pass_on(child: &mut Child, signal: StopSignal) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        return;
    };
    let signal = match signal {
        StopSignal::Terminate => Signal::SIGTERM,
        StopSignal::Interrupt => Signal::SIGINT,
    };
    if let Err(e) = kill(Pid::from_raw(pid), signal) {
        tracing::debug!("passing {signal} on to process {pid}: {e}");
    }
}

/// Without unix signals, stopping the child means killing it.
#[cfg(not(unix))]
fn pass_on(child: &mut Child, _signal: StopSignal) {
    let _ = child.start_kill();
}

/// mesh's exit code for a child that ended with `status`: its code, or 128 + the signal that
/// killed it.
pub fn exit_code(status: ExitStatus) -> ExitCode {
    let code = status
        .code()
        .or_else(|| killed_by(status).map(|signo| 128 + signo));
    // Exit codes are 0..=255 on unix; anything else (not expected) is a plain failure.
    ExitCode::from(code.and_then(|c| u8::try_from(c).ok()).unwrap_or(1))
}

#[cfg(unix)]
fn killed_by(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn killed_by(_status: ExitStatus) -> Option<i32> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn a_child_killed_by_a_signal_exits_128_plus_the_signal() {
        // Raw wait statuses: low byte = terminating signal, next byte = exit code.
        assert_eq!(exit_code(ExitStatus::from_raw(15)), ExitCode::from(143));
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), ExitCode::from(7));
        assert_eq!(exit_code(ExitStatus::from_raw(0)), ExitCode::SUCCESS);
    }
}
