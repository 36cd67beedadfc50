//! What `mesh stat` and `mesh routes` share: from flags to the proxies' answers.

use std::path::Path;

use anyhow::{bail, Context};

use super::args::VizArgs;
use crate::viz::model::Query;
use crate::viz::resource::{parse_one, parse_resources};
use crate::viz::source::{self, ProxyStats};

/// The query the flags and resource words ask for.
pub fn query(args: &VizArgs, resources: &[String]) -> anyhow::Result<Query> {
    let parse = |r: &Option<String>| {
        r.as_deref()
            .map(parse_one)
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    Ok(Query {
        resources: parse_resources(resources).map_err(anyhow::Error::msg)?,
        namespace: args.namespaces.scope().map(str::to_string),
        from: parse(&args.from).context("--from")?,
        to: parse(&args.to).context("--to")?,
    })
}

/// Finds the proxies concerned and fetches their windows; fails with what to do when there are none.
pub fn gather(args: &VizArgs, query: &Query) -> anyhow::Result<Vec<ProxyStats>> {
    let runtime = super::runtime(super::Threads::One)?;
    if let Some(url) = &args.prometheus {
        let proxies = runtime
            .block_on(crate::viz::prometheus::fetch(url, args.window))
            .map_err(anyhow::Error::msg)?;
        let wanted = proxies.iter().any(|p| {
            query
                .resources
                .iter()
                .any(|r| r.covers(&p.identity, &p.services))
        });
        if !wanted {
            bail!(
                "Prometheus at {url} has no mesh series for {}: is it scraping the proxies' admin \
                 ports (/metrics), and has the workload had traffic?",
                query
                    .resources
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return Ok(proxies);
    }
    if !args.proxy_admin.proxy_admin.is_empty() {
        let proxies = args
            .proxy_admin
            .proxy_admin
            .iter()
            .map(|a| (*a, None, Vec::new()))
            .collect();
        return Ok(runtime.block_on(source::fetch(proxies, args.window)));
    }
    let dir = args.registry.dir();
    // With --from/--to the peer's proxies matter only as labels; the resource's own are asked.
    let namespace = query.namespace.as_deref();
    let proxies: Vec<_> = source::registered(&dir)
        .into_iter()
        .filter(|(record, _)| query.resources.iter().any(|r| r.selects(record, namespace)))
        .map(|(record, id)| {
            let services = record.services.iter().map(|s| s.name.clone()).collect();
            (record.admin, Some(id), services)
        })
        .collect();
    if proxies.is_empty() {
        bail!("{}", nothing_found(query, &dir));
    }
    Ok(runtime.block_on(source::fetch(proxies, args.window)))
}

fn nothing_found(query: &Query, dir: &Path) -> String {
    let what: Vec<String> = query.resources.iter().map(ToString::to_string).collect();
    let scope = query
        .namespace
        .as_ref()
        .map_or("any namespace".to_string(), |ns| format!("namespace {ns}"));
    format!(
        "no proxies registered for {} in {scope} (registry {}): start the workload's proxy with \
         `mesh proxy --workload KIND/NAME -n NAMESPACE`, pass -n or -A, or point --registry at the \
         proxies' registry",
        what.join(", "),
        dir.display()
    )
}

/// Prints a footnote for each proxy that did not answer; true when all did.
pub fn report_unreachable(proxies: &[ProxyStats]) -> bool {
    let mut all = true;
    for p in proxies {
        if let Err(e) = &p.stats {
            all = false;
            eprintln!(
                "mesh: proxy {} ({} in {}) did not answer: {e}",
                p.admin, p.identity.workload, p.identity.namespace
            );
        }
    }
    all
}
