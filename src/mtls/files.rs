//! The identity directory (`--identity-dir`): where a proxy's certificate, key and trust anchors
//! are, and reading them into [`Credentials`] it can serve with.
//!
//! Two layouts are found on their own, so mesh reads what the usual issuers write:
//! - the Kubernetes TLS secret layout, which cert-manager (its CSI drivers included) and
//!   `mesh identity issue` write: `tls.crt` (the leaf, then intermediates), `tls.key`, `ca.crt`;
//! - SPIRE's spiffe-helper layout: `svid.pem`, `key.pem` (`svid_key.pem` in some configs: say
//!   it with the flags), `bundle.pem`.
//!
//! Any file may be named by flag instead ([`FileNames`]). Reading checks everything a handshake
//! would otherwise fail on later, and says which file and when: the key matches the certificate,
//! the certificate is valid now and chains to the trust anchors, and it proves this proxy's own
//! identity.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::RootCertStore;

use super::certificate::{rfc3339, CertificateFacts};
use super::id::TlsId;
use super::provider;

/// File names given by flags (`--identity-cert`, `--identity-key`, `--identity-trust-anchors`):
/// relative ones are in the identity directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileNames {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub trust_anchors: Option<PathBuf>,
}

/// Where the three files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPaths {
    /// The leaf certificate, then any intermediates (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// The trust anchors peers' certificates must chain to (PEM, one or more).
    pub trust_anchors: PathBuf,
}

/// The Kubernetes TLS secret layout (cert-manager, `mesh identity issue`).
pub const SECRET_LAYOUT: [&str; 3] = ["tls.crt", "tls.key", "ca.crt"];
/// SPIRE's spiffe-helper layout.
pub const SPIFFE_HELPER_LAYOUT: [&str; 3] = ["svid.pem", "key.pem", "bundle.pem"];

impl IdentityPaths {
    /// The files in `dir`: the secret layout unless only spiffe-helper's certificate is there;
    /// `names` override either.
    pub fn in_dir(dir: &Path, names: &FileNames) -> IdentityPaths {
        let layout =
            if !dir.join(SECRET_LAYOUT[0]).exists() && dir.join(SPIFFE_HELPER_LAYOUT[0]).exists() {
                SPIFFE_HELPER_LAYOUT
            } else {
                SECRET_LAYOUT
            };
        let pick = |given: &Option<PathBuf>, default: &str| match given {
            Some(p) => dir.join(p),
            None => dir.join(default),
        };
        IdentityPaths {
            cert: pick(&names.cert, layout[0]),
            key: pick(&names.key, layout[1]),
            trust_anchors: pick(&names.trust_anchors, layout[2]),
        }
    }
}

/// What a proxy serves and verifies with: its certificate chain and key, the identity the
/// certificate proves, and the trust anchors.
pub struct Credentials {
    /// The identity the certificate proves, as this proxy names itself.
    pub id: TlsId,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<dyn rustls::sign::SigningKey>,
    pub roots: Arc<RootCertStore>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id.dns_name())
            .field("not_after", &rfc3339(self.not_after))
            .finish_non_exhaustive()
    }
}

/// Why the identity files cannot be served with. Each says which file, and when for validity.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: no PEM certificate in it{}", path.display(), pem_hint(error))]
    NoCertificate { path: PathBuf, error: String },
    #[error("{}: no PEM private key in it{}", path.display(), pem_hint(error))]
    NoKey { path: PathBuf, error: String },
    #[error("{}: the key cannot sign (ECDSA P-256/P-384, Ed25519 or RSA expected): {error}", path.display())]
    UnusableKey { path: PathBuf, error: String },
    #[error("{} and {} do not match: the key is not the certificate's (a rotation half written? it is read again at the next change)", cert.display(), key.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("{}: {error}", path.display())]
    Unreadable { path: PathBuf, error: String },
    #[error("{}: the certificate expired at {} (now {}): issue a new one (`mesh identity issue`, or the issuer that writes it)", path.display(), rfc3339(*not_after), rfc3339(*now))]
    Expired {
        path: PathBuf,
        not_after: SystemTime,
        now: SystemTime,
    },
    #[error("{}: the certificate is not valid before {} (now {}): is this machine's clock right?", path.display(), rfc3339(*not_before), rfc3339(*now))]
    NotYetValid {
        path: PathBuf,
        not_before: SystemTime,
        now: SystemTime,
    },
    #[error("{}: the certificate is for {found} ({sans}), but this proxy is {expected} (--service-account, --namespace, --trust-domain)", path.display())]
    OtherIdentity {
        path: PathBuf,
        expected: Box<TlsId>,
        found: String,
        sans: String,
    },
    #[error("{}: the certificate does not chain to the trust anchors in {}: {error}", cert.display(), anchors.display())]
    Untrusted {
        cert: PathBuf,
        anchors: PathBuf,
        error: rustls::Error,
    },
}

fn pem_hint(error: &str) -> String {
    if error.is_empty() {
        String::new()
    } else {
        format!(" ({error})")
    }
}

impl Credentials {
    /// Reads and checks the files at `paths` for the proxy whose identity is `expected`, at
    /// time `now`.
    pub fn load(
        paths: &IdentityPaths,
        expected: &TlsId,
        now: SystemTime,
    ) -> Result<Credentials, CredentialsError> {
        let chain = certificates(&paths.cert)?;
        let anchors = certificates(&paths.trust_anchors)?;
        let key_pem = read(&paths.key)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| CredentialsError::NoKey {
            path: paths.key.clone(),
            error: no_section(&e),
        })?;
        let provider = provider::ring();
        let key = provider.key_provider.load_private_key(key).map_err(|e| {
            CredentialsError::UnusableKey {
                path: paths.key.clone(),
                error: e.to_string(),
            }
        })?;
        let certified = rustls::sign::CertifiedKey::new(chain.clone(), key.clone());
        if certified.keys_match().is_err() {
            return Err(CredentialsError::KeyMismatch {
                cert: paths.cert.clone(),
                key: paths.key.clone(),
            });
        }
        let facts = CertificateFacts::of_der(&chain[0], &expected.control_plane_namespace)
            .map_err(|e| CredentialsError::Unreadable {
                path: paths.cert.clone(),
                error: e.to_string(),
            })?;
        if now > facts.not_after {
            return Err(CredentialsError::Expired {
                path: paths.cert.clone(),
                not_after: facts.not_after,
                now,
            });
        }
        if now < facts.not_before {
            return Err(CredentialsError::NotYetValid {
                path: paths.cert.clone(),
                not_before: facts.not_before,
                now,
            });
        }
        if !facts.proves(expected) {
            return Err(CredentialsError::OtherIdentity {
                path: paths.cert.clone(),
                expected: Box::new(expected.clone()),
                found: facts
                    .id()
                    .map_or_else(|| "no workload identity".into(), TlsId::dns_name),
                sans: facts.sans_text(),
            });
        }
        let mut roots = RootCertStore::empty();
        let (_, unusable) = roots.add_parsable_certificates(anchors);
        if roots.is_empty() {
            return Err(CredentialsError::Unreadable {
                path: paths.trust_anchors.clone(),
                error: format!("none of its {unusable} certificates is a usable trust anchor"),
            });
        }
        let untrusted = |error| CredentialsError::Untrusted {
            cert: paths.cert.clone(),
            anchors: paths.trust_anchors.clone(),
            error,
        };
        let leaf = rustls::server::ParsedCertificate::try_from(&chain[0]).map_err(untrusted)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &leaf,
            &roots,
            &chain[1..],
            unix_time(now),
            provider.signature_verification_algorithms.all,
        )
        .map_err(untrusted)?;
        Ok(Credentials {
            id: expected.clone(),
            chain,
            key,
            roots: Arc::new(roots),
            not_before: facts.not_before,
            not_after: facts.not_after,
        })
    }
}

/// `now` as rustls's time.
pub fn unix_time(now: SystemTime) -> UnixTime {
    UnixTime::since_unix_epoch(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// The most a certificate, key or trust-anchor file may hold: far above any real one (a system
/// trust bundle is about 200 KiB), so a wrong path (`/dev/zero`, a log file) is an error, not
/// all the memory.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a PEM file of at most [`MAX_PEM_BYTES`].
///
/// # Errors
///
/// The file cannot be read, or is larger (`InvalidData`, saying the limit).
pub fn read_pem_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_PEM_BYTES} bytes: no certificate, key or trust bundle is"),
        ));
    }
    Ok(bytes)
}

fn read(path: &Path) -> Result<Vec<u8>, CredentialsError> {
    read_pem_file(path).map_err(|error| CredentialsError::Read {
        path: path.to_owned(),
        error,
    })
}

/// The certificates of a PEM text, at least one: else `Err(None)` when it holds none, or
/// `Err(Some(why))` when it does not parse.
pub(super) fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Option<String>> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Some(e.to_string()))?;
    match certs.is_empty() {
        true => Err(None),
        false => Ok(certs),
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CredentialsError> {
    pem_certificates(&read(path)?).map_err(|error| CredentialsError::NoCertificate {
        path: path.to_owned(),
        error: error.unwrap_or_default(),
    })
}

fn no_section(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::NoItemsFound => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_or_huge_file_is_refused_not_read_whole() {
        let err = read_pem_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let paths = IdentityPaths {
            cert: Path::new("/dev/zero").into(),
            key: dir.path().join("tls.key"),
            trust_anchors: dir.path().join("ca.crt"),
        };
        let id = TlsId::new("web", "emojivoto", "cluster.local", "mesh").unwrap();
        let Err(err) = Credentials::load(&paths, &id, SystemTime::now()) else {
            panic!("a certificate file that is /dev/zero loaded");
        };
        assert!(
            err.to_string()
                .starts_with("reading /dev/zero: larger than"),
            "{err}"
        );
    }
}
