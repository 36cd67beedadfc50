//! `mesh profile check` accepts what a cluster would and names every mistake by file and field.

use crate::harness::{generator_cases, run};

#[test]
fn valid_profiles_pass_with_a_summary_per_document() {
    let r = run(&["profile", "check", "fixtures/profile/check/valid.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "fixtures/profile/check/valid.yaml (document 1): valid ServiceProfile web-svc.emojivoto.svc.cluster.local (2 routes)\n\
         fixtures/profile/check/valid.yaml (document 2): valid ServiceProfile empty.emojivoto.svc.cluster.local (0 routes)\n"
    );
}

#[test]
fn every_mistake_is_named_by_file_and_field() {
    let r = run(&["profile", "check", "fixtures/profile/check/invalid.yaml"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    let expected = [
        "metadata.name: \"Web_Svc\" contains 'W'",
        "spec.routes[1].condition: route \"GET /api/vote\" can never match: spec.routes[0] (\"catch all GETs\") comes first",
        "spec.routes[2].condition.pathRegex: invalid regular expression \"/api/(unclosed\": unclosed group",
        "spec.routes[3].condition: a request condition must set at least one of",
        "spec.routes[4].responseClasses[0].condition.status.min: 600 is not an HTTP status (100-599)",
        "spec.routes[4].responseClasses[0].condition.status.max: 700 is not an HTTP status (100-599)",
        "spec.routes[5].responseClasses[0].condition.status: min 500 is greater than max 400",
        "spec.routes[6].timeout: invalid duration \"10\": missing unit",
        "spec.routes[7].name: \"bad timeout\" is also the name of spec.routes[6]",
        "spec.routes[8].condition.method: \"GET /x\" is not an HTTP method",
        "spec.retryBudget.retryRatio: must be a non-negative number, found -1",
        "spec.retryBudget.ttl: invalid duration \"forever\"",
    ];
    for e in expected {
        assert!(
            r.stderr
                .contains(&format!("fixtures/profile/check/invalid.yaml: {e}")),
            "missing {e:?} in:\n{}",
            r.stderr
        );
    }
    assert_eq!(
        r.stderr.lines().count(),
        expected.len(),
        "one line per mistake, no more:\n{}",
        r.stderr
    );
}

#[test]
fn unknown_fields_are_rejected_with_path_and_line() {
    let r = run(&[
        "profile",
        "check",
        "fixtures/profile/check/unknown-field.yaml",
    ]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "fixtures/profile/check/unknown-field.yaml: spec.routes[0].condition.pathregex: unknown field `pathregex`, \
         expected one of `all`, `any`, `method`, `not`, `pathRegex` (line 10, column 7); did you mean `pathRegex`?\n"
    );
}

#[test]
fn one_bad_file_fails_the_run_but_all_are_checked() {
    let r = run(&[
        "profile",
        "check",
        "fixtures/profile/check/nope.yaml",
        "fixtures/profile/check/valid.yaml",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("mesh: reading fixtures/profile/check/nope.yaml: No such file"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stdout.lines().count(),
        2,
        "the valid file is still reported"
    );
}

#[test]
fn every_generated_profile_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, case) in generator_cases().into_iter().enumerate() {
        let mut args = vec!["profile"];
        args.extend(case.iter().copied());
        let r = run(&args);
        assert_eq!(r.code, 0, "{case:?}: {}", r.stderr);
        let file = dir.path().join(format!("{i}.yaml"));
        std::fs::write(&file, r.stdout).unwrap();
        files.push(file.to_str().unwrap().to_string());
    }
    let mut args = vec!["profile", "check"];
    args.extend(files.iter().map(String::as_str));
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    assert_eq!(r.stdout.lines().count(), files.len());
}
