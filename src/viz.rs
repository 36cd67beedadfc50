//! What operators ask of the mesh: `mesh stat`, `mesh routes`, `mesh edges`, `mesh tap`.
//!
//! ```text
//! resource selector ──► source (proxies' /stats) ──► Stats model ──► table | wide | json
//! ```
//!
//! [`resource`] parses selectors; [`source`] finds proxies (the local registry, or admin addresses)
//! and fetches their windows; [`model`] sums them into rows; [`print`](mod@print) formats rows. Nothing here
//! knows about clap.

pub mod lookup;
pub mod model;
pub mod print;
pub mod prometheus;
pub mod resource;
pub mod source;
pub mod tap;
