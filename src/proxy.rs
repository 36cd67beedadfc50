//! The data plane: `mesh proxy`.
//!
//! The walk of one request, top to bottom, one module per step:
//!
//! ```text
//! listener   listener    accept (connection limit, backoff, drain), one task per connection,
//!            server      which detects its protocol and serves it
//! detect     detect      HTTP/1, HTTP/2 or opaque TCP from the first bytes
//!            inbound | outbound   the two entry points; each `handle` reads as the steps below
//!                        (outbound first asks discovery and the forwarding policy: outbound::destination)
//! route      route       the ServiceProfile route, once: MatchedRoute (name, timeout,
//!                        retryable, response classes, budget)
//! deadline   timeout     one Deadline: dispatch waits, every try and the response head
//! retry      retry       whether and when to send again, over a "send one try" seam
//! balance    balance     each try placed on an endpoint (p2c, peak EWMA, fail-fast)
//! connect    connect     each try sent over the endpoint's pooled HTTP/1 or HTTP/2 connection
//! respond    observe     the response counted and tapped as it streams back, or
//!            respond     the one rescue point: an error becomes a response (mesh-proxy-error),
//!                        counted in {inbound,outbound}_http_errors_total and tapped
//!
//!            └──► metrics (counters, histograms, windows) ──► admin: /metrics /stats /ready
//!            └──► tap (bounded broadcast) ──► admin: /tap
//! ```
//!
//! [`server::serve`] runs a proxy on listeners its caller bound; [`config::ProxyConfig`] holds its
//! identity, services and every bound. Errors the proxy answers itself are built in one place,
//! [`respond::rescue`], with a `mesh-proxy-error` header that says what went wrong and what to
//! change.
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
pub mod listener;
pub mod maps;
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
pub mod tls;

pub use config::{
    AdminAccess, Capture, InboundForward, KubeApi, Limits, ProxyConfig, RequireIdentity,
};
pub use server::{check, serve, Checked, Listeners, ServeError};
