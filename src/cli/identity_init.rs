//! `mesh identity init`: a new trust anchor and issuer, written as an authority directory
//! (`mtls::authority`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::identity::{parse_certificate_lifetime, parse_trust_domain};
use crate::mtls::authority::{
    Authority, AuthorityError, Lifetimes, ANCHORS_FILE, ISSUER_CERT_FILE, ISSUER_KEY_FILE,
};
use crate::mtls::certificate::{fingerprint, rfc3339, CertificateFacts};
use crate::mtls::id::{DEFAULT_CONTROL_PLANE_NAMESPACE, DEFAULT_TRUST_DOMAIN};
use crate::mtls::staged::{Existing, WriteError};

/// Where `init` writes the authority and `issue` reads it unless told otherwise.
pub const DEFAULT_AUTHORITY_DIR: &str = "mesh-identity";

/// Make a trust anchor and an issuer it signs (ECDSA P-256), written to DIR as ca.crt,
/// issuer.crt and issuer.key
#[derive(Debug, Args)]
#[command(after_help = "\
The trust anchor's private key is not kept: only the issuer signs certificates. When the issuer
nears its expiry, make a new authority (--force) and issue every workload again.

Example:
  mesh identity init --dir ./mesh-identity")]
pub struct InitArgs {
    /// The authority directory to write (made 0700 if missing)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_AUTHORITY_DIR)]
    pub dir: PathBuf,

    /// The trust domain of the identities it issues (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`)
    #[arg(long, value_name = "DOMAIN", default_value = DEFAULT_TRUST_DOMAIN, value_parser = parse_trust_domain)]
    pub trust_domain: String,

    /// How long the trust anchor is valid
    #[arg(long, value_name = "DURATION", default_value = "87600h", value_parser = parse_certificate_lifetime)]
    pub anchor_lifetime: Duration,

    /// How long the issuer is valid (no longer than the anchor)
    #[arg(long, value_name = "DURATION", default_value = "8760h", value_parser = parse_certificate_lifetime)]
    pub issuer_lifetime: Duration,

    /// Replace an authority already in DIR (proxies trusting its ca.crt then refuse certificates
    /// from the new one until they are given the new ca.crt)
    #[arg(long)]
    pub force: bool,
}

/// Runs `mesh identity init`.
pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let lifetimes = Lifetimes {
        anchor: args.anchor_lifetime,
        issuer: args.issuer_lifetime,
    };
    let authority = Authority::generate(&args.trust_domain, lifetimes)?;
    let replacing = args.force && args.dir.join(ANCHORS_FILE).exists();
    let existing = if args.force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    match authority.write(&args.dir, existing) {
        Err(AuthorityError::Write(WriteError::Exists { path })) => anyhow::bail!(
            "{} exists already: {} holds an authority, whose ca.crt proxies may trust; \
             --force replaces it",
            path.display(),
            args.dir.display()
        ),
        other => {
            other.with_context(|| format!("writing the authority to {}", args.dir.display()))?
        }
    }
    let facts = |der| CertificateFacts::of_der(der, DEFAULT_CONTROL_PLANE_NAMESPACE);
    let anchor = facts(authority.anchor()).context("the new trust anchor")?;
    let file = |name: &str| args.dir.join(name).display().to_string();
    let mut text = super::identity::wrote(&[
        (
            file(ANCHORS_FILE),
            vec![format!(
                "the trust anchor, valid until {}",
                rfc3339(anchor.not_after)
            )],
        ),
        (
            file(ISSUER_CERT_FILE),
            vec![format!(
                "the issuer, valid until {}",
                rfc3339(authority.issuer_not_after())
            )],
        ),
        (
            file(ISSUER_KEY_FILE),
            vec!["the issuer's private key (0600)".into()],
        ),
    ]);
    text += &format!(
        "trust domain: {}\n\
         trust anchor SHA-256 fingerprint: {}\n\
         next: mesh identity issue --authority {} -n NAMESPACE --service-account NAME\n",
        args.trust_domain,
        fingerprint(authority.anchor()),
        args.dir.display(),
    );
    super::print_stdout(&text)?;
    if replacing {
        super::diag!(
            "mesh: a new trust anchor: proxies refuse certificates it issues until their ca.crt is {}",
            file(ANCHORS_FILE)
        );
    }
    Ok(ExitCode::SUCCESS)
}
