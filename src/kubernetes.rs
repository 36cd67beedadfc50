//! Kubernetes: the manifests mesh puts into a cluster.
//!
//! - [`install`]: what a cluster needs once, before any workload is meshed (`mesh install`): the
//!   ServiceProfile CRD, the `mesh` namespace and service account, the read-only ClusterRole that
//!   discovery needs and whom it is bound to, and the Prometheus scrape config for the proxies.
//!
//! In the cluster path of DESIGN.md every proxy does its own discovery with its pod's service
//! account (there is no central destination controller), so what `install` grants is what each
//! meshed pod may read. The manifests are built as typed values and printed as YAML through
//! `crate::yaml`; nothing here talks to an API server.

pub mod install;
