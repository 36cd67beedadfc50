//! The commands `mesh demo` prints to try run as printed: with `--registry DIR` they used to be
//! printed without it, so copied into another terminal they asked the default registry, where no
//! demo runs.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::docs_run::shell::{Process, Shell};

/// How long a command may take to show something.
const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "current_thread")]
async fn the_commands_a_demo_on_its_own_registry_prints_find_it() {
    let tmp = tempfile::tempdir().unwrap();
    // The shell's default registry (its XDG_RUNTIME_DIR) stays empty; the demo runs in another,
    // with a space in its path.
    let mut shell = Shell::new(tmp.path());
    let registry = tmp.path().join("my registry");
    let mut demo = shell.spawn(&format!(
        "mesh demo --vote-interval 50ms --registry '{}'",
        registry.display()
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !demo.output().0.contains("demo ready") {
        let (out, err) = demo.output();
        assert!(Instant::now() < deadline, "demo not ready\n{out}\n{err}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let printed = demo.output().0;
    let commands: Vec<&str> = printed
        .lines()
        .skip_while(|l| !l.contains("Try, in another terminal"))
        .skip(1)
        .take_while(|l| l.starts_with("  mesh "))
        .map(str::trim)
        .collect();
    assert_eq!(commands.len(), 5, "{printed}");
    let mut failures = Vec::new();
    for command in &commands {
        let quoted = format!("--registry '{}'", registry.display());
        if !command.ends_with(&quoted) {
            failures.push(format!("`{command}` does not end with {quoted}"));
            continue;
        }
        if let Err(why) = shows_something(&mut shell, command).await {
            failures.push(format!("`{command}`: {why}"));
        }
    }
    demo.stop(Signal::SIGTERM, Duration::from_secs(15)).await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs `command` until it printed a line beyond a table's header (a streaming `mesh tap`: one
/// event, then Ctrl-C); retried while the demo's first numbers come in.
async fn shows_something(shell: &mut Shell, command: &str) -> Result<(), String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut process = shell.spawn(command);
        if command.starts_with("mesh tap ") {
            let shown = wait_for_a_line(&process, deadline).await;
            process.stop(Signal::SIGINT, Duration::from_secs(15)).await;
            let (out, err) = process.output();
            return shown
                .then_some(())
                .ok_or(format!("no event in {DEADLINE:?}\n{out}\n{err}"));
        }
        let status = process.wait_until(deadline).await;
        let (out, err) = process.output();
        match status {
            Some(s) if !s.success() => return Err(format!("{s}\n{out}\n{err}")),
            Some(_) if out.lines().skip(1).any(|l| !l.trim().is_empty()) => return Ok(()),
            _ if Instant::now() > deadline => return Err(format!("no row\n{out}\n{err}")),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

async fn wait_for_a_line(process: &Process, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if process.output().0.lines().any(|l| !l.trim().is_empty()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
