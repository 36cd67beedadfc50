//! The containers `mesh inject` writes, run as a kubelet would run them, in a pod network
//! namespace of the test's own (netns.rs): `mesh-init`'s command and args as root, then
//! `mesh-proxy`'s as its `runAsUser`, with its environment resolved from the downward API (the
//! pod's namespace, name and IPs, the pod-template labels) and `$(VAR)` references expanded, then
//! the classic layout's postStart hook, the probes from outside the pod, and a request through the
//! proxy whose metrics must name the workload. The proxy's identity volume is filled as
//! csi-driver-spiffe fills it ([`csi_driver_spiffe_volume`]) and stands in for its mount path, so
//! the proxy must read a key only its group may read and prove the pod's service account. A schema
//! check cannot tell whether the proxy accepts its flags, whether the labels reach
//! `MESH_WORKLOAD`, or whether the non-root proxy can read its key: this does.

use std::collections::HashMap;
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::Path;

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
/// namespace, standing in for the cluster's), the kubeconfig's directory (standing in for the
/// service account token the kubelet mounts), and the proxy's volumes.
struct Started {
    proxy: Background,
    _api: crate::kube_replay::ReplayApi,
    _kubeconfig: tempfile::TempDir,
    _volumes: Vec<tempfile::TempDir>,
}

/// The volumes `container` mounts, as the kubelet would mount them: (mount path, the directory
/// standing in for it). Only what inject mounts is known: csi-driver-spiffe's volume.
fn mount_volumes(
    pod: &Mapping,
    namespace: &str,
    container: &Mapping,
) -> Vec<(String, tempfile::TempDir)> {
    let mut mounted = Vec::new();
    for mount in container["volumeMounts"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let name = mount["name"].as_str().unwrap();
        let path = mount["mountPath"].as_str().unwrap().to_string();
        let volume = pod["spec"]["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} is mounted but is no volume of the pod"));
        assert_eq!(
            volume["csi"]["driver"], "spiffe.csi.cert-manager.io",
            "{volume:?}"
        );
        assert_eq!(volume["csi"]["readOnly"], Tree::Bool(true));
        assert_eq!(mount["readOnly"], Tree::Bool(true));
        let gid: u32 = volume["csi"]["volumeAttributes"]["spiffe.csi.cert-manager.io/fs-group"]
            .as_str()
            .expect("the fs-group attribute, a string")
            .parse()
            .unwrap();
        let account = pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default");
        mounted.push((path, csi_driver_spiffe_volume(namespace, account, gid)));
    }
    mounted
}

/// A volume as csi-driver-spiffe writes it for service account `account` of `namespace` (trust
/// domain `cluster.local`, the driver's default): a certificate whose only name is the SPIFFE ID
/// in a URI SAN, server and client auth, an hour long; its PKCS#8 key; the CA as `ca.crt` (the
/// driver's `--source-ca-bundle`). As cert-manager's csi-lib writes them: through the kubelet's
/// atomic writer (a timestamped directory, `..data` linking to it, each file a link through
/// `..data`), owned by root and group `gid` (the `fs-group` attribute), mode 0440.
fn csi_driver_spiffe_volume(namespace: &str, account: &str, gid: u32) -> tempfile::TempDir {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "spiffe-ca");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let spiffe_id = format!("spiffe://cluster.local/ns/{namespace}/sa/{account}");
    leaf.subject_alt_names = vec![rcgen::SanType::URI(
        rcgen::string::Ia5String::try_from(spiffe_id).unwrap(),
    )];
    let now = std::time::SystemTime::now();
    leaf.not_before = (now - std::time::Duration::from_secs(60)).into();
    leaf.not_after = (now + std::time::Duration::from_secs(3600)).into();
    leaf.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let cert = leaf.signed_by(&key, &issuer).unwrap();

    let volume = tempfile::tempdir().unwrap();
    let root = volume.path();
    let stamped = "..2026_01_02_03_04_05.000000001";
    std::fs::create_dir(root.join(stamped)).unwrap();
    set_mode(&root.join(stamped), 0o755);
    for (file, text) in [
        ("tls.crt", cert.pem()),
        ("tls.key", key.serialize_pem()),
        ("ca.crt", ca_cert.pem()),
    ] {
        let path = root.join(stamped).join(file);
        std::fs::write(&path, text).unwrap();
        chown(&path, Some(0), Some(gid)).unwrap();
        set_mode(&path, 0o440);
        symlink(Path::new("..data").join(file), root.join(file)).unwrap();
    }
    symlink(stamped, root.join("..data")).unwrap();
    chown(root, Some(0), Some(gid)).unwrap();
    set_mode(root, 0o750);
    volume
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn start_pod(
    net: &Pod,
    bin: &SharedBinary,
    pod: &Mapping,
    namespace: &str,
    workload: &str,
) -> Started {
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
    let id = |key: &str| {
        proxy["securityContext"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("mesh-proxy has no securityContext.{key}"))
            .to_string()
    };
    let (uid, gid) = (id("runAsUser"), id("runAsGroup"));
    let volumes = mount_volumes(pod, namespace, proxy);
    assert!(!volumes.is_empty(), "mesh-proxy mounts no identity volume");
    let mut argv_proxy = argv(proxy, bin);
    for arg in &mut argv_proxy {
        for (path, dir) in &volumes {
            *arg = arg.replace(path.as_str(), &dir.path().to_string_lossy());
        }
    }
    let mut cmd = net.pod.command("setpriv");
    cmd.args(["--reuid", &uid, "--regid", &gid, "--clear-groups", "--"])
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
        _volumes: volumes.into_iter().map(|(_, dir)| dir).collect(),
    }
}

/// The proxy's own TLS identity, as its admin port's `/stats` says it.
fn tls_id(net: &Pod) -> String {
    let stats = curl(&net.peer, &format!("http://{POD_V4}:4191/stats")).unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    stats["tls_id"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_injected_classic_pod_runs_its_proxy_and_names_its_workload() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let (pod, namespace) =
        injected_pod("fixtures/kubernetes/inject/deployment.yaml", &["--classic"]);
    let net = Pod::new("inject");
    let bin = SharedBinary::new();
    let proxy = start_pod(&net, &bin, &pod, &namespace, "deploy/web");
    assert_eq!(
        tls_id(&net),
        "web.emojivoto.serviceaccount.identity.mesh.cluster.local"
    );

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
    // A pod that names no service account runs as `default`.
    assert_eq!(
        tls_id(&net),
        "default.data.serviceaccount.identity.mesh.cluster.local"
    );
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
