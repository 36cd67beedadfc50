//! A request its caller cancels — before any response (a gRPC cancel or deadline, an HTTP/1
//! client that hangs up) or while the response streams — is one outcome in each proxy's metrics
//! (`classification="failure"`, `error="cancel"`, `status_code="0"` when no response had started)
//! and one end event in its tap (`reset`, `error: cancel`), on both sides of the mesh.

use std::collections::HashMap;

use mesh::admin_api::stats::StatsReport;
use mesh::admin_api::tap::{TapEventKind, TapLine, TapQuery};
use mesh::viz::tap::TapStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::grpc_mesh::{call, client_json, grpc_server, Mesh};
use crate::net::{admin_get, eventually, metric, voting_and_web, TestProxy, PATIENCE};

/// How one tapped request went, from its events.
#[derive(Debug, Default, Clone, PartialEq)]
struct Tapped {
    status: Option<u16>,
    ended: bool,
    reset: bool,
    error: Option<String>,
}

async fn tap(proxy: &TestProxy) -> TapStream {
    let query = TapQuery::parse(Some("max_rps=1000")).unwrap();
    TapStream::open(proxy.admin, &query).await.unwrap()
}

/// Reads `stream` until `requests` requests have ended; their stories by request id.
async fn tapped(stream: &mut TapStream, requests: usize) -> HashMap<u64, Tapped> {
    let mut seen: HashMap<u64, Tapped> = HashMap::new();
    while seen.values().filter(|t| t.ended).count() < requests {
        let line = tokio::time::timeout(PATIENCE, stream.next_line())
            .await
            .expect("tap events in time")
            .expect("a readable tap stream")
            .expect("the tap stream stays open");
        let TapLine::Event(event) = line else {
            panic!("tap events lost: {line:?}")
        };
        let t = seen.entry(event.id().base).or_default();
        match event.kind {
            TapEventKind::RequestInitEvent(_) => {}
            TapEventKind::ResponseInitEvent(r) => t.status = Some(r.http_status),
            TapEventKind::ResponseEndEvent(e) => {
                assert!(!t.ended, "one end per request: {e:?}");
                // As `/tap` streams it.
                let json = serde_json::to_value(&e).unwrap();
                t.ended = true;
                t.reset = json["reset"] == true;
                t.error = json["error"].as_str().map(String::from);
            }
        }
    }
    seen
}

/// Waits until `proxy` counted `n` responses with `labels` in `direction`.
async fn counted(proxy: &TestProxy, direction: &str, labels: &[(&str, &str)], n: u64) {
    let mut with: Vec<(&str, &str)> = vec![("direction", direction)];
    with.extend_from_slice(labels);
    eventually(&format!("{n} responses {with:?}"), || async {
        metric(&proxy.metrics().await, "response_total", &with) == n
    })
    .await;
}

/// The failures `/stats` (what `mesh stat` reads) counts over the last minute.
async fn stats_failures(proxy: &TestProxy) -> u64 {
    let (status, body) = admin_get(proxy.admin, "/stats?window=1m").await;
    assert_eq!(status, 200, "{body}");
    let report: StatsReport = serde_json::from_str(&body).unwrap();
    report.http.iter().map(|h| h.responses.failure).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_cancelled_before_a_response_are_counted_and_tapped_on_both_proxies() {
    let Some(app) = grpc_server(&[]).await else {
        return;
    };
    let mesh = Mesh::start(app.addr, None).await;
    let mut taps = [tap(&mesh.web).await, tap(&mesh.voting).await];
    let held = app.addr.to_string();
    let seen = client_json(
        mesh.via(),
        &["cancel", "--count", "40", "--held", held.as_str()],
    )
    .await;
    assert_eq!(seen["codes"], serde_json::json!({"CANCELLED": 40}));

    for (proxy, direction) in [(&mesh.web, "outbound"), (&mesh.voting, "inbound")] {
        let cancel = [("error", "cancel")];
        counted(proxy, direction, &cancel, 40).await;
        let text = proxy.metrics().await;
        let dir = [("direction", direction)];
        assert_eq!(metric(&text, "request_total", &dir), 40, "{text}");
        assert_eq!(metric(&text, "response_total", &dir), 40, "{text}");
        let labels = [
            ("direction", direction),
            ("classification", "failure"),
            ("status_code", "0"),
            ("error", "cancel"),
        ];
        assert_eq!(metric(&text, "response_total", &labels), 40, "{text}");
        assert_eq!(metric(&text, "route_response_total", &labels), 40);
        assert_eq!(stats_failures(proxy).await, 40, "{direction}");
    }
    for stream in &mut taps {
        let requests = tapped(stream, 40).await;
        let cancelled = Tapped {
            status: None,
            ended: true,
            reset: true,
            error: Some("cancel".into()),
        };
        assert_eq!(requests.len(), 40);
        assert!(requests.values().all(|t| *t == cancelled), "{requests:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_past_their_deadline_are_one_failure_each_on_both_proxies() {
    let Some(app) = grpc_server(&[]).await else {
        return;
    };
    let mesh = Mesh::start(app.addr, None).await;
    let held = app.addr.to_string();
    // Long enough for every call to reach the app first (the client checks it did).
    let args = [
        "cancel",
        "--count",
        "5",
        "--timeout",
        "3",
        "--held",
        held.as_str(),
    ];
    let seen = client_json(mesh.via(), &args).await;
    assert_eq!(seen["codes"], serde_json::json!({"DEADLINE_EXCEEDED": 5}));
    for (proxy, direction) in [(&mesh.web, "outbound"), (&mesh.voting, "inbound")] {
        // The client's cancel and the app's own deadline race: either ends the call, once.
        counted(proxy, direction, &[("classification", "failure")], 5).await;
        let text = proxy.metrics().await;
        let dir = [("direction", direction)];
        assert_eq!(metric(&text, "request_total", &dir), 5, "{text}");
        assert_eq!(metric(&text, "response_total", &dir), 5, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_stream_cancelled_mid_response_is_a_cancel_not_a_clean_end() {
    let Some(app) = grpc_server(&[]).await else {
        return;
    };
    let mesh = Mesh::start(app.addr, None).await;
    let mut taps = [tap(&mesh.web).await, tap(&mesh.voting).await];
    let seen = call(mesh.via(), &["stream", "--cancel"]).await;
    assert_eq!((seen.code.as_str(), seen.messages), ("CANCELLED", 1));
    for (proxy, direction) in [(&mesh.web, "outbound"), (&mesh.voting, "inbound")] {
        let labels = [("status_code", "200"), ("error", "cancel")];
        counted(proxy, direction, &labels, 1).await;
        let text = proxy.metrics().await;
        let dir = [("direction", direction)];
        assert_eq!(metric(&text, "response_total", &dir), 1, "{text}");
        let failed = [("direction", direction), ("classification", "failure")];
        assert_eq!(metric(&text, "response_total", &failed), 1, "{text}");
    }
    for stream in &mut taps {
        let requests = tapped(stream, 1).await;
        let t = requests.values().next().unwrap();
        assert_eq!(
            (t.status, t.reset, t.error.as_deref()),
            (Some(200), true, Some("cancel"))
        );
    }
}

/// Sends `head` to `addr` over a fresh connection and keeps the connection.
async fn send_head(addr: std::net::SocketAddr, head: &str) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_clients_that_hang_up_are_counted_as_cancels_on_both_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let mesh = voting_and_web(dir.path()).await;
    let mut taps = [tap(&mesh.web).await, tap(&mesh.voting).await];
    let outbound = mesh.web.outbound;

    // Hangs up while the app holds the request: no response yet.
    let conn = send_head(
        outbound,
        "GET http://voting-svc:8080/api/list HTTP/1.1\r\nhost: voting-svc:8080\r\n\
         x-test-delay-ms: 30000\r\n\r\n",
    )
    .await;
    eventually("the app has the request", || async {
        mesh.app.requests.get() == 1
    })
    .await;
    drop(conn);
    for (proxy, direction) in [(&mesh.web, "outbound"), (&mesh.voting, "inbound")] {
        let labels = [("status_code", "0"), ("error", "cancel")];
        counted(proxy, direction, &labels, 1).await;
    }

    // Hangs up while a large body streams: the response had started.
    let mut conn = send_head(
        outbound,
        "GET http://voting-svc:8080/api/list HTTP/1.1\r\nhost: voting-svc:8080\r\n\
         x-test-body-bytes: 100000000\r\n\r\n",
    )
    .await;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, conn.read(&mut buf))
            .await
            .expect("the response starts")
            .unwrap();
        assert!(n > 0, "the connection stays open");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"));
    drop(conn);
    for (proxy, direction) in [(&mesh.web, "outbound"), (&mesh.voting, "inbound")] {
        let labels = [("status_code", "200"), ("error", "cancel")];
        counted(proxy, direction, &labels, 1).await;
        let text = proxy.metrics().await;
        let dir = [("direction", direction)];
        assert_eq!(metric(&text, "request_total", &dir), 2, "{text}");
        assert_eq!(metric(&text, "response_total", &dir), 2, "{text}");
    }
    for stream in &mut taps {
        let mut ends: Vec<_> = tapped(stream, 2).await.into_values().collect();
        ends.sort_by_key(|t| t.status);
        let cancel = Some("cancel".to_string());
        assert_eq!(
            ends,
            [
                Tapped {
                    status: None,
                    ended: true,
                    reset: true,
                    error: cancel.clone()
                },
                Tapped {
                    status: Some(200),
                    ended: true,
                    reset: true,
                    error: cancel
                },
            ]
        );
    }
}
