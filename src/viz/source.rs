//! Where the viz commands read the proxies' numbers from, and the choice between them:
//!
//! - the proxies themselves ([`proxies`]): those of the local registry the query selects, or the
//!   admin addresses given, each asked for `/stats?window=…` (the default: no Prometheus needed);
//! - a Prometheus server scraping the proxies' `/metrics` ([`super::prometheus`]).
//!
//! Both fill the same [`ProxyStats`], so the model and printers do not know which one answered.

pub mod proxies;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::lookup::{check_peer, NoProxyFound};
use super::model::Query;
use super::prometheus::PrometheusError;

pub(crate) use proxies::identity_of;
pub use proxies::{
    decode_stats, fetch, registered, ProxyStats, StatsError, MAX_ANSWER, MAX_CONCURRENT,
    PROXY_TIMEOUT,
};

/// Where the numbers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsSource {
    /// A Prometheus server that scrapes the proxies (`--prometheus URL`).
    Prometheus(String),
    /// These proxies' admin addresses (`--proxy-admin`); who they are is what they report.
    Admins(Vec<SocketAddr>),
    /// The proxies registered in this local registry directory that the query selects.
    Registry(PathBuf),
}

/// Why there is nothing to show.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Prometheus(#[from] PrometheusError),
    #[error(
        "Prometheus at {url} has no mesh series for {resources}: is it scraping the proxies' admin \
         ports (/metrics), and has the workload had traffic?"
    )]
    NoSeries { url: String, resources: String },
    /// The local registry has no proxy the query selects.
    #[error(transparent)]
    NothingRegistered(#[from] NoProxyFound),
    /// The local registry has no proxy of the `--to`/`--from` workload (`flag`).
    #[error("{flag}")]
    UnknownPeer {
        flag: &'static str,
        #[source]
        source: NoProxyFound,
    },
}

// === impl StatsSource ===

impl StatsSource {
    /// The source the flags ask for: Prometheus when given, else the admin addresses when any,
    /// else the registry in `registry`.
    pub fn choose(prometheus: Option<String>, admins: Vec<SocketAddr>, registry: PathBuf) -> Self {
        match (prometheus, admins) {
            (Some(url), _) => StatsSource::Prometheus(url),
            (None, admins) if !admins.is_empty() => StatsSource::Admins(admins),
            (None, _) => StatsSource::Registry(registry),
        }
    }

    /// The proxies `query` concerns, each with its increase over `window` or why it has none. An
    /// error when there is no proxy to show at all (a proxy that does not answer is not one).
    pub async fn gather(
        &self,
        query: &Query,
        window: Duration,
    ) -> Result<Vec<ProxyStats>, SourceError> {
        match self {
            StatsSource::Prometheus(url) => {
                let proxies = super::prometheus::fetch(url, window).await?;
                let wanted = proxies.iter().any(|p| {
                    query
                        .resources
                        .iter()
                        .any(|r| r.covers(&p.identity, &p.services))
                });
                if !wanted {
                    return Err(SourceError::NoSeries {
                        url: url.clone(),
                        resources: resources(query),
                    });
                }
                Ok(proxies)
            }
            StatsSource::Admins(admins) => {
                let proxies = admins.iter().map(|a| (*a, None, Vec::new())).collect();
                Ok(fetch(proxies, window).await)
            }
            StatsSource::Registry(dir) => {
                // With --from/--to the peer's proxies matter only as labels; the resource's own
                // are asked.
                let namespace = query.namespace.as_deref();
                let records = registered(dir);
                let proxies: Vec<_> = records
                    .iter()
                    .filter(|(record, _)| {
                        query.resources.iter().any(|r| r.selects(record, namespace))
                    })
                    .map(|(record, id)| {
                        let services = record.services.iter().map(|s| s.name.clone()).collect();
                        (record.admin, Some(id.clone()), services)
                    })
                    .collect();
                if proxies.is_empty() {
                    let records: Vec<_> = records.into_iter().map(|(record, _)| record).collect();
                    return Err(
                        NoProxyFound::new(&query.resources, namespace, dir, &records).into(),
                    );
                }
                // A peer is matched in any namespace (the model matches peers by workload), so
                // it is looked for in every one.
                let records: Vec<_> = records.into_iter().map(|(record, _)| record).collect();
                for (flag, peer) in [("--from", &query.from), ("--to", &query.to)] {
                    if let Some(peer) = peer {
                        check_peer(peer, None, dir, &records)
                            .map_err(|source| SourceError::UnknownPeer { flag, source })?;
                    }
                }
                Ok(fetch(proxies, window).await)
            }
        }
    }
}

/// `deploy/web, deploy/voting`: the query's resources, for messages.
fn resources(query: &Query) -> String {
    let words: Vec<String> = query.resources.iter().map(ToString::to_string).collect();
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::resource::parse_resources;

    #[test]
    fn prometheus_wins_then_admin_addresses_then_the_registry() {
        let admin: SocketAddr = ([127, 0, 0, 1], 4191).into();
        let dir = PathBuf::from("/registry");
        let url = Some("http://prom:9090".to_string());
        assert_eq!(
            StatsSource::choose(url, vec![admin], dir.clone()),
            StatsSource::Prometheus("http://prom:9090".into())
        );
        assert_eq!(
            StatsSource::choose(None, vec![admin], dir.clone()),
            StatsSource::Admins(vec![admin])
        );
        assert_eq!(
            StatsSource::choose(None, Vec::new(), dir.clone()),
            StatsSource::Registry(dir)
        );
    }

    #[tokio::test]
    async fn a_registry_without_the_resource_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let query = Query {
            resources: parse_resources(&["deploy/nope".to_string()]).unwrap(),
            namespace: Some("emojivoto".into()),
            from: None,
            to: None,
        };
        let source = StatsSource::Registry(dir.path().to_path_buf());
        let err = source
            .gather(&query, Duration::from_secs(60))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("no proxies registered for deploy/nope in namespace emojivoto"),
            "{text}"
        );
        assert!(text.contains("pass -n or -A"), "{text}");
    }
}
