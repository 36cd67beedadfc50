//! `mesh routes` lists the routes of the ServiceProfile in force (and `[DEFAULT]`), as
//! `linkerd viz routes` does: a route a reload removed goes, although it had traffic in the window.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc;
use serde_json::Value;

use crate::harness::mesh;
use crate::net::{admin_get, eventually, voting_and_web, VotingAndWeb, VOTING_PROFILE};

/// `voting.yaml` without its `GET /api/leaderboard` route.
pub fn without_leaderboard() -> String {
    let cut = VOTING_PROFILE
        .find("  - name: GET /api/leaderboard")
        .expect("the route is in the profile");
    VOTING_PROFILE[..cut].to_string()
}

pub async fn get(outbound: SocketAddr, path: &str) {
    let req = Request::get(format!("http://voting-svc:8080{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let status = testsvc::http1_request(outbound, req)
        .await
        .unwrap()
        .head
        .status;
    assert_eq!(status, 200, "{path}");
}

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

/// The routes of `resource`'s rows, each with its responses counted.
fn routes(json: &Value, resource: &str) -> Vec<(String, u64)> {
    json[resource]
        .as_array()
        .unwrap_or_else(|| panic!("{resource} in {json}"))
        .iter()
        .map(|r| {
            (
                r["route"].as_str().unwrap().to_string(),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Whether the proxy at `admin` no longer has the leaderboard route in force anywhere.
async fn reloaded(admin: SocketAddr) -> bool {
    let (status, body) = admin_get(admin, "/stats").await;
    let Ok(stats) = serde_json::from_str::<Value>(&body) else {
        return false;
    };
    status == 200
        && !stats["profile_routes"].to_string().contains("leaderboard")
        && stats["profile_routes"]
            .to_string()
            .contains("GET /api/list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_list_the_profile_in_force_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        voting,
        web,
        app: _app,
    } = voting_and_web(dir.path()).await;
    for _ in 0..4 {
        get(web.outbound, "/api/leaderboard").await;
        get(web.outbound, "/api/list").await;
    }
    let server = ["routes", "deploy/voting", "-n", "emojivoto", "-o", "json"];
    let callers = [
        "routes",
        "deploy/web",
        "-n",
        "emojivoto",
        "--to",
        "deploy/voting",
        "-o",
        "json",
    ];
    let before: Value = serde_json::from_str(&mesh_out(&registry, &server).await).unwrap();
    assert!(
        routes(&before, "deploy/voting").contains(&("GET /api/leaderboard".into(), 4)),
        "{before}"
    );

    // The profile is rewritten without the route; both proxies reload it.
    std::fs::write(
        dir.path().join("profiles/voting.yaml"),
        without_leaderboard(),
    )
    .unwrap();
    eventually("both proxies reloaded the profile", || async {
        reloaded(voting.admin).await && reloaded(web.admin).await
    })
    .await;
    // A request for the path now falls into [DEFAULT].
    get(web.outbound, "/api/leaderboard").await;

    let expected = vec![
        ("GET /api/list".to_string(), 4),
        ("POST /api/vote".to_string(), 0),
        ("[DEFAULT]".to_string(), 1),
    ];
    let after: Value = serde_json::from_str(&mesh_out(&registry, &server).await).unwrap();
    assert_eq!(routes(&after, "deploy/voting"), expected, "{after}");
    let after: Value = serde_json::from_str(&mesh_out(&registry, &callers).await).unwrap();
    assert_eq!(routes(&after, "deploy/web"), expected, "{after}");
    let table = mesh_out(&registry, &server[..4]).await;
    assert!(!table.contains("leaderboard"), "{table}");
    assert!(table.contains("GET /api/list"), "{table}");

    // /metrics says the same for Prometheus; the removed route's counters stay.
    let (_, metrics) = admin_get(voting.admin, "/metrics").await;
    let info: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("profile_route_info{"))
        .collect();
    assert!(
        info.iter()
            .any(|l| l.contains("rt_route=\"GET /api/list\"") && l.ends_with("} 1")),
        "{metrics}"
    );
    assert!(!info.iter().any(|l| l.contains("leaderboard")), "{info:?}");
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("route_request_total{") && l.contains("leaderboard")));

    // `mesh stat` still counts every request of the window, the removed route's included.
    let stat: Value = serde_json::from_str(
        &mesh_out(
            &registry,
            &["stat", "deploy/voting", "-n", "emojivoto", "-o", "json"],
        )
        .await,
    )
    .unwrap();
    assert_eq!(stat[0]["requests"], 9, "{stat}");
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
