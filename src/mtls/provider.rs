//! The one crypto provider: ring.
//!
//! rustls 0.23 picks a process-wide default provider only when exactly one is compiled in, and
//! panics at the first TLS config built without one otherwise ("no process-level CryptoProvider
//! available"). mesh builds ring only (kube's `ring` feature, our own), but a dependency that
//! turned aws-lc-rs on would make that panic appear at run time. So mesh never relies on the
//! default: [`install`] sets ring as the process default at start (before kube's client builds
//! its config), and every config mesh builds names [`ring`] itself.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The ring provider, for configs built with `builder_with_provider`.
pub fn ring() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide default provider, once; `true` when this call installed
/// it, `false` when a default was already in place (ring or another: it is kept).
pub fn install() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}
