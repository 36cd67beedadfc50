//! Outbound reliability: route timeouts, retries under a budget, request balancing and
//! fail-fast, through real proxies and upstreams.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc::{self, GrpcAnswer, HttpAnswer, Limits as UpstreamLimits};
use tokio::time::Instant;

use crate::net::{config, eventually, metric, upstream, TestProxy};

/// A profile for `voting-svc` with the given `routes:` YAML (already indented) and budget.
fn voting_profile(dir: &Path, routes: &str, budget: &str) {
    let yaml = format!(
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: voting-svc.emojivoto.svc.cluster.local\n  namespace: emojivoto\nspec:\n  routes:\n{routes}{budget}"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("voting.yaml"), yaml).unwrap();
}

/// An endpoints file naming `addrs` as `voting-svc:8080`'s endpoints.
fn endpoints_file(dir: &Path, addrs: &[SocketAddr]) -> std::path::PathBuf {
    let mut yaml = "voting-svc.emojivoto:8080:\n".to_string();
    for (i, a) in addrs.iter().enumerate() {
        yaml += &format!("  - address: {a}\n    namespace: emojivoto\n    workload: deploy/voting\n    pod: voting-{i}\n");
    }
    let path = dir.join("endpoints.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// A caller's outbound proxy with the profiles in `dir/profiles` and the endpoints `addrs`.
async fn caller(dir: &Path, addrs: &[SocketAddr]) -> TestProxy {
    let mut cfg = config(&dir.join("registry"), "web", &[], None);
    cfg.profiles_dir = Some(dir.join("profiles"));
    cfg.endpoints_file = Some(endpoints_file(dir, addrs));
    cfg.registry_dir = None;
    TestProxy::start(cfg).await
}

async fn call(
    proxy: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> testsvc::HttpReply {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://voting-svc:8080{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = Full::new(Bytes::from_static(b"{\"choice\":\"doughnut\"}"));
    testsvc::http1_request(proxy, req.body(body).unwrap())
        .await
        .unwrap()
}

const VOTE_ROUTES: &str = "  - name: POST /api/vote\n    condition: {method: POST, pathRegex: /api/vote}\n    isRetryable: true\n  - name: GET /api/list\n    condition: {method: GET, pathRegex: /api/list}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_timeout_answers_504_and_cancels_the_upstream_request() {
    let dir = tempfile::tempdir().unwrap();
    let routes = "  - name: POST /emojivoto.v1.VotingService/VoteDoughnut\n    condition: {method: POST, pathRegex: /emojivoto\\.v1\\.VotingService/VoteDoughnut}\n    timeout: 100ms\n  - name: GET /slow\n    condition: {method: GET, pathRegex: /slow}\n    timeout: 100ms\n";
    voting_profile(&dir.path().join("profiles"), routes, "");
    let grpc = upstream::<GrpcAnswer>(UpstreamLimits::default()).await;
    let http = upstream::<HttpAnswer>(UpstreamLimits::default()).await;

    // gRPC (HTTP/2): the stream is reset, so the upstream drops the call.
    let web = caller(dir.path(), &[grpc.addr]).await;
    let started = Instant::now();
    let path = "/emojivoto.v1.VotingService/VoteDoughnut";
    let reply = testsvc::grpc_call(
        web.outbound,
        "voting-svc:8080",
        path,
        b"vote",
        &[("x-test-delay-ms", "2000")],
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "answered after {:?}",
        started.elapsed()
    );
    assert_eq!(
        reply.grpc_status,
        Some(4),
        "DEADLINE_EXCEEDED, as gRPC clients expect"
    );
    let why = reply.headers["mesh-proxy-error"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("timed out after 100ms") && why.contains("VoteDoughnut"),
        "{why}"
    );
    eventually("the upstream saw the call cancelled", || async {
        grpc.cancelled.get() == 1
    })
    .await;
    drop(web);

    // HTTP/1: the same 504, well before the upstream would answer.
    let web = caller(dir.path(), &[http.addr]).await;
    let started = Instant::now();
    let reply = call(web.outbound, "GET", "/slow", &[("x-test-delay-ms", "2000")]).await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(reply.head.status, 504);
    let text = web.metrics().await;
    let route = [
        ("rt_route", "GET /slow"),
        ("status_code", "504"),
        ("classification", "failure"),
    ];
    assert_eq!(metric(&text, "route_response_total", &route), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_routes_hide_intermittent_failures_and_count_every_try() {
    let dir = tempfile::tempdir().unwrap();
    voting_profile(&dir.path().join("profiles"), VOTE_ROUTES, "");
    let app = upstream::<HttpAnswer>(UpstreamLimits::default()).await;
    let web = caller(dir.path(), &[app.addr]).await;

    // The upstream fails every other request it receives.
    for i in 0..50 {
        let reply = call(
            web.outbound,
            "POST",
            "/api/vote",
            &[("x-test-fail-every", "2")],
        )
        .await;
        assert_eq!(reply.head.status, 200, "request {i}");
    }
    let text = web.metrics().await;
    let vote = |extra: (&'static str, &'static str)| [("rt_route", "POST /api/vote"), extra];
    assert_eq!(
        metric(
            &text,
            "route_response_total",
            &vote(("classification", "success"))
        ),
        50
    );
    assert_eq!(
        metric(
            &text,
            "route_response_total",
            &vote(("classification", "failure"))
        ),
        0
    );
    // Requests 2..50 each met one failure first: 49 failed tries, 50 good ones.
    assert_eq!(
        metric(
            &text,
            "route_actual_response_total",
            &vote(("classification", "failure"))
        ),
        49,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "route_actual_response_total",
            &vote(("classification", "success"))
        ),
        50
    );
    assert_eq!(app.requests.get(), 99);

    // Not retryable: the failures reach the caller.
    let mut failed = 0;
    for _ in 0..20 {
        if call(
            web.outbound,
            "GET",
            "/api/list",
            &[("x-test-fail-every", "2")],
        )
        .await
        .head
        .status
            == 503
        {
            failed += 1;
        }
    }
    assert_eq!(failed, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_bounds_retries_against_a_failing_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let budget = "  retryBudget:\n    retryRatio: 0.2\n    minRetriesPerSecond: 1\n    ttl: 10s\n";
    voting_profile(&dir.path().join("profiles"), VOTE_ROUTES, budget);
    let app = upstream::<HttpAnswer>(UpstreamLimits::default()).await;
    let web = caller(dir.path(), &[app.addr]).await;
    let n = 100;
    for _ in 0..n {
        let reply = call(
            web.outbound,
            "POST",
            "/api/vote",
            &[("x-test-status", "503")],
        )
        .await;
        assert_eq!(
            reply.head.status, 503,
            "the last failure goes back to the caller"
        );
    }
    let retries = app.requests.get() - n;
    // ratio × N + minRetriesPerSecond × ttl = 0.2 × 100 + 1 × 10.
    assert!(retries <= 30, "{retries} retries");
    assert!(
        retries >= 10,
        "the reserve allows at least minRetriesPerSecond × ttl: {retries}"
    );
    let text = web.metrics().await;
    let tries = metric(
        &text,
        "route_actual_response_total",
        &[("rt_route", "POST /api/vote")],
    );
    assert_eq!(tries, n + retries);
    assert_eq!(
        metric(
            &text,
            "route_response_total",
            &[("rt_route", "POST /api/vote")]
        ),
        n
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_to_the_faster_endpoint_and_avoid_a_dead_one() {
    let dir = tempfile::tempdir().unwrap();
    voting_profile(&dir.path().join("profiles"), VOTE_ROUTES, "");
    let fast = upstream::<HttpAnswer>(UpstreamLimits::default()).await;
    let slow = upstream::<HttpAnswer>(UpstreamLimits {
        delay: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    let web = caller(dir.path(), &[fast.addr, slow.addr]).await;
    for _ in 0..100 {
        assert_eq!(
            call(web.outbound, "GET", "/api/list", &[])
                .await
                .head
                .status,
            200
        );
    }
    let (f, s) = (fast.requests.get(), slow.requests.get());
    assert!(f * 100 >= (f + s) * 80, "fast {f}, slow {s}");

    // Kill one endpoint under load: a retryable route sees no errors.
    let other = upstream::<HttpAnswer>(UpstreamLimits::default()).await;
    let dir2 = tempfile::tempdir().unwrap();
    voting_profile(&dir2.path().join("profiles"), VOTE_ROUTES, "");
    let web = caller(dir2.path(), &[other.addr, fast.addr]).await;
    let load = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..200 {
            statuses.push(
                call(web.outbound, "POST", "/api/vote", &[])
                    .await
                    .head
                    .status
                    .as_u16(),
            );
        }
        statuses
    });
    eventually("load under way", || async { other.requests.get() >= 20 }).await;
    drop(other);
    let statuses = load.await.unwrap();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_grpc_upstream_fails_fast_naming_max_concurrent_streams() {
    let dir = tempfile::tempdir().unwrap();
    voting_profile(&dir.path().join("profiles"), VOTE_ROUTES, "");
    let limits = UpstreamLimits {
        max_concurrent_streams: 10,
        ..Default::default()
    };
    let app = upstream::<GrpcAnswer>(limits).await;
    let mut cfg = config(&dir.path().join("registry"), "web", &[], None);
    cfg.endpoints_file = Some(endpoints_file(dir.path(), &[app.addr]));
    cfg.registry_dir = None;
    cfg.limits.dispatch_timeout = Duration::from_millis(500);
    let web = TestProxy::start(cfg).await;

    let calls: Vec<_> = (0..100)
        .map(|_| {
            let outbound = web.outbound;
            tokio::spawn(async move {
                let path = "/emojivoto.v1.VotingService/VoteDoughnut";
                testsvc::grpc_call(
                    outbound,
                    "voting-svc:8080",
                    path,
                    b"v",
                    &[("x-test-delay-ms", "2000")],
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let (mut ok, mut shed) = (0, 0);
    for c in calls {
        let reply = c.await.unwrap();
        if reply.grpc_status == Some(0) {
            ok += 1;
            continue;
        }
        assert_eq!(reply.grpc_status, Some(14), "UNAVAILABLE");
        let why = reply.headers["mesh-proxy-error"].to_str().unwrap();
        assert_eq!(reply.grpc_message.as_deref(), Some(why));
        assert!(
            why.contains("max_concurrent_streams") && why.contains("(10)"),
            "{why}"
        );
        shed += 1;
    }
    assert!((10..=11).contains(&ok), "{ok} calls got through");
    assert_eq!(ok + shed, 100);
}
