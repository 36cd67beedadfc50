//! `mesh identity issue`: a workload's certificate from the authority, written as the identity
//! directory `mesh proxy --identity-dir` reads (`mtls::issue`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;

use super::args::NamespaceArg;
use super::identity::{human_duration, parse_certificate_lifetime, parse_trust_domain};
use super::identity_init::DEFAULT_AUTHORITY_DIR;
use crate::mtls::authority::{Authority, CLOCK_SKEW_ALLOWANCE};
use crate::mtls::certificate::rfc3339;
use crate::mtls::files::SECRET_LAYOUT;
use crate::mtls::id::{DEFAULT_CONTROL_PLANE_NAMESPACE, DEFAULT_TRUST_DOMAIN};
use crate::mtls::TlsId;

/// Issue a certificate for a service account in a namespace (ECDSA P-256, 24h by default) and
/// write it as an identity directory: tls.crt, tls.key, ca.crt
#[derive(Debug, Args)]
#[command(
    mut_arg("namespace", |a| a.help("Namespace of the workload the certificate is for")),
    after_help = "\
The files are written whole and renamed into place, so a proxy watching OUT picks up the new
certificate without a restart. Then run the proxy with the same identity:
  mesh proxy -n NAMESPACE --service-account NAME --identity-dir OUT …

Example:
  mesh identity issue -n emojivoto --service-account web --authority ./mesh-identity --out ./web-id"
)]
pub struct IssueArgs {
    #[command(flatten)]
    pub namespace: NamespaceArg,

    /// The workload's service account
    #[arg(long, value_name = "NAME", required = true, value_parser = parse_label)]
    pub service_account: String,

    /// The authority directory (`mesh identity init`)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_AUTHORITY_DIR)]
    pub authority: PathBuf,

    /// The identity directory to write (default: `./<service-account>.<namespace>`)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// How long the certificate is valid (from 20s ago, for clocks a little behind)
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_certificate_lifetime)]
    pub lifetime: Duration,

    /// The trust domain (default: the authority's, else cluster.local)
    #[arg(long, value_name = "DOMAIN", value_parser = parse_trust_domain)]
    pub trust_domain: Option<String>,

    /// The control-plane namespace in the identity name
    /// (`<sa>.<ns>.serviceaccount.identity.<this>.<trust-domain>`), as the proxies are given it
    #[arg(long, value_name = "NS", default_value = DEFAULT_CONTROL_PLANE_NAMESPACE, value_parser = parse_label)]
    pub control_plane_namespace: String,
}

/// `--service-account`, `--control-plane-namespace`: a DNS label, as identity names need.
fn parse_label(s: &str) -> Result<String, String> {
    crate::profile::names::check_dns1123_label(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

/// Runs `mesh identity issue`.
pub fn run(args: IssueArgs) -> anyhow::Result<ExitCode> {
    let authority = Authority::load(&args.authority).with_context(|| {
        format!(
            "reading the authority in {} (`mesh identity init` makes one)",
            args.authority.display()
        )
    })?;
    let trust_domain = args
        .trust_domain
        .as_deref()
        .or(authority.trust_domain())
        .unwrap_or(DEFAULT_TRUST_DOMAIN);
    let namespace = &args.namespace.namespace;
    let id = TlsId::new(
        &args.service_account,
        namespace,
        trust_domain,
        &args.control_plane_namespace,
    )
    .context("--service-account, --namespace, --trust-domain")?;
    let now = SystemTime::now();
    let leaf = authority.issue(&id, now - CLOCK_SKEW_ALLOWANCE, args.lifetime)?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{}.{namespace}", args.service_account)));
    leaf.write(&out)
        .with_context(|| format!("writing the identity to {}", out.display()))?;

    let mut proxy_flags = format!("-n {namespace} --service-account {}", args.service_account);
    if trust_domain != DEFAULT_TRUST_DOMAIN {
        proxy_flags += &format!(" --trust-domain {trust_domain}");
    }
    if args.control_plane_namespace != DEFAULT_CONTROL_PLANE_NAMESPACE {
        proxy_flags += &format!(
            " --control-plane-namespace {}",
            args.control_plane_namespace
        );
    }
    let left = leaf.not_after.duration_since(now).unwrap_or_default();
    let [cert, key, anchors] = SECRET_LAYOUT.map(|name| out.join(name).display().to_string());
    let mut text = super::identity::wrote(&[
        (
            cert,
            vec![
                id.dns_name(),
                id.spiffe_id(),
                format!(
                    "valid until {} ({} left)",
                    rfc3339(leaf.not_after),
                    human_duration(left.as_secs())
                ),
            ],
        ),
        (key, vec!["its private key (0600)".into()]),
        (anchors, vec!["the trust anchor".into()]),
    ]);
    text += &format!(
        "use: mesh proxy {proxy_flags} --identity-dir {} …\n",
        out.display()
    );
    super::print_stdout(&text)?;
    if leaf.cut_to_issuer {
        super::diag!(
            "mesh: the certificate ends when the issuer does, at {}: make a new authority soon \
             (`mesh identity init --force`) and issue again",
            rfc3339(leaf.not_after)
        );
    }
    Ok(ExitCode::SUCCESS)
}
