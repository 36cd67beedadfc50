//! The demo's mutual TLS: its own trust anchor and issuer (`mesh identity init`, in the demo's
//! temporary directory, gone with it), and a leaf for each workload, whose service account is its
//! name (`web` in `emojivoto`), as in emojivoto's manifests.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::mtls::authority::{Authority, Lifetimes};
use crate::mtls::files::IdentityPaths;
use crate::mtls::issue::DEFAULT_LEAF_LIFETIME;
use crate::mtls::reload::TlsStore;
use crate::mtls::TlsId;

use super::{DemoError, NAMESPACE};

/// The demo's trust domain and control-plane namespace: the proxies' defaults.
const TRUST_DOMAIN: &str = "cluster.local";
const CONTROL_PLANE_NAMESPACE: &str = "mesh";

/// The demo's identities, issued under `dir/identity`: a store per workload of `names`, in order.
///
/// # Errors
///
/// [`DemoError::Identity`] when a certificate cannot be made, written or read back.
pub fn issue(dir: &Path, names: &[&str]) -> Result<Vec<Arc<TlsStore>>, DemoError> {
    let fail = |what: String| DemoError::Identity(what);
    let root = dir.join("identity");
    let authority = Authority::generate(TRUST_DOMAIN, Lifetimes::default())
        .map_err(|e| fail(format!("creating the demo's trust anchor: {e}")))?;
    authority
        .write(
            &root.join("authority"),
            crate::mtls::staged::Existing::Replace,
        )
        .map_err(|e| fail(format!("writing the demo's trust anchor: {e}")))?;
    names
        .iter()
        .map(|name| {
            let id = TlsId::new(name, NAMESPACE, TRUST_DOMAIN, CONTROL_PLANE_NAMESPACE)
                .map_err(|e| fail(format!("the identity of {name}: {e}")))?;
            let leaf_dir = root.join(name);
            authority
                .issue(&id, SystemTime::now(), DEFAULT_LEAF_LIFETIME)
                .and_then(|leaf| leaf.write(&leaf_dir))
                .map_err(|e| fail(format!("issuing the certificate of {name}: {e}")))?;
            let paths = IdentityPaths::in_dir(&leaf_dir, &Default::default());
            let store = TlsStore::load(paths, id)
                .map_err(|e| fail(format!("reading the certificate of {name}: {e}")))?;
            Ok(Arc::new(store))
        })
        .collect()
}
