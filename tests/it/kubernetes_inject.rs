//! `mesh inject` and `mesh uninject` on the manifests under fixtures/kubernetes/inject/: goldens for
//! every workload kind in both sidecar layouts, each annotation, a List, multi-document input; the
//! round trip `uninject(inject(x)) == x` on the parsed trees; already-injected and disabled input;
//! bad input (exit 1, nothing on stdout, the document and field named); and every manifest inject
//! writes validated against the Kubernetes schemas of 1.28, 1.29 and 1.33.

use std::io::Write;

use mesh::yaml::{self, Tree};

use crate::harness::{fixture, mesh, root};
use crate::kubernetes_validate;

/// Every fixture, by file stem.
fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("fixtures/kubernetes/inject"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12, "{names:?}");
    names
}

/// Whether the fixture asks for a native sidecar by annotation (which Kubernetes 1.28 cannot run).
fn asks_native(stem: &str) -> bool {
    stem == "annotations-native"
}

fn path(stem: &str) -> String {
    format!("fixtures/kubernetes/inject/{stem}.yaml")
}

/// What one run printed.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `mesh ARGS` with `stdin` on its standard input.
fn mesh_with(args: &[&str], stdin: &str) -> Out {
    let out = mesh().args(args).write_stdin(stdin).output().unwrap();
    Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn inject(args: &[&str]) -> Out {
    let out = mesh_with(&[&["inject"], args].concat(), "");
    assert_eq!(out.code, 0, "mesh inject {args:?}: {}", out.stderr);
    out
}

/// The documents of a text as trees, empty ones left out.
fn trees(text: &str) -> Vec<Tree> {
    yaml::trees(text)
        .into_iter()
        .map(|t| t.unwrap())
        .filter(|t| !t.is_null())
        .collect()
}

#[test]
fn every_fixture_injects_as_its_golden_in_both_layouts() {
    for stem in fixtures() {
        for (mode, extra) in [("native", &[][..]), ("classic", &["--classic"][..])] {
            let out = inject(&[&[path(&stem).as_str()], extra].concat());
            insta::assert_snapshot!(
                format!("{stem}_{mode}"),
                format!("{}--- stderr ---\n{}", out.stdout, out.stderr)
            );
        }
    }
}

#[test]
fn uninject_restores_every_fixture_on_the_semantics() {
    for stem in fixtures() {
        let original = fixture(&path(&stem));
        for extra in [
            &[][..],
            &["--classic"][..],
            &["--kubernetes-version", "1.28"][..],
        ] {
            if asks_native(&stem) && extra.contains(&"1.28") {
                continue;
            }
            let injected = inject(&[&[path(&stem).as_str()], extra].concat()).stdout;
            let back = mesh_with(&["uninject", "-"], &injected);
            assert_eq!(back.code, 0, "{stem}: {}", back.stderr);
            assert_eq!(
                trees(&back.stdout),
                trees(&original),
                "{stem} {extra:?}: uninject(inject(x)) differs from x:\n{}",
                back.stdout
            );
        }
    }
}

#[test]
fn fields_inject_does_not_know_survive_inject_in_their_order() {
    let out = inject(&[&path("unknown-fields")]);
    let doc = &trees(&out.stdout)[0];
    let template = &doc["spec"]["template"];
    assert_eq!(doc["metadata"]["x-team"], Tree::from("payments"));
    assert_eq!(doc["spec"]["x-rollout"]["steps"][1], Tree::from(50));
    assert_eq!(template["x-template-note"], Tree::from("kept"));
    assert_eq!(template["spec"]["x-pod-field"], Tree::Bool(true));
    let app = &template["spec"]["containers"][0];
    assert_eq!(app["x-container-field"][1], Tree::from(2));
    // Order: the keys as written, inject's additions after them.
    let keys: Vec<&str> = doc["spec"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["x-rollout", "template", "selector"]);
    let keys: Vec<&str> = app
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["name", "x-container-field", "image"]);
}

#[test]
fn injected_input_is_left_unchanged_and_said_so() {
    for stem in fixtures() {
        let once = inject(&[&path(&stem)]).stdout;
        let twice = mesh_with(&["inject", "-"], &once);
        assert_eq!(twice.code, 0, "{}", twice.stderr);
        assert_eq!(twice.stdout, once, "{stem}: a second inject changed it");
        if once != yaml_round(&fixture(&path(&stem))) {
            assert!(
                twice.stderr.contains("already injected, unchanged"),
                "{stem}: {}",
                twice.stderr
            );
        }
    }
    let twice = mesh_with(
        &["inject", "-"],
        &inject(&[&path("statefulset-zookeeper")]).stdout,
    );
    insta::assert_snapshot!(twice.stderr, @r"
    service/zk-hs unchanged: not a workload
    statefulset/zk already injected, unchanged
    ");
}

/// A text as inject writes documents it does not change.
fn yaml_round(text: &str) -> String {
    let docs: Vec<String> = trees(text)
        .iter()
        .map(|t| yaml::to_string(t).unwrap())
        .collect();
    docs.join("---\n")
}

#[test]
fn disabled_and_host_network_workloads_pass_through_with_the_reason() {
    let out = inject(&[&path("disabled")]);
    assert_eq!(out.stdout, yaml_round(&fixture(&path("disabled"))));
    insta::assert_snapshot!(out.stderr, @r"
    deployment/legacy-db-client skipped: linkerd.io/inject: disabled
    pod/host-agent skipped: hostNetwork: true (the capture rules would change the node's network)
    ");
}

#[test]
fn the_zookeeper_statefulset_skips_its_quorum_ports_both_ways() {
    let out = inject(&[&path("statefulset-zookeeper")]);
    let docs = trees(&out.stdout);
    let pod = &docs[1]["spec"]["template"]["spec"];
    let init = &pod["initContainers"][0];
    assert_eq!(init["name"], Tree::from("mesh-init"));
    let args: Vec<&str> = init["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "init",
            "--proxy-uid=2102",
            "--skip-inbound-ports=2888,3888",
            "--skip-outbound-ports=2888,3888"
        ]
    );
    // 60 s already exceeds the proxy's 30 s drain: left as it was.
    assert_eq!(pod["terminationGracePeriodSeconds"], Tree::from(60));
    if kubernetes_validate::available() {
        let verdict = kubernetes_validate::validate(&out.stdout, "1.33").unwrap();
        eprintln!(
            "mesh inject {}:\n{}",
            path("statefulset-zookeeper"),
            verdict
        );
        assert!(
            verdict.contains("passed for resource statefulset/zk"),
            "{verdict}"
        );
    }
}

#[test]
fn every_injected_manifest_validates_against_kubernetes_1_28_1_29_and_1_33() {
    if !kubernetes_validate::available() {
        return;
    }
    for stem in fixtures() {
        if stem == "unknown-fields" {
            // Its invented fields are the point of it; a strict schema check refuses them.
            continue;
        }
        for (version, extra) in [
            ("1.28", &[][..]),
            ("1.29", &[][..]),
            ("1.29", &["--classic"][..]),
            ("1.33", &[][..]),
        ] {
            if asks_native(&stem) && version == "1.28" {
                // Refused, with the reason: a_native_sidecar_asked_of_kubernetes_1_28_is_refused….
                continue;
            }
            let file = path(&stem);
            let args = [&[file.as_str(), "--kubernetes-version", version], extra].concat();
            let out = inject(&args);
            let objects = objects(&out.stdout);
            let verdict = kubernetes_validate::validate(&objects.join("---\n"), version)
                .unwrap_or_else(|e| panic!("mesh inject {args:?} fails validation:\n{e}"));
            // Every document is checked against a schema (none only warned about).
            assert_eq!(
                verdict.matches("passed for resource").count(),
                objects.len(),
                "{stem} {version}: {verdict}"
            );
            let layout = if asks_native(&stem) {
                "native"
            } else if version == "1.28" || !extra.is_empty() {
                "classic"
            } else {
                "native"
            };
            if stem == "annotations" {
                // Its annotations choose the layout per workload; the goldens show each.
                continue;
            }
            let workloads = out.stderr.matches("injected (").count();
            assert_eq!(
                out.stderr.matches(&format!("injected ({layout}")).count(),
                workloads,
                "{stem} {version} {extra:?} wrote the wrong layout: {}",
                out.stderr
            );
        }
    }
}

/// The objects of a text, each as a YAML document: the validator has no schema for `kind: List`,
/// so a List's items are checked one by one.
fn objects(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tree in trees(text) {
        if tree["kind"] == "List" {
            for item in tree["items"].as_sequence().unwrap() {
                out.push(yaml::to_string(item).unwrap());
            }
        } else {
            out.push(yaml::to_string(&tree).unwrap());
        }
    }
    out
}

#[test]
fn a_native_sidecar_asked_of_kubernetes_1_28_is_refused_with_the_reason() {
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    \
                    config.linkerd.io/proxy-enable-native-sidecar: \"true\"\nspec:\n  \
                    containers: [{name: a, image: b}]\n";
    let out = mesh_with(&["inject", "-", "--kubernetes-version", "1.28"], manifest);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!(out.stderr, @r#"mesh: stdin: document 1 (pod/p): metadata.annotations.config.linkerd.io/proxy-enable-native-sidecar: "true" asks for a native sidecar, which needs Kubernetes 1.29 or later; --kubernetes-version is 1.28: remove the annotation for the classic layout, or give the cluster's version if it is newer"#);
    let out = mesh_with(&["inject", "-", "--kubernetes-version", "1.29"], manifest);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_pod_the_api_server_would_refuse_is_refused_here() {
    // restartPolicy on a regular container: the schema of every version has the field, the API
    // server refuses it.
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - \
                    {name: a, image: b, restartPolicy: Always}\n";
    let out = mesh_with(&["inject", "-"], manifest);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert!(
        out.stderr
            .contains("spec.containers[0].restartPolicy: allowed only on init containers"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_input_names_the_document_and_field_and_writes_nothing() {
    let good = fixture(&path("deployment"));
    let cases = [
        ("not YAML", "a: [\n".to_string(), "stdin: document 1: "),
        (
            "a pod without containers",
            format!("{good}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{containers: []}}\n"),
            "stdin: document 3 (pod/p): spec.containers: a pod needs at least one container",
        ),
        (
            "a workload without a template",
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: x, jobTemplate: {spec: {}}}\n".to_string(),
            "stdin: document 1 (cronjob/c): spec.jobTemplate.spec.template: missing",
        ),
        (
            "no kind",
            "apiVersion: v1\nmetadata: {name: x}\n".to_string(),
            "stdin: document 1: kind: missing: not a Kubernetes object",
        ),
        (
            "an app running as the proxy's uid",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b, securityContext: {runAsUser: 2102}}]}\n".to_string(),
            "stdin: document 1 (pod/p): spec.containers[0].securityContext.runAsUser: 2102 is the proxy's uid, whose connections the capture rules exempt",
        ),
        (
            "an app declaring the proxy's admin port",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b, ports: [{containerPort: 80}, {containerPort: 4191}]}]}\n".to_string(),
            "stdin: document 1 (pod/p): spec.containers[0].ports[1].containerPort: 4191 is the proxy's admin port",
        ),
        (
            "an unknown kind that misspells a workload's",
            "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a, image: b}]}}}\n".to_string(),
            "stdin: document 1 (deploymnet/d): kind: \"Deploymnet\" is no kind Kubernetes knows: did you mean Deployment?",
        ),
        (
            "a bad annotation",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations: {config.linkerd.io/proxy-uid: root}\nspec:\n  template:\n    spec: {containers: [{name: a, image: b}]}\n".to_string(),
            "stdin: document 1 (deployment/d): metadata.annotations.config.linkerd.io/proxy-uid: \"root\" is not a uid",
        ),
        (
            "an unquoted annotation",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {config.linkerd.io/proxy-uid: 3000}\nspec: {containers: [{name: a, image: b}]}\n".to_string(),
            "metadata.annotations.config.linkerd.io/proxy-uid: an annotation's value is a string: quote it",
        ),
        (
            "a bad item in a List",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec: {}\n".to_string(),
            "stdin: document 1 (pod/p): items[0].spec.containers: a pod needs at least one container",
        ),
        (
            "an opaque port no container names",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {config.linkerd.io/opaque-ports: \"db\"}\nspec: {containers: [{name: a, image: b}]}\n".to_string(),
            "metadata.annotations.config.linkerd.io/opaque-ports: no container port is named \"db\"",
        ),
        (
            "an identity switch that is neither enabled nor disabled",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {mesh.io/identity: \"off\"}\nspec: {containers: [{name: a, image: b}]}\n".to_string(),
            "stdin: document 1 (pod/p): metadata.annotations.mesh.io/identity: \"off\": takes enabled or disabled",
        ),
        (
            "an identity secret that is no secret's name",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    metadata: {annotations: {mesh.io/identity-secret: Web_TLS}}\n    spec: {containers: [{name: a, image: b}]}\n".to_string(),
            "stdin: document 1 (deployment/d): spec.template.metadata.annotations.mesh.io/identity-secret: \"Web_TLS\" is not a secret's name",
        ),
        (
            "a trust domain the proxy would refuse",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {mesh.io/trust-domain: \"prod example\"}\nspec: {containers: [{name: a, image: b}]}\n".to_string(),
            "metadata.annotations.mesh.io/trust-domain: \"prod example\" is not a trust domain",
        ),
        (
            "the root group for the proxy",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {config.linkerd.io/proxy-gid: \"0\"}\nspec: {containers: [{name: a, image: b}]}\n".to_string(),
            "metadata.annotations.config.linkerd.io/proxy-gid: \"0\": the proxy's group reads its identity's key",
        ),
        (
            "an identity secret for a workload whose identity is disabled",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  annotations: {mesh.io/identity: disabled}\nspec:\n  template:\n    metadata: {annotations: {mesh.io/identity-secret: web-tls}}\n    spec: {containers: [{name: a, image: b}]}\n".to_string(),
            "stdin: document 1 (deployment/d): spec.template.metadata.annotations.mesh.io/identity-secret: \"web-tls\" is for the proxy's identity, but mesh.io/identity is disabled",
        ),
        (
            "a volume named as inject's identity volume",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}], volumes: [{name: mesh-identity, emptyDir: {}}]}\n".to_string(),
            "spec: already holds \"mesh-identity\", a name inject uses",
        ),
        (
            "a container named as inject's",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: mesh-proxy, image: b}]}\n".to_string(),
            "spec: already holds \"mesh-proxy\", a name inject uses",
        ),
    ];
    for (what, input, expected) in cases {
        let out = mesh_with(&["inject", "-"], &input);
        assert_eq!(out.code, 1, "{what}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{what}: wrote to stdout");
        assert!(
            out.stderr.starts_with("mesh: ") && out.stderr.contains(expected),
            "{what}: {}",
            out.stderr
        );
    }
    // A good file before a bad one: still nothing written.
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    bad.write_all(b"kind: [\n").unwrap();
    let bad_path = bad.path().to_str().unwrap();
    let out = mesh_with(&["inject", &path("deployment"), bad_path], "");
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert!(
        out.stderr.contains(&format!("{bad_path}: document 1")),
        "{}",
        out.stderr
    );
    let out = mesh_with(&["inject", "fixtures/kubernetes/inject/absent.yaml"], "");
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert!(
        out.stderr
            .contains("reading fixtures/kubernetes/inject/absent.yaml"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_kind_with_a_pod_template_passes_through_and_is_named() {
    let manifest =
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec:\n  \
                    template:\n    spec: {containers: [{name: a, image: b}]}\n";
    let out = mesh_with(&["inject", "-"], manifest);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(trees(&out.stdout), trees(manifest));
    insta::assert_snapshot!(out.stderr, @"rollout/r unchanged: mesh inject does not know the kind Rollout (its pods are not meshed)");
}

#[test]
fn a_proxy_image_with_its_own_tag_or_digest_is_used_as_it_is() {
    let proxy_image = |annotations: &str| -> String {
        let manifest = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d, annotations: {{{annotations}}}}}\n\
             spec: {{template: {{spec: {{containers: [{{name: a, image: b}}]}}}}}}\n"
        );
        let out = mesh_with(&["inject", "-"], &manifest);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("image: "))
            .find(|i| *i != "b")
            .unwrap()
            .to_string()
    };
    let a = "config.linkerd.io/proxy-image";
    let v = "config.linkerd.io/proxy-version";
    assert_eq!(
        proxy_image(&format!("{a}: myreg/mesh:1.2")),
        "myreg/mesh:1.2"
    );
    assert_eq!(
        proxy_image(&format!("{a}: \"reg/mesh@sha256:abc\"")),
        "reg/mesh@sha256:abc"
    );
    assert_eq!(
        proxy_image(&format!("{a}: \"reg:5000/mesh\"")),
        "reg:5000/mesh:0.1.0"
    );
    assert_eq!(
        proxy_image(&format!("{a}: reg/mesh:1.2, {v}: \"2.0\"")),
        "reg/mesh:2.0"
    );
    let out = mesh_with(&["inject", "--image", "", "-"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("an image reference"), "{}", out.stderr);
}

#[test]
fn typed_lists_are_read_and_other_meshes_and_half_injections_are_not_injected_again() {
    let list = "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n  spec: {template: {spec: {containers: [{name: a, image: b}]}}}\n";
    let out = mesh_with(&["inject", "-"], list);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("deployment/d injected"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("mesh-proxy"), "{}", out.stdout);

    let istio = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}, {name: istio-proxy, image: istio/proxyv2}]}\n";
    let out = mesh_with(&["inject", "-"], istio);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("skipped: already injected by Istio"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("mesh-proxy"));

    // Injected, then the proxy container taken out by hand.
    let injected = mesh_with(
        &["inject", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n",
    );
    let mut pod = mesh::yaml::to_json_value(&injected.stdout).unwrap();
    pod["spec"]["initContainers"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["name"] != "mesh-proxy");
    let half = mesh::yaml::to_string(&pod).unwrap();
    assert!(!half.contains("name: mesh-proxy"), "{half}");
    let out = mesh_with(&["inject", "-"], &half);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("has no mesh-proxy container"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}
