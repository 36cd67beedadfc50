//! Large header and trailer blocks (gRPC metadata, tokens, cookies) through two hops, HTTP/1
//! and HTTP/2, in both directions: up to the documented head limit (64 KiB) they pass; a larger
//! one fails its own stream with an explanation and leaves other streams on the connection alone.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use mesh::proxy::body::{boxed, ProxyBody};
use mesh::testsvc::SyntheticBody;
use tokio::net::TcpStream;

use crate::net::{bind, config, TestProxy};

/// Far above anything tested: the app and the client are not what is under test.
const PEER_LIMIT: usize = 1 << 20;

/// An app (HTTP/1 and HTTP/2) that answers with a header `x-big` of `x-resp-header-bytes` bytes
/// and, when asked, trailers with `x-big-trailer` of `x-resp-trailer-bytes` bytes and
/// `grpc-status: 0`; `x-got` says how many bytes of request header `x-big` arrived. With
/// `x-delay-ms` it answers that much later.
async fn big_heads_app() -> SocketAddr {
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                server.http1().max_buf_size(PEER_LIMIT);
                server
                    .http2()
                    .max_header_list_size(PEER_LIMIT as u32)
                    .timer(TokioTimer::new());
                let _ = server
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
    addr
}

fn number(req: &Request<()>, name: &str) -> usize {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

async fn answer(req: Request<Incoming>) -> Result<Response<ProxyBody>, Infallible> {
    // The request body is read first: a server that answers without reading it resets the
    // stream (NO_ERROR) after answering, which races with the proxy's own reset of a refused head.
    let (head, body) = req.into_parts();
    let _ = body.collect().await;
    let req = Request::from_parts(head, ());
    let delay = number(&req, "x-delay-ms");
    tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    let got = req.headers().get("x-big").map_or(0, |v| v.len());
    let mut body = SyntheticBody::new("ok");
    let trailer = number(&req, "x-resp-trailer-bytes");
    if trailer > 0 {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", HeaderValue::from_static("0"));
        t.insert("x-big-trailer", filler(trailer));
        body = body.with_trailers(t);
    }
    let grpc = req.headers().get("content-type").cloned();
    let mut resp = Response::new(boxed(body));
    resp.headers_mut().insert("x-got", got.into());
    if let Some(content_type) = grpc {
        resp.headers_mut().insert("content-type", content_type);
    }
    let header = number(&req, "x-resp-header-bytes");
    if header > 0 {
        resp.headers_mut().insert("x-big", filler(header));
    }
    Ok(resp)
}

fn filler(len: usize) -> HeaderValue {
    HeaderValue::from_str(&"m".repeat(len)).unwrap()
}

/// What a client saw.
#[derive(Debug)]
struct Seen {
    status: u16,
    headers: HeaderMap,
    trailers: Option<HeaderMap>,
}

/// Sends `headers` to `voting-svc:8080` through `proxy` over `h2` (else HTTP/1.1), with a
/// client that takes heads up to 1 MiB.
async fn call(proxy: SocketAddr, h2: bool, headers: &[(&str, String)]) -> Result<Seen, String> {
    let mut req = Request::post("http://voting-svc:8080/big").header("te", "trailers");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req.body(Full::new(Bytes::from_static(b"hi"))).unwrap();
    let io = TokioIo::new(TcpStream::connect(proxy).await.unwrap());
    let resp = if h2 {
        let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .max_header_list_size(PEER_LIMIT as u32)
            .handshake(io)
            .await
            .unwrap();
        tokio::spawn(conn);
        send.send_request(req).await
    } else {
        let (mut send, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(PEER_LIMIT)
            .handshake(io)
            .await
            .unwrap();
        tokio::spawn(conn);
        send.send_request(req).await
    };
    let resp = resp.map_err(|e| format!("response: {e:?}"))?;
    let (head, body) = resp.into_parts();
    let collected = body.collect().await.map_err(|e| format!("body: {e:?}"))?;
    Ok(Seen {
        status: head.status.as_u16(),
        headers: head.headers,
        trailers: collected.trailers().cloned(),
    })
}

/// `web` calling `voting` in front of the app: the outbound's address.
async fn two_hops(dir: &std::path::Path, app: SocketAddr) -> (TestProxy, TestProxy) {
    let registry = dir.join("registry");
    let voting = config(&registry, "voting", &["voting-svc:8080"], Some(app));
    let voting = TestProxy::start(voting).await;
    (
        voting,
        TestProxy::start(config(&registry, "web", &[], None)).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_trailer_blocks_up_to_the_head_limit_pass_both_ways_on_both_protocols() {
    let app = big_heads_app().await;
    let dir = tempfile::tempdir().unwrap();
    let (_voting, web) = two_hops(dir.path(), app).await;
    for h2 in [false, true] {
        for size in [20_000, 60_000] {
            let what = format!(
                "{size} bytes over {}",
                if h2 { "HTTP/2" } else { "HTTP/1.1" }
            );
            // Request headers.
            let seen = call(web.outbound, h2, &[("x-big", "q".repeat(size))]).await;
            let seen = seen.unwrap_or_else(|e| panic!("request header, {what}: {e}"));
            assert_eq!(seen.status, 200, "request header, {what}: {seen:?}");
            assert_eq!(seen.headers["x-got"], size.to_string().as_str(), "{what}");
            // Response headers.
            let asked = [("x-resp-header-bytes", size.to_string())];
            let seen = call(web.outbound, h2, &asked).await;
            let seen = seen.unwrap_or_else(|e| panic!("response header, {what}: {e}"));
            assert_eq!(seen.status, 200, "response header, {what}: {seen:?}");
            assert_eq!(seen.headers["x-big"].len(), size, "{what}");
            // Response trailers (HTTP/2; HTTP/1.1 trailers are another part's).
            if h2 {
                let asked = [("x-resp-trailer-bytes", size.to_string())];
                let seen = call(web.outbound, h2, &asked).await;
                let seen = seen.unwrap_or_else(|e| panic!("trailer, {what}: {e}"));
                let trailers = seen.trailers.unwrap_or_else(|| panic!("trailers, {what}"));
                assert_eq!(trailers["x-big-trailer"].len(), size, "{what}");
                assert_eq!(trailers["grpc-status"], "0", "{what}");
            }
        }
    }
}

/// A call through `outbound` over HTTP/2 while a slow call (300 ms) is in flight on the same
/// upstream connections: what each got.
async fn beside_a_slow_call(
    outbound: SocketAddr,
    headers: &[(&str, String)],
) -> (Result<Seen, String>, Result<Seen, String>) {
    let slow =
        tokio::spawn(
            async move { call(outbound, true, &[("x-delay-ms", "300".to_string())]).await },
        );
    // The slow call's stream is open upstream before the other one goes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = call(outbound, true, headers).await;
    (seen, slow.await.unwrap())
}

fn explanation(headers: &HeaderMap) -> &str {
    headers
        .get("mesh-proxy-error")
        .map_or("", |v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_over_the_head_limit_fails_its_own_stream_with_an_explanation() {
    let app = big_heads_app().await;
    let dir = tempfile::tempdir().unwrap();
    let (_voting, web) = two_hops(dir.path(), app).await;

    // A response head over the limit: 502 explained; the call beside it is answered.
    let asked = [("x-resp-header-bytes", "100000".to_string())];
    let (seen, slow) = beside_a_slow_call(web.outbound, &asked).await;
    let seen = seen.unwrap();
    assert_eq!(seen.status, 502);
    let why = explanation(&seen.headers);
    assert!(
        why.contains(
            "sent a response head of 100092 bytes, over this proxy's limit of 65536 bytes"
        ),
        "{why}"
    );
    assert_eq!(slow.unwrap().status, 200);

    // Over twice the limit the HTTP/2 library resets the stream itself: still explained, still
    // alone.
    let asked = [("x-resp-header-bytes", "200000".to_string())];
    let (seen, slow) = beside_a_slow_call(web.outbound, &asked).await;
    let seen = seen.unwrap();
    assert_eq!(seen.status, 502);
    let why = explanation(&seen.headers);
    assert!(why.contains("a head over 131072 bytes"), "{why}");
    assert_eq!(slow.unwrap().status, 200);

    // Trailers over the limit come after the response started: replaced by the explanation.
    let asked = [("x-resp-trailer-bytes", "100000".to_string())];
    let (seen, slow) = beside_a_slow_call(web.outbound, &asked).await;
    let seen = seen.unwrap();
    assert_eq!(seen.status, 200);
    let trailers = seen.trailers.expect("trailers");
    assert!(!trailers.contains_key("x-big-trailer"));
    let why = explanation(&trailers);
    assert!(
        why.contains("sent trailers of 100033 bytes, over this proxy's limit of 65536 bytes"),
        "{why}"
    );
    assert_eq!(slow.unwrap().status, 200);

    // A gRPC caller gets it as the call's status.
    let asked = [
        ("x-resp-trailer-bytes", "100000".to_string()),
        ("content-type", "application/grpc".to_string()),
    ];
    let seen = call(web.outbound, true, &asked).await.unwrap();
    let trailers = seen.trailers.expect("trailers");
    assert_ne!(trailers["grpc-status"], "0");
    let message = trailers["grpc-message"].to_str().unwrap();
    assert!(message.contains("sent trailers of"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_past_what_the_http2_library_takes_fails_its_connection_cleanly() {
    let app = big_heads_app().await;
    let dir = tempfile::tempdir().unwrap();
    let (_voting, web) = two_hops(dir.path(), app).await;
    // 300,000 bytes of one letter are about 225 KB of HPACK: more frames than the library
    // takes for one block, so it closes the connection and every stream on it.
    let asked = [("x-resp-header-bytes", "300000".to_string())];
    let (seen, slow) = beside_a_slow_call(web.outbound, &asked).await;
    for (what, seen) in [("the large block", seen), ("the call beside it", slow)] {
        let seen = seen.unwrap();
        assert_eq!(seen.status, 502, "{what}");
        let why = explanation(&seen.headers);
        assert!(
            why.contains("so this proxy closed the connection"),
            "{what}: {why}"
        );
    }
    // Requests after it go on a new connection.
    assert_eq!(call(web.outbound, true, &[]).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_over_the_limit_are_counted_where_they_are_replaced() {
    let app = big_heads_app().await;
    let dir = tempfile::tempdir().unwrap();
    let (voting, web) = two_hops(dir.path(), app).await;
    let asked = [
        ("x-resp-trailer-bytes", "100000".to_string()),
        ("content-type", "application/grpc".to_string()),
    ];
    let seen = call(web.outbound, true, &asked).await.unwrap();
    let message = explanation(seen.trailers.as_ref().expect("trailers")).to_string();
    assert!(message.contains("sent trailers of"), "{message}");
    // The inbound, first to see them, replaced them: counted there as a protocol error, as the
    // rescue point counts every answer the proxy makes; the outbound passed its explanation on.
    let protocol = [("error", "protocol error")];
    let inbound = voting.metrics().await;
    let counted = crate::net::metric(&inbound, "inbound_http_errors_total", &protocol);
    assert_eq!(counted, 1, "{inbound}");
    let outbound = web.metrics().await;
    let counted = crate::net::metric(&outbound, "outbound_http_errors_total", &protocol);
    assert_eq!(counted, 0, "{outbound}");
}
