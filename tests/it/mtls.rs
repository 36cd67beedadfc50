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

/// A trust anchor and leaves it signs, written as `mesh identity issue` writes them.
struct TestCa {
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
    params: rcgen::CertificateParams,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        TestCa { key, cert, params }
    }

    /// Writes a leaf for `sa` in `ns`, valid from `from` for `valid`, to `dir`.
    fn issue(&self, dir: &Path, ns: &str, sa: &str, from: SystemTime, valid: Duration) {
        let id = TlsId::new(sa, ns, "cluster.local", "mesh").unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![id.dns_name()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::URI(
            rcgen::string::Ia5String::try_from(id.spiffe_id()).unwrap(),
        ));
        params.not_before = from.into();
        params.not_after = (from + valid).into();
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        write_atomically(&dir.join("tls.key"), &key.serialize_pem());
        write_atomically(&dir.join("tls.crt"), &cert.pem());
        write_atomically(&dir.join("ca.crt"), &self.cert.pem());
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

fn now() -> SystemTime {
    SystemTime::now() - Duration::from_secs(60)
}

const DAY: Duration = Duration::from_secs(86_400);

fn store(dir: &Path, ns: &str, sa: &str) -> Arc<TlsStore> {
    let id = TlsId::new(sa, ns, "cluster.local", "mesh").unwrap();
    Arc::new(TlsStore::load(IdentityPaths::in_dir(dir, &Default::default()), id).unwrap())
}

/// `deploy/voting` (service account `voting`) behind its proxy, `deploy/web` (`web`) calling it,
/// each with its own identity directory below `dir`.
struct Pair {
    _app: crate::net::Upstream,
    voting: TestProxy,
    web: TestProxy,
}

async fn pair(dir: &Path, ca: &TestCa, web_ca: &TestCa) -> Pair {
    let registry = dir.join("registry");
    let (voting_ids, web_ids) = (dir.join("voting-id"), dir.join("web-id"));
    ca.issue(&voting_ids, "emojivoto", "voting", now(), DAY);
    web_ca.issue(&web_ids, "emojivoto", "web", now(), DAY);
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
    let ca = TestCa::new("root.cluster.local");
    let p = pair(dir.path(), &ca, &ca).await;
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
    let (ca, other) = (TestCa::new("root.cluster.local"), TestCa::new("other.root"));
    let p = pair(dir.path(), &ca, &other).await;
    let reply = call(&p.web, &[]).await;
    assert_eq!(reply.head.status, 502, "{reply:?}");
    let why = reply.head.headers["mesh-proxy-error"].to_str().unwrap();
    assert!(why.contains("refused mutual TLS"), "{why}");
    assert!(why.contains("trust anchors"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_proving_another_service_account_than_discovery_expects_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("root.cluster.local");
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
    let ca = TestCa::new("root.cluster.local");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_mesh_peer_on_a_tls_connection_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("root.cluster.local");
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
