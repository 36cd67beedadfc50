//! Offline validation of manifests against the upstream Kubernetes OpenAPI schemas, by the PyPI tool
//! `kubernetes-validate` (which `.ci/run` installs, pinned). No cluster is needed: the tool ships
//! the schemas of each Kubernetes version. Schemas do not hold the API server's own rules (which
//! `mesh inject --kubernetes-version` checks itself); this is the schema half.

use std::io::Write;
use std::process::Command;

/// The validator's program name on PATH.
const VALIDATOR: &str = "kubernetes-validate";

/// Whether the validator runs here. In CI (`CI` set, as `.ci/run` does) a missing validator is a
/// failure; elsewhere the caller skips with the printed reason.
pub fn available() -> bool {
    required_tool(
        VALIDATOR,
        ".ci/run installs it from PyPI",
        "pip install kubernetes-validate==1.37.0",
    )
}

/// Whether `program --version` runs here. In CI (`CI` set) a missing tool fails the test (`ci`
/// says where CI gets it); elsewhere it is skipped, printing how to `install` it.
pub fn required_tool(program: &str, ci: &str, install: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is not on PATH, and CI must run this test ({ci})"
        );
        eprintln!("skipped: {program} is not on PATH ({install})");
    }
    found
}

/// Validates every document of `yaml` (multi-document YAML) against the schemas of Kubernetes
/// `version` (such as "1.29"), strict about unknown fields.
///
/// Returns the validator's output: one `INFO … passed for resource KIND/NAME` line per document
/// (or `WARN … Couldn't find schema` for custom resources).
/// Errors: the validator's own output, naming the document and field, when any document fails.
/// Call [`available`] first.
pub fn validate(yaml: &str, version: &str) -> Result<String, String> {
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("a temp file");
    file.write_all(yaml.as_bytes()).expect("write manifests");
    let out = Command::new(VALIDATOR)
        .args(["--strict", "--kubernetes-version", version])
        .arg(file.path())
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A kind without a schema (a custom resource) is only a warning to the tool: callers that
    // expect every document checked look for "passed" per document in the returned text.
    if out.status.success() && !text.contains("ERROR") {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn the_validator_rejects_an_unknown_field_and_accepts_a_plain_pod() {
    if !available() {
        return;
    }
    let good = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: c, image: busybox}\n";
    validate(good, "1.29").expect("a plain pod validates");
    let bad = good.replace("image: busybox", "image: busybox, imagee: x");
    let err = validate(&bad, "1.29").expect_err("an unknown field fails in strict mode");
    assert!(err.contains("imagee"), "{err}");
}
