//! HTTP/1 framing and header rules through client → outbound proxy → inbound proxy → app, on raw
//! sockets (RFC 9112 §6 framing, RFC 9110 §7.6.1 hop-by-hop fields, §6.2 versions per hop).

use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::StreamBody;
use mesh::testsvc::{self, EchoedRequest};

use crate::net::{config, http_upstream, metric, TestProxy};
use crate::raw_http::{exchange, send, RawApp};

/// `deploy/voting` serving `voting-svc:8080` in front of `app`, and `deploy/web` calling it.
pub struct TwoHops {
    pub inbound: TestProxy,
    pub outbound: TestProxy,
    _dir: tempfile::TempDir,
}

impl TwoHops {
    pub async fn start(app: SocketAddr) -> TwoHops {
        let dir = tempfile::tempdir().unwrap();
        let registry = dir.path().join("registry");
        let inbound =
            TestProxy::start(config(&registry, "voting", &["voting-svc:8080"], Some(app))).await;
        let outbound = TestProxy::start(config(&registry, "web", &[], None)).await;
        TwoHops {
            inbound,
            outbound,
            _dir: dir,
        }
    }

    /// Where a client enters for each path: both hops, and the inbound hop alone.
    pub fn entries(&self) -> [(&'static str, SocketAddr); 2] {
        [
            ("two hops", self.outbound.outbound),
            ("inbound", self.inbound.inbound.unwrap()),
        ]
    }
}

const HOST: &str = "voting-svc:8080";

/// A chunked request with `extra` header lines (each ending in CRLF) and `chunks`, no trailers.
fn chunked(method: &str, extra: &str, chunks: &[&str]) -> Vec<u8> {
    let mut out = format!(
        "{method} /echo HTTP/1.1\r\nHost: {HOST}\r\n{extra}Transfer-Encoding: chunked\r\n\r\n"
    );
    for c in chunks {
        out.push_str(&format!("{:x}\r\n{c}\r\n", c.len()));
    }
    out.push_str("0\r\n\r\n");
    out.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_keep_their_framing_for_every_method() {
    for method in ["GET", "DELETE", "OPTIONS", "POST", "PUT", "PATCH"] {
        for framing in ["chunked", "length"] {
            let app = RawApp::ok().await;
            let hops = TwoHops::start(app.addr).await;
            for (path, entry) in hops.entries() {
                let bytes = match framing {
                    "chunked" => chunked(method, "", &["hello", " world"]),
                    _ => format!(
                        "{method} /echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 11\r\n\r\nhello world"
                    )
                    .into_bytes(),
                };
                let resp = send(entry, &bytes).await;
                assert_eq!(
                    resp.status(),
                    200,
                    "{method} {framing} via {path}: {resp:?}"
                );
            }
            let seen = app.requests();
            assert_eq!(seen.len(), 2);
            for (req, (path, _)) in seen.iter().zip(hops.entries()) {
                let what = format!("{method} {framing} via {path}: {req:?}");
                assert!(req.start.starts_with(method), "{what}");
                assert_eq!(req.body, b"hello world", "{what}");
                match framing {
                    "chunked" => {
                        assert_eq!(req.all("transfer-encoding"), ["chunked"], "{what}");
                        assert!(req.header("content-length").is_none(), "{what}");
                    }
                    _ => {
                        assert_eq!(req.header("content-length"), Some("11"), "{what}");
                        assert!(req.header("transfer-encoding").is_none(), "{what}");
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_get_with_a_body_reaches_the_app_with_it() {
    let app = http_upstream().await;
    let hops = TwoHops::start(app.addr).await;
    for (path, entry) in hops.entries() {
        // No content-length: the body's length is unknown until its DATA frames end.
        let frames = futures_util::stream::iter(
            [Bytes::from_static(b"hello"), Bytes::from_static(b" world")]
                .map(|b| Ok::<_, std::convert::Infallible>(http_body::Frame::data(b))),
        );
        let req = Request::get(format!("http://{HOST}/"))
            .body(StreamBody::new(frames))
            .unwrap();
        let reply = testsvc::http2_request(entry, req).await.unwrap();
        assert_eq!(reply.head.status, 200, "via {path}: {reply:?}");
        let echoed = EchoedRequest::from_json(&reply.body).unwrap();
        assert_eq!(
            (echoed.method.as_str(), echoed.body_bytes),
            ("GET", 11),
            "via {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_codings_are_forwarded_as_sent() {
    let app = RawApp::ok().await;
    let hops = TwoHops::start(app.addr).await;
    // The body is still gzip-coded inside the chunks: only the app can undo that.
    let bytes = b"POST /up HTTP/1.1\r\nHost: voting-svc:8080\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\n\x1f\x8b\x08\r\n0\r\n\r\n";
    let resp = send(hops.outbound.outbound, bytes).await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    let req = app.only_request().await;
    assert_eq!(req.all("transfer-encoding"), ["gzip, chunked"], "{req:?}");
    assert_eq!(req.body, b"\x1f\x8b\x08");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_pass_both_ways_over_http1() {
    // The app answers chunked with a declared trailer, which HTTP/1 sends only to a client that
    // said `TE: trailers`.
    let app = RawApp::start(|_| {
        b"HTTP/1.1 200 OK\r\nTrailer: x-resp-sum\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-resp-sum: 7\r\n\r\n"
            .to_vec()
    })
    .await;
    let hops = TwoHops::start(app.addr).await;
    let bytes = b"POST /up HTTP/1.1\r\nHost: voting-svc:8080\r\nTE: trailers\r\nTrailer: x-sum\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 42\r\n\r\n";
    let resp = send(hops.outbound.outbound, bytes).await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    assert_eq!(resp.body, b"ok");
    assert_eq!(resp.trailer("x-resp-sum"), Some("7"), "{resp:?}");
    let req = app.only_request().await;
    assert_eq!(req.body, b"hello");
    assert_eq!(req.trailer("x-sum"), Some("42"), "{req:?}");
    assert_eq!(
        req.header("trailer"),
        Some("x-sum"),
        "Trailer is end-to-end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_pass_both_ways_over_http2() {
    let app = http_upstream().await;
    let hops = TwoHops::start(app.addr).await;
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-sum", "42".parse().unwrap());
    let frames = futures_util::stream::iter([
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from_static(b"hello"))),
        Ok(http_body::Frame::trailers(trailers)),
    ]);
    let req = Request::post(format!("http://{HOST}/echo"))
        .body(StreamBody::new(frames))
        .unwrap();
    let reply = testsvc::http2_request(hops.outbound.outbound, req)
        .await
        .unwrap();
    assert_eq!(reply.head.status, 200, "{reply:?}");
    assert_eq!(reply.body, "hello");
    let echoed = reply.trailers.expect("the echoed trailers");
    assert_eq!(echoed["x-sum"], "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hop_speaks_its_own_http_version() {
    // An HTTP/1.0 app: no keep-alive, close-delimited answers.
    let app = RawApp::start(|_| b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()).await;
    let hops = TwoHops::start(app.addr).await;
    for (path, entry) in hops.entries() {
        // Two requests on one connection: an HTTP/1.1 client keeps it alive.
        let two = format!(
            "GET /a HTTP/1.1\r\nHost: {HOST}\r\n\r\nGET /b HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
        );
        let resps = exchange(entry, two.as_bytes(), "GET", 2).await;
        assert_eq!(
            resps.len(),
            2,
            "via {path}: the connection stayed open: {resps:?}"
        );
        for r in resps {
            assert_eq!(r.start, "HTTP/1.1 200 OK", "via {path}");
            assert_eq!(r.body, b"ok");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_framing_and_hop_by_hop_fields_are_the_proxys_own() {
    // Content-Length beside Transfer-Encoding (RFC 9112 §6.3: chunked wins, the length must go),
    // and hop-by-hop fields, including one the Connection header names.
    let app = RawApp::start(|_| {
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\nConnection: x-private, keep-alive\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\r\n2\r\nok\r\n0\r\n\r\n"
            .to_vec()
    })
    .await;
    let hops = TwoHops::start(app.addr).await;
    for (path, entry) in hops.entries() {
        let resp = send(
            entry,
            format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(resp.status(), 200, "via {path}: {resp:?}");
        assert_eq!(resp.body, b"ok", "via {path}");
        assert!(
            resp.header("content-length").is_none(),
            "via {path}: {resp:?}"
        );
        for gone in ["x-private", "keep-alive", "proxy-connection"] {
            assert!(
                resp.header(gone).is_none(),
                "via {path}: {gone} in {resp:?}"
            );
        }
        assert_eq!(resp.header("x-kept"), Some("yes"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_host_fields_and_userinfo_are_refused_with_400() {
    let app = RawApp::ok().await;
    let hops = TwoHops::start(app.addr).await;
    let cases = [
        (
            "two Host fields",
            "GET / HTTP/1.1\r\nHost: voting-svc:8080\r\nHost: other:80\r\n\r\n",
        ),
        ("no Host in HTTP/1.1", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n"),
        (
            "an invalid Host",
            "GET / HTTP/1.1\r\nHost: voting svc:8080\r\n\r\n",
        ),
        (
            "a Host with userinfo",
            "GET / HTTP/1.1\r\nHost: user@voting-svc:8080\r\n\r\n",
        ),
        (
            "userinfo in the URI",
            "GET http://user:pw@voting-svc:8080/ HTTP/1.1\r\nHost: voting-svc:8080\r\n\r\n",
        ),
    ];
    for (what, bytes) in cases {
        for (path, entry) in hops.entries() {
            let resp = send(entry, bytes.as_bytes()).await;
            assert_eq!(resp.status(), 400, "{what} via {path}: {resp:?}");
            let why = resp.header("mesh-proxy-error").unwrap_or_default();
            assert!(
                why.contains("Host") || why.contains("userinfo"),
                "{what}: {why:?}"
            );
        }
    }
    assert!(app.requests().is_empty(), "{:?}", app.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunk_is_the_clients_fault() {
    let app = RawApp::ok().await;
    let hops = TwoHops::start(app.addr).await;
    for (path, entry) in hops.entries() {
        let bytes = format!(
            "POST /up HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nbad\r\n0\r\n\r\n"
        );
        let resp = send(entry, bytes.as_bytes()).await;
        assert_eq!(resp.status(), 400, "via {path}: {resp:?}");
        let why = resp.header("mesh-proxy-error").unwrap_or_default();
        assert!(why.contains("request body"), "via {path}: {why:?}");
    }
    // Not the app's failure: no 5xx counted on either proxy.
    for proxy in [&hops.outbound, &hops.inbound] {
        let m = proxy.metrics().await;
        assert_eq!(
            metric(&m, "response_total", &[("classification", "failure")]),
            0,
            "{m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_lets_the_app_decide() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    // An app that refuses every upload from its head alone, and counts body bytes that arrive.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = listener.local_addr().unwrap();
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let got = got_tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut r = BufReader::new(read);
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 2 {
                    line.clear();
                }
                write
                    .write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let mut rest = Vec::new();
                let _ = tokio::time::timeout(crate::net::PATIENCE, r.read_to_end(&mut rest)).await;
                let _ = got.send(rest.len());
            });
        }
    });
    let hops = TwoHops::start(app_addr).await;
    for (path, entry) in hops.entries() {
        let stream = tokio::net::TcpStream::connect(entry).await.unwrap();
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("PUT /big HTTP/1.1\r\nHost: {HOST}\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n").as_bytes())
            .await
            .unwrap();
        // A client waits for 100 Continue (or a final answer) before sending the body.
        let mut r = BufReader::new(read);
        let resp = tokio::time::timeout(
            crate::net::PATIENCE,
            crate::raw_http::read_message(&mut r, Some("PUT")),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
        assert_eq!(
            resp.status(),
            413,
            "via {path}: the app's answer, not the proxy's 100: {resp:?}"
        );
        drop(write);
        assert_eq!(
            got_rx.recv().await,
            Some(0),
            "via {path}: no body bytes reached the app"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_100_continue_goes_on_when_the_app_says_so() {
    let app = http_upstream().await;
    let hops = TwoHops::start(app.addr).await;
    for (path, entry) in hops.entries() {
        let req = Request::put(format!("http://{HOST}/echo"))
            .header("expect", "100-continue")
            .body(http_body_util::Full::new(Bytes::from(vec![b'x'; 100_000])))
            .unwrap();
        let reply = testsvc::http1_request(entry, req).await.unwrap();
        assert_eq!(reply.head.status, 200, "via {path}: {reply:?}");
        assert_eq!(reply.body.len(), 100_000, "via {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uri_over_the_head_limit_is_explained() {
    let app = RawApp::ok().await;
    let hops = TwoHops::start(app.addr).await;
    for (path, entry) in hops.entries() {
        let long = "a".repeat(70 * 1024);
        let resp = send(
            entry,
            format!("GET /{long} HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(matches!(resp.status(), 414 | 431), "via {path}: {resp:?}");
        let why = resp.header("mesh-proxy-error").unwrap_or_default();
        assert!(why.contains("limit"), "via {path}: {resp:?}");
    }
    assert!(app.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_caller_of_an_http1_only_app_is_told_so() {
    let app = RawApp::ok().await;
    let hops = TwoHops::start(app.addr).await;
    let req = Request::get(format!("http://{HOST}/"))
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let reply = testsvc::http2_request(hops.outbound.outbound, req)
        .await
        .unwrap();
    assert_eq!(reply.head.status, 502, "{reply:?}");
    let why = reply.head.headers["mesh-proxy-error"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(why.contains("does not speak HTTP/2"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_switch_nobody_asked_for_is_not_passed_on() {
    let app = RawApp::start(|_| {
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: raw-tcp\r\n\r\n"
            .to_vec()
    })
    .await;
    let hops = TwoHops::start(app.addr).await;
    for (path, entry) in hops.entries() {
        let resp = send(
            entry,
            format!("GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(resp.status(), 502, "via {path}: {resp:?}");
        let why = resp.header("mesh-proxy-error").unwrap_or_default();
        assert!(why.contains("101 Switching Protocols"), "via {path}: {why}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_upgrade_is_not_passed_to_the_app() {
    let app = RawApp::ok().await;
    let hops = TwoHops::start(app.addr).await;
    let bytes = format!(
        "GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
    );
    let resp = send(hops.outbound.outbound, bytes.as_bytes()).await;
    assert_eq!(resp.status(), 200, "{resp:?}");
    let req = app.only_request().await;
    for gone in ["upgrade", "http2-settings", "connection"] {
        assert!(
            req.header(gone).is_none(),
            "{gone} reached the app: {req:?}"
        );
    }
}
