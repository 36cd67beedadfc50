use std::collections::BTreeMap;

use super::*;
use crate::admin_api::stats::LatencyHistogram;
use crate::viz::model::Traffic;
use crate::viz::resource::ResourceKind;

/// Every field of the reference JSON is in ours, with the same name (ours adds `meshed` and
/// `requests`). Skipped without ../shared.
#[test]
fn json_fields_match_the_reference_goldens() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/viz");
    let read = |name: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let Some(stat) = read("stat_one_output_json.golden") else {
        eprintln!(
            "skipped: {} is absent (it sits beside CI's clone only)",
            dir.display()
        );
        return;
    };
    let keys = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let traffic = Traffic {
        success: 1,
        failure: 0,
        rps: 1.0,
        latency: LatencyHistogram {
            counts: vec![1],
            sum_ms: 1.0,
        },
    };
    let row = StatRow {
        namespace: "ns".into(),
        kind: ResourceKind::Namespace,
        name: "n".into(),
        meshed: 1,
        total: 1,
        http: traffic.clone(),
        tcp_open: 0,
        read_rate: 0.0,
        write_rate: 0.0,
    };
    let ours: serde_json::Value = serde_json::from_str(&stat_json(&[row])).unwrap();
    assert!(
        keys(&stat[0]).is_subset(&keys(&ours[0])),
        "{:?} vs {:?}",
        keys(&stat[0]),
        keys(&ours[0])
    );

    let routes = read("routes_one_output_json.golden").unwrap();
    let rows = BTreeMap::from([(
        "deploy/foobar".to_string(),
        vec![RouteRow {
            route: "/a".into(),
            authority: "foobar".into(),
            effective: traffic.clone(),
            actual: traffic.clone(),
        }],
    )]);
    let ours: serde_json::Value = serde_json::from_str(&routes_json(&rows, false)).unwrap();
    assert!(keys(&routes["deploy/foobar"][0]).is_subset(&keys(&ours["deploy/foobar"][0])));

    let edges = read("edges_one_output_json.golden").unwrap();
    let edge = Edge {
        src: "a".into(),
        src_namespace: "x".into(),
        dst: "b".into(),
        dst_namespace: "x".into(),
    };
    let ours: serde_json::Value = serde_json::from_str(&edges_json(&[edge])).unwrap();
    assert_eq!(keys(&edges[0]), keys(&ours[0]));
}
