//! Leaves as the proxy reads them: `Credentials::load` is the judge.

use std::time::{Duration, SystemTime};

use super::*;
use crate::mtls::authority::{Authority, Lifetimes};
use crate::mtls::certificate::CertificateFacts;
use crate::mtls::files::{Credentials, CredentialsError, IdentityPaths};
use crate::mtls::test_files::{mode, names};

const HOUR: Duration = Duration::from_secs(3600);

fn id(namespace: &str, service_account: &str) -> TlsId {
    TlsId::new(service_account, namespace, "cluster.local", "mesh").unwrap()
}

fn authority() -> Authority {
    Authority::generate("cluster.local", Lifetimes::default()).unwrap()
}

fn load(dir: &Path, expected: &TlsId) -> Result<Credentials, CredentialsError> {
    let paths = IdentityPaths::in_dir(dir, &Default::default());
    Credentials::load(&paths, expected, SystemTime::now())
}

#[test]
fn an_issued_leaf_is_accepted_by_the_proxy_for_its_identity_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let web = id("emojivoto", "web");
    let leaf = authority()
        .issue(&web, SystemTime::now(), DEFAULT_LEAF_LIFETIME)
        .unwrap();
    leaf.write(dir.path()).unwrap();
    assert_eq!(names(dir.path()), ["ca.crt", "tls.crt", "tls.key"]);
    let credentials = load(dir.path(), &web).unwrap();
    assert_eq!(credentials.chain.len(), 2, "the leaf, then the issuer");
    // Linkerd's shape: the DNS-style name and the SPIFFE ID, both.
    let facts = CertificateFacts::of_der(&credentials.chain[0], "mesh").unwrap();
    assert_eq!(
        facts.sans,
        [
            "DNS:web.emojivoto.serviceaccount.identity.mesh.cluster.local",
            "URI:spiffe://cluster.local/ns/emojivoto/sa/web"
        ]
    );
    for other in [id("emojivoto", "voting"), id("other", "web")] {
        let err = load(dir.path(), &other).unwrap_err();
        assert!(
            matches!(err, CredentialsError::OtherIdentity { .. }),
            "{other}: {err}"
        );
    }
}

#[test]
fn the_lifetime_asked_for_is_the_certificates() {
    let from = SystemTime::now() - Duration::from_secs(30);
    let leaf = authority()
        .issue(&id("emojivoto", "web"), from, 2 * HOUR)
        .unwrap();
    let facts = CertificateFacts::of_der(&leaf.der, "mesh").unwrap();
    assert_eq!(
        (facts.not_before, facts.not_after),
        (leaf.not_before, leaf.not_after)
    );
    assert_eq!(
        facts.not_after.duration_since(facts.not_before).unwrap(),
        2 * HOUR
    );
    let slack = from.duration_since(facts.not_before).unwrap();
    assert!(slack < Duration::from_secs(1), "{slack:?}");
    assert!(!leaf.cut_to_issuer);
}

#[test]
fn no_leaf_outlives_its_issuer() {
    let lifetimes = Lifetimes {
        anchor: 10 * HOUR,
        issuer: HOUR,
    };
    let authority = Authority::generate("cluster.local", lifetimes).unwrap();
    let leaf = authority
        .issue(&id("emojivoto", "web"), SystemTime::now(), 24 * HOUR)
        .unwrap();
    assert!(leaf.cut_to_issuer);
    assert_eq!(leaf.not_after, authority.issuer_not_after());
}

#[test]
fn an_expired_leaf_is_refused_at_load_saying_when() {
    let dir = tempfile::tempdir().unwrap();
    let web = id("emojivoto", "web");
    let two_days_ago = SystemTime::now() - 48 * HOUR;
    let leaf = authority().issue(&web, two_days_ago, 24 * HOUR).unwrap();
    leaf.write(dir.path()).unwrap();
    let err = load(dir.path(), &web).unwrap_err().to_string();
    assert!(
        err.contains("tls.crt: the certificate expired at "),
        "{err}"
    );
}

#[test]
fn the_key_is_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = authority()
        .issue(&id("emojivoto", "web"), SystemTime::now(), HOUR)
        .unwrap();
    leaf.write(dir.path()).unwrap();
    let mode = |name: &str| mode(&dir.path().join(name));
    assert_eq!(mode("tls.key"), 0o600);
    assert_eq!(mode("tls.crt"), 0o644);
    assert_eq!(mode("ca.crt"), 0o644);
}

#[test]
fn a_rotation_replaces_the_whole_set_and_a_failed_one_replaces_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let web = id("emojivoto", "web");
    let authority = authority();
    let first = authority.issue(&web, SystemTime::now(), HOUR).unwrap();
    first.write(dir.path()).unwrap();
    let second = authority.issue(&web, SystemTime::now(), HOUR).unwrap();
    second.write(dir.path()).unwrap();
    let served = load(dir.path(), &web).unwrap();
    assert_eq!(served.chain[0], second.der);
    assert_eq!(names(dir.path()), ["ca.crt", "tls.crt", "tls.key"]);

    // tls.crt cannot be replaced (a directory took its name): found before anything moved, so
    // the key in place is still the one of the certificate in place.
    let blocked = tempfile::tempdir().unwrap();
    first.write(blocked.path()).unwrap();
    std::fs::remove_file(blocked.path().join("tls.crt")).unwrap();
    std::fs::create_dir(blocked.path().join("tls.crt")).unwrap();
    let err = second.write(blocked.path()).unwrap_err().to_string();
    assert!(err.ends_with("tls.crt is a directory, not a file"), "{err}");
    let key = std::fs::read_to_string(blocked.path().join("tls.key")).unwrap();
    assert_eq!(key, first.key_pem());
    assert_eq!(names(blocked.path()), ["ca.crt", "tls.crt", "tls.key"]);
}

#[test]
fn an_unwritable_directory_names_the_file_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Below a regular file nothing can be created, even by root (tests run as root in CI).
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let leaf = authority()
        .issue(&id("emojivoto", "web"), SystemTime::now(), HOUR)
        .unwrap();
    let err = leaf.write(&file.join("web-id")).unwrap_err().to_string();
    assert!(
        err.starts_with("writing ") && err.contains("a-file/web-id: "),
        "{err}"
    );
    assert_eq!(names(dir.path()), ["a-file"]);
}

#[test]
fn a_leaf_for_another_trust_domain_is_refused() {
    let other = TlsId::new("web", "emojivoto", "example.org", "mesh").unwrap();
    let err = authority()
        .issue(&other, SystemTime::now(), HOUR)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the authority is for trust domain cluster.local, not example.org"),
        "{err}"
    );
}

#[test]
fn an_expired_issuer_issues_nothing() {
    let lifetimes = Lifetimes {
        anchor: HOUR,
        issuer: Duration::from_secs(1),
    };
    // Backdated by the clock-skew allowance, an issuer valid for a second has expired already.
    let authority = Authority::generate("cluster.local", lifetimes).unwrap();
    let err = authority
        .issue(&id("emojivoto", "web"), SystemTime::now(), HOUR)
        .unwrap_err();
    assert!(matches!(err, IssueError::IssuerExpired { .. }), "{err}");
    assert!(err.to_string().contains("make a new authority"), "{err}");
}
