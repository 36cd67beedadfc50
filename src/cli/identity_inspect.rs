//! `mesh identity inspect`: what a certificate says and whether it holds up (`mtls::inspect`),
//! as text or JSON; exit 1 when it does not.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::args::{OutputArg, OutputFormats};
use super::identity::human_duration;
use crate::mtls::certificate::rfc3339;
use crate::mtls::inspect::{inspect, Inspection};

/// Show a certificate's identities, issuer, validity and time left, and whether it chains to the
/// ca.crt beside it; exit 1 if it is expired, does not chain, or its key is not its own
#[derive(Debug, Args)]
#[command(after_help = "\
A directory shows the certificate it is for: an identity directory's tls.crt (or svid.pem),
else an authority's issuer.crt, else its ca.crt; the key beside it is checked too. A file shows
its first certificate, checked against the ca.crt in the same directory.

Example:
  mesh identity inspect ./web-id -o json")]
pub struct InspectArgs {
    /// An identity or authority directory, or a PEM certificate file
    #[arg(value_name = "DIR|FILE")]
    pub path: PathBuf,

    #[command(flatten)]
    pub output: OutputArg<InspectOutput>,
}

/// `-o` values of `mesh identity inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectOutput {
    /// One `field: value` line each
    Text,
    /// One JSON object (its fields are documented in src/mtls/inspect.rs)
    Json,
}

impl OutputFormats for InspectOutput {
    const DEFAULT: &'static str = "text";
}

/// Runs `mesh identity inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let now = SystemTime::now();
    let seen = inspect(&args.path, now)?;
    let text = match args.output.output {
        InspectOutput::Text => render_text(&seen),
        InspectOutput::Json => {
            serde_json::to_string_pretty(&seen).context("rendering JSON")? + "\n"
        }
    };
    super::print_stdout(&text)?;
    if seen.holds_up(now) {
        Ok(ExitCode::SUCCESS)
    } else {
        super::diag!(
            "mesh: {} does not hold up: {}",
            seen.file.display(),
            faults(&seen, now)
        );
        Ok(ExitCode::from(1))
    }
}

/// The report, one `field: value` line each.
fn render_text(seen: &Inspection) -> String {
    let mut lines = vec![
        ("file", seen.file.display().to_string()),
        ("subject", seen.subject.clone()),
    ];
    for id in &seen.spiffe_ids {
        lines.push(("spiffe id", id.clone()));
    }
    for name in &seen.dns_names {
        lines.push(("dns name", name.clone()));
    }
    lines.push(("issuer", seen.issuer.clone()));
    lines.push(("ca", if seen.is_ca { "yes" } else { "no" }.into()));
    lines.push((
        "valid",
        format!(
            "{} to {} ({})",
            rfc3339(seen.not_before),
            rfc3339(seen.not_after),
            time_left(seen.seconds_left)
        ),
    ));
    lines.push(("sha256", seen.sha256.clone()));
    lines.push(("chains to", chains(seen)));
    if let (Some(key), Some(matches)) = (&seen.key, seen.key_matches) {
        let verdict = if matches { "its key" } else { "NOT its key" };
        lines.push(("key", format!("{}: {verdict}", key.display())));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    lines
        .iter()
        .map(|(k, v)| format!("{:width$} {v}\n", format!("{k}:")))
        .collect()
}

fn time_left(seconds: i64) -> String {
    if seconds >= 0 {
        format!("{} left", human_duration(seconds.unsigned_abs()))
    } else {
        format!("EXPIRED {} ago", human_duration(seconds.unsigned_abs()))
    }
}

fn chains(seen: &Inspection) -> String {
    match (&seen.trust_anchors, seen.chains) {
        (Some(anchors), Some(true)) => format!("{}: yes", anchors.display()),
        (Some(anchors), _) => format!(
            "{}: NO ({})",
            anchors.display(),
            seen.chain_error.as_deref().unwrap_or("unknown")
        ),
        (None, _) => "not checked: no ca.crt beside it".into(),
    }
}

/// Why the certificate does not hold up, for the line on stderr.
fn faults(seen: &Inspection, now: SystemTime) -> String {
    let mut faults = Vec::new();
    if now < seen.not_before {
        faults.push(format!("not valid before {}", rfc3339(seen.not_before)));
    }
    if now > seen.not_after {
        faults.push(format!("expired at {}", rfc3339(seen.not_after)));
    }
    if seen.chains == Some(false) {
        faults.push("it does not chain to the trust anchors".into());
    }
    if seen.key_matches == Some(false) {
        faults.push("the key beside it is not its own".into());
    }
    faults.join("; ")
}
