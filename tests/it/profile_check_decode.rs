//! `mesh profile check` (and the proxy, which reads profiles with the same decoder) on what users
//! really feed it: files with several mistakes, what `kubectl get` prints, values of the wrong
//! type, files saved by Windows editors. Each test writes its files and runs the real binary.

use crate::harness::{check, run, write};

/// `stderr` is exactly `lines`, each prefixed with `prefix: `.
fn assert_lines(stderr: &str, prefix: &str, lines: &[&str]) {
    let expected: Vec<String> = lines.iter().map(|l| format!("{prefix}: {l}")).collect();
    let got: Vec<&str> = stderr.lines().collect();
    assert_eq!(got, expected, "stderr:\n{stderr}");
}

#[test]
fn every_mistake_of_every_document_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "orders.yaml",
        "\
# Written from memory of the Go field names.
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: orders.shop.svc.cluster.local
  namespace: shop
spec:
  routes:
  - name: POST /orders
    condition:
      method: POST
      path_regex: /orders
    response_classes:
    - condition:
        status: {min: 500, max: 599}
      is_failure: true
    is_retryable: false
  retry_budget:
    retryRatio: 0.2
    minRetriesPerSecond: 10
    ttl: 10s
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: carts.shop.svc.cluster.local
spec:
  routes:
  - name: GET /carts
    condition: {method: GET, pathRegex: '/carts/[^/]*'}
    timeout: 0
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: stock.shop.svc.cluster.local
spec:
  routes:
  - name: GET /stock
    condition: {method: GET, pathRegex: /stock}
  - name: GET /stock
    condition: {method: GET, pathRegex: /stock/all}
",
    );
    let r = check(&file);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let name = file.display().to_string();
    let lines: Vec<String> = [
        ("1", "spec.routes[0].condition.path_regex: unknown field `path_regex`, expected one of `all`, `any`, `method`, `not`, `pathRegex` (line 12, column 7); did you mean `pathRegex`?"),
        ("1", "spec.routes[0].response_classes: unknown field `response_classes`, expected one of `condition`, `isRetryable`, `name`, `responseClasses`, `timeout` (line 13, column 5); did you mean `responseClasses`?"),
        ("1", "spec.routes[0].is_retryable: unknown field `is_retryable`, expected one of `condition`, `isRetryable`, `name`, `responseClasses`, `timeout` (line 17, column 5); did you mean `isRetryable`?"),
        ("1", "spec.retry_budget: unknown field `retry_budget`, expected one of `dstOverrides`, `opaquePorts`, `retryBudget`, `routes` (line 18, column 3); did you mean `retryBudget`?"),
        ("2", "spec.routes[0].timeout: expected a duration string such as \"500ms\" or \"10s\", found the number 0 (line 31, column 14); write it with a unit: \"0s\""),
        // The third document decodes, so its meaning is checked too.
        ("3", "spec.routes[1].name: \"GET /stock\" is also the name of spec.routes[0]; metrics of the two would mix (line 41, column 11)"),
    ]
    .iter()
    .map(|(doc, line)| format!("{name} (document {doc}): {line}"))
    .collect();
    let got: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(got, lines, "stderr:\n{}", r.stderr);
    assert_eq!(r.stdout, "");
}

/// What `kubectl get serviceprofile orders.shop.svc.cluster.local -n shop -o yaml` prints.
const FROM_KUBECTL: &str = "\
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {\"apiVersion\":\"linkerd.io/v1alpha2\",\"kind\":\"ServiceProfile\"}
  creationTimestamp: \"2026-11-02T09:41:07Z\"
  deletionGracePeriodSeconds: 0
  deletionTimestamp: \"2026-11-30T17:03:55Z\"
  finalizers:
  - shop.example.com/audit
  generation: 4
  labels:
    app.kubernetes.io/part-of: shop
  managedFields:
  - apiVersion: linkerd.io/v1alpha2
    fieldsType: FieldsV1
    fieldsV1:
      f:metadata:
        f:annotations:
          .: {}
          f:kubectl.kubernetes.io/last-applied-configuration: {}
      f:spec:
        .: {}
        f:routes: {}
    manager: kubectl-client-side-apply
    operation: Update
    time: \"2026-11-02T09:41:07Z\"
  name: orders.shop.svc.cluster.local
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: true
    controller: true
    kind: Deployment
    name: orders
    uid: 3c9d2b7e-55aa-4c1f-8e0b-9a6f1d2c3b4a
  resourceVersion: \"918273\"
  selfLink: /apis/linkerd.io/v1alpha2/namespaces/shop/serviceprofiles/orders.shop.svc.cluster.local
  uid: 0f4e8a2c-1b3d-4e5f-a6b7-c8d9e0f1a2b3
spec:
  routes:
  - condition:
      method: POST
      pathRegex: /orders
    name: POST /orders
";

#[test]
fn what_kubectl_get_prints_is_checked_whole() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "orders.yaml", FROM_KUBECTL);
    let r = check(&file);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    assert_eq!(
        r.stdout,
        format!(
            "{}: valid ServiceProfile orders.shop.svc.cluster.local (1 routes)\n",
            file.display()
        )
    );

    // A misspelt metadata field is still a mistake: metadata is a model, not a pass-through.
    let typo = write(
        dir.path(),
        "typo.yaml",
        &FROM_KUBECTL.replace("  namespace: shop", "  namepsace: shop"),
    );
    let r = check(&typo);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(&format!(
            "{}: metadata.namepsace: unknown field `namepsace`, expected one of `annotations`, `creationTimestamp`",
        typo.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .trim_end()
            .ends_with("(line 30, column 3); did you mean `namespace`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn each_item_of_a_kubectl_list_is_checked_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let item = |text: &str| {
        text.lines()
            .enumerate()
            .map(|(i, l)| format!("{}{l}\n", if i == 0 { "- " } else { "  " }))
            .collect::<String>()
    };
    let broken = FROM_KUBECTL
        .replace("orders.shop", "payments.shop")
        .replace("      pathRegex: /orders", "      pathRegex: 404");
    let list = format!(
        "apiVersion: v1\nitems:\n{}{}kind: List\nmetadata:\n  resourceVersion: \"\"\n",
        item(FROM_KUBECTL),
        item(&broken)
    );
    let file = write(dir.path(), "all.yaml", &list);
    let r = check(&file);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let name = file.display();
    assert_eq!(
        r.stdout,
        format!(
            "{name} (items[0]): valid ServiceProfile orders.shop.svc.cluster.local (1 routes)\n"
        )
    );
    assert_lines(
        &r.stderr,
        &format!("{name} (items[1])"),
        &["spec.routes[0].condition.pathRegex: expected a string, found the number 404 (line 93, column 20); quote it"],
    );
}

#[test]
fn types_the_crd_refuses_are_refused_in_the_users_words() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "types.yaml",
        "\
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: web.shop.svc.cluster.local
spec:
  routes:
  - name: 404
    condition:
      pathRegex: 123
    timeout: 0
  dstOverrides:
  - authority: web-v2.shop.svc.cluster.local:80
    weight: 0.5
  - authority: web.shop.svc.cluster.local:80
    weight: {value: 1}
",
    );
    let r = check(&file);
    assert_eq!(r.code, 1);
    assert_lines(
        &r.stderr,
        &file.display().to_string(),
        &[
            "spec.routes[0].name: expected a string, found the number 404 (line 7, column 11); quote it",
            "spec.routes[0].condition.pathRegex: expected a string, found the number 123 (line 9, column 18); quote it",
            "spec.routes[0].timeout: expected a duration string such as \"500ms\" or \"10s\", found the number 0 (line 10, column 14); write it with a unit: \"0s\"",
            "spec.dstOverrides[0].weight: expected a whole number or a quantity such as \"500m\", found the number 0.5 (line 13, column 13); quote it",
            "spec.dstOverrides[1].weight: expected a whole number or a quantity such as \"500m\", found a mapping (line 15, column 13)",
        ],
    );
    assert!(!r.stderr.contains("untagged"), "{}", r.stderr);
}

#[test]
fn a_byte_order_mark_is_ignored_in_every_input() {
    let dir = tempfile::tempdir().unwrap();
    let bom = "\u{feff}";
    let yaml = write(dir.path(), "bom.yaml", &format!("{bom}{FROM_KUBECTL}"));
    let r = check(&yaml);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let json = write(
        dir.path(),
        "bom.json",
        &format!("{bom}{{\"apiVersion\": \"linkerd.io/v1alpha2\", \"kind\": \"ServiceProfile\", \"metadata\": {{\"name\": \"a.shop.svc.cluster.local\"}}}}\n"),
    );
    let r = check(&json);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));

    for (name, document) in [
        (
            "api.yaml",
            "swagger: \"2.0\"\nbasePath: /v1\npaths:\n  /items:\n    get: {}\n",
        ),
        (
            "api.json",
            "{\"openapi\": \"3.0.0\", \"paths\": {\"/v1/items\": {\"get\": {}}}}",
        ),
    ] {
        let spec = write(dir.path(), name, &format!("{bom}{document}"));
        let r = run(&["profile", "--open-api", spec.to_str().unwrap(), "web"]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(
            r.stdout.contains("name: GET /v1/items"),
            "{name}: {}",
            r.stdout
        );
    }
}

/// The proxy reads `--profiles` files with the same decoder: the same file is refused in the same
/// words, and what `kubectl get sp -o yaml` printed (a List, saved with a byte-order mark) loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_refuses_and_loads_what_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yaml",
        "\
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: web.shop.svc.cluster.local
spec:
  routes:
  - name: 404
    condition: {method: GET}
    timeout: 0
",
    );
    let list = format!(
        "\u{feff}apiVersion: v1\nitems:\n- {}kind: List\n",
        FROM_KUBECTL.replace('\n', "\n  ").trim_end_matches(' ')
    );
    write(dir.path(), "list.yaml", &list);

    let first = check(&bad).stderr.lines().next().unwrap().to_string();
    let (_, first) = first.split_once(": ").unwrap();
    assert_eq!(
        first,
        "spec.routes[0].name: expected a string, found the number 404 (line 7, column 11); quote it"
    );

    let proxy = crate::process::ProxyProcess::start(&[
        "--workload",
        "deploy/web",
        "--no-registry",
        "--profiles",
        dir.path().to_str().unwrap(),
    ])
    .await;
    crate::net::eventually("both profile files read", || async {
        let log = proxy.log();
        log.contains("rejected ServiceProfile") && log.contains("loaded ServiceProfile")
    })
    .await;
    let log = proxy.log();
    let rejected = log
        .lines()
        .find(|l| l.contains("rejected ServiceProfile"))
        .unwrap();
    assert!(
        rejected.contains(&format!(
            "document 1: {first} (and 1 more problem: `mesh profile check FILE` lists it)"
        )) && rejected.contains("bad.yaml"),
        "{log}"
    );
    let loaded = log
        .lines()
        .find(|l| l.contains("loaded ServiceProfile"))
        .unwrap();
    assert!(loaded.contains("list.yaml"), "{log}");
}
