//! What a Kubernetes version accepts that its OpenAPI schema does not say. The 1.28 schema already
//! has `restartPolicy` on containers, yet the API server (its pod validation,
//! `pkg/apis/core/validation`) allows it only on init containers, only as `Always`, and only where
//! native sidecars are on (by default from 1.29, beta; GA in 1.33); probes and lifecycle hooks on
//! an init container only with it. An offline schema check passes manifests a cluster would
//! refuse, so inject checks these rules itself against `--kubernetes-version`.

use std::fmt;
use std::str::FromStr;

use crate::yaml::{Mapping, Tree};

use super::FieldError;

/// A Kubernetes minor version (`1.33`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubernetesVersion {
    /// Always 1.
    pub major: u32,
    /// The minor release (33 in 1.33).
    pub minor: u32,
}

/// The version inject writes for unless told: a current release.
pub const DEFAULT_VERSION: KubernetesVersion = KubernetesVersion {
    major: 1,
    minor: 33,
};

/// The first version with native sidecars on by default (`SidecarContainers`, beta).
pub const NATIVE_SIDECARS_SINCE: KubernetesVersion = KubernetesVersion {
    major: 1,
    minor: 29,
};

impl KubernetesVersion {
    /// Whether the API server accepts init containers with `restartPolicy: Always`.
    pub fn has_native_sidecars(self) -> bool {
        self >= NATIVE_SIDECARS_SINCE
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// `1.33`, `v1.33`, or `1.33.2` (the patch is ignored).
impl FromStr for KubernetesVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a Kubernetes version (MAJOR.MINOR, e.g. 1.33)");
        let mut parts = s.trim().trim_start_matches('v').split('.');
        let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if let Some(patch) = parts.next() {
            patch.parse::<u32>().map_err(|_| bad())?;
        }
        if parts.next().is_some() || major != 1 {
            return Err(bad());
        }
        Ok(KubernetesVersion { major, minor })
    }
}

/// Checks a pod spec (`spec` of a pod or a pod template, at field path `at`) against the API
/// server's rules on `restartPolicy` and on init containers' probes and hooks, for `version`.
///
/// Errors: the first container field the API server of that version would refuse.
pub fn check_pod_spec(
    spec: &Mapping,
    at: &str,
    version: KubernetesVersion,
) -> Result<(), FieldError> {
    for (i, container) in list(spec, "containers").iter().enumerate() {
        if container.get("restartPolicy").is_some() {
            return Err(FieldError::new(
                format!("{at}.containers[{i}].restartPolicy"),
                "allowed only on init containers (the API server refuses it here)",
            ));
        }
    }
    for (i, container) in list(spec, "initContainers").iter().enumerate() {
        let field = |key: &str| format!("{at}.initContainers[{i}].{key}");
        let restartable = match container.get("restartPolicy") {
            None => false,
            Some(Tree::String(p)) if p == "Always" => true,
            Some(_) => {
                return Err(FieldError::new(
                    field("restartPolicy"),
                    "an init container takes only restartPolicy Always (a native sidecar)",
                ))
            }
        };
        if restartable && !version.has_native_sidecars() {
            return Err(FieldError::new(
                field("restartPolicy"),
                format!(
                    "native sidecars (an init container with restartPolicy Always) need \
                     Kubernetes {NATIVE_SIDECARS_SINCE} or later; the API server of {version} \
                     refuses it unless its SidecarContainers feature gate is on"
                ),
            ));
        }
        if !restartable {
            for key in [
                "startupProbe",
                "livenessProbe",
                "readinessProbe",
                "lifecycle",
            ] {
                if container.get(key).is_some() {
                    return Err(FieldError::new(
                        field(key),
                        "allowed on an init container only with restartPolicy Always (the API \
                         server refuses it on one that runs to completion)",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The mappings of the list under `key` (entries that are not mappings are the schema's concern).
fn list<'a>(spec: &'a Mapping, key: &str) -> Vec<&'a Mapping> {
    spec.get(key)
        .and_then(Tree::as_sequence)
        .map(|s| s.iter().filter_map(Tree::as_mapping).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Mapping {
        crate::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn versions_read_with_or_without_v_and_patch() {
        for s in ["1.29", "v1.29", "1.29.3"] {
            assert_eq!(s.parse::<KubernetesVersion>().unwrap().to_string(), "1.29");
        }
        for s in ["1", "2.0", "1.x", "1.29.3.4", ""] {
            assert!(s.parse::<KubernetesVersion>().is_err(), "{s}");
        }
        assert!(!"1.28"
            .parse::<KubernetesVersion>()
            .unwrap()
            .has_native_sidecars());
        assert!("1.29"
            .parse::<KubernetesVersion>()
            .unwrap()
            .has_native_sidecars());
    }

    #[test]
    fn restart_policy_belongs_to_init_containers_and_native_sidecar_versions() {
        let v = |s: &str| s.parse::<KubernetesVersion>().unwrap();
        let native = spec(
            "initContainers:\n- {name: p, restartPolicy: Always, startupProbe: {}}\ncontainers:\n- {name: a}\n",
        );
        assert_eq!(check_pod_spec(&native, "spec", v("1.29")), Ok(()));
        let err = check_pod_spec(&native, "spec", v("1.28")).unwrap_err();
        assert_eq!(err.field, "spec.initContainers[0].restartPolicy");
        assert!(err.message.contains("1.29"), "{}", err.message);

        let in_containers = spec("containers:\n- {name: a, restartPolicy: Always}\n");
        let err = check_pod_spec(&in_containers, "spec", v("1.33")).unwrap_err();
        assert_eq!(err.field, "spec.containers[0].restartPolicy");

        let never = spec("initContainers:\n- {name: p, restartPolicy: Never}\ncontainers: []\n");
        let err = check_pod_spec(&never, "spec", v("1.33")).unwrap_err();
        assert!(err.message.contains("only restartPolicy Always"));

        let probe_without = spec("initContainers:\n- {name: p, startupProbe: {}}\n");
        let err = check_pod_spec(&probe_without, "spec", v("1.33")).unwrap_err();
        assert_eq!(err.field, "spec.initContainers[0].startupProbe");
    }
}
