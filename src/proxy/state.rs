//! What every connection of one proxy shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::HeaderValue;

use super::app_ports::AppPorts;
use super::balance::{Balancer, DispatchLimits};
use super::budget::{DefaultBudgets, RetryBudget};
use super::config::ProxyConfig;
use super::connect::Pools;
use super::discovery::Resolve;
use super::hop::HopMarker;
use super::io::ByteCounter;
use super::memo::Memo;
use super::metrics::{Metrics, NoTlsReason, PendingTcp, TcpConnection, TcpLabels, TlsStatus};
use super::outbound::destination::NamedTarget;
use super::policy::{Mode, OwnListeners, Policy};
use super::profiles::ProfileStore;
use super::respond::ErrorLog;
use super::tap::Tap;
use super::timeout::Deadline;
use crate::identity::Identity;

/// One proxy's shared state.
pub struct ProxyState {
    pub config: ProxyConfig,
    pub identity: Arc<Identity>,
    /// This proxy's identity as the `mesh-peer` header value outbound requests carry.
    pub peer_header: HeaderValue,
    pub metrics: Arc<Metrics>,
    pub profiles: Arc<ProfileStore>,
    pub resolve: Box<dyn Resolve>,
    pub pools: Pools,
    pub balancer: Balancer,
    /// Retry budgets of services without a ServiceProfile (outbound).
    pub default_budgets: DefaultBudgets,
    /// The default retry budget of inbound requests to the app, whichever service they name:
    /// one app, one budget (and no lookup per request).
    pub app_budget: Arc<RetryBudget>,
    /// The rate-limited log of errors the proxy answers; shared with response bodies, which
    /// find some of them after the response has started.
    pub errors: Arc<ErrorLog>,
    /// Set once listeners are bound and the first profile load is done (`/ready`).
    pub ready: AtomicBool,
    /// Callers' identities by `mesh-peer` header value.
    pub peers: Memo<Option<Arc<Identity>>>,
    /// Outbound authorities: what each names (`None`: not an authority).
    pub targets: Memo<Option<Arc<NamedTarget>>>,
    /// Inbound authorities: `(fqdn, fqdn:port)` of the own service each names, if any.
    pub own_services: Memo<Option<(Arc<str>, Arc<str>)>>,
    /// Live request events for `/tap`.
    pub tap: Tap,
    /// Notified by the admin port's `POST /shutdown`.
    pub shutdown: tokio::sync::Notify,
    /// Where the outbound may forward (DESIGN.md's forwarding-policy table).
    pub policy: Policy,
    /// This proxy's loop marker (`mesh-hop`).
    pub hop: HopMarker,
    /// Which app port each inbound request goes to.
    pub app_ports: AppPorts,
}

/// Distinct `mesh-peer` values and authorities remembered.
const MEMO_CAPACITY: usize = 1024;

impl ProxyState {
    /// Shared state for a proxy with `config`, listening on `own`, in front of `app_ports`.
    pub fn new(
        config: ProxyConfig,
        metrics: Arc<Metrics>,
        profiles: Arc<ProfileStore>,
        resolve: Box<dyn Resolve>,
        own: OwnListeners,
        app_ports: AppPorts,
    ) -> Self {
        let identity = Arc::new(config.identity.clone());
        let peer_header =
            HeaderValue::from_str(&identity.to_header()).unwrap_or(HeaderValue::from_static(""));
        ProxyState {
            pools: Pools::new(
                config.limits.connect.clone(),
                config.limits.max_header_bytes,
                metrics.panics(),
            ),
            balancer: Balancer::new(DispatchLimits {
                max_in_flight: config.limits.max_in_flight,
                max_queued: config.limits.max_queued,
            }),
            default_budgets: DefaultBudgets::new(MEMO_CAPACITY),
            app_budget: Arc::new(RetryBudget::from_profile(None)),
            errors: Arc::new(ErrorLog::new(config.limits.error_log_interval)),
            policy: Policy {
                mode: Mode::Explicit,
                own,
                allow: config.allow_destinations.clone(),
                opaque_ports: config.opaque_ports.clone(),
            },
            hop: HopMarker::random(),
            app_ports,
            config,
            identity,
            peer_header,
            metrics,
            profiles,
            resolve,
            ready: AtomicBool::new(false),
            peers: Memo::new(MEMO_CAPACITY),
            targets: Memo::new(MEMO_CAPACITY),
            own_services: Memo::new(MEMO_CAPACITY),
            tap: Tap::new(),
            shutdown: tokio::sync::Notify::new(),
        }
    }

    /// The deadline of a request that arrived at `arrived` on a route with `route_timeout`.
    pub fn deadline(
        &self,
        arrived: tokio::time::Instant,
        route_timeout: Option<std::time::Duration>,
    ) -> Deadline {
        Deadline::new(arrived, route_timeout, &self.config.limits)
    }

    /// A byte counter for a new TCP connection with `labels`.
    pub fn tcp_counter(&self, labels: TcpLabels) -> Arc<dyn ByteCounter> {
        Arc::new(self.metrics.tcp_open(labels))
    }

    /// The `tls` labels of a connection to an endpoint whose expected identity is `server_id`:
    /// what [`UpstreamTls::toward`](crate::proxy::connect::UpstreamTls::toward) makes of it.
    pub fn outbound_tls(&self, server_id: Option<&Arc<str>>) -> TlsStatus {
        match (&self.config.tls, server_id) {
            (None, _) => TlsStatus::NotSecured(NoTlsReason::LocalIdentityDisabled),
            (Some(_), None) => TlsStatus::NotSecured(NoTlsReason::NotProvidedByServiceDiscovery),
            (Some(_), Some(id)) => TlsStatus::Secured(id.clone()),
        }
    }

    /// The `tls` labels of a caller that spoke plaintext to the inbound.
    pub fn plaintext_caller_tls(&self) -> TlsStatus {
        TlsStatus::NotSecured(match self.config.tls {
            Some(_) => NoTlsReason::NoTlsFromRemote,
            None => NoTlsReason::LocalIdentityDisabled,
        })
    }

    /// Whether the proxy answers `/ready` with 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

impl ByteCounter for PendingTcp {
    fn read(&self, n: u64) {
        PendingTcp::read(self, n);
    }
    fn wrote(&self, n: u64) {
        PendingTcp::wrote(self, n);
    }
    fn failed(&self, errno: i32) {
        PendingTcp::failed(self, errno);
    }
}

impl ByteCounter for TcpConnection {
    fn read(&self, n: u64) {
        TcpConnection::read(self, n);
    }
    fn wrote(&self, n: u64) {
        TcpConnection::wrote(self, n);
    }
    fn failed(&self, errno: i32) {
        TcpConnection::failed(self, errno);
    }
}
