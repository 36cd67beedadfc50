//! The data plane: `mesh proxy`.
//!
//! ```text
//! socket ──► detect ──► inbound|outbound ──► route match ──► forward ──► connect (pooled)
//!     └──────────► metrics (counters, histograms, windows) ──► admin: /metrics /stats /ready
//!     └──────────► tap (bounded broadcast) ──► admin: /tap
//! ```
//!
//! [`server::serve`] runs a proxy on listeners its caller bound; [`config::ProxyConfig`] holds its
//! identity, services and every bound. Errors the proxy answers itself are built in one place,
//! [`respond`], with a `mesh-proxy-error` header that says what went wrong and what to change.
pub mod admin;
pub mod app_ports;
pub mod balance;
pub mod body;
pub mod budget;
pub mod classify;
pub mod config;
pub mod connect;
pub mod detect;
pub mod discovery;
pub mod expect;
pub mod forward;
pub mod guard;
pub mod h2_settings;
pub mod headers;
pub mod hop;
pub mod inbound;
pub mod io;
pub mod memo;
pub mod metrics;
pub mod observe;
pub mod outbound;
pub mod parse_errors;
pub mod policy;
pub mod profiles;
pub mod readiness;
pub mod replay;
pub mod request_target;
pub mod respond;
pub mod retry;
pub mod route;
pub mod server;
pub mod state;
pub mod tap;
pub mod timeout;

pub use config::{AdminAccess, Limits, ProxyConfig};
pub use server::{check, serve, Listeners, ServeError};
