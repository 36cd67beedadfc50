//! Profile reloads, graceful shutdown, and `mesh proxy` as a process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use mesh::testsvc;

use crate::net::{
    admin_get, config, eventually, http_upstream, metric, public_admin_config, voting_proxy,
    wait_ready, TestProxy, PATIENCE,
};

pub(crate) fn profile(service: &str, routes: &[&str]) -> String {
    let mut yaml = format!(
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: {service}.emojivoto.svc.cluster.local\n  namespace: emojivoto\nspec:\n  routes:\n"
    );
    for path in routes {
        yaml += &format!(
            "  - name: GET {path}\n    condition:\n      method: GET\n      pathRegex: {path}\n"
        );
    }
    yaml
}

/// A request to `voting-svc` that the app answers after `delay_ms`, sent through `inbound`; returns
/// once the app has it (so it is in flight through the proxy).
async fn slow_request_in_flight(
    inbound: SocketAddr,
    app: &crate::net::Upstream,
    delay_ms: u64,
) -> tokio::task::JoinHandle<Result<testsvc::HttpReply, testsvc::ClientError>> {
    let slow = tokio::spawn(async move {
        let req = Request::get("/slow")
            .header("host", "voting-svc:8080")
            .header("x-test-delay-ms", delay_ms.to_string())
            .body(Empty::<Bytes>::new())
            .unwrap();
        testsvc::http1_request(inbound, req).await
    });
    eventually("request reached the app", || async {
        app.requests.get() > 0
    })
    .await;
    slow
}

pub(crate) async fn get(inbound: SocketAddr, host: &str, path: &str) -> u16 {
    let req = Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    testsvc::http1_request(inbound, req)
        .await
        .unwrap()
        .head
        .status
        .as_u16()
}

/// Sends `GET path` until the proxy counts it under `route` (reloads are polled, not pushed).
pub(crate) async fn until_routed(proxy: &TestProxy, host: &str, path: &str, route: &str) {
    eventually(&format!("{path} routed to {route:?}"), || async {
        assert_eq!(get(proxy.inbound.unwrap(), host, path).await, 200);
        let text = proxy.metrics().await;
        metric(&text, "route_request_total", &[("rt_route", route)]) > 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_reload_without_restart_and_a_broken_file_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("voting.yaml"), profile("voting-svc", &["/a"])).unwrap();
    let app = http_upstream().await;
    let mut cfg = config(
        &dir.path().join("registry"),
        "voting",
        &["voting-svc:8080", "emoji-svc:8080"],
        Some(app.addr),
    );
    cfg.profiles_dir = Some(profiles.clone());
    let proxy = TestProxy::start(cfg).await;
    let host = "voting-svc:8080";

    // Loaded before /ready: the very first request is routed.
    assert_eq!(get(proxy.inbound.unwrap(), host, "/a").await, 200);
    let text = proxy.metrics().await;
    assert_eq!(
        metric(&text, "route_request_total", &[("rt_route", "GET /a")]),
        1
    );
    assert_eq!(get(proxy.inbound.unwrap(), host, "/b").await, 200);
    assert_eq!(
        metric(
            &proxy.metrics().await,
            "route_request_total",
            &[("rt_route", "[DEFAULT]")]
        ),
        1
    );

    // A new route appears on a keep-alive connection's proxy without a restart.
    std::fs::write(
        profiles.join("voting.yaml"),
        profile("voting-svc", &["/a", "/b"]),
    )
    .unwrap();
    until_routed(&proxy, host, "/b", "GET /b").await;

    // Break the file, then add another service's profile: once that one is in force, the reload
    // that saw the broken file is done, and voting's last good profile must still apply.
    std::fs::write(
        profiles.join("voting.yaml"),
        "spec: [this is not: a profile",
    )
    .unwrap();
    std::fs::write(profiles.join("emoji.yaml"), profile("emoji-svc", &["/e"])).unwrap();
    until_routed(&proxy, "emoji-svc:8080", "/e", "GET /e").await;
    let before = metric(
        &proxy.metrics().await,
        "route_request_total",
        &[("rt_route", "GET /b")],
    );
    assert_eq!(get(proxy.inbound.unwrap(), host, "/b").await, 200);
    assert_eq!(
        metric(
            &proxy.metrics().await,
            "route_request_total",
            &[("rt_route", "GET /b")]
        ),
        before + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_an_in_flight_slow_request() {
    let (mut proxy, app, _dir) = voting_proxy().await;
    let inbound = proxy.inbound.unwrap();
    // Shut down once the app has the request (it is then in flight through the proxy).
    let slow = slow_request_in_flight(inbound, &app, 400).await;
    let serving = proxy.signal_stop();
    let reply = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(reply.head.status, 200);
    tokio::time::timeout(PATIENCE, serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The listeners are closed: new connections are refused.
    assert!(tokio::net::TcpStream::connect(inbound).await.is_err());
    assert_eq!(admin_get(proxy.admin, "/live").await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_answer_through_the_drain() {
    let (mut proxy, app, _dir) = voting_proxy().await;
    let slow = slow_request_in_flight(proxy.inbound.unwrap(), &app, 1500).await;
    let serving = proxy.signal_stop();
    // While the slow request drains, the kubelet sees a live container that takes no traffic.
    let (mut live, mut ready, mut metrics) = (Vec::new(), Vec::new(), Vec::new());
    while !slow.is_finished() {
        live.push(admin_get(proxy.admin, "/live").await.0);
        ready.push(admin_get(proxy.admin, "/ready").await.0);
        metrics.push(admin_get(proxy.admin, "/metrics").await.0);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(live.len() >= 3, "polled {} times", live.len());
    // The last poll may race the end of the drain; every earlier one must have been answered.
    let during = live.len() - 1;
    assert!(live[..during].iter().all(|&s| s == 200), "/live: {live:?}");
    assert!(
        ready[..during].iter().all(|&s| s == 503),
        "/ready: {ready:?}"
    );
    assert!(
        metrics[..during].iter().all(|&s| s == 200),
        "/metrics: {metrics:?}"
    );
    let reply = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(reply.head.status, 200);
    tokio::time::timeout(PATIENCE, serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh_proxy_process_starts_registers_serves_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let app = http_upstream().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args([
            "proxy",
            "--workload",
            "deploy/voting",
            "-n",
            "emojivoto",
            "--service",
            "voting-svc:8080",
        ])
        .args([
            "--inbound",
            "127.0.0.1:0",
            "--outbound",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
        ])
        .arg("--app")
        .arg(app.addr.to_string())
        .arg("--registry")
        .arg(&registry)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // listening inbound=127.0.0.1:P outbound=127.0.0.1:Q admin=127.0.0.1:R
    let addr = |key: &str| -> SocketAddr {
        let word = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {line:?}"));
        word.parse().unwrap()
    };
    let (inbound, admin) = (addr("inbound="), addr("admin="));
    wait_ready(admin).await;
    assert_eq!(
        std::fs::read_dir(&registry).unwrap().count(),
        1,
        "one registry record"
    );
    assert_eq!(get(inbound, "voting-svc:8080", "/").await, 200);

    crate::harness::terminate(child.id());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&registry).unwrap().count(),
        0,
        "the record is removed on exit"
    );
}

/// `POST path` to an admin port with an optional bearer token: status and body.
async fn admin_post(admin: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = Request::post(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let reply = testsvc::http1_request(admin, req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    (
        reply.head.status.as_u16(),
        String::from_utf8_lossy(&reply.body).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_shutdown_drains_the_proxy_and_it_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let app = http_upstream().await;
    let mut proxy =
        crate::process::ProxyProcess::voting(app.addr, &["--registry", registry.to_str().unwrap()])
            .await;
    assert_eq!(std::fs::read_dir(&registry).unwrap().count(), 1);
    assert_eq!(admin_get(proxy.admin, "/shutdown").await.0, 405);
    proxy.assert_up().await;

    assert_eq!(
        admin_post(proxy.admin, "/shutdown", None).await,
        (200, "shutting down\n".to_string())
    );
    assert_eq!(proxy.exited().await, Some(0), "{}", proxy.log());
    assert!(proxy.log().contains("shutdown asked for on the admin port"));
    assert_eq!(
        std::fs::read_dir(&registry).unwrap().count(),
        0,
        "the record is removed on exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_on_a_public_admin_port_needs_the_token() {
    let app = http_upstream().await;
    let proxy = TestProxy::start(public_admin_config(app.addr, None)).await;
    let (status, why) = admin_post(proxy.admin, "/shutdown", Some("anything")).await;
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("--admin-token-file"), "{why}");
    drop(proxy);

    let mut proxy = TestProxy::start(public_admin_config(app.addr, Some("s3cret-token"))).await;
    assert_eq!(admin_post(proxy.admin, "/shutdown", None).await.0, 401);
    assert_eq!(
        admin_post(proxy.admin, "/shutdown", Some("s3cret-tokeN"))
            .await
            .0,
        401
    );
    // Refused attempts change nothing; /metrics, /ready and /live stay open without a token.
    for path in ["/metrics", "/ready", "/live"] {
        assert_eq!(admin_get(proxy.admin, path).await.0, 200, "{path}");
    }
    assert_eq!(
        admin_post(proxy.admin, "/shutdown", Some("s3cret-token"))
            .await
            .0,
        200
    );
    tokio::time::timeout(PATIENCE, proxy.take_task())
        .await
        .expect("the proxy stops after POST /shutdown")
        .unwrap()
        .unwrap();
}
