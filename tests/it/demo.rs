//! `mesh demo` end to end: the app comes up meshed, the planted bug shows in the tables, retries
//! show as ACTUAL below EFFECTIVE, and nothing is left behind.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{mesh, terminate};
use crate::net::eventually_within;

async fn json(registry: &Path, args: &[&str]) -> Value {
    let mut cmd = mesh();
    cmd.args(args)
        .args(["-n", "emojivoto", "-o", "json", "--registry"])
        .arg(registry);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Each line's words: a table as printed, whatever its column widths.
fn words_of_lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn route<'a>(rows: &'a Value, key: &str, name: &str) -> Option<&'a Value> {
    rows[key].as_array()?.iter().find(|r| r["route"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_comes_up_meshed_and_its_planted_bug_shows() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args([
            "demo",
            "--duration",
            "120s",
            "--vote-interval",
            "20ms",
            "--registry",
        ])
        .arg(&registry)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.starts_with("demo ready"))
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(60), ready)
            .await
            .unwrap()
            .unwrap(),
        "the demo never said it was ready"
    );

    let patience = Duration::from_secs(60);
    eventually_within(
        patience,
        "every workload meshed, the services with traffic",
        || async {
            let rows = json(&registry, &["stat", "deploy"]).await;
            let Some(rows) = rows.as_array() else {
                return false;
            };
            let row = |n: &str| {
                rows.iter()
                    .find(|r| r["name"] == n)
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            ["web", "emoji", "voting", "vote-bot"]
                .iter()
                .all(|n| row(n)["meshed"] == "1/1")
                && ["web", "emoji", "voting"]
                    .iter()
                    .all(|n| row(n)["rps"].as_f64().is_some_and(|r| r > 0.0))
        },
    )
    .await;
    eventually_within(
        patience,
        "VoteDoughnut failing and other votes succeeding",
        || async {
            let rows = json(&registry, &["routes", "deploy/voting"]).await;
            // A route without traffic has success 0, as Linkerd's: `requests` tells them apart.
            let success = |name| {
                route(&rows, "deploy/voting", name)
                    .filter(|r| r["requests"] != 0)
                    .map(|r| r["success"].clone())
            };
            let (doughnut, joy) = (success("VoteDoughnut"), success("VoteJoy"));
            doughnut == Some(Value::from(0.0)) && joy == Some(Value::from(1.0))
        },
    )
    .await;
    let rows = json(&registry, &["routes", "deploy/voting"]).await;
    for r in rows["deploy/voting"].as_array().unwrap() {
        let name = r["route"].as_str().unwrap();
        if name.starts_with("Vote") && name != "VoteDoughnut" && r["requests"] != 0 {
            assert_eq!(r["success"], 1.0, "{name}");
        }
    }
    eventually_within(
        patience,
        "retries: vote-bot's ACTUAL below its EFFECTIVE for votes",
        || async {
            let mut cmd = mesh();
            cmd.args([
                "routes",
                "deploy/vote-bot",
                "-n",
                "emojivoto",
                "--to",
                "deploy/web",
                "-o",
                "wide",
                "--registry",
            ])
            .arg(&registry);
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            let wide = String::from_utf8_lossy(&out.stdout).to_string();
            let Some(vote) = wide.lines().find(|l| l.starts_with("GET /api/vote")) else {
                return false;
            };
            let cells: Vec<&str> = vote.split_whitespace().collect();
            // GET, /api/vote, web-svc, EFFECTIVE_SUCCESS, EFFECTIVE_RPS, ACTUAL_SUCCESS, …
            let pct = |s: &str| s.trim_end_matches('%').parse::<f64>().ok();
            matches!((pct(cells[3]), pct(cells[5])), (Some(e), Some(a)) if a < e)
        },
    )
    .await;
    let edges = json(&registry, &["edges", "deploy"]).await;
    let pairs: Vec<(String, String)> = edges
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["src"].as_str().unwrap().to_string(),
                e["dst"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (src, dst) in [("vote-bot", "web"), ("web", "emoji"), ("web", "voting")] {
        assert!(
            pairs.contains(&(src.to_string(), dst.to_string())),
            "{src} -> {dst} in {pairs:?}"
        );
    }
    // Mutual TLS is on by default: every edge is secured, each side proving its service account
    // (the workload's name).
    for e in edges.as_array().unwrap() {
        let short = |name: &Value| format!("{}.emojivoto", name.as_str().unwrap());
        assert_eq!(e["no_tls_reason"], "", "{e}");
        assert_eq!(e["client_id"].as_str(), Some(&*short(&e["src"])), "{e}");
        assert_eq!(e["server_id"].as_str(), Some(&*short(&e["dst"])), "{e}");
    }
    // The README's first look shows what the demo prints: its edges table, row for row.
    let mut cmd = mesh();
    cmd.args(["edges", "deploy", "-n", "emojivoto", "--registry"])
        .arg(&registry);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let printed = words_of_lines(&String::from_utf8_lossy(&out.stdout));
    let readme = std::fs::read_to_string(crate::harness::root().join("README.md")).unwrap();
    let shown = readme
        .split("$ mesh edges deploy -n emojivoto\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README shows `mesh edges deploy -n emojivoto`");
    assert_eq!(words_of_lines(shown), printed, "README.md's edges table");

    terminate(demo.id());
    let status = tokio::task::spawn_blocking(move || demo.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        std::fs::read_dir(&registry).unwrap().count(),
        0,
        "registry records removed"
    );
}
