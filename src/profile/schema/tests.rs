use super::*;

fn problems(yaml: &str) -> Vec<(String, String)> {
    problems_in(&crate::yaml::to_json_value(yaml).unwrap())
}

fn problems_in(value: &serde_json::Value) -> Vec<(String, String)> {
    check(value, &SERVICE_PROFILE)
        .into_iter()
        .map(|p| {
            let mut message = p.message;
            if let Some(hint) = p.hint {
                message = format!("{message}; {hint}");
            }
            (crate::yaml::path_string(&p.path), message)
        })
        .collect()
}

/// `got` holds exactly `expected`, in any order (the walk's order follows the map's).
fn assert_problems(got: &[(String, String)], expected: &[(&str, &str)]) {
    for (path, message) in expected {
        assert!(
            got.contains(&(path.to_string(), message.to_string())),
            "missing {path}: {message} in {got:#?}"
        );
    }
    assert_eq!(got.len(), expected.len(), "{got:#?}");
}

fn profile(spec: &str) -> String {
    format!(
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: web.ns.svc.cluster.local\nspec:\n{spec}"
    )
}

#[test]
fn a_valid_profile_has_no_problem() {
    let text = profile(
        "  routes:\n  - name: GET /a\n    condition: {method: GET, pathRegex: /a, not: {method: POST}}\n    isRetryable: true\n    timeout: 2s\n    responseClasses:\n    - condition: {status: {min: 500, max: 599}}\n      isFailure: true\n  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s}\n  dstOverrides:\n  - {authority: a:80, weight: 500m}\n  - {authority: b:80, weight: 1}\n",
    );
    assert_eq!(problems(&text), vec![]);
}

#[test]
fn types_the_crd_declares_are_enforced_in_the_users_words() {
    let text = profile(
        "  routes:\n  - name: 404\n    condition: {pathRegex: 123, method: true}\n    timeout: 0\n    isRetryable: \"true\"\n  dstOverrides:\n  - {authority: a:80, weight: 1.5}\n  - {authority: b:80, weight: [1]}\n  retryBudget: {retryRatio: \"0.2\", minRetriesPerSecond: -1, ttl: 10s}\n",
    );
    let got = problems(&text);
    let expected = [
        ("spec.routes[0].name", "expected a string, found the number 404; quote it"),
        ("spec.routes[0].condition.pathRegex", "expected a string, found the number 123; quote it"),
        ("spec.routes[0].condition.method", "expected a string, found the boolean true; quote it"),
        ("spec.routes[0].timeout", "expected a duration string such as \"500ms\" or \"10s\", found the number 0; write it with a unit: \"0s\""),
        ("spec.routes[0].isRetryable", "expected true or false, found the string \"true\"; remove the quotes"),
        ("spec.dstOverrides[0].weight", "expected a whole number or a quantity such as \"500m\", found the number 1.5; quote it"),
        ("spec.dstOverrides[1].weight", "expected a whole number or a quantity such as \"500m\", found a list"),
        ("spec.retryBudget.retryRatio", "expected a number, found the string \"0.2\"; remove the quotes"),
        ("spec.retryBudget.minRetriesPerSecond", "expected a whole number from 0 to 4294967295, found -1"),
    ];
    assert_problems(&got, &expected);
}

#[test]
fn a_long_wrong_string_is_shown_by_its_start_and_length() {
    let blob = "é".repeat(500);
    let text = profile(&format!(
        "  routes:\n  - name: x\n    condition: {{method: GET}}\n    isRetryable: \"{blob}\"\n"
    ));
    let expected = format!(
        "expected true or false, found the string \"{}\"… (500 characters)",
        "é".repeat(40)
    );
    assert_problems(
        &problems(&text),
        &[("spec.routes[0].isRetryable", expected.as_str())],
    );
}

#[test]
fn unknown_fields_are_all_reported_with_the_field_meant() {
    let text = profile(
        "  routes:\n  - name: x\n    condition: {method: GET, path_regex: /a}\n    response_classes: []\n    IsRetryable: true\n  retry_budget: {}\n",
    );
    assert_problems(
        &problems(&text),
        &[
            ("spec.retry_budget", "unknown field `retry_budget`, expected one of `dstOverrides`, `opaquePorts`, `retryBudget`, `routes`; did you mean `retryBudget`?"),
            ("spec.routes[0].IsRetryable", "unknown field `IsRetryable`, expected one of `condition`, `isRetryable`, `name`, `responseClasses`, `timeout`; did you mean `isRetryable`?"),
            ("spec.routes[0].condition.path_regex", "unknown field `path_regex`, expected one of `all`, `any`, `method`, `not`, `pathRegex`; did you mean `pathRegex`?"),
            ("spec.routes[0].response_classes", "unknown field `response_classes`, expected one of `condition`, `isRetryable`, `name`, `responseClasses`, `timeout`; did you mean `responseClasses`?"),
        ],
    );
}

#[test]
fn missing_fields_are_named_and_null_counts_as_absent() {
    let text = "apiVersion: linkerd.io/v1alpha2\nmetadata: {name: x, labels: null}\nspec:\n  routes:\n  - name: null\n    timeout:\n";
    assert_problems(
        &problems(text),
        &[
            ("spec.routes[0]", "missing field `condition`"),
            ("spec.routes[0]", "missing field `name`"),
            ("", "missing field `kind`"),
        ],
    );
}

#[test]
fn what_kubectl_get_prints_in_metadata_is_the_whole_object_meta() {
    let text = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  annotations: {kubectl.kubernetes.io/last-applied-configuration: '{}'}\n  creationTimestamp: \"2026-11-30T08:15:00Z\"\n  deletionGracePeriodSeconds: 0\n  deletionTimestamp: \"2026-12-01T08:15:00.5+01:00\"\n  finalizers: [example.com/keep]\n  generateName: web-\n  generation: 3\n  labels: {app: web}\n  managedFields:\n  - apiVersion: linkerd.io/v1alpha2\n    fieldsType: FieldsV1\n    fieldsV1: {f:spec: {f:routes: {}}}\n    manager: kubectl-client-side-apply\n    operation: Update\n    subresource: \"\"\n    time: \"2026-11-30T08:15:00Z\"\n  name: web.ns.svc.cluster.local\n  namespace: ns\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: Deployment, name: web, uid: 0b1c, controller: true, blockOwnerDeletion: true}\n  resourceVersion: \"4711\"\n  selfLink: /apis/linkerd.io/v1alpha2/namespaces/ns/serviceprofiles/web.ns.svc.cluster.local\n  uid: 6f1e\nspec: {}\n";
    assert_eq!(problems(text), vec![]);
}

#[test]
fn metadata_mistakes_are_still_mistakes() {
    let text = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: web\n  namespce: ns\n  labels: {version: 2}\n  generation: \"3\"\n  creationTimestamp: yesterday\n  ownerReferences: [{kind: Deployment}]\n";
    let got = problems(text);
    let expected = [
        ("metadata.namespce", "unknown field `namespce`, expected one of `annotations`, `creationTimestamp`, `deletionGracePeriodSeconds`, `deletionTimestamp`, `finalizers`, `generateName`, `generation`, `labels`, `managedFields`, `name`, `namespace`, `ownerReferences`, `resourceVersion`, `selfLink`, `uid`; did you mean `namespace`?"),
        ("metadata.labels.version", "expected a string, found the number 2; quote it"),
        ("metadata.generation", "expected a whole number, found the string \"3\"; remove the quotes"),
        ("metadata.creationTimestamp", "expected a date and time such as \"2024-05-01T12:00:00Z\" (RFC 3339), found the string \"yesterday\""),
        ("metadata.ownerReferences[0]", "missing field `apiVersion`"),
        ("metadata.ownerReferences[0]", "missing field `name`"),
        ("metadata.ownerReferences[0]", "missing field `uid`"),
    ];
    assert_problems(&got, &expected);
}

#[test]
fn a_list_is_a_mapping_of_items() {
    let value = crate::yaml::to_json_value(
        "apiVersion: v1\nkind: List\nitems: []\nmetadata: {resourceVersion: \"\"}\n",
    )
    .unwrap();
    assert!(check(&value, &LIST).is_empty());
    let value = crate::yaml::to_json_value("kind: List\nitems: {a: 1}\n").unwrap();
    let got = check(&value, &LIST);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].hint.as_deref(),
        Some("start each item of the list with `- `")
    );
}

/// Our shape of `spec` against the CRD's own v1alpha2 `openAPIV3Schema`, when the reference copy of
/// the CRD is there (beside CI's clone): same fields, same types, same required fields.
#[test]
fn the_spec_shape_is_the_crds() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference/crd/serviceprofile-crd.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is absent", path.display());
        return;
    };
    let crd = crate::yaml::to_json_value(&text).unwrap();
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1alpha2")
        .unwrap();
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let Shape::Object(fields) = &SERVICE_PROFILE else {
        panic!("a profile is an object")
    };
    let ours = fields.iter().find(|f| f.name == "spec").unwrap().shape;
    let mut diffs = Vec::new();
    compare(spec, ours, "spec", &mut diffs);
    assert_eq!(diffs, Vec::<String>::new());
}

fn compare(crd: &serde_json::Value, shape: &Shape, at: &str, diffs: &mut Vec<String>) {
    // Where Linkerd's Go types differ from the CRD on purpose (see the module comment).
    if at == "spec.routes[].condition.not" {
        return;
    }
    let crd_type = if crd["x-kubernetes-int-or-string"] == true {
        "int-or-string"
    } else {
        crd["type"].as_str().unwrap_or("?")
    };
    match (crd_type, shape) {
        ("string", Shape::String | Shape::Duration)
        | ("integer", Shape::Integer { .. })
        | ("number", Shape::Number)
        | ("boolean", Shape::Boolean)
        | ("int-or-string", Shape::IntOrString) => {}
        ("array", Shape::List(item)) => {
            // Nested conditions are left untyped by the CRD; Linkerd types them.
            if crd["items"]["x-kubernetes-preserve-unknown-fields"] != true {
                // The CRD writes dstOverrides' `required` on the list, meaning its items.
                let mut items = crd["items"].clone();
                if items.get("required").is_none() && crd.get("required").is_some() {
                    items["required"] = crd["required"].clone();
                }
                compare(&items, item, &format!("{at}[]"), diffs);
            }
        }
        ("object", Shape::Object(fields)) => {
            let Some(properties) = crd["properties"].as_object() else {
                return;
            };
            let mut theirs: Vec<&str> = properties.keys().map(String::as_str).collect();
            let mut ours: Vec<&str> = fields.iter().map(|f| f.name).collect();
            theirs.sort_unstable();
            ours.sort_unstable();
            if theirs != ours {
                diffs.push(format!("{at}: fields {ours:?}, the CRD's {theirs:?}"));
            }
            let mut required: Vec<&str> = crd["required"]
                .as_array()
                .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let mut ours_required: Vec<&str> = fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name)
                .collect();
            required.sort_unstable();
            ours_required.sort_unstable();
            if required != ours_required {
                diffs.push(format!(
                    "{at}: required {ours_required:?}, the CRD's {required:?}"
                ));
            }
            for field in fields.iter() {
                if let Some(property) = properties.get(field.name) {
                    compare(
                        property,
                        field.shape,
                        &format!("{at}.{}", field.name),
                        diffs,
                    );
                }
            }
        }
        (theirs, ours) => diffs.push(format!(
            "{at}: {}, the CRD's type {theirs}",
            messages::expected(ours)
        )),
    }
}

#[test]
fn a_misspelt_field_is_matched_to_the_one_meant_only_when_clear() {
    let fields = [
        Field {
            name: "namespace",
            shape: &Shape::String,
            required: false,
        },
        Field {
            name: "name",
            shape: &Shape::String,
            required: false,
        },
        Field {
            name: "all",
            shape: &Shape::String,
            required: false,
        },
        Field {
            name: "any",
            shape: &Shape::String,
            required: false,
        },
    ];
    let hint = |key: &str| messages::unknown_field(&[], key, &fields).hint;
    assert_eq!(
        hint("NAME_SPACE").as_deref(),
        Some("did you mean `namespace`?")
    );
    assert_eq!(
        hint("namepsace").as_deref(),
        Some("did you mean `namespace`?")
    );
    assert_eq!(
        hint("namespce").as_deref(),
        Some("did you mean `namespace`?")
    );
    assert_eq!(hint("alll").as_deref(), Some("did you mean `all`?"));
    // As close to `all` as to `any`: no guess.
    assert_eq!(hint("aly"), None);
    assert_eq!(hint("labels"), None);
}

/// The decoder reads documents with `yaml::documents`: there, such an integer used to fail the
/// whole document with serde's own words.
#[test]
fn an_integer_beyond_64_bits_is_one_problem_among_the_others() {
    let text = profile(
        "  routes:\n  - name: 404\n    condition: {pathRegex: /a}\n  dstOverrides:\n  - {authority: a:80, weight: 99999999999999999999999999}\n  - {authority: b:80, weight: -99999999999999999999999999}\n",
    );
    let documents = crate::yaml::documents(&text);
    let [Ok(value)] = documents.as_slice() else {
        panic!("one readable document: {documents:?}");
    };
    assert_problems(
        &problems_in(value),
        &[
            ("spec.routes[0].name", "expected a string, found the number 404; quote it"),
            ("spec.dstOverrides[0].weight", "expected a whole number or a quantity such as \"500m\", found the number 1e+26; quote it"),
            ("spec.dstOverrides[1].weight", "expected a whole number or a quantity such as \"500m\", found the number -1e+26; quote it"),
        ],
    );
}
