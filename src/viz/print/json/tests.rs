use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::*;
use crate::admin_api::stats::LatencyHistogram;
use crate::viz::model::EdgeTls;
use crate::viz::resource::ResourceKind;

/// Linkerd's integer fields (`uint64` in its Go types): the rest of its numbers are `float64`.
const INTEGERS: &[&str] = &[
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p99",
    "tcp_open_connections",
];

/// 10 responses in (0,1] ms and 10 in (1,2] ms: p50 = 1 ms, p95 = 1.9 ms, p99 = 1.98 ms.
fn traffic() -> Traffic {
    let mut counts = vec![0; 26];
    counts[0] = 10;
    counts[1] = 10;
    Traffic {
        success: 15,
        failure: 5,
        rps: 2.0,
        latency: LatencyHistogram {
            counts,
            sum_ms: 25.0,
        },
    }
}

fn stat_row(http: Traffic, tcp_open: u64) -> StatRow {
    StatRow {
        namespace: "emojivoto".into(),
        kind: ResourceKind::Namespace,
        name: "emojivoto".into(),
        meshed: 1,
        total: 2,
        http,
        tcp_open,
        read_rate: 0.0,
        write_rate: 0.0,
    }
}

fn route_row(route: &str, effective: Traffic, actual: Traffic) -> BTreeMap<String, Vec<RouteRow>> {
    BTreeMap::from([(
        "deploy/web".to_string(),
        vec![RouteRow {
            route: route.into(),
            authority: "voting-svc.emojivoto.svc.cluster.local:8080".into(),
            effective,
            actual,
        }],
    )])
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn without(mut keys: BTreeSet<String>, additions: &[&str]) -> BTreeSet<String> {
    keys.retain(|k| !additions.contains(&k.as_str()));
    keys
}

/// Each field of Linkerd's row is in ours with the same JSON type (Linkerd's integers are
/// integers in ours), and ours has no field beyond Linkerd's and `additions`.
fn assert_shape(linkerds: &Value, ours: &Value, additions: &[&str]) {
    assert_eq!(keys(linkerds), without(keys(ours), additions), "{ours}");
    for (field, theirs) in linkerds.as_object().unwrap() {
        let mine = &ours[field];
        let same = match theirs {
            Value::Number(_) if INTEGERS.contains(&field.as_str()) => mine.is_u64(),
            Value::Number(_) => mine.is_number(),
            Value::String(_) => mine.is_string(),
            Value::Null => mine.is_null(),
            other => panic!("{field}: unexpected {other} in the reference"),
        };
        assert!(same, "{field}: ours {mine}, Linkerd's {theirs}");
    }
}

#[test]
fn stat_latencies_are_whole_milliseconds_rounded_as_linkerds_api() {
    let ours = parse(&stat_json(&[stat_row(traffic(), 3)]));
    let row = &ours[0];
    assert_eq!(
        (
            &row["latency_ms_p50"],
            &row["latency_ms_p95"],
            &row["latency_ms_p99"]
        ),
        (&Value::from(1u64), &Value::from(2u64), &Value::from(2u64))
    );
    assert_eq!(row["success"], 0.75);
    assert_eq!(row["rps"], 2.0);
    assert_eq!(row["tcp_open_connections"], 3);
    assert_eq!(row["meshed"], "1/2");
    assert_eq!(row["requests"], 20);
}

#[test]
fn stat_rows_without_traffic_are_null_and_leave_tcp_out_as_linkerds() {
    let ours = parse(&stat_json(&[stat_row(Traffic::default(), 0)]));
    let row = &ours[0];
    let expected = [
        "namespace",
        "kind",
        "name",
        "meshed",
        "success",
        "rps",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_p99",
    ];
    assert_eq!(
        without(keys(row), STAT_ADDITIONS),
        expected.iter().map(|k| k.to_string()).collect()
    );
    for field in &expected[4..] {
        assert!(row[field].is_null(), "{field}: {row}");
    }
    // TCP traffic without HTTP still shows its numbers (Linkerd drops them).
    let opaque = parse(&stat_json(&[stat_row(Traffic::default(), 2)]));
    assert_eq!(opaque[0]["tcp_open_connections"], 2);
    assert!(opaque[0]["success"].is_null());
}

#[test]
fn routes_with_to_carry_effective_and_actual_numbers_as_linkerds() {
    let mut actual = traffic();
    actual.failure += 10;
    actual.rps = 3.0;
    let ours = parse(&routes_json(
        &route_row("GET /api/list", traffic(), actual),
        true,
    ));
    let row = &ours["deploy/web"][0];
    assert_eq!(row["effective_success"], 0.75);
    assert_eq!(row["effective_rps"], 2.0);
    assert_eq!(row["actual_success"], 0.5);
    assert_eq!(row["actual_rps"], 3.0);
    assert_eq!(row["actual_requests"], 30);
    assert!(
        row.get("success").is_none() && row.get("rps").is_none(),
        "{row}"
    );
    assert_eq!(row["latency_ms_p95"], 2);

    let plain = parse(&routes_json(
        &route_row("GET /api/list", traffic(), traffic()),
        false,
    ));
    let row = &plain["deploy/web"][0];
    assert_eq!(
        (&row["success"], &row["rps"]),
        (&Value::from(0.75), &Value::from(2.0))
    );
    for field in ["effective_success", "actual_rps", "actual_requests"] {
        assert!(row.get(field).is_none(), "{field}: {row}");
    }
}

#[test]
fn routes_without_traffic_print_zeros_as_linkerds() {
    for to in [false, true] {
        let ours = parse(&routes_json(
            &route_row("GET /idle", Traffic::default(), Traffic::default()),
            to,
        ));
        let row = ours["deploy/web"][0].as_object().unwrap().clone();
        for (field, value) in &row {
            if !["route", "authority"].contains(&field.as_str()) {
                assert_eq!(value.as_f64(), Some(0.0), "{field} (--to: {to})");
            }
        }
    }
}

/// The reference goldens (Linkerd's own `viz/cmd/testdata`), when they sit beside the clone.
fn golden(name: &str) -> Option<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/viz");
    let text = std::fs::read_to_string(dir.join(name));
    if text.is_err() {
        eprintln!(
            "skipped: {} is absent (it sits beside CI's clone only)",
            dir.join(name).display()
        );
    }
    Some(parse(&text.ok()?))
}

#[test]
fn stat_json_has_linkerds_shape() {
    for name in ["stat_one_output_json.golden", "stat_all_output_json.golden"] {
        let Some(mut reference) = golden(name) else {
            return;
        };
        // stat.go writes `meshed` (omitempty, never empty but for traffic splits); the goldens
        // predate it.
        reference[0]["meshed"] = "1/2".into();
        let ours = parse(&stat_json(&[stat_row(traffic(), 3)]));
        assert_shape(&reference[0], &ours[0], STAT_ADDITIONS);
    }
}

#[test]
fn routes_json_has_linkerds_shape_with_and_without_to() {
    let (Some(reference), Some(wide)) = (
        golden("routes_one_output_json.golden"),
        read_golden("routes_one_output_wide.golden"),
    ) else {
        return;
    };
    let rows = &reference["deploy/foobar"];
    let ours = parse(&routes_json(&route_row("/a", traffic(), traffic()), false));
    assert_shape(&rows[0], &ours["deploy/web"][0], ROUTE_ADDITIONS);
    // `/c` has no traffic: numbers all the same, 0 for success and rps.
    let idle = parse(&routes_json(
        &route_row("/c", Traffic::default(), Traffic::default()),
        false,
    ));
    assert_shape(&rows[2], &idle["deploy/web"][0], ROUTE_ADDITIONS);
    assert_eq!(
        (&rows[2]["success"], &rows[2]["rps"]),
        (&Value::from(0), &Value::from(0))
    );

    // With --to, routes.go swaps success and rps for the wide table's columns, lower-cased.
    let mut with_to = rows[0].clone();
    let fields = with_to.as_object_mut().unwrap();
    fields.remove("success");
    fields.remove("rps");
    let header = wide.lines().next().unwrap_or_default();
    for column in header
        .split_whitespace()
        .filter(|c| c.starts_with("EFFECTIVE_") || c.starts_with("ACTUAL_"))
    {
        fields.insert(column.to_lowercase(), Value::from(1.5));
    }
    assert_eq!(fields.len(), 9, "{header}");
    let ours = parse(&routes_json(&route_row("/a", traffic(), traffic()), true));
    assert_shape(&with_to, &ours["deploy/web"][0], ROUTE_ADDITIONS);
}

#[test]
fn edges_json_is_linkerds() {
    let Some(reference) = golden("edges_one_output_json.golden") else {
        return;
    };
    let edges = crate::viz::print::edges::tests::linkerds_edges();
    let ours = parse(&edges_json(&edges));
    assert_shape(&reference[0], &ours[0], &[]);
    assert_eq!(ours, reference);
}

#[test]
fn edges_json_says_why_an_edge_is_not_secured() {
    let edge = |tls: EdgeTls| Edge {
        src: "web".into(),
        src_namespace: "emojivoto".into(),
        dst: "voting".into(),
        dst_namespace: "emojivoto".into(),
        tls,
    };
    let plaintext = edge(EdgeTls {
        no_tls_reason: Some("no_tls_from_remote".into()),
        ..EdgeTls::default()
    });
    let mixed = edge(EdgeTls {
        client_id: Some("web.emojivoto.serviceaccount.identity.mesh.cluster.local".into()),
        server_id: None,
        no_tls_reason: Some("not_provided_by_service_discovery".into()),
    });
    let ours = parse(&edges_json(&[plaintext, mixed, edge(EdgeTls::default())]));
    let tls = |row: &Value| {
        (
            row["client_id"].as_str().unwrap().to_string(),
            row["server_id"].as_str().unwrap().to_string(),
            row["no_tls_reason"].as_str().unwrap().to_string(),
        )
    };
    let strings = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(tls(&ours[0]), strings("", "", "No TLS From Remote"));
    assert_eq!(
        tls(&ours[1]),
        strings("web.emojivoto", "", "Not Provided By Service Discovery")
    );
    assert_eq!(tls(&ours[2]), strings("", "", "Unknown"));
}

fn read_golden(name: &str) -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/viz");
    std::fs::read_to_string(dir.join(name)).ok()
}
