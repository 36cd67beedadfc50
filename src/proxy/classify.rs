//! Response classification: success or failure, as metrics and (later) retries see it.
//!
//! A ServiceProfile's `responseClasses` decide first. Otherwise a gRPC response fails unless its
//! `grpc-status` (in trailers, or in the headers of a trailers-only response) is 0 — a gRPC response
//! that ends without any status is a failure too — and any other response fails when it is a 5xx.

use http::HeaderMap;

use crate::profile::matcher::Route;

/// Whether a message is gRPC (`content-type: application/grpc…`).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The `grpc-status` in a header map, if present and numeric.
pub fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the response is a failure.
pub fn is_failure(
    route: Option<&Route>,
    status: u16,
    grpc: bool,
    grpc_status: Option<u32>,
) -> bool {
    if let Some(failure) = route.and_then(|r| r.classify(status)) {
        return failure;
    }
    if grpc {
        return grpc_status != Some(0);
    }
    status >= 500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_classification() {
        assert!(!is_failure(None, 200, false, None));
        assert!(!is_failure(None, 404, false, None));
        assert!(is_failure(None, 503, false, None));
        assert!(!is_failure(None, 200, true, Some(0)));
        assert!(is_failure(None, 200, true, Some(14)));
        assert!(
            is_failure(None, 200, true, None),
            "a gRPC response without a status failed"
        );
    }

    #[test]
    fn profile_classes_override() {
        let profile: crate::profile::ServiceProfile = crate::yaml::from_str(
            "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {name: a.b.svc.cluster.local}\nspec:\n  routes:\n  - name: r\n    condition: {method: GET}\n    responseClasses:\n    - condition: {status: {min: 404, max: 404}}\n      isFailure: true\n    - condition: {status: {min: 500, max: 599}}\n",
        )
        .unwrap();
        let m = crate::profile::matcher::RouteMatcher::compile(&profile).unwrap();
        let r = &m.routes()[0];
        assert!(is_failure(Some(r), 404, false, None));
        assert!(!is_failure(Some(r), 503, false, None));
        assert!(!is_failure(Some(r), 502, true, Some(0)));
    }
}
