//! The proxy's admin port as both ends see it: [`crate::proxy`] serves it; [`crate::viz`], `mesh
//! await` and `mesh proxy -- APP` ask it. Its contracts live here, below both, so neither side
//! imports the other:
//!
//! - [`stats`]: the `/stats?window=60s` JSON report (`docs/stats-api.md`), with the [`Direction`]
//!   and [`PeerSide`] words the proxy's metric labels use too;
//! - [`tap`]: the `/tap` query and its newline-delimited JSON events (`docs/tap.md`);
//! - [`token`]: the bearer token of a public admin port, as `--admin-token-file` holds it;
//! - [`client`]: the one HTTP client for admin ports, with bounded waits and bodies.
//!
//! Nothing here imports `proxy`, `viz` or the CLI.

pub mod client;
pub mod stats;
pub mod tap;
pub mod token;

pub use client::{AdminAnswer, AdminClient, AdminError};
pub use stats::{Direction, PeerSide};
pub use token::{read_token_file, TokenFileError};
