//! `mesh proxy`'s identity flags (mutual TLS): where the certificate is, who the proxy is, and
//! which inbound ports require a proven caller. Flattened into `mesh proxy`'s flags.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::identity::Identity;
use crate::mtls::files::{FileNames, IdentityPaths};
use crate::mtls::id::{
    DEFAULT_CONTROL_PLANE_NAMESPACE, DEFAULT_SERVICE_ACCOUNT, DEFAULT_TRUST_DOMAIN,
};
use crate::mtls::reload::TlsStore;
use crate::mtls::TlsId;
use crate::proxy::RequireIdentity;

/// The identity flags.
#[derive(Debug, Clone, Args)]
pub struct IdentityArgs {
    /// Serve and call with mutual TLS, with the certificate in DIR: `tls.crt`, `tls.key`,
    /// `ca.crt` (cert-manager, `mesh identity issue`) or spiffe-helper's `svid.pem`, `key.pem`,
    /// `bundle.pem`; read again when the files change (docs/identity.md)
    #[arg(long, env = "MESH_IDENTITY_DIR", value_name = "DIR")]
    pub identity_dir: Option<PathBuf>,

    /// The certificate (and intermediates) file, if not the layout's (relative: in DIR)
    #[arg(long, value_name = "FILE", requires = "identity_dir")]
    pub identity_cert: Option<PathBuf>,

    /// The private key file, if not the layout's (relative: in DIR)
    #[arg(long, value_name = "FILE", requires = "identity_dir")]
    pub identity_key: Option<PathBuf>,

    /// The trust anchors file, if not the layout's (relative: in DIR)
    #[arg(long, value_name = "FILE", requires = "identity_dir")]
    pub identity_trust_anchors: Option<PathBuf>,

    /// This workload's service account: with --namespace, the identity its certificate must prove
    #[arg(long, env = "MESH_SERVICE_ACCOUNT", default_value = DEFAULT_SERVICE_ACCOUNT, value_name = "NAME")]
    pub service_account: String,

    /// The trust domain of identities (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`)
    #[arg(long, env = "MESH_TRUST_DOMAIN", default_value = DEFAULT_TRUST_DOMAIN, value_name = "DOMAIN")]
    pub trust_domain: String,

    /// The control-plane namespace in identity names
    /// (`<sa>.<ns>.serviceaccount.identity.<this>.<trust-domain>`; Linkerd's is `linkerd`)
    #[arg(long, env = "MESH_CONTROL_PLANE_NAMESPACE", default_value = DEFAULT_CONTROL_PLANE_NAMESPACE, value_name = "NS")]
    pub control_plane_namespace: String,

    /// Refuse (403, explained) inbound requests that did not come over mutual TLS: `all`, or a
    /// comma-separated list of app ports
    #[arg(long, env = "MESH_REQUIRE_IDENTITY", value_name = "all|PORTS", value_parser = parse_require, requires = "identity_dir")]
    pub require_identity: Option<RequireIdentity>,
}

impl IdentityArgs {
    /// Loads the identity for `workload` (refusing to start on files that do not check), and
    /// the ports that require it.
    pub fn load(
        &self,
        workload: &Identity,
    ) -> anyhow::Result<(Option<Arc<TlsStore>>, RequireIdentity)> {
        let require = self.require_identity.clone().unwrap_or_default();
        let Some(dir) = &self.identity_dir else {
            return Ok((None, require));
        };
        let id = TlsId::new(
            &self.service_account,
            &workload.namespace,
            &self.trust_domain,
            &self.control_plane_namespace,
        )
        .context("--service-account, --namespace, --trust-domain")?;
        let names = FileNames {
            cert: self.identity_cert.clone(),
            key: self.identity_key.clone(),
            trust_anchors: self.identity_trust_anchors.clone(),
        };
        let paths = IdentityPaths::in_dir(dir, &names);
        let store = TlsStore::load(paths, id).context("--identity-dir")?;
        Ok((Some(Arc::new(store)), require))
    }
}

fn parse_require(s: &str) -> Result<RequireIdentity, String> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(RequireIdentity::All);
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("{p:?} is not a port: give `all` or ports like 8080,9090"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(RequireIdentity::Ports)
}
