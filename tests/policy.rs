//! The built-in cleanup policy, applied through `PUT /projects/:id` on the fake GitLab.

mod common;

use common::*;

const GET_PROJECT: &str = "GET /projects/:id";
const PUT_PROJECT: &str = "PUT /projects/:id";

#[test]
fn dry_run_shows_the_diff_then_a_real_run_applies_it_then_nothing_changes() {
    let fake = demo();
    let policy = [("GC_POLICY_APPLY", "true"), ("GC_POLICY_KEEP_N", "25")];

    let dry = run(&fake, &[policy[0], policy[1], ("GC_DRY_RUN", "true")]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(requests(&fake, PUT_PROJECT), 0, "dry-run sends no PUT");
    assert!(
        dry.log
            .contains("would change: enabled: false → true, keep_n: 10 → 25, older_than: 90d → 7d"),
        "{}",
        dry.log
    );
    assert!(dry
        .junit
        .contains(r#"classname="demo/shop" name="container_expiration_policy""#));
    assert!(dry.junit.contains("would change: enabled: false → true"));
    assert_eq!(fake.policy(1)["enabled"], false);

    let real = run(&fake, &[policy[0], policy[1], ("GC_DRY_RUN", "false")]);
    assert_eq!(real.code, 0, "{}", real.stderr);
    assert_eq!(requests(&fake, PUT_PROJECT), 1);
    assert!(
        real.log.contains("changed: enabled: false → true"),
        "{}",
        real.log
    );
    assert!(
        real.log.contains("next run at 20"),
        "the log shows next_run_at: {}",
        real.log
    );
    let saved = fake.policy(1);
    assert_eq!(
        (
            saved["enabled"].as_bool(),
            saved["keep_n"].as_u64(),
            saved["older_than"].as_str()
        ),
        (Some(true), Some(25), Some("7d"))
    );
    assert_eq!(saved["name_regex_keep"], r"latest|main|master|v.*\..*\..*");

    fake.reset_stats();
    let again = run(&fake, &[policy[0], policy[1], ("GC_DRY_RUN", "false")]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(requests(&fake, PUT_PROJECT), 0, "a second run sends no PUT");
    assert!(
        again.log.contains("policy       demo/shop  unchanged"),
        "{}",
        again.log
    );
    assert_eq!(again.report["policies"][0]["status"], "unchanged");
}

#[test]
fn group_scope_applies_to_every_project_of_the_group_and_its_subgroups() {
    let fake = demo();
    let out = run(
        &fake,
        &[
            ("GC_SCOPE", "group"),
            ("GC_GROUP", "demo"),
            ("GC_POLICY_APPLY", "true"),
            ("GC_DRY_RUN", "false"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let paths: Vec<&str> = out.report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["project_path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["demo/shop", "demo/platform/api"],
        "registry-disabled demo/legacy is skipped"
    );
    assert_eq!(fake.policy(2)["enabled"], true);
    assert_eq!(requests(&fake, PUT_PROJECT), 2);
    assert_eq!(
        requests(&fake, GET_PROJECT),
        0,
        "the group listing already carries each policy"
    );
}

#[test]
fn sharded_policy_runs_cover_each_project_once() {
    let fake = demo();
    let mut seen = Vec::new();
    for index in ["1", "2"] {
        let out = run(
            &fake,
            &[
                ("GC_SCOPE", "group"),
                ("GC_GROUP", "demo"),
                ("GC_POLICY_APPLY", "true"),
                ("GC_DRY_RUN", "true"),
                ("CI_NODE_INDEX", index),
                ("CI_NODE_TOTAL", "2"),
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        seen.extend(
            out.report["policies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["project_path"].as_str().unwrap().to_string()),
        );
    }
    seen.sort();
    assert_eq!(seen, ["demo/platform/api", "demo/shop"]);
}

#[test]
fn a_project_where_the_token_is_not_maintainer_fails_clearly_and_the_run_goes_on() {
    let fake = demo();
    let out = run(
        &fake,
        &[
            ("GC_SCOPE", "group"),
            ("GC_GROUP", "other"),
            ("GC_POLICY_APPLY", "true"),
            ("GC_DRY_RUN", "false"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.log
            .contains("policy       other/tools  failed: PUT /api/v4/projects/4: 403"),
        "{}",
        out.log
    );
    assert!(
        out.log.contains("Maintainer"),
        "the message says which role is needed: {}",
        out.log
    );
    assert!(out
        .junit
        .contains("<failure message=\"cannot apply the cleanup policy\""));
}

#[test]
fn a_job_token_cannot_apply_the_policy() {
    let fake = demo();
    let vars = job_token_env(&fake, &[("GC_POLICY_APPLY", "true")]);
    let out = run_with(&vars);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("job token cannot change project settings"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.stats().total, 0);
}

#[test]
fn invalid_policy_values_are_refused_before_any_request() {
    let fake = demo();
    for (name, value) in [
        ("GC_POLICY_KEEP_N", "7"),
        ("GC_POLICY_OLDER_THAN", "1d"),
        ("GC_POLICY_CADENCE", "weekly"),
        ("GC_POLICY_NAME_REGEX", "("),
    ] {
        let out = run(&fake, &[("GC_POLICY_APPLY", "true"), (name, value)]);
        assert_eq!(out.code, 2, "{name}={value}");
        assert!(out.stderr.contains(name), "{}", out.stderr);
    }
    let out = run(
        &fake,
        &[("GC_POLICY_APPLY", "true"), ("GC_POLICY_OLDER_THAN", "1d")],
    );
    assert!(
        out.stderr.contains("7d, 14d, 30d, 60d, 90d"),
        "lists the allowed values: {}",
        out.stderr
    );
    assert_eq!(fake.stats().total, 0);
}
