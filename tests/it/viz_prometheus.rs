//! `--prometheus`: the same traffic through a real Prometheus scraping the proxies gives the same
//! numbers, routes and edges (mutual TLS included) as the proxies' own windows.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc;
use serde_json::Value;

use crate::harness::mesh;
use crate::net::{eventually_within, voting_and_web, VotingAndWeb};
use crate::viz_mtls::{call_voting, expected_tls_rows, mtls_mesh, tls_of_rows};
use crate::viz_routes::{get, without_leaderboard};

/// The library's local Prometheus, with its directory; `None` (saying why) without the binary.
pub async fn prometheus(
    targets: &[SocketAddr],
) -> Option<(mesh::demo::LocalPrometheus, tempfile::TempDir)> {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "skipped: the prometheus binary is missing (`.ci/run` installs the Debian package)"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = mesh::demo::LocalPrometheus::start(dir.path(), targets)
        .await
        .unwrap();
    Some((p, dir))
}

async fn json(registry: &Path, args: &[&str]) -> Value {
    let mut cmd = mesh();
    cmd.args(args)
        .arg("--registry")
        .arg(registry)
        .args(["-o", "json"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_gives_the_same_numbers_as_the_proxies() {
    let dir = tempfile::tempdir().unwrap();
    // Every part bound: the proxies and the app stop when dropped.
    let VotingAndWeb {
        registry,
        voting,
        web,
        app: _app,
    } = voting_and_web(dir.path()).await;
    let Some((prometheus, _dir)) = prometheus(&[voting.admin, web.admin]).await else {
        return;
    };

    for i in 0..90 {
        let mut req = Request::get("http://voting-svc:8080/api/list");
        if i % 3 == 0 {
            req = req.header("x-test-status", "500");
        }
        testsvc::http1_request(web.outbound, req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
    }
    for _ in 0..20 {
        let req = Request::post("http://voting-svc:8080/api/vote").header("x-test-fail-every", "2");
        testsvc::http1_request(web.outbound, req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
    }

    let stat = ["stat", "deploy", "-n", "emojivoto"];
    let url = prometheus.url.clone();
    let with_prometheus = [&stat[..], &["--prometheus", &url]].concat();
    let voting_row = |v: &Value| {
        v.as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == "voting").cloned())
    };
    let routes = [
        "routes",
        "deploy/web",
        "-n",
        "emojivoto",
        "--to",
        "deploy/voting",
    ];
    let routes_prometheus = [&routes[..], &["--prometheus", &url]].concat();
    // Every route of the profile in force, idle ones included: Prometheus knows them from the
    // proxies' `profile_route_info`.
    let strip = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["deploy/web"].as_array().map_or(vec![], |a| {
            a.iter()
                .map(|r| {
                    (
                        r["route"].clone(),
                        r["requests"].clone(),
                        r["effective_success"].clone(),
                    )
                })
                .collect()
        })
    };
    let expected_routes = strip(&json(&registry, &routes).await);
    assert_eq!(expected_routes.len(), 4, "{expected_routes:?}");
    let expected = voting_row(&json(&registry, &stat).await).unwrap();
    // Wait for scrapes of both proxies after the last request (Prometheus' first scrape can take
    // a few seconds after it starts).
    eventually_within(
        std::time::Duration::from_secs(60),
        "prometheus scraped the final counts",
        || async {
            let ask = |args: Vec<&str>| {
                let mut cmd = mesh();
                cmd.args(args)
                    .arg("--registry")
                    .arg(&registry)
                    .args(["-o", "json"]);
                async move {
                    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                        .await
                        .unwrap();
                    serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
                }
            };
            let stat_ok = voting_row(&ask(with_prometheus.clone()).await)
                .is_some_and(|r| r["requests"] == expected["requests"]);
            stat_ok && strip(&ask(routes_prometheus.clone()).await) == expected_routes
        },
    )
    .await;
    // Both now, so both divide by (about) the same proxy age.
    let expected = voting_row(&json(&registry, &stat).await).unwrap();
    let from_prometheus = json(&registry, &with_prometheus).await;
    let got = voting_row(&from_prometheus).unwrap();
    for field in [
        "requests",
        "success",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_p99",
    ] {
        assert_eq!(
            got[field], expected[field],
            "{field}: prometheus {got} vs proxies {expected}"
        );
    }
    let (a, b) = (
        got["rps"].as_f64().unwrap(),
        expected["rps"].as_f64().unwrap(),
    );
    assert!(
        (a - b).abs() <= b * 0.2,
        "rps {a} vs {b}: both divide by the proxy's age"
    );

    assert_eq!(
        strip(&json(&registry, &routes_prometheus).await),
        expected_routes
    );
}

/// `mesh ARGS --registry DIR -o json`, `Null` when it fails (Prometheus not scraped yet).
async fn try_json(registry: &Path, args: &[&str]) -> Value {
    let mut cmd = mesh();
    cmd.args(args)
        .arg("--registry")
        .arg(registry)
        .args(["-o", "json"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Prometheus keeps a removed route's series (its counters stay in the proxy), but the proxies'
/// `profile_route_info` drops it at the reload, so `mesh routes --prometheus` lists the routes of
/// the profile in force, idle ones included, as the proxies' own windows do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_lists_the_profile_in_force_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        voting,
        web,
        app: _app,
    } = voting_and_web(dir.path()).await;
    let Some((prometheus, _dir)) = prometheus(&[voting.admin, web.admin]).await else {
        return;
    };
    for _ in 0..4 {
        get(web.outbound, "/api/leaderboard").await;
        get(web.outbound, "/api/list").await;
    }
    let url = prometheus.url.clone();
    let routes = [
        "routes",
        "deploy/voting",
        "-n",
        "emojivoto",
        "--prometheus",
        &url,
    ];
    let listed = |v: &Value| -> Vec<(String, u64)> {
        v["deploy/voting"].as_array().map_or(vec![], |rows| {
            rows.iter()
                .map(|r| {
                    let route = r["route"].as_str().unwrap_or_default().to_string();
                    (route, r["requests"].as_u64().unwrap_or_default())
                })
                .collect()
        })
    };
    let patience = std::time::Duration::from_secs(60);
    eventually_within(patience, "prometheus has the routes' traffic", || async {
        let now = listed(&try_json(&registry, &routes).await);
        now.contains(&("GET /api/leaderboard".to_string(), 4))
            && now.contains(&("GET /api/list".to_string(), 4))
    })
    .await;

    std::fs::write(
        dir.path().join("profiles/voting.yaml"),
        without_leaderboard(),
    )
    .unwrap();
    eventually_within(
        patience,
        "mesh routes --prometheus drops the removed route",
        || async {
            !listed(&try_json(&registry, &routes).await)
                .iter()
                .any(|(route, _)| route.contains("leaderboard"))
        },
    )
    .await;
    // The routes in force, idle ones included (Linkerd lists them too).
    assert_eq!(
        listed(&try_json(&registry, &routes).await),
        [
            ("GET /api/list".to_string(), 4),
            ("POST /api/vote".to_string(), 0),
            ("[DEFAULT]".to_string(), 0),
        ]
    );
    // The removed route's traffic is still in Prometheus and still counted by `mesh stat`.
    let stat = json(
        &registry,
        &[
            "stat",
            "deploy/voting",
            "-n",
            "emojivoto",
            "--prometheus",
            &url,
        ],
    )
    .await;
    assert_eq!(stat[0]["requests"], 8, "{stat}");
}

/// The proxies' `tls`, `client_id`/`server_id` and `no_tls_reason` labels carry through
/// Prometheus: `mesh edges --prometheus` shows the mutual-TLS edge secured with both identities,
/// and the plaintext one with its reason, as the proxies' own windows do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_shows_mutual_tls_edges_as_the_proxies_do() {
    let dir = tempfile::tempdir().unwrap();
    let m = mtls_mesh(dir.path()).await;
    let admins = [m.voting.admin, m.web.admin, m.bot.admin];
    let Some((prometheus, _dir)) = prometheus(&admins).await else {
        return;
    };
    call_voting(&m.web, 3).await;
    call_voting(&m.bot, 2).await;
    let edges = ["edges", "deploy", "-n", "emojivoto"];
    assert_eq!(
        tls_of_rows(&json(&m.registry, &edges).await),
        expected_tls_rows()
    );
    let url = prometheus.url.clone();
    let with_prometheus = [&edges[..], &["--prometheus", &url]].concat();
    eventually_within(
        std::time::Duration::from_secs(60),
        "prometheus scraped every proxy's TLS labels",
        || async {
            tls_of_rows(&try_json(&m.registry, &with_prometheus).await) == expected_tls_rows()
        },
    )
    .await;
}
