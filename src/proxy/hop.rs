//! The proxy's own headers, which exist only between meshed proxies: `mesh-peer` (the caller's
//! identity) and `mesh-hop` (loop markers), and `l5d-*` (Linkerd's, which mesh does not use).
//!
//! An app is never a proxy: the outbound removes `mesh-peer` and `l5d-*` headers an app sends
//! ([`strip_from_app`]) and the inbound removes all three kinds before the app sees a request
//! ([`strip_before_app`]). The outbound adds `mesh-peer` only toward endpoints with a known
//! identity (meshed ones).
//!
//! Every request the outbound forwards carries this proxy's [`HopMarker`] — a random token per
//! proxy, naming nothing — in a `mesh-hop` header, added to the markers already there. A request
//! that reaches the outbound with its own marker has gone round a loop (through an address the
//! proxy could not recognise as its own, or through other proxies) and is answered 508 at once.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::identity::PEER_HEADER;

/// The header carrying the markers of the proxies a request passed through.
pub const HOP_HEADER: &str = "mesh-hop";

// As `HeaderName`s, so the per-request lookups hash no strings.
const HOP: HeaderName = HeaderName::from_static(HOP_HEADER);
/// `mesh-peer` as a header name, so the hot path does not parse and hash the string per request.
pub const PEER: HeaderName = HeaderName::from_static(PEER_HEADER);

/// One proxy's loop marker.
#[derive(Debug, Clone)]
pub struct HopMarker {
    token: HeaderValue,
}

impl HopMarker {
    /// A marker unlike any other proxy's (128 random bits, from the standard library's randomly
    /// keyed hasher; unguessable from outside, which is all a loop marker needs).
    pub fn random() -> Self {
        static INSTANCE: AtomicU64 = AtomicU64::new(0);
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let half = |i: u8| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(i);
            h.write_u64(instance);
            h.write_u128(now);
            h.write_u32(std::process::id());
            h.finish()
        };
        let token = format!("{:016x}{:016x}", half(0), half(1));
        HopMarker {
            token: HeaderValue::from_str(&token).unwrap_or(HeaderValue::from_static("0")),
        }
    }

    /// Whether `headers` carry this marker (in any `mesh-hop` field, comma-separated or not).
    pub fn seen_in(&self, headers: &HeaderMap) -> bool {
        let token = self.token.as_bytes();
        headers
            .get_all(&HOP)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|t| t.trim_ascii() == token)
    }

    /// Adds this marker to the ones `headers` already carry.
    pub fn add_to(&self, headers: &mut HeaderMap) {
        headers.append(HOP, self.token.clone());
    }
}

/// Outbound: removes what an app must not send, `mesh-peer` and `l5d-*` headers. `mesh-hop`
/// stays: markers only ever stop a loop.
pub fn strip_from_app(headers: &mut HeaderMap) {
    headers.remove(&PEER);
    remove_l5d(headers);
}

/// Inbound: removes the proxies' own headers before a request goes to the app, and returns the
/// caller's `mesh-peer` (the one removal reads it).
pub fn strip_before_app(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let peer = headers.remove(&PEER);
    headers.remove(&HOP);
    remove_l5d(headers);
    peer
}

fn remove_l5d(headers: &mut HeaderMap) {
    // Names are lowercase in a HeaderMap. Nothing to collect in the usual case.
    if !headers.keys().any(is_l5d) {
        return;
    }
    let names: Vec<HeaderName> = headers.keys().filter(|n| is_l5d(n)).cloned().collect();
    for name in names {
        headers.remove(name);
    }
}

fn is_l5d(name: &HeaderName) -> bool {
    name.as_str().starts_with("l5d-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_recognised_only_by_their_own_proxy() {
        let (a, b) = (HopMarker::random(), HopMarker::random());
        assert_ne!(a.token, b.token);
        let mut h = HeaderMap::new();
        assert!(!a.seen_in(&h));
        b.add_to(&mut h);
        assert!(!a.seen_in(&h) && b.seen_in(&h));
        a.add_to(&mut h);
        assert!(a.seen_in(&h) && b.seen_in(&h));
        // Joined into one field by an intermediary.
        let joined = format!("x, {} ,y", a.token.to_str().unwrap());
        let mut h = HeaderMap::new();
        h.insert(HOP_HEADER, HeaderValue::from_str(&joined).unwrap());
        assert!(a.seen_in(&h) && !b.seen_in(&h));
    }

    #[test]
    fn own_headers_do_not_cross_to_or_from_apps() {
        let mut h = HeaderMap::new();
        for name in [
            "mesh-peer",
            "mesh-hop",
            "l5d-dst-override",
            "l5d-client-id",
            "x-kept",
        ] {
            h.insert(name, HeaderValue::from_static("1"));
        }
        let mut from_app = h.clone();
        strip_from_app(&mut from_app);
        let mut kept: Vec<&str> = from_app.keys().map(|k| k.as_str()).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["mesh-hop", "x-kept"]);
        strip_before_app(&mut h);
        let kept: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(kept, ["x-kept"]);
    }
}
