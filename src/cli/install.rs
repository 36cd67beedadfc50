//! `mesh install`: print what a cluster needs once (the ServiceProfile CRD, a namespace, the
//! discovery and identity RBAC and the proxies' scrape config), for `kubectl apply -f -`. The
//! manifests are built by `crate::kubernetes::install`.

use std::process::ExitCode;

use clap::Args;

use crate::kubernetes::install::{self, prometheus, rbac, InstallOptions};

/// Print the manifests a cluster needs once before workloads are meshed: the ServiceProfile CRD,
/// a namespace, discovery's read-only RBAC and the proxies' Prometheus scrape config
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  mesh install > mesh-install.yaml\n  \
                        mesh install --no-crd --proxy-namespaces emojivoto\n  \
                        mesh install --prometheus-config\n\n\
                        Apply with `kubectl apply -f mesh-install.yaml`; see docs/kubernetes.md. \
                        The ClusterRole mesh-identity lets the meshed pods' service accounts \
                        request their certificates from cert-manager's csi-driver-spiffe.")]
pub struct InstallArgs {
    /// The namespace to create for mesh's service account and scrape config
    #[arg(short = 'n', long, default_value = install::DEFAULT_NAMESPACE, value_name = "NS",
          value_parser = namespace)]
    pub namespace: String,

    /// Leave out the ServiceProfile CRD: for a cluster that has Linkerd's (`kubectl get crd
    /// serviceprofiles.linkerd.io`), which has the same schema
    #[arg(long)]
    pub no_crd: bool,

    /// Grant discovery's read rights (and the identity's) only to the service accounts of these
    /// namespaces, where meshed pods run (default: every service account in the cluster)
    #[arg(long, value_delimiter = ',', value_name = "NS,…", value_parser = namespace)]
    pub proxy_namespaces: Vec<String>,

    /// Leave out the ClusterRole mesh-identity and its binding (create CertificateRequests, which
    /// cert-manager's csi-driver-spiffe does as each meshed pod's service account): for clusters
    /// where the proxies' identity comes from a secret or SPIRE, or is disabled
    #[arg(long)]
    pub no_identity_rbac: bool,

    /// Print only the Prometheus scrape config (prometheus.yml with the `mesh-proxies` job), to
    /// merge into your own Prometheus
    #[arg(long, conflicts_with_all = ["no_crd", "proxy_namespaces", "namespace", "no_identity_rbac"])]
    pub prometheus_config: bool,
}

fn namespace(s: &str) -> Result<String, String> {
    install::is_dns_label(s)
        .map(|()| s.to_string())
        .map_err(|why| format!("not a namespace name: {why}"))
}

/// Runs `mesh install`.
pub fn run(args: InstallArgs) -> anyhow::Result<ExitCode> {
    if args.prometheus_config {
        super::print_stdout(prometheus::SCRAPE_CONFIG)?;
        return Ok(ExitCode::SUCCESS);
    }
    let options = InstallOptions {
        namespace: args.namespace,
        crd: !args.no_crd,
        subjects: if args.proxy_namespaces.is_empty() {
            rbac::Subjects::AllServiceAccounts
        } else {
            rbac::Subjects::namespaces(args.proxy_namespaces)
        },
        identity_rbac: !args.no_identity_rbac,
    };
    let text = install::manifests(&options)?;
    super::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
