//! Tap events say which ServiceProfile route the proxy matched — `rt_route=…` in `mesh tap`'s text,
//! after every source and destination label in `-o wide`, `routeMeta` in JSON — and `mesh tap -o
//! json` prints `linkerd viz tap -o json`'s event shape: `{seconds, nanos}` durations,
//! `grpcStatusCode`, response headers and trailers, Linkerd's workload labels in `metadata`.
//! Where `../shared/reference/viz` holds Linkerd's goldens, the events are compared with them
//! field by field, and Linkerd's own events read and print through mesh exactly as Linkerd prints
//! them.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::admin_api::tap::{TapEvent, TapEventKind, TapQuery};
use mesh::viz::tap::{render_text, render_wide, TapStream};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use crate::harness::shared_reference;
use crate::net::{config, grpc_upstream, voting_and_web, TestProxy, VotingAndWeb, PATIENCE};
use crate::tap::next_event;

/// Sends `GET path` to voting-svc through `outbound` with the header `x-note: hi`.
async fn get(outbound: SocketAddr, path: &str) {
    let req = Request::builder()
        .uri(format!("http://voting-svc:8080{path}"))
        .header("x-note", "hi")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let reply = mesh::testsvc::http1_request(outbound, req).await.unwrap();
    assert_eq!(reply.head.status, 200);
}

/// A running `mesh tap deploy/web -n emojivoto` of the registry, read line by line.
struct MeshTap {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl MeshTap {
    /// Starts it with `extra` flags; returns once it says it is tapping.
    async fn start(registry: &Path, extra: &[&str]) -> MeshTap {
        let registry = registry.to_str().unwrap();
        let mut args = vec![
            "tap",
            "deploy/web",
            "-n",
            "emojivoto",
            "--registry",
            registry,
        ];
        args.extend_from_slice(extra);
        let mut child = crate::tap::mesh_process(&args).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = tokio::time::timeout(PATIENCE, stderr.next_line())
            .await
            .expect("mesh tap says it is tapping")
            .unwrap()
            .unwrap_or_default();
        assert_eq!(first, "tapping 1 proxy: deploy/web (emojivoto)");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        MeshTap { child, stdout }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.stdout.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("mesh tap keeps running")
    }

    /// The next `n` lines.
    async fn lines(&mut self, n: usize) -> Vec<String> {
        let mut lines = Vec::new();
        while lines.len() < n {
            lines.push(self.line().await);
        }
        lines
    }

    /// The next pretty-printed JSON event, as printed.
    async fn json_text(&mut self) -> String {
        let mut text = String::new();
        loop {
            let line = self.line().await;
            text.push_str(&line);
            text.push('\n');
            if line == "}" {
                return text;
            }
        }
    }

    /// Stops it as Ctrl-C would; it exits 0.
    async fn stop(mut self) {
        crate::harness::terminate(self.child.id().unwrap());
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("mesh tap exits on SIGTERM")
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }
}

const WEB: &str = "src_deployment=web src_namespace=emojivoto src_pod=web-0 src_tls=no_identity";
const VOTING: &str =
    "dst_deployment=voting dst_namespace=emojivoto dst_pod=voting-0 dst_tls=no_identity";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_text_and_wide_name_the_route_each_request_matched() {
    let dir = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        web,
        voting: _voting,
        app: _app,
    } = voting_and_web(dir.path()).await;

    let mut text = MeshTap::start(&registry, &[]).await;
    let mut wide = MeshTap::start(&registry, &["-o", "wide"]).await;
    for (path, route) in [("/api/list", "GET /api/list"), ("/api/nope", "[DEFAULT]")] {
        get(web.outbound, path).await;
        let rt = format!(" rt_route={route}");
        let lines = text.lines(3).await;
        assert!(
            lines[0].starts_with("req ") && lines[0].ends_with(&format!(" :path={path}{rt}")),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("rsp ") && lines[1].ends_with(&rt),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("end ") && lines[2].ends_with(&rt),
            "{lines:?}"
        );
        // Linkerd's wide: the line, the source's labels, the destination's, the route's.
        let lines = wide.lines(3).await;
        let labels = format!(" {WEB} {VOTING}{rt}");
        assert!(
            lines[0].ends_with(&format!(" :path={path}{labels}")),
            "{lines:?}"
        );
        assert!(lines[1].contains(" :status=200 latency="), "{lines:?}");
        for line in &lines {
            assert!(line.ends_with(&labels), "{line}");
        }
    }
    text.stop().await;
    wide.stop().await;
}

/// The keys of the top-level object of a pretty-printed JSON text, in their order.
fn top_level_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("  \""))
        .filter_map(|l| l.split_once('"').map(|(k, _)| k.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_json_has_linkerds_event_shape_with_the_route() {
    let dir = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        web,
        voting: _voting,
        app: _app,
    } = voting_and_web(dir.path()).await;
    let mut tap = MeshTap::start(&registry, &["-o", "json"]).await;
    let mut events = Vec::new();
    for (path, route) in [("/api/list", "GET /api/list"), ("/api/nope", "[DEFAULT]")] {
        get(web.outbound, path).await;
        for kind in ["requestInitEvent", "responseInitEvent", "responseEndEvent"] {
            let text = tap.json_text().await;
            assert_eq!(
                top_level_keys(&text),
                ["source", "destination", "routeMeta", "proxyDirection", kind],
                "{text}"
            );
            let event: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(event["routeMeta"], json!({ "route": route }), "{text}");
            events.push((kind, event));
        }
    }
    tap.stop().await;

    let labels = |workload: &str| {
        json!({"deployment": workload, "namespace": "emojivoto", "pod": format!("{workload}-0"),
               "tls": "no_identity"})
    };
    for (kind, event) in &events {
        assert_eq!(event["source"]["metadata"], labels("web"), "{event}");
        assert_eq!(
            event["destination"]["metadata"],
            labels("voting"),
            "{event}"
        );
        assert_eq!(event["proxyDirection"], "OUTBOUND");
        let e = &event[*kind];
        for since in ["sinceRequestInit", "sinceResponseInit"] {
            if let Some(d) = e.get(since) {
                let d = d.as_object().unwrap();
                assert!(
                    d.iter()
                        .all(|(k, v)| ["seconds", "nanos"].contains(&k.as_str()) && v.is_i64()),
                    "{since}: {d:?}"
                );
            }
        }
    }
    // `-o json` asks for headers, as Linkerd's does: the request's, the response's.
    let (_, req) = &events[0];
    let headers = req["requestInitEvent"]["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!({"name": "x-note", "valueStr": "hi"})),
        "{req}"
    );
    let (_, rsp) = &events[1];
    assert!(!rsp["responseInitEvent"]["headers"]
        .as_array()
        .unwrap()
        .is_empty());
    let (_, end) = &events[2];
    let end = &end["responseEndEvent"];
    assert_eq!(end["grpcStatusCode"], 0);
    assert_eq!(end["trailers"], Value::Null, "HTTP/1 has no trailers");
    assert!(end.get("grpcStatus").is_none(), "not gRPC: {end}");

    // Field by field against Linkerd's events.
    let Some(viz) = shared_reference("viz") else {
        eprintln!("skipped: comparing with Linkerd's tap_busy_output_json.golden");
        return;
    };
    let golden = std::fs::read_to_string(viz.join("tap_busy_output_json.golden")).unwrap();
    let golden: Vec<Value> = serde_json::Deserializer::from_str(&golden)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let golden_of = |kind: &str| golden.iter().find(|e| e.get(kind).is_some());
    let mut diffs = Vec::new();
    for (kind, event) in &events {
        match golden_of(kind) {
            Some(g) => same_shape(g, event, kind, &mut diffs),
            // Linkerd's goldens have no response init: its display type's fields
            // (`responseInitEvent` in viz/cmd/tap.go).
            None => {
                let mut keys: Vec<&str> = event[*kind]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                keys.sort();
                assert_eq!(keys, ["headers", "httpStatus", "id", "sinceRequestInit"]);
            }
        }
    }
    assert!(diffs.is_empty(), "{diffs:#?}");
}

/// mesh's additions to Linkerd's event fields (docs/tap.md), absent from its events.
const ADDITIONS: [&str; 4] = ["proxyError", "grpcStatus", "reset", "error"];

/// Records in `diffs` where `mine` is not shaped as Linkerd's `golden` (at `path`): a field it
/// lacks, a field it adds beyond [`ADDITIONS`], or a value of another JSON type. Label maps
/// (`metadata`, `routeMeta`) may be `null` or hold any labels; durations hold `seconds` and/or
/// `nanos`; header lists are `null` or `[{name, valueStr | valueBin}]`.
fn same_shape(golden: &Value, mine: &Value, path: &str, diffs: &mut Vec<String>) {
    let key = path.rsplit('.').next().unwrap_or(path);
    let mut differs = |why: String| diffs.push(format!("{path}: {why}"));
    match key {
        "metadata" | "routeMeta" => {
            let labels = mine.as_object().map(|m| m.values().all(Value::is_string));
            if !(mine.is_null() || labels == Some(true)) {
                differs(format!("not a label map: {mine}"));
            }
        }
        "sinceRequestInit" | "sinceResponseInit" => {
            let parts = mine.as_object().map(|d| {
                d.iter()
                    .all(|(k, v)| (k == "seconds" || k == "nanos") && v.is_i64())
            });
            if parts != Some(true) {
                differs(format!("not {{seconds, nanos}}: {mine}"));
            }
        }
        "headers" | "trailers" => {
            let header = |h: &Value| {
                let h = h.as_object()?;
                let value = h.get("valueStr").or(h.get("valueBin"))?;
                (h.len() == 2 && h.get("name")?.is_string() && value.is_string()).then_some(())
            };
            let list = mine
                .as_array()
                .map(|l| l.iter().all(|h| header(h).is_some()));
            if !(mine.is_null() || list == Some(true)) {
                differs(format!("not a header list: {mine}"));
            }
        }
        _ => match (golden, mine) {
            (Value::Object(g), Value::Object(m)) => {
                for (k, gv) in g {
                    match m.get(k) {
                        Some(mv) => same_shape(gv, mv, &format!("{path}.{k}"), diffs),
                        None => diffs.push(format!("{path}.{k}: missing")),
                    }
                }
                for k in m.keys().filter(|k| !g.contains_key(*k)) {
                    if !ADDITIONS.contains(&k.as_str()) {
                        diffs.push(format!("{path}.{k}: not in Linkerd's event"));
                    }
                }
            }
            (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Null, Value::Null) => {}
            _ => differs(format!("{golden} in Linkerd's, {mine} here")),
        },
    }
}

#[test]
fn linkerds_tap_events_read_and_print_as_linkerd_prints_them() {
    let Some(viz) = shared_reference("viz") else {
        return;
    };
    let read = |name: &str| std::fs::read_to_string(viz.join(name)).unwrap();
    let golden_json = read("tap_busy_output_json.golden");
    let mut events: Vec<TapEvent> = Vec::new();
    let mut printed = String::new();
    for event in serde_json::Deserializer::from_str(&golden_json).into_iter::<TapEvent>() {
        let event = event.expect("Linkerd's tap JSON reads as mesh's events");
        printed.push_str(&serde_json::to_string_pretty(&event).unwrap());
        printed.push('\n');
        events.push(event);
    }
    assert_eq!(events.len(), 2);
    assert_eq!(printed, golden_json, "printed back byte for byte");

    let lines = |render: fn(&TapEvent) -> String| {
        events.iter().map(|e| render(e) + "\n").collect::<String>()
    };
    assert_eq!(lines(render_text), read("tap_busy_output.golden"));
    assert_eq!(lines(render_wide), read("tap_busy_output_wide.golden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_status_and_trailers_are_tapped() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let app = grpc_upstream().await;
    let emoji = config(&registry, "emoji", &["emoji-svc:8080"], Some(app.addr));
    let _emoji = TestProxy::start(emoji).await;
    let web = TestProxy::start(config(&registry, "web", &[], None)).await;
    let query = TapQuery::parse(Some("headers=true")).unwrap();
    let mut stream = TapStream::open(web.admin, &query).await.unwrap();
    let path = "/emojivoto.v1.EmojiService/FindByShortcode";
    let unavailable = [("x-test-grpc-status", "14")];
    for (metadata, code, name) in [(&[][..], 0, "OK"), (&unavailable[..], 14, "Unavailable")] {
        mesh::testsvc::grpc_call(web.outbound, "emoji-svc:8080", path, b"x", metadata)
            .await
            .unwrap();
        let req = next_event(&mut stream).await;
        // emoji-svc has no profile: every request is `[DEFAULT]`.
        assert_eq!(req.route(), Some("[DEFAULT]"));
        let rsp = next_event(&mut stream).await;
        let TapEventKind::ResponseInitEvent(init) = &rsp.kind else {
            panic!("a response init: {rsp:?}")
        };
        assert!(init.headers.iter().any(|h| h.name == "content-type"));
        let end = next_event(&mut stream).await;
        let TapEventKind::ResponseEndEvent(e) = &end.kind else {
            panic!("a response end: {end:?}")
        };
        // Linkerd's code, and mesh's `grpcStatus` that tells OK from none.
        assert_eq!((e.grpc_status_code, e.grpc_status), (code, Some(code)));
        let status = code.to_string();
        assert!(
            e.trailers
                .iter()
                .any(|h| h.name == "grpc-status" && h.value_str() == Some(&status)),
            "{e:?}"
        );
        let text = render_text(&end);
        assert!(text.contains(&format!(" grpc-status={name} ")), "{text}");
    }
}
