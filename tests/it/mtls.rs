//! Mutual TLS between proxies on loopback: identities proven both ways, in metrics and stats;
//! refusals that say why; the app's own TLS passing through; rotation without restart.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::mtls::files::IdentityPaths;
use mesh::mtls::reload::TlsStore;
use mesh::mtls::TlsId;
use mesh::testsvc;

use crate::net::{config, eventually, http_upstream, metric, TestProxy};
use crate::tls_ca::{now, store, TestCa, DAY};

/// `deploy/voting` (service account `voting`) behind its proxy, `deploy/web` (`web`) calling it,
/// each with its own identity directory below `dir`.
struct Pair {
    _app: crate::net::Upstream,
    voting: TestProxy,
    web: TestProxy,
}

async fn pair(dir: &Path, ca: &TestCa, web_ca: &TestCa) -> Pair {
    let registry = dir.join("registry");
    let (voting_ids, web_ids) = ca.voting_and_web(dir, web_ca);
    let app = http_upstream().await;
    let mut voting = config(&registry, "voting", &["voting-svc:8080"], Some(app.addr));
    voting.tls = Some(store(&voting_ids, "emojivoto", "voting"));
    voting.limits.identity_poll_interval = Duration::from_millis(20);
    let mut web = config(&registry, "web", &[], None);
    web.tls = Some(store(&web_ids, "emojivoto", "web"));
    Pair {
        _app: app,
        voting: TestProxy::start(voting).await,
        web: TestProxy::start(web).await,
    }
}

/// GET `path` of `voting-svc:8080` through `proxy`'s outbound, with extra `headers`.
async fn call(proxy: &TestProxy, headers: &[(&str, &str)]) -> testsvc::HttpReply {
    let mut req = Request::get("/api/list").header("host", "voting-svc:8080");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    testsvc::http1_request(proxy.outbound, req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap()
}

const VOTING_ID: &str = "voting.emojivoto.serviceaccount.identity.mesh.cluster.local";
const WEB_ID: &str = "web.emojivoto.serviceaccount.identity.mesh.cluster.local";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_between_proxies_are_mutual_tls_with_both_identities_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let p = pair(dir.path(), &ca, &ca).await;
    let query = mesh::admin_api::tap::TapQuery::parse(Some("")).unwrap();
    let mut tap = mesh::viz::tap::TapStream::open(p.voting.admin, &query)
        .await
        .unwrap();
    for _ in 0..3 {
        let reply = call(&p.web, &[]).await;
        assert_eq!(reply.head.status, 200, "{reply:?}");
    }
    let out = p.web.metrics().await;
    assert_eq!(
        metric(
            &out,
            "request_total",
            &[
                ("direction", "outbound"),
                ("tls", "true"),
                ("server_id", VOTING_ID)
            ]
        ),
        3,
        "{out}"
    );
    let inb = p.voting.metrics().await;
    assert_eq!(
        metric(
            &inb,
            "request_total",
            &[
                ("direction", "inbound"),
                ("tls", "true"),
                ("client_id", WEB_ID),
                ("src_deployment", "web")
            ]
        ),
        3,
        "{inb}"
    );
    // The connection series too, as Linkerd's proxy labels them: the mTLS connection on both
    // sides, and each proxy's connections with its app as loopback.
    let tcp = |text: &str, labels: &[(&str, &str)]| metric(text, "tcp_open_total", labels);
    assert!(
        tcp(
            &out,
            &[("peer", "dst"), ("tls", "true"), ("server_id", VOTING_ID)]
        ) >= 1,
        "{out}"
    );
    assert!(
        tcp(&out, &[("peer", "src"), ("no_tls_reason", "loopback")]) >= 1,
        "{out}"
    );
    assert!(
        tcp(
            &inb,
            &[("peer", "src"), ("tls", "true"), ("client_id", WEB_ID)]
        ) >= 1,
        "{inb}"
    );
    assert!(
        tcp(&inb, &[("peer", "dst"), ("no_tls_reason", "loopback")]) >= 1,
        "{inb}"
    );
    // Tap says so too (`mesh tap` prints `tls=true`).
    let event = crate::tap::next_event(&mut tap).await;
    assert_eq!(event.source.metadata.tls(), "true");
    // The stats the CLI reads say the same.
    let (_, stats) = crate::net::admin_get(p.voting.admin, "/stats?window=60s").await;
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["tls_id"], VOTING_ID);
    let row = &stats["http"][0];
    assert_eq!(row["peer_tls_id"], WEB_ID, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_from_another_trust_anchor_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, other) = (TestCa::new(), TestCa::new());
    let p = pair(dir.path(), &ca, &other).await;
    let reply = call(&p.web, &[]).await;
    assert_eq!(reply.head.status, 502, "{reply:?}");
    let why = reply.head.headers["mesh-proxy-error"].to_str().unwrap();
    assert!(why.contains("failed mutual TLS"), "{why}");
    assert!(why.contains("trust anchors"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_proving_another_service_account_than_discovery_expects_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let p = pair(dir.path(), &ca, &ca).await;
    // Discovery now says voting-svc's endpoint is `admin` (as for a pod IP reused by another
    // workload): voting's certificate, though from the same trust anchor, does not prove it.
    for entry in std::fs::read_dir(dir.path().join("registry")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains(VOTING_ID) {
            std::fs::write(&path, text.replace(VOTING_ID, ADMIN_ID)).unwrap();
        }
    }
    eventually("the refusal that names both identities", || async {
        let reply = call(&p.web, &[]).await;
        let why = reply
            .head
            .headers
            .get("mesh-proxy-error")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        reply.head.status == 502 && why.contains(&format!("is for {VOTING_ID}, not {ADMIN_ID}"))
    })
    .await;
}

const ADMIN_ID: &str = "admin.emojivoto.serviceaccount.identity.mesh.cluster.local";

#[test]
fn an_expired_certificate_or_one_for_another_account_is_refused_at_load_saying_which_and_when() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let expired = dir.path().join("expired");
    ca.issue(&expired, "emojivoto", "web", now() - 2 * DAY, DAY);
    let id = TlsId::new("web", "emojivoto", "cluster.local", "mesh").unwrap();
    let paths = IdentityPaths::in_dir(&expired, &Default::default());
    let err = TlsStore::load(paths, id.clone()).unwrap_err().to_string();
    assert!(
        err.contains("tls.crt: the certificate expired at 20"),
        "{err}"
    );
    let other = dir.path().join("other");
    ca.issue(&other, "emojivoto", "admin", now(), DAY);
    let paths = IdentityPaths::in_dir(&other, &Default::default());
    let err = TlsStore::load(paths, id).unwrap_err().to_string();
    assert!(
        err.contains(&format!("the certificate is for {ADMIN_ID}")) && err.contains(WEB_ID),
        "{err}"
    );
}

/// A server whose certificate expires while it runs (its rotation stopped) keeps it, as the last
/// good one, and says so in its log; callers then refuse it, saying why in `mesh-proxy-error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_certificate_expired_while_it_ran_is_refused_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let registry = dir.path().join("registry");
    let (voting_ids, web_ids) = ca.voting_and_web(dir.path(), &ca);
    // voting's certificate ends a second or two from now (valid from a minute ago).
    let from = now();
    let ends = SystemTime::now() + Duration::from_secs(2);
    ca.issue(
        &voting_ids,
        "emojivoto",
        "voting",
        from,
        ends.duration_since(from).unwrap(),
    );
    let app = http_upstream().await;
    let mut voting = config(&registry, "voting", &["voting-svc:8080"], Some(app.addr));
    let vstore = store(&voting_ids, "emojivoto", "voting");
    voting.tls = Some(vstore.clone());
    let mut web = config(&registry, "web", &[], None);
    web.tls = Some(store(&web_ids, "emojivoto", "web"));
    // Each request a new handshake, so the one after the expiry checks the certificate again.
    web.limits.connect.max_idle_per_endpoint = 0;
    let (_voting, web) = (TestProxy::start(voting).await, TestProxy::start(web).await);
    let reply = call(&web, &[]).await;
    assert_eq!(reply.head.status, 200, "{reply:?}");
    // Past the certificate's end by the wall clock the verifier reads, in whole seconds (a
    // certificate is valid through its last second).
    let not_after = vstore.current().not_after;
    while SystemTime::now() < not_after + Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = call(&web, &[]).await;
    assert_eq!(reply.head.status, 502, "{reply:?}");
    let why = reply.head.headers["mesh-proxy-error"].to_str().unwrap();
    assert!(
        why.contains(&format!("failed mutual TLS (it should prove {VOTING_ID})"))
            && why.contains("the server's certificate expired at 20"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_mesh_peer_on_a_tls_connection_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let p = pair(dir.path(), &ca, &ca).await;
    // A client in namespace `intruders` with a good certificate claims to be emojivoto's web.
    let ids = dir.path().join("intruder-id");
    ca.issue(&ids, "intruders", "bot", now(), DAY);
    let configs = store(&ids, "intruders", "bot").current();
    let tcp = tokio::net::TcpStream::connect(p.voting.inbound.unwrap())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from(VOTING_ID).unwrap();
    let tls = tokio_rustls::TlsConnector::from(configs.client.clone())
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/api/list")
        .header("host", "voting-svc:8080")
        .header(
            "mesh-peer",
            "namespace=emojivoto;workload=deploy/web;pod=web-0",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let inb = p.voting.metrics().await;
    let intruder = "bot.intruders.serviceaccount.identity.mesh.cluster.local";
    assert_eq!(
        metric(
            &inb,
            "request_total",
            &[("tls", "true"), ("client_id", intruder)]
        ),
        1,
        "{inb}"
    );
    assert_eq!(
        metric(
            &inb,
            "request_total",
            &[("client_id", intruder), ("src_deployment", "web")]
        ),
        0,
        "the header's workload is not taken from another namespace: {inb}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_under_load_without_losing_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let registry = dir.path().join("registry");
    let (voting_ids, web_ids) = ca.voting_and_web(dir.path(), &ca);
    let app = http_upstream().await;
    let voting_store = store(&voting_ids, "emojivoto", "voting");
    let web_store = store(&web_ids, "emojivoto", "web");
    let mut voting = config(&registry, "voting", &["voting-svc:8080"], Some(app.addr));
    voting.tls = Some(voting_store.clone());
    voting.limits.identity_poll_interval = Duration::from_millis(10);
    let mut web = config(&registry, "web", &[], None);
    web.tls = Some(web_store.clone());
    web.limits.identity_poll_interval = Duration::from_millis(10);
    // No idle connections kept: every request makes a new handshake, with whatever
    // certificates are in force at that moment.
    web.limits.connect.max_idle_per_endpoint = 0;
    let (_voting, web) = (TestProxy::start(voting).await, TestProxy::start(web).await);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (outbound, stop) = (web.outbound, stop.clone());
        load.spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let req = Request::get("/api/list")
                    .header("host", "voting-svc:8080")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                match testsvc::http1_request(outbound, req).await {
                    Ok(r) if r.head.status == 200 => ok += 1,
                    Ok(r) => failed.push(format!("{:?}", r.head)),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        });
    }
    // Three rotations of both proxies' certificates, each file renamed into place on its own
    // (as `mesh identity issue` and spiffe-helper do), while the load runs.
    for round in 0..3 {
        let before = (
            voting_store.current().chain.clone(),
            web_store.current().chain.clone(),
        );
        ca.issue(&voting_ids, "emojivoto", "voting", now(), DAY);
        ca.issue(&web_ids, "emojivoto", "web", now(), DAY);
        eventually(
            &format!("rotation {round} in force in both proxies"),
            || async {
                voting_store.current().chain != before.0 && web_store.current().chain != before.1
            },
        )
        .await;
        // Let requests run on the new certificates before the next round.
        let served = web.metrics().await;
        let sent = metric(&served, "request_total", &[("tls", "true")]);
        eventually("requests on the new certificates", || async {
            metric(&web.metrics().await, "request_total", &[("tls", "true")]) > sent + 20
        })
        .await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, Vec::new());
    while let Some(r) = load.join_next().await {
        let (o, f) = r.unwrap();
        ok += o;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}",
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(ok > 60, "only {ok} requests");
}

/// An HTTPS app of its own (a certificate for `localhost` from no mesh authority): answers one
/// request per connection with `hello from the app's own TLS`.
async fn tls_app(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "hello from the app's own TLS";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_own_tls_passes_through_the_inbound_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let ids = dir.path().join("voting-id");
    ca.issue(&ids, "emojivoto", "voting", now(), DAY);
    let app_key = rcgen::KeyPair::generate().unwrap();
    let app_cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&app_key)
        .unwrap();
    let app = tls_app(&app_cert, &app_key).await;
    let mut voting = config(
        &dir.path().join("registry"),
        "voting",
        &["voting-svc:8443"],
        Some(app),
    );
    voting.tls = Some(store(&ids, "emojivoto", "voting"));
    let voting = TestProxy::start(voting).await;
    let ca_file = dir.path().join("app-ca.pem");
    std::fs::write(&ca_file, app_cert.pem()).unwrap();
    let port = voting.inbound.unwrap().port();
    // A real TLS client, verifying the app's own certificate through the proxy.
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(&ca_file)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}/"))
        .output()
        .await
        .expect("curl (a Debian package; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from the app's own TLS"
    );
    // It went through the proxy, relayed as bytes to the app.
    let text = voting.metrics().await;
    assert!(
        metric(
            &text,
            "tcp_open_total",
            &[("direction", "inbound"), ("peer", "dst")]
        ) >= 1,
        "{text}"
    );
}

/// The `mesh proxy` binary with `--identity-dir` (rustls' ring provider installed at start, as
/// a process must): an in-process caller with an identity is served over mTLS, and
/// `--require-identity` refuses a plaintext caller, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_binary_serves_mtls_and_refuses_plaintext_where_identity_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let registry = dir.path().join("registry");
    let (voting_ids, web_ids) = ca.voting_and_web(dir.path(), &ca);
    let app = http_upstream().await;
    let voting = crate::process::ProxyProcess::voting(
        app.addr,
        &[
            "--registry",
            registry.to_str().unwrap(),
            "--identity-dir",
            voting_ids.to_str().unwrap(),
            "--service-account",
            "voting",
            "--require-identity",
            "all",
        ],
    )
    .await;
    let mut web = config(&registry, "web", &[], None);
    web.tls = Some(store(&web_ids, "emojivoto", "web"));
    let web = TestProxy::start(web).await;
    let reply = call(&web, &[]).await;
    assert_eq!(reply.head.status, 200, "{reply:?}");
    assert!(
        metric(
            &voting.metrics().await,
            "request_total",
            &[("tls", "true"), ("client_id", WEB_ID)]
        ) == 1
    );
    // A plaintext caller, claiming to be web.
    let req = Request::get("/api/list")
        .header("host", "voting-svc:8080")
        .header(
            "mesh-peer",
            "namespace=emojivoto;workload=deploy/web;pod=web-0",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let reply = testsvc::http1_request(voting.inbound.unwrap(), req)
        .await
        .unwrap();
    assert_eq!(reply.head.status, 403);
    let why = reply.head.headers["mesh-proxy-error"].to_str().unwrap();
    assert!(
        why.contains("accepts only callers that prove their identity by mutual TLS"),
        "{why}"
    );
    assert!(
        why.contains("deploy/web in namespace emojivoto (its mesh-peer header, not proven)"),
        "{why}"
    );
    let text = voting.metrics().await;
    assert_eq!(
        metric(
            &text,
            "proxy_refused_total",
            &[("direction", "inbound"), ("reason", "identity_required")]
        ),
        1,
        "{text}"
    );
    // Counted, but not under the workload the forged header claims (edges stay as proven).
    assert_eq!(
        metric(
            &text,
            "response_total",
            &[("tls", "no_identity"), ("src_deployment", "web")]
        ),
        0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "response_total",
            &[("tls", "no_identity"), ("status_code", "403")]
        ),
        1,
        "{text}"
    );
    // A caller whose certificate comes from another trust anchor, though it trusts voting's too
    // (as midway through replacing an anchor): voting refuses it, and both proxies say why (the
    // caller's `mesh-proxy-error`, the server's log).
    let stranger_ids = dir.path().join("stranger-id");
    TestCa::new().issue(&stranger_ids, "emojivoto", "web", now(), DAY);
    let both = [voting_ids.join("ca.crt"), stranger_ids.join("ca.crt")]
        .map(|f| std::fs::read_to_string(f).unwrap())
        .concat();
    std::fs::write(stranger_ids.join("ca.crt"), both).unwrap();
    let mut stranger = config(&registry, "web", &[], None);
    stranger.identity.pod = "web-1".into();
    stranger.tls = Some(store(&stranger_ids, "emojivoto", "web"));
    let stranger = TestProxy::start(stranger).await;
    let reply = call(&stranger, &[]).await;
    assert_eq!(reply.head.status, 502, "{reply:?}");
    let why = reply.head.headers["mesh-proxy-error"].to_str().unwrap();
    assert!(
        why.contains("refused this proxy's certificate (TLS alert"),
        "{why}"
    );
    eventually("the server logs why it refused", || async {
        voting
            .log()
            .contains("refused an mTLS connection from 127.0.0.1:")
    })
    .await;
    let log = voting.log();
    assert!(
        log.contains("accepts only callers that prove their identity by mutual TLS"),
        "the 403 is logged too:\n{log}"
    );
}
