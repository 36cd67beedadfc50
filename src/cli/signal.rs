//! Shutdown signals for the long-running subcommands (`mesh proxy`, `mesh test-server`).

use std::future::Future;

use anyhow::Context;

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is called, so call it
/// before announcing listeners: a signal sent right after the announcement must not kill the
/// process before it can shut down cleanly.
#[cfg(unix)]
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
