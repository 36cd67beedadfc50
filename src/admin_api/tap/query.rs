//! The `/tap` query string: which requests a stream passes, and at what rate.

use super::ProxyDirection;

/// Requests per second a tap stream passes when the query does not say (`max_rps`).
pub const DEFAULT_MAX_RPS: f64 = 100.0;

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
    /// Include the request and response headers and the trailers (Linkerd extracts them for
    /// `-o json`).
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
}
