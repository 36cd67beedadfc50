//! Mutual TLS between proxies: workload identities from certificates, and the TLS both ways.
//!
//! ```text
//! identity dir (tls.crt, tls.key, ca.crt │ svid.pem, key.pem, bundle.pem) ──► files ──► reload
//!        (cert-manager, SPIRE's spiffe-helper, `mesh identity issue`)            │ (ArcSwap)
//!   outbound connect ──► client config: SNI = the endpoint's identity name ◄─────┤
//!   inbound accept ──► ClientHello for this identity? terminate : pass through ◄─┘
//! ```
//!
//! mesh's own certificate authority writes such a directory: [`authority`] (`mesh identity init`:
//! a trust anchor and an issuer) ──► [`issue`] (`mesh identity issue`: a leaf per service
//! account) ──► [`staged`] (every file whole, or none); [`inspect`] reads any of them back.
//!
//! Not to be confused with [`crate::identity`], the workload's *name* (namespace, `deploy/web`,
//! pod): this module is about what a certificate *proves*, a service account in a namespace
//! ([`id::TlsId`]).
pub mod authority;
pub mod certificate;
pub mod configs;
pub mod files;
pub mod id;
pub mod inspect;
pub mod issue;
pub mod provider;
pub mod reload;
pub mod staged;
#[cfg(test)]
mod test_files;

pub use id::TlsId;
