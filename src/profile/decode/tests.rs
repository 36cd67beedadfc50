use super::*;

/// Each profile's place and its errors as `field: message` lines.
fn outcomes(text: &str) -> Vec<(String, Result<String, Vec<String>>)> {
    decode_profiles(text)
        .into_iter()
        .map(|d| {
            let outcome = d
                .profile
                .map(|p| p.metadata.name.clone())
                .map_err(|errors| errors.iter().map(ToString::to_string).collect());
            (d.place.to_string(), outcome)
        })
        .collect()
}

const FOUR_MISTAKES: &str = "\
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: books.library.svc.cluster.local
spec:
  routes:
  - name: GET /books
    condition:
      method: GET
      path_regex: /books
    response_classes:
    - condition: {status: {min: 500}}
    is_retryable: true
  retry_budget: {ttl: 10s}
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: authors.library.svc.cluster.local
spec:
  routes:
  - name: 404
    condition: {method: GET, pathRegex: /authors}
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: ok.library.svc.cluster.local}
";

#[test]
fn every_problem_of_every_document_is_reported_in_file_order_with_its_line() {
    let got = outcomes(FOUR_MISTAKES);
    assert_eq!(got.len(), 3, "{got:#?}");
    let (place, first) = &got[0];
    assert_eq!(place, "document 1");
    let first = first.as_ref().unwrap_err();
    let expected = [
        "spec.routes[0].condition.path_regex: unknown field `path_regex`, expected one of `all`, `any`, `method`, `not`, `pathRegex` (line 10, column 7); did you mean `pathRegex`?",
        "spec.routes[0].response_classes: unknown field `response_classes`, expected one of `condition`, `isRetryable`, `name`, `responseClasses`, `timeout` (line 11, column 5); did you mean `responseClasses`?",
        "spec.routes[0].is_retryable: unknown field `is_retryable`, expected one of `condition`, `isRetryable`, `name`, `responseClasses`, `timeout` (line 13, column 5); did you mean `isRetryable`?",
        "spec.retry_budget: unknown field `retry_budget`, expected one of `dstOverrides`, `opaquePorts`, `retryBudget`, `routes` (line 14, column 3); did you mean `retryBudget`?",
    ];
    assert_eq!(first, &expected);
    assert_eq!(
        got[1],
        (
            "document 2".to_string(),
            Err(vec!["spec.routes[0].name: expected a string, found the number 404 (line 22, column 11); quote it".to_string()])
        )
    );
    assert_eq!(
        got[2],
        (
            "document 3".to_string(),
            Ok("ok.library.svc.cluster.local".to_string())
        )
    );
}

#[test]
fn a_syntax_error_ends_the_file_but_a_duplicate_key_does_not() {
    let text = "apiVersion: v1\napiVersion: v2\n---\nkind: [\n---\nkind: ServiceProfile\n";
    let got = outcomes(text);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(
        got[0].1,
        Err(vec![
            "apiVersion: given twice in the same mapping (line 2, column 1)".to_string()
        ])
    );
    assert_eq!(got[1].0, "document 2");
    assert!(got[1].1.is_err());
}

#[test]
fn each_item_of_a_list_is_a_profile_named_by_its_place() {
    let text = "apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n- apiVersion: linkerd.io/v1alpha2\n  kind: ServiceProfile\n  metadata: {name: a.ns.svc.cluster.local, uid: 1a, resourceVersion: \"7\"}\n  spec: {}\n- apiVersion: linkerd.io/v1alpha2\n  kind: ServiceProfile\n  metadata: {name: b.ns.svc.cluster.local}\n  spec:\n    routes:\n    - name: x\n      condition: {method: GET}\n      timeout: 0\n";
    let got = outcomes(text);
    assert_eq!(
        got,
        vec![
            (
                "document 1, items[0]".to_string(),
                Ok("a.ns.svc.cluster.local".to_string())
            ),
            (
                "document 1, items[1]".to_string(),
                Err(vec!["spec.routes[0].timeout: expected a duration string such as \"500ms\" or \"10s\", found the number 0 (line 17, column 16); write it with a unit: \"0s\"".to_string()])
            ),
        ]
    );
    let empty = outcomes("apiVersion: v1\nkind: List\nitems: []\n");
    assert_eq!(
        empty,
        vec![(
            "document 1".to_string(),
            Err(vec!["items: the List holds no ServiceProfile".to_string()])
        )]
    );
}

#[test]
fn another_kind_of_object_gets_one_error() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2, template: {}}\n";
    assert_eq!(
        outcomes(text),
        vec![(
            "document 1".to_string(),
            Err(vec![
                "kind: expected ServiceProfile, found \"Deployment\" (line 2, column 7)"
                    .to_string()
            ])
        )]
    );
}

#[test]
fn a_byte_order_mark_and_json_are_read_like_any_yaml() {
    let yaml = "\u{feff}apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: web.ns.svc.cluster.local\n";
    assert_eq!(
        outcomes(yaml),
        vec![(
            "document 1".to_string(),
            Ok("web.ns.svc.cluster.local".to_string())
        )]
    );
    let json = "\u{feff}{\n  \"apiVersion\": \"linkerd.io/v1alpha2\",\n  \"kind\": \"ServiceProfile\",\n  \"metadata\": {\"name\": 7}\n}\n";
    assert_eq!(
        outcomes(json),
        vec![(
            "document 1".to_string(),
            Err(vec![
                "metadata.name: expected a string, found the number 7 (line 4, column 24); quote it".to_string()
            ])
        )]
    );
}

#[test]
fn empty_documents_are_skipped() {
    assert!(outcomes("# nothing\n").is_empty());
    let text = "---\napiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {name: a.b.svc.c}\n---\n";
    assert_eq!(outcomes(text).len(), 1);
}
