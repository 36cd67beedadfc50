//! The docs run as written: every command in README.md and in each docs/*.md (whatever files
//! docs/ holds, so a new document is covered without editing this test), in the order written.
//!
//! How they run (see [`shell`]): in `bash`, `mesh` on `PATH` being the binary under test, the
//! registry in a temporary `XDG_RUNTIME_DIR` (never a flag appended to the command), in a fresh copy
//! of `examples/` per document (the files the docs name live there). One `mesh demo` runs in that
//! registry for the whole test, as the docs assume ("with the demo running, in another terminal").
//!
//! - A command ending in `&` runs in the background while the document's later commands run; it
//!   must still be running when the document ends (a proxy that failed to start is a failure), and
//!   is then stopped with SIGTERM.
//! - A command that runs until stopped ([`STREAMING`]: `mesh tap`, `mesh proxy`, …) is stopped with
//!   Ctrl-C after [`STREAM_BOUND`], as a reader would; it must not fail before that, and must stop.
//! - Any other command must exit 0 within [`COMMAND_DEADLINE`].
//! - In a `console` block the first line shown under a command, when it is a table header, must be
//!   the first line the command prints (the columns are part of what the doc promises).
//! - A block directly after `<!-- docs-run: skip REASON -->` is not run; the test lists it with its
//!   reason, and fails on a marker without a reason (or one not before a command block).
//!
//! Every failure is collected and reported with its document, line, command and output.
//! Run time: about 25 s, most of it commands that watch for a set time (`mesh profile --tap
//! --tap-duration`) or streams stopped after [`STREAM_BOUND`].

mod markdown;
pub(crate) mod shell;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::root;
use markdown::{Block, DocCommand};
use shell::{Process, Shell};

/// Commands that run until stopped (the docs say Ctrl-C stops them).
const STREAMING: &[&str] = &["mesh tap", "mesh proxy", "mesh demo", "mesh test-server"];

/// How long a streaming command runs before Ctrl-C.
const STREAM_BOUND: Duration = Duration::from_secs(2);

/// How long any other command may take (the longest the docs name is a 10 s tap).
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// How long a process may take to exit once stopped.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// How long the demo may take to say it is ready.
const DEMO_READY: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "current_thread")]
async fn every_command_in_the_readme_and_the_docs_runs_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut shell = Shell::new(tmp.path());
    let mut report = Report::default();
    let mut demo = start_demo(&mut shell).await;

    for doc in documents() {
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&doc).unwrap();
        let (blocks, marker_errors) = markdown::blocks(&text);
        for e in marker_errors {
            report.fail(format!("{name}:{}: {}", e.line, e.message));
        }
        let work = tmp.path().join("work").join(name.replace('/', "_"));
        shell::copy_dir(&root().join("examples"), &work);
        shell.cd(&work);
        run_document(&mut shell, &name, &blocks, &mut report).await;
    }

    let status = demo.stop(Signal::SIGTERM, STOP_GRACE).await;
    if !status.is_some_and(|s| s.success()) {
        let (out, err) = demo.output();
        report.fail(format!(
            "mesh demo did not stop cleanly on SIGTERM ({status:?})\n{}",
            outputs(&out, &err)
        ));
    }
    eprintln!("{}", report.summary());
    assert!(
        report.failures.is_empty(),
        "{} failure(s):\n\n{}",
        report.failures.len(),
        report.failures.join("\n\n")
    );
}

/// README.md, then every `*.md` directly in docs/, by name.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
        .collect();
    docs.sort();
    docs.insert(0, root().join("README.md"));
    docs
}

/// Starts the one `mesh demo` every document may use, and waits until it says it is ready.
async fn start_demo(shell: &mut Shell) -> Process {
    let mut demo = shell.spawn("mesh demo");
    let deadline = Instant::now() + DEMO_READY;
    loop {
        let (out, err) = demo.output();
        if out.contains("demo ready") {
            break;
        }
        let exited = demo.wait_until(Instant::now()).await;
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "mesh demo did not get ready ({exited:?}) in {}:\n{}",
            shell.registry().display(),
            outputs(&out, &err)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    demo
}

/// Runs the blocks of one document in order; its background commands live until its end.
async fn run_document(shell: &mut Shell, name: &str, blocks: &[Block], report: &mut Report) {
    let mut background: Vec<(String, Process)> = Vec::new();
    for block in blocks {
        if let Some(reason) = &block.skip {
            report
                .skipped
                .push(format!("{name}:{}: {reason}", block.line));
            continue;
        }
        for command in &block.commands {
            let place = format!("{name}:{}: `{}`", command.line, command.text);
            report.run += 1;
            if command.background {
                background.push((place, shell.spawn(&command.text)));
                continue;
            }
            if let Err(failure) = run_command(shell, command).await {
                report.fail(format!("{place}: {failure}"));
            }
        }
    }
    for (place, mut process) in background {
        if let Some(status) = process.wait_until(Instant::now()).await {
            if !status.success() {
                let (out, err) = process.output();
                report.fail(format!(
                    "{place}: ended while the document's later commands ran ({status})\n{}",
                    outputs(&out, &err)
                ));
            }
            continue;
        }
        if process.stop(Signal::SIGTERM, STOP_GRACE).await.is_none() {
            let (out, err) = process.output();
            report.fail(format!(
                "{place}: still running {STOP_GRACE:?} after SIGTERM\n{}",
                outputs(&out, &err)
            ));
        }
    }
}

/// Runs one foreground command: `Err` says how it failed, with its output.
async fn run_command(shell: &mut Shell, command: &DocCommand) -> Result<(), String> {
    let streaming = STREAMING.iter().any(|s| {
        command
            .text
            .strip_prefix(s)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
    });
    let mut process = shell.spawn(&command.text);
    let bound = if streaming {
        STREAM_BOUND
    } else {
        COMMAND_DEADLINE
    };
    let status = process.wait_until(Instant::now() + bound).await;
    let failure = match status {
        Some(s) if s.success() => None,
        Some(s) => Some(format!("{s}")),
        None if streaming => match process.stop(Signal::SIGINT, STOP_GRACE).await {
            Some(s) if stopped_by_ctrl_c(s) => None,
            Some(s) => Some(format!("{s} after Ctrl-C at {STREAM_BOUND:?}")),
            None => Some(format!("still running {STOP_GRACE:?} after Ctrl-C")),
        },
        None => {
            process.stop(Signal::SIGKILL, STOP_GRACE).await;
            Some(format!("still running after {COMMAND_DEADLINE:?}"))
        }
    };
    let (out, err) = process.output();
    if let Some(failure) = failure {
        return Err(format!("{failure}\n{}", outputs(&out, &err)));
    }
    if let Some(shown) = command.shown_output.as_deref().filter(|l| is_header(l)) {
        let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        let printed = out.lines().next().unwrap_or_default();
        if words(printed) != words(shown) {
            return Err(format!(
                "prints the header {printed:?}, the doc shows {shown:?}\n{}",
                outputs(&out, &err)
            ));
        }
    }
    Ok(())
}

/// Exit 0, or the end Ctrl-C gives a pipeline whose reader it also stopped (130, or the signal).
fn stopped_by_ctrl_c(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.success() || status.code() == Some(130) || status.signal() == Some(Signal::SIGINT as i32)
}

/// A table header: column names in capitals (`NAME`, `LATENCY_P50`, `READ_BYTES/SEC`).
fn is_header(line: &str) -> bool {
    !line.trim().is_empty()
        && line.split_whitespace().all(|w| {
            w.chars().any(|c| c.is_ascii_uppercase())
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "_/".contains(c))
        })
}

/// A command's output for a failure message, each stream cut to its last 3,000 characters.
fn outputs(out: &str, err: &str) -> String {
    let tail = |s: &str| {
        let start = s.len().saturating_sub(3000);
        let start = (start..=s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(s.len());
        s[start..].trim_end().to_string()
    };
    format!("--- stdout\n{}\n--- stderr\n{}", tail(out), tail(err))
}

/// What the run found.
#[derive(Default)]
struct Report {
    run: usize,
    skipped: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn fail(&mut self, failure: String) {
        self.failures.push(failure);
    }

    fn summary(&self) -> String {
        let mut text = format!(
            "docs-run: {} commands run, {} blocks skipped, {} failures",
            self.run,
            self.skipped.len(),
            self.failures.len()
        );
        for s in &self.skipped {
            text += &format!("\n  skipped {s}");
        }
        text
    }
}

/// `examples/profiles/web-svc.yaml` is what its header says wrote it, so the tour's proxies load
/// what the tour's first command prints (for the default namespace).
#[test]
fn the_tours_profile_is_what_mesh_profile_writes() {
    let r = crate::harness::run(&["profile", "--open-api", "examples/web.swagger", "web-svc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let committed = crate::harness::fixture("examples/profiles/web-svc.yaml");
    let body: String = committed
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        body, r.stdout,
        "examples/profiles/web-svc.yaml is stale: write it again with the command in its header"
    );
}
