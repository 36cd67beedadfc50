//! The examples in every subcommand's `--help` run as written against `mesh demo` and show
//! something (`mesh tap … --path /api/vote` to voting showed nothing: web calls voting on gRPC
//! paths; `mesh routes deploy/web --to deploy/voting` lacked `-n emojivoto`).
//!
//! The examples are read from the help text itself (the lines under `Examples:`, `Example:` or
//! `Then, in another terminal:`, a line ending in `\` going on on the next), for every subcommand
//! `mesh --help` lists, and run as the docs-run test runs the docs (its [`Shell`]: `bash`, `mesh`
//! on `PATH`, the registry in a temporary `XDG_RUNTIME_DIR`, in a copy of `examples/`), with one
//! `mesh demo` running. A command that must not run here is in [`SKIPPED`] with the reason; the
//! test fails on an entry no example matches any more.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::docs_run::shell::{copy_dir, Process, Shell};
use crate::harness::{root, run};

/// Examples that cannot run in a test, by prefix, with the reason.
const SKIPPED: &[(&str, &str)] = &[
    (
        "mesh init --check",
        "asks the kernel about this network namespace's capture rules (a pod's, as root)",
    ),
    (
        "mesh init --uninstall",
        "removes capture rules from this network namespace (as root)",
    ),
    ("mesh completions bash > /etc/", "writes to /etc"),
    (
        "mesh await ",
        "waits for a proxy on the default admin port, then runs an app ./web",
    ),
    (
        "mesh proxy ",
        "runs an app ./web, and would register a second deploy/web beside the demo's",
    ),
];

/// Commands that run until stopped: stopped with Ctrl-C once they have printed something.
const STREAMING: &[&str] = &["mesh tap ", "mesh demo"];

/// How long a command may take to show something (the demo's traffic fills the windows).
const SHOW_DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "current_thread")]
async fn every_example_in_the_help_runs_against_the_demo_and_shows_something() {
    let examples = help_examples();
    let tmp = tempfile::tempdir().unwrap();
    let mut shell = Shell::new(tmp.path());
    let work = tmp.path().join("work");
    copy_dir(&root().join("examples"), &work);
    shell.cd(&work);
    let mut demo = shell.spawn("mesh demo --vote-interval 50ms");
    wait_for(&demo, |out| out.contains("demo ready"), "mesh demo ready").await;

    let mut failures = Vec::new();
    let mut skips_used = vec![false; SKIPPED.len()];
    for (sub, example) in &examples {
        if let Some(i) = SKIPPED.iter().position(|(p, _)| example.starts_with(p)) {
            skips_used[i] = true;
            continue;
        }
        if let Err(why) = run_example(&mut shell, example).await {
            failures.push(format!("mesh {sub} --help: `{example}`: {why}"));
        }
    }
    for (used, (prefix, _)) in skips_used.iter().zip(SKIPPED) {
        if !used {
            failures.push(format!(
                "SKIPPED names `{prefix}`, which no example starts with"
            ));
        }
    }
    demo.stop(Signal::SIGTERM, Duration::from_secs(15)).await;
    assert!(
        examples.len() >= 15,
        "only {} examples found: {examples:?}",
        examples.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every example of every subcommand's help (`mesh help SUB` for each `mesh --help` lists).
fn help_examples() -> Vec<(String, String)> {
    let top = run(&["--help"]);
    let subs: Vec<String> = top
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 9, "{}", top.stdout);
    let mut examples = Vec::new();
    for sub in subs {
        let help = run(&[&sub, "--help"]);
        assert_eq!(help.code, 0, "{}", help.stderr);
        let mut lines = help.stdout.lines();
        while let Some(line) = lines.next() {
            let heading = !line.starts_with(' ')
                && line.ends_with(':')
                && (line.starts_with("Example") || line.contains("in another terminal"));
            if !heading {
                continue;
            }
            let mut command = String::new();
            for l in lines.by_ref().take_while(|l| l.starts_with("  ")) {
                let l = l.trim();
                match l.strip_suffix('\\') {
                    Some(head) => command += head,
                    None => {
                        command += l;
                        examples.push((sub.clone(), std::mem::take(&mut command)));
                    }
                }
            }
        }
    }
    examples
}

/// Runs one example until it has shown something: exit 0 with output (a streaming command: output,
/// then Ctrl-C). A redirected command need only exit 0. Tables and JSON must show a row, retried
/// until [`SHOW_DEADLINE`] while the demo's first numbers come in.
async fn run_example(shell: &mut Shell, example: &str) -> Result<(), String> {
    let streaming = STREAMING.iter().any(|s| example.starts_with(s));
    let redirected = example.contains('>');
    let deadline = Instant::now() + SHOW_DEADLINE;
    loop {
        let mut process = shell.spawn(example);
        let (status, out, err) = if streaming {
            let shown = wait_until_shown(&process, deadline).await;
            let status = process.stop(Signal::SIGINT, Duration::from_secs(15)).await;
            let (out, err) = process.output();
            if !shown {
                return Err(format!("showed nothing in {SHOW_DEADLINE:?}\n{out}\n{err}"));
            }
            (status.map(|_| true), out, err)
        } else {
            let status = process.wait_until(deadline).await;
            let (out, err) = process.output();
            (status.map(|s| s.success()), out, err)
        };
        match status {
            None => return Err(format!("did not finish\n{out}\n{err}")),
            Some(false) => return Err(format!("failed\n{out}\n{err}")),
            Some(true) if streaming || redirected || shows_something(&out) => return Ok(()),
            Some(true) if Instant::now() > deadline => {
                return Err(format!("showed nothing in {SHOW_DEADLINE:?}\n{out}\n{err}"))
            }
            Some(true) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Output with a line beyond the first (a header, `[`): a row, an event, a document.
fn shows_something(out: &str) -> bool {
    out.lines().skip(1).any(|l| !l.trim().is_empty())
        || out.lines().next().is_some_and(|l| l.contains("valid"))
}

/// Waits until `process` has printed a line, or `deadline`.
async fn wait_until_shown(process: &Process, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if process.output().0.lines().any(|l| !l.trim().is_empty()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Waits (at most a minute) until what `process` printed satisfies `ready`.
async fn wait_for(process: &Process, ready: impl Fn(&str) -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(&process.output().0) {
        let (out, err) = process.output();
        assert!(
            Instant::now() < deadline,
            "{what}: not in 60s\n{out}\n{err}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
