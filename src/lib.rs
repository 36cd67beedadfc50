//! mesh: an operator toolkit for a lightweight service mesh.
//!
//! The library holds the domain; the `mesh` binary only parses arguments and prints. See
//! `DESIGN.md`-style overview in `docs/` for how the parts fit:
//! - [`profile`]: the ServiceProfile model, its generators (OpenAPI, proto, template), validation, and
//!   the request matcher shared by the proxy and tap.
//! - [`yaml`]: the single seam to the YAML library.
#![forbid(unsafe_code)]

pub mod admin_api;
pub mod cli;
pub mod demo;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod identity;
pub mod profile;
pub mod proxy;
pub mod registry;
pub mod testsvc;
pub mod viz;
pub mod yaml;

/// The old path of [`admin_api::stats`], kept while the proxy's files still name it.
#[doc(hidden)]
pub use admin_api::stats;
/// The old path of [`admin_api::tap`], kept while the proxy's files still name it.
#[doc(hidden)]
pub use admin_api::tap as tap_event;
