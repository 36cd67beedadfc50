//! What `mesh stat`, `mesh routes` and `mesh edges` share: from flags to the query and the
//! source ([`StatsSource`] chooses and asks), and the footnotes of proxies that did not answer.

use anyhow::Context;

use super::args::VizArgs;
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
    let runtime = super::runtime(super::Threads::One)?;
    Ok(runtime.block_on(source.gather(query, args.window))?)
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
