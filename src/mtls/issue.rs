//! Workload certificates from mesh's own authority (`mesh identity issue`): a short-lived leaf for
//! one [`TlsId`], written as the identity directory a proxy reads (`--identity-dir`).
//!
//! A leaf is what [`super::files::Credentials::load`] accepts and Linkerd's proxy would too:
//! ECDSA P-256; the DNS-style identity name as a DNS SAN (and the subject's CN), the SPIFFE ID as
//! a URI SAN; extended key usage server *and* client auth (each proxy is both); the chain is the
//! leaf then the issuer. Leaves are meant to be replaced often (24 h by default, as Linkerd's);
//! none outlives its issuer.
//!
//! # Writing over a live identity directory
//!
//! [`Leaf::write`] stages `ca.crt`, `tls.key` and `tls.crt` in full first, then renames them into
//! place in that order ([`super::staged`]): the trust anchors first, so a proxy never holds a
//! certificate whose anchor it lacks; the key just before its certificate. A proxy reading in the
//! microseconds between the last two renames sees the new key with the old certificate, refuses the
//! pair (`do not match`), keeps serving with its last good one and reads again at its next poll
//! ([`super::reload`]), when the set is whole.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, SanType,
};

use super::authority::{whole_seconds, Authority, ANCHORS_FILE};
use super::certificate::rfc3339;
use super::files::SECRET_LAYOUT;
use super::id::TlsId;
use super::staged::{self, Access, Existing, StagedFiles, WriteError};

/// How long a leaf is valid unless told otherwise: a day, as Linkerd's identity issues them.
pub const DEFAULT_LEAF_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A workload's certificate, its key and what it chains to, ready to be written.
pub struct Leaf {
    /// The identity it proves.
    pub id: TlsId,
    /// Its validity, as the certificate records it (whole seconds).
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The lifetime asked for was cut short: the issuer expires first.
    pub cut_to_issuer: bool,
    /// The leaf certificate's DER.
    pub der: rustls::pki_types::CertificateDer<'static>,
    /// `tls.crt`: the leaf, then the issuer (and anything above it but the anchor).
    chain_pem: String,
    /// `ca.crt`: the authority's trust anchors.
    anchors_pem: String,
    key: KeyPair,
}

impl fmt::Debug for Leaf {
    /// Everything but the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("id", &self.id.dns_name())
            .field("not_before", &rfc3339(self.not_before))
            .field("not_after", &rfc3339(self.not_after))
            .finish_non_exhaustive()
    }
}

/// Why a leaf could not be issued or written.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the authority is for trust domain {authority}, not {requested} (its certificates name spiffe://{authority}): issue for {authority}, or make an authority for {requested}")]
    OtherTrustDomain {
        authority: String,
        requested: String,
    },
    #[error("the issuer's certificate expired at {} (the certificate would start at {}): make a new authority", rfc3339(*issuer_not_after), rfc3339(*not_before))]
    IssuerExpired {
        issuer_not_after: SystemTime,
        not_before: SystemTime,
    },
    #[error("a certificate's lifetime must be longer than 0")]
    ZeroLifetime,
    #[error("generating the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Authority {
    /// Issues a leaf for `id`, valid from `not_before` for `lifetime` (cut at the issuer's
    /// expiry, and said so in [`Leaf::cut_to_issuer`]). A `not_before` in the past is allowed: a
    /// certificate already expired, for tests of refusals.
    pub fn issue(
        &self,
        id: &TlsId,
        not_before: SystemTime,
        lifetime: Duration,
    ) -> Result<Leaf, IssueError> {
        if let Some(domain) = &self.trust_domain {
            if *domain != id.trust_domain {
                return Err(IssueError::OtherTrustDomain {
                    authority: domain.clone(),
                    requested: id.trust_domain.clone(),
                });
            }
        }
        if lifetime.is_zero() {
            return Err(IssueError::ZeroLifetime);
        }
        let not_before = whole_seconds(not_before);
        if not_before >= self.issuer_not_after {
            return Err(IssueError::IssuerExpired {
                issuer_not_after: self.issuer_not_after,
                not_before,
            });
        }
        let wanted = whole_seconds(not_before + lifetime);
        let not_after = wanted.min(self.issuer_not_after);

        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, id.dns_name());
        params.subject_alt_names = vec![
            SanType::DnsName(rcgen::string::Ia5String::try_from(id.dns_name())?),
            SanType::URI(rcgen::string::Ia5String::try_from(id.spiffe_id())?),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        let cert = params.signed_by(&key, &self.issuer)?;

        let mut chain_pem = cert.pem();
        if !chain_pem.ends_with('\n') {
            chain_pem.push('\n');
        }
        chain_pem.push_str(&self.issuer_pem);
        Ok(Leaf {
            id: id.clone(),
            not_before,
            not_after,
            cut_to_issuer: not_after < wanted,
            der: cert.der().clone(),
            chain_pem,
            anchors_pem: self.anchors_pem.clone(),
            key,
        })
    }
}

impl Leaf {
    /// `tls.crt`'s text: the leaf, then its issuer.
    pub fn chain_pem(&self) -> &str {
        &self.chain_pem
    }

    /// `tls.key`'s text: the private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// `ca.crt`'s text: the trust anchors.
    pub fn anchors_pem(&self) -> &str {
        &self.anchors_pem
    }

    /// Writes `ca.crt`, `tls.key` (0600) and `tls.crt` into `dir` (made if missing), replacing
    /// what is there, in the order the module docs explain; on an error nothing is replaced.
    pub fn write(&self, dir: &Path) -> Result<(), IssueError> {
        let [cert, key, anchors] = SECRET_LAYOUT;
        debug_assert_eq!(anchors, ANCHORS_FILE);
        staged::create_dir(dir, 0o755)?;
        let mut files = StagedFiles::new();
        files.stage(
            &dir.join(anchors),
            self.anchors_pem.as_bytes(),
            Access::Public,
        )?;
        files.stage(&dir.join(key), self.key_pem().as_bytes(), Access::Owner)?;
        files.stage(&dir.join(cert), self.chain_pem.as_bytes(), Access::Public)?;
        files.commit(Existing::Replace)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
