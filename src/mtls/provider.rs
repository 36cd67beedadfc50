//! The one crypto provider: ring.
//!
//! rustls 0.23 picks a process-wide default provider only when exactly one is compiled in, and
//! panics at the first TLS config built without one otherwise ("no process-level CryptoProvider
//! available"). mesh builds ring only (kube's `ring` feature, our own), but a dependency that
//! turned aws-lc-rs on would make that panic appear at run time. So mesh never relies on the
//! default: [`install`] sets ring as the process default at start (before kube's client builds
//! its config), and every config mesh builds names [`ring()`] itself.

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

#[cfg(test)]
mod tests {
    use super::*;

    fn suites(p: &CryptoProvider) -> Vec<rustls::SupportedCipherSuite> {
        p.cipher_suites.clone()
    }

    /// What `main` does first: after it, configs built the default way (as kube's client builds
    /// its own) find ring, and installing again changes nothing.
    #[test]
    fn after_install_the_process_default_is_ring_and_stays_so() {
        install();
        let default = CryptoProvider::get_default().expect("a process default after install");
        assert_eq!(suites(default), suites(&ring()));
        assert!(!install(), "a second install keeps the first");
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        assert_eq!(
            suites(config.crypto_provider()),
            suites(&ring()),
            "a config built without naming a provider uses ring"
        );
    }

    /// The panic rustls 0.23 saves for run time needs a second provider compiled in; the lock
    /// file is where one would appear (aws-lc-rs, through a dependency's default features).
    #[test]
    fn no_second_crypto_provider_is_compiled_in() {
        let lock = include_str!("../../Cargo.lock");
        for other in ["name = \"aws-lc-rs\"", "name = \"aws-lc-sys\""] {
            assert!(
                !lock.contains(other),
                "Cargo.lock builds {other}: turn the dependency's aws-lc feature off"
            );
        }
    }
}
