//! What a certificate on disk says and whether it holds up (`mesh identity inspect`): the
//! identities it names, who issued it, how long it is valid, whether it chains to the trust
//! anchors beside it and whether the key beside it is its own.
//!
//! Given a directory, the certificate is the one that directory is for: an identity directory's
//! (`tls.crt`, or spiffe-helper's `svid.pem`), else an authority's issuer (`issuer.crt`), else its
//! trust anchor (`ca.crt`). Given a file, its first certificate, checked against the trust anchors
//! in the same directory (`ca.crt`, or `bundle.pem` beside `svid.pem`); no key is checked.
//!
//! # JSON (`-o json`)
//!
//! One object, [`Inspection`]: `file`, `subject`, `issuer` (RFC 4514 names), `spiffe_ids` and
//! `dns_names` (the SANs of those kinds), `is_ca`, `not_before` and `not_after` (RFC 3339 UTC),
//! `seconds_left` (negative once expired), `sha256` (of the DER, colon-separated hex),
//! `trust_anchors` (the file checked against, or null), `chains` (true, false, or null when there
//! was nothing to check against), `chain_error` (why not, or null), `key` (the file, or null) and
//! `key_matches` (or null).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::authority::{ANCHORS_FILE, ISSUER_CERT_FILE, ISSUER_KEY_FILE};
use super::certificate::{fingerprint, from_unix, rfc3339};
use super::files::{unix_time, IdentityPaths};
use super::provider;

/// What one certificate says, and the checks made of it.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The file the certificate is the first of.
    pub file: PathBuf,
    pub subject: String,
    pub issuer: String,
    pub spiffe_ids: Vec<String>,
    pub dns_names: Vec<String>,
    pub is_ca: bool,
    #[serde(serialize_with = "as_rfc3339")]
    pub not_before: SystemTime,
    #[serde(serialize_with = "as_rfc3339")]
    pub not_after: SystemTime,
    /// Seconds until `not_after` at the time of inspection; negative once expired.
    pub seconds_left: i64,
    pub sha256: String,
    /// The trust anchors file checked against.
    pub trust_anchors: Option<PathBuf>,
    /// Whether the certificate (with the rest of its file as intermediates) chains to them.
    pub chains: Option<bool>,
    pub chain_error: Option<String>,
    /// The private key file checked against the certificate.
    pub key: Option<PathBuf>,
    pub key_matches: Option<bool>,
}

impl Inspection {
    /// Valid now, chained where there were anchors, its key where there was one.
    pub fn holds_up(&self, now: SystemTime) -> bool {
        now >= self.not_before
            && now <= self.not_after
            && self.chains != Some(false)
            && self.key_matches != Some(false)
    }
}

/// Why nothing could be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("reading {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} holds no certificate mesh knows: expected tls.crt or svid.pem (an identity directory), or issuer.crt or ca.crt (an authority)", dir.display())]
    NothingToInspect { dir: PathBuf },
    #[error("{}: no PEM certificate in it{}", path.display(), if error.is_empty() { String::new() } else { format!(" ({error})") })]
    NoCertificate { path: PathBuf, error: String },
    #[error("{}: not a readable X.509 certificate: {error}", path.display())]
    Unreadable { path: PathBuf, error: String },
}

/// The files one inspection reads.
struct Target {
    cert: PathBuf,
    anchors: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// Inspects the certificate `path` is or holds (see the module docs), at time `now`.
pub fn inspect(path: &Path, now: SystemTime) -> Result<Inspection, InspectError> {
    let target = target(path)?;
    let chain = certificates(&target.cert)?;
    let unreadable = |error: String| InspectError::Unreadable {
        path: target.cert.clone(),
        error,
    };
    let (_, cert) = X509Certificate::from_der(&chain[0]).map_err(|e| unreadable(e.to_string()))?;
    let (mut spiffe_ids, mut dns_names) = (Vec::new(), Vec::new());
    if let Ok(Some(sans)) = cert.subject_alternative_name() {
        for name in &sans.value.general_names {
            match name {
                GeneralName::URI(uri) if uri.starts_with("spiffe://") => {
                    spiffe_ids.push(uri.to_string())
                }
                GeneralName::DNSName(dns) => dns_names.push(dns.to_string()),
                _ => {}
            }
        }
    }
    let not_before = from_unix(cert.validity().not_before.timestamp());
    let not_after = from_unix(cert.validity().not_after.timestamp());
    let seconds_left = match not_after.duration_since(now) {
        Ok(left) => left.as_secs() as i64,
        Err(past) => -(past.duration().as_secs() as i64),
    };
    let (chains, chain_error) = match &target.anchors {
        None => (None, None),
        Some(anchors) => {
            let anchors = certificates(anchors)?;
            match chains_to(&chain, &cert, &anchors, now) {
                Ok(()) => (Some(true), None),
                Err(e) => (Some(false), Some(e)),
            }
        }
    };
    let key_matches = match &target.key {
        None => None,
        Some(key) => Some(key_matches(key, &chain)?),
    };
    Ok(Inspection {
        file: target.cert.clone(),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        spiffe_ids,
        dns_names,
        is_ca: cert.is_ca(),
        not_before,
        not_after,
        seconds_left,
        sha256: fingerprint(&chain[0]),
        trust_anchors: target.anchors,
        chains,
        chain_error,
        key: target.key,
        key_matches,
    })
}

/// Which files to read for `path`.
fn target(path: &Path) -> Result<Target, InspectError> {
    let exists = |p: &Path| p.exists().then(|| p.to_owned());
    let meta = std::fs::metadata(path).map_err(|error| InspectError::Read {
        path: path.to_owned(),
        error,
    })?;
    if !meta.is_dir() {
        let dir = path.parent().unwrap_or(Path::new("."));
        let anchors = IdentityPaths::in_dir(dir, &Default::default()).trust_anchors;
        return Ok(Target {
            cert: path.to_owned(),
            anchors: exists(&anchors),
            key: None,
        });
    }
    let identity = IdentityPaths::in_dir(path, &Default::default());
    if identity.cert.exists() {
        return Ok(Target {
            anchors: exists(&identity.trust_anchors),
            key: exists(&identity.key),
            cert: identity.cert,
        });
    }
    let (issuer, anchors) = (path.join(ISSUER_CERT_FILE), path.join(ANCHORS_FILE));
    if issuer.exists() {
        return Ok(Target {
            cert: issuer,
            anchors: exists(&anchors),
            key: exists(&path.join(ISSUER_KEY_FILE)),
        });
    }
    if anchors.exists() {
        return Ok(Target {
            cert: anchors.clone(),
            anchors: Some(anchors),
            key: None,
        });
    }
    Err(InspectError::NothingToInspect {
        dir: path.to_owned(),
    })
}

/// Whether `chain[0]` (parsed: `cert`) chains to one of `anchors` through the rest of `chain`: an
/// anchor itself does; otherwise each certificate must be signed by the next and the last by an
/// anchor, whatever the time (expiry is reported on its own). A leaf valid at `now` is then also
/// verified as a peer verifies it (webpki: every certificate valid now, key usages, path length).
fn chains_to(
    chain: &[CertificateDer<'static>],
    cert: &X509Certificate<'_>,
    anchors: &[CertificateDer<'static>],
    now: SystemTime,
) -> Result<(), String> {
    fn parse<'a>(der: &'a CertificateDer<'static>) -> Result<X509Certificate<'a>, String> {
        X509Certificate::from_der(der)
            .map(|(_, c)| c)
            .map_err(|e| e.to_string())
    }
    if anchors.contains(&chain[0]) {
        return Ok(());
    }
    let parsed: Vec<_> = chain.iter().map(parse).collect::<Result<_, _>>()?;
    let parsed_anchors: Vec<_> = anchors.iter().map(parse).collect::<Result<_, _>>()?;
    for pair in parsed.windows(2) {
        if pair[0]
            .verify_signature(Some(pair[1].public_key()))
            .is_err()
        {
            return Err(format!(
                "{} is not signed by the next certificate in the file, {}",
                pair[0].subject(),
                pair[1].subject()
            ));
        }
    }
    let top = parsed.last().unwrap_or(cert);
    if !parsed_anchors
        .iter()
        .any(|a| top.verify_signature(Some(a.public_key())).is_ok())
    {
        return Err(format!(
            "no trust anchor signed {} (issued by {})",
            top.subject(),
            top.issuer()
        ));
    }
    if cert.is_ca() || !cert.validity().is_valid_at(now_asn1(now)) {
        return Ok(());
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(anchors.iter().cloned());
    let leaf = rustls::server::ParsedCertificate::try_from(&chain[0]).map_err(|e| e.to_string())?;
    rustls::client::verify_server_cert_signed_by_trust_anchor(
        &leaf,
        &roots,
        &chain[1..],
        unix_time(now),
        provider::ring().signature_verification_algorithms.all,
    )
    .map_err(|e| e.to_string())
}

/// `now` as x509-parser's time.
fn now_asn1(now: SystemTime) -> x509_parser::time::ASN1Time {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    x509_parser::time::ASN1Time::from_timestamp(secs)
        .unwrap_or_else(|_| x509_parser::time::ASN1Time::now())
}

/// Whether the private key in `path` is `chain[0]`'s.
fn key_matches(path: &Path, chain: &[CertificateDer<'static>]) -> Result<bool, InspectError> {
    let pem = super::files::read_pem_file(path).map_err(|error| InspectError::Read {
        path: path.to_owned(),
        error,
    })?;
    let Ok(key) = PrivateKeyDer::from_pem_slice(&pem) else {
        return Ok(false);
    };
    let Ok(key) = provider::ring().key_provider.load_private_key(key) else {
        return Ok(false);
    };
    let certified = rustls::sign::CertifiedKey::new(chain.to_vec(), key);
    Ok(certified.keys_match().is_ok())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, InspectError> {
    let pem = super::files::read_pem_file(path).map_err(|error| InspectError::Read {
        path: path.to_owned(),
        error,
    })?;
    super::files::pem_certificates(&pem).map_err(|error| InspectError::NoCertificate {
        path: path.to_owned(),
        error: error.unwrap_or_default(),
    })
}

fn as_rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

#[cfg(test)]
mod tests;
