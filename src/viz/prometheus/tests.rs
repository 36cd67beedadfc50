//! The Prometheus source against a stand-in server on loopback that answers each query with
//! canned samples, as Prometheus' `/api/v1/query` does.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::*;
use crate::viz::model::{edges, Query, Secured};
use crate::viz::resource::parse_one;

const WEB_ID: &str = "web.emojivoto.serviceaccount.identity.mesh.cluster.local";

/// voting's own labels, and those of its caller web, as voting's proxy exports them inbound.
fn labels(extra: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("namespace", "emojivoto"),
        ("deployment", "voting"),
        ("pod", "voting-0"),
        ("direction", "inbound"),
        ("src_namespace", "emojivoto"),
        ("src_deployment", "web"),
        ("src_pod", "web-0"),
    ]
    .iter()
    .chain(extra)
    {
        m.insert(k.to_string(), Value::from(*v));
    }
    Value::Object(m)
}

fn sample(metric: Value, value: f64) -> Value {
    json!({"metric": metric, "value": [1000.0, value.to_string()]})
}

/// The samples a query asks for: voting served web 3 requests over mutual TLS and 2 in
/// plaintext, on the same route; its TCP series carry `tls="no_identity"` alone.
fn answer(query: &str) -> Vec<Value> {
    let route = |extra: &[(&str, &str)]| {
        let mut l = vec![
            ("dst", "voting-svc.emojivoto.svc.cluster.local:8080"),
            ("rt_route", "GET /api/list"),
            ("classification", "success"),
            ("status_code", "200"),
        ];
        l.extend_from_slice(extra);
        labels(&l)
    };
    let mtls = [("tls", "true"), ("client_id", WEB_ID)];
    let plain = [
        ("tls", "no_identity"),
        ("no_tls_reason", "no_tls_from_remote"),
    ];
    if query.starts_with("query=process_start_time_seconds") {
        let own = json!({"namespace": "emojivoto", "deployment": "voting", "pod": "voting-0"});
        vec![sample(own, 900.0)]
    } else if query.contains("route_response_total") || query.contains("route_request_total") {
        vec![sample(route(&mtls), 3.0), sample(route(&plain), 2.0)]
    } else if query.contains("tcp_open_total") {
        vec![sample(
            labels(&[("peer", "src"), ("tls", "no_identity")]),
            2.0,
        )]
    } else {
        Vec::new()
    }
}

/// A stand-in Prometheus on 127.0.0.1, its base URL.
async fn prometheus() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                // Metric names need no decoding: `_` is sent as it is.
                let query = req.uri().query().unwrap_or_default().to_string();
                let body = json!({"status": "success",
                                  "data": {"resultType": "vector", "result": answer(&query)}});
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(
                    body.to_string(),
                ))))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn series_are_split_by_how_their_peer_was_authenticated() {
    let url = prometheus().await;
    let proxies = fetch(&url, Duration::from_secs(60)).await.unwrap();
    assert_eq!(proxies.len(), 1, "{proxies:?}");
    let report = proxies[0].stats.as_ref().unwrap();
    let tls: Vec<_> = report
        .http
        .iter()
        .map(|h| {
            (
                h.peer_tls_id.as_deref(),
                h.no_tls_reason.as_deref(),
                h.responses.success,
                h.requests,
            )
        })
        .collect();
    assert_eq!(
        tls,
        [
            (None, Some("no_tls_from_remote"), 2, 2),
            (Some(WEB_ID), None, 3, 3)
        ]
    );
    // TCP's `tls="no_identity"` without a reason says nothing either way.
    let tcp: Vec<_> = report
        .tcp
        .iter()
        .map(|t| {
            (
                t.peer_tls_id.as_deref(),
                t.no_tls_reason.as_deref(),
                t.opened,
            )
        })
        .collect();
    assert_eq!(tcp, [(None, None, 2)]);

    // One edge, not secured (some of its traffic was plaintext), web's identity proven.
    let query = Query {
        resources: vec![parse_one("deploy").unwrap()],
        namespace: Some("emojivoto".into()),
        from: None,
        to: None,
    };
    let found = edges(&query, &proxies);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].tls.client_id.as_deref(), Some(WEB_ID));
    assert_eq!(found[0].tls.secured(), Secured::No("no_tls_from_remote"));
}

#[test]
fn tls_labels_are_read_by_direction() {
    let with = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let secured = with(&[("tls", "true"), ("client_id", "a"), ("server_id", "b")]);
    assert_eq!(
        labels::tls_of(&secured, Direction::Inbound),
        (Some("a".into()), None)
    );
    assert_eq!(
        labels::tls_of(&secured, Direction::Outbound),
        (Some("b".into()), None)
    );
    let plain = with(&[("tls", "no_identity"), ("no_tls_reason", "x")]);
    assert_eq!(
        labels::tls_of(&plain, Direction::Outbound),
        (None, Some("x".into()))
    );
    assert_eq!(
        labels::tls_of(&with(&[("tls", "no_identity")]), Direction::Inbound),
        (None, None)
    );
    assert_eq!(labels::tls_of(&with(&[]), Direction::Inbound), (None, None));
}
