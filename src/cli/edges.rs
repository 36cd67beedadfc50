//! `mesh edges TYPE`: which resources talk to which, from the proxies.

use std::process::ExitCode;

use clap::Args;

use super::args::{VizArgs, VizOutput};
use super::viz_common::{gather, query, report_unreachable};
use crate::viz::{model, print};

/// Show which resources of a type send requests or connections to which
#[derive(Debug, Args)]
#[command(
    after_help = "SECURED is √ when the edge's traffic in the window was all mutual TLS, else `not \
secured:` and why (Local Identity Disabled: the client's proxy has no --identity-dir; Not Provided \
By Service Discovery: discovery knows no identity for the server; No TLS From Remote: the caller \
spoke plaintext). -o wide adds CLIENT_ID and SERVER_ID, the identities proven \
(<service-account>.<namespace>).\n\nExamples:\n  mesh edges deploy -n emojivoto\n  mesh edges deploy -n emojivoto -o wide\n  mesh edges po -A -o json"
)]
pub struct EdgesArgs {
    /// TYPE (deploy, sts, ds, job, cj, rs, rc, po, ns), or TYPE/NAME for one resource's edges
    /// (deploy/web: web's edges with other deployments)
    #[arg(value_name = "TYPE")]
    pub kind: String,

    #[command(flatten)]
    pub viz: VizArgs,
}

/// Runs `mesh edges`.
pub fn run(args: EdgesArgs) -> anyhow::Result<ExitCode> {
    let query = query(&args.viz, std::slice::from_ref(&args.kind))?;
    let proxies = gather(&args.viz, &query)?;
    let edges = model::edges(&query, &proxies);
    let text = match args.viz.output.output {
        VizOutput::Json => print::edges_json(&edges),
        o => print::edges_table(&edges, o == VizOutput::Wide),
    };
    super::print_stdout(&text)?;
    Ok(if report_unreachable(&proxies) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
