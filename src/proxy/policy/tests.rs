//! The explicit-mode column of DESIGN.md's "Forwarding policy" table, row by row.

use std::sync::Arc;

use super::*;
use crate::identity::Identity;

/// Inbound on `0.0.0.0:4143`, outbound `127.0.0.1:4140`, admin `127.0.0.1:4191`; opaque ports
/// 2888 and 3306; `allow` as given.
fn policy(allow: &[&str]) -> Policy {
    Policy {
        mode: Mode::Explicit,
        own: OwnListeners {
            inbound: Some("0.0.0.0:4143".parse().unwrap()),
            outbound: Some("127.0.0.1:4140".parse().unwrap()),
            admin: Some("127.0.0.1:4191".parse().unwrap()),
        },
        allow: AllowList(allow.iter().map(|r| r.parse().unwrap()).collect()),
        opaque_ports: vec![2888, 3306],
    }
}

fn endpoint(addr: &str) -> Endpoint {
    Endpoint {
        addr: addr.parse().unwrap(),
        identity: Some(Arc::new(Identity {
            namespace: "emojivoto".into(),
            workload: "deploy/voting".parse().unwrap(),
            pod: "voting-0".into(),
        })),
        tls: None,
    }
}

/// What the caller sends in one row.
enum Ask {
    /// A service on `port` with endpoints at these addresses (none: unknown).
    Service(u16, &'static [&'static str]),
    /// An address the caller wrote; `true` when discovery knows it.
    Address(&'static str, bool),
}

use Ask::{Address, Service};

/// One row: what it shows, the allow rules, the request, the answer.
type Row = (
    &'static str,
    &'static [&'static str],
    Ask,
    Result<(), Refusal>,
);

const OK: Result<(), Refusal> = Ok(());
const LOOP: Result<(), Refusal> = Err(Refusal::Loop(LoopSign::OwnListener));
const LOCAL: Result<(), Refusal> = Err(Refusal::LocalAddress);
const UNKNOWN_ADDRESS: Result<(), Refusal> = Err(Refusal::UnknownAddress);

fn decide(p: &Policy, ask: &Ask, tunnel: bool, marked: bool) -> Result<(), Refusal> {
    match ask {
        Service(port, addrs) => {
            let endpoints: Vec<Endpoint> = addrs.iter().map(|a| endpoint(a)).collect();
            let named = Named::Service {
                port: *port,
                endpoints: &endpoints,
            };
            p.decide(named, tunnel, marked)
        }
        Address(addr, known) => {
            let named = Named::Address {
                addr: addr.parse().unwrap(),
                known: *known,
            };
            p.decide(named, tunnel, marked)
        }
    }
}

#[test]
fn http_requests_follow_the_explicit_mode_column() {
    #[rustfmt::skip]
    let rows: &[Row] = &[
        // HTTP, authority is a known service: its endpoints, loopback ones included (one machine).
        ("known service", &[], Service(8080, &["10.0.0.7:4143"]), OK),
        ("endpoint discovered on loopback", &[], Service(8080, &["127.0.0.1:5143"]), OK),
        ("an app calling its own service", &[], Service(8080, &["127.0.0.1:4143"]), OK),
        ("unknown service", &[], Service(8080, &[]), Err(Refusal::UnknownService)),
        // A discovered endpoint that is this proxy's outbound or admin port would loop.
        ("endpoint is own outbound", &[], Service(8080, &["10.0.0.7:4143", "127.0.0.1:4140"]), LOOP),
        ("endpoint is own admin", &[], Service(8080, &["[::ffff:127.0.0.1]:4191"]), LOOP),
        // Addresses the caller wrote.
        ("known endpoint address", &[], Address("10.0.0.7:4143", true), OK),
        ("unknown address", &[], Address("10.0.0.7:8080", false), UNKNOWN_ADDRESS),
        ("unknown address, allowed network", &["10.0.0.0/8"], Address("10.0.0.7:8080", false), OK),
        ("unknown address, other port", &["10.0.0.0/8:9090"], Address("10.0.0.7:8080", false), UNKNOWN_ADDRESS),
        ("unknown address, allowed range", &["10.0.0.7:8000-8099"], Address("10.0.0.7:8080", false), OK),
        ("unknown IPv6 address, allowed", &["[fd00::/8]:443"], Address("[fd00::1]:443", false), OK),
        // Loopback, link-local and unspecified addresses the caller wrote: refused.
        ("ssh on loopback", &[], Address("127.0.0.1:22", false), LOCAL),
        ("another loopback address", &[], Address("127.0.0.2:8080", false), LOCAL),
        ("a known endpoint, typed on loopback", &[], Address("127.0.0.1:5143", true), LOCAL),
        ("cloud metadata", &[], Address("169.254.169.254:80", false), LOCAL),
        ("IPv6 loopback", &[], Address("[::1]:8080", false), LOCAL),
        ("IPv6 link-local", &[], Address("[fe80::1]:80", false), LOCAL),
        ("unspecified", &[], Address("0.0.0.0:8080", false), LOCAL),
        ("IPv4-mapped loopback", &[], Address("[::ffff:127.0.0.1]:8080", false), LOCAL),
        ("a broad rule does not open this host", &["0.0.0.0/0"], Address("127.0.0.1:8080", false), LOCAL),
        ("a broad IPv6 rule neither", &["::/0"], Address("[::1]:8080", false), LOCAL),
        ("a loopback rule opens its port", &["127.0.0.1/32:8080"], Address("127.0.0.1:8080", false), OK),
        ("... only its port", &["127.0.0.1/32:8080"], Address("127.0.0.1:8081", false), LOCAL),
        ("a link-local rule", &["169.254.169.254"], Address("169.254.169.254:80", false), OK),
        ("unspecified is never opened", &["127.0.0.0/8"], Address("0.0.0.0:8080", false), LOCAL),
        // This proxy's own listeners: a loop, whatever the allow list says.
        ("own outbound", &[], Address("127.0.0.1:4140", false), LOOP),
        ("own outbound through 0.0.0.0", &[], Address("0.0.0.0:4140", false), LOOP),
        ("own admin, allowed", &["127.0.0.0/8"], Address("127.0.0.1:4191", false), LOOP),
        ("own inbound on 0.0.0.0, reached on loopback", &[], Address("127.0.0.1:4143", false), LOOP),
        ("own inbound through IPv6 loopback", &[], Address("[::1]:4143", true), LOOP),
        ("another host's port 4143", &[], Address("10.0.0.7:4143", true), OK),
    ];
    for (what, allow, ask, expected) in rows {
        let p = policy(allow);
        assert_eq!(decide(&p, ask, false, false), *expected, "{what}");
        // Whatever the row, a request carrying this proxy's hop marker has come back: a loop.
        assert_eq!(
            decide(&p, ask, false, true),
            Err(Refusal::Loop(LoopSign::HopMarker)),
            "{what}, marked"
        );
    }
}

#[test]
fn connect_opens_tunnels_only_to_opaque_ports_of_known_destinations() {
    let not_opaque = Err(Refusal::TunnelNotOpaque);
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("opaque port of a known service", &[], Service(2888, &["127.0.0.1:5143"]), OK),
        ("HTTP port of a known service", &[], Service(8080, &["127.0.0.1:5143"]), not_opaque),
        ("unknown service", &[], Service(2888, &[]), Err(Refusal::UnknownService)),
        ("opaque port of a known address", &[], Address("10.0.0.7:3306", true), OK),
        ("opaque port of an allowed address", &["10.0.0.0/8"], Address("10.0.0.8:3306", false), OK),
        ("HTTP port of an allowed address", &["10.0.0.0/8"], Address("10.0.0.8:8080", false), not_opaque),
        ("opaque port on loopback", &[], Address("127.0.0.1:2888", false), LOCAL),
        ("own admin", &[], Address("127.0.0.1:4191", false), LOOP),
    ];
    for (what, allow, ask, expected) in rows {
        assert_eq!(
            decide(&policy(allow), ask, true, false),
            *expected,
            "{what}"
        );
    }
}

#[test]
fn allow_rules_parse_and_print() {
    let ok = |s: &str, shown: &str| {
        let rule: AllowRule = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(rule.to_string(), shown, "{s}");
        assert_eq!(rule.to_string().parse::<AllowRule>().unwrap(), rule, "{s}");
    };
    ok("10.0.0.0/8", "10.0.0.0/8");
    ok("10.0.0.0/8:80", "10.0.0.0/8:80");
    ok("10.1.2.3", "10.1.2.3/32");
    ok("10.1.2.3:5432", "10.1.2.3/32:5432");
    ok("127.0.0.1/32:8000-8099", "127.0.0.1/32:8000-8099");
    ok("fd00::/8", "fd00::/8");
    ok("fd00::/8:443", "[fd00::/8]:443");
    ok("[fd00::/8]:443", "[fd00::/8]:443");
    ok("[::1]:8080", "[::1/128]:8080");
    ok("::1", "::1/128");

    let err = |s: &str, says: &str| {
        let e = s.parse::<AllowRule>().unwrap_err().to_string();
        assert!(e.contains(says), "{s}: {e}");
        assert!(e.contains("expected CIDR[:PORT[-PORT]]"), "{s}: {e}");
    };
    err("10.0.0.1/8", "the network is 10.0.0.0/8");
    err("10.0.0.0/33", "prefix length");
    err("web-svc:8080", "not an IP address");
    err("10.0.0.0/8:0", "not a number from 1 to 65535");
    err("10.0.0.0/8:90-80", "empty");
    err("[::1", "without its ']'");
    err("", "not an IP address");
    err("::ffff:10.0.0.0/104", "write the IPv4 form, 10.0.0.0");
}
