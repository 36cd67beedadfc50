//! What `mesh stat`, `mesh routes` and `mesh edges` share: from flags to the query and the
//! source ([`StatsSource`] chooses and asks), and the footnotes of proxies that did not answer.

use anyhow::Context;

use super::args::VizArgs;
use crate::admin_api::stats::MAX_STATS_WINDOW;
use crate::viz::model::Query;
use crate::viz::resource::{parse_one, parse_resources};
use crate::viz::source::{ProxyStats, StatsSource};

/// The query the flags and resource words ask for.
pub fn query(args: &VizArgs, resources: &[String]) -> anyhow::Result<Query> {
    let parse = |r: &Option<String>| r.as_deref().map(parse_one).transpose();
    Ok(Query {
        resources: parse_resources(resources)?,
        namespace: args.namespaces.scope().map(str::to_string),
        from: parse(&args.from).context("--from")?,
        to: parse(&args.to).context("--to")?,
    })
}

/// Finds the proxies concerned and fetches their windows, from the source the flags choose;
/// fails with what to do when there are none.
pub fn gather(args: &VizArgs, query: &Query) -> anyhow::Result<Vec<ProxyStats>> {
    let source = StatsSource::choose(
        args.prometheus.clone(),
        args.proxy_admin.proxy_admin.clone(),
        args.registry.dir(),
    );
    if !matches!(source, StatsSource::Prometheus(_)) && args.window > MAX_STATS_WINDOW {
        // Refused here rather than by every proxy's 400: the proxies keep an hour of history.
        return Err(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!(
                "invalid value '{}' for '--time-window <DURATION>': the proxies keep {} of \
                 history, so a window is at most {}; read longer ones from Prometheus \
                 (--prometheus URL)\n",
                go_duration(args.window),
                go_duration(MAX_STATS_WINDOW),
                go_duration(MAX_STATS_WINDOW),
            ),
        )
        .into());
    }
    let runtime = super::runtime(super::Threads::One)?;
    Ok(runtime.block_on(source.gather(query, args.window))?)
}

/// `1h`, `90m`, `45s`, `1500ms`: a duration as `-t` takes it, in the largest whole unit.
fn go_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        _ if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        _ if ms % 1000 == 0 => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// Prints a footnote for each proxy that did not answer; true when all did.
pub fn report_unreachable(proxies: &[ProxyStats]) -> bool {
    let mut all = true;
    for p in proxies {
        if let Err(e) = &p.stats {
            all = false;
            super::diag!(
                "mesh: proxy {} ({} in {}) did not answer: {}",
                p.admin,
                p.identity.workload,
                p.identity.namespace,
                crate::cli::Chain(e)
            );
        }
    }
    all
}
