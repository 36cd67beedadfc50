//! Errors a gRPC caller meets through the mesh are gRPC statuses, with the code the same client
//! gets calling the app directly, and the proxy's explanation (`mesh-proxy-error`) in
//! `grpc-message`: trailers-only when no response has started, trailers ending the body when the
//! app dies mid-stream.

use crate::grpc_mesh::{call, closed_port, grpc_server, Mesh, Seen, Via};
use crate::net::metric;

/// The proxy's explanation reached the client in `grpc-message` and `mesh-proxy-error`.
fn explained(seen: &Seen, text: &str) {
    assert!(seen.details.contains(text), "{seen:?}");
    assert_eq!(
        seen.trailing.get("mesh-proxy-error"),
        Some(&seen.details),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_killed_mid_stream_is_unavailable_through_the_mesh_as_directly() {
    let Some(app) = grpc_server(&[]).await else {
        return;
    };
    let pid = app.pid().to_string();
    let direct = call(Via::Direct(app.addr), &["stream", "--kill-pid", &pid]).await;
    assert_eq!((direct.code.as_str(), direct.messages), ("UNAVAILABLE", 1));

    let app = grpc_server(&[]).await.unwrap();
    let mesh = Mesh::start(app.addr, None).await;
    let pid = app.pid().to_string();
    let meshed = call(mesh.via(), &["stream", "--kill-pid", &pid]).await;
    assert_eq!(
        (meshed.code.as_str(), meshed.messages),
        (direct.code.as_str(), 1),
        "{meshed:?}"
    );
    explained(
        &meshed,
        &format!("the app at {} broke off the response", app.addr),
    );
    // The inbound counted the call as what it told the caller, before telling it.
    let text = mesh.voting.metrics().await;
    let unavailable = [("grpc_status", "14"), ("classification", "failure")];
    assert_eq!(metric(&text, "response_total", &unavailable), 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_app_is_unavailable_through_the_mesh_as_directly() {
    if grpc_server(&[]).await.is_none() {
        return;
    }
    let nobody = closed_port().await;
    let direct = call(Via::Direct(nobody), &["unary", "Echo"]).await;
    assert_eq!(direct.code, "UNAVAILABLE", "{direct:?}");

    let mesh = Mesh::start(nobody, None).await;
    let meshed = call(mesh.via(), &["unary", "Echo"]).await;
    assert_eq!(meshed.code, direct.code, "{meshed:?}");
    explained(&meshed, "refused the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoints_is_unavailable_as_a_closed_port_is_directly() {
    let Some(app) = grpc_server(&[]).await else {
        return;
    };
    let direct = call(Via::Direct(closed_port().await), &["unary", "Echo"]).await;
    let mesh = Mesh::start(app.addr, None).await;
    let meshed = crate::grpc_mesh::client_json(
        Via::Direct(mesh.web.outbound),
        &["--authority", "nothere-svc:8080", "unary", "Echo"],
    )
    .await;
    let meshed: Seen = serde_json::from_value(meshed).unwrap();
    assert_eq!(meshed.code, direct.code, "{meshed:?}");
    explained(&meshed, "no endpoints for \"nothere-svc:8080\"");
}

/// The profile of `voting-svc` with a 300 ms timeout on the method that never answers.
const HOLD_TIMEOUT_PROFILE: &str = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: voting-svc.emojivoto.svc.cluster.local\n  namespace: emojivoto\nspec:\n  routes:\n  - name: Hold\n    condition: {method: POST, pathRegex: /mesh\\.Test/Hold}\n    timeout: 300ms\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_deadline_exceeded_through_the_mesh_as_directly() {
    let Some(app) = grpc_server(&[]).await else {
        return;
    };
    let with_deadline = ["unary", "Hold", "--timeout", "0.3"];
    let direct = call(Via::Direct(app.addr), &with_deadline).await;
    assert_eq!(direct.code, "DEADLINE_EXCEEDED", "{direct:?}");
    let mesh = Mesh::start(app.addr, Some(HOLD_TIMEOUT_PROFILE)).await;
    let meshed = call(mesh.via(), &with_deadline).await;
    assert_eq!(meshed.code, direct.code, "{meshed:?}");

    // The route's timeout, the proxy's own deadline, is the same to the client.
    let timed_out = call(mesh.via(), &["unary", "Hold"]).await;
    assert_eq!(timed_out.code, direct.code, "{timed_out:?}");
    explained(&timed_out, "route \"Hold\" timed out after 300ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_metadata_is_resource_exhausted_through_the_mesh_as_directly() {
    let Some(app) = grpc_server(&[]).await else {
        return;
    };
    // 70 KiB: over the app's limit (16 KiB) and over the proxy's (64 KiB).
    let large = ["unary", "Echo", "--metadata-bytes", "71680"];
    let direct = call(Via::Direct(app.addr), &large).await;
    assert_eq!(direct.code, "RESOURCE_EXHAUSTED", "{direct:?}");
    let mesh = Mesh::start(app.addr, None).await;
    let meshed = call(mesh.via(), &large).await;
    assert_eq!(meshed.code, direct.code, "{meshed:?}");
    explained(&meshed, "over this proxy's limit of 65536 bytes");
}
