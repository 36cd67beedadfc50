//! `mesh proxy` refuses to start before announcing its addresses, or says what it is missing.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::error_chains::fails_once;
use crate::harness::{mesh_process, terminate};

#[test]
fn a_missing_endpoints_file_is_refused_before_the_listening_line() {
    let r = fails_once(
        &[
            "proxy",
            "--workload",
            "deploy/x",
            "--endpoints",
            "/nonexistent/endpoints.yaml",
            "--outbound",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--no-registry",
        ],
        "mesh: reading /nonexistent/endpoints.yaml: ",
        "No such file or directory",
    );
    assert_eq!(r.stdout, "", "no address announced: {}", r.stderr);
}

#[test]
fn a_missing_profiles_dir_is_logged_once_as_absent_and_watched() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("not-yet");
    let mut child = mesh_process()
        .args(["proxy", "--workload", "deploy/x", "--no-registry"])
        .args(["--outbound", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .arg("--profiles")
        .arg(&profiles)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("listening "), "{line:?}");
    // The warning comes with the first load, before the proxy is ready; then it stops (SIGTERM)
    // and stderr ends.
    terminate(child.id());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    let warned = stderr
        .lines()
        .filter(|l| l.contains("--profiles directory absent"))
        .collect::<Vec<_>>();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].contains(profiles.to_str().unwrap()), "{stderr}");
}

/// A `--profiles` path that is a file (the profile itself, given by mistake) is a usage error
/// naming the flag and the path, before any address is announced; it used to start a proxy that
/// applied no profile, with a warning that the directory was "absent".
#[test]
fn a_profiles_path_that_is_a_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web-svc.yaml");
    std::fs::write(&file, "kind: ServiceProfile\n").unwrap();
    let mut child = mesh_process()
        .args(["proxy", "--workload", "deploy/x", "--no-registry"])
        .args(["--outbound", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .arg("--profiles")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A proxy that starts prints its addresses; one that refuses closes stdout at exit.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.is_empty() {
        terminate(child.id());
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(line, "", "no address announced; stderr: {stderr}");
    assert_eq!(status.code(), Some(2), "{stderr}");
    let path = file.to_str().unwrap();
    assert!(
        stderr.contains(&format!(
            "invalid value '{path}' for '--profiles <DIR>': not a directory"
        )),
        "{stderr}"
    );
}

#[test]
fn a_port_another_proxy_holds_is_refused_naming_the_flag_that_moves_it() {
    // Two proxies on one machine: the second meets the first's outbound port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = fails_once(
        &[
            "proxy",
            "--workload",
            "deploy/web",
            "--outbound",
            &addr,
            "--admin",
            "127.0.0.1:0",
            "--no-registry",
        ],
        &format!("binding the outbound listener to {addr}"),
        "give this one its own with --outbound ADDR",
    );
    assert_eq!(r.stdout, "", "no address announced: {}", r.stderr);
}
