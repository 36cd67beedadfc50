//! A reader that goes away early (`mesh … | head`, a log collector that dies) is a quiet end for
//! the command, never a panic (exit 101), as in ripgrep: a closed stdout ends the output with exit
//! 0; a closed stderr drops the diagnostics and the command's exit code still says what happened.
//!
//! Each test closes the pipes' read ends right after spawning and makes the child write more than
//! a pipe buffer (64 KiB) after that, or write once the test has seen it running, so a write to the
//! closed pipe happens whatever the timing.

use std::process::Stdio;

use crate::harness::{mesh_process, terminate};
use crate::net::wait_ready;
use crate::process::first_line;

/// Many lines of errors on stderr (one per missing file, each naming the long path), both pipes
/// closed: the failed check still exits 1.
#[test]
fn closed_stderr_and_stdout_keep_a_failed_checks_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir
        .path()
        .join(format!("{}.yaml", "no-such-profile-".repeat(12)));
    let missing = missing.to_str().unwrap();
    let mut child = mesh_process()
        .args(["profile", "check"])
        .args(std::iter::repeat_n(missing, 1500))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "a failed check with its pipes closed exits 1, not {status} (101 is a panic)"
    );
}

/// A profile of 3000 routes (hundreds of KiB of YAML) into a closed stdout: exit 0, and stderr
/// says nothing (no panic, no "Broken pipe" error).
#[test]
fn closed_stdout_ends_a_long_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let paths: serde_json::Map<String, serde_json::Value> = (0..3000)
        .map(|i| {
            let op = serde_json::json!({"get": {"responses": {"200": {"description": "ok"}}}});
            (format!("/items/{i}/details"), op)
        })
        .collect();
    let spec = serde_json::json!({
        "openapi": "3.0.3",
        "info": {"title": "many", "version": "1"},
        "paths": paths,
    });
    let file = dir.path().join("many.json");
    std::fs::write(&file, spec.to_string()).unwrap();
    let mut child = mesh_process()
        .args(["profile", "--open-api", file.to_str().unwrap(), "many-svc"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "", "a closed stdout is a quiet end");
}

/// A proxy whose log reader has gone keeps serving, and logs its shutdown into the closed pipe on
/// SIGTERM without panicking: exit 0.
#[tokio::test]
async fn a_proxy_with_a_closed_stderr_serves_and_stops_cleanly() {
    let mut child = mesh_process()
        .args(["proxy", "--workload", "deploy/x", "--no-registry"])
        .args(["--outbound", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(["--log-level", "debug"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let line = first_line(child.stdout.take().unwrap()).await;
    let admin = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("admin="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("mesh proxy printed {line:?}"));
    wait_ready(admin).await;
    terminate(child.id());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "the proxy stops cleanly with its stderr closed, not {status} (101 is a panic)"
    );
}
