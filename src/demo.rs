//! `mesh demo`: an emojivoto-style app on loopback, each workload behind its own `mesh proxy`
//! (a task of this process with its own identity, listeners, admin port and registry record),
//! with ServiceProfiles generated from the demo's OpenAPI document and `.proto` files, and a vote
//! bot making steady traffic. Every port is chosen by the OS, so demos never collide.

pub mod apps;
pub mod identities;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::identity::Identity;
use crate::profile::render::{render, Format};
use crate::profile::ProfileTarget;
use crate::proxy::{serve, Limits, Listeners, ProxyConfig};

/// The demo's namespace.
pub const NAMESPACE: &str = "emojivoto";

const WEB_SWAGGER: &str = include_str!("../fixtures/demo/web.swagger");
const EMOJI_PROTO: &str = include_str!("../fixtures/demo/emoji.proto");
const VOTING_PROTO: &str = include_str!("../fixtures/demo/voting.proto");

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the proxies register (the CLI finds them there).
    pub registry: PathBuf,
    /// Where the generated profiles (and proto files) are written.
    pub work_dir: PathBuf,
    /// Time between the vote bot's requests.
    pub vote_interval: Duration,
    /// Mutual TLS between the proxies, with identities from the demo's own trust anchor
    /// ([`identities`]); off, they speak plaintext.
    pub mtls: bool,
}

/// One workload as started.
#[derive(Debug, Clone)]
pub struct Started {
    /// `deploy/web`.
    pub workload: String,
    pub app: Option<SocketAddr>,
    pub inbound: Option<SocketAddr>,
    pub outbound: SocketAddr,
    pub admin: SocketAddr,
}

/// A running demo; [`Running::stop`] ends it.
pub struct Running {
    pub workloads: Vec<Started>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("generating the demo's profiles: {0}")]
    Profile(String),
    #[error("{0}")]
    Identity(String),
    #[error("the proxy of {workload} did not become ready")]
    NotReady {
        workload: String,
        #[source]
        source: Box<crate::proxy::readiness::NotReady>,
    },
}

async fn bind() -> std::io::Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0").await
}

/// Writes the demo's profiles into `dir/profiles` (from its OpenAPI document and protos).
pub fn write_profiles(dir: &Path) -> Result<PathBuf, DemoError> {
    let profiles = dir.join("profiles");
    std::fs::create_dir_all(&profiles)?;
    let target = |service: &str| ProfileTarget {
        service: service.into(),
        namespace: NAMESPACE.into(),
        cluster_domain: "cluster.local".into(),
    };
    let web = crate::profile::openapi::profile_from_openapi(WEB_SWAGGER, &target("web-svc"))
        .map_err(|e| DemoError::Profile(e.to_string()))?;
    std::fs::write(
        profiles.join("web-svc.yaml"),
        render(&web.profile, Format::Yaml),
    )?;
    for (service, file, text) in [
        ("emoji-svc", "emoji.proto", EMOJI_PROTO),
        ("voting-svc", "voting.proto", VOTING_PROTO),
    ] {
        let proto = dir.join(file);
        std::fs::write(&proto, text)?;
        let generated =
            crate::profile::proto::profile_from_protos(&[proto], &[], &target(service), false)
                .map_err(|e| DemoError::Profile(e.to_string()))?;
        std::fs::write(
            profiles.join(format!("{service}.yaml")),
            render(&generated.profile, Format::Yaml),
        )?;
    }
    Ok(profiles)
}

impl Running {
    /// Starts every workload and its proxy, and waits until every proxy is ready.
    pub async fn start(opts: &DemoOptions) -> Result<Running, DemoError> {
        let profiles = write_profiles(&opts.work_dir)?;
        let (stop, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = JoinSet::new();
        let mut workloads = Vec::new();
        let limits = crate::testsvc::Limits::default();

        // Outbound listeners first: web's app and the bot need their proxy's address.
        let outbound: Vec<TcpListener> =
            vec![bind().await?, bind().await?, bind().await?, bind().await?];
        let web_outbound = outbound[2].local_addr()?;
        let bot_outbound = outbound[3].local_addr()?;
        let tally = apps::Tally::default();
        let mut apps_listening = Vec::new();
        for name in ["emoji", "voting", "web"] {
            let listener = bind().await?;
            apps_listening.push(listener.local_addr()?);
            let (limits, stopped) = (limits.clone(), stopped());
            match name {
                "emoji" => {
                    tasks.spawn(async move {
                        let _ = crate::testsvc::serve_connections(
                            listener,
                            stopped,
                            &limits,
                            apps::emoji,
                        )
                        .await;
                    });
                }
                "voting" => {
                    let tally = tally.clone();
                    tasks.spawn(async move {
                        let handler = move |req| apps::voting(tally.clone(), req);
                        let _ =
                            crate::testsvc::serve_connections(listener, stopped, &limits, handler)
                                .await;
                    });
                }
                _ => {
                    let deps = apps::WebDeps {
                        outbound: web_outbound,
                    };
                    tasks.spawn(async move {
                        let handler = move |req| apps::web(deps, req);
                        let _ =
                            crate::testsvc::serve_connections(listener, stopped, &limits, handler)
                                .await;
                    });
                }
            }
        }
        let specs = [
            ("emoji", Some("emoji-svc:8080"), Some(apps_listening[0])),
            ("voting", Some("voting-svc:8080"), Some(apps_listening[1])),
            ("web", Some("web-svc:8080"), Some(apps_listening[2])),
            ("vote-bot", None, None),
        ];
        // One store per workload, in `specs`' order; none without mTLS.
        let mut tls = match opts.mtls {
            true => identities::issue(&opts.work_dir, &specs.map(|(name, _, _)| name))?,
            false => Vec::new(),
        }
        .into_iter();
        for ((name, service, app), outbound) in specs.into_iter().zip(outbound) {
            let inbound = match app {
                Some(_) => Some(bind().await?),
                None => None,
            };
            let admin = bind().await?;
            let started = Started {
                workload: format!("deploy/{name}"),
                app,
                inbound: inbound.as_ref().map(TcpListener::local_addr).transpose()?,
                outbound: outbound.local_addr()?,
                admin: admin.local_addr()?,
            };
            let config = ProxyConfig {
                identity: Identity {
                    namespace: NAMESPACE.into(),
                    workload: started.workload.parse().expect("a valid workload"),
                    pod: format!("{name}-0"),
                },
                services: service
                    .into_iter()
                    .map(|s| s.parse().expect("a valid service"))
                    .collect(),
                app,
                cluster_domain: "cluster.local".into(),
                opaque_ports: vec![],
                allow_destinations: Default::default(),
                profiles_dir: Some(profiles.clone()),
                endpoints_file: None,
                registry_dir: Some(opts.registry.clone()),
                kube: None,
                limits: Limits::default(),
                admin: Default::default(),
                capture: None,
                tls: tls.next(),
                require_identity: Default::default(),
            };
            let listeners = Listeners {
                inbound,
                outbound: Some(outbound),
                admin,
            };
            let stopped = stopped();
            tasks.spawn(async move {
                if let Err(e) = serve(config, listeners, stopped).await {
                    tracing::error!("demo proxy failed: {:#}", anyhow::Error::from(e));
                }
            });
            workloads.push(started);
        }
        for w in &workloads {
            crate::proxy::readiness::wait_ready(
                w.admin,
                Duration::from_millis(20),
                Duration::from_secs(10),
            )
            .await
            .map_err(|e| DemoError::NotReady {
                workload: w.workload.clone(),
                source: Box::new(e),
            })?;
        }
        let (interval, stopped) = (opts.vote_interval, stopped());
        tasks.spawn(apps::vote_bot(bot_outbound, interval, stopped));
        Ok(Running {
            workloads,
            stop,
            tasks,
        })
    }

    /// Stops the bot, the apps and the proxies (which remove their registry records).
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .is_err()
        {
            self.tasks.abort_all();
        }
    }
}

/// Why the demo's Prometheus did not start.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusStartError {
    #[error("writing {}", path.display())]
    Config {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("choosing a port for Prometheus")]
    Port(#[source] std::io::Error),
    #[error("running prometheus (install it, e.g. `apt-get install prometheus`)")]
    Spawn(#[source] std::io::Error),
    #[error("Prometheus at {0} not ready within 30s")]
    NotReady(SocketAddr),
}

/// A local Prometheus server scraping the demo's proxies every second; stopped when dropped.
pub struct LocalPrometheus {
    child: std::process::Child,
    pub url: String,
}

impl LocalPrometheus {
    /// Starts `prometheus` with its data and configuration under `dir`, waiting until it is ready.
    pub async fn start(
        dir: &Path,
        targets: &[SocketAddr],
    ) -> Result<LocalPrometheus, PrometheusStartError> {
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mesh\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).map_err(|source| PrometheusStartError::Config {
            path: file.clone(),
            source,
        })?;
        // Prometheus cannot report a port it chose: take a free one and hand it over.
        let addr = bind()
            .await
            .and_then(|l| l.local_addr())
            .map_err(PrometheusStartError::Port)?;
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus-data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(PrometheusStartError::Spawn)?;
        let prometheus = LocalPrometheus {
            child,
            url: format!("http://{addr}"),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if crate::admin_api::AdminClient::new()
                .get(addr, "/-/ready")
                .await
                .is_ok_and(|r| r.status == http::StatusCode::OK)
            {
                return Ok(prometheus);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(PrometheusStartError::NotReady(addr));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for LocalPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
