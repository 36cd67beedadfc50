//! A test certificate authority: a trust anchor and the leaves it signs, written as
//! `mesh identity issue` writes them (`tls.crt`, `tls.key`, `ca.crt`), for the tests that run
//! proxies with mutual TLS (`mtls`, `kube_discovery`, `viz_mtls`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh::mtls::files::IdentityPaths;
use mesh::mtls::reload::TlsStore;
use mesh::mtls::TlsId;

/// A trust anchor and leaves it signs, written as `mesh identity issue` writes them.
pub(crate) struct TestCa {
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
    params: rcgen::CertificateParams,
}

impl TestCa {
    pub(crate) fn new(name: &str) -> TestCa {
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
    pub(crate) fn issue(&self, dir: &Path, ns: &str, sa: &str, from: SystemTime, valid: Duration) {
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
