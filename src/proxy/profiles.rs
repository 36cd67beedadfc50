//! ServiceProfiles the proxy applies, loaded from `--profiles DIR` and reloaded when files change.
//!
//! Each file's profiles are compiled once per change; requests read the current set through an
//! `ArcSwap` without locking. A file that fails to parse or validate is reported and its last good
//! version kept, so a bad edit never drops the routes a service already has. Connections are never
//! touched by a reload: requests started after it use the new routes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::maps::ReadMap;

pub mod kube_source;
use crate::profile::check::{check_profile, DocumentReport};
use crate::profile::decode::{decode_profiles, Place};
use crate::profile::matcher::{FieldError, RouteMatcher};

/// Largest profile file read.
const MAX_PROFILE_BYTES: u64 = 4 * 1024 * 1024;

/// The compiled profile of one service.
#[derive(Debug)]
pub struct ServiceRoutes {
    /// The profile's `metadata.name` (`web-svc.emojivoto.svc.cluster.local`).
    pub name: String,
    pub matcher: RouteMatcher,
    /// The service's retry budget (the profile's, or the defaults), shared by its requests.
    pub retry_budget: Arc<super::budget::RetryBudget>,
}

/// What changed in one load.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Files (re)loaded successfully.
    pub loaded: Vec<PathBuf>,
    /// Files rejected, with why; their last good version stays in force.
    pub rejected: Vec<(PathBuf, String)>,
    /// Files that disappeared.
    pub removed: Vec<PathBuf>,
}

/// Identifies a version of a file without reading it.
type Signature = (SystemTime, u64);

#[derive(Default)]
struct FileState {
    signature: Option<Signature>,
    profiles: Vec<Arc<ServiceRoutes>>,
}

/// The profiles in force, by name.
pub struct ProfileStore {
    dir: Option<PathBuf>,
    /// Whether `dir` was there at the last reload (`None` before the first): a missing directory
    /// is logged once when found missing and once when it appears, not at every poll.
    dir_present: std::sync::Mutex<Option<bool>>,
    current: ArcSwap<ReadMap<String, Arc<ServiceRoutes>>>,
    files: std::sync::Mutex<BTreeMap<PathBuf, FileState>>,
    /// Profiles from the Kubernetes API (`--profile-source kube`), by `namespace/name`.
    objects: std::sync::Mutex<BTreeMap<String, Vec<Arc<ServiceRoutes>>>>,
}

impl ProfileStore {
    /// A store reading `dir` (none: no profiles, every request is `[DEFAULT]`).
    pub fn new(dir: Option<PathBuf>) -> Arc<Self> {
        Arc::new(ProfileStore {
            dir,
            dir_present: std::sync::Mutex::new(None),
            current: ArcSwap::from_pointee(ReadMap::default()),
            files: std::sync::Mutex::new(BTreeMap::new()),
            objects: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// The profile for a fully qualified service name.
    pub fn get(&self, fqdn: &str) -> Option<Arc<ServiceRoutes>> {
        self.current.load().get(fqdn).cloned()
    }

    /// Re-reads files whose modification time or size changed. Blocking: run it off the reactor.
    pub fn reload(&self) -> LoadReport {
        let mut report = LoadReport::default();
        let Some(dir) = &self.dir else {
            return report;
        };
        self.note_dir(dir);
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let present = profile_files(dir);
        let gone: Vec<PathBuf> = files
            .keys()
            .filter(|p| !present.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            files.remove(&path);
            report.removed.push(path);
        }
        for (path, signature) in present {
            let state = files.entry(path.clone()).or_default();
            if state.signature == Some(signature) {
                continue;
            }
            state.signature = Some(signature);
            match load_file(&path) {
                Ok(profiles) => {
                    state.profiles = profiles;
                    report.loaded.push(path);
                }
                Err(why) => report.rejected.push((path, why.to_string())),
            }
        }
        if !report.loaded.is_empty() || !report.removed.is_empty() {
            drop(files);
            self.publish();
        }
        report
    }

    /// Replaces the profiles from the API with `objects` (`namespace/name` → its compiled
    /// profiles), and publishes them.
    pub fn set_objects(&self, objects: BTreeMap<String, Vec<Arc<ServiceRoutes>>>) {
        *self.objects.lock().unwrap_or_else(|p| p.into_inner()) = objects;
        self.publish();
    }

    /// Makes the files' and the API's profiles the ones requests read (a name in both: the
    /// file's, as a local override).
    fn publish(&self) {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let map = objects
            .values()
            .flatten()
            .chain(files.values().flat_map(|f| f.profiles.iter()))
            .map(|p| (p.name.clone(), p.clone()))
            .collect();
        self.current.store(Arc::new(map));
    }

    /// Logs the directory going missing or appearing. A missing `--profiles` directory is not an
    /// error: it may be mounted or created after the proxy starts, and is polled like the files.
    fn note_dir(&self, dir: &Path) {
        let present = dir.is_dir();
        let mut last = self.dir_present.lock().unwrap_or_else(|p| p.into_inner());
        match (last.replace(present), present) {
            (Some(before), now) if before == now => {}
            // The CLI refuses a path that is not a directory at startup; this is one replaced
            // by a file since.
            (_, false) if dir.exists() => tracing::warn!(
                dir = %dir.display(),
                "--profiles path is not a directory: every request is [DEFAULT] until it is one; \
                 watching it"
            ),
            (_, false) => tracing::warn!(
                dir = %dir.display(),
                "--profiles directory absent: every request is [DEFAULT] until it appears; \
                 watching for it"
            ),
            (Some(false), true) => {
                tracing::info!(dir = %dir.display(), "--profiles directory appeared")
            }
            (_, true) => {}
        }
    }

    /// Polls the directory every `interval` until `shutdown`, logging what changed.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tick.tick() => {}
                }
                let s = store.clone();
                if let Ok(report) = tokio::task::spawn_blocking(move || s.reload()).await {
                    log_report(&report);
                }
            }
        })
    }
}

/// Logs a load: one line per file that changed.
pub fn log_report(report: &LoadReport) {
    for path in &report.loaded {
        tracing::info!(file = %path.display(), "loaded ServiceProfile");
    }
    for (path, why) in &report.rejected {
        tracing::error!(file = %path.display(), "rejected ServiceProfile, keeping its last good version: {why}");
    }
    for path in &report.removed {
        tracing::info!(file = %path.display(), "ServiceProfile file removed");
    }
}

fn profile_files(dir: &Path) -> BTreeMap<PathBuf, Signature> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .filter_map(|p| {
            let meta = std::fs::metadata(&p).ok()?;
            meta.is_file().then_some(())?;
            Some((p, (meta.modified().ok()?, meta.len())))
        })
        .collect()
}

/// Why a profile file's text is not used (the caller keeps the file's last good version). It is
/// reported as one log line naming the file, so each text carries its cause (no `source()`).
#[derive(Debug, thiserror::Error)]
pub enum ProfileFileError {
    /// The file could not be read.
    #[error("{0}")]
    Read(std::io::Error),
    /// The file is over `MAX_PROFILE_BYTES`.
    #[error("larger than {MAX_PROFILE_BYTES} bytes")]
    TooLarge,
    /// The profile at `place` does not decode: `error` is its first problem (field path and line),
    /// and `more` problems follow, which `mesh profile check` lists.
    #[error("{place}: {error}{}", more_problems(.more))]
    Decode {
        place: Place,
        error: FieldError,
        more: usize,
    },
    /// The profile at `place` fails the checks of `mesh profile check`, first at `error`.
    #[error("{place}: {error}")]
    Invalid { place: Place, error: FieldError },
    /// A field that passed the checks cannot be compiled (its path in the text).
    #[error("{0}")]
    Compile(FieldError),
    /// No document at all (seen when a file is read while an editor rewrites it in place).
    #[error("no ServiceProfile in the file (to remove its profiles, delete the file)")]
    Empty,
}

fn load_file(path: &Path) -> Result<Vec<Arc<ServiceRoutes>>, ProfileFileError> {
    let size = std::fs::metadata(path)
        .map_err(ProfileFileError::Read)?
        .len();
    if size > MAX_PROFILE_BYTES {
        return Err(ProfileFileError::TooLarge);
    }
    let text = std::fs::read_to_string(path).map_err(ProfileFileError::Read)?;
    load_text(&text)
}

/// The profiles of one file's text: every document decoded (by the decoder `mesh profile check`
/// uses), checked and compiled, or the first error (the caller then keeps the file's last good
/// version).
pub fn load_text(text: &str) -> Result<Vec<Arc<ServiceRoutes>>, ProfileFileError> {
    let mut out = Vec::new();
    for decoded in decode_profiles(text) {
        let place = decoded.place;
        let profile = decoded.profile.map_err(|errors| {
            let more = errors.len().saturating_sub(1);
            let error = errors
                .into_iter()
                .next()
                .unwrap_or_else(|| FieldError::new("", "not a ServiceProfile"));
            ProfileFileError::Decode { place, error, more }
        })?;
        let mut report = DocumentReport::default();
        check_profile(&profile, &mut report);
        if let Some(error) = report.errors.into_iter().next() {
            return Err(ProfileFileError::Invalid { place, error });
        }
        let matcher = RouteMatcher::compile(&profile).map_err(ProfileFileError::Compile)?;
        out.push(Arc::new(ServiceRoutes {
            name: profile.metadata.name.clone(),
            matcher,
            retry_budget: Arc::new(super::budget::RetryBudget::from_profile(
                profile.spec.retry_budget.as_ref(),
            )),
        }));
    }
    if out.is_empty() {
        return Err(ProfileFileError::Empty);
    }
    Ok(out)
}

/// `" (and 3 more problems: `mesh profile check FILE` lists them)"`, or nothing.
fn more_problems(more: &usize) -> String {
    match *more {
        0 => String::new(),
        1 => " (and 1 more problem: `mesh profile check FILE` lists it)".to_string(),
        n => format!(" (and {n} more problems: `mesh profile check FILE` lists them)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: web.ns.svc.cluster.local\nspec:\n  routes:\n  - name: GET /a\n    condition: {method: GET, pathRegex: /a}\n";

    fn bump(path: &Path, text: &str) {
        // Same size edits within one mtime tick would look unchanged; make the size differ.
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_proxy_refuses_what_check_refuses_in_the_same_words() {
        let text = WEB.replace("name: GET /a", "name: 404") + "    timeout: 0\n";
        let err = load_text(&text).unwrap_err().to_string();
        let checked = crate::profile::check::check_profiles(&text);
        assert_eq!(
            err,
            format!(
                "document 1: {} (and 1 more problem: `mesh profile check FILE` lists it)",
                checked[0].errors[0]
            )
        );
        assert!(
            err.starts_with("document 1: spec.routes[0].name: expected a string, found the number 404 (line 7, column 11); quote it"),
            "{err}"
        );
    }

    #[test]
    fn what_kubectl_get_prints_is_loaded() {
        // `kubectl get sp -o yaml`: a List, server-set metadata, saved by a Windows editor.
        let list = "\u{feff}apiVersion: v1
kind: List
metadata:
  resourceVersion: \"\"
items:
- apiVersion: linkerd.io/v1alpha2
  kind: ServiceProfile
  metadata:
    creationTimestamp: \"2026-11-30T08:15:00Z\"
    generation: 2
    name: api.ns.svc.cluster.local
    namespace: ns
    resourceVersion: \"4711\"
    uid: 6f1e0c52-8d7a-4b8e-9f43-2a1b3c4d5e6f
  spec:
    routes:
    - condition: {method: GET, pathRegex: /a}
      name: GET /a
- apiVersion: linkerd.io/v1alpha2
  kind: ServiceProfile
  metadata:
    name: web.ns.svc.cluster.local
";
        let loaded = load_text(list).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = loaded.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["api.ns.svc.cluster.local", "web.ns.svc.cluster.local"]
        );
        assert!(loaded[0].matcher.route_for("GET", "/a").is_some());
    }

    #[test]
    fn reload_picks_up_changes_and_keeps_the_last_good_version() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("web.yaml");
        bump(&file, WEB);
        let store = ProfileStore::new(Some(dir.path().to_path_buf()));
        assert_eq!(store.reload().loaded, vec![file.clone()]);
        let routes = store.get("web.ns.svc.cluster.local").unwrap();
        assert!(routes.matcher.route_for("GET", "/a").is_some());

        bump(
            &file,
            &format!("{WEB}  - name: GET /b\n    condition: {{method: GET, pathRegex: /b}}\n"),
        );
        store.reload();
        assert!(store
            .get("web.ns.svc.cluster.local")
            .unwrap()
            .matcher
            .route_for("GET", "/b")
            .is_some());

        bump(&file, "garbage: [");
        let report = store.reload();
        assert_eq!(report.rejected.len(), 1);
        // A file caught empty (an editor mid-save) is not "no profiles".
        bump(&file, "");
        assert_eq!(store.reload().rejected.len(), 1);
        assert!(store
            .get("web.ns.svc.cluster.local")
            .unwrap()
            .matcher
            .route_for("GET", "/b")
            .is_some());

        std::fs::remove_file(&file).unwrap();
        assert_eq!(store.reload().removed, vec![file]);
        assert!(store.get("web.ns.svc.cluster.local").is_none());
    }
}
