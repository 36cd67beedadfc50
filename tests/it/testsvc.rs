//! The test upstreams answer as their request headers ask, count requests, drain on shutdown, and
//! run as `mesh test-server`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use mesh::testsvc::{
    grpc_call, http1_request, http2_request, EchoedRequest, GrpcTestService, HttpTestService,
    RequestCounter, SyntheticBody,
};
use prost::Message;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Upper bound for anything a test waits for.
const PATIENCE: Duration = Duration::from_secs(10);

/// A test server running in this process; dropping it shuts the server down.
struct Running {
    addr: SocketAddr,
    requests: RequestCounter,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn http() -> Running {
        let service = HttpTestService::default();
        let requests = service.requests();
        Self::start(requests, |listener, stop| {
            tokio::spawn(service.serve(listener, stop))
        })
        .await
    }

    async fn grpc() -> Running {
        let service = GrpcTestService::default();
        let requests = service.requests();
        Self::start(requests, |listener, stop| {
            tokio::spawn(service.serve(listener, stop))
        })
        .await
    }

    async fn start(
        requests: RequestCounter,
        spawn: impl FnOnce(TcpListener, Stopped) -> JoinHandle<std::io::Result<()>>,
    ) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = spawn(
            listener,
            Box::pin(async move {
                let _ = stopped.await;
            }),
        );
        Running {
            addr,
            requests,
            stop: Some(stop),
            task,
        }
    }

    /// Asks the server to shut down and waits until it has drained.
    async fn shutdown(mut self) -> std::io::Result<()> {
        drop(self.stop.take());
        timeout(PATIENCE, &mut self.task)
            .await
            .expect("the server drains in time")
            .expect("the server task does not panic")
    }
}

type Stopped = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn get(path: &str) -> http::request::Builder {
    Request::get(path)
}

fn empty() -> Full<Bytes> {
    Full::new(Bytes::new())
}

#[tokio::test]
async fn http_default_answer_echoes_the_request_as_json() {
    let server = Running::http().await;
    let req = Request::post("/books?page=2")
        .header("x-a", "1")
        .header("x-a", "2")
        .body(Full::new(Bytes::from_static(b"hello")))
        .unwrap();
    let reply = http1_request(server.addr, req).await.unwrap();
    assert_eq!(reply.head.status, StatusCode::OK);
    assert_eq!(reply.head.headers["content-type"], "application/json");
    let echoed = EchoedRequest::from_json(&reply.body).unwrap();
    assert_eq!(echoed.method, "POST");
    assert_eq!(echoed.path, "/books");
    assert_eq!(echoed.query.as_deref(), Some("page=2"));
    assert_eq!(echoed.version, "HTTP/1.1");
    assert_eq!(echoed.headers["x-a"], "1, 2");
    assert_eq!(echoed.headers["host"], server.addr.to_string());
    assert_eq!(echoed.body_bytes, 5);
    assert_eq!(server.requests.get(), 1);
}

#[tokio::test]
async fn http_serves_http2_with_prior_knowledge_on_the_same_port() {
    let server = Running::http().await;
    let reply = http2_request(server.addr, get("/h2").body(empty()).unwrap())
        .await
        .unwrap();
    let echoed = EchoedRequest::from_json(&reply.body).unwrap();
    assert_eq!(
        (echoed.version.as_str(), echoed.path.as_str()),
        ("HTTP/2.0", "/h2")
    );
}

#[tokio::test]
async fn http_status_header_chooses_the_status() {
    let server = Running::http().await;
    let req = get("/")
        .header("x-test-status", "503")
        .body(empty())
        .unwrap();
    let reply = http1_request(server.addr, req).await.unwrap();
    assert_eq!(reply.head.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn http_malformed_directive_is_a_bad_request() {
    let server = Running::http().await;
    let req = get("/")
        .header("x-test-status", "99")
        .body(empty())
        .unwrap();
    let reply = http1_request(server.addr, req).await.unwrap();
    assert_eq!(reply.head.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        "x-test-status: \"99\" is not a status from 200 to 599\n"
    );
    assert_eq!(server.requests.get(), 1);
}

#[tokio::test]
async fn http_delay_header_waits_before_answering() {
    let server = Running::http().await;
    let start = Instant::now();
    let req = get("/")
        .header("x-test-delay-ms", "300")
        .body(empty())
        .unwrap();
    let reply = http1_request(server.addr, req).await.unwrap();
    assert_eq!(reply.head.status, StatusCode::OK);
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn http_body_bytes_header_streams_that_many_filler_bytes() {
    let server = Running::http().await;
    let req = get("/")
        .header("x-test-body-bytes", "100000")
        .body(empty())
        .unwrap();
    let reply = http1_request(server.addr, req).await.unwrap();
    assert_eq!(reply.head.headers["content-type"], "text/plain");
    assert_eq!(reply.body.len(), 100_000);
    assert!(reply.body.iter().all(|&b| b == b'x'));
}

#[tokio::test]
async fn http_trailer_header_ends_the_response_with_that_trailer() {
    let server = Running::http().await;
    let req = get("/")
        .header("te", "trailers")
        .header("x-test-trailer", "x-checksum=abc")
        .body(empty())
        .unwrap();
    let reply = http1_request(server.addr, req).await.unwrap();
    let trailers = reply.trailers.expect("HTTP/1 trailers");
    assert_eq!(trailers["x-checksum"], "abc");
    EchoedRequest::from_json(&reply.body).unwrap();

    let req = get("/")
        .header("x-test-trailer", "x-checksum=def")
        .body(empty())
        .unwrap();
    let reply = http2_request(server.addr, req).await.unwrap();
    assert_eq!(
        reply.trailers.expect("HTTP/2 trailers")["x-checksum"],
        "def"
    );
}

#[tokio::test]
async fn http_echo_returns_the_request_body_and_trailers() {
    let server = Running::http().await;
    let mut trailers = HeaderMap::new();
    trailers.insert("x-sum", "42".parse().unwrap());
    let req = Request::post("/echo")
        .header("te", "trailers")
        .header("trailer", "x-sum")
        .header("x-test-status", "201")
        .body(SyntheticBody::new("ping pong").with_trailers(trailers.clone()))
        .unwrap();
    let reply = http1_request(server.addr, req).await.unwrap();
    assert_eq!(reply.head.status, StatusCode::CREATED);
    assert_eq!(reply.body, "ping pong");
    assert_eq!(reply.trailers, Some(trailers));
}

/// A request body fed by the test, frame by frame.
struct ChannelBody(mpsc::Receiver<Frame<Bytes>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

#[tokio::test]
async fn http_echo_streams_without_waiting_for_the_whole_request() {
    let server = Running::http().await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let (frames, rx) = mpsc::channel(4);
    let req = Request::post("/echo")
        .header("host", "echo")
        .body(ChannelBody(rx))
        .unwrap();
    let response = tokio::spawn(sender.send_request(req));
    frames
        .send(Frame::data(Bytes::from("first")))
        .await
        .unwrap();

    // The response and its first chunk arrive while the request is still open.
    let response = timeout(PATIENCE, response).await.unwrap().unwrap().unwrap();
    let mut body = response.into_body();
    let first = timeout(PATIENCE, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first");

    frames
        .send(Frame::data(Bytes::from("second")))
        .await
        .unwrap();
    drop(frames);
    let rest = timeout(PATIENCE, body.collect()).await.unwrap().unwrap();
    assert_eq!(rest.to_bytes(), "second");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let server = Running::http().await;
    let addr = server.addr;
    let req = get("/")
        .header("x-test-delay-ms", "300")
        .body(empty())
        .unwrap();
    let in_flight = tokio::spawn(http1_request(addr, req));
    // The request has arrived once it is counted; then shut down under it.
    timeout(PATIENCE, async {
        while server.requests.get() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
    let reply = in_flight.await.unwrap().unwrap();
    assert_eq!(reply.head.status, StatusCode::OK);
}

#[tokio::test]
async fn grpc_echoes_the_first_message_with_status_ok() {
    let server = Running::grpc().await;
    let message = "hello grpc".to_string().encode_to_vec();
    let reply = grpc_call(server.addr, "echo.test", "/test.Echo/Say", &message, &[])
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/grpc");
    assert_eq!(reply.grpc_status, Some(0));
    assert_eq!(reply.messages.len(), 1);
    assert_eq!(
        String::decode(reply.messages[0].clone()).unwrap(),
        "hello grpc"
    );
    assert!(reply.trailers.is_some());
    assert_eq!(server.requests.get(), 1);
}

#[tokio::test]
async fn grpc_nonzero_status_ends_without_a_message_and_with_the_encoded_text() {
    let server = Running::grpc().await;
    let metadata = [
        ("x-test-grpc-status", "14"),
        ("x-test-grpc-message", "backend down 100%"),
    ];
    let reply = grpc_call(server.addr, "echo.test", "/test.Echo/Say", b"x", &metadata)
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.messages.is_empty());
    let trailers = reply.trailers.expect("status in trailers");
    assert_eq!(trailers["grpc-status"], "14");
    assert_eq!(trailers["grpc-message"], "backend down 100%25");
    assert_eq!(reply.grpc_status, Some(14));
    assert_eq!(reply.grpc_message.as_deref(), Some("backend down 100%"));
}

#[tokio::test]
async fn grpc_trailers_only_puts_the_status_in_the_headers() {
    let server = Running::grpc().await;
    let metadata = [
        ("x-test-grpc-trailers-only", "true"),
        ("x-test-grpc-status", "7"),
    ];
    let reply = grpc_call(server.addr, "echo.test", "/test.Echo/Say", b"x", &metadata)
        .await
        .unwrap();
    assert_eq!(reply.headers["grpc-status"], "7");
    assert_eq!(reply.trailers, None);
    assert!(reply.messages.is_empty());
    assert_eq!(reply.grpc_status, Some(7));
}

#[tokio::test]
async fn grpc_no_status_sends_the_message_but_no_grpc_status() {
    let server = Running::grpc().await;
    let metadata = [("x-test-grpc-no-status", "true")];
    let reply = grpc_call(
        server.addr,
        "echo.test",
        "/test.Echo/Say",
        b"abc",
        &metadata,
    )
    .await
    .unwrap();
    assert_eq!(reply.messages, vec![Bytes::from_static(b"abc")]);
    assert_eq!(reply.trailers, None);
    assert_eq!(reply.grpc_status, None);
}

#[tokio::test]
async fn grpc_delay_header_waits_before_answering() {
    let server = Running::grpc().await;
    let start = Instant::now();
    let metadata = [("x-test-delay-ms", "200")];
    let reply = grpc_call(server.addr, "echo.test", "/test.Echo/Say", b"", &metadata)
        .await
        .unwrap();
    assert_eq!(reply.grpc_status, Some(0));
    assert_eq!(reply.messages, vec![Bytes::new()]);
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn grpc_refuses_what_is_not_a_grpc_call() {
    let server = Running::grpc().await;
    let reply = http2_request(
        server.addr,
        get("/test.Echo/Say").body(Empty::new()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(reply.head.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let reply = grpc_call(server.addr, "echo.test", "/not-a-method", b"", &[])
        .await
        .unwrap();
    assert_eq!(reply.grpc_status, Some(12));
    assert_eq!(server.requests.get(), 2);
}

#[tokio::test]
async fn test_server_process_serves_until_sigterm() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(["test-server", "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("mesh starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = timeout(PATIENCE, stdout.next_line())
        .await
        .expect("mesh announces its listener in time")
        .unwrap()
        .expect("a line on stdout");
    let addr: SocketAddr = line
        .strip_prefix("listening http ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .parse()
        .unwrap();

    let reply = http1_request(addr, get("/").body(empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(reply.head.status, StatusCode::OK);

    crate::harness::terminate(child.id().expect("still running"));
    let status = timeout(PATIENCE, child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn test_server_needs_a_listener() {
    let r = crate::harness::run(&["test-server"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "mesh: nothing to serve: give --http ADDR, --grpc ADDR or both\n"
    );
}
