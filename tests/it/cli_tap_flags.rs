//! The tap flags of `mesh tap` and `mesh profile --tap` are checked at the command line, and
//! `mesh profile --tap` says so when it saw no request (it printed a bare `spec: {}` with exit 0).

use crate::harness::run;
use crate::process::ProxyProcess;

#[test]
fn tap_rates_and_route_limits_that_cannot_work_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().to_str().unwrap();
    for rate in ["0", "-1", "NaN", "inf", "x"] {
        let flag = format!("--max-rps={rate}");
        let r = run(&[
            "tap",
            "deploy/web",
            "-n",
            "emojivoto",
            &flag,
            "--registry",
            registry,
        ]);
        assert_eq!(r.code, 2, "{rate}: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!(
                "error: invalid value '{rate}' for '--max-rps <N>'"
            )),
            "{rate}: {}",
            r.stderr
        );
    }
    let r = run(&[
        "profile",
        "--tap",
        "deploy/web",
        "web-svc",
        "--tap-route-limit",
        "0",
        "--registry",
        registry,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: invalid value '0' for '--tap-route-limit <N>'"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_tap_without_requests_says_so_and_what_to_do() {
    let proxy = ProxyProcess::voting(([127, 0, 0, 1], 1).into(), &["--no-registry"]).await;
    let admin = proxy.admin.to_string();
    let args = [
        "profile",
        "--tap",
        "deploy/voting",
        "voting-svc",
        "-n",
        "emojivoto",
        "--tap-duration",
        "1s",
        "--tap-collapse",
        "--proxy-admin",
        &admin,
    ]
    .map(String::from);
    let out = tokio::task::spawn_blocking(move || crate::harness::mesh().args(&args).output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("spec: {}"),
        "a valid profile, with no routes"
    );
    assert!(
        stderr.contains(
            "mesh: warning: no requests to deploy/voting seen in 1s, so the profile has no routes: \
             send traffic to it while tapping (or tap longer with --tap-duration), or write the \
             routes from its API with --open-api or --proto"
        ),
        "{stderr}"
    );
}
