//! The flags several commands share behave alike everywhere: `mesh profile --tap` reaches a
//! proxy by `--proxy-admin` with `--admin-token-file` as `mesh tap` does; `--prometheus` is
//! validated once, naming the flag; a token file is read before any proxy is looked for.

use crate::harness::run;
use crate::net::{http_upstream, public_admin_config, TestProxy};

/// `mesh profile --tap` of the proxy at `admin`, with `extra` flags; the exit code and stderr.
async fn profile_tap(admin: std::net::SocketAddr, extra: &[&str]) -> (i32, String) {
    let admin = admin.to_string();
    let mut args: Vec<String> = [
        "profile",
        "--tap",
        "deploy/voting",
        "voting-svc",
        "-n",
        "emojivoto",
        "--tap-duration",
        "200ms",
        "--proxy-admin",
        &admin,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = tokio::task::spawn_blocking(move || crate::harness::mesh().args(&args).output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_tap_reaches_a_public_admin_port_with_the_token_file() {
    let app = http_upstream().await;
    let proxy = TestProxy::start(public_admin_config(app.addr, Some("s3cret-token"))).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();

    let (code, stderr) = profile_tap(proxy.admin, &[]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");

    let (code, stderr) = profile_tap(
        proxy.admin,
        &["--admin-token-file", token.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn prometheus_is_an_absolute_http_url_or_a_usage_error_naming_the_flag() {
    for (url, why) in [
        ("notaurl", "not an absolute URL"),
        ("", "not an absolute URL"),
        (
            "https://prometheus:9090",
            "mesh reads Prometheus over plain HTTP",
        ),
        ("ftp://prometheus", "not HTTP"),
    ] {
        let r = run(&["stat", "deploy", "--prometheus", url]);
        assert_eq!(r.code, 2, "{url:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("'--prometheus <URL>'"),
            "{url:?}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(why), "{url:?}: {}", r.stderr);
    }
    // The same check for the environment variable.
    let out = crate::harness::mesh()
        .args(["routes", "deploy"])
        .env("MESH_PROMETHEUS", "notaurl")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an absolute URL"));
}

#[test]
fn a_bad_token_file_is_reported_before_looking_for_proxies() {
    let registry = tempfile::tempdir().unwrap();
    for command in [
        &["tap", "deploy/web"][..],
        &["profile", "--tap", "deploy/web", "web-svc"][..],
    ] {
        let args = [
            command,
            &[
                "--admin-token-file",
                "/nonexistent/token",
                "--registry",
                registry.path().to_str().unwrap(),
            ],
        ]
        .concat();
        let r = run(&args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("--admin-token-file: reading /nonexistent/token"),
            "{args:?}: {}",
            r.stderr
        );
    }
}
