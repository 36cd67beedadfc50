//! Header fields that belong to one connection, not to the message: removed before a message is
//! passed on, in both directions (RFC 9110 §7.6.1), and the framing fields each hop rebuilds for
//! its own connection (RFC 9112 §6).
//!
//! `Trailer` is end-to-end (RFC 9110 §6.6.2): it stays, and it is what lets an HTTP/1 hop send the
//! trailers it announces. `TE: trailers` stays on requests, since gRPC needs it end to end.
//! Transfer codings other than `chunked` (`gzip, chunked`) are part of how the body is encoded,
//! which only the recipient can undo: [`transfer_codings`] keeps them for the next HTTP/1 hop.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Fields meaningful for one connection only (RFC 9110 §7.6.1; `proxy-connection` and
/// `keep-alive` by common use; `http2-settings` by RFC 9113 §3.1's predecessor, RFC 7540 §3.2.1).
/// As `HeaderName`s, so removing them hashes no strings.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    HeaderName::from_static("http2-settings"),
];

/// The tokens of every `Connection` field, trimmed.
pub fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(str::trim))
        .filter(|t| !t.is_empty())
}

/// Whether a list field (`TE`, `Upgrade`) has `token`, case-insensitively.
pub fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(['/', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(token)
        })
}

/// Removes hop-by-hop fields and those the `Connection` field names. On a request `te: trailers`
/// survives; a protocol switch the proxy carries (`upgrade`) keeps `Connection: upgrade` and
/// `Upgrade`, any other loses `Upgrade`. (HTTP/2 messages have none of these: the HTTP/2 layer
/// refuses them, RFC 9113 §8.2.2, so callers skip this for HTTP/2.)
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // Most messages carry none of these fields. One pass over the few names present (compared,
    // not hashed) finds that out; removing each listed field would hash and probe nine times.
    let any = headers
        .keys()
        .any(|name| name == header::UPGRADE || HOP_BY_HOP.contains(name));
    if !any && !upgrade {
        return;
    }
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter(|t| !(upgrade && t.eq_ignore_ascii_case("upgrade")))
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    let te_trailers = has_token(headers, header::TE, "trailers");
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

/// The `Transfer-Encoding` to send on the next HTTP/1 hop, when the message's codings are more than
/// `chunked` (`gzip, chunked`): the HTTP/1 parser undid `chunked` only, so the body is still coded
/// and the recipient must be told how. `None` for plain `chunked` or no coding.
pub fn transfer_codings(headers: &HeaderMap) -> Option<HeaderValue> {
    let values: Vec<&str> = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let codings: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    match codings.as_slice() {
        [] => None,
        [only] if only.eq_ignore_ascii_case("chunked") => None,
        _ => HeaderValue::from_str(&codings.join(", ")).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_and_the_ones_connection_names_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("te", HeaderValue::from_static("trailers, deflate"));
        h.insert("trailer", HeaderValue::from_static("x-sum"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("upgrade", HeaderValue::from_static("h2c"));
        h.insert(
            "http2-settings",
            HeaderValue::from_static("AAMAAABkAAQAAP__"),
        );
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 3, "{h:?}");
        assert_eq!(h["te"], "trailers");
        assert_eq!(h["trailer"], "x-sum", "Trailer is end-to-end");
        assert_eq!(h["x-kept"], "1");
    }

    #[test]
    fn codings_beyond_chunked_are_kept_for_the_next_hop() {
        let te = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("transfer-encoding", HeaderValue::from_static(v));
            }
            transfer_codings(&h)
        };
        assert_eq!(te(&[]), None);
        assert_eq!(te(&["chunked"]), None);
        assert_eq!(te(&["Chunked"]), None);
        assert_eq!(te(&["gzip, chunked"]).unwrap(), "gzip, chunked");
        assert_eq!(te(&["gzip", "chunked"]).unwrap(), "gzip, chunked");
    }

    #[test]
    fn list_tokens_match_case_insensitively_without_versions() {
        let mut h = HeaderMap::new();
        h.insert("upgrade", HeaderValue::from_static("h2c, WebSocket/13"));
        assert!(has_token(&h, header::UPGRADE, "websocket"));
        assert!(has_token(&h, header::UPGRADE, "h2c"));
        assert!(!has_token(&h, header::UPGRADE, "tls"));
    }
}
