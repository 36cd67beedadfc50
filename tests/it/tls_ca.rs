//! A test certificate authority: a trust anchor and the leaves it signs, written as
//! `mesh identity issue` writes them (`tls.crt`, `tls.key`, `ca.crt`), for the tests that run
//! proxies with mutual TLS (`mtls`, `kube_discovery`, `viz_mtls`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh::mtls::authority::{Authority, Lifetimes};
use mesh::mtls::files::IdentityPaths;
use mesh::mtls::reload::TlsStore;
use mesh::mtls::TlsId;

/// A trust anchor and the leaves its issuer signs, made and written as `mesh identity` makes and
/// writes them. Another `TestCa` is another trust anchor.
pub(crate) struct TestCa(Authority);

impl TestCa {
    pub(crate) fn new() -> TestCa {
        TestCa(Authority::generate("cluster.local", Lifetimes::default()).unwrap())
    }

    /// Writes a leaf for `sa` in `ns`, valid from `from` for `valid` (in the past: expired), to
    /// `dir`.
    pub(crate) fn issue(&self, dir: &Path, ns: &str, sa: &str, from: SystemTime, valid: Duration) {
        let id = TlsId::new(sa, ns, "cluster.local", "mesh").unwrap();
        self.0.issue(&id, from, valid).unwrap().write(dir).unwrap();
    }
}

/// A minute ago: a certificate valid from then is valid now, whatever the clocks' skew.
pub(crate) fn now() -> SystemTime {
    SystemTime::now() - Duration::from_secs(60)
}

/// A day, the default lifetime of `mesh identity issue`.
pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// The identity of `sa` in `ns` loaded from `dir`, as `mesh proxy --identity-dir` loads it.
pub(crate) fn store(dir: &Path, ns: &str, sa: &str) -> Arc<TlsStore> {
    let id = TlsId::new(sa, ns, "cluster.local", "mesh").unwrap();
    Arc::new(TlsStore::load(IdentityPaths::in_dir(dir, &Default::default()), id).unwrap())
}

impl TestCa {
    /// Identity directories `voting-id` and `web-id` below `dir`, for emojivoto's `voting` (from
    /// this anchor) and `web` (from `web_ca`'s), valid for a day.
    pub(crate) fn voting_and_web(&self, dir: &Path, web_ca: &TestCa) -> (PathBuf, PathBuf) {
        let (voting_ids, web_ids) = (dir.join("voting-id"), dir.join("web-id"));
        self.issue(&voting_ids, "emojivoto", "voting", now(), DAY);
        web_ca.issue(&web_ids, "emojivoto", "web", now(), DAY);
        (voting_ids, web_ids)
    }
}
