use super::*;
use crate::viz::model::EdgeTls;

/// Linkerd's DNS-style identity of `sa` in `ns`, under its control plane `linkerd`.
fn id(sa_ns: &str) -> Option<String> {
    Some(format!(
        "{sa_ns}.serviceaccount.identity.linkerd.cluster.local"
    ))
}

fn edge(src: (&str, &str), dst: (&str, &str), tls: EdgeTls) -> Edge {
    Edge {
        src: src.0.into(),
        src_namespace: src.1.into(),
        dst: dst.0.into(),
        dst_namespace: dst.1.into(),
        tls,
    }
}

fn secured(client: &str, server: &str) -> EdgeTls {
    EdgeTls {
        client_id: id(client),
        server_id: id(server),
        no_tls_reason: None,
    }
}

fn plaintext(reason: &str) -> EdgeTls {
    EdgeTls {
        no_tls_reason: Some(reason.into()),
        ..EdgeTls::default()
    }
}

/// The edges of Linkerd's `edges_*_output*.golden`, in their order.
pub(crate) fn linkerds_edges() -> Vec<Edge> {
    let emojivoto = |name| (name, "emojivoto");
    vec![
        edge(
            emojivoto("vote-bot"),
            emojivoto("web"),
            secured("default.emojivoto", "web.emojivoto"),
        ),
        edge(
            emojivoto("web"),
            emojivoto("emoji"),
            secured("web.emojivoto", "emoji.emojivoto"),
        ),
        edge(
            emojivoto("web"),
            emojivoto("voting"),
            secured("web.emojivoto", "voting.emojivoto"),
        ),
        edge(
            ("linkerd-identity", "linkerd"),
            ("linkerd-prometheus", "linkerd"),
            secured("linkerd-identity.linkerd", "linkerd-prometheus.linkerd"),
        ),
    ]
}

#[test]
fn reasons_are_worded_as_linkerds_metrics_api() {
    // Linkerd's `formatMsg`, and the reasons its proxy labels today.
    for (label, words) in [
        (
            "not_provided_by_service_discovery",
            "Not Provided By Service Discovery",
        ),
        ("not_provided_by_remote", "Not Provided By Remote"),
        (
            "no_authority_in_http_request",
            "No Authority In HTTP Request",
        ),
        ("not_http", "Not HTTP"),
        ("loopback", "Loopback"),
        ("disabled", "Disabled"),
        ("no_tls_from_remote", "No TLS From Remote"),
        ("local_identity_disabled", "Local Identity Disabled"),
    ] {
        assert_eq!(reason_words(label), words);
    }
}

#[test]
fn identities_are_shortened_to_service_account_and_namespace() {
    assert_eq!(
        short_id("web.emojivoto.serviceaccount.identity.mesh.cluster.local"),
        "web.emojivoto"
    );
    // Linkerd's CLI would index out of range here; ours prints the name as it is.
    assert_eq!(short_id("web"), "web");
}

#[test]
fn secured_shows_a_tick_else_the_reason_else_unknown() {
    let row = |tls: EdgeTls| secured_cell(&edge(("web", "ns"), ("voting", "ns"), tls));
    assert_eq!(row(secured("web.ns", "voting.ns")), "√");
    // One end's identity is enough: Prometheus may have scraped only one of them.
    let one_end = EdgeTls {
        server_id: id("voting.ns"),
        ..EdgeTls::default()
    };
    assert_eq!(row(one_end), "√");
    assert_eq!(
        row(plaintext("no_tls_from_remote")),
        "not secured: No TLS From Remote"
    );
    // Some traffic mutual TLS and some not: not secured, the identities still shown in wide.
    let mixed = EdgeTls {
        no_tls_reason: Some("not_provided_by_service_discovery".into()),
        ..secured("web.ns", "voting.ns")
    };
    assert_eq!(
        row(mixed.clone()),
        "not secured: Not Provided By Service Discovery"
    );
    let wide = edges_table(&[edge(("web", "ns"), ("voting", "ns"), mixed)], true);
    let cells: Vec<&str> = wide.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(cells[4..6], ["web.ns", "voting.ns"], "{wide}");
    assert_eq!(row(EdgeTls::default()), "unknown");
}

#[test]
fn tables_without_identities_have_dashes_in_wide() {
    let e = edge(
        ("web", "emojivoto"),
        ("voting", "emojivoto"),
        plaintext("local_identity_disabled"),
    );
    assert_eq!(
        edges_table(std::slice::from_ref(&e), false),
        "SRC   DST      SRC_NS      DST_NS      SECURED                             \n\
         web   voting   emojivoto   emojivoto   not secured: Local Identity Disabled\n"
    );
    assert_eq!(
        edges_table(&[e], true),
        "SRC   DST      SRC_NS      DST_NS      CLIENT_ID   SERVER_ID   SECURED                             \n\
         web   voting   emojivoto   emojivoto   -           -           not secured: Local Identity Disabled\n"
    );
}

/// Linkerd's goldens (`viz/cmd/testdata`), when they sit beside the clone.
fn golden(name: &str) -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/viz");
    let text = std::fs::read_to_string(dir.join(name));
    if text.is_err() {
        eprintln!(
            "skipped: {} is absent (it sits beside CI's clone only)",
            dir.join(name).display()
        );
    }
    text.ok()
}

#[test]
fn tables_match_linkerds_goldens() {
    let (Some(table), Some(wide)) = (
        golden("edges_one_output.golden"),
        golden("edges_wide_output.golden"),
    ) else {
        return;
    };
    assert_eq!(edges_table(&linkerds_edges(), false), table);
    assert_eq!(edges_table(&linkerds_edges(), true), wide);
}
