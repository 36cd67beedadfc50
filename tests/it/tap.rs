//! Tap: a proxy's `/tap` streams the requests it sees after the tap started, filtered as asked, and
//! `mesh tap` prints them.

use std::net::SocketAddr;
use std::process::Stdio;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::admin_api::tap::{TapEvent, TapEventKind, TapLine, TapQuery};
use mesh::testsvc;
use mesh::viz::tap::TapStream;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::net::{http_upstream, public_admin_config, voting_proxy, TestProxy, PATIENCE};

/// Sends `method path` to the proxy's inbound side with `headers`; returns the body length.
async fn send(proxy: &TestProxy, method: &str, path: &str, headers: &[(&str, &str)]) -> usize {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "voting-svc:8080");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let reply = testsvc::http1_request(
        proxy.inbound.unwrap(),
        req.body(Full::new(Bytes::new())).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(reply.head.status, 200);
    reply.body.len()
}

/// The next event of `stream`, failing the test after [`PATIENCE`].
pub(crate) async fn next_event(stream: &mut TapStream) -> TapEvent {
    let line = tokio::time::timeout(PATIENCE, stream.next_line())
        .await
        .expect("a tap event in time")
        .expect("a readable tap stream")
        .expect("the tap stream stays open");
    match line {
        TapLine::Event(e) => *e,
        TapLine::Lost { lost } => panic!("{lost} events lost"),
    }
}

async fn tap(proxy: &TestProxy, query: &str) -> TapStream {
    TapStream::open(proxy.admin, &TapQuery::parse(Some(query)).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tap_sees_request_response_and_end_of_a_later_request() {
    let (proxy, _app, _dir) = voting_proxy().await;
    let mut stream = tap(&proxy, "").await;
    let len = send(&proxy, "GET", "/api/list?page=2", &[]).await;

    let req = next_event(&mut stream).await;
    let TapEventKind::RequestInitEvent(init) = &req.kind else {
        panic!("a request init first: {req:?}")
    };
    assert_eq!(init.method, "GET");
    assert_eq!(init.path, "/api/list");
    assert_eq!(init.authority, "voting-svc:8080");
    assert!(init.headers.is_empty());
    assert_eq!(
        serde_json::to_value(req.proxy_direction).unwrap(),
        "INBOUND"
    );
    // Labelled as Linkerd labels a deployment's pods.
    assert_eq!(req.destination.metadata.get("deployment"), Some("voting"));
    assert_eq!(req.source.metadata.tls(), "no_identity");

    let rsp = next_event(&mut stream).await;
    let TapEventKind::ResponseInitEvent(r) = &rsp.kind else {
        panic!("a response init next: {rsp:?}")
    };
    assert_eq!((r.id, r.http_status), (init.id, 200));

    let end = next_event(&mut stream).await;
    let TapEventKind::ResponseEndEvent(e) = &end.kind else {
        panic!("a response end last: {end:?}")
    };
    assert_eq!(e.id, init.id);
    assert_eq!(e.response_bytes, len as u64);
    assert_eq!(e.grpc_status, None);
    let text = mesh::viz::tap::render_text(&end);
    assert!(
        text.starts_with(&format!("end id={}:0 proxy=in ", init.id.base)),
        "{text}"
    );
    // No profile: the route is `[DEFAULT]`.
    assert!(
        text.ends_with(&format!("response-length={len}B rt_route=[DEFAULT]")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_filters_leave_out_requests_that_do_not_match() {
    let (proxy, _app, _dir) = voting_proxy().await;
    let mut by_path = tap(&proxy, "path=/api/vote").await;
    let mut by_method = tap(&proxy, "method=POST").await;
    send(&proxy, "GET", "/api/list", &[]).await;
    send(&proxy, "GET", "/api/vote", &[]).await;
    send(&proxy, "POST", "/api/list", &[]).await;

    // Each stream's first request is the first that matches it: the others were left out.
    let first = |e: TapEvent| match e.kind {
        TapEventKind::RequestInitEvent(r) => (r.method, r.path),
        other => panic!("a request init first: {other:?}"),
    };
    assert_eq!(
        first(next_event(&mut by_path).await),
        ("GET".to_string(), "/api/vote".to_string())
    );
    assert_eq!(
        first(next_event(&mut by_method).await),
        ("POST".to_string(), "/api/list".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_are_only_shown_when_asked_for() {
    let (proxy, _app, _dir) = voting_proxy().await;
    let mut plain = tap(&proxy, "").await;
    let mut with_headers = tap(&proxy, "headers=true").await;
    send(
        &proxy,
        "GET",
        "/",
        &[
            ("x-secret", "s3cret"),
            ("authorization", "Bearer hunter2"),
            ("cookie", "session=1"),
        ],
    )
    .await;

    let headers = |e: TapEvent| match e.kind {
        TapEventKind::RequestInitEvent(r) => r.headers,
        other => panic!("a request init first: {other:?}"),
    };
    assert!(headers(next_event(&mut plain).await).is_empty());
    let shown = headers(next_event(&mut with_headers).await);
    assert!(
        shown
            .iter()
            .any(|h| h.name == "x-secret" && h.value_str() == Some("s3cret")),
        "{shown:?}"
    );
    // Credentials never, even when header values are asked for.
    for secret in ["authorization", "cookie"] {
        let h = shown.iter().find(|h| h.name == secret).unwrap();
        assert_eq!(h.value_str(), Some("[redacted]"));
    }
}

/// `mesh` as a child process with a clean environment, killed if the test fails.
pub(crate) fn mesh_process(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mesh"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("MESH_NAMESPACE")
        .env_remove("MESH_REGISTRY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh_tap_prints_requests_of_the_proxy_it_taps() {
    let (proxy, _app, _dir) = voting_proxy().await;
    let admin: SocketAddr = proxy.admin;
    let mut child = mesh_process(&[
        "tap",
        "deploy/voting",
        "-n",
        "emojivoto",
        "--proxy-admin",
        &admin.to_string(),
    ])
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(PATIENCE, stderr.next_line())
        .await
        .expect("mesh tap says it is tapping")
        .unwrap()
        .unwrap_or_default();
    assert_eq!(first, "tapping 1 proxy: deploy/voting (emojivoto)");

    let len = send(&proxy, "GET", "/api/list", &[]).await;
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    while lines.len() < 3 {
        let line = tokio::time::timeout(PATIENCE, stdout.next_line())
            .await
            .expect("three lines in time")
            .unwrap()
            .expect("mesh tap keeps running");
        lines.push(line);
    }
    assert!(lines[0].starts_with("req id="), "{lines:?}");
    assert!(
        lines[0].contains(" proxy=in  src=127.0.0.1:")
            && lines[0].ends_with(
                "tls=no_identity :method=GET :authority=voting-svc:8080 :path=/api/list \
                 rt_route=[DEFAULT]"
            ),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("rsp id=") && lines[1].contains(" :status=200 latency="));
    assert!(
        lines[2].starts_with("end id=")
            && lines[2].ends_with(&format!("response-length={len}B rt_route=[DEFAULT]")),
        "{lines:?}"
    );

    crate::harness::terminate(child.id().unwrap());
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("mesh tap exits on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn mesh_tap_of_nothing_says_so_at_once() {
    let registry = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let run = crate::harness::run(&[
        "tap",
        "deploy/nope",
        "-n",
        "emojivoto",
        "--registry",
        registry.path().to_str().unwrap(),
    ]);
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("deploy/nope")
            && run.stderr.contains("emojivoto")
            && run.stderr.contains(&registry.path().display().to_string()),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_tap_does_not_hold_up_graceful_shutdown() {
    let (mut proxy, _app, _dir) = voting_proxy().await;
    let mut stream = tap(&proxy, "").await;
    let stopped = proxy.signal_stop();
    let ended = tokio::time::timeout(PATIENCE, stream.next_line())
        .await
        .expect("the tap ends when the proxy stops");
    assert!(matches!(ended, Ok(None)), "{:?}", ended.map(|_| ()));
    // Well within the 5s shutdown grace of the test config.
    tokio::time::timeout(std::time::Duration::from_secs(2), stopped)
        .await
        .expect("the proxy stops without waiting out its grace period")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taps_beyond_the_limit_are_refused_with_503() {
    let (proxy, _app, _dir) = voting_proxy().await;
    let mut open = Vec::new();
    for _ in 0..mesh::proxy::tap::MAX_TAP_STREAMS {
        open.push(tap(&proxy, "").await);
    }
    match TapStream::open(proxy.admin, &TapQuery::new()).await {
        Err(mesh::viz::tap::TapError::Refused { status, .. }) => assert_eq!(status, 503),
        other => panic!("expected 503, got {:?}", other.map(|s| s.addr())),
    }
    drop(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_from_tap_has_the_routes_of_the_traffic_sent() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let app = crate::net::http_upstream().await;
    let voting = crate::net::TestProxy::start(crate::net::config(
        &registry,
        "voting",
        &["voting-svc:8080"],
        Some(app.addr),
    ))
    .await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mesh"));
    cmd.args([
        "profile",
        "--tap",
        "deploy/voting",
        "voting-svc",
        "-n",
        "emojivoto",
        "--tap-duration",
        "1500ms",
        "--tap-collapse",
    ])
    .arg("--registry")
    .arg(&registry);
    let run = tokio::task::spawn_blocking(move || cmd.output().unwrap());
    // Traffic until the window closes (the tap's start is not observable from here).
    let inbound = voting.inbound.unwrap();
    while !run.is_finished() {
        for (method, path) in [
            ("GET", "/books/1"),
            ("GET", "/books/22?page=3"),
            ("POST", "/api/vote"),
            ("GET", "/"),
        ] {
            let req = http::Request::builder()
                .method(method)
                .uri(path)
                .header("host", "voting-svc:8080")
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap();
            mesh::testsvc::http1_request(inbound, req).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let out = run.await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    let profile: mesh::profile::ServiceProfile = mesh::yaml::from_str(&yaml).unwrap();
    let names: Vec<&str> = profile
        .spec
        .routes
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["GET /books/{id}", "POST /api/vote"], "{yaml}");
    assert_eq!(
        profile.metadata.name,
        "voting-svc.emojivoto.svc.cluster.local"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_admin_port_taps_only_with_the_token() {
    let app = http_upstream().await;
    let open = |admin, token: Option<&'static str>| async move {
        match TapStream::open_with_token(admin, &TapQuery::new(), token).await {
            Ok(_) => 200,
            Err(mesh::viz::tap::TapError::Refused { status, .. }) => status.as_u16(),
            Err(e) => panic!("{e}"),
        }
    };
    // Public without a token file: tap is off, metrics stay open.
    let proxy = TestProxy::start(public_admin_config(app.addr, None)).await;
    assert_eq!(open(proxy.admin, None).await, 403);
    assert!(proxy.metrics().await.contains("process_start_time_seconds"));
    drop(proxy);

    // Public with a token: only the right bearer token taps.
    let proxy = TestProxy::start(public_admin_config(app.addr, Some("s3cret-token"))).await;
    assert_eq!(open(proxy.admin, None).await, 401);
    assert_eq!(open(proxy.admin, Some("s3cret-tokeN")).await, 401);
    assert_eq!(open(proxy.admin, Some("s3cret-token")).await, 200);
}
