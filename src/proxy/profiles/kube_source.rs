//! ServiceProfiles from the Kubernetes API (`mesh proxy --profile-source kube`): a cluster-wide
//! watch of `serviceprofiles.linkerd.io` (v1alpha2, the version Linkerd's CRD stores), feeding the
//! same store `--profiles DIR` feeds. Each object is decoded, checked and compiled by the code
//! that reads files (so the proxy refuses in the API what `mesh profile check` refuses on disk);
//! an object that fails keeps its last good version and is logged once per resourceVersion.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;

use crate::proxy::discovery::kubernetes::drive::{drive, LastError};
use kube::{Api, Client};
use tokio::task::JoinHandle;

use super::{load_text, ProfileStore, ServiceRoutes};

/// The ServiceProfile resource: `linkerd.io/v1alpha2`, plural `serviceprofiles`.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("linkerd.io", "v1alpha2", "ServiceProfile"),
        "serviceprofiles",
    )
}

/// Starts the watch: every change republishes the API's profiles into `store`, until `shutdown`.
///
/// # Errors
///
/// The client cannot be built from `config`.
pub fn spawn(
    store: &Arc<ProfileStore>,
    config: kube::Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, kube::Error> {
    let client = Client::try_from(config)?;
    let api: Api<DynamicObject> = Api::all_with(client, &resource());
    let writer = reflector::store::Writer::new(resource());
    let reader = writer.as_reader();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()));
    let store = store.clone();
    Ok(tokio::spawn(async move {
        let mut compiled = Compiled::default();
        let what = "the ServiceProfiles (linkerd.io/v1alpha2) of every namespace";
        // During a (re)list the reflector keeps the previous list until the new one is whole:
        // `drive` calls back at its end and at each change, not per page.
        let watching = drive(stream, what, LastError::default(), || {
            store.set_objects(compiled.update(&reader))
        });
        tokio::select! {
            _ = shutdown => {}
            _ = watching => {}
        }
    }))
}

/// The compiled profiles of each object, recompiled only when its resourceVersion changes.
#[derive(Default)]
struct Compiled {
    by_key: HashMap<String, (Option<String>, Vec<Arc<ServiceRoutes>>)>,
}

impl Compiled {
    /// The profiles of the objects now in `reader`, by `namespace/name`.
    fn update(
        &mut self,
        reader: &Store<DynamicObject>,
    ) -> BTreeMap<String, Vec<Arc<ServiceRoutes>>> {
        let mut out = BTreeMap::new();
        let mut seen = HashMap::new();
        for object in reader.state() {
            let key = format!(
                "{}/{}",
                object.metadata.namespace.as_deref().unwrap_or(""),
                object.metadata.name.as_deref().unwrap_or("")
            );
            let version = object.metadata.resource_version.clone();
            let kept = self.by_key.remove(&key);
            let profiles = match kept {
                Some((v, profiles)) if v == version => profiles,
                kept => match compile(&object) {
                    Ok(profiles) => {
                        tracing::info!(profile = %key, "ServiceProfile loaded from the API");
                        profiles
                    }
                    Err(why) => {
                        let keeping = kept.map(|(_, p)| p).unwrap_or_default();
                        tracing::warn!(
                            profile = %key,
                            "ServiceProfile from the API refused ({why}); {}",
                            if keeping.is_empty() { "it applies no routes" } else { "its last good version stays in force" }
                        );
                        keeping
                    }
                },
            };
            out.insert(key.clone(), profiles.clone());
            seen.insert(key, (version, profiles));
        }
        for key in self.by_key.keys() {
            tracing::info!(profile = %key, "ServiceProfile removed from the API");
        }
        self.by_key = seen;
        out
    }
}

/// One object's profiles, through the file decoder (JSON is YAML).
fn compile(object: &DynamicObject) -> Result<Vec<Arc<ServiceRoutes>>, String> {
    let mut value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    // What the API adds and a profile file does not carry.
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.retain(|k, _| k == "name" || k == "namespace");
    }
    load_text(&value.to_string()).map_err(|e| e.to_string())
}
