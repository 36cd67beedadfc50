//! Rotation without restart: the identity files are read again whenever they change, and the
//! new configs replace the old ones for every connection made after (connections already open
//! keep theirs, as with Linkerd's proxy).
//!
//! Issuers replace the files in different ways: cert-manager and the kubelet swap a `..data`
//! symlink (all files at once), spiffe-helper and `mesh identity issue` rename one file after the
//! other. So the watcher compares a fingerprint of the three files (size, modification time and
//! the file a symlink resolves to) every poll interval; a change is loaded and checked in full
//! ([`Credentials::load`]). A set that does not check (a key that no longer matches a half-written
//! rotation, an expired certificate) is refused, said once in the log with its reason, and the
//! last good configs stay in force until a good set appears.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::certificate::rfc3339;
use super::configs::TlsConfigs;
use super::files::{Credentials, IdentityPaths};
use super::id::TlsId;

/// Why the identity could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Credentials(#[from] super::files::CredentialsError),
    #[error(transparent)]
    Config(#[from] super::configs::ConfigError),
}

/// The configs in force, replaced on rotation.
#[derive(Debug)]
pub struct TlsStore {
    current: ArcSwap<TlsConfigs>,
    paths: IdentityPaths,
    expected: TlsId,
}

type Fingerprint = Vec<Option<(PathBuf, u64, Option<SystemTime>)>>;

impl TlsStore {
    /// Loads the identity at `paths`, which must prove `expected`.
    pub fn load(paths: IdentityPaths, expected: TlsId) -> Result<TlsStore, LoadError> {
        let configs = configs(&paths, &expected)?;
        Ok(TlsStore {
            current: ArcSwap::from_pointee(configs),
            paths,
            expected,
        })
    }

    /// The configs for a connection starting now.
    pub fn current(&self) -> Arc<TlsConfigs> {
        self.current.load_full()
    }

    /// Where the files are.
    pub fn paths(&self) -> &IdentityPaths {
        &self.paths
    }

    /// Reads the files again now; the configs are replaced when they check. `Ok(true)`: replaced.
    pub fn reload(&self) -> Result<bool, LoadError> {
        let next = configs(&self.paths, &self.expected)?;
        let old = self.current.load();
        let same = old.not_after == next.not_after && same_chain(&old, &next);
        if !same {
            self.current.store(Arc::new(next));
        }
        Ok(!same)
    }

    /// Watches the files every `interval` until `shutdown`, reloading on change (see the module
    /// docs); logs each reload, and each distinct refusal once.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seen = fingerprint(&store.paths);
            let mut last_error: Option<String> = None;
            let mut expiry_said = false;
            loop {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tick.tick() => {}
                }
                let now_seen = fingerprint(&store.paths);
                let expired = SystemTime::now() > store.current().not_after;
                // A failed load is tried again each tick: a rotation half written finishes.
                if now_seen == seen && last_error.is_none() && !expired {
                    continue;
                }
                seen = now_seen;
                let s = store.clone();
                let Ok(result) = tokio::task::spawn_blocking(move || s.reload()).await else {
                    continue;
                };
                match result {
                    Ok(replaced) => {
                        if replaced {
                            let c = store.current();
                            tracing::info!(
                                identity = %c.server_name,
                                "identity reloaded from {}: valid until {}",
                                store.paths.cert.display(),
                                rfc3339(c.not_after)
                            );
                        }
                        last_error = None;
                        expiry_said = false;
                    }
                    Err(e) => {
                        let text = e.to_string();
                        if last_error.as_deref() != Some(&text) {
                            tracing::error!(
                                "identity files refused, keeping the last good certificate (valid until {}): {text}",
                                rfc3339(store.current().not_after)
                            );
                            last_error = Some(text);
                        }
                        if expired && !expiry_said {
                            tracing::error!(
                                "this proxy's certificate expired at {}: peers refuse its TLS until {} holds a valid one",
                                rfc3339(store.current().not_after),
                                store.paths.cert.display()
                            );
                            expiry_said = true;
                        }
                    }
                }
            }
        })
    }
}

fn configs(paths: &IdentityPaths, expected: &TlsId) -> Result<TlsConfigs, LoadError> {
    let credentials = Credentials::load(paths, expected, SystemTime::now())?;
    Ok(TlsConfigs::new(&credentials)?)
}

fn same_chain(a: &TlsConfigs, b: &TlsConfigs) -> bool {
    a.chain == b.chain
}

fn fingerprint(paths: &IdentityPaths) -> Fingerprint {
    [&paths.cert, &paths.key, &paths.trust_anchors]
        .into_iter()
        .map(|p| {
            let resolved = std::fs::canonicalize(p).ok()?;
            let meta = std::fs::metadata(&resolved).ok()?;
            Some((resolved, meta.len(), meta.modified().ok()))
        })
        .collect()
}
