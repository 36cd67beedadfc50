//! The rules a server applies to a request's target and `Host` before acting on it (RFC 9112 §3.2,
//! RFC 9110 §4.2.4 and §7.2), so that the proxy and the app can never disagree about which
//! authority a request is for: a second `Host`, a missing one (HTTP/1.1), an invalid value, and
//! userinfo (`user@host`, which RFC 9110 deprecates and phishing uses) are refused with 400.
//!
//! In absolute form (`GET http://web-svc:8080/ HTTP/1.1`) the URI's authority wins and `Host` is
//! replaced downstream (RFC 9112 §3.2.2); on HTTP/2 a `Host` that names another authority than
//! `:authority` is malformed (RFC 9113 §8.3.1).

use http::header::{self, HeaderValue};
use http::uri::Authority;
use http::{Request, Version};

/// Why a request was refused before it was passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    #[error("the request has more than one Host field (RFC 9112 section 3.2): send exactly one")]
    SeveralHosts,
    #[error("an HTTP/1.1 request needs a Host field (RFC 9112 section 3.2): send the service's authority, e.g. `Host: web-svc:8080`")]
    NoHost,
    #[error("the Host field is not a valid authority HOST[:PORT] (RFC 9112 section 3.2)")]
    InvalidHost,
    #[error("the request's authority carries userinfo (user@host), which HTTP deprecates (RFC 9110 section 4.2.4) and the proxy refuses: send credentials in an Authorization header")]
    Userinfo,
    #[error("the Host field names another authority than :authority (RFC 9113 section 8.3.1): send one authority")]
    HostMismatch,
}

/// Checks `req`'s target and `Host` field.
pub fn check<B>(req: &Request<B>) -> Result<(), BadRequest> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(BadRequest::SeveralHosts);
    }
    let uri_authority = req.uri().authority();
    if uri_authority.is_some_and(|a| a.as_str().contains('@')) {
        return Err(BadRequest::Userinfo);
    }
    let Some(host) = host else {
        return match req.version() {
            Version::HTTP_11 if uri_authority.is_none() => Err(BadRequest::NoHost),
            _ => Ok(()),
        };
    };
    let host = parse_host(host)?;
    if req.version() == Version::HTTP_2 {
        if let (Some(a), Some(h)) = (uri_authority, host) {
            if !a.as_str().eq_ignore_ascii_case(h.as_str()) {
                return Err(BadRequest::HostMismatch);
            }
        }
    }
    Ok(())
}

/// A `Host` value: empty (allowed when the target has no authority), or `host[:port]`.
fn parse_host(value: &HeaderValue) -> Result<Option<Authority>, BadRequest> {
    let text = value.to_str().map_err(|_| BadRequest::InvalidHost)?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.contains('@') {
        return Err(BadRequest::Userinfo);
    }
    let authority: Authority = text.parse().map_err(|_| BadRequest::InvalidHost)?;
    // `Authority` accepts a port-less `host:`; a port that is there must be a number.
    if text.ends_with(':')
        || (authority.port().is_none() && text.contains(':') && !text.ends_with(']'))
    {
        return Err(BadRequest::InvalidHost);
    }
    Ok(Some(authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut b = Request::get(uri).version(version);
        for h in hosts {
            b = b.header("host", *h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn host_rules_of_rfc_9112() {
        use BadRequest::*;
        let h1 = |uri, hosts: &[&str]| check(&req(Version::HTTP_11, uri, hosts));
        assert_eq!(h1("/", &["web-svc:8080"]), Ok(()));
        assert_eq!(h1("/", &["[::1]:8080"]), Ok(()));
        assert_eq!(h1("/", &["[::1]"]), Ok(()));
        assert_eq!(h1("/", &["web-svc"]), Ok(()));
        assert_eq!(h1("/", &[]), Err(NoHost));
        assert_eq!(h1("/", &["a", "b"]), Err(SeveralHosts));
        assert_eq!(h1("/", &["web svc"]), Err(InvalidHost));
        assert_eq!(h1("/", &["web-svc:port"]), Err(InvalidHost));
        assert_eq!(h1("/", &["web-svc:"]), Err(InvalidHost));
        assert_eq!(h1("/", &["u@web-svc"]), Err(Userinfo));
        assert_eq!(h1("http://u:p@web-svc/", &["web-svc"]), Err(Userinfo));
        // Absolute form: the URI's authority wins, Host is replaced downstream.
        assert_eq!(h1("http://web-svc:8080/", &[]), Ok(()));
        assert_eq!(h1("http://web-svc:8080/", &["other"]), Ok(()));
        assert_eq!(check(&req(Version::HTTP_10, "/", &[])), Ok(()));
        let h2 = |uri, hosts: &[&str]| check(&req(Version::HTTP_2, uri, hosts));
        assert_eq!(h2("http://web-svc:8080/", &[]), Ok(()));
        assert_eq!(h2("http://web-svc:8080/", &["WEB-SVC:8080"]), Ok(()));
        assert_eq!(h2("http://web-svc:8080/", &["other:1"]), Err(HostMismatch));
    }
}
