//! `mesh install`: its output pinned for each flag, every document validated against the
//! Kubernetes schemas of 1.28, 1.29 and 1.33, the ServiceProfile CRD compared with Linkerd's, the
//! scrape config checked by `promtool`, and bad flags refused with nothing printed. The scrape
//! config's relabelling is run in a real Prometheus in `kubernetes_install_prometheus.rs`.

use std::process::Command;

use serde_json::Value;

use crate::harness::{generator_cases, run, shared_reference};
use crate::kubernetes_install_prometheus::with_file_sd;
use crate::kubernetes_validate::{available, validate};

/// `mesh install ARGS`, which must succeed and say nothing on stderr.
fn install(args: &[&str]) -> String {
    let mut all = vec!["install"];
    all.extend_from_slice(args);
    let r = run(&all);
    assert_eq!(r.code, 0, "mesh {all:?}: {}", r.stderr);
    assert_eq!(r.stderr, "", "mesh {all:?}");
    r.stdout
}

/// The documents of a multi-document YAML text.
fn documents(text: &str) -> Vec<Value> {
    mesh::yaml::documents(text)
        .into_iter()
        .map(|d| d.expect("mesh install prints YAML"))
        .collect()
}

#[test]
fn install_prints_the_crd_namespace_rbac_and_scrape_config() {
    insta::assert_snapshot!(install(&[]));
}

#[test]
fn install_without_the_crd() {
    let text = install(&["--no-crd"]);
    let kinds: Vec<_> = documents(&text)
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(!kinds.contains(&"CustomResourceDefinition".to_string()));
    insta::assert_snapshot!(text);
}

#[test]
fn install_without_the_identity_rbac_leaves_out_only_its_role_and_binding() {
    let names = |text: &str| -> Vec<String> {
        documents(text)
            .iter()
            .map(|d| {
                let field = |v: &Value| v.as_str().unwrap().to_string();
                format!("{}/{}", field(&d["kind"]), field(&d["metadata"]["name"]))
            })
            .collect()
    };
    let with = names(&install(&[]));
    let without = names(&install(&["--no-identity-rbac"]));
    let identity: Vec<_> = with
        .iter()
        .filter(|n| n.contains("mesh-identity"))
        .collect();
    assert_eq!(
        identity,
        [
            "ClusterRole/mesh-identity",
            "ClusterRoleBinding/mesh-identity"
        ]
    );
    let rest: Vec<_> = with
        .iter()
        .filter(|n| !n.contains("mesh-identity"))
        .cloned()
        .collect();
    assert_eq!(without, rest);
}

#[test]
fn install_in_another_namespace() {
    insta::assert_snapshot!(install(&["--namespace", "mesh-system", "--no-crd"]));
}

#[test]
fn install_for_the_proxies_of_some_namespaces() {
    insta::assert_snapshot!(install(&[
        "--no-crd",
        "--proxy-namespaces",
        "emojivoto,booksapp",
        "--proxy-namespaces",
        "zk"
    ]));
}

#[test]
fn install_prints_the_scrape_config_alone() {
    let alone = install(&["--prometheus-config"]);
    // The same file the ConfigMap holds.
    let all = documents(&install(&[]));
    let config_map = all.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    assert_eq!(config_map["data"]["prometheus.yml"], alone.as_str());
    insta::assert_snapshot!(alone);
}

#[test]
fn install_refuses_bad_flags_naming_them_and_prints_nothing() {
    for (args, expected) in [
        (
            vec!["install", "--namespace", "Mesh"],
            "invalid value 'Mesh' for '--namespace <NS>': not a namespace name: only lowercase \
             letters, digits and '-' (RFC 1123 label)",
        ),
        (
            vec!["install", "--proxy-namespaces", "emojivoto,-zk"],
            "invalid value '-zk' for '--proxy-namespaces <NS,…>': not a namespace name: it must \
             start and end with a letter or digit (RFC 1123 label)",
        ),
        (
            vec!["install", "-n", ""],
            "invalid value '' for '--namespace <NS>': not a namespace name: it is empty",
        ),
        (
            vec!["install", "--prometheus-config", "--no-crd"],
            "the argument '--prometheus-config' cannot be used with '--no-crd'",
        ),
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{args:?}");
        assert!(
            r.stderr.contains(expected),
            "{args:?}: {}\nexpected: {expected}",
            r.stderr
        );
    }
}

#[test]
fn every_document_install_prints_passes_the_kubernetes_schemas() {
    if !available() {
        return;
    }
    for args in [
        &[][..],
        &["--proxy-namespaces", "emojivoto", "-n", "mesh-system"],
    ] {
        let text = install(args);
        let count = documents(&text).len();
        for version in ["1.28", "1.29", "1.33"] {
            let out = validate(&text, version)
                .unwrap_or_else(|e| panic!("{args:?} on Kubernetes {version}:\n{e}"));
            // The tool only warns about a kind it has no schema for: each document must say
            // "passed", or it was not checked at all.
            let passed = out.lines().filter(|l| l.contains("passed")).count();
            assert_eq!(
                passed, count,
                "{args:?} on Kubernetes {version}: {count} documents, {passed} passed:\n{out}"
            );
        }
    }
}

/// `schema` without `description` keys: documentation, not validation.
fn without_descriptions(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "description")
                .map(|(k, v)| (k.clone(), without_descriptions(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_descriptions).collect()),
        other => other.clone(),
    }
}

/// The CRD's semantics: group, names, scope, and each version's name, served, storage and schema.
fn crd_semantics(crd: &Value) -> Value {
    let spec = &crd["spec"];
    serde_json::json!({
        "name": crd["metadata"]["name"],
        "group": spec["group"],
        "names": spec["names"],
        "scope": spec["scope"],
        "versions": spec["versions"].as_array().unwrap().iter().map(|v| serde_json::json!({
            "name": v["name"],
            "served": v["served"],
            "storage": v["storage"],
            "schema": without_descriptions(&v["schema"]),
        })).collect::<Vec<_>>(),
    })
}

fn our_crd() -> Value {
    documents(&install(&[]))
        .into_iter()
        .find(|d| d["kind"] == "CustomResourceDefinition")
        .unwrap()
}

#[test]
fn the_crd_has_linkerds_versions_and_schema() {
    let Some(dir) = shared_reference("crd") else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("serviceprofile-crd.yaml")).unwrap();
    let linkerd = documents(&text)
        .into_iter()
        .find(|d| d["kind"] == "CustomResourceDefinition")
        .unwrap();
    let (ours, theirs) = (crd_semantics(&our_crd()), crd_semantics(&linkerd));
    assert_eq!(
        ours,
        theirs,
        "ours:\n{}\nLinkerd's:\n{}",
        serde_json::to_string_pretty(&ours).unwrap(),
        serde_json::to_string_pretty(&theirs).unwrap()
    );
}

#[test]
fn generated_profiles_validate_against_our_crd_as_well() {
    let crd = our_crd();
    let v2 = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1alpha2")
        .unwrap();
    let validator = jsonschema::validator_for(&v2["schema"]["openAPIV3Schema"]).unwrap();
    for case in generator_cases() {
        let mut args = vec!["profile"];
        args.extend(case.iter().copied());
        let r = run(&args);
        assert_eq!(r.code, 0, "{case:?}: {}", r.stderr);
        let profile: Value = mesh::yaml::from_str(&r.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&profile)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{case:?}: {errors:?}");
    }
    let bad = serde_json::json!({"spec": {"routes": [{"name": "x", "condition": {"method": 1}}]}});
    assert!(!validator.is_valid(&bad), "a method that is a number");
}

/// Whether `promtool` runs here; in CI (`CI` set) a missing promtool fails the test.
fn promtool_available() -> bool {
    crate::kubernetes_validate::required_tool(
        "promtool",
        ".ci/run installs Debian's prometheus package",
        "apt-get install prometheus",
    )
}

/// `promtool check config FILE` on `text`: its output, and whether it passed.
fn promtool_check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Debian's Prometheus (2.42, what `.ci/run` installs) is built without Kubernetes service
/// discovery, so its promtool refuses `kubernetes_sd_configs` as an unknown field.
const NO_KUBERNETES_SD: &str = "field kubernetes_sd_configs not found";

#[test]
fn promtool_accepts_the_scrape_config() {
    if !promtool_available() {
        return;
    }
    let config = install(&["--prometheus-config"]);
    let (ok, out) = promtool_check(&config);
    if !ok && out.contains(NO_KUBERNETES_SD) {
        // Everything else (the job, its relabel rules, their regexes and target labels) is still
        // checked, with the discovery swapped for file_sd.
        eprintln!(
            "note: this promtool has no Kubernetes discovery ({NO_KUBERNETES_SD}); checking the \
             job with file_sd_configs in its place"
        );
        let dir = tempfile::tempdir().unwrap();
        let swapped = with_file_sd(&config, &dir.path().join("targets.json"), None);
        let (ok, out) = promtool_check(&swapped);
        assert!(ok && out.contains("SUCCESS"), "{out}");
    } else {
        assert!(ok && out.contains("SUCCESS"), "{out}");
    }
    // The check can fail: a relabel rule with a broken regex is refused.
    let broken = with_file_sd(&config, std::path::Path::new("t.json"), None).replace("(.+)", "(.+");
    let (ok, out) = promtool_check(&broken);
    assert!(!ok, "promtool accepted a broken regex:\n{out}");
    assert!(out.contains("error parsing regexp"), "{out}");
}

#[test]
fn the_example_manifests_docs_kubernetes_md_injects_pass_the_schemas() {
    if !available() {
        return;
    }
    let text = crate::harness::fixture("examples/kubernetes/zookeeper.yaml");
    let count = documents(&text).len();
    for version in ["1.28", "1.29", "1.33"] {
        let out = validate(&text, version).unwrap_or_else(|e| panic!("{version}:\n{e}"));
        assert_eq!(out.matches("passed").count(), count, "{version}: {out}");
    }
}
