//! `mesh stat` and `mesh routes` against real proxies found in a registry.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc;
use serde_json::Value;

use crate::harness::mesh;
use crate::net::{voting_and_web, VotingAndWeb};

async fn send(outbound: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://voting-svc:8080{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from_static(b"{}"))).unwrap();
    testsvc::http1_request(outbound, req)
        .await
        .unwrap()
        .head
        .status
        .as_u16()
}

/// `mesh ARGS --registry DIR`: exit code, stdout and stderr.
pub(crate) async fn viz(registry: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = mesh();
    cmd.args(args).arg("--registry").arg(registry);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (
        out.status.code().unwrap(),
        text(out.stdout),
        text(out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_and_routes_report_exactly_the_traffic_sent() {
    let dir = tempfile::tempdir().unwrap();
    // Every part bound: the proxies and the app stop when dropped.
    let VotingAndWeb {
        registry,
        web,
        voting: _voting,
        app: _app,
    } = voting_and_web(dir.path()).await;

    // 200 requests: 150 GET /api/list (50 of them 500s), 50 POST /api/vote that fail every other
    // try upstream — the caller's proxy retries those, so callers see success.
    for i in 0..150 {
        let headers: &[(&str, &str)] = if i % 3 == 0 {
            &[("x-test-status", "500")]
        } else {
            &[]
        };
        send(web.outbound, "GET", "/api/list", headers).await;
    }
    for _ in 0..50 {
        assert_eq!(
            send(
                web.outbound,
                "POST",
                "/api/vote",
                &[("x-test-fail-every", "2")]
            )
            .await,
            200
        );
    }

    let (code, out, err) = viz(
        &registry,
        &["stat", "deploy", "-n", "emojivoto", "-o", "json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    let voting = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "voting")
        .unwrap();
    assert_eq!(voting["kind"], "deployment");
    assert_eq!(voting["meshed"], "1/1");
    // Inbound at voting every try counts: 150 + 50 votes + 49 retried failures = 249 responses,
    // of which 50 + 49 failed.
    assert_eq!(voting["requests"], 249);
    assert_eq!(voting["success"], 150.0 / 249.0);
    let web_row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web")
        .unwrap();
    assert_eq!(web_row["requests"], 0, "web serves nothing");
    assert!(web_row["success"].is_null());

    let (code, out, _) = viz(&registry, &["stat", "deploy", "-n", "emojivoto"]).await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "NAME",
            "MESHED",
            "SUCCESS",
            "RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99",
            "TCP_CONN"
        ]
    );
    let voting_line: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("voting"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(voting_line[1..3], ["1/1", "60.24%"]);
    assert!(voting_line[3].ends_with("rps"));
    let web_line: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("web"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(web_line[2..7], ["-", "-", "-", "-", "-"]);

    // Routes as the callers saw them: EFFECTIVE hides the retried failures ACTUAL shows.
    let to_voting = [
        "routes",
        "deploy/web",
        "-n",
        "emojivoto",
        "--to",
        "deploy/voting",
    ];
    let (code, out, err) = viz(&registry, &[&to_voting[..], &["-o", "json"]].concat()).await;
    assert_eq!(code, 0, "{err}");
    let routes: Value = serde_json::from_str(&out).unwrap();
    let rows = routes["deploy/web"].as_array().unwrap();
    let route = |name: &str| rows.iter().find(|r| r["route"] == name).unwrap().clone();
    assert_eq!(route("GET /api/list")["requests"], 150);
    assert_eq!(route("GET /api/list")["effective_success"], 100.0 / 150.0);
    assert_eq!(route("POST /api/vote")["effective_success"], 1.0);
    assert_eq!(
        route("POST /api/vote")["authority"],
        "voting-svc.emojivoto.svc.cluster.local:8080"
    );

    let (code, wide, _) = viz(&registry, &[&to_voting[..], &["-o", "wide"]].concat()).await;
    assert_eq!(code, 0);
    println!("{wide}");
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ROUTE",
            "SERVICE",
            "EFFECTIVE_SUCCESS",
            "EFFECTIVE_RPS",
            "ACTUAL_SUCCESS",
            "ACTUAL_RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99"
        ]
    );
    let vote: Vec<&str> = wide
        .lines()
        .find(|l| l.starts_with("POST /api/vote"))
        .unwrap()
        .split_whitespace()
        .collect();
    // POST, /api/vote, voting-svc, EFFECTIVE_SUCCESS, EFFECTIVE_RPS, ACTUAL_SUCCESS, …
    assert_eq!(vote[3], "100.00%");
    assert_eq!(vote[5], "50.51%", "50 of 99 tries succeeded");

    // The server's view: every profile route, with `-` where there was no traffic.
    let (code, out, _) = viz(&registry, &["routes", "deploy/voting", "-n", "emojivoto"]).await;
    assert_eq!(code, 0);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let routes: Vec<String> = rows[1..]
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| r[..r.len() - 6].join(" "))
        .collect();
    assert_eq!(
        routes,
        [
            "GET /api/leaderboard",
            "GET /api/list",
            "POST /api/vote",
            "[DEFAULT]"
        ],
        "{out}"
    );
    assert_eq!(
        rows[1][2..],
        ["voting-svc", "-", "-", "-", "-", "-"],
        "{out}"
    );
    println!("{out}");

    // By service: the proxies serving voting-svc, and what callers saw of it.
    let (code, out, err) = viz(
        &registry,
        &["stat", "svc/voting-svc", "-n", "emojivoto", "-o", "json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (rows[0]["kind"].as_str(), rows[0]["name"].as_str()),
        (Some("service"), Some("voting-svc"))
    );
    assert_eq!(rows[0]["requests"], 249);
    let (code, out, _) = viz(
        &registry,
        &[
            "routes",
            "deploy/web",
            "-n",
            "emojivoto",
            "--to",
            "svc/voting-svc",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 0);
    let routes: Value = serde_json::from_str(&out).unwrap();
    let vote = routes["deploy/web"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "POST /api/vote")
        .unwrap()
        .clone();
    assert_eq!(vote["effective_success"], 1.0);

    // Edges: web calls voting; both proxies saw it, one edge.
    let (code, out, _) = viz(
        &registry,
        &["edges", "deploy", "-n", "emojivoto", "-o", "json"],
    )
    .await;
    assert_eq!(code, 0);
    let edges: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(edges.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(
        (edges[0]["src"].as_str(), edges[0]["dst"].as_str()),
        (Some("web"), Some("voting"))
    );
    // Neither proxy has an identity: plaintext, as the client's proxy says why.
    assert_eq!(edges[0]["no_tls_reason"], "Local Identity Disabled");
    assert_eq!(
        (
            edges[0]["client_id"].as_str(),
            edges[0]["server_id"].as_str()
        ),
        (Some(""), Some(""))
    );
    // A named resource: its own edges, with peers of its type (it used to list none).
    for named in ["deploy/web", "deploy/voting"] {
        let (code, out, err) = viz(
            &registry,
            &["edges", named, "-n", "emojivoto", "-o", "json"],
        )
        .await;
        assert_eq!(code, 0, "{err}");
        let edges: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(edges.as_array().unwrap().len(), 1, "{named}: {out}");
        assert_eq!(
            (edges[0]["src"].as_str(), edges[0]["dst"].as_str()),
            (Some("web"), Some("voting")),
            "{named}"
        );
    }
    let (_, table, _) = viz(&registry, &["edges", "deploy", "-n", "emojivoto"]).await;
    assert_eq!(
        table,
        "SRC   DST      SRC_NS      DST_NS      SECURED                             \nweb   voting   emojivoto   emojivoto   not secured: Local Identity Disabled\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_registered_is_explained_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = viz(dir.path(), &["stat", "deploy/nope", "-n", "emojivoto"]).await;
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("no proxies registered for deploy/nope in namespace emojivoto"),
        "{err}"
    );
    let (code, _, err) = viz(dir.path(), &["stat", "cm/x"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("unknown resource type \"cm\""), "{err}");
}
