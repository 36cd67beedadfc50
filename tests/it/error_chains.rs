//! A failed command prints its error chain once: `mesh: outer: inner: os error`, each cause one
//! time (typed errors keep their cause as `source()`, and main prints the chain).

use crate::harness::run;

/// Runs `mesh ARGS`, expects exit 1 and one `mesh: …` line naming `outer`, with `cause` in it
/// exactly once; returns the run for further checks.
pub(crate) fn fails_once(args: &[&str], outer: &str, cause: &str) -> crate::harness::Run {
    let r = run(args);
    assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("mesh: "))
        .unwrap_or_else(|| panic!("{args:?}: no `mesh:` line in {}", r.stderr));
    assert!(line.contains(outer), "{args:?}: {line}");
    assert_eq!(line.matches(cause).count(), 1, "{args:?}: {line}");
    r
}

#[test]
fn a_missing_token_file_is_named_with_its_cause_once() {
    let registry = tempfile::tempdir().unwrap();
    let dir = registry.path().to_str().unwrap();
    fails_once(
        &[
            "tap",
            "deploy/client",
            "-n",
            "emojivoto",
            "--admin-token-file",
            "/nonexistent/token",
            "--registry",
            dir,
        ],
        "--admin-token-file: reading /nonexistent/token: ",
        "No such file or directory",
    );
}

#[test]
fn an_unreachable_prometheus_is_named_with_its_cause_once() {
    // A port nothing listens on: bound, then closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}");
    fails_once(
        &["stat", "deploy", "--prometheus", &url],
        &format!("asking Prometheus at {url}/api/v1/query: "),
        "error sending request for url",
    );
}

#[test]
fn a_missing_proto_file_is_named_with_its_cause_once() {
    fails_once(
        &["profile", "--proto", "/nonexistent.proto", "svc"],
        "/nonexistent.proto: ",
        "No such file or directory",
    );
}
