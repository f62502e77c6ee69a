//! End to end: `GC_REPOSITORY_REGEX` and `GC_REPOSITORY_EXCLUDE_REGEX` choose what a run decides,
//! before any tag is listed, and never what it knows.

mod common;

use common::*;
use serde_json::json;

fn tag_lists(fake: &FakeGitlab) -> u64 {
    if on_rest() {
        requests(fake, LIST_TAGS)
    } else {
        requests(fake, GRAPHQL_TAGS)
    }
}

fn decided(out: &Outcome) -> Vec<String> {
    out.report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect()
}

fn skipped(out: &Outcome) -> Vec<(String, String)> {
    out.report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["what"].as_str().unwrap().to_string(),
                s["why"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// What a run deletes in demo/shop/app alone (see tests/gc.rs `demo_shop_deletes`).
fn demo_app_deletes() -> Vec<String> {
    let mut deletes = vec![
        "demo/shop/app:nightly-broken",
        "demo/shop/app:sha256-0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c.sig",
    ];
    if registry_mode() == RegistryMode::Legacy {
        // GitLab cannot show the index, so the registry is asked: a platform manifest is gone.
        deletes.push("demo/shop/app:multiarch-20240101");
    }
    sorted(&deletes)
}

#[test]
fn include_and_exclude_choose_the_repositories_before_any_tag_is_listed() {
    let fake = demo();
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_REPOSITORY_REGEX", "demo/shop/(app|docs).*"),
            ("GC_REPOSITORY_EXCLUDE_REGEX", r".*\.cache|.*/docs"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(decided(&out), ["demo/shop/app"], "exclusion wins");
    assert_eq!(out.with_outcome("deleted"), demo_app_deletes());
    let left_out = skipped(&out);
    assert_eq!(left_out.len(), 4, "{left_out:?}");
    assert!(left_out.contains(&(
        "demo/shop/worker.cache".into(),
        r"matches GC_REPOSITORY_EXCLUDE_REGEX `.*\.cache|.*/docs`".into()
    )));
    assert!(left_out
        .iter()
        .any(|(what, why)| what == "demo/shop/docs" && why.contains("EXCLUDE")));
    assert!(left_out.contains(&(
        "demo/shop/charts".into(),
        "does not match GC_REPOSITORY_REGEX `demo/shop/(app|docs).*`".into()
    )));
    assert_eq!(out.report["summary"]["repositories_skipped"], 4);
    assert!(
        out.log.contains("repositories:    1 (4 skipped)"),
        "{}",
        out.log
    );
    assert!(
        out.log
            .contains("skipped      demo/shop/app.cache  (matches GC_REPOSITORY_EXCLUDE_REGEX"),
        "{}",
        out.log
    );
    assert_eq!(
        tag_lists(&fake),
        1,
        "only the repository in scope is listed"
    );
    // Untouched: the caches (orphan-cache would delete from both) and the docs.
    assert_eq!(fake.tags("demo/shop/app.cache").len(), 5);
    assert_eq!(fake.tags("demo/shop/worker.cache").len(), 2);

    // A repository the include regex does not match fully is out.
    let out = run(
        &fake,
        &[("GC_DRY_RUN", "true"), ("GC_REPOSITORY_REGEX", "demo/shop")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(decided(&out).is_empty());
    assert!(skipped(&out)
        .iter()
        .all(|(_, why)| why == "does not match GC_REPOSITORY_REGEX `demo/shop`"));
}

#[test]
fn a_cache_whose_counterpart_is_excluded_is_judged_against_the_counterparts_tags() {
    let fake = demo();
    let app_before = fake.tags("demo/shop/app");
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_REPOSITORY_EXCLUDE_REGEX", "demo/shop/app"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        decided(&out),
        [
            "demo/shop/app.cache",
            "demo/shop/charts",
            "demo/shop/docs",
            "demo/shop/worker.cache"
        ]
    );
    // feature-gone and renovate-old have no tag in app; feature-login and feature-cart do.
    assert_eq!(
        out.with_outcome("deleted"),
        sorted(&[
            "demo/shop/app.cache:feature-gone",
            "demo/shop/app.cache:renovate-old",
            "demo/shop/worker.cache:feature-login"
        ])
    );
    assert_eq!(
        out.rule_of("demo/shop/app.cache", "feature-login").0,
        "kept"
    );
    // Nothing in app is decided, deleted or reported, not even its broken tags.
    assert_eq!(fake.tags("demo/shop/app"), app_before);
    assert!(out.tags().iter().all(|t| t.0 != "demo/shop/app"));
    let decision_about_app = |line: &str| {
        line.split_whitespace()
            .nth(1)
            .is_some_and(|tag| tag.starts_with("demo/shop/app:"))
    };
    assert!(!out.log.lines().any(decision_about_app), "{}", out.log);
    assert!(
        !out.junit.contains("classname=\"demo/shop/app\""),
        "{}",
        out.junit
    );
    assert_eq!(
        skipped(&out),
        [(
            "demo/shop/app".to_string(),
            "matches GC_REPOSITORY_EXCLUDE_REGEX `demo/shop/app`; its tags are read as the counterpart of demo/shop/app.cache".to_string()
        )]
    );
    assert_eq!(out.report["summary"]["repositories_skipped"], 1);
    // Its tags are listed once, for knowledge; none of its details is ever asked for.
    assert_eq!(tag_lists(&fake), 5);
    if on_rest() {
        let decided_tags = out.tags().iter().filter(|t| t.3 != "keep-regex").count() as u64;
        assert_eq!(requests(&fake, DETAILS), decided_tags);
    }
}

#[test]
fn a_counterpart_read_for_knowledge_that_cannot_be_listed_keeps_its_caches_tags() {
    let fake = fake_with(json!([{"id": 1, "path": "g/p", "repositories": [
        {"id": 10, "name": "app", "tags": [{"name": "a", "age": "1d"}]},
        {"id": 11, "name": "app.cache", "tags": [{"name": "a"}, {"name": "gone"}]}
    ]}]));
    let (method, endpoint) = tag_listing_route();
    // One worker lists the cache first, then its counterpart, whose every attempt fails.
    fake.set_faults(faults(json!({"scripted": [
        {"method": method, "endpoint": endpoint, "fault": "503", "times": 5, "skip": 1}
    ]})));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_REPOSITORY_EXCLUDE_REGEX", "g/p/app"),
            ("GC_CONCURRENCY", "1"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(deletions_sent(&fake), 0);
    // Kept: without the counterpart's tags nothing says it is orphaned. (Undated where GitLab
    // has no metadata database, hence `unknown-age` there.)
    let expected = if registry_mode() == RegistryMode::Legacy {
        "unknown-age"
    } else {
        "default"
    };
    assert_eq!(
        out.rule_of("g/p/app.cache", "gone"),
        ("kept".into(), expected.into())
    );
    assert!(
        out.log
            .contains("error        g/p/app  tag list failed (read as a cache's counterpart): "),
        "{}",
        out.log
    );
    assert_eq!(out.report["errors"][0]["what"], "g/p/app");
}
