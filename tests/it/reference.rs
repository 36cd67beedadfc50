//! Checks against /work/shared/reference (skipped, saying so, when it is absent): real-world
//! OpenAPI documents (Linkerd's demos and tests, several incomplete) all generate, and the viz JSON
//! has the shape of Linkerd's goldens.

use std::collections::BTreeSet;

use mesh::viz::print;
use serde_json::Value;

use crate::harness::{run, shared_reference};
use crate::net::{voting_and_web, VotingAndWeb};
use crate::viz_routes::{get, mesh_out};

#[test]
fn real_world_openapi_documents_generate_valid_profiles() {
    let Some(dir) = shared_reference("openapi") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let out_dir = tempfile::tempdir().unwrap();
    for file in &files {
        let r = run(&[
            "profile",
            "--open-api",
            file.to_str().unwrap(),
            "svc",
            "-n",
            "ns",
        ]);
        assert_eq!(r.code, 0, "{}: {}", file.display(), r.stderr);
        assert!(
            r.stdout.contains("  routes:\n"),
            "{} has routes",
            file.display()
        );
        let out = out_dir.path().join(file.file_name().unwrap());
        std::fs::write(&out, &r.stdout).unwrap();
        let check = run(&["profile", "check", out.to_str().unwrap()]);
        assert_eq!(check.code, 0, "{}: {}", file.display(), check.stderr);
    }
}

#[test]
fn linkerds_emojivoto_document_gives_linkerds_profile() {
    let Some(dir) = shared_reference("openapi") else {
        return;
    };
    let file = dir.join("emojivoto-web.swagger");
    let r = run(&[
        "profile",
        "--open-api",
        file.to_str().unwrap(),
        "web-svc",
        "-n",
        "emojivoto",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: web-svc.emojivoto.svc.cluster.local\n  \
         namespace: emojivoto\nspec:\n  routes:\n  - condition:\n      method: GET\n      pathRegex: /api/list\n    \
         name: GET /api/list\n  - condition:\n      method: GET\n      pathRegex: /api/vote\n    name: GET /api/vote\n"
    );
}

/// Linkerd's integer fields (`uint64` in `viz/cmd/stat.go` and `routes.go`).
const INTEGERS: &[&str] = &[
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p99",
    "tcp_open_connections",
];

/// Each field of Linkerd's `row` is in `ours` with the same JSON type (Linkerd's integers are
/// integers), and `ours` has nothing more than `additions`.
fn assert_shape(linkerds: &Value, ours: &Value, additions: &[&str]) {
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let mut mine = keys(ours);
    mine.retain(|k| !additions.contains(&k.as_str()));
    assert_eq!(keys(linkerds), mine, "ours: {ours}");
    for (field, theirs) in linkerds.as_object().unwrap() {
        let value = &ours[field];
        let same = match theirs {
            Value::Number(_) if INTEGERS.contains(&field.as_str()) => value.is_u64(),
            Value::Number(_) => value.is_number(),
            Value::String(_) => value.is_string(),
            Value::Null => value.is_null(),
            other => panic!("{field}: unexpected {other} in the reference"),
        };
        assert!(same, "{field}: ours {value}, Linkerd's {theirs}");
    }
}

fn golden(dir: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

/// `mesh stat -o json` and `mesh routes -o json` (with and without `--to`) from real proxies have
/// the shape of Linkerd's goldens, field by field: its fields, its JSON types (whole-millisecond
/// latencies), and only the additions docs/viz.md lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viz_json_from_real_proxies_has_linkerds_shape() {
    let Some(dir) = shared_reference("viz") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        web,
        voting: _voting,
        app: _app,
    } = voting_and_web(work.path()).await;
    for _ in 0..5 {
        get(web.outbound, "/api/list").await;
    }
    let json = |args: &'static [&'static str]| {
        let registry = registry.clone();
        async move {
            let args = [args, &["-n", "emojivoto", "-o", "json"]].concat();
            serde_json::from_str::<Value>(&mesh_out(&registry, &args).await).unwrap()
        }
    };

    let stat = json(&["stat", "deploy"]).await;
    let row = |name: &str| {
        stat.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    // stat.go writes `meshed`; its goldens predate it.
    let mut linkerds = golden(&dir, "stat_one_output_json.golden")[0].clone();
    linkerds["meshed"] = "1/1".into();
    assert_shape(&linkerds, &row("voting"), print::STAT_ADDITIONS);
    // web served nothing: Linkerd's row without traffic, null numbers and no TCP fields.
    let idle = linkerds.as_object_mut().unwrap();
    for field in [
        "tcp_open_connections",
        "tcp_read_bytes_rate",
        "tcp_write_bytes_rate",
    ] {
        idle.remove(field);
    }
    for field in [
        "success",
        "rps",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_p99",
    ] {
        idle.insert(field.into(), Value::Null);
    }
    assert_shape(
        &Value::Object(idle.clone()),
        &row("web"),
        print::STAT_ADDITIONS,
    );

    let linkerds = golden(&dir, "routes_one_output_json.golden");
    let routes = json(&["routes", "deploy/voting"]).await;
    for ours in routes["deploy/voting"].as_array().unwrap() {
        // Linkerd's `/c` has no traffic, `/a` has; every row has the same fields.
        assert_shape(&linkerds["deploy/foobar"][0], ours, print::ROUTE_ADDITIONS);
    }
    // With --to, routes.go swaps success and rps for the wide table's EFFECTIVE_* and ACTUAL_*.
    let wide = std::fs::read_to_string(dir.join("routes_one_output_wide.golden")).unwrap();
    let mut with_to = linkerds["deploy/foobar"][0].clone();
    let fields = with_to.as_object_mut().unwrap();
    fields.remove("success");
    fields.remove("rps");
    for column in wide.lines().next().unwrap().split_whitespace() {
        if column.starts_with("EFFECTIVE_") || column.starts_with("ACTUAL_") {
            fields.insert(column.to_lowercase(), Value::from(1.5));
        }
    }
    let routes = json(&["routes", "deploy/web", "--to", "deploy/voting"]).await;
    let rows = routes["deploy/web"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        4,
        "three profile routes and [DEFAULT]: {routes}"
    );
    for ours in rows {
        assert_shape(&with_to, ours, print::ROUTE_ADDITIONS);
    }
}
