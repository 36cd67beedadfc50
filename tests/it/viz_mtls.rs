//! `mesh edges` and `mesh tap` between real proxies with mutual TLS: an edge whose traffic was
//! mutual TLS is secured (`√`) with both identities in `-o wide`; a plaintext one says why not, in
//! Linkerd's words. The same through `--prometheus` is in `viz_prometheus`.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::admin_api::tap::TapQuery;
use mesh::testsvc;
use mesh::viz::tap::{render_text, TapStream};
use serde_json::Value;

use crate::net::{config, http_upstream, TestProxy, Upstream};
use crate::tls_ca::{store, TestCa};
use crate::viz::viz;

/// Three workloads of `emojivoto` registered in `registry`: `deploy/voting` (service account
/// `voting`) serving `voting-svc:8080`, `deploy/web` (`web`) calling it over mutual TLS, and
/// `deploy/vote-bot`, whose proxy has no identity, calling it in plaintext.
pub(crate) struct MtlsMesh {
    pub registry: PathBuf,
    pub voting: TestProxy,
    pub web: TestProxy,
    pub bot: TestProxy,
    _app: Upstream,
}

/// Starts [`MtlsMesh`] below `dir`, certificates from one test trust anchor.
pub(crate) async fn mtls_mesh(dir: &Path) -> MtlsMesh {
    let registry = dir.join("registry");
    let ca = TestCa::new();
    let (voting_ids, web_ids) = ca.voting_and_web(dir, &ca);
    let app = http_upstream().await;
    let mut voting = config(&registry, "voting", &["voting-svc:8080"], Some(app.addr));
    voting.tls = Some(store(&voting_ids, "emojivoto", "voting"));
    let mut web = config(&registry, "web", &[], None);
    web.tls = Some(store(&web_ids, "emojivoto", "web"));
    let bot = config(&registry, "vote-bot", &[], None);
    MtlsMesh {
        registry,
        voting: TestProxy::start(voting).await,
        web: TestProxy::start(web).await,
        bot: TestProxy::start(bot).await,
        _app: app,
    }
}

/// GET `/api/list` of `voting-svc:8080` through `caller`'s outbound, `n` times, each a 200.
pub(crate) async fn call_voting(caller: &TestProxy, n: usize) {
    for _ in 0..n {
        let req = Request::get("http://voting-svc:8080/api/list")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let reply = testsvc::http1_request(caller.outbound, req).await.unwrap();
        assert_eq!(reply.head.status, 200, "{reply:?}");
    }
}

/// `mesh edges deploy -n emojivoto -o wide` for the traffic of [`MtlsMesh`], each line's trailing
/// padding left out.
const WIDE: [&str; 3] = [
    "SRC        DST      SRC_NS      DST_NS      CLIENT_ID       SERVER_ID          SECURED",
    "vote-bot   voting   emojivoto   emojivoto   -               -                  not secured: Local Identity Disabled",
    "web        voting   emojivoto   emojivoto   web.emojivoto   voting.emojivoto   √",
];

/// The same without `-o wide`.
const TABLE: [&str; 3] = [
    "SRC        DST      SRC_NS      DST_NS      SECURED",
    "vote-bot   voting   emojivoto   emojivoto   not secured: Local Identity Disabled",
    "web        voting   emojivoto   emojivoto   √",
];

fn trimmed(out: &str) -> Vec<&str> {
    out.lines().map(str::trim_end).collect()
}

/// The `(src, client_id, server_id, no_tls_reason)` of each row of `mesh edges -o json`.
pub(crate) fn tls_of_rows(rows: &Value) -> Vec<[String; 4]> {
    let field = |row: &Value, key: &str| row[key].as_str().unwrap_or("<absent>").to_string();
    rows.as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| ["src", "client_id", "server_id", "no_tls_reason"].map(|k| field(r, k)))
                .collect()
        })
        .unwrap_or_default()
}

/// What [`tls_of_rows`] gives for the traffic of [`MtlsMesh`].
pub(crate) fn expected_tls_rows() -> Vec<[String; 4]> {
    [
        ["vote-bot", "", "", "Local Identity Disabled"],
        ["web", "web.emojivoto", "voting.emojivoto", ""],
    ]
    .iter()
    .map(|row| row.map(String::from))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_show_mutual_tls_secured_with_both_identities_and_plaintext_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let m = mtls_mesh(dir.path()).await;

    // Tap prints `tls=true` for the caller that proved its identity, `no_identity` for the other.
    let query = TapQuery::parse(Some("")).unwrap();
    let mut tap = TapStream::open(m.voting.admin, &query).await.unwrap();
    call_voting(&m.web, 1).await;
    let line = render_text(&crate::tap::next_event(&mut tap).await);
    assert!(
        line.starts_with("req id=") && line.contains(" tls=true "),
        "{line}"
    );
    drop(tap);
    let mut tap = TapStream::open(m.voting.admin, &query).await.unwrap();
    call_voting(&m.bot, 1).await;
    let line = render_text(&crate::tap::next_event(&mut tap).await);
    assert!(line.contains(" tls=no_identity "), "{line}");
    drop(tap);
    call_voting(&m.web, 2).await;
    call_voting(&m.bot, 1).await;

    let (code, out, err) = viz(
        &m.registry,
        &["edges", "deploy", "-n", "emojivoto", "-o", "wide"],
    )
    .await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(trimmed(&out), WIDE, "{out}");
    let (code, out, _) = viz(&m.registry, &["edges", "deploy", "-n", "emojivoto"]).await;
    assert_eq!(code, 0);
    assert_eq!(trimmed(&out), TABLE, "{out}");
    let (code, out, _) = viz(
        &m.registry,
        &["edges", "deploy", "-n", "emojivoto", "-o", "json"],
    )
    .await;
    assert_eq!(code, 0);
    let rows: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tls_of_rows(&rows), expected_tls_rows(), "{out}");
}
