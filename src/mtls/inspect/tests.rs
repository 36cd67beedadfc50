//! Inspecting what `mesh identity` wrote, and what went wrong with it.

use std::time::Duration;

use super::*;
use crate::mtls::authority::{Authority, Lifetimes};
use crate::mtls::id::TlsId;
use crate::mtls::staged::Existing;

const HOUR: Duration = Duration::from_secs(3600);

fn web() -> TlsId {
    TlsId::new("web", "emojivoto", "cluster.local", "mesh").unwrap()
}

fn authority() -> Authority {
    Authority::generate("cluster.local", Lifetimes::default()).unwrap()
}

#[test]
fn an_identity_directory_shows_its_leaf_chained_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let leaf = authority().issue(&web(), now, 2 * HOUR).unwrap();
    leaf.write(dir.path()).unwrap();
    let seen = inspect(dir.path(), now).unwrap();
    assert_eq!(seen.file, dir.path().join("tls.crt"));
    assert_eq!(
        seen.spiffe_ids,
        ["spiffe://cluster.local/ns/emojivoto/sa/web"]
    );
    assert_eq!(
        seen.dns_names,
        ["web.emojivoto.serviceaccount.identity.mesh.cluster.local"]
    );
    assert!(
        seen.issuer
            .starts_with("CN=identity.mesh.cluster.local, OU=mesh authority "),
        "{}",
        seen.issuer
    );
    assert!(!seen.is_ca);
    assert!(
        (2 * 3600 - 2..=2 * 3600).contains(&seen.seconds_left),
        "{}",
        seen.seconds_left
    );
    assert_eq!((seen.chains, seen.key_matches), (Some(true), Some(true)));
    assert_eq!(seen.sha256.len(), 32 * 3 - 1);
    assert!(seen.holds_up(now));
}

#[test]
fn a_leaf_against_another_anchor_does_not_chain_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    authority()
        .issue(&web(), now, HOUR)
        .unwrap()
        .write(dir.path())
        .unwrap();
    let other = authority().issue(&web(), now, HOUR).unwrap();
    std::fs::write(dir.path().join("ca.crt"), other.anchors_pem()).unwrap();
    let seen = inspect(&dir.path().join("tls.crt"), now).unwrap();
    assert_eq!(seen.chains, Some(false));
    let why = seen.chain_error.as_deref().unwrap();
    assert!(
        why.starts_with(
            "no trust anchor signed CN=identity.mesh.cluster.local, OU=mesh authority "
        ) && why.contains(" (issued by CN=root.mesh.cluster.local, OU=mesh authority "),
        "{why}"
    );
    assert_eq!(seen.key, None, "a file given: no key is checked");
    assert!(!seen.holds_up(now));
}

#[test]
fn an_expired_leaf_still_chains_but_does_not_hold_up() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let leaf = authority()
        .issue(&web(), now - 48 * HOUR, 24 * HOUR)
        .unwrap();
    leaf.write(dir.path()).unwrap();
    let seen = inspect(dir.path(), now).unwrap();
    assert_eq!(seen.chains, Some(true));
    assert!(seen.seconds_left <= -24 * 3600, "{}", seen.seconds_left);
    assert!(!seen.holds_up(now));
}

#[test]
fn an_authority_directory_shows_its_issuer_and_its_anchor_file_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    authority().write(dir.path(), Existing::Refuse).unwrap();
    let now = SystemTime::now();
    let issuer = inspect(dir.path(), now).unwrap();
    assert_eq!(issuer.file, dir.path().join("issuer.crt"));
    assert!(issuer.is_ca);
    assert_eq!(issuer.spiffe_ids, ["spiffe://cluster.local"]);
    assert_eq!(
        (issuer.chains, issuer.key_matches),
        (Some(true), Some(true))
    );
    let anchor = inspect(&dir.path().join("ca.crt"), now).unwrap();
    assert!(
        anchor
            .subject
            .starts_with("CN=root.mesh.cluster.local, OU=mesh authority "),
        "{}",
        anchor.subject
    );
    assert_eq!(anchor.subject, anchor.issuer);
    assert_eq!(anchor.chains, Some(true));

    let other = tempfile::tempdir().unwrap();
    authority().write(other.path(), Existing::Refuse).unwrap();
    std::fs::copy(other.path().join("ca.crt"), dir.path().join("ca.crt")).unwrap();
    let issuer = inspect(dir.path(), now).unwrap();
    assert_eq!(issuer.chains, Some(false));
    assert!(
        issuer
            .chain_error
            .as_deref()
            .unwrap()
            .starts_with("no trust anchor signed CN=identity.mesh.cluster.local"),
        "{issuer:?}"
    );
}

#[test]
fn a_directory_without_certificates_says_what_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let err = inspect(dir.path(), SystemTime::now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("holds no certificate mesh knows: expected tls.crt"),
        "{err}"
    );
    let err = inspect(&dir.path().join("missing.crt"), SystemTime::now())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("reading ") && err.contains("missing.crt: "),
        "{err}"
    );
}
