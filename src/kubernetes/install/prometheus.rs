//! The Prometheus scrape config for the proxies: the `mesh-proxies` job (`prometheus.yml`, kept
//! beside this file and printed as written, comments included, so a reader merging it into their
//! own Prometheus sees why each rule is there), and the ConfigMap that holds it.
//!
//! The job finds pods with Kubernetes service discovery (`role: pod`) and keeps those that carry
//! the annotations `mesh inject` writes on the pod template: `prometheus.io/scrape: "true"`, the
//! admin port in `prometheus.io/port` and the path in `prometheus.io/path`. It adds no target
//! labels: the proxies label their own series (namespace, workload, pod), as `mesh stat
//! --prometheus` expects. `tests/it/kubernetes_install.rs` checks it with `promtool` and runs its
//! relabelling in a real Prometheus against real proxies.

use std::collections::BTreeMap;

use serde::Serialize;

use super::meta::ObjectMeta;

/// The job's name in Prometheus (its `job` label).
pub const JOB: &str = "mesh-proxies";

/// The ConfigMap that holds the scrape config.
pub const CONFIG_MAP: &str = "mesh-prometheus";

/// The ConfigMap's key, the file a Prometheus container mounts.
pub const CONFIG_KEY: &str = "prometheus.yml";

/// The scrape config, a complete `prometheus.yml` with the one job.
pub const SCRAPE_CONFIG: &str = include_str!("prometheus.yml");

/// A `v1` ConfigMap.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    api_version: &'static str,
    kind: &'static str,
    pub metadata: ObjectMeta,
    pub data: BTreeMap<String, String>,
}

/// [`CONFIG_MAP`] in `namespace`, holding [`SCRAPE_CONFIG`] as [`CONFIG_KEY`].
pub fn config_map(namespace: &str) -> ConfigMap {
    ConfigMap {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: ObjectMeta::namespaced(CONFIG_MAP, namespace),
        data: BTreeMap::from([(CONFIG_KEY.to_string(), SCRAPE_CONFIG.to_string())]),
    }
}
