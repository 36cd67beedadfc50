//! The containers `mesh inject` writes, run as a kubelet would run them, in a pod network
//! namespace of the test's own (netns.rs): `mesh-init`'s command and args as root, then
//! `mesh-proxy`'s as its `runAsUser`, with its environment resolved from the downward API (the
//! pod's namespace, name and IPs, the pod-template labels) and `$(VAR)` references expanded, then
//! the classic layout's postStart hook, the probes from outside the pod, and a request through the
//! proxy whose metrics must name the workload. A schema check cannot tell whether the proxy
//! accepts its flags, or whether the labels reach `MESH_WORKLOAD`: this does.

use std::collections::HashMap;

use mesh::yaml::{self, Mapping, Tree};

use crate::harness::mesh;
use crate::netns::{
    curl, ping, pong_server, skip_unless_netns, whoami_server, Background, Pod, SharedBinary,
    POD_V4,
};

/// The pod name the "kubelet" gives the pod.
const POD_NAME: &str = "web-5d4f8-x2x9q";

/// The injected pod template (metadata and spec) of the first workload in `fixture`, injected with
/// `flags`, and the workload's namespace.
fn injected_pod(fixture: &str, flags: &[&str]) -> (Mapping, String) {
    let out = mesh()
        .args([&["inject", fixture], flags].concat())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let doc = yaml::trees(&text)
        .into_iter()
        .map(Result::unwrap)
        .find(|d| d["spec"]["template"].is_mapping())
        .expect("a workload");
    let namespace = doc["metadata"]["namespace"].as_str().unwrap().to_string();
    let pod = doc["spec"]["template"].as_mapping().unwrap().clone();
    (pod, namespace)
}

/// The container called `name` among the pod's init containers and containers.
fn container<'a>(pod: &'a Mapping, name: &str) -> &'a Mapping {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod["spec"][*k].as_sequence())
        .flatten()
        .filter_map(Tree::as_mapping)
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn strings(node: &Tree) -> Vec<String> {
    node.as_sequence()
        .map(|s| s.iter().map(|i| i.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// A container's environment as the kubelet resolves it: `fieldRef`s from the pod, `$(VAR)` in a
/// value from the variables defined before it.
fn resolve_env(pod: &Mapping, namespace: &str, container: &Mapping) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for entry in container["env"].as_sequence().into_iter().flatten() {
        let name = entry["name"].as_str().unwrap().to_string();
        let value = if let Some(value) = entry["value"].as_str() {
            let mut expanded = value.to_string();
            for (k, v) in &env {
                expanded = expanded.replace(&format!("$({k})"), v);
            }
            expanded
        } else {
            let path = entry["valueFrom"]["fieldRef"]["fieldPath"]
                .as_str()
                .unwrap();
            field(pod, namespace, path)
        };
        env.push((name, value));
    }
    env
}

/// The downward API's answer for `path`.
fn field(pod: &Mapping, namespace: &str, path: &str) -> String {
    match path {
        "metadata.namespace" => namespace.to_string(),
        "metadata.name" => POD_NAME.to_string(),
        "spec.serviceAccountName" => pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .to_string(),
        "status.podIPs" => POD_V4.to_string(),
        _ => {
            let label = path
                .strip_prefix("metadata.labels['")
                .and_then(|p| p.strip_suffix("']"))
                .unwrap_or_else(|| panic!("a fieldPath this test does not know: {path}"));
            pod["metadata"]["labels"][label]
                .as_str()
                .unwrap_or_else(|| panic!("the pod has no label {label}"))
                .to_string()
        }
    }
}

/// `command` + `args` of a container, with `mesh` the shared binary.
fn argv(container: &Mapping, bin: &SharedBinary) -> Vec<String> {
    let mut argv = strings(&container["command"]);
    argv.extend(strings(&container["args"]));
    assert_eq!(argv[0], "mesh");
    argv[0] = bin.path().to_string_lossy().into_owned();
    argv
}

/// Runs the pod's `mesh-init` and starts its `mesh-proxy` in `net`, as their security contexts say.
/// `workload` is what the proxy's `MESH_WORKLOAD` must come to (`deploy/web`).
/// A started pod: its proxy, the API server it talks to (the replay API inside the pod's
/// namespace, standing in for the cluster's), and the kubeconfig's directory (standing in for the
/// service account token the kubelet mounts).
struct Started {
    proxy: Background,
    _api: crate::kube_replay::ReplayApi,
    _kubeconfig: tempfile::TempDir,
}

fn start_pod(
    net: &Pod,
    bin: &SharedBinary,
    pod: &Mapping,
    namespace: &str,
    workload: &str,
) -> Started {
    use std::os::unix::fs::PermissionsExt;
    let init = container(pod, "mesh-init");
    assert_eq!(init["securityContext"]["runAsUser"], 0);
    let argv_init = argv(init, bin);
    let r = net.pod.run(
        &argv_init[0],
        &argv_init[1..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(r.code, 0, "{argv_init:?}: {}", r.stderr);

    let proxy = container(pod, "mesh-proxy");
    let uid = proxy["securityContext"]["runAsUser"]
        .as_u64()
        .unwrap()
        .to_string();
    let argv_proxy = argv(proxy, bin);
    let mut cmd = net.pod.command("setpriv");
    cmd.args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "--"])
        .args(&argv_proxy)
        .env("RUST_BACKTRACE", "0");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MESH_") {
            cmd.env_remove(k);
        }
    }
    let env: HashMap<String, String> = resolve_env(pod, namespace, proxy).into_iter().collect();
    assert_eq!(env["MESH_WORKLOAD"], workload);
    cmd.envs(&env);
    // The proxy reads the API (`--discovery kube`): one on the pod's loopback, readable by the
    // proxy's uid, as the service account's token is in a cluster.
    let api = crate::kube_replay::ReplayApi::start_in_netns(&net.pod.name);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o644)).unwrap();
    cmd.env("KUBECONFIG", &kubeconfig);
    let (proxy_process, line) = Background::start(cmd, "the injected mesh-proxy");
    assert!(line.starts_with("listening "), "{line}");
    Started {
        proxy: proxy_process,
        _api: api,
        _kubeconfig: dir,
    }
}

#[test]
fn the_injected_classic_pod_runs_its_proxy_and_names_its_workload() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let (pod, namespace) =
        injected_pod("fixtures/kubernetes/inject/deployment.yaml", &["--classic"]);
    let net = Pod::new("inject");
    let bin = SharedBinary::new();
    let proxy = start_pod(&net, &bin, &pod, &namespace, "deploy/web");

    // The postStart hook returns once the proxy is ready (the kubelet then starts the app).
    let hook = strings(&container(&pod, "mesh-proxy")["lifecycle"]["postStart"]["exec"]["command"]);
    let hook_bin = bin.path().to_string_lossy().into_owned();
    let r = net.pod.run(
        &hook_bin,
        &hook[1..].iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(
        r.code,
        0,
        "postStart {hook:?}: {}{}",
        r.stderr,
        proxy.proxy.log()
    );

    // The kubelet probes the admin port from outside the pod: never redirected.
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &container(&pod, "mesh-proxy")[probe]["httpGet"];
        let url = format!(
            "http://{POD_V4}:{}{}",
            get["port"].as_u64().unwrap(),
            get["path"].as_str().unwrap()
        );
        curl(&net.peer, &url).unwrap_or_else(|e| panic!("{probe}: {e}\n{}", proxy.proxy.log()));
    }

    // The app (bound to 0.0.0.0:8080, as most are) reached from outside, through the proxy.
    let (_app, _dir) = whoami_server(&net.pod, "0.0.0.0", 8080);
    assert_eq!(
        curl(&net.peer, &format!("http://{POD_V4}:8080/whoami")).unwrap(),
        "8080"
    );
    let metrics = curl(&net.peer, &format!("http://{POD_V4}:4191/metrics")).unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("request_total{") && l.contains("direction=\"inbound\""))
        .unwrap_or_else(|| panic!("no inbound request_total:\n{metrics}"));
    for label in [
        "namespace=\"emojivoto\"",
        "deployment=\"web\"",
        &format!("pod=\"{POD_NAME}\""),
    ] {
        assert!(line.contains(label), "{label} missing: {line}");
    }
}

#[test]
fn the_injected_native_pod_passes_its_startup_probe_and_skips_zookeepers_quorum_ports() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let (pod, namespace) =
        injected_pod("fixtures/kubernetes/inject/statefulset-zookeeper.yaml", &[]);
    let net = Pod::new("inject-zk");
    let bin = SharedBinary::new();
    let proxy = start_pod(&net, &bin, &pod, &namespace, "sts/zk");
    let startup = &container(&pod, "mesh-proxy")["startupProbe"]["httpGet"];
    assert_eq!(startup["path"], "/ready");
    let url = format!(
        "http://{POD_V4}:{}/ready",
        startup["port"].as_u64().unwrap()
    );
    curl(&net.peer, &url).unwrap_or_else(|e| panic!("startupProbe: {e}\n{}", proxy.proxy.log()));

    // The quorum port, bound to the pod IP as ZooKeeper binds it, is reached without the proxy.
    let _quorum = pong_server(&net.pod, POD_V4, 2888);
    assert_eq!(ping(&net.peer, POD_V4, 2888).unwrap(), "PONG");
    let metrics = curl(&net.peer, &format!("http://{POD_V4}:4191/metrics")).unwrap();
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("tcp_open_total{") && l.contains("direction=\"inbound\"")),
        "2888 went through the proxy:\n{metrics}"
    );
}
