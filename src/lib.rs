//! mesh: an operator toolkit for a lightweight service mesh — ServiceProfiles, a sidecar proxy,
//! and the tables that read what it measured. The library holds the domain; the `mesh` binary
//! parses arguments and prints (`docs/` and `DESIGN.md` say how the parts fit).
//!
//! # Layout
//!
//! Each layer imports only the layers below it (`tests/it/layering.rs` checks this):
//!
//! ```text
//! cli · demo · testsvc · fuzzing      commands, demo, test services: may use anything below
//! ─────────────────────────────
//! proxy · viz                         the data plane; what operators ask (apart: neither
//!                                     imports the other)
//! ─────────────────────────────
//! admin_api                           the admin port's contracts and its client
//! ─────────────────────────────
//! profile · registry · identity · grpc · yaml     the words every layer uses
//! capture                             the pod's capture rules (`mesh init`), SO_ORIGINAL_DST
//! mtls                                TLS identities, certificates and rustls configs (mTLS)
//! kubernetes                          manifests: `mesh install`, `mesh inject`, `mesh uninject`
//! ```
//!
//! - [`profile`]: the ServiceProfile model, its generators (OpenAPI, proto, template, tap),
//!   validation, and the request matcher shared by the proxy and tap.
//! - [`proxy`]: the sidecar. A request flows listener → detect → route match → deadline → retry →
//!   balance → connect → respond, and every step feeds metrics, windows and tap, which the admin
//!   port serves (`/metrics`, `/stats`, `/tap`, `/ready`).
//! - [`admin_api`]: what the admin port speaks, as both ends see it: the `/stats` report
//!   ([`admin_api::stats`]), the `/tap` events and query ([`admin_api::tap`]), the bearer token
//!   of a public admin port ([`admin_api::token`]), and the one client that asks admin ports
//!   ([`admin_api::client`]).
//! - [`viz`]: `mesh stat/routes/edges/tap`: resource selector → source (the proxies' admin ports
//!   or Prometheus) → one Stats model → table, wide or JSON.
//! - [`registry`]: the local registry of running proxies: discovery on one machine.
//! - [`identity`]: who a workload is (namespace, `deploy/web`, pod).
//! - [`mtls`]: mutual TLS between proxies: what a certificate proves (a service account in a
//!   namespace, as a SPIFFE ID or Linkerd's DNS-style name), the identity directory and its
//!   reloads, the rustls configs both ways, and `mesh identity`'s certificate authority.
//! - [`grpc`]: gRPC message framing and status, for the proxy's answers and the test services.
//! - [`yaml`]: the single seam to the YAML library.
//! - [`capture`]: transparent capture: the nat rules `mesh init` installs in a pod's network
//!   namespace (nft, iptables-nft, iptables-legacy) and the original-destination lookup.
//! - [`kubernetes`]: the manifests mesh puts in a cluster, edited as YAML trees: what `mesh install`
//!   prints once (the ServiceProfile CRD, discovery's ClusterRole and binding, the proxies' scrape
//!   config); `mesh inject` adds the capture init container and the proxy to workloads' pods
//!   (native sidecar or classic), `mesh uninject` takes them out.
//!
//! Outside the documented API (hidden, public only for the binary, the tests and `fuzz/`): `cli`
//! (one module per subcommand), `demo` (the emojivoto-style demo), `testsvc` (test upstreams and
//! clients) and `fuzzing` (the fuzz targets' entry points).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// `eprintln!` and `println!` panic when the pipe they write to has closed: use `cli::diag!` and
// the printers' `io::Write` results (a closed stdout is a quiet end, as in ripgrep).
#![cfg_attr(not(test), deny(clippy::print_stderr, clippy::print_stdout))]

pub mod admin_api;
pub mod capture;
pub mod cidr;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod demo;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod identity;
pub mod kubernetes;
pub mod mtls;
pub mod profile;
pub mod proxy;
pub mod registry;
#[doc(hidden)]
pub mod testsvc;
pub mod viz;
pub mod yaml;
