//! The data plane: `mesh proxy`.
//!
//! ```text
//! socket ──► inbound|outbound ──► route match ──► forward ──► connect
//!     └──────────► metrics (counters, histograms, windows) ──► admin: /metrics /stats /ready
//! ```
pub mod metrics;
