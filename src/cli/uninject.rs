//! `mesh uninject`: print manifests with what `mesh inject` added taken out again.

use std::process::ExitCode;

use clap::Args;

use super::inject::{finish, rewrite_all};
use crate::kubernetes;

/// Take what `mesh inject` added out of Kubernetes manifests
#[derive(Debug, Args)]
#[command(after_help = "\
Pods marked mesh.io/injected-version lose the mesh-init and mesh-proxy containers, the
volumes inject added (mesh-init-xtables-lock, mesh-identity, mesh-proxy-api-access), the mesh.io
labels and annotations, and get back the prometheus.io and mesh.io/identity-mode annotations and
the terminationGracePeriodSeconds they had before inject. Everything else passes through.

Example:
  mesh inject kubernetes/web.yaml | mesh uninject -")]
pub struct UninjectArgs {
    /// Manifest files (multi-document YAML, `kind: List`); `-` reads stdin
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<String>,
}

/// Runs `mesh uninject`.
pub fn run(args: UninjectArgs) -> anyhow::Result<ExitCode> {
    let rewritten = rewrite_all(&args.files, |name, text| {
        kubernetes::rewrite(name, text, kubernetes::uninject::uninject)
    })?;
    finish(&rewritten)
}
