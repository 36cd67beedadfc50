//! Opaque TCP: ports that are never parsed as HTTP, and `CONNECT` tunnels.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::{bind, config, metric, TestProxy, PATIENCE};

/// A TCP server that echoes every byte, one connection at a time per task.
pub async fn echo_server() -> SocketAddr {
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Bytes that would be taken for HTTP if they were parsed, then binary.
fn payload() -> Vec<u8> {
    let mut bytes = b"GET / HTTP/1.1\r\nHost: zk\r\n\r\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(64 * 1024));
    bytes
}

async fn round_trip(stream: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = stream.split();
    let write = async {
        w.write_all(bytes).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let mut back = Vec::new();
    let read = r.read_to_end(&mut back);
    tokio::time::timeout(PATIENCE, async { tokio::join!(write, read).1.unwrap() })
        .await
        .unwrap();
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_ports_forward_bytes_both_ways_unchanged_and_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = echo_server().await;
    let mut cfg = config(&dir.path().join("registry"), "zk", &["zk:2888"], Some(app));
    cfg.opaque_ports = vec![app.port()];
    let proxy = TestProxy::start(cfg).await;

    let bytes = payload();
    let mut client = TcpStream::connect(proxy.inbound.unwrap()).await.unwrap();
    assert_eq!(round_trip(&mut client, &bytes).await, bytes);
    drop(client);

    let text = proxy.metrics().await;
    let src = [("direction", "inbound"), ("peer", "src")];
    assert_eq!(
        metric(&text, "tcp_read_bytes_total", &src),
        bytes.len() as u64,
        "{text}"
    );
    assert_eq!(
        metric(&text, "tcp_write_bytes_total", &src),
        bytes.len() as u64
    );
    assert_eq!(metric(&text, "tcp_open_total", &src), 1);
    assert_eq!(
        metric(&text, "request_total", &[]),
        0,
        "nothing was parsed as HTTP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_tunnels_through_both_proxies_carry_bytes_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let app = echo_server().await;
    let mut zk = config(&registry, "zk", &["zk:2888"], Some(app));
    zk.opaque_ports = vec![app.port()];
    let _zk = TestProxy::start(zk).await;
    // CONNECT opens tunnels only to opaque ports (of known services): the caller's proxy says
    // which ports those are.
    let mut kafka = config(&registry, "kafka", &[], None);
    kafka.opaque_ports = vec![2888];
    let client_proxy = TestProxy::start(kafka).await;

    let mut stream = TcpStream::connect(client_proxy.outbound).await.unwrap();
    stream
        .write_all(b"CONNECT zk:2888 HTTP/1.1\r\nHost: zk:2888\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(
            stream.read(&mut b).await.unwrap(),
            1,
            "response head: {head:?}"
        );
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let bytes = payload();
    assert_eq!(round_trip(&mut stream, &bytes).await, bytes);
}

/// A TCP server that reads a little of each connection, then resets it (SO_LINGER 0).
async fn resetting_server() -> SocketAddr {
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut first = [0u8; 16];
            let _ = s.read(&mut first).await;
            let _ = socket2::SockRef::from(&s).set_linger(Some(std::time::Duration::ZERO));
            drop(s);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_upstream_resets_closes_under_its_errno() {
    let dir = tempfile::tempdir().unwrap();
    let app = resetting_server().await;
    let mut cfg = config(&dir.path().join("registry"), "zk", &["zk:2888"], Some(app));
    cfg.opaque_ports = vec![app.port()];
    let proxy = TestProxy::start(cfg).await;

    let mut client = TcpStream::connect(proxy.inbound.unwrap()).await.unwrap();
    client.write_all(&payload()).await.unwrap_or_default();
    let mut back = Vec::new();
    // The relay ends when the upstream resets; whatever the client sees of that is beside the point.
    let _ = tokio::time::timeout(PATIENCE, client.read_to_end(&mut back)).await;
    drop(client);

    let dst = [("direction", "inbound"), ("peer", "dst")];
    crate::net::eventually("the upstream connection is counted closed", || async {
        metric(&proxy.metrics().await, "tcp_close_total", &dst) == 1
    })
    .await;
    let text = proxy.metrics().await;
    let reset = metric(
        &text,
        "tcp_close_total",
        &[dst[0], dst[1], ("errno", "ECONNRESET")],
    );
    let broken = metric(
        &text,
        "tcp_close_total",
        &[dst[0], dst[1], ("errno", "EPIPE")],
    );
    assert_eq!(
        reset + broken,
        1,
        "a reset (read) or broken pipe (write):\n{text}"
    );
    assert_eq!(
        metric(&text, "tcp_close_total", &[dst[0], dst[1], ("errno", "")]),
        0,
        "{text}"
    );
}
