//! `mesh inject`: print manifests with the capture init container and the proxy added to every
//! workload's pods (the library's `kubernetes::inject`), a line per object on stderr.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::args::parse_duration;
use crate::capture::config::DEFAULT_PROXY_UID;
use crate::kubernetes::inject::DEFAULT_IMAGE;
use crate::kubernetes::{self, InjectOptions, KubernetesVersion, Outcome, Rewritten};

/// Add the proxy and its capture init container to the workloads of Kubernetes manifests
#[derive(Debug, Args)]
#[command(after_help = "\
Workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob,
Pod) get a `mesh-init` init container (`mesh init`: root with NET_ADMIN and NET_RAW only, unless
--init-non-root) and the `mesh-proxy` container (`mesh proxy --capture`, as --proxy-uid);
other documents pass through. The proxy's mutual TLS identity is a volume of cert-manager's
csi-driver-spiffe (spiffe.csi.cert-manager.io, which must be installed) mounted read-only at
/var/run/mesh/identity for --identity-dir; mesh.io/identity-secret: NAME mounts that TLS secret
instead, mesh.io/identity: disabled leaves the proxy without one (plaintext), and
mesh.io/trust-domain sets its trust domain. Linkerd's annotations are honoured on the workload or
its pod template: linkerd.io/inject, config.linkerd.io/{skip-inbound-ports, skip-outbound-ports,
skip-subnets, opaque-ports, proxy-await, proxy-enable-native-sidecar, proxy-uid, proxy-gid,
proxy-image, proxy-version}, and mesh.io/skip-outbound-subnets. The manifests go to stdout once
every document has been read; a line per object goes to stderr.

Example:
  mesh inject kubernetes/web.yaml --kubernetes-version 1.28")]
pub struct InjectArgs {
    /// Manifest files (multi-document YAML, `kind: List`); `-` reads stdin
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,

    /// Image of the proxy and the init container (holds `mesh`, `nft` and `iptables`)
    #[arg(long, default_value = DEFAULT_IMAGE, value_name = "IMAGE", value_parser = image_reference)]
    pub image: String,

    /// Put the proxy first in `containers`, the app waiting for it through a postStart `mesh
    /// await`, instead of a native sidecar (an init container with restartPolicy Always); an
    /// annotation config.linkerd.io/proxy-enable-native-sidecar decides over this
    #[arg(long)]
    pub classic: bool,

    /// The cluster's Kubernetes version: native sidecars need 1.29 or later (below it the
    /// classic layout is written)
    #[arg(long, default_value = "1.33", value_name = "X.Y")]
    pub kubernetes_version: KubernetesVersion,

    /// The proxy's uid (`runAsUser`), which `mesh init --proxy-uid` exempts from capture
    #[arg(long, default_value_t = DEFAULT_PROXY_UID, value_name = "UID",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub proxy_uid: u32,

    /// The proxy's --shutdown-grace; the pod's terminationGracePeriodSeconds is raised above it
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,

    /// Run `mesh-init` as uid 65534 (runAsNonRoot) instead of root. Only for an image whose
    /// `nft` and `iptables` binaries carry file capabilities (setcap cap_net_admin,cap_net_raw+ep),
    /// as Linkerd's proxy-init image does: a non-root process loses its added capabilities when
    /// it runs them otherwise
    #[arg(long)]
    pub init_non_root: bool,
}

/// Runs `mesh inject`.
pub fn run(args: InjectArgs) -> anyhow::Result<ExitCode> {
    let options = InjectOptions {
        image: args.image,
        classic: args.classic,
        kubernetes_version: args.kubernetes_version,
        proxy_uid: args.proxy_uid,
        shutdown_grace: args.shutdown_grace,
        init_non_root: args.init_non_root,
    };
    let rewritten = rewrite_all(&args.files, |name, text| {
        kubernetes::rewrite(name, text, |object| {
            kubernetes::inject::inject(object, &options)
        })
    })?;
    finish(&rewritten)
}

/// Reads every input and rewrites it; nothing is returned unless all succeeded.
pub(crate) fn rewrite_all(
    files: &[String],
    mut rewrite: impl FnMut(&str, &str) -> Result<Rewritten, kubernetes::ManifestError>,
) -> anyhow::Result<Vec<Rewritten>> {
    let mut out = Vec::new();
    for file in files {
        let (name, text) = read_input(file)?;
        out.push(rewrite(&name, &text)?);
    }
    Ok(out)
}

/// An input's name for errors and its text: a file, or stdin for `-`.
fn read_input(file: &str) -> anyhow::Result<(String, String)> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        return Ok(("stdin".to_string(), text));
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    Ok((file.to_string(), text))
}

/// Writes the summary to stderr and every document to stdout at once.
pub(crate) fn finish(rewritten: &[Rewritten]) -> anyhow::Result<ExitCode> {
    for outcome in rewritten.iter().flat_map(|r| &r.outcomes) {
        summary(outcome);
    }
    let text = kubernetes::join_documents(rewritten.iter().flat_map(|r| &r.documents));
    super::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn summary(outcome: &Outcome) {
    super::diag!("{outcome}");
}

/// `--image`: an image reference (`reg/mesh:0.1.0`, `mesh@sha256:…`) has no spaces and is not
/// empty, or the kubelet could never pull it.
fn image_reference(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        Err(
            "an image reference has no spaces and is not empty (e.g. reg.example/mesh:0.1.0)"
                .into(),
        )
    } else {
        Ok(s.to_string())
    }
}
