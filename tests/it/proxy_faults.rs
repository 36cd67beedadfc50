//! Fault injection against a real `mesh proxy` process: broken upstreams, flapping discovery, a
//! profile overwritten with garbage, an unwritable registry, slowloris and idle clients, and heads
//! at and over the limits. Each test checks what an operator would: the proxy stays up, its memory
//! (RSS from `/proc`) stays bounded, other clients keep being served, and every failure a caller
//! sees carries a `mesh-proxy-error` header saying why.
//!
//! Every test is bounded in requests and time; none waits on a fixed sleep for its verdict.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use mesh::registry::{ProxyRecord, Registration};
use mesh::testsvc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::net::{bind, eventually, eventually_within, http_upstream, metric, PATIENCE};
use crate::process::{Bystander, ProxyProcess, TestServerProcess};

/// How much a proxy's RSS may grow during one fault (allocator slack included).
const RSS_BOUND_KIB: u64 = 24 * 1024;

/// What a caller saw.
#[derive(Debug)]
enum Answer {
    Ok,
    /// An error the proxy answered, with its `mesh-proxy-error` text.
    Explained(u16, String),
    /// Anything else: a failure status without the header, or a broken connection.
    Unexplained(String),
}

async fn call(addr: SocketAddr, host: &str, path: &str) -> Answer {
    let req = Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    match testsvc::http1_request(addr, req).await {
        Ok(r) if r.head.status.is_success() => Answer::Ok,
        Ok(r) => match r.head.headers.get("mesh-proxy-error") {
            Some(why) => Answer::Explained(
                r.head.status.as_u16(),
                why.to_str().unwrap_or_default().to_string(),
            ),
            None => Answer::Unexplained(format!("{:?}", r.head)),
        },
        Err(e) => Answer::Unexplained(e.to_string()),
    }
}

/// Answers seen by a [`Load`].
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    explained: Vec<(u16, String)>,
    unexplained: Vec<String>,
}

impl Tally {
    fn add(&mut self, answer: Answer) {
        match answer {
            Answer::Ok => self.ok += 1,
            Answer::Explained(status, why) => self.explained.push((status, why)),
            Answer::Unexplained(what) => self.unexplained.push(what),
        }
    }

    /// Fails the test if any failure came without an explanation.
    fn assert_explained(&self) {
        assert!(
            self.unexplained.is_empty(),
            "{} failures without mesh-proxy-error (of {} ok, {} explained), first: {:?}",
            self.unexplained.len(),
            self.ok,
            self.explained.len(),
            self.unexplained.first()
        );
    }
}

/// `concurrency` callers sending `GET path` with `host` to `addr` in a loop until stopped.
struct Load {
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(concurrency: usize, addr: SocketAddr, host: &str, path: &str) -> Load {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..concurrency)
            .map(|_| {
                let (tally, stop) = (tally.clone(), stop.clone());
                let (host, path) = (host.to_string(), path.to_string());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let answer = call(addr, &host, &path).await;
                        tally.lock().unwrap().add(answer);
                    }
                })
            })
            .collect();
        Load { tally, stop, tasks }
    }

    fn ok(&self) -> u64 {
        self.tally.lock().unwrap().ok
    }

    fn failures(&self) -> usize {
        let t = self.tally.lock().unwrap();
        t.explained.len() + t.unexplained.len()
    }

    async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(self.tally).unwrap().into_inner().unwrap()
    }
}

/// An endpoints file giving each `service:port` its one address.
fn endpoints_file(dir: &Path, entries: &[(&str, SocketAddr)]) -> PathBuf {
    let text: String = entries
        .iter()
        .map(|(svc, addr)| format!("{svc}:\n- address: {addr}\n"))
        .collect();
    let path = dir.join("endpoints.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `deploy/web` with only static discovery from `endpoints`, plus `extra` flags.
async fn outbound_proxy(endpoints: &Path, extra: &[&str]) -> ProxyProcess {
    let mut args = vec!["--workload", "deploy/web", "--no-registry", "--endpoints"];
    args.push(endpoints.to_str().unwrap());
    args.extend_from_slice(extra);
    ProxyProcess::start(&args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_killed_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut victim = TestServerProcess::start().await;
    let healthy = http_upstream().await;
    let endpoints = endpoints_file(
        dir.path(),
        &[
            ("voting-svc:8080", victim.addr),
            ("emoji-svc:8080", healthy.addr),
        ],
    );
    let mut proxy = outbound_proxy(&endpoints, &[]).await;
    let rss = proxy.rss_kib();
    let bystander = Bystander::start(proxy.outbound, "emoji-svc:8080");

    let load = Load::start(4, proxy.outbound, "voting-svc:8080", "/");
    eventually("200 answers before the kill", || async { load.ok() >= 200 }).await;
    victim.kill();
    let failures_at_kill = load.failures();
    eventually("100 failures after the kill", || async {
        load.failures() >= failures_at_kill + 100
    })
    .await;
    let tally = load.stop().await;

    tally.assert_explained();
    for (status, why) in &tally.explained {
        assert!([502, 503].contains(status), "{status}: {why}");
        assert!(
            why.contains(&victim.addr.to_string()) || why.contains("voting-svc"),
            "{why}"
        );
    }
    bystander.finish(10).await;
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}

/// A server that accepts connections and reads whatever comes, but never answers; counts the
/// connections its peer has closed.
async fn silent_server() -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, c) = (accepted.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::Relaxed);
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                c.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    (addr, accepted, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_accepts_and_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (silent, accepted, closed) = silent_server().await;
    let healthy = http_upstream().await;
    let endpoints = endpoints_file(
        dir.path(),
        &[
            ("voting-svc:8080", silent),
            ("emoji-svc:8080", healthy.addr),
        ],
    );
    let mut proxy = outbound_proxy(&endpoints, &["--response-timeout", "500ms"]).await;
    let rss = proxy.rss_kib();
    let bystander = Bystander::start(proxy.outbound, "emoji-svc:8080");

    let calls: Vec<_> = (0..20)
        .map(|_| tokio::spawn(call(proxy.outbound, "voting-svc:8080", "/")))
        .collect();
    for c in calls {
        match c.await.unwrap() {
            Answer::Explained(504, why) => {
                assert!(why.contains("no response within 500ms"), "{why}");
                assert!(why.contains(&silent.to_string()), "{why}");
            }
            other => panic!("expected a 504 explaining the timeout, got {other:?}"),
        }
    }
    // The proxy let go of every connection it opened to the silent server.
    eventually(
        "the proxy closed its connections to the silent server",
        || async {
            let n = accepted.load(Ordering::Relaxed);
            n > 0 && closed.load(Ordering::Relaxed) == n
        },
    )
    .await;
    bystander.finish(10).await;
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}

/// A server that answers every connection with `reply` and closes it.
async fn scripted_server(reply: Vec<u8>) -> SocketAddr {
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(&reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_answering_malformed_http() {
    let dir = tempfile::tempdir().unwrap();
    let huge_head = format!(
        "HTTP/1.1 200 OK\r\nx-huge: {}\r\ncontent-length: 0\r\n\r\n",
        "h".repeat(1 << 20)
    );
    let replies: Vec<(&str, Vec<u8>)> = vec![
        ("not-http", b"HELLO THERE\r\n\r\n".to_vec()),
        (
            "bad-length",
            b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n".to_vec(),
        ),
        ("bad-status", b"HTTP/1.1 2000 OK\r\n\r\n".to_vec()),
        ("huge-head", huge_head.into_bytes()),
        ("silent-close", Vec::new()),
    ];
    let mut entries = Vec::new();
    for (name, reply) in &replies {
        entries.push((
            format!("{name}-svc:8080"),
            scripted_server(reply.clone()).await,
        ));
    }
    let healthy = http_upstream().await;
    entries.push(("emoji-svc:8080".to_string(), healthy.addr));
    let listed: Vec<(&str, SocketAddr)> = entries.iter().map(|(s, a)| (s.as_str(), *a)).collect();
    let endpoints = endpoints_file(dir.path(), &listed);
    let mut proxy = outbound_proxy(&endpoints, &[]).await;
    let rss = proxy.rss_kib();
    let bystander = Bystander::start(proxy.outbound, "emoji-svc:8080");

    for (name, _) in &replies {
        for _ in 0..20 {
            match call(proxy.outbound, &format!("{name}-svc:8080"), "/").await {
                Answer::Explained(502, why) => assert!(why.contains("endpoint"), "{name}: {why}"),
                other => panic!("{name}: expected a 502 explaining the bad answer, got {other:?}"),
            }
        }
    }
    bystander.finish(10).await;
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}

fn record(pod: &str, inbound: SocketAddr) -> ProxyRecord {
    ProxyRecord {
        namespace: "emojivoto".into(),
        workload: "deploy/voting".into(),
        pod: pod.into(),
        services: vec!["voting-svc:8080".parse().unwrap()],
        inbound: Some(inbound),
        admin: "127.0.0.1:9".parse().unwrap(),
        outbound: None,
        tls_id: None,
        // The test process: alive, so the records count.
        pid: std::process::id(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_flapping_in_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let (stable, flapping) = (http_upstream().await, http_upstream().await);
    let _stable = Registration::publish(&registry, &record("voting-a", stable.addr)).unwrap();
    let mut proxy = ProxyProcess::start(&[
        "--workload",
        "deploy/web",
        "--registry",
        registry.to_str().unwrap(),
    ])
    .await;
    let (rss, fds) = (proxy.rss_kib(), proxy.fds());
    let load = Load::start(4, proxy.outbound, "voting-svc:8080", "/");

    // For 3 s: a live endpoint comes and goes, and a new dead one (a pod that never started
    // listening) appears each round, so the proxy meets ever new addresses.
    for round in 0..60 {
        let dead = bind().await.local_addr().unwrap();
        let live = Registration::publish(&registry, &record("voting-b", flapping.addr)).unwrap();
        let gone = Registration::publish(&registry, &record(&format!("voting-dead-{round}"), dead))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(25)).await;
        drop((live, gone));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let tally = load.stop().await;

    tally.assert_explained();
    let failed = tally.explained.len() as u64;
    assert!(
        tally.ok >= 9 * failed && tally.ok >= 100,
        "{} ok, {failed} failed: {:?}",
        tally.ok,
        tally.explained.first()
    );
    assert!(
        flapping.requests.get() > 0,
        "the flapping endpoint was used while listed"
    );
    // Connections to endpoints that left are not kept forever.
    let extra_fds = proxy.fds().saturating_sub(fds);
    assert!(
        extra_fds <= 2 * 64 + 16,
        "{extra_fds} more fds than at start"
    );
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}

const PROFILE: &str = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: voting-svc.emojivoto.svc.cluster.local\n  namespace: emojivoto\nspec:\n  routes:\n  - name: GET /api/list\n    condition: {method: GET, pathRegex: /api/list}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_replaced_with_garbage_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let file = profiles.join("voting.yaml");
    std::fs::write(&file, PROFILE).unwrap();
    let app = http_upstream().await;
    let mut proxy = ProxyProcess::voting(
        app.addr,
        &["--no-registry", "--profiles", profiles.to_str().unwrap()],
    )
    .await;
    let inbound = proxy.inbound.unwrap();
    let rss = proxy.rss_kib();
    let route = [("direction", "inbound"), ("rt_route", "GET /api/list")];
    let load = Load::start(4, inbound, "voting-svc:8080", "/api/list");
    eventually("requests on the named route", || async {
        metric(&proxy.metrics().await, "route_request_total", &route) > 0
    })
    .await;

    let garbage: Vec<Vec<u8>> = vec![
        b"{{{{ not yaml".to_vec(),
        Vec::new(),
        // Cut off mid-write, inside the last flow mapping.
        PROFILE.as_bytes()[..PROFILE.len() - 10].to_vec(),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n".to_vec(),
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect(),
        PROFILE.replace("/api/list", "/api/(list").into_bytes(),
        // Over the 4 MiB a profile file may have.
        format!("{PROFILE}# {}\n", "x".repeat(5 << 20)).into_bytes(),
    ];
    for (i, bytes) in garbage.iter().enumerate() {
        std::fs::write(&file, bytes).unwrap();
        let before = load.ok();
        // Rejections are logged once per change; wait for this one, and for traffic to go on.
        eventually_within(PATIENCE, &format!("garbage #{i} rejected"), || async {
            proxy.log().matches("rejected ServiceProfile").count() > i && load.ok() > before + 20
        })
        .await;
    }
    let tally = load.stop().await;

    assert!(
        tally.unexplained.is_empty() && tally.explained.is_empty(),
        "{tally:?}"
    );
    // Every request matched the last good profile's route, garbage or not.
    let text = proxy.metrics().await;
    assert_eq!(metric(&text, "route_request_total", &route), tally.ok);
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_registry_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Below a regular file: no process, root included, can create it.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let registry = blocker.join("registry");
    let app = http_upstream().await;
    let mut proxy =
        ProxyProcess::voting(app.addr, &["--registry", registry.to_str().unwrap()]).await;
    let rss = proxy.rss_kib();
    assert!(
        proxy
            .log()
            .contains("could not register in the local registry"),
        "{}",
        proxy.log()
    );
    let bystander = Bystander::start(proxy.inbound.unwrap(), "voting-svc:8080");
    // Discovery from the same directory finds nothing, and says where it looked.
    match call(proxy.outbound, "emoji-svc:8080", "/").await {
        Answer::Explained(503, why) => assert!(why.contains("not-a-dir"), "{why}"),
        other => panic!("expected a 503 naming the registry, got {other:?}"),
    }
    eventually("the bystander served", || async {
        bystander.served() >= 20
    })
    .await;
    bystander.finish(20).await;
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_clients_against_inbound() {
    let app = http_upstream().await;
    let mut proxy =
        ProxyProcess::voting(app.addr, &["--no-registry", "--header-read-timeout", "2s"]).await;
    let inbound = proxy.inbound.unwrap();
    let (rss, fds) = (proxy.rss_kib(), proxy.fds());
    let bystander = Bystander::start(inbound, "voting-svc:8080");

    // 500 clients start a request and then send one byte a second, never finishing the head.
    let cut_off = Arc::new(AtomicUsize::new(0));
    let mut slow = Vec::new();
    for _ in 0..500 {
        let cut_off = cut_off.clone();
        slow.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(inbound).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: voting-svc:8080\r\nx-slow: ")
                .await
                .unwrap();
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if s.write_all(b"a").await.is_err() {
                    break;
                }
                let mut buf = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    _ => {}
                }
            }
            cut_off.fetch_add(1, Ordering::Relaxed);
        }));
    }
    eventually("the proxy holds the slow connections", || async {
        proxy.fds() >= fds + 500
    })
    .await;
    let served_during = bystander.served();
    // Cut off at the header read timeout (2 s), well before they would finish (30 s).
    eventually_within(
        Duration::from_secs(15),
        "every slow client cut off",
        || async { cut_off.load(Ordering::Relaxed) == 500 },
    )
    .await;
    for s in slow {
        s.await.unwrap();
    }
    eventually("the proxy's fds back to where they were", || async {
        proxy.fds() <= fds + 16
    })
    .await;
    assert!(
        bystander.served() > served_during,
        "the bystander was served while the slow clients were connected"
    );
    bystander.finish(20).await;
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}

/// Raises this process's open-file limit to its hard limit, and returns it.
fn raise_open_files() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    hard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections() {
    const IDLE: usize = 10_000;
    // This process holds the clients' ends; the proxy raises its own limit for the other ends.
    let limit = raise_open_files();
    assert!(
        limit >= IDLE as u64 + 2000,
        "this test needs an open-file limit of at least {} (ulimit -Hn is {limit})",
        IDLE + 2000
    );
    let app = http_upstream().await;
    // Idle keep-alive connections would be closed after the header read timeout (10 s by default);
    // this test is about holding them.
    let mut proxy =
        ProxyProcess::voting(app.addr, &["--no-registry", "--header-read-timeout", "5m"]).await;
    let inbound = proxy.inbound.unwrap();
    let (rss, fds) = (proxy.rss_kib(), proxy.fds());

    // Each connection sends one request, reads its answer, and then stays open and silent.
    let request = b"GET / HTTP/1.1\r\nHost: voting-svc:8080\r\n\r\n";
    let mut idle = Vec::with_capacity(IDLE);
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..IDLE {
        if opening.len() >= 200 {
            idle.push(opening.join_next().await.unwrap().unwrap());
        }
        opening.spawn(async move {
            let mut s = TcpStream::connect(inbound).await.unwrap();
            s.write_all(request).await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed before answering");
                head.extend_from_slice(&buf[..n]);
            }
            assert!(head.starts_with(b"HTTP/1.1 200"));
            s
        });
    }
    while let Some(s) = opening.join_next().await {
        idle.push(s.unwrap());
    }
    eventually("the proxy holds every idle connection", || async {
        proxy.fds() >= fds + IDLE
    })
    .await;
    let held = proxy.rss_kib();
    let per_connection = (held.saturating_sub(rss)) * 1024 / IDLE as u64;
    eprintln!("{IDLE} idle connections: RSS {rss} KiB -> {held} KiB ({per_connection} B each)");
    // hyper keeps an 8 KiB read buffer and an 8 KiB head buffer per HTTP/1 connection; the rest
    // is the task, the socket's registration and allocator rounding (about 28 KiB in all).
    assert!(
        per_connection <= 32 * 1024,
        "{per_connection} bytes of RSS per idle connection"
    );

    // New clients are still served while all of them are open.
    let bystander = Bystander::start(inbound, "voting-svc:8080");
    eventually("new clients served", || async { bystander.served() >= 50 }).await;
    bystander.finish(50).await;
    proxy.assert_up().await;

    drop(idle);
    // What stays: the listeners and up to 64 pooled connections to the app.
    eventually(
        "the proxy closed its side of every idle connection",
        || async { proxy.fds() <= fds + 64 + 16 },
    )
    .await;
    proxy.assert_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_at_and_over_the_limit() {
    const LIMIT: usize = 64 * 1024;
    let app = http_upstream().await;
    let mut proxy = ProxyProcess::voting(app.addr, &["--no-registry"]).await;
    let inbound = proxy.inbound.unwrap();
    let rss = proxy.rss_kib();
    let bystander = Bystander::start(inbound, "voting-svc:8080");

    // The head as the proxy counts it: request line and header lines.
    let head_with = |value_len: usize| {
        format!(
            "GET / HTTP/1.1\r\nhost: voting-svc:8080\r\nx-fill: {}\r\n",
            "v".repeat(value_len)
        )
    };
    let fixed = head_with(0).len();
    let at_limit = head_with(LIMIT - fixed);
    assert_eq!(at_limit.len(), LIMIT);

    for (http2, name) in [(false, "HTTP/1.1"), (true, "HTTP/2")] {
        let send = |fill: usize| async move {
            let req = Request::get("/")
                .header("host", "voting-svc:8080")
                .header("x-fill", "v".repeat(fill))
                .body(Empty::<Bytes>::new())
                .unwrap();
            if http2 {
                testsvc::http2_request(inbound, req).await
            } else {
                testsvc::http1_request(inbound, req).await
            }
        };
        // The URI, as HTTP/2 sends it, is longer than `/`; the fill stays under the limit.
        let fill = LIMIT - fixed - if http2 { 64 } else { 0 };
        let reply = send(fill).await.unwrap();
        assert_eq!(
            reply.head.status,
            200,
            "{name}: a head at the limit passes: {:?}",
            reply.head.headers.get("mesh-proxy-error")
        );
        let echoed: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            echoed["headers"]["x-fill"].as_str().map(str::len),
            Some(fill),
            "{name}: the app got the header whole"
        );

        // HTTP/1.1 heads are counted to the byte: one more is over.
        let reply = send(if http2 { LIMIT } else { fill + 1 }).await.unwrap();
        assert_eq!(reply.head.status, 431, "{name}: over the limit");
        let why = reply.head.headers["mesh-proxy-error"].to_str().unwrap();
        assert!(
            why.contains("over this proxy's limit of 65536 bytes"),
            "{why}"
        );
    }

    // Far over (a megabyte): hyper stops reading at twice the limit; the connection is refused
    // and the proxy is none the worse.
    let mut s = TcpStream::connect(inbound).await.unwrap();
    let huge = head_with(1 << 20);
    let _ = s.write_all(huge.as_bytes()).await;
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(PATIENCE, s.read(&mut answer))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        n == 0 || answer.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    bystander.finish(5).await;
    proxy.assert_healthy(rss, RSS_BOUND_KIB).await;
}
