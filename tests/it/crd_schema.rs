//! Generated profiles validate against the ServiceProfile CRD's v1alpha2 `openAPIV3Schema`, as a
//! cluster's API server would validate them.

use crate::harness::{generator_cases, run, shared_reference};

/// The v1alpha2 schema from the CRD, as JSON.
fn v1alpha2_schema(crd_dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(crd_dir.join("serviceprofile-crd.yaml")).unwrap();
    let crd: serde_json::Value = mesh::yaml::from_str(&text).unwrap();
    let versions = crd["spec"]["versions"].as_array().unwrap();
    let v2 = versions
        .iter()
        .find(|v| v["name"] == "v1alpha2")
        .expect("the CRD serves v1alpha2");
    v2["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn generated_profiles_validate_against_the_crd_schema() {
    let Some(crd_dir) = shared_reference("crd") else {
        return;
    };
    let schema = v1alpha2_schema(&crd_dir);
    let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
    for case in generator_cases() {
        let mut args = vec!["profile"];
        args.extend(case.iter().copied());
        let r = run(&args);
        assert_eq!(r.code, 0, "{case:?}: {}", r.stderr);
        let profile: serde_json::Value = mesh::yaml::from_str(&r.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&profile)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{case:?} violates the CRD schema: {errors:?}"
        );
    }
}

#[test]
fn the_schema_check_catches_a_wrongly_typed_profile() {
    let Some(crd_dir) = shared_reference("crd") else {
        return;
    };
    let validator = jsonschema::validator_for(&v1alpha2_schema(&crd_dir)).unwrap();
    let bad = serde_json::json!({"spec": {"routes": [{"name": "x", "condition": {"method": 1}, "isRetryable": "yes"}]}});
    assert!(
        !validator.is_valid(&bad),
        "a method that is a number must be rejected"
    );
}
