//! `mesh routes RESOURCE`: golden metrics per ServiceProfile route, from the proxies.

use std::process::ExitCode;

use clap::Args;

use super::args::{VizArgs, VizOutput};
use super::viz_common::{gather, query, report_unreachable};
use crate::viz::{model, print};

/// Show success rate, request rate and latency per route
#[derive(Debug, Args)]
#[command(
    after_help = "With --to, the numbers are the callers' (their outbound proxies'); -o wide then \
shows EFFECTIVE (what callers saw) beside ACTUAL (every try the servers answered, retries \
included), and -o json effective_* and actual_* fields.\n\nRoutes are those of the \
ServiceProfile in force, and [DEFAULT].\n\nExamples:\n  mesh routes deploy/voting -n emojivoto\n  mesh routes deploy/web -n emojivoto --to deploy/voting -o wide"
)]
pub struct RoutesArgs {
    /// RESOURCE: TYPE/NAME (deploy/web, svc/web-svc), or TYPE NAME…
    #[arg(required = true, value_name = "RESOURCE")]
    pub resources: Vec<String>,

    #[command(flatten)]
    pub viz: VizArgs,
}

/// Runs `mesh routes`.
pub fn run(args: RoutesArgs) -> anyhow::Result<ExitCode> {
    let query = query(&args.viz, &args.resources)?;
    let proxies = gather(&args.viz, &query)?;
    let rows = model::route_rows(&query, &proxies);
    let wide = args.viz.output.output == VizOutput::Wide;
    let text = match args.viz.output.output {
        // As Linkerd's: with --to, JSON rows carry the effective and actual numbers.
        VizOutput::Json => print::routes_json(&rows, query.to.is_some()),
        _ => print::routes_table(&rows, wide),
    };
    super::print_stdout(&text)?;
    Ok(if report_unreachable(&proxies) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
