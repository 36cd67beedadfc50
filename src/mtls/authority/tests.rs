//! An authority on disk: written whole, never replaced by mistake, read back only when its files
//! belong together.

use std::time::SystemTime;

use super::*;
use crate::mtls::files::{Credentials, IdentityPaths};
use crate::mtls::id::TlsId;
use crate::mtls::test_files::{mode, names};

fn generate() -> Authority {
    Authority::generate("cluster.local", Lifetimes::default()).unwrap()
}

#[test]
fn a_written_authority_loads_back_and_issues_leaves_the_proxy_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mesh-identity");
    let made = generate();
    made.write(&dir, Existing::Refuse).unwrap();
    assert_eq!(names(&dir), ["ca.crt", "issuer.crt", "issuer.key"]);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("issuer.key")), 0o600);
    assert_eq!(mode(&dir.join("ca.crt")), 0o644);

    let loaded = Authority::load(&dir).unwrap();
    assert_eq!(loaded.trust_domain(), Some("cluster.local"));
    assert_eq!(loaded.anchor(), made.anchor());
    assert_eq!(loaded.issuer_not_after(), made.issuer_not_after());
    let id = TlsId::new("web", "emojivoto", "cluster.local", "mesh").unwrap();
    let leaf = loaded
        .issue(&id, SystemTime::now(), Duration::from_secs(3600))
        .unwrap();
    let ids = tmp.path().join("web-id");
    leaf.write(&ids).unwrap();
    let paths = IdentityPaths::in_dir(&ids, &Default::default());
    Credentials::load(&paths, &id, SystemTime::now()).unwrap();
}

#[test]
fn the_anchor_lives_longer_than_the_issuer() {
    let authority = generate();
    let (_, anchor) = X509Certificate::from_der(authority.anchor()).unwrap();
    let (_, issuer) = X509Certificate::from_der(authority.issuer_certificate()).unwrap();
    let years = |c: &X509Certificate<'_>| {
        let v = c.validity();
        (v.not_after.timestamp() - v.not_before.timestamp()) / (365 * 86_400)
    };
    assert_eq!((years(&anchor), years(&issuer)), (10, 1));
    assert!(anchor.is_ca() && issuer.is_ca());
    assert_eq!(issuer.issuer(), anchor.subject());
    let too_long = Lifetimes {
        anchor: Duration::from_secs(60),
        issuer: Duration::from_secs(61),
    };
    let err = Authority::generate("cluster.local", too_long).unwrap_err();
    assert!(
        matches!(err, AuthorityError::IssuerOutlivesAnchor { .. }),
        "{err}"
    );
    let err = Authority::generate("Cluster.Local", Lifetimes::default()).unwrap_err();
    assert!(
        err.to_string().contains("trust domain \"Cluster.Local\""),
        "{err}"
    );
}

#[test]
fn two_authorities_are_told_apart_by_name_so_a_stranger_is_an_unknown_issuer() {
    let (a, b) = (generate(), generate());
    let name = |der: &CertificateDer<'_>| {
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        cert.subject().to_string()
    };
    assert_ne!(name(a.anchor()), name(b.anchor()));
    assert_ne!(name(a.issuer_certificate()), name(b.issuer_certificate()));
    // b's leaf against a's anchor: no issuer of that name, rather than a bad signature.
    let dir = tempfile::tempdir().unwrap();
    let id = TlsId::new("web", "emojivoto", "cluster.local", "mesh").unwrap();
    let leaf = b
        .issue(&id, SystemTime::now(), Duration::from_secs(60))
        .unwrap();
    leaf.write(dir.path()).unwrap();
    std::fs::write(dir.path().join("ca.crt"), &a.anchors_pem).unwrap();
    let paths = IdentityPaths::in_dir(dir.path(), &Default::default());
    let err = Credentials::load(&paths, &id, SystemTime::now()).unwrap_err();
    assert!(err.to_string().ends_with("UnknownIssuer"), "{err}");
}

#[test]
fn an_existing_authority_is_not_replaced_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let first = generate();
    first.write(dir.path(), Existing::Refuse).unwrap();
    let before = std::fs::read(dir.path().join("issuer.key")).unwrap();
    let second = generate();
    let err = second.write(dir.path(), Existing::Refuse).unwrap_err();
    assert!(err.to_string().ends_with("ca.crt exists already"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("issuer.key")).unwrap(),
        before
    );
    assert_eq!(names(dir.path()), ["ca.crt", "issuer.crt", "issuer.key"]);

    // Only the key is there (a half-copied authority): still refused, and nothing added.
    let partial = tempfile::tempdir().unwrap();
    std::fs::write(partial.path().join("issuer.key"), "kept").unwrap();
    let err = second.write(partial.path(), Existing::Refuse).unwrap_err();
    assert!(
        err.to_string().ends_with("issuer.key exists already"),
        "{err}"
    );
    assert_eq!(names(partial.path()), ["issuer.key"]);

    second.write(dir.path(), Existing::Replace).unwrap();
    assert_eq!(
        Authority::load(dir.path()).unwrap().anchor(),
        second.anchor()
    );
}

#[test]
fn files_of_two_authorities_mixed_are_refused_naming_both() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate().write(a.path(), Existing::Refuse).unwrap();
    generate().write(b.path(), Existing::Refuse).unwrap();
    let copy = |name: &str| std::fs::copy(b.path().join(name), a.path().join(name)).unwrap();

    copy("issuer.key");
    let err = Authority::load(a.path()).unwrap_err().to_string();
    assert!(
        err.contains("issuer.key is not the key of ") && err.ends_with("issuer.crt"),
        "{err}"
    );
    copy("issuer.crt");
    let err = Authority::load(a.path()).unwrap_err().to_string();
    assert!(
        err.contains("issuer.crt is not signed by any trust anchor in ") && err.contains("ca.crt"),
        "{err}"
    );
}

#[test]
fn unreadable_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = Authority::load(&dir.path().join("nowhere"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("reading ") && err.contains("nowhere/ca.crt: "),
        "{err}"
    );

    generate().write(dir.path(), Existing::Refuse).unwrap();
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n";
    std::fs::write(dir.path().join("issuer.key"), sec1).unwrap();
    let err = Authority::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("issuer.key: not a usable private key"),
        "{err}"
    );
    assert!(err.contains("openssl pkcs8 -topk8 -nocrypt"), "{err}");

    std::fs::write(dir.path().join("ca.crt"), "no PEM here\n").unwrap();
    let err = Authority::load(dir.path()).unwrap_err().to_string();
    assert!(err.ends_with("ca.crt: no PEM certificate in it"), "{err}");
}

#[test]
fn an_issuer_that_is_no_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let authority = generate();
    authority.write(dir.path(), Existing::Refuse).unwrap();
    // A leaf and its key in the issuer's place.
    let id = TlsId::new("web", "emojivoto", "cluster.local", "mesh").unwrap();
    let leaf = authority
        .issue(&id, SystemTime::now(), Duration::from_secs(60))
        .unwrap();
    std::fs::write(dir.path().join("issuer.crt"), leaf.chain_pem()).unwrap();
    std::fs::write(dir.path().join("issuer.key"), leaf.key_pem()).unwrap();
    let err = Authority::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "issuer.crt: not a CA certificate (no basicConstraints CA:TRUE), so it cannot issue"
        ),
        "{err}"
    );
}
