//! Printers of the Stats model: tables laid out as Linkerd's (first column left, the others right,
//! three spaces apart; `-` where there is no traffic) here, and JSON with Linkerd's field names
//! and null/omit rules in `print::json`, so habits and `jq` scripts carry over. What is computed lives
//! in [`super::model`]; here it is only formatted.

mod edges;
mod json;

use std::collections::BTreeMap;

use comfy_table::{presets, CellAlignment, ContentArrangement, Table, TableComponent};

pub use edges::edges_table;
pub use json::{
    edges_json, routes_json, stat_json, EdgeJson, RouteJson, StatJson, TcpJson, ROUTE_ADDITIONS,
    STAT_ADDITIONS,
};

use super::model::{service_of, RouteRow, StatRow, Traffic};
use super::resource::ResourceKind;

/// A table with Linkerd's layout.
pub fn table(header: &[&str], rows: Vec<Vec<String>>, left_columns: usize) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_content_arrangement(ContentArrangement::Disabled);
    t.set_style(TableComponent::VerticalLines, ' ');
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    let last = header.len().saturating_sub(1);
    for (i, c) in t.column_iter_mut().enumerate() {
        c.set_padding((u16::from(i > 0), u16::from(i < last)));
        c.set_cell_alignment(if i < left_columns {
            CellAlignment::Left
        } else {
            CellAlignment::Right
        });
    }
    let mut out: String = t.lines().map(|l| l + "\n").collect();
    if out.is_empty() {
        out.push('\n');
    }
    out
}

fn success(t: &Traffic) -> String {
    t.success_rate()
        .map_or("-".into(), |s| format!("{:.2}%", s * 100.0))
}

fn rps(t: &Traffic) -> String {
    if t.total() == 0 {
        "-".into()
    } else {
        format!("{:.1}rps", t.rps)
    }
}

fn latency(t: &Traffic, q: f64) -> String {
    t.latency_ms(q).map_or("-".into(), |ms| format!("{ms}ms"))
}

fn latencies(t: &Traffic) -> [String; 3] {
    [latency(t, 0.5), latency(t, 0.95), latency(t, 0.99)]
}

/// `mesh stat` as a table (`wide` adds byte rates).
pub fn stat_table(rows: &[StatRow], all_namespaces: bool, wide: bool) -> String {
    let mut header = vec![];
    if all_namespaces {
        header.push("NAMESPACE");
    }
    header.extend([
        "NAME",
        "MESHED",
        "SUCCESS",
        "RPS",
        "LATENCY_P50",
        "LATENCY_P95",
        "LATENCY_P99",
        "TCP_CONN",
    ]);
    if wide {
        header.extend(["READ_BYTES/SEC", "WRITE_BYTES/SEC"]);
    }
    let body = rows
        .iter()
        .map(|r| {
            let mut cells = vec![];
            if all_namespaces {
                cells.push(r.namespace.clone());
            }
            cells.push(r.name.clone());
            cells.push(format!("{}/{}", r.meshed, r.total));
            cells.push(success(&r.http));
            cells.push(rps(&r.http));
            cells.extend(latencies(&r.http));
            cells.push(if r.meshed == 0 {
                "-".into()
            } else {
                r.tcp_open.to_string()
            });
            if wide {
                cells.push(format!("{:.1}B/s", r.read_rate));
                cells.push(format!("{:.1}B/s", r.write_rate));
            }
            cells
        })
        .collect();
    table(&header, body, if all_namespaces { 2 } else { 1 })
}

/// `mesh routes` as tables, one per resource (`wide`: effective beside actual).
pub fn routes_table(by_resource: &BTreeMap<String, Vec<RouteRow>>, wide: bool) -> String {
    let header: &[&str] = if wide {
        &[
            "ROUTE",
            "SERVICE",
            "EFFECTIVE_SUCCESS",
            "EFFECTIVE_RPS",
            "ACTUAL_SUCCESS",
            "ACTUAL_RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99",
        ]
    } else {
        &[
            "ROUTE",
            "SERVICE",
            "SUCCESS",
            "RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99",
        ]
    };
    let mut out = String::new();
    let many = by_resource.len() > 1;
    for (resource, rows) in by_resource {
        if many {
            out.push_str(&format!("==> {resource} <==\n"));
        }
        let body = rows
            .iter()
            .map(|r| {
                let mut cells = vec![
                    r.route.clone(),
                    service_of(&r.authority),
                    success(&r.effective),
                    rps(&r.effective),
                ];
                if wide {
                    cells.extend([success(&r.actual), rps(&r.actual)]);
                }
                cells.extend(latencies(&r.effective));
                cells
            })
            .collect();
        out.push_str(&table(header, body, 1));
        out.push('\n');
    }
    out
}

/// The plural word for a kind, for messages ("no deployments").
pub fn kind_plural(kind: ResourceKind) -> String {
    format!("{}s", kind.word())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_laid_out_as_linkerds() {
        let t = table(
            &["NAME", "MESHED", "SUCCESS"],
            vec![vec!["emoji".into(), "1/2".into(), "100.00%".into()]],
            1,
        );
        assert_eq!(t, "NAME    MESHED   SUCCESS\nemoji      1/2   100.00%\n");
    }

    /// The reference tables' layout, rebuilt cell by cell (skipped without ../shared).
    #[test]
    fn layouts_match_the_reference_goldens() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/viz");
        let Ok(golden) = std::fs::read_to_string(dir.join("stat_all_output.golden")) else {
            eprintln!(
                "skipped: {} is absent (it sits beside CI's clone only)",
                dir.display()
            );
            return;
        };
        let row = |ns: &str| {
            [
                ns, "emoji", "1/2", "100.00%", "2.0rps", "123ms", "123ms", "123ms", "123",
            ]
            .map(String::from)
            .to_vec()
        };
        let header = [
            "NAMESPACE",
            "NAME",
            "MESHED",
            "SUCCESS",
            "RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99",
            "TCP_CONN",
        ];
        assert_eq!(
            table(&header, vec![row("emojivoto1"), row("emojivoto2")], 2),
            golden
        );
        let golden = std::fs::read_to_string(dir.join("routes_one_output.golden")).unwrap();
        let header = [
            "ROUTE",
            "SERVICE",
            "SUCCESS",
            "RPS",
            "LATENCY_P50",
            "LATENCY_P95",
            "LATENCY_P99",
        ];
        let r = |route: &str, rps: &str| {
            [route, "foobar", "100.00%", rps, "123ms", "123ms", "123ms"]
                .map(String::from)
                .to_vec()
        };
        let none = ["/c", "foobar", "-", "-", "-", "-", "-"]
            .map(String::from)
            .to_vec();
        let body = vec![
            r("/a", "1.5rps"),
            r("/b", "1.0rps"),
            none,
            r("[DEFAULT]", "0.5rps"),
        ];
        assert_eq!(table(&header, body, 1) + "\n", golden);

        // -o wide: the same columns, and a route without traffic all `-`.
        let golden = std::fs::read_to_string(dir.join("routes_one_output_wide.golden")).unwrap();
        let idle = RouteRow {
            route: "/c".into(),
            authority: "foobar.ns.svc.cluster.local:8080".into(),
            effective: Traffic::default(),
            actual: Traffic::default(),
        };
        let ours = routes_table(
            &BTreeMap::from([("deploy/foobar".into(), vec![idle])]),
            true,
        );
        let words = |line: Option<&str>| -> Vec<String> {
            line.unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        assert_eq!(words(ours.lines().next()), words(golden.lines().next()));
        assert_eq!(
            words(ours.lines().nth(1)),
            words(golden.lines().find(|l| l.starts_with("/c")))
        );
    }

    #[test]
    fn numbers_are_formatted_as_linkerds() {
        let t = Traffic {
            success: 3,
            failure: 1,
            rps: 2.05,
            latency: Default::default(),
        };
        assert_eq!(
            (success(&t), rps(&t)),
            ("75.00%".to_string(), "2.0rps".to_string())
        );
        assert_eq!(
            (success(&Traffic::default()), rps(&Traffic::default())),
            ("-".to_string(), "-".to_string())
        );
    }

    #[test]
    fn services_are_the_first_label_of_the_authority() {
        assert_eq!(
            service_of("voting-svc.emojivoto.svc.cluster.local:8080"),
            "voting-svc"
        );
        assert_eq!(service_of("127.0.0.1:8080"), "127.0.0.1:8080");
    }
}
