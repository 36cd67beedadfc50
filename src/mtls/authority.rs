//! mesh's own certificate authority (`mesh identity init`): a trust anchor and an issuer, as
//! Linkerd's identity has (`root.linkerd.cluster.local` and `identity.linkerd.cluster.local`).
//!
//! The trust anchor is a long-lived self-signed CA that every proxy trusts (it goes into each
//! identity directory as `ca.crt`). It signs one intermediate, the issuer, which signs the
//! workloads' short-lived leaves ([`super::issue`]). Both are ECDSA P-256 and carry the trust
//! domain as a SPIFFE ID without a path (`spiffe://cluster.local`), as the X.509-SVID spec asks of
//! signing certificates; [`Authority::load`] reads the trust domain back from it. Their names
//! carry the authority's id beside Linkerd-style common names
//! (`CN=root.mesh.cluster.local, OU=mesh authority 1a2b3c4d`), so two authorities are told apart.
//!
//! # Layout of an authority directory
//!
//! | file | what | mode |
//! | --- | --- | --- |
//! | `ca.crt` | the trust anchor(s), PEM: what proxies trust | 0644 |
//! | `issuer.crt` | the issuer's certificate (and any intermediates above it), PEM | 0644 |
//! | `issuer.key` | the issuer's private key, PKCS#8 PEM (`PRIVATE KEY`) | 0600 |
//!
//! The same names as Linkerd's `--identity-trust-anchors-file`, `--identity-issuer-certificate-file`
//! and `--identity-issuer-key-file`, so an authority made with `step` for Linkerd loads too (its key
//! converted to PKCS#8). The anchor's own private key is not kept: nothing but the issuer signs
//! with it, so a leaked authority directory cannot mint a new issuer. Renewing the issuer therefore
//! means a new authority (`init --force`) and the new `ca.crt` in every identity directory.
//!
//! Files are written as a set ([`super::staged`]): all or nothing, and an existing authority is
//! never replaced unless asked.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::certificate::from_unix;
use super::id::{check_trust_domain, TlsIdError};
use super::staged::{self, Access, Existing, StagedFiles, WriteError};

/// The trust anchor(s) file, in an authority directory and in every identity directory.
pub const ANCHORS_FILE: &str = "ca.crt";
/// The issuer's certificate.
pub const ISSUER_CERT_FILE: &str = "issuer.crt";
/// The issuer's private key.
pub const ISSUER_KEY_FILE: &str = "issuer.key";

/// How far back certificates' validity starts, for clocks a little behind this one's: Linkerd's
/// identity controller's default clock-skew allowance.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(20);

/// How long the anchor and the issuer are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// The trust anchor's: 10 years by default (replacing it means touching every proxy).
    pub anchor: Duration,
    /// The issuer's: 1 year by default. It cannot outlive the anchor; leaves cannot outlive it.
    pub issuer: Duration,
}

/// One hour.
const HOUR: Duration = Duration::from_secs(3600);

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            anchor: 10 * 365 * 24 * HOUR,
            issuer: 365 * 24 * HOUR,
        }
    }
}

/// A trust anchor and the issuer it signed, ready to issue leaves.
pub struct Authority {
    /// `ca.crt` as written: one or more anchors (several while an anchor is being replaced).
    pub(super) anchors_pem: String,
    /// The anchors, parsed.
    pub(super) anchors: Vec<CertificateDer<'static>>,
    /// `issuer.crt` as written: the issuer, then anything between it and an anchor.
    pub(super) issuer_pem: String,
    /// The issuer's own certificate (the first in `issuer.crt`).
    pub(super) issuer_cert: CertificateDer<'static>,
    /// The issuer's name and key, as rcgen signs with them.
    pub(super) issuer: rcgen::Issuer<'static, KeyPair>,
    /// The trust domain of its certificates' SPIFFE ID, when they carry one.
    pub(super) trust_domain: Option<String>,
    /// When the issuer's certificate expires: no leaf outlives it.
    pub(super) issuer_not_after: SystemTime,
}

impl fmt::Debug for Authority {
    /// Everything but the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("trust_domain", &self.trust_domain)
            .field("issuer_not_after", &self.issuer_not_after)
            .finish_non_exhaustive()
    }
}

/// Why an authority could not be made, written or read. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error(transparent)]
    TrustDomain(#[from] TlsIdError),
    #[error("the issuer would outlive the trust anchor ({issuer:?} > {anchor:?}): give the anchor the longer lifetime")]
    IssuerOutlivesAnchor { issuer: Duration, anchor: Duration },
    #[error("generating the {what}: {error}")]
    Generate {
        what: &'static str,
        error: rcgen::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("reading {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: no PEM certificate in it", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{}: {error}", path.display())]
    Unreadable { path: PathBuf, error: String },
    #[error("{}: not a usable private key ({error}): a PKCS#8 PEM key (`BEGIN PRIVATE KEY`) is expected; a SEC1 key (`BEGIN EC PRIVATE KEY`) converts with `openssl pkcs8 -topk8 -nocrypt`", path.display())]
    UnusableKey { path: PathBuf, error: String },
    #[error("{}: not a CA certificate (no basicConstraints CA:TRUE), so it cannot issue", path.display())]
    NotCa { path: PathBuf },
    #[error("{} is not the key of {}", key.display(), cert.display())]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("{} is not signed by any trust anchor in {}: the two come from different authorities", cert.display(), anchors.display())]
    NotSignedByAnchor { cert: PathBuf, anchors: PathBuf },
}

impl Authority {
    /// A new trust anchor for `trust_domain` and an issuer it signs, both valid from a little
    /// before now ([`CLOCK_SKEW_ALLOWANCE`]) for `lifetimes`.
    pub fn generate(trust_domain: &str, lifetimes: Lifetimes) -> Result<Authority, AuthorityError> {
        check_trust_domain(trust_domain)?;
        if lifetimes.issuer > lifetimes.anchor {
            return Err(AuthorityError::IssuerOutlivesAnchor {
                issuer: lifetimes.issuer,
                anchor: lifetimes.anchor,
            });
        }
        let generate = |what| move |error| AuthorityError::Generate { what, error };
        let not_before = whole_seconds(SystemTime::now() - CLOCK_SKEW_ALLOWANCE);

        let anchor_key = KeyPair::generate().map_err(generate("trust anchor's key"))?;
        let id = authority_id(&anchor_key);
        // Path length 1: the anchor signs issuers, which sign only leaves.
        let anchor_params = ca_params(
            &format!("root.mesh.{trust_domain}"),
            &id,
            trust_domain,
            BasicConstraints::Constrained(1),
            not_before,
            lifetimes.anchor,
        )
        .map_err(generate("trust anchor"))?;
        let anchor = anchor_params
            .self_signed(&anchor_key)
            .map_err(generate("trust anchor"))?;

        let issuer_key = KeyPair::generate().map_err(generate("issuer's key"))?;
        let mut issuer_params = ca_params(
            &format!("identity.mesh.{trust_domain}"),
            &id,
            trust_domain,
            BasicConstraints::Constrained(0),
            not_before,
            lifetimes.issuer,
        )
        .map_err(generate("issuer"))?;
        issuer_params.use_authority_key_identifier_extension = true;
        let signer = rcgen::Issuer::from_params(&anchor_params, &anchor_key);
        let issuer_cert = issuer_params
            .signed_by(&issuer_key, &signer)
            .map_err(generate("issuer"))?;

        Ok(Authority {
            anchors_pem: anchor.pem(),
            anchors: vec![anchor.der().clone()],
            issuer_pem: issuer_cert.pem(),
            issuer_cert: issuer_cert.der().clone(),
            issuer: rcgen::Issuer::new(issuer_params, issuer_key),
            trust_domain: Some(trust_domain.to_string()),
            issuer_not_after: whole_seconds(not_before + lifetimes.issuer),
        })
    }

    /// Writes `ca.crt`, `issuer.crt` and `issuer.key` (0600) into `dir` (made 0700 if missing),
    /// all or none; with [`Existing::Refuse`], nothing is written if any of them is there.
    pub fn write(&self, dir: &Path, existing: Existing) -> Result<(), AuthorityError> {
        staged::create_dir(dir, 0o700)?;
        let mut files = StagedFiles::new();
        files.stage(
            &dir.join(ANCHORS_FILE),
            self.anchors_pem.as_bytes(),
            Access::Public,
        )?;
        files.stage(
            &dir.join(ISSUER_CERT_FILE),
            self.issuer_pem.as_bytes(),
            Access::Public,
        )?;
        let key = self.issuer.key().serialize_pem();
        files.stage(&dir.join(ISSUER_KEY_FILE), key.as_bytes(), Access::Owner)?;
        files.commit(existing)?;
        Ok(())
    }

    /// Reads the authority in `dir`, checking that the key is the issuer's, that the issuer is a
    /// CA and that a trust anchor signed it. An expired issuer loads (to be inspected); issuing
    /// from it is refused.
    pub fn load(dir: &Path) -> Result<Authority, AuthorityError> {
        let anchors_path = dir.join(ANCHORS_FILE);
        let cert_path = dir.join(ISSUER_CERT_FILE);
        let key_path = dir.join(ISSUER_KEY_FILE);
        let (anchors_pem, anchors) = read_certificates(&anchors_path)?;
        let (issuer_pem, issuer_chain) = read_certificates(&cert_path)?;
        let key_pem = read_text(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| AuthorityError::UnusableKey {
            path: key_path.clone(),
            error: e.to_string(),
        })?;
        let issuer_cert = issuer_chain[0].clone();
        let unreadable = |path: &Path| {
            let path = path.to_owned();
            move |e: x509_parser::nom::Err<x509_parser::error::X509Error>| {
                AuthorityError::Unreadable {
                    path,
                    error: format!("not a readable X.509 certificate: {e}"),
                }
            }
        };
        let (_, parsed) =
            X509Certificate::from_der(&issuer_cert).map_err(unreadable(&cert_path))?;
        if !parsed.is_ca() {
            return Err(AuthorityError::NotCa { path: cert_path });
        }
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(AuthorityError::KeyMismatch {
                key: key_path,
                cert: cert_path,
            });
        }
        // Signed by an anchor, directly or through the rest of issuer.crt, each by the next.
        let mut chain = Vec::with_capacity(issuer_chain.len());
        for der in &issuer_chain {
            chain.push(
                X509Certificate::from_der(der)
                    .map_err(unreadable(&cert_path))?
                    .1,
            );
        }
        let mut parsed_anchors = Vec::with_capacity(anchors.len());
        for der in &anchors {
            parsed_anchors.push(
                X509Certificate::from_der(der)
                    .map_err(unreadable(&anchors_path))?
                    .1,
            );
        }
        let links = chain
            .windows(2)
            .all(|pair| pair[0].verify_signature(Some(pair[1].public_key())).is_ok());
        let top = chain.last().unwrap_or(&parsed);
        let anchored = parsed_anchors
            .iter()
            .any(|anchor| top.verify_signature(Some(anchor.public_key())).is_ok());
        if !(links && anchored) {
            return Err(AuthorityError::NotSignedByAnchor {
                cert: cert_path,
                anchors: anchors_path,
            });
        }
        let trust_domain = spiffe_trust_domain(&parsed);
        let issuer_not_after = from_unix(parsed.validity().not_after.timestamp());
        let issuer = rcgen::Issuer::from_ca_cert_der(&issuer_cert, key).map_err(|e| {
            AuthorityError::Unreadable {
                path: cert_path.clone(),
                error: format!("cannot issue with it: {e}"),
            }
        })?;
        Ok(Authority {
            anchors_pem,
            anchors,
            issuer_pem,
            issuer_cert,
            issuer,
            trust_domain,
            issuer_not_after,
        })
    }

    /// The trust domain its certificates name (`spiffe://<trust-domain>`), if they name one
    /// (an authority made by another tool may not).
    pub fn trust_domain(&self) -> Option<&str> {
        self.trust_domain.as_deref()
    }

    /// The first trust anchor (the one `generate` made).
    pub fn anchor(&self) -> &CertificateDer<'static> {
        &self.anchors[0]
    }

    /// The issuer's certificate.
    pub fn issuer_certificate(&self) -> &CertificateDer<'static> {
        &self.issuer_cert
    }

    /// When the issuer expires.
    pub fn issuer_not_after(&self) -> SystemTime {
        self.issuer_not_after
    }
}

/// What tells two authorities' certificates apart by name: the first 4 bytes of the SHA-256 of
/// the anchor's public key, in hex. Verifiers find a certificate's issuer by name; were every
/// authority's anchor named alike, a leaf from another authority would fail on a signature
/// (`BadSignature`) instead of as what it is, an unknown issuer, which the proxy explains as
/// "another trust anchor".
fn authority_id(anchor_key: &KeyPair) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, anchor_key.public_key_raw());
    digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parameters of a CA certificate named `common_name` in authority `id` for `trust_domain`.
fn ca_params(
    common_name: &str,
    id: &str,
    trust_domain: &str,
    path_length: BasicConstraints,
    not_before: SystemTime,
    lifetime: Duration,
) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.distinguished_name.push(
        DnType::OrganizationalUnitName,
        format!("mesh authority {id}"),
    );
    params.is_ca = IsCa::Ca(path_length);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.subject_alt_names = vec![SanType::URI(rcgen::string::Ia5String::try_from(format!(
        "spiffe://{trust_domain}"
    ))?)];
    params.not_before = not_before.into();
    params.not_after = whole_seconds(not_before + lifetime).into();
    Ok(params)
}

/// The trust domain of a signing certificate's SPIFFE ID (`spiffe://cluster.local`).
fn spiffe_trust_domain(cert: &X509Certificate<'_>) -> Option<String> {
    let sans = cert.subject_alternative_name().ok()??;
    sans.value.general_names.iter().find_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => uri
            .strip_prefix("spiffe://")
            .map(|d| d.trim_end_matches('/'))
            .filter(|d| !d.contains('/') && check_trust_domain(d).is_ok())
            .map(String::from),
        _ => None,
    })
}

/// `t` without its fraction of a second, as a certificate records it (so what mesh says of a
/// certificate's validity is what the certificate says).
pub(super) fn whole_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

fn read_text(path: &Path) -> Result<String, AuthorityError> {
    let bytes = super::files::read_pem_file(path).map_err(|error| AuthorityError::Read {
        path: path.to_owned(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|_| AuthorityError::Unreadable {
        path: path.to_owned(),
        error: "not PEM text".into(),
    })
}

/// A PEM file's text and its certificates (at least one).
fn read_certificates(
    path: &Path,
) -> Result<(String, Vec<CertificateDer<'static>>), AuthorityError> {
    let text = read_text(path)?;
    let certs = super::files::pem_certificates(text.as_bytes()).map_err(|error| match error {
        None => AuthorityError::NoCertificate {
            path: path.to_owned(),
        },
        Some(error) => AuthorityError::Unreadable {
            path: path.to_owned(),
            error,
        },
    })?;
    Ok((text, certs))
}

#[cfg(test)]
mod tests;
