//! Protocol detection on the inbound fails closed: what starts like an HTTP request is parsed (or
//! refused with 400), never relayed to the app unparsed; only positively non-HTTP bytes, declared
//! opaque ports and silent clients are relayed as TCP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::net::{config, metric, TestProxy, PATIENCE};
use crate::process::ProxyProcess;
use crate::raw_http::{send, RawApp};

/// An inbound proxy for `voting-svc:8080` in front of `app`, with `detect_timeout`.
async fn inbound(app: SocketAddr, detect_timeout: Duration) -> (TestProxy, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        &dir.path().join("registry"),
        "voting",
        &["voting-svc:8080"],
        Some(app),
    );
    cfg.limits.detect_timeout = detect_timeout;
    (TestProxy::start(cfg).await, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_starts_like_a_request_is_parsed_never_relayed() {
    let app = RawApp::ok().await;
    let (proxy, _dir) = inbound(app.addr, PATIENCE).await;
    let entry = proxy.inbound.unwrap();
    // Each carries a forged `mesh-peer`, which the inbound removes from requests it parses.
    let parsed = [
        ("an empty line first", "\r\nPOST /x HTTP/1.1\r\nHost: voting-svc:8080\r\nmesh-peer: forged\r\nContent-Length: 0\r\n\r\n", "POST /x HTTP/1.1"),
        ("a 30-byte method", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCD /x HTTP/1.1\r\nHost: voting-svc:8080\r\nmesh-peer: forged\r\n\r\n", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCD /x HTTP/1.1"),
    ];
    for (what, bytes, start) in parsed {
        let resp = send(entry, bytes.as_bytes()).await;
        assert_eq!(resp.status(), 200, "{what}: {resp:?}");
        let seen = app.requests().pop().unwrap();
        assert_eq!(seen.start, start, "{what}");
        assert!(
            seen.header("mesh-peer").is_none(),
            "{what}: relayed unparsed: {seen:?}"
        );
    }
    let refused = [
        (
            "a tab after the method",
            "GET\t/x HTTP/1.1\r\nHost: voting-svc:8080\r\n\r\n",
        ),
        (
            "an obs-fold",
            "GET /x HTTP/1.1\r\nHost: voting-svc:8080\r\nX-A: 1\r\n 2\r\n\r\n",
        ),
        // Lenient apps (Python's http.server) would take these: they must not get them raw.
        (
            "a space before the method",
            " GET /x HTTP/1.1\r\nHost: voting-svc:8080\r\nmesh-peer: forged\r\n\r\n",
        ),
        (
            "a tab before the method",
            "\tGET /x HTTP/1.1\r\nHost: voting-svc:8080\r\nmesh-peer: forged\r\n\r\n",
        ),
    ];
    for (what, bytes) in refused {
        let resp = send(entry, bytes.as_bytes()).await;
        assert_eq!(resp.status(), 400, "{what}: {resp:?}");
        assert!(
            resp.header("mesh-proxy-error").is_some(),
            "{what}: {resp:?}"
        );
    }
    // Ambiguous framing after an empty line: one clean request (chunked wins, RFC 9112 §6.3).
    let ambiguous = "\r\nPOST /x HTTP/1.1\r\nHost: voting-svc:8080\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let resp = send(entry, ambiguous.as_bytes()).await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    let seen = app.requests().pop().unwrap();
    assert!(seen.header("content-length").is_none(), "{seen:?}");
    assert_eq!(app.requests().len(), 3, "{:?}", app.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positively_non_http_bytes_are_relayed() {
    let app = crate::proxy_tcp::echo_server().await;
    let (proxy, _dir) = inbound(app, PATIENCE).await;
    // A TLS ClientHello's first bytes: not a method token.
    let hello = b"\x16\x03\x01\x00\x05hello";
    let mut client = TcpStream::connect(proxy.inbound.unwrap()).await.unwrap();
    client.write_all(hello).await.unwrap();
    let mut back = [0u8; 10];
    tokio::time::timeout(PATIENCE, client.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, hello);
}

/// A server-speaks-first app on `addr`: a banner on every connection.
async fn banner_app(addr: &str) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(b"220 banner\r\n").await;
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink).await;
            });
        }
    });
    addr
}

async fn read_banner(entry: SocketAddr, within: Duration) -> Result<String, String> {
    let mut client = TcpStream::connect(entry).await.unwrap();
    let mut banner = [0u8; 12];
    match tokio::time::timeout(within, client.read_exact(&mut banner)).await {
        Ok(Ok(_)) => Ok(String::from_utf8_lossy(&banner).into_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no banner within {within:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_relayed_after_the_detect_timeout_counted_and_explained() {
    let app = banner_app("127.0.0.1:0").await;
    let port = app.port().to_string();
    let app_s = app.to_string();
    let args = [
        "--workload",
        "deploy/db",
        "--service",
        "db:3307",
        "--app",
        &app_s,
        "--no-registry",
        "--detect-timeout",
        "300ms",
    ];
    let proxy = ProxyProcess::start(&args).await;
    let banner = read_banner(proxy.inbound.unwrap(), PATIENCE).await;
    assert_eq!(banner.as_deref(), Ok("220 banner\r\n"));
    let m = proxy.metrics().await;
    assert_eq!(
        metric(
            &m,
            "proxy_detect_timeouts_total",
            &[("direction", "inbound")]
        ),
        1,
        "{m}"
    );
    let log = proxy.log();
    assert!(
        log.contains(&format!("Add {port} to --opaque-ports")),
        "the log names the port and the flag:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_speaks_first_protocols_on_default_opaque_ports_answer_at_once() {
    // MySQL's port on an address of our own in 127/8, so no local MySQL is in the way.
    let octet = 2 + std::process::id() % 250;
    let app = banner_app(&format!("127.83.{octet}.1:3306")).await;
    let proxy = ProxyProcess::voting(app, &["--no-registry"]).await;
    // The default --detect-timeout is 10 s; an opaque port skips detection altogether.
    let banner = read_banner(proxy.inbound.unwrap(), Duration::from_secs(3)).await;
    assert_eq!(
        banner.as_deref(),
        Ok("220 banner\r\n"),
        "log:\n{}",
        proxy.log()
    );
}
