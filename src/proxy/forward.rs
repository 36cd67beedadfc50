//! What inbound and outbound share when passing a request on: header hygiene, the upstream request
//! for each HTTP version, and bridging upgraded (WebSocket) connections.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Uri, Version as HttpVersion};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::body::{boxed, ProxyBody};
use super::connect::Version;

/// Headers meaningful for one connection only (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

/// The authority a request is for: its URI's (absolute form, HTTP/2) or its `Host` header.
pub fn authority_of<B>(req: &Request<B>) -> Option<String> {
    if let Some(a) = req.uri().authority() {
        return Some(a.as_str().to_string());
    }
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// The size of a request's head as HTTP/1 sends it: request line and header lines.
pub fn head_bytes<B>(req: &Request<B>) -> usize {
    // Counted without formatting anything: this runs for every request.
    let uri = req.uri();
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len())
        + uri
            .authority()
            .map_or(0, |a| "http://".len() + a.as_str().len());
    let line = req.method().as_str().len() + " ".len() + target + " HTTP/1.1\r\n".len();
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum::<usize>()
        + line
}

/// Whether an HTTP/1 request asks to switch protocols (WebSocket and the like).
pub fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.version() == HttpVersion::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && connection_tokens(req.headers()).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(str::trim))
}

/// Removes hop-by-hop headers and those the `Connection` header names. `te: trailers` survives (gRPC
/// needs it); an upgrade keeps `Connection: upgrade` and `Upgrade`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter(|t| !(upgrade && t.eq_ignore_ascii_case("upgrade")))
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    let te_trailers = headers
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    for name in HOP_BY_HOP {
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

/// The HTTP version to speak upstream: the caller's.
pub fn version_of<B>(req: &Request<B>) -> Version {
    if req.version() == HttpVersion::HTTP_2 {
        Version::Http2
    } else {
        Version::Http1
    }
}

/// Rebuilds `req` for an upstream: HTTP/1 in origin form with `Host: authority`; HTTP/2 in absolute
/// form so `:authority` is `authority`.
pub fn upstream_request(
    req: Request<Incoming>,
    authority: &str,
    upgrade: bool,
) -> Request<ProxyBody> {
    let version = version_of(&req);
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers, upgrade);
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    match version {
        Version::Http1 => {
            parts.uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
            parts.version = HttpVersion::HTTP_11;
            if let Ok(host) = HeaderValue::from_str(authority) {
                parts.headers.insert(header::HOST, host);
            }
        }
        Version::Http2 => {
            parts.uri = Uri::builder()
                .scheme("http")
                .authority(authority)
                .path_and_query(path)
                .build()
                .unwrap_or(parts.uri);
            parts.version = HttpVersion::HTTP_2;
            parts.headers.remove(header::HOST);
        }
    }
    Request::from_parts(parts, boxed(body))
}

/// After a `101 Switching Protocols`, copies bytes both ways between the two upgraded connections.
pub fn bridge_upgrade(
    client: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    panics: &super::guard::PanicCounter,
) {
    super::guard::spawn(panics, "upgraded connection", async move {
        match tokio::try_join!(client, upstream) {
            Ok((c, u)) => {
                let (mut c, mut u) = (TokioIo::new(c), TokioIo::new(u));
                if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut u).await {
                    tracing::debug!("upgraded connection ended: {e}");
                }
            }
            Err(e) => tracing::debug!("upgrade failed: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("te", HeaderValue::from_static("trailers, deflate"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 2, "{h:?}");
        assert_eq!(h["te"], "trailers");
        assert_eq!(h["x-kept"], "1");
    }
}
