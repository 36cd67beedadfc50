//! What the proxy does with bad input and broken peers: a clear answer, never a panic.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use mesh::testsvc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::{
    bind, config, eventually, http_upstream, metric, voting_proxy, TestProxy, PATIENCE,
};

async fn get_via(proxy: std::net::SocketAddr, uri: &str) -> testsvc::HttpReply {
    let req = Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
    testsvc::http1_request(proxy, req).await.unwrap()
}

fn proxy_error(reply: &testsvc::HttpReply) -> String {
    reply
        .head
        .headers
        .get("mesh-proxy-error")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no mesh-proxy-error header: {:?}", reply.head))
}

/// Writes raw bytes and reads until the proxy closes or answers a whole head.
async fn raw(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = vec![0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, s.read(&mut out))
        .await
        .unwrap()
        .unwrap_or(0);
    String::from_utf8_lossy(&out[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_is_down_gets_502_naming_its_address() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was bound and released: nothing listens there.
    let down = bind().await.local_addr().unwrap();
    let proxy = TestProxy::start(config(
        &dir.path().join("registry"),
        "voting",
        &["voting-svc:8080"],
        Some(down),
    ))
    .await;
    let reply = get_via(proxy.inbound.unwrap(), "/").await;
    assert_eq!(reply.head.status, 502);
    let why = proxy_error(&reply);
    assert!(
        why.contains(&down.to_string()) && why.contains("refused"),
        "{why}"
    );
    let text = proxy.metrics().await;
    assert_eq!(
        metric(
            &text,
            "response_total",
            &[
                ("direction", "inbound"),
                ("classification", "failure"),
                ("status_code", "502")
            ]
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_authority_gets_503_naming_it_and_where_discovery_looked() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let proxy = TestProxy::start(config(&registry, "web", &[], None)).await;
    let reply = get_via(proxy.outbound, "http://books-svc:7000/api").await;
    assert_eq!(reply.head.status, 503);
    let why = proxy_error(&reply);
    assert!(why.contains("books-svc:7000"), "{why}");
    assert!(why.contains(&registry.display().to_string()), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431_and_malformed_requests_400() {
    let (proxy, _app, _dir) = voting_proxy().await;
    let inbound = proxy.inbound.unwrap();

    let big = format!(
        "GET / HTTP/1.1\r\nHost: voting-svc:8080\r\nx-big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = raw(inbound, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let answer = raw(inbound, b"GET / HTTP/1.1\r\nHost voting\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // A client that stops mid-request: the proxy carries on serving others.
    let mut s = TcpStream::connect(inbound).await.unwrap();
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: voting-svc:8080\r\nContent-Length: 1000\r\n\r\nonly a part",
    )
    .await
    .unwrap();
    drop(s);
    let req = Request::get("/")
        .header("host", "voting-svc:8080")
        .body(Empty::<Bytes>::new())
        .unwrap();
    assert_eq!(
        testsvc::http1_request(inbound, req)
            .await
            .unwrap()
            .head
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_treated_as_opaque_after_the_detect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let app = http_upstream().await;
    let mut cfg = config(
        &dir.path().join("registry"),
        "voting",
        &["voting-svc:8080"],
        Some(app.addr),
    );
    cfg.limits.detect_timeout = Duration::from_millis(100);
    let proxy = TestProxy::start(cfg).await;
    // A server-speaks-first protocol: after the timeout the connection is relayed as TCP, so the
    // app (an HTTP server) sees the request we then send as plain bytes and still answers it.
    let mut s = TcpStream::connect(proxy.inbound.unwrap()).await.unwrap();
    eventually("relayed to the app", || async {
        let text = proxy.metrics().await;
        metric(
            &text,
            "tcp_open_total",
            &[("direction", "inbound"), ("peer", "dst")],
        ) > 0
    })
    .await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: voting-svc:8080\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(PATIENCE, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert_eq!(metric(&proxy.metrics().await, "request_total", &[]), 0);
}
