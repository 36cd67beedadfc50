//! Real-world OpenAPI documents (Linkerd's demos and tests, several incomplete) all generate.

use crate::harness::{run, shared_reference};

#[test]
fn real_world_openapi_documents_generate_valid_profiles() {
    let Some(dir) = shared_reference("openapi") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let out_dir = tempfile::tempdir().unwrap();
    for file in &files {
        let r = run(&[
            "profile",
            "--open-api",
            file.to_str().unwrap(),
            "svc",
            "-n",
            "ns",
        ]);
        assert_eq!(r.code, 0, "{}: {}", file.display(), r.stderr);
        assert!(
            r.stdout.contains("  routes:\n"),
            "{} has routes",
            file.display()
        );
        let out = out_dir.path().join(file.file_name().unwrap());
        std::fs::write(&out, &r.stdout).unwrap();
        let check = run(&["profile", "check", out.to_str().unwrap()]);
        assert_eq!(check.code, 0, "{}: {}", file.display(), check.stderr);
    }
}

#[test]
fn linkerds_emojivoto_document_gives_linkerds_profile() {
    let Some(dir) = shared_reference("openapi") else {
        return;
    };
    let file = dir.join("emojivoto-web.swagger");
    let r = run(&[
        "profile",
        "--open-api",
        file.to_str().unwrap(),
        "web-svc",
        "-n",
        "emojivoto",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: web-svc.emojivoto.svc.cluster.local\n  \
         namespace: emojivoto\nspec:\n  routes:\n  - condition:\n      method: GET\n      pathRegex: /api/list\n    \
         name: GET /api/list\n  - condition:\n      method: GET\n      pathRegex: /api/vote\n    name: GET /api/vote\n"
    );
}
