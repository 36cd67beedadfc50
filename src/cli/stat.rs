//! `mesh stat RESOURCE`: golden metrics per resource, from the proxies.

use std::process::ExitCode;

use clap::Args;

use super::args::{VizArgs, VizOutput};
use super::viz_common::{gather, query, report_unreachable};
use crate::viz::{model, print};

/// Show success rate, request rate, latency and TCP connections per resource
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mesh stat deploy -n emojivoto\n  mesh stat deploy/web -n emojivoto --to deploy/voting -t 10m\n  mesh stat ns -o json"
)]
pub struct StatArgs {
    /// RESOURCE: TYPE, TYPE/NAME or TYPE NAME… (ns, deploy, sts, ds, job, cj, rs, rc, po, svc)
    #[arg(required = true, value_name = "RESOURCE")]
    pub resources: Vec<String>,

    #[command(flatten)]
    pub viz: VizArgs,
}

/// Runs `mesh stat`.
pub fn run(args: StatArgs) -> anyhow::Result<ExitCode> {
    let query = query(&args.viz, &args.resources)?;
    let proxies = gather(&args.viz, &query)?;
    let rows = model::stat_rows(&query, &proxies);
    let text = match args.viz.output.output {
        VizOutput::Json => print::stat_json(&rows),
        o => print::stat_table(
            &rows,
            args.viz.namespaces.all_namespaces,
            o == VizOutput::Wide,
        ),
    };
    super::print_stdout(&text)?;
    Ok(if report_unreachable(&proxies) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
