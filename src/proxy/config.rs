//! Everything a proxy needs to run, with every bound named and defaulted in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::connect::ConnectConfig;
use super::policy::AllowList;
use crate::identity::Identity;
use crate::mtls::reload::TlsStore;
use crate::registry::ServicePort;

/// Ports relayed as opaque TCP unless configured otherwise: Linkerd's default opaque ports, the
/// well-known ports of protocols where the server speaks first or the client's first bytes are
/// not HTTP: SMTP (25, 587), MySQL (3306), Galera (4444), PostgreSQL (5432), Redis (6379),
/// Elasticsearch transport (9300) and memcached (11211). Without this, a server-speaks-first
/// client would wait `--detect-timeout` for its first byte.
pub const DEFAULT_OPAQUE_PORTS: [u16; 8] = [25, 587, 3306, 4444, 5432, 6379, 9300, 11211];

/// A proxy's configuration (built by `mesh proxy` from flags and environment).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Who this proxy (its workload) is.
    pub identity: Identity,
    /// The services this workload serves (`web-svc:8080`), published for discovery.
    pub services: Vec<ServicePort>,
    /// The local app inbound requests go to; `None` for an outbound-only proxy.
    pub app: Option<SocketAddr>,
    /// Cluster DNS domain for expanding short service names.
    pub cluster_domain: String,
    /// Ports never parsed as HTTP: the app's port (inbound) or the destination's (outbound CONNECT).
    /// `mesh proxy` defaults to [`DEFAULT_OPAQUE_PORTS`].
    pub opaque_ports: Vec<u16>,
    /// Addresses the outbound forwards to although discovery does not know them
    /// (`--allow-destination`; see `proxy::policy`).
    pub allow_destinations: AllowList,
    /// Directory of ServiceProfile YAML files.
    pub profiles_dir: Option<PathBuf>,
    /// Static endpoints file for discovery.
    pub endpoints_file: Option<PathBuf>,
    /// Local registry directory: where this proxy registers and looks others up. `None`: neither.
    pub registry_dir: Option<PathBuf>,
    /// The Kubernetes API, and what the proxy takes from it (`--discovery kube`,
    /// `--profile-source kube`); `None`: nothing.
    pub kube: Option<KubeApi>,
    /// Bounds on waits, buffers and queues.
    pub limits: Limits,
    /// Who may use the admin port's sensitive endpoints.
    pub admin: AdminAccess,
    /// Transparent capture (`--capture`): connections arrive redirected by `mesh init`'s rules and
    /// go on to their original destination. `None` still serves a connection that turns out to be
    /// redirected (its original destination is not the listener) the same way, with the
    /// defaults; what `--capture` adds is the inbound listener without `--app`, and its options.
    pub capture: Option<Capture>,
    /// Mutual TLS (`--identity-dir`): this proxy's identity, and the configs both ways,
    /// replaced when the files rotate. `None`: plaintext both ways, as before.
    pub tls: Option<Arc<TlsStore>>,
    /// Which inbound ports refuse plaintext meshed traffic (`--require-identity`).
    pub require_identity: RequireIdentity,
}

/// Which inbound ports accept only callers that proved their identity by mutual TLS
/// (`--require-identity`): any other request to them is refused (403, explained).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RequireIdentity {
    /// Plaintext is served as before (the default).
    #[default]
    None,
    /// Every inbound port.
    All,
    /// These app ports.
    Ports(Vec<u16>),
}

impl RequireIdentity {
    /// Whether requests to app port `port` must be mutual TLS.
    pub fn requires(&self, port: u16) -> bool {
        match self {
            RequireIdentity::None => false,
            RequireIdentity::All => true,
            RequireIdentity::Ports(ports) => ports.contains(&port),
        }
    }
}

/// What a proxy takes from the Kubernetes API.
#[derive(Debug, Clone)]
pub struct KubeApi {
    /// Where the API is and how to authenticate (kube-rs's: `KUBECONFIG`, or the pod's
    /// service account).
    pub config: kube::Config,
    /// Endpoints from EndpointSlices and Services (`--discovery kube`).
    pub discovery: bool,
    /// ServiceProfiles from `serviceprofiles.linkerd.io` objects (`--profile-source kube`).
    pub profiles: bool,
}

/// How a proxy under transparent capture forwards (DESIGN.md, "Forwarding policy", right column).
///
/// A connection the rules redirected carries its original destination (`SO_ORIGINAL_DST`):
/// inbound, the app port the caller connected to; outbound, where the app was connecting. One
/// that was not redirected (its original destination is the listener itself) is served as in
/// explicit mode, so an app that sends to the outbound as to an HTTP proxy keeps working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capture {
    /// Where inbound connections go.
    pub inbound_forward: InboundForward,
}

/// Where a captured inbound connection is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboundForward {
    /// To its original destination, address and port: the pod IP, so apps bound to the pod IP
    /// (as ZooKeeper binds its quorum ports) and apps bound to `0.0.0.0` both work.
    #[default]
    OriginalDst,
    /// To the original port on loopback, for apps bound to `127.0.0.1` (`::1`) only.
    Localhost,
}

impl InboundForward {
    /// Where a connection whose original destination is `original` goes.
    pub fn target(self, original: SocketAddr) -> SocketAddr {
        match (self, original) {
            (InboundForward::OriginalDst, _) => original,
            (InboundForward::Localhost, SocketAddr::V4(a)) => {
                SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, a.port()))
            }
            (InboundForward::Localhost, SocketAddr::V6(a)) => {
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
            }
        }
    }
}

/// Access to the admin port. On loopback (the default) everything is open to local processes; on
/// a public address `/tap` (which shows traffic) needs the bearer token, or is refused without one.
/// `/metrics`, `/stats`, `/ready` and `/live` stay open.
#[derive(Debug, Clone, Default)]
pub struct AdminAccess {
    /// The admin port listens beyond loopback (`--admin-public`).
    pub public: bool,
    /// The token `/tap` requires when public (`--admin-token-file`).
    pub token: Option<std::sync::Arc<str>>,
}

/// Every bound of the proxy, with its default.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest wait for a client's first bytes before its connection is treated as opaque TCP.
    pub detect_timeout: Duration,
    /// Accepted connections open at once (per listener); more wait in the kernel's backlog. Each
    /// needs a file descriptor (two when relayed), so the proxy raises its open-file limit to
    /// fit, up to the hard limit.
    pub max_connections: usize,
    /// Admin connections open at once; more wait in the kernel's backlog.
    pub max_admin_connections: usize,
    /// Connections the kernel completes and queues per listener until the proxy accepts them (the
    /// `listen` backlog; the kernel caps it at `net.core.somaxconn`). When a burst of new
    /// connections overflows it, their SYNs are dropped and clients retry only after 1 s (an
    /// upstream connect from another proxy times out at 1 s: a 504).
    pub accept_backlog: u32,
    /// Largest request head (HTTP/1 line and headers, HTTP/2 header list); larger gets 431.
    pub max_header_bytes: usize,
    /// Longest wait for a complete HTTP/1 request head, and for the next one on an idle
    /// keep-alive connection (slow and idle clients are cut off).
    pub header_read_timeout: Duration,
    /// Concurrent HTTP/2 streams a client may open on one connection.
    pub max_concurrent_streams: u32,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// How often the profiles directory is checked for changes.
    pub profile_poll_interval: Duration,
    /// How often the identity files (`--identity-dir`) are checked for a rotation.
    pub identity_poll_interval: Duration,
    /// At most one log line per error cause per this interval.
    pub error_log_interval: Duration,
    /// Upstream connections.
    pub connect: ConnectConfig,
    /// Requests in flight to one endpoint at most (HTTP/2: also the server's
    /// `max_concurrent_streams`, whichever is lower).
    pub max_in_flight: usize,
    /// Longest wait for an endpoint with capacity; past it the service fails fast with 503.
    pub dispatch_timeout: Duration,
    /// Requests waiting for capacity per service at most; more get 503 at once.
    pub max_queued: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            detect_timeout: Duration::from_secs(10),
            max_connections: 20_000,
            max_admin_connections: 128,
            accept_backlog: 4096,
            max_header_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_concurrent_streams: 1000,
            shutdown_grace: Duration::from_secs(30),
            profile_poll_interval: Duration::from_secs(1),
            identity_poll_interval: Duration::from_secs(1),
            error_log_interval: Duration::from_secs(10),
            connect: ConnectConfig::default(),
            max_in_flight: 10_000,
            dispatch_timeout: Duration::from_secs(3),
            max_queued: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_forward_keeps_the_port_and_family() {
        let v4: SocketAddr = "10.77.0.1:2888".parse().unwrap();
        let v6: SocketAddr = "[fd77::1]:3888".parse().unwrap();
        assert_eq!(InboundForward::OriginalDst.target(v4), v4);
        assert_eq!(
            InboundForward::Localhost.target(v4),
            "127.0.0.1:2888".parse().unwrap()
        );
        assert_eq!(
            InboundForward::Localhost.target(v6),
            "[::1]:3888".parse().unwrap()
        );
    }
}
