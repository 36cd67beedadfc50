//! `mesh test-server` (hidden): runs the upstreams of [`crate::testsvc`] as a process, for
//! end-to-end tests, benchmarks and the demo.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{ensure, Context};
use clap::Args;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::testsvc;

/// Run a small upstream server for tests and benchmarks
#[derive(Debug, Args)]
#[command(
    after_help = "Prints `listening http ADDR` / `listening grpc ADDR` once bound (port 0 \
                        picks a free port), then serves until SIGTERM or SIGINT."
)]
pub struct TestServerArgs {
    /// Serve the HTTP test upstream here (HTTP/1.1 and HTTP/2)
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,

    /// Serve the gRPC test upstream here
    #[arg(long, value_name = "ADDR")]
    pub grpc: Option<SocketAddr>,

    /// Delay every answer by this much (a slow replica), e.g. 50ms
    #[arg(long, value_name = "DURATION", value_parser = parse_delay, default_value = "0s")]
    pub delay: std::time::Duration,
}

fn parse_delay(s: &str) -> Result<std::time::Duration, String> {
    crate::profile::duration::parse_go_duration(s).map_err(|e| e.to_string())
}

/// Runs `mesh test-server`.
pub fn run(args: TestServerArgs) -> anyhow::Result<ExitCode> {
    ensure!(
        args.http.is_some() || args.grpc.is_some(),
        "nothing to serve: give --http ADDR, --grpc ADDR or both"
    );
    let runtime = super::runtime(super::Threads::PerCore)?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: TestServerArgs) -> anyhow::Result<ExitCode> {
    let shutdown = super::signal::shutdown_signal()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let limits = testsvc::Limits {
        delay: args.delay,
        ..testsvc::Limits::default()
    };
    let mut servers = tokio::task::JoinSet::new();
    if let Some(addr) = args.http {
        let listener = bind("http", addr).await?;
        servers.spawn(testsvc::HttpTestService::new(limits.clone()).serve(listener, stopped()));
    }
    if let Some(addr) = args.grpc {
        let listener = bind("grpc", addr).await?;
        servers.spawn(testsvc::GrpcTestService::new(limits.clone()).serve(listener, stopped()));
    }

    let outcome = tokio::select! {
        () = shutdown => None,
        // A server only returns early when accepting keeps failing.
        Some(ended) = servers.join_next() => Some(ended),
    };
    let _ = stop_tx.send(true);
    if let Some(ended) = outcome {
        ended.context("test server task")?.context("test server")?;
    }
    while let Some(ended) = servers.join_next().await {
        ended.context("test server task")?.context("test server")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn bind(kind: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {kind} listener to {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    super::print_stdout(&format!("listening {kind} {local}\n"))?;
    Ok(listener)
}
