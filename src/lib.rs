//! mesh: an operator toolkit for a lightweight service mesh.
//!
//! The library holds the domain; the `mesh` binary only parses arguments and prints. See
//! `DESIGN.md`-style overview in `docs/` for how the parts fit:
//! - [`profile`]: the ServiceProfile model, its generators (OpenAPI, proto, template), validation, and
//!   the request matcher shared by the proxy and tap.
//! - [`yaml`]: the single seam to the YAML library.
#![forbid(unsafe_code)]

pub mod cli;
pub mod demo;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod identity;
pub mod profile;
pub mod proxy;
pub mod registry;
pub mod stats;
pub mod tap_event;
pub mod testsvc;
pub mod viz;
pub mod yaml;
