//! Transparent capture: the nat rules `mesh init` installs in a pod's network namespace so that
//! every TCP connection into and out of the pod goes through its proxy, without the app knowing,
//! and the `SO_ORIGINAL_DST` lookup with which the proxy learns where each connection was going.
//!
//! - [`config`]: what is captured and what skips the proxy (ports, ranges, subnets, the proxy's
//!   uid/gid), parsed and normalised once;
//! - [`rules`]: the rule set as two ordered chains, independent of the backend;
//! - [`nft`] and [`iptables`]: the rule set rendered as `nft -f -` and `iptables-restore` input
//!   (pure, so `--dry-run` prints exactly what would be applied);
//! - [`backend`]: applying it atomically and idempotently with `nft`, `iptables-nft` or
//!   `iptables-legacy` (or `auto`), removing it, and reading it back;
//! - [`check`]: `mesh init --check`, which proves capture works by catching its own probe;
//! - [`original_dst()`]: where a redirected connection was going.
//!
//! The model is Linkerd's proxy-init (`pkg/iptables/iptables.go`); see [`rules`] for where mesh
//! differs, and docs/capture.md for the operator's view.

pub mod backend;
pub mod check;
mod command;
pub mod config;
mod host_addresses;
pub mod iptables;
pub mod nft;
pub mod original_dst;
pub mod rules;

pub use backend::{Backend, BackendError};
pub use command::ToolError;
pub use config::{CaptureConfig, PortRange, PortSet, Subnet};
pub use host_addresses::is_host_address;
pub use original_dst::original_dst;
