//! The tap contract between a proxy and its readers: the JSON events a proxy's admin `/tap` streams
//! (one per line, see `docs/tap.md`) and the query that selects them.
//!
//! Field names follow Linkerd's tap JSON (`source`, `destination`, `proxyDirection`,
//! `requestInitEvent` …) so tools written for it read these too. The proxy builds them only while
//! someone taps; `mesh tap` and `mesh profile --tap` parse them back.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Requests per second a tap stream passes when the query does not say (`max_rps`).
pub const DEFAULT_MAX_RPS: f64 = 100.0;

/// One line of `/tap`: an event, or a note that the reader lost some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TapLine {
    /// `{"lost": N}`: the reader was too slow and N events were dropped for it.
    Lost {
        lost: u64,
    },
    Event(Box<TapEvent>),
}

/// One request or response event seen by a proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapEvent {
    pub source: Peer,
    pub destination: Peer,
    pub proxy_direction: ProxyDirection,
    #[serde(flatten)]
    pub kind: TapEventKind,
}

/// Which of the proxy's sides saw the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProxyDirection {
    /// From a caller to the local app.
    Inbound,
    /// From the local app to a service.
    Outbound,
}

/// One end of a request: its socket address and what is known about its workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub ip: std::net::IpAddr,
    pub port: u16,
    /// `namespace`, `workload` (`deploy/web`), `pod` when known, and `tls` (always `no_identity`:
    /// mesh has no mTLS yet).
    pub metadata: PeerMetadata,
}

/// What is known about a peer's workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    pub tls: String,
}

/// The three events of one request's life; each names its request by [`StreamId`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TapEventKind {
    RequestInitEvent(RequestInit),
    ResponseInitEvent(ResponseInit),
    ResponseEndEvent(ResponseEnd),
}

/// Which request an event belongs to: a per-proxy counter (`base`) and the stream (always 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamId {
    pub base: u64,
    pub stream: u64,
}

/// A request arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInit {
    pub id: StreamId,
    pub method: String,
    /// `HTTP` or `HTTPS`.
    pub scheme: String,
    pub authority: String,
    pub path: String,
    /// Header names and values, only when the tap asked for them (`headers=true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
}

/// One request header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub name: String,
    /// The value when it is text; otherwise empty.
    pub value_str: String,
}

/// The response headers arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseInit {
    pub id: StreamId,
    pub since_request_init: Micros,
    pub http_status: u16,
    /// Set when the proxy answered itself: the `error` label of the proxy's
    /// `{inbound,outbound}_http_errors_total` (`"no endpoints"`, `"response timeout"`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_error: Option<String>,
}

/// The response body ended (or was cut off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseEnd {
    pub id: StreamId,
    pub since_request_init: Micros,
    pub since_response_init: Micros,
    /// Data bytes of the response body.
    pub response_bytes: u64,
    /// `grpc-status` from the trailers (or a trailers-only response), for gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
    /// Set when the exchange broke off instead of ending: the caller cancelled it, or the
    /// response was cut off upstream ([`error`](Self::error) says which).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// With `reset`: `cancel` (the caller reset its stream or hung up, before or during the
    /// response) or `reset` (the upstream reset the stream or its connection broke mid-body) —
    /// the `error` label of the proxy's metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A duration in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Micros {
    pub micros: u64,
}

impl From<std::time::Duration> for Micros {
    fn from(d: std::time::Duration) -> Self {
        Micros {
            micros: u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

impl Peer {
    /// A peer at `addr` with `metadata`.
    pub fn new(addr: SocketAddr, metadata: PeerMetadata) -> Self {
        Peer {
            ip: addr.ip(),
            port: addr.port(),
            metadata,
        }
    }
}

impl TapEvent {
    /// The request this event belongs to.
    pub fn id(&self) -> StreamId {
        match &self.kind {
            TapEventKind::RequestInitEvent(e) => e.id,
            TapEventKind::ResponseInitEvent(e) => e.id,
            TapEventKind::ResponseEndEvent(e) => e.id,
        }
    }
}

/// Which requests a tap stream passes: the query string of `/tap`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TapQuery {
    /// Only this side of the proxy.
    pub direction: Option<ProxyDirection>,
    /// Paths starting with this.
    pub path: Option<String>,
    pub method: Option<String>,
    pub authority: Option<String>,
    /// The destination's namespace (outbound).
    pub to_namespace: Option<String>,
    /// The destination's workload, `deploy/x` (outbound).
    pub to_workload: Option<String>,
    /// The destination's pod (outbound).
    pub to_pod: Option<String>,
    /// Requests per second passed at most; more are skipped (not counted as lost).
    pub max_rps: f64,
    /// Include header values.
    pub headers: bool,
}

/// A `/tap` query that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapQueryError {
    #[error("unknown tap parameter {0:?} (expected direction, path, method, authority, to_namespace, to_workload, to_pod, max_rps, headers)")]
    Unknown(String),
    #[error("{name}: invalid value {value:?}")]
    Invalid { name: &'static str, value: String },
}

impl TapQuery {
    /// A query passing everything at the default rate.
    pub fn new() -> Self {
        TapQuery {
            max_rps: DEFAULT_MAX_RPS,
            ..TapQuery::default()
        }
    }

    /// Parses `/tap`'s query string (percent-encoded `key=value` pairs joined by `&`).
    pub fn parse(query: Option<&str>) -> Result<TapQuery, TapQueryError> {
        let mut q = TapQuery::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(raw);
            let invalid = |name| TapQueryError::Invalid {
                name,
                value: value.clone(),
            };
            match key {
                "direction" => {
                    q.direction = Some(match value.to_ascii_lowercase().as_str() {
                        "in" | "inbound" => ProxyDirection::Inbound,
                        "out" | "outbound" => ProxyDirection::Outbound,
                        _ => return Err(invalid("direction")),
                    })
                }
                "path" => q.path = Some(value),
                "method" => q.method = Some(value.to_ascii_uppercase()),
                "authority" => q.authority = Some(value),
                "to_namespace" => q.to_namespace = Some(value),
                "to_workload" => q.to_workload = Some(value),
                "to_pod" => q.to_pod = Some(value),
                "max_rps" => {
                    q.max_rps = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| invalid("max_rps"))?
                }
                "headers" => q.headers = value.parse::<bool>().map_err(|_| invalid("headers"))?,
                other => return Err(TapQueryError::Unknown(other.to_string())),
            }
        }
        Ok(q)
    }

    /// The query string that [`TapQuery::parse`] reads back.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        let dir = self.direction.map(|d| match d {
            ProxyDirection::Inbound => "in".to_string(),
            ProxyDirection::Outbound => "out".to_string(),
        });
        let texts = [
            ("direction", &dir),
            ("path", &self.path),
            ("method", &self.method),
            ("authority", &self.authority),
            ("to_namespace", &self.to_namespace),
            ("to_workload", &self.to_workload),
            ("to_pod", &self.to_pod),
        ];
        for (key, value) in texts {
            if let Some(v) = value {
                parts.push(format!("{key}={}", percent_encode(v)));
            }
        }
        parts.push(format!("max_rps={}", self.max_rps));
        if self.headers {
            parts.push("headers=true".into());
        }
        parts.join("&")
    }
}

/// Encodes everything but unreserved characters and `/`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (a space); invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_round_trip() {
        let q = TapQuery {
            direction: Some(ProxyDirection::Outbound),
            path: Some("/api/vote me".into()),
            method: Some("POST".into()),
            to_workload: Some("deploy/voting".into()),
            max_rps: 12.5,
            headers: true,
            ..TapQuery::new()
        };
        assert_eq!(TapQuery::parse(Some(&q.to_query_string())), Ok(q));
        assert_eq!(TapQuery::parse(None), Ok(TapQuery::new()));
        assert!(TapQuery::parse(Some("max_rps=0")).is_err());
        assert!(TapQuery::parse(Some("colour=red")).is_err());
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }

    #[test]
    fn lines_parse_as_events_or_lost_notes() {
        let lost: TapLine = serde_json::from_str(r#"{"lost": 3}"#).unwrap();
        assert_eq!(lost, TapLine::Lost { lost: 3 });
    }
}
