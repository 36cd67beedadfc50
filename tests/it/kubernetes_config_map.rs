//! A proxy's profiles from a ConfigMap, as docs/kubernetes.md mounts them: the kubelet writes a
//! ConfigMap volume as a timestamped directory, a `..data` symlink to it, and one symlink per key
//! (`voting.yaml -> ..data/voting.yaml`); an update writes a new directory and swaps `..data` in
//! one rename (Kubernetes' `AtomicWriter`). The proxy must pick the new profile up without a
//! restart. Here the layout and the swap are made by hand, as the kubelet makes them.

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::net::{config, http_upstream, TestProxy};
use crate::proxy_lifecycle::{get, profile, until_routed};

/// Writes `files` as a new timestamped directory of the volume at `volume` and points `..data`
/// at it by a rename, as the kubelet does; makes the per-key symlinks the first time.
fn kubelet_writes(volume: &Path, generation: u32, files: &[(&str, String)]) {
    let dir_name = format!("..2026_12_01_10_00_0{generation}.00000000{generation}");
    let dir = volume.join(&dir_name);
    std::fs::create_dir(&dir).unwrap();
    for (key, text) in files {
        std::fs::write(dir.join(key), text).unwrap();
    }
    let tmp = volume.join("..data_tmp");
    symlink(&dir_name, &tmp).unwrap();
    let old = std::fs::read_link(volume.join("..data")).ok();
    std::fs::rename(&tmp, volume.join("..data")).unwrap();
    if let Some(old) = old {
        std::fs::remove_dir_all(volume.join(old)).unwrap();
    }
    for (key, _) in files {
        let link = volume.join(key);
        if link.symlink_metadata().is_err() {
            symlink(format!("..data/{key}"), link).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profiles_config_map_updated_by_the_kubelet_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("profiles");
    std::fs::create_dir(&volume).unwrap();
    kubelet_writes(
        &volume,
        1,
        &[("voting.yaml", profile("voting-svc", &["/a"]))],
    );
    let app = http_upstream().await;
    let mut cfg = config(
        &dir.path().join("registry"),
        "voting",
        &["voting-svc:8080"],
        Some(app.addr),
    );
    cfg.profiles_dir = Some(volume.clone());
    let proxy = TestProxy::start(cfg).await;
    let host = "voting-svc:8080";
    until_routed(&proxy, host, "/a", "GET /a").await;

    kubelet_writes(
        &volume,
        2,
        &[("voting.yaml", profile("voting-svc", &["/a", "/b"]))],
    );
    until_routed(&proxy, host, "/b", "GET /b").await;
    assert_eq!(get(proxy.inbound.unwrap(), host, "/a").await, 200);
}
