//! The embedded source: the proxies themselves. Proxies are found in the local registry (or
//! named with `--proxy-admin`), and their `/stats?window=…` is fetched concurrently through the
//! admin client, each with a timeout; a proxy that does not answer is reported, not fatal.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tokio::sync::Semaphore;

use crate::admin_api::stats::{StatsReport, STATS_VERSION};
use crate::admin_api::{AdminClient, AdminError};
use crate::identity::Identity;
use crate::registry::{read_records, ProxyRecord};

/// Proxies asked at once at most.
pub const MAX_CONCURRENT: usize = 32;
/// Longest wait for one proxy's answer.
pub const PROXY_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest `/stats` answer read.
pub const MAX_ANSWER: usize = 16 << 20;

/// Why a proxy has no numbers to show: the footnote naming the proxy says it.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("connection refused (is the proxy still running?)")]
    Refused,
    #[error("answer over {MAX_ANSWER} bytes")]
    TooLarge,
    #[error("{status}: {message}")]
    Status { status: StatusCode, message: String },
    #[error("not a /stats answer")]
    NotStats(#[source] serde_json::Error),
    #[error(
        "/stats version {0} (this mesh reads version {STATS_VERSION}): use the same mesh release"
    )]
    Version(u32),
    #[error(transparent)]
    Admin(AdminError),
}

impl From<AdminError> for StatsError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Timeout { timeout, .. } => StatsError::Timeout(timeout),
            AdminError::Connect { .. } => StatsError::Refused,
            AdminError::TooLarge { .. } => StatsError::TooLarge,
            other => StatsError::Admin(other),
        }
    }
}

/// One proxy and what it said.
#[derive(Debug)]
pub struct ProxyStats {
    pub admin: SocketAddr,
    /// Who the registry (or the proxy itself) says it is.
    pub identity: Identity,
    /// The services it serves (known from the registry; empty otherwise).
    pub services: Vec<String>,
    pub stats: Result<StatsReport, StatsError>,
}

/// The registry's proxies, with their identities (records that do not parse are skipped).
pub fn registered(dir: &Path) -> Vec<(ProxyRecord, Identity)> {
    read_records(dir)
        .into_iter()
        .filter_map(|r| r.identity().map(|id| (r, id)))
        .collect()
}

/// Fetches `/stats?window=…` from every admin address, at most [`MAX_CONCURRENT`] at a time.
/// `identities` are used when known (the registry's); a proxy named only by address is known by
/// what it reports.
pub async fn fetch(
    proxies: Vec<(SocketAddr, Option<Identity>, Vec<String>)>,
    window: Duration,
) -> Vec<ProxyStats> {
    let client = AdminClient::new()
        .with_timeout(PROXY_TIMEOUT)
        .with_max_body(MAX_ANSWER);
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (admin, id, services)) in proxies.into_iter().enumerate() {
        let (client, permits) = (client.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let stats = one(&client, admin, window).await;
            let identity = match (&stats, id) {
                (_, Some(id)) => id,
                (Ok(report), None) => identity_of(report),
                (Err(_), None) => unknown(),
            };
            (
                i,
                ProxyStats {
                    admin,
                    identity,
                    services,
                    stats,
                },
            )
        });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(r) = done {
            out.push(r);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}

async fn one(
    client: &AdminClient,
    admin: SocketAddr,
    window: Duration,
) -> Result<StatsReport, StatsError> {
    let path = format!("/stats?window={}ms", window.as_millis());
    let answer = client.get(admin, &path).await?;
    if !answer.status.is_success() {
        let text = String::from_utf8_lossy(&answer.body);
        return Err(StatsError::Status {
            status: answer.status,
            message: text.trim().to_string(),
        });
    }
    decode_stats(&answer.body)
}

/// Reads a proxy's `/stats` answer: at most [`MAX_ANSWER`] bytes of JSON, of this build's
/// [`STATS_VERSION`]. The error says what was wrong, for the footnote naming the proxy.
pub fn decode_stats(body: &[u8]) -> Result<StatsReport, StatsError> {
    if body.len() > MAX_ANSWER {
        return Err(StatsError::TooLarge);
    }
    let report: StatsReport = serde_json::from_slice(body).map_err(StatsError::NotStats)?;
    if report.version != STATS_VERSION {
        return Err(StatsError::Version(report.version));
    }
    Ok(report)
}

/// Who a proxy known only by its address is, by what its report says.
pub(crate) fn identity_of(report: &StatsReport) -> Identity {
    Identity {
        namespace: report.identity.namespace.clone(),
        workload: report
            .identity
            .workload
            .parse()
            .unwrap_or_else(|_| unknown().workload),
        pod: report.identity.pod.clone(),
    }
}

fn unknown() -> Identity {
    Identity {
        namespace: "unknown".into(),
        workload: "po/unknown".parse().expect("a valid workload"),
        pod: "unknown".into(),
    }
}
