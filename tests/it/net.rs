//! In-process proxies and upstreams on `127.0.0.1:0`, each stopped when dropped, and readers for
//! what their admin ports say.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use mesh::identity::Identity;
use mesh::proxy::{serve, Limits, Listeners, ProxyConfig, ServeError};
use mesh::testsvc::{
    self, Answer, GrpcAnswer, HttpAnswer, Limits as UpstreamLimits, RequestCounter, TestService,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest wait for anything in these tests; a test that needs it has failed.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A test upstream; stops when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    pub requests: RequestCounter,
    /// Requests dropped unanswered because their caller reset them.
    pub cancelled: RequestCounter,
    _stop: oneshot::Sender<()>,
}

/// The HTTP test upstream.
pub async fn http_upstream() -> Upstream {
    upstream::<HttpAnswer>(UpstreamLimits::default()).await
}

/// The gRPC test upstream.
pub async fn grpc_upstream() -> Upstream {
    upstream::<GrpcAnswer>(UpstreamLimits::default()).await
}

/// A test upstream with `limits`.
pub async fn upstream<A: Answer>(limits: UpstreamLimits) -> Upstream {
    let listener = bind().await;
    let addr = listener.local_addr().unwrap();
    let service = TestService::<A>::new(limits);
    let requests = service.requests();
    let cancelled = service.cancelled();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(service.serve(listener, async move {
        let _ = stopped.await;
    }));
    Upstream {
        addr,
        requests,
        cancelled,
        _stop: stop,
    }
}

/// A port on loopback chosen by the OS.
pub async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding 127.0.0.1:0")
}

/// A proxy's configuration: workload `deploy/NAME` in namespace `emojivoto`, registering in
/// `registry`, serving `services` in front of `app`.
pub fn config(
    registry: &Path,
    workload: &str,
    services: &[&str],
    app: Option<SocketAddr>,
) -> ProxyConfig {
    ProxyConfig {
        identity: Identity {
            namespace: "emojivoto".into(),
            workload: format!("deploy/{workload}").parse().unwrap(),
            pod: format!("{workload}-0"),
        },
        services: services.iter().map(|s| s.parse().unwrap()).collect(),
        app,
        cluster_domain: "cluster.local".into(),
        opaque_ports: vec![],
        allow_destinations: Default::default(),
        profiles_dir: None,
        endpoints_file: None,
        registry_dir: Some(registry.to_path_buf()),
        kube: None,
        limits: Limits {
            profile_poll_interval: Duration::from_millis(50),
            shutdown_grace: Duration::from_secs(5),
            ..Limits::default()
        },
        admin: Default::default(),
        capture: None,
        tls: None,
        require_identity: Default::default(),
    }
}

/// A running in-process proxy; stops (without waiting) when dropped.
pub struct TestProxy {
    pub inbound: Option<SocketAddr>,
    pub outbound: SocketAddr,
    pub admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestProxy {
    /// Starts a proxy with `config` and waits until its `/ready` says so.
    pub async fn start(config: ProxyConfig) -> TestProxy {
        let inbound = match config.app {
            Some(_) => Some(bind().await),
            None => None,
        };
        let outbound = bind().await;
        let admin = bind().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let inbound_addr = inbound.as_ref().map(|l| l.local_addr().unwrap());
        let (outbound_addr, admin_addr) =
            (outbound.local_addr().unwrap(), admin.local_addr().unwrap());
        let listeners = Listeners {
            inbound,
            outbound: Some(outbound),
            admin,
        };
        let task = tokio::spawn(serve(config, listeners, async move {
            let _ = stopped.await;
        }));
        let proxy = TestProxy {
            inbound: inbound_addr,
            outbound: outbound_addr,
            admin: admin_addr,
            stop: Some(stop),
            task: Some(task),
        };
        wait_ready(proxy.admin).await;
        proxy
    }

    /// The proxy's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let (status, body) = admin_get(self.admin, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The serving task, to await without sending the shutdown signal.
    pub fn take_task(&mut self) -> JoinHandle<Result<(), ServeError>> {
        self.task.take().unwrap()
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_stop(&mut self) -> JoinHandle<Result<(), ServeError>> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `check` until it holds; fails the test (naming `what`) after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(PATIENCE, what, check).await
}

/// Polls `check` until it holds; fails the test (naming `what`) after `patience`.
pub async fn eventually_within<F, Fut>(patience: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + patience;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the admin port at `admin` answers `/ready` with 200.
pub async fn wait_ready(admin: SocketAddr) {
    eventually("proxy ready", || async {
        admin_get(admin, "/ready").await.0 == 200
    })
    .await;
}

/// GET `path` from an admin port: status and body (status 0 if it could not connect).
pub async fn admin_get(admin: SocketAddr, path: &str) -> (u16, String) {
    let req = Request::get(path).body(Empty::<Bytes>::new()).unwrap();
    match testsvc::http1_request(admin, req).await {
        Ok(r) => (
            r.head.status.as_u16(),
            String::from_utf8_lossy(&r.body).into_owned(),
        ),
        Err(_) => (0, String::new()),
    }
}

/// The sum of the samples of metric `name` whose labels include every one of `labels`.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix('{')?;
            let (label_text, value) = rest.rsplit_once("} ")?;
            labels
                .iter()
                .all(|(k, v)| {
                    let pair = format!("{k}=\"{v}\"");
                    label_text.starts_with(&pair) || label_text.contains(&format!(",{pair}"))
                })
                .then(|| value.parse::<u64>().expect("an integer sample"))
        })
        .sum()
}

/// The profile of `voting-svc` the viz tests use: two routes with traffic (one retryable) and
/// one without.
pub const VOTING_PROFILE: &str = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: voting-svc.emojivoto.svc.cluster.local\n  namespace: emojivoto\nspec:\n  routes:\n  - name: GET /api/list\n    condition: {method: GET, pathRegex: /api/list}\n  - name: POST /api/vote\n    condition: {method: POST, pathRegex: /api/vote}\n    isRetryable: true\n  - name: GET /api/leaderboard\n    condition: {method: GET, pathRegex: /api/leaderboard}\n";

/// `deploy/voting` serving `voting-svc:8080` in front of an HTTP upstream, and `deploy/web`
/// calling it, both with [`VOTING_PROFILE`] and registered in `dir/registry`.
pub struct VotingAndWeb {
    pub registry: std::path::PathBuf,
    /// Held so the upstream runs as long as the proxies.
    pub app: Upstream,
    pub voting: TestProxy,
    pub web: TestProxy,
}

/// Starts [`VotingAndWeb`] below `dir`.
pub async fn voting_and_web(dir: &Path) -> VotingAndWeb {
    let (registry, profiles) = (dir.join("registry"), dir.join("profiles"));
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("voting.yaml"), VOTING_PROFILE).unwrap();
    let app = http_upstream().await;
    let mut voting = config(&registry, "voting", &["voting-svc:8080"], Some(app.addr));
    voting.profiles_dir = Some(profiles.clone());
    let voting = TestProxy::start(voting).await;
    let mut web = config(&registry, "web", &[], None);
    web.profiles_dir = Some(profiles);
    let web = TestProxy::start(web).await;
    VotingAndWeb {
        registry,
        app,
        voting,
        web,
    }
}

/// An inbound proxy of `deploy/voting` serving `voting-svc:8080` in front of an HTTP upstream,
/// registering below its own temporary directory (returned so it lives as long as the proxy).
pub async fn voting_proxy() -> (TestProxy, Upstream, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = http_upstream().await;
    let cfg = config(
        &dir.path().join("registry"),
        "voting",
        &["voting-svc:8080"],
        Some(app.addr),
    );
    (TestProxy::start(cfg).await, app, dir)
}

/// The [`voting_proxy`] configuration (without a registry) with its admin port public, as with
/// `--admin-public`, and `token` as `--admin-token-file` would give it.
pub fn public_admin_config(app: SocketAddr, token: Option<&str>) -> ProxyConfig {
    let mut cfg = config(Path::new("-"), "voting", &["voting-svc:8080"], Some(app));
    cfg.registry_dir = None;
    cfg.admin = mesh::proxy::AdminAccess {
        public: true,
        token: token.map(Into::into),
    };
    cfg
}
