//! The entry points of the fuzz targets in `fuzz/` and of the regression tests that replay their
//! findings (`tests/it/fuzz_regressions.rs`): one function per target, taking the raw input.
//!
//! Each runs the code mesh runs on input it does not control — documents and profiles from files,
//! first bytes of connections, `/stats` and `/tap` answers from proxies — and then checks what must
//! hold whatever the input (a generated profile reads back and compiles, a matcher agrees with its
//! regexes, detection does not change its mind). Bad input must give an error, never a panic: a
//! panic here is a bug. See `docs/fuzzing.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::admin_api::tap::{TapEventKind, TapLine};
use crate::identity::Identity;
use crate::profile::check::{check_profile, check_profiles, DocumentReport};
use crate::profile::matcher::RouteMatcher;
use crate::profile::model::ServiceProfile;
use crate::profile::render::{render, Format};
use crate::profile::ProfileTarget;
use crate::proxy::detect::{classify, Protocol, DETECT_BYTES};
use crate::viz::model::{edges, route_rows, service_of, stat_rows, Query};
use crate::viz::resource::{parse_one, Resource};
use crate::viz::source::{decode_stats, identity_of, ProxyStats};
use crate::viz::tap::source::LineDecoder;
use crate::viz::{print, tap};

mod matcher;
pub use matcher::matcher;

/// What a fuzz target runs on one input.
pub type Entry = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and `fuzz/regressions/<name>/`.
pub const TARGETS: [(&str, Entry); 7] = [
    ("openapi", openapi),
    ("proto", proto),
    ("profile", profile),
    ("matcher", matcher),
    ("detect", detect),
    ("stats", stats),
    ("tap", tap_stream),
];

fn target() -> ProfileTarget {
    ProfileTarget {
        service: "fuzz".into(),
        namespace: "ns".into(),
        cluster_domain: "cluster.local".into(),
    }
}

/// `mesh profile --open-api`: a document (JSON or YAML) to a profile.
pub fn openapi(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::profile::openapi::profile_from_openapi(&text, &target()) {
        Ok(generated) => generated_profile_is_usable(&generated.profile),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// `mesh profile --proto`: a `.proto` file to a profile, through a scratch file of this process.
pub fn proto(data: &[u8]) {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mesh-fuzz-proto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory for the fuzzed .proto");
        dir
    });
    proto_in(dir, data);
}

/// [`proto`] with the input written to `dir/input.proto` (tests running in parallel give each
/// call its own directory).
pub fn proto_in(dir: &Path, data: &[u8]) {
    let file = dir.join("input.proto");
    std::fs::write(&file, data).expect("writing the fuzzed .proto");
    let qualified = data.first().is_some_and(|b| b & 1 == 1);
    match crate::profile::proto::profile_from_protos(&[file], &[], &target(), qualified) {
        Ok(generated) => generated_profile_is_usable(&generated.profile),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// `mesh profile check`, and the proxy's loader of `--profiles` files on a file's text
/// (`proxy::profiles::load_text`): decode every document, validate, compile the routes and the
/// retry budget.
pub fn profile(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for report in check_profiles(&text) {
        for e in report.errors.iter().chain(&report.warnings) {
            assert!(!e.to_string().is_empty());
        }
    }
    // What decodes and passes the check always compiles.
    for decoded in crate::profile::decode::decode_profiles(&text) {
        let Ok(profile) = decoded.profile else {
            continue;
        };
        let mut report = DocumentReport::default();
        check_profile(&profile, &mut report);
        if report.errors.is_empty() {
            RouteMatcher::compile(&profile).expect("a profile that passes the check compiles");
        }
    }
    // The proxy's loader, and its matcher on a request and two statuses.
    if let Ok(loaded) = crate::proxy::profiles::load_text(&text) {
        for service in loaded {
            for route in service.matcher.routes() {
                route.classify(200);
                route.classify(503);
            }
            service.matcher.route_for("GET", "/");
        }
    }
}

/// Protocol detection: the decision on the first bytes never changes as more arrive, and the async
/// `detect` over an in-memory connection decides the same and replays every byte it read.
pub fn detect(data: &[u8]) {
    let first = &data[..data.len().min(DETECT_BYTES)];
    let mut decided = None;
    for n in 0..=first.len() {
        let now = classify(&first[..n]);
        match decided {
            Some(before) => assert_eq!(now, Some(before), "after {n} bytes"),
            None => decided = now,
        }
    }
    let expected = decided.unwrap_or(Protocol::Opaque);
    // Small writes, so the detector sees the bytes arrive in pieces.
    let piece = 1 + usize::from(data.first().copied().unwrap_or(0) % 8);
    runtime().block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client, server) = tokio::io::duplex(piece);
        let input = data.to_vec();
        let writer = tokio::spawn(async move {
            for chunk in input.chunks(piece) {
                if client.write_all(chunk).await.is_err() {
                    return;
                }
            }
        });
        let (protocol, mut io) = crate::proxy::detect::detect(server, Duration::from_secs(5))
            .await
            .expect("an in-memory connection does not fail");
        assert_eq!(protocol, expected);
        let mut replayed = Vec::new();
        io.read_to_end(&mut replayed)
            .await
            .expect("an in-memory connection does not fail");
        assert_eq!(replayed, data, "every byte is passed on");
        writer.await.expect("the writer does not panic");
    });
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

/// A `/stats` answer as `mesh stat`, `mesh routes` and `mesh edges` read it: decoded, summed into
/// the Stats model by several queries, and printed as tables and JSON.
pub fn stats(data: &[u8]) {
    let Ok(report) = decode_stats(data) else {
        return;
    };
    let admin: SocketAddr = ([127, 0, 0, 1], 4191).into();
    let own = identity_of(&report);
    let registered: Identity = Identity {
        namespace: "emojivoto".into(),
        workload: "deploy/web".parse().expect("a valid workload"),
        pod: "web-0".into(),
    };
    let services: Vec<String> = report
        .http
        .iter()
        .map(|h| service_of(&h.authority))
        .take(4)
        .collect();
    let proxies = [
        ProxyStats {
            admin,
            identity: own.clone(),
            services: services.clone(),
            stats: Ok(report.clone()),
        },
        ProxyStats {
            admin,
            identity: registered.clone(),
            services: services.clone(),
            stats: Ok(report),
        },
        ProxyStats {
            admin,
            identity: registered,
            services: Vec::new(),
            stats: Err(crate::viz::source::StatsError::Timeout(
                crate::viz::source::PROXY_TIMEOUT,
            )),
        },
    ];
    let all: Vec<Resource> = ["ns", "deploy", "po", "sts", "svc"]
        .iter()
        .map(|k| parse_one(k).expect("a kind"))
        .collect();
    let named = |kind: &str, name: &str| parse_one(&format!("{kind}/{name}")).ok();
    let service = services.first().and_then(|s| named("svc", s));
    let workload = named(own.workload.kind.short(), &own.workload.name);
    let queries = [
        (None, None, None),
        (Some(own.namespace.clone()), workload.clone(), None),
        (Some(own.namespace.clone()), None, workload),
        (None, None, service),
    ];
    for (namespace, from, to) in queries {
        let query = Query {
            resources: all.clone(),
            namespace,
            from,
            to,
        };
        let rows = stat_rows(&query, &proxies);
        for wide in [false, true] {
            print::stat_table(&rows, wide, wide);
        }
        print::stat_json(&rows);
        let routes = route_rows(&query, &proxies);
        for wide in [false, true] {
            print::routes_table(&routes, wide);
            print::routes_json(&routes, wide);
        }
        let found = edges(&query, &proxies);
        print::edges_table(&found, false);
        print::edges_json(&found);
    }
}

/// A `/tap` body as `mesh tap` and `mesh profile --tap` read it: split into lines whatever the
/// chunking, decoded, printed as text and JSON, and the requests' paths made into a profile.
/// The first byte chooses the chunk size.
pub fn tap_stream(data: &[u8]) {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let piece = 1 + usize::from(first);
    let whole = decode_lines(body, body.len().max(1));
    assert_eq!(
        whole,
        decode_lines(body, piece),
        "lines do not depend on chunking"
    );
    let mut requests = Vec::new();
    for line in whole.iter().filter_map(|l| l.as_ref().ok()) {
        let TapLine::Event(event) = line else {
            continue;
        };
        assert!(!tap::render_text(event).is_empty());
        let json = serde_json::to_string(line).expect("a tap line serializes");
        let back: TapLine = serde_json::from_str(&json).expect("a tap line reads back");
        assert_eq!(&back, line, "{json}");
        serde_json::to_string_pretty(event).expect("a tap event serializes");
        if let TapEventKind::RequestInitEvent(r) = &event.kind {
            requests.push((r.method.as_str(), r.path.as_str()));
        }
    }
    for collapse in [false, true] {
        let generated = crate::profile::observed::profile_from_requests(
            requests.iter().copied(),
            &target(),
            50,
            collapse,
        );
        generated_profile_is_usable(&generated.profile);
    }
}

/// Every line of `body` pushed `piece` bytes at a time, until the first error.
fn decode_lines(body: &[u8], piece: usize) -> Vec<Result<TapLine, String>> {
    let mut decoder = LineDecoder::default();
    let mut out = Vec::new();
    for chunk in body.chunks(piece) {
        decoder.push(chunk);
        loop {
            match decoder.next_line() {
                Ok(Some(line)) => out.push(Ok(line)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }
    out
}

/// A profile mesh generated reads back from its YAML (through the decoder of `mesh profile check`
/// and the proxy) and JSON unchanged, and the proxy can compile it.
fn generated_profile_is_usable(profile: &ServiceProfile) {
    let yaml = render(profile, Format::Yaml);
    let mut decoded = crate::profile::decode::decode_profiles(&yaml);
    assert_eq!(decoded.len(), 1, "one profile in\n{yaml}");
    let back = decoded
        .remove(0)
        .profile
        .unwrap_or_else(|e| panic!("generated YAML does not read back: {e:?}\n{yaml}"));
    assert_eq!(&back, profile, "YAML round trip\n{yaml}");
    let json = render(profile, Format::Json);
    let back: ServiceProfile = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("generated JSON does not read back: {e}\n{json}"));
    assert_eq!(&back, profile, "JSON round trip\n{json}");
    if let Err(e) = RouteMatcher::compile(profile) {
        panic!("a generated profile does not compile: {e}\n{yaml}");
    }
}
