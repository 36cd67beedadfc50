//! `mesh routes` as `linkerd viz routes`: with `--to`, JSON rows carry the effective and actual
//! numbers.

use std::path::Path;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc;
use serde_json::Value;

use crate::harness::mesh;
use crate::net::{voting_and_web, VotingAndWeb};

/// `mesh ARGS --registry DIR`: stdout, after checking the exit code.
pub async fn mesh_out(registry: &Path, args: &[&str]) -> String {
    let mut cmd = mesh();
    cmd.args(args).arg("--registry").arg(registry);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_json_with_to_carries_effective_and_actual_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        web,
        voting: _voting,
        app: _app,
    } = voting_and_web(dir.path()).await;
    // Every other try of a vote fails upstream; the caller's proxy retries it (the route is
    // retryable), so callers see success while the servers answered failures too.
    for _ in 0..10 {
        let req = Request::post("http://voting-svc:8080/api/vote")
            .header("x-test-fail-every", "2")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let status = testsvc::http1_request(web.outbound, req)
            .await
            .unwrap()
            .head
            .status;
        assert_eq!(status, 200);
    }
    let out = mesh_out(
        &registry,
        &[
            "routes",
            "deploy/web",
            "-n",
            "emojivoto",
            "--to",
            "deploy/voting",
            "-o",
            "json",
        ],
    )
    .await;
    let json: Value = serde_json::from_str(&out).unwrap();
    let rows = json["deploy/web"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["route"] == name).unwrap();
    let vote = row("POST /api/vote");
    assert_eq!(vote["effective_success"], 1.0, "{vote}");
    assert_eq!(vote["requests"], 10, "{vote}");
    // Each vote failed once at most: 19 or 20 tries, 10 of them answered with success.
    let tries = vote["actual_requests"].as_u64().unwrap();
    assert!((19..=20).contains(&tries), "{vote}");
    assert_eq!(vote["actual_success"], 10.0 / tries as f64, "{vote}");
    assert!(vote["effective_rps"].as_f64().unwrap() > 0.0);
    assert!(vote["actual_rps"].as_f64().unwrap() > vote["effective_rps"].as_f64().unwrap());
    assert!(vote["latency_ms_p50"].is_u64(), "{vote}");
    assert!(
        vote.get("success").is_none() && vote.get("rps").is_none(),
        "{vote}"
    );
    // A route without traffic: zeros, as Linkerd prints them.
    let idle = row("GET /api/leaderboard");
    for field in [
        "effective_success",
        "effective_rps",
        "actual_success",
        "actual_rps",
        "latency_ms_p50",
    ] {
        assert_eq!(idle[field].as_f64(), Some(0.0), "{field}: {idle}");
    }
}
