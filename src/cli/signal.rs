//! Shutdown signals for the long-running subcommands (`mesh proxy`, `mesh test-server`), and the
//! signals `mesh proxy -- APP` and `mesh await -- CMD` pass on to the process they run.

use std::future::Future;

use anyhow::Context;

/// A signal that asks a process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM (as Kubernetes sends).
    Terminate,
    /// SIGINT (Ctrl-C).
    Interrupt,
}

// === impl StopSignal ===

impl StopSignal {
    /// The signal's number (15 or 2), as in a shell's exit status 128 + N.
    pub fn number(self) -> u8 {
        match self {
            StopSignal::Terminate => 15,
            StopSignal::Interrupt => 2,
        }
    }
}

/// The stop signals this process receives, one by one, from when it was installed.
pub struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

// === impl StopSignals ===

impl StopSignals {
    /// Installs the handlers: from now on SIGTERM and SIGINT no longer end this process, they
    /// arrive here. Install them before announcing listeners or starting a child, so a signal sent
    /// right after cannot kill the process before it can shut down (or pass the signal on).
    #[cfg(unix)]
    pub fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            term: signal(SignalKind::terminate()).context("handling SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("handling SIGINT")?,
        })
    }

    /// Installs the Ctrl-C handler.
    #[cfg(not(unix))]
    pub fn install() -> anyhow::Result<Self> {
        Ok(StopSignals {})
    }

    /// The next stop signal.
    #[cfg(unix)]
    pub async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.term.recv() => StopSignal::Terminate,
            _ = self.int.recv() => StopSignal::Interrupt,
        }
    }

    /// The next Ctrl-C.
    #[cfg(not(unix))]
    pub async fn recv(&mut self) -> StopSignal {
        // Without a Ctrl-C handler there is nothing to wait for: stop now, as before.
        let _ = tokio::signal::ctrl_c().await;
        StopSignal::Interrupt
    }
}

/// Completes on the first SIGINT or SIGTERM (Ctrl-C off unix). The handlers are installed when
/// this is called (see [`StopSignals::install`]).
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    let mut signals = StopSignals::install()?;
    Ok(async move {
        signals.recv().await;
    })
}
