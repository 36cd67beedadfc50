//! The keep-alive race on upstream HTTP/1 connections: a server closes a kept-alive connection
//! just as the proxy sends the next request on it. Made deterministic by an app that answers the
//! first request of each connection and closes the connection, unanswered, when its second
//! request arrives — as an app whose keep-alive timeout ends at that moment would.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::{bind, config, metric, TestProxy, VOTING_PROFILE};

/// What the closing app saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    answered: AtomicUsize,
    /// Requests that arrived second on a connection, which the app closed without answering.
    dropped: AtomicUsize,
}

/// An app that answers one request per connection and closes at the next.
async fn closing_app() -> (SocketAddr, Arc<Seen>) {
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_once(conn, s.clone()));
        }
    });
    (addr, seen)
}

async fn serve_once(mut conn: TcpStream, seen: Arc<Seen>) {
    let mut buf = Vec::new();
    for nth in 1.. {
        let Some(body_len) = read_head(&mut conn, &mut buf).await else {
            return;
        };
        if nth == 2 {
            // The keep-alive timeout "ends" as the request arrives: close, unanswered.
            seen.dropped.fetch_add(1, Ordering::SeqCst);
            return;
        }
        while buf.len() < body_len {
            let mut chunk = [0u8; 16384];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..body_len);
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        if conn.write_all(reply).await.is_err() {
            return;
        }
        seen.answered.fetch_add(1, Ordering::SeqCst);
    }
}

/// Reads one request head from `conn` (leaving what follows in `buf`); its content length.
async fn read_head(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            buf.drain(..end + 4);
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            return Some(len);
        }
        let mut chunk = [0u8; 16384];
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn call(proxy: SocketAddr, method: &str, body: Vec<u8>) -> testsvc::HttpReply {
    let req = Request::builder()
        .method(method)
        .uri("http://voting-svc:8080/api/list")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    testsvc::http1_request(proxy, req).await.unwrap()
}

/// A caller's outbound proxy sending `voting-svc:8080` straight to `endpoint`, with the
/// ServiceProfiles in `profiles` if given.
async fn outbound_to(dir: &Path, endpoint: SocketAddr, profiles: Option<&Path>) -> TestProxy {
    let file = dir.join("endpoints.yaml");
    std::fs::write(
        &file,
        format!("voting-svc.emojivoto:8080:\n  - address: {endpoint}\n"),
    )
    .unwrap();
    let mut cfg = config(&dir.join("registry"), "web", &[], None);
    cfg.endpoints_file = Some(file);
    cfg.registry_dir = None;
    cfg.profiles_dir = profiles.map(Path::to_path_buf);
    TestProxy::start(cfg).await
}

/// Sends `n` GETs through `proxy`; each after the first finds its pooled connection closed.
async fn gets_all_answered(proxy: SocketAddr, seen: &Seen, n: usize) {
    for i in 0..n {
        let reply = call(proxy, "GET", vec![]).await;
        assert_eq!(reply.head.status, 200, "request {i}: {:?}", reply.head);
    }
    assert_eq!(seen.answered.load(Ordering::SeqCst), n);
    let dropped = seen.dropped.load(Ordering::SeqCst);
    assert_eq!(dropped, n - 1, "every request after the first met the race");
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        n,
        "each request the app dropped came again on a new connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_on_a_connection_the_app_closed_is_sent_again_on_a_fresh_one() {
    // Outbound to an endpoint (no profile).
    let dir = tempfile::tempdir().unwrap();
    let (app, seen) = closing_app().await;
    let web = outbound_to(dir.path(), app, None).await;
    gets_all_answered(web.outbound, &seen, 10).await;

    // The same with a ServiceProfile whose route for the call is not retryable.
    let dir = tempfile::tempdir().unwrap();
    let (app, seen) = closing_app().await;
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("voting.yaml"), VOTING_PROFILE).unwrap();
    let web = outbound_to(dir.path(), app, Some(&profiles)).await;
    gets_all_answered(web.outbound, &seen, 10).await;
    let text = web.metrics().await;
    let route = [("rt_route", "GET /api/list"), ("status_code", "200")];
    assert_eq!(metric(&text, "route_response_total", &route), 10);

    // Two hops: outbound, inbound, and the app behind the inbound.
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let (app, seen) = closing_app().await;
    let voting = config(&registry, "voting", &["voting-svc:8080"], Some(app));
    let _voting = TestProxy::start(voting).await;
    let web = TestProxy::start(config(&registry, "web", &[], None)).await;
    gets_all_answered(web.outbound, &seen, 10).await;

    // A small POST is held, so it is sent again too.
    let before = seen.answered.load(Ordering::SeqCst);
    for _ in 0..3 {
        let reply = call(web.outbound, "POST", vec![b'v'; 1000]).await;
        assert_eq!(reply.head.status, 200);
    }
    assert_eq!(seen.answered.load(Ordering::SeqCst), before + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_too_large_to_send_again_fails_saying_why_and_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let (app, seen) = closing_app().await;
    let web = outbound_to(dir.path(), app, None).await;
    assert_eq!(call(web.outbound, "GET", vec![]).await.head.status, 200);
    // Over the 64 KiB kept for replay: it streams once, so it cannot be sent again.
    let reply = call(web.outbound, "POST", vec![b'v'; 100 * 1024]).await;
    assert_eq!(reply.head.status, 502, "{:?}", reply.head);
    let why = reply.head.headers["mesh-proxy-error"].to_str().unwrap();
    for part in [
        "closed a kept-alive connection",
        "not sent again because its body is over the 64 KiB",
        "--upstream-idle-timeout (1.5s)",
    ] {
        assert!(why.contains(part), "{part:?} in {why}");
    }
    assert_eq!(seen.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1, "not sent again");
}
