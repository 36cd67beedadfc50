//! `mesh profile --template`: a commented scaffold that explains every field and is itself a valid
//! profile, so an operator can start from it and `mesh profile check` it at every step.

use super::ProfileTarget;

const TEMPLATE: &str = r#"# A ServiceProfile tells the mesh about the routes of one service, so that proxies can
# report golden metrics per route and apply retries and timeouts to them.
# Generate one from an API description instead with --open-api FILE or --proto FILE.
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  # The profile applies to requests whose authority is this fully qualified service name.
  name: {{SERVICE}}.{{NAMESPACE}}.svc.{{CLUSTER_DOMAIN}}
  namespace: {{NAMESPACE}}
spec:
  # Routes are tried in order; a request takes the first whose condition matches. Requests that
  # match none are counted under the route [DEFAULT].
  routes:
  - name: GET /api/items/{id}
    # A request condition. Fields given together must all hold:
    #   method:    the HTTP method, compared exactly.
    #   pathRegex: a regular expression that must match the WHOLE path (no ^ or $ needed),
    #              so it begins with / as every request path does.
    #   all:       a list of conditions that must all hold.
    #   any:       a list of conditions of which at least one must hold.
    #   not:       one condition that must not hold.
    condition:
      method: GET
      pathRegex: /api/items/[^/]*
    # Response classes decide what counts as a failure for this route, first match wins.
    # Without a matching class, 5xx responses (and gRPC errors) are failures.
    # A response condition is status {min, max} (inclusive, 100-599), all, any or not.
    responseClasses:
    - condition:
        status:
          min: 500
          max: 599
      isFailure: true
    # Set isRetryable only when sending a request twice is safe: failed requests are then retried
    # while the retry budget below allows.
    isRetryable: true
    # The longest a request may take, retries included, as a duration (250ms, 2s, 1m30s).
    # Past it the caller gets 504 and the request is cancelled upstream.
    timeout: 500ms
  - name: POST /api/items
    condition:
      all:
      - method: POST
      - any:
        - pathRegex: /api/items
        - pathRegex: /api/items/batch
  # The retry budget bounds retries of all retryable routes together, so that retries cannot turn
  # a partial failure into a storm.
  retryBudget:
    # At most this many retries per original request (0.2 = 20% extra load).
    retryRatio: 0.2
    # Retries always allowed per second, so that low-traffic routes can retry at all.
    minRetriesPerSecond: 10
    # The window over which requests and retries are counted.
    ttl: 10s
  # dstOverrides splits traffic for this service between other authorities by weight, for
  # canaries and blue-green moves. Uncomment to use; weights are relative.
  # dstOverrides:
  # - authority: {{SERVICE}}-v2.{{NAMESPACE}}.svc.{{CLUSTER_DOMAIN}}:80
  #   weight: 100m
  # - authority: {{SERVICE}}.{{NAMESPACE}}.svc.{{CLUSTER_DOMAIN}}:80
  #   weight: 900m
"#;

/// The commented scaffold for `target`, as YAML text.
pub fn template(target: &ProfileTarget) -> String {
    TEMPLATE
        .replace("{{SERVICE}}", &target.service)
        .replace("{{NAMESPACE}}", &target.namespace)
        .replace("{{CLUSTER_DOMAIN}}", &target.cluster_domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scaffold's routes are fixed text: none may be one no request path can match.
    #[test]
    fn every_route_of_the_template_can_match() {
        let text = template(&ProfileTarget {
            service: "web-svc".into(),
            namespace: "emojivoto".into(),
            cluster_domain: "cluster.local".into(),
        });
        let profile: crate::profile::ServiceProfile = crate::yaml::from_str(&text).unwrap();
        assert!(!profile.spec.routes.is_empty());
        assert_eq!(crate::profile::unmatchable::unmatchable_paths(&profile), []);
    }
}
