use super::*;

fn profile(yaml: &str) -> ServiceProfile {
    crate::yaml::from_str(yaml).expect("test profile parses")
}

const PROFILE: &str = r#"
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.ns.svc.cluster.local}
spec:
  routes:
  - name: GET /api/vote/{id}
    condition: {method: GET, pathRegex: '/api/vote/[^/]*'}
    responseClasses:
    - condition: {status: {min: 404, max: 404}}
      isFailure: true
    - condition: {not: {status: {min: 200, max: 299}}}
  - name: not GET
    condition:
      all:
      - not: {method: GET}
      - any: [{pathRegex: /a}, {pathRegex: /b}]
    timeout: 1500ms
"#;

#[test]
fn first_matching_route_wins_and_regex_matches_whole_path() {
    let m = RouteMatcher::compile(&profile(PROFILE)).unwrap();
    assert_eq!(
        &*m.route_for("GET", "/api/vote/7").unwrap().name,
        "GET /api/vote/{id}"
    );
    assert!(
        m.route_for("GET", "/api/vote/7/x").is_none(),
        "anchored at the end"
    );
    assert!(
        m.route_for("GET", "/x/api/vote/7").is_none(),
        "anchored at the start"
    );
    let r = m.route_for("POST", "/b").unwrap();
    assert_eq!(&*r.name, "not GET");
    assert_eq!(r.timeout, Some(Duration::from_millis(1500)));
    assert!(m.route_for("GET", "/b").is_none());
}

#[test]
fn response_classes_apply_in_order() {
    let m = RouteMatcher::compile(&profile(PROFILE)).unwrap();
    let r = &m.routes()[0];
    assert_eq!(r.classify(404), Some(true));
    assert_eq!(
        r.classify(500),
        Some(false),
        "the not-2xx class says success"
    );
    assert_eq!(r.classify(200), None);
}

#[test]
fn bad_regex_names_the_field() {
    let p = profile(&PROFILE.replace("/a}", "/a(}"));
    let err = RouteMatcher::compile(&p).unwrap_err();
    assert_eq!(
        err.field,
        "spec.routes[1].condition.all[1].any[0].pathRegex"
    );
}
