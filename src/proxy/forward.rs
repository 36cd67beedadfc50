//! What inbound and outbound share when passing a message on: the upstream request for each HTTP
//! version, the response as the client gets it, and bridging upgraded (WebSocket) connections.

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version as HttpVersion};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::body::{client_body, ProxyBody};
use super::connect::Version;
use super::headers::{connection_tokens, has_token, strip_hop_by_hop, transfer_codings};

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

/// Whether an HTTP/1 request asks for a protocol switch the proxy carries: WebSocket (RFC 6455),
/// whose bytes it relays once both sides agree. Any other (`h2c`, `TLS/1.0`) is not passed on: an
/// `h2c` switch would open an HTTP/2 channel to the app that the proxy does not parse.
pub fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.version() == HttpVersion::HTTP_11
        && has_token(req.headers(), header::UPGRADE, "websocket")
        && connection_tokens(req.headers()).any(|t| t.eq_ignore_ascii_case("upgrade"))
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
///
/// `as_sent` keeps the app's own target: a captured request that goes on to where the app was
/// connecting, not to a service (DESIGN.md, "Forwarding policy"), is the next hop's business, and
/// that hop may be an egress forward proxy (squid at `10.x:3128`, the app's `HTTP_PROXY`). So its
/// absolute-form target (`GET http://example.com/ HTTP/1.1`), its `Host` and its
/// `Proxy-Authorization` (addressed to that proxy, as mesh is transparent here) go on unchanged;
/// a `Host` is added only when it has none (HTTP/1.0).
///
/// The body and its framing arrive as sent, whatever the method (RFC 9112 §6): on an HTTP/1 hop a
/// body of unknown length is sent chunked (hyper would otherwise send a GET's body as none), and
/// transfer codings beyond `chunked` are named again. Body errors are marked as the client's
/// ([`client_body`]). (On HTTP/1 hops the pool holds the body of a request expecting `100 Continue`
/// until the app says so: `expect::hold_body_until_continue`.)
pub fn upstream_request(
    req: Request<Incoming>,
    authority: &str,
    upgrade: bool,
    as_sent: bool,
) -> Request<ProxyBody> {
    let version = version_of(&req);
    let (mut parts, body) = req.into_parts();
    let codings = transfer_codings(&parts.headers);
    let body_open = !http_body::Body::is_end_stream(&body);
    if version == Version::Http1 {
        let credentials = as_sent
            .then(|| parts.headers.remove(header::PROXY_AUTHORIZATION))
            .flatten();
        strip_hop_by_hop(&mut parts.headers, upgrade);
        if let Some(credentials) = credentials {
            parts
                .headers
                .insert(header::PROXY_AUTHORIZATION, credentials);
        }
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    match version {
        Version::Http1 => {
            if !(as_sent && parts.uri.authority().is_some()) {
                parts.uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
            }
            parts.version = HttpVersion::HTTP_11;
            let keep_host = as_sent && parts.headers.contains_key(header::HOST);
            if let (false, Ok(host)) = (keep_host, HeaderValue::from_str(authority)) {
                parts.headers.insert(header::HOST, host);
            }
            if let Some(codings) = codings {
                parts.headers.insert(header::TRANSFER_ENCODING, codings);
            } else if body_open && !parts.headers.contains_key(header::CONTENT_LENGTH) {
                parts.headers.insert(
                    header::TRANSFER_ENCODING,
                    HeaderValue::from_static("chunked"),
                );
            }
            Request::from_parts(parts, client_body(body))
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
            Request::from_parts(parts, client_body(body))
        }
    }
}

/// Why an upstream's response cannot be passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadResponse {
    /// `101 Switching Protocols` to a request that asked for no switch (RFC 9110 §15.2.2).
    UnsolicitedSwitch,
}

/// Rebuilds an upstream's response for the client: in the client's HTTP version (each hop speaks
/// its own, RFC 9110 §6.2: an HTTP/1.0 app does not make an HTTP/1.1 client lose keep-alive),
/// without the upstream's hop-by-hop fields, and without a `Content-Length` that a
/// `Transfer-Encoding` overrides (RFC 9112 §6.3). `upgrade` says whether the client asked for a
/// protocol switch the proxy carries.
pub fn downstream_response<B>(
    mut resp: Response<B>,
    client: Version,
    upgrade: bool,
) -> Result<Response<B>, BadResponse> {
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    if switching && !upgrade {
        return Err(BadResponse::UnsolicitedSwitch);
    }
    if client == Version::Http2 {
        // The upstream spoke HTTP/2 too (each hop speaks the caller's version), whose layer
        // refuses connection-specific fields: nothing to strip.
        *resp.version_mut() = HttpVersion::HTTP_2;
        return Ok(resp);
    }
    let headers = resp.headers_mut();
    let codings = transfer_codings(headers);
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
    strip_hop_by_hop(headers, switching);
    // `TE` is a request field; in a response it means nothing to pass on.
    headers.remove(header::TE);
    if let Some(codings) = codings {
        headers.insert(header::TRANSFER_ENCODING, codings);
    }
    *resp.version_mut() = HttpVersion::HTTP_11;
    Ok(resp)
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
