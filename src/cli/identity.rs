//! `mesh identity`: mesh's own certificate authority for mutual TLS between proxies. `init` makes
//! a trust anchor and an issuer, `issue` a workload's certificate as `mesh proxy --identity-dir`
//! reads it, `inspect` reads any of them back (the library's `mtls::{authority, issue, inspect}`).
//! One file per subcommand: `identity_init.rs`, `identity_issue.rs`, `identity_inspect.rs`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{identity_init, identity_inspect, identity_issue};

/// Make a trust anchor and an issuer, issue workload certificates from them for mutual TLS
/// between proxies, and inspect certificates
#[derive(Debug, Args)]
#[command(after_help = "\
An authority directory holds ca.crt (the trust anchor every proxy trusts), issuer.crt and
issuer.key (0600), as Linkerd's identity has them. An identity directory holds tls.crt (the
workload's certificate, then the issuer), tls.key (0600) and ca.crt: what `mesh proxy
--identity-dir` reads, again whenever the files change. Issue again before a certificate expires
(24h by default) to rotate it without a restart; see docs/identity.md.

Examples:
  mesh identity init --dir ./mesh-identity
  mesh identity issue -n emojivoto --service-account web --authority ./mesh-identity --out ./web-id
  mesh identity inspect ./web-id")]
pub struct IdentityArgs {
    #[command(subcommand)]
    pub command: IdentityCommand,
}

/// The subcommands of `mesh identity`.
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    Init(identity_init::InitArgs),
    Issue(identity_issue::IssueArgs),
    Inspect(identity_inspect::InspectArgs),
}

/// Runs `mesh identity …`.
pub fn run(args: IdentityArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        IdentityCommand::Init(args) => identity_init::run(args),
        IdentityCommand::Issue(args) => identity_issue::run(args),
        IdentityCommand::Inspect(args) => identity_inspect::run(args),
    }
}

/// A certificate's lifetime: over a minute, since it starts 20 s in the past (for clocks a
/// little behind), and one shorter would be expired, or nearly, when written.
pub(crate) fn parse_certificate_lifetime(s: &str) -> Result<std::time::Duration, String> {
    match super::args::parse_duration(s)? {
        d if d <= std::time::Duration::from_secs(60) => Err(format!(
            "must be longer than 1m: certificates start {}s in the past (for clocks a little \
             behind), so one of {s} would be expired, or nearly, when written",
            crate::mtls::authority::CLOCK_SKEW_ALLOWANCE.as_secs()
        )),
        d => Ok(d),
    }
}

/// `--trust-domain`: a DNS name, as a SPIFFE trust domain must be.
pub(crate) fn parse_trust_domain(s: &str) -> Result<String, String> {
    crate::mtls::id::check_trust_domain(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

/// What a command wrote, one file a row: `wrote PATH  WHAT`, further lines of WHAT under it.
pub(crate) fn wrote(files: &[(String, Vec<String>)]) -> String {
    let width = files.iter().map(|(path, _)| path.len()).max().unwrap_or(0);
    let mut text = String::new();
    for (path, what) in files {
        for (i, line) in what.iter().enumerate() {
            let head = if i == 0 { "wrote" } else { "" };
            let path = if i == 0 { path.as_str() } else { "" };
            text += &format!("{head:5} {path:width$}  {line}\n");
        }
    }
    text
}

/// A duration as people read a certificate's time left: `364d 23h`, `23h 59m`, `59m 59s`, `59s`.
pub(crate) fn human_duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    match () {
        _ if d > 0 => format!("{d}d {h}h"),
        _ if h > 0 => format!("{h}h {m}m"),
        _ if m > 0 => format!("{m}m {s}s"),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn time_left_reads_in_its_two_largest_units() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(3599), "59m 59s");
        assert_eq!(human_duration(86_399), "23h 59m");
        assert_eq!(human_duration(365 * 86_400 - 1), "364d 23h");
    }
}
