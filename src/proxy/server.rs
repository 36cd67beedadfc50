//! Listeners, connections and lifecycle: [`serve`] takes already-bound listeners and a shutdown
//! future (binding and signals belong to the CLI), so tests bind port 0.
//!
//! Every listener runs the one accept loop in [`super::listener`] (connection limit, backoff on
//! accept errors, drain) with its own per-connection handler: `connection` for inbound and
//! outbound (`server/connection.rs`: its first bytes decide HTTP/1, HTTP/2 or opaque TCP, and
//! under transparent capture its original destination decides where it goes), `admin_connection`
//! for the admin port. On shutdown the listeners stop accepting, HTTP connections are asked to
//! finish (in-flight requests complete, idle keep-alive connections close), and `serve`
//! returns once every connection is done or the grace period is over.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use super::admin;
use super::app_ports::AppPorts;
use super::config::ProxyConfig;
use super::discovery::kubernetes::endpoint_slices::Family;
use super::discovery::kubernetes::resolver::KubeResolver;
use super::discovery::{RegistryResolver, Resolve, Resolvers, StaticResolver};
use super::listener::{self, Drain, Listener};
use super::metrics::{Direction, Metrics};
use super::policy::OwnListeners;
use super::profiles::{kube_source, log_report, ProfileStore};
use super::state::ProxyState;
use crate::registry::{read_records, ProxyRecord, Registration};

mod connection;
use connection::connection;

/// The proxy's listeners, bound by the caller.
pub struct Listeners {
    /// Requests for this workload's services (needs `ProxyConfig::app`).
    pub inbound: Option<TcpListener>,
    /// Requests from the local app.
    pub outbound: Option<TcpListener>,
    /// The admin port.
    pub admin: TcpListener,
}

/// Why a proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An inbound listener without `ProxyConfig::app`, outside transparent capture.
    #[error("an inbound listener needs the app's address (--app), or --capture")]
    InboundWithoutApp,
    /// The app ports (`--app`, `--service`, `--opaque-ports`) cannot be routed.
    #[error(transparent)]
    AppPorts(#[from] super::app_ports::AppPortsError),
    /// `--app` is a listener of another proxy in the local registry.
    #[error(
        "--app {app} is the {listener} listener of another mesh proxy ({workload} in namespace \
         {namespace}, pid {pid}, in the registry {}): requests would go from proxy to proxy in a \
         loop; give --app the address the app itself listens on",
        registry.display()
    )]
    AppIsAnotherProxy {
        app: SocketAddr,
        /// Which of its listeners (`inbound`, `outbound`, `admin`).
        listener: &'static str,
        workload: String,
        namespace: String,
        pid: u32,
        registry: std::path::PathBuf,
    },
    /// The endpoints file (`--endpoints`) cannot be used.
    #[error(transparent)]
    Endpoints(#[from] super::discovery::EndpointsFileError),
    /// The Kubernetes API client (`--discovery kube`, `--profile-source kube`) cannot be built.
    #[error("{0}")]
    Discovery(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Runs a proxy until `shutdown` completes, then drains for at most the configured grace period.
pub async fn serve(
    config: ProxyConfig,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let Checked {
        own,
        app_ports,
        resolve,
    } = check(&config, &listeners)?;
    let metrics = Metrics::new(config.identity.clone());
    let profiles = ProfileStore::new(config.profiles_dir.clone());
    let grace = config.limits.shutdown_grace;
    let state = Arc::new(ProxyState::new(
        config,
        metrics.clone(),
        profiles.clone(),
        resolve,
        own,
        app_ports,
    ));

    let (draining, drain) = listener::drain();
    // Background tasks stop with the drain without holding it open.
    let _sampler = metrics.spawn_sampler(draining.signaled());
    let p = profiles.clone();
    log_report(
        &tokio::task::spawn_blocking(move || p.reload())
            .await
            .unwrap_or_default(),
    );
    let _identity_watcher = state.config.tls.as_ref().map(|tls| {
        let c = tls.current();
        tracing::info!(
            tls_identity = %c.server_name,
            "mutual TLS with {}: valid until {}",
            tls.paths().cert.display(),
            crate::mtls::certificate::rfc3339(c.not_after)
        );
        tls.spawn_watcher(
            state.config.limits.identity_poll_interval,
            draining.signaled(),
        )
    });
    let _watcher = profiles.spawn_watcher(
        state.config.limits.profile_poll_interval,
        draining.signaled(),
    );
    let _kube_profiles = match state.config.kube.as_ref().filter(|k| k.profiles) {
        Some(kube) => Some(
            kube_source::spawn(&profiles, kube.config.clone(), draining.signaled())
                .map_err(|e| ServeError::Discovery(format!("the Kubernetes API client: {e}")))?,
        ),
        None => None,
    };

    let inbound_addr = listeners
        .inbound
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let admin_addr = listeners.admin.local_addr()?;
    let limits = &state.config.limits;
    let panics = state.metrics.panics();
    for (l, direction) in [
        (listeners.inbound, Direction::Inbound),
        (listeners.outbound, Direction::Outbound),
    ] {
        let Some(l) = l else { continue };
        let listener = Listener::new(
            l,
            direction.as_str(),
            "connection",
            limits.max_connections,
            panics,
        );
        let st = state.clone();
        tokio::spawn(listener.run(drain.clone(), move |stream, remote, drain| {
            connection(stream, remote, direction, st.clone(), drain)
        }));
    }
    // The admin port outlives the drain: the kubelet's probes and Prometheus must keep getting
    // answers (`/live` 200, `/ready` 503) until the process exits.
    let (admin_draining, admin_drain) = listener::drain();
    let admin = Listener::new(
        listeners.admin,
        "admin",
        "admin connection",
        limits.max_admin_connections,
        panics,
    );
    let st = state.clone();
    tokio::spawn(admin.run(admin_drain, move |stream, _, drain| {
        admin_connection(stream, st.clone(), drain)
    }));
    let _registration = register(&state.config, &state.policy.own);
    state.ready.store(true, Ordering::Release);
    tracing::info!(identity = %state.identity, ?inbound_addr, %admin_addr, "proxy ready");

    tokio::select! {
        _ = shutdown => {}
        _ = state.shutdown.notified() => tracing::info!("shutdown asked for on the admin port"),
    }
    tracing::info!("shutting down: draining connections for up to {grace:?}");
    state.ready.store(false, Ordering::Release);
    draining.signal();
    // Open taps would hold their admin connections (and so the drain) open: end them.
    state.tap.close();
    drop(drain);
    if !draining.drain(grace).await {
        tracing::warn!("shutdown grace period of {grace:?} over; closing remaining connections");
    }
    admin_draining.signal();
    Ok(())
}

fn resolvers(config: &ProxyConfig) -> Result<Box<dyn Resolve>, ServeError> {
    let mut list: Vec<Box<dyn Resolve>> = Vec::new();
    if let Some(file) = &config.endpoints_file {
        let r = StaticResolver::load(file, &config.identity.namespace, &config.cluster_domain)?;
        list.push(Box::new(r));
    }
    if let Some(kube) = config.kube.as_ref().filter(|k| k.discovery) {
        let r = KubeResolver::new(
            kube.config.clone(),
            &config.cluster_domain,
            Family::V4,
            config.limits.dispatch_timeout,
        )
        .map_err(|e| ServeError::Discovery(format!("the Kubernetes API client: {e}")))?;
        // Meshed pods' identities are named in this proxy's own trust domain.
        let r = match &config.tls {
            Some(tls) => {
                let id = &tls.current().id;
                r.identities_in(&id.trust_domain, &id.control_plane_namespace)
            }
            None => r,
        };
        list.push(Box::new(r));
    }
    if let Some(dir) = &config.registry_dir {
        list.push(Box::new(RegistryResolver::new(dir.clone())));
    }
    Ok(Box::new(Resolvers(list)))
}

/// What [`check`] found a proxy can start with; [`serve`] runs on it.
pub struct Checked {
    /// The addresses this proxy listens on, which it never forwards to.
    own: OwnListeners,
    app_ports: AppPorts,
    /// The endpoints file (already read) and the registry.
    resolve: Box<dyn Resolve>,
}

/// Checks that `config` can run on `listeners` before anything is served, so a caller can refuse
/// to start (and say why) before announcing its addresses: an inbound listener needs an app;
/// the app ports must be routable and none of this proxy's own listeners; the app must not be
/// a listener of another proxy in the local registry (requests would go round between proxies);
/// and the endpoints file (`--endpoints`) must read. Everything [`serve`] can refuse on is here.
///
/// A missing `--profiles` directory is not refused: it may appear later (a volume mounted after
/// start), and the proxy logs that it is absent and watches for it.
pub fn check(config: &ProxyConfig, listeners: &Listeners) -> Result<Checked, ServeError> {
    if listeners.inbound.is_some() && config.app.is_none() && config.capture.is_none() {
        return Err(ServeError::InboundWithoutApp);
    }
    let own = own_listeners(listeners)?;
    let app_ports = AppPorts::new(config.app, &config.services, &config.opaque_ports)
        .and_then(|ports| ports.outside(&own))?;
    if let (Some(app), Some(dir)) = (config.app, &config.registry_dir) {
        let others = read_records(dir);
        let other = others
            .iter()
            .filter(|r| r.pid != std::process::id())
            .find_map(|r| Some((r, r.listener_at(app)?)));
        if let Some((record, listener)) = other {
            return Err(ServeError::AppIsAnotherProxy {
                app,
                listener,
                workload: record.workload.clone(),
                namespace: record.namespace.clone(),
                pid: record.pid,
                registry: dir.clone(),
            });
        }
    }
    Ok(Checked {
        own,
        app_ports,
        resolve: resolvers(config)?,
    })
}

fn own_listeners(listeners: &Listeners) -> io::Result<OwnListeners> {
    Ok(OwnListeners {
        inbound: listeners
            .inbound
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?,
        outbound: listeners
            .outbound
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?,
        admin: Some(listeners.admin.local_addr()?),
    })
}

fn register(config: &ProxyConfig, own: &OwnListeners) -> Option<Registration> {
    let dir = config.registry_dir.as_ref()?;
    let record = ProxyRecord {
        namespace: config.identity.namespace.clone(),
        workload: config.identity.workload.to_string(),
        pod: config.identity.pod.clone(),
        services: config.services.clone(),
        inbound: own.inbound,
        admin: own.admin?,
        outbound: own.outbound,
        tls_id: config
            .tls
            .as_ref()
            .map(|t| t.current().server_name.to_string()),
        pid: std::process::id(),
    };
    match Registration::publish(dir, &record) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(dir = %dir.display(), "could not register in the local registry; other proxies and the CLI will not find this one: {e}");
            None
        }
    }
}

/// How long an admin client may take to send a request head, or stay idle between requests.
const ADMIN_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one admin connection until it closes, or finishes it once `drain` is signaled (after
/// the proxy's own drain).
async fn admin_connection(stream: TcpStream, state: Arc<ProxyState>, mut drain: Drain) {
    let svc = service_fn(move |req: Request<Incoming>| {
        let st = state.clone();
        async move { Ok::<_, std::convert::Infallible>(admin::handle(&st, &req)) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ADMIN_HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = drain.signaled() => { conn.as_mut().graceful_shutdown(); let _ = conn.await; }
    }
}
