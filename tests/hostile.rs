//! Hostile or odd data, and interrupted runs: names that need URL encoding (and two that cannot
//! be sent at all), deep subgroups, empty repositories, a listing past GitLab's 10,000-row count
//! limit, a tag listed twice because one was pushed mid-listing, repositories deleted mid-run,
//! a huge JSON body, and SIGINT. Each is handled without a panic, reported clearly, and never
//! costs a tag the rules keep.
//!
//! These are about REST's mechanics (URL paths, offset pagination, `X-Total`, REST faults), so
//! they run over REST whatever the suite's backend; tests/graphql.rs covers GraphQL's.

mod common;

use common::*;
use serde_json::json;

fn run(fake: &FakeGitlab, extra: &[(&str, &str)]) -> common::Outcome {
    run_on("rest", fake, extra)
}

fn faults(value: serde_json::Value) -> Faults {
    serde_json::from_value(value).expect("fault JSON matches the fake's Faults")
}

fn fixture(value: serde_json::Value) -> Fixture {
    Fixture::from_json(&value.to_string()).expect("valid fixture")
}

/// Broken tags whose names need percent-encoding (GitLab's registry would never hold most of
/// them; a misbehaving server might list them): each must be deleted by exactly its own name.
const ODD_NAMES: &[&str] = &[
    "a b",
    "a?b",
    "a#b",
    "a%2Fb",
    "a%",
    "ü-tag",
    "x+y",
    "semi;colon",
    "...",
    "-dash",
    "q\"uote",
    "<x>",
    "bell\u{7}",
    "back\\slash",
];

/// Names a URL cannot carry faithfully: `.` and `..` vanish from the path (the request would
/// reach another endpoint) and URL parsing drops tab and newline (`late\nst` would be `latest`).
const UNSENDABLE: &[&str] = &[".", "..", "new\nline", "tab\there"];

#[test]
fn names_needing_url_encoding_subgroups_and_empty_repositories() {
    let mut tags: Vec<serde_json::Value> = ODD_NAMES
        .iter()
        .map(|n| json!({"name": n, "broken": true}))
        .collect();
    tags.push(json!({"name": "latest", "age": "1h"}));
    tags.push(json!({"name": "newline", "age": "2h"}));
    tags.push(json!({"name": "tabhere", "age": "2h"}));
    for name in UNSENDABLE {
        tags.push(json!({"name": name, "broken": true}));
    }
    let fake = FakeGitlab::start(fixture(json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "groups": [{"id": 7, "path": "odd", "access_level": 40}],
        "projects": [{"id": 3, "path": "odd/sub.grp/deeper/my-proj_1", "repositories": [
            {"id": 30, "name": "a/b/img.v2", "tags": tags},
            {"id": 31, "name": "empty"},
            {"id": 32, "name": "x-y_z.cache", "tags": [{"name": "ü-tag"}]}
        ]}]
    })));
    let out = run(
        &fake,
        &[
            ("GC_SCOPE", "group"),
            ("GC_GROUP", "odd/sub.grp"),
            ("GC_DRY_RUN", "false"),
        ],
    );
    // The unsendable names are kept as errors (the run says so with exit 1), and the tags
    // they would have reached by mistake are untouched.
    assert_eq!(out.code, 1, "{}", out.stderr);
    let left = fake.tags("odd/sub.grp/deeper/my-proj_1/a/b/img.v2");
    assert_eq!(
        left,
        [
            ".",
            "..",
            "latest",
            "new\nline",
            "newline",
            "tab\there",
            "tabhere"
        ],
        "{}",
        out.log
    );
    for name in UNSENDABLE {
        assert_eq!(
            out.rule_of("odd/sub.grp/deeper/my-proj_1/a/b/img.v2", name),
            ("kept".into(), "error".into())
        );
    }
    assert!(
        out.log.contains("not a valid tag name"),
        "the log says why: {}",
        out.log
    );
    let stats = fake.stats();
    assert_eq!(
        stats.endpoint("DELETE (unknown)") + stats.endpoint("GET (unknown)"),
        0,
        "no request went to another endpoint: {:?}",
        stats.by_endpoint
    );
    assert_eq!(requests(&fake, DELETE) as usize, ODD_NAMES.len() + 1);
    // The orphaned cache tag of a missing counterpart, with a non-ASCII name.
    assert!(fake
        .tags("odd/sub.grp/deeper/my-proj_1/x-y_z.cache")
        .is_empty());
    // The empty repository is reported, without an error.
    let empty = out.report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "odd/sub.grp/deeper/my-proj_1/empty")
        .expect("the empty repository is reported");
    assert!(empty["error"].is_null() && empty["tags"].as_array().unwrap().is_empty());
    // Every name round-trips through the JSON report, and gc.log keeps one line per tag.
    for name in ODD_NAMES {
        assert_eq!(
            out.rule_of("odd/sub.grp/deeper/my-proj_1/a/b/img.v2", name),
            ("deleted".into(), "broken".into())
        );
    }
    assert!(
        out.log.contains(r"img.v2:new\nline  [error]"),
        "{}",
        out.log
    );
    assert!(
        !out.log.lines().any(|l| l.starts_with("line")),
        "{}",
        out.log
    );
    junit_counts(&out.junit);
}

#[test]
fn a_listing_past_gitlabs_count_limit_is_read_to_the_end() {
    // 10,001 tags: 101 pages, and past 10,000 rows GitLab drops X-Total, X-Total-Pages and
    // rel="last" (lib/gitlab/pagination/offset_pagination.rb): only the next-page links remain.
    let tags: Vec<serde_json::Value> = (0..10_001)
        .map(|i| json!({"name": format!("t{i:05}"), "age": "1h"}))
        .collect();
    let fake = FakeGitlab::start(fixture(json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "projects": [{"id": 1, "path": "big/p", "repositories": [{"id": 10, "name": "app", "tags": tags}]}]
    })));
    // No rule needs details: the run is listing only.
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "true"),
            ("GC_DELETE_BROKEN", "false"),
            ("GC_DELETE_ORPHAN_CACHE", "false"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(requests(&fake, LIST_TAGS), 101);
    assert_eq!(requests(&fake, DETAILS), 0);
    assert_eq!(out.report["summary"]["tags"], 10_001);
}

#[test]
fn a_tag_pushed_mid_listing_makes_the_listing_be_read_again_and_nothing_twice() {
    // 150 tags, every 10th broken. While page 2 is served, a tag is pushed that sorts first:
    // page 2 starts one tag earlier and repeats the last tag of page 1.
    let tags: Vec<serde_json::Value> = (0..150)
        .map(|i| json!({"name": format!("b{i:03}"), "age": "1h", "broken": i % 10 == 9}))
        .collect();
    let fake = FakeGitlab::start(fixture(json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "projects": [{"id": 1, "path": "dup/p", "repositories": [{"id": 10, "name": "app", "tags": tags}]}]
    })));
    fake.set_faults(faults(json!({"scripted": [
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags", "fault": "concurrent_push", "skip": 1}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.stats().fault("concurrent_push"), 1);
    // X-Total changed between the pages, so the listing is not trusted and is read once more:
    // the second listing is consistent and includes the pushed tag.
    assert_eq!(requests(&fake, LIST_TAGS), 4, "2 pages, then 2 pages again");
    let reported = out.tags();
    assert_eq!(
        reported.len(),
        151,
        "each tag reported once, the pushed one too"
    );
    assert_eq!(requests(&fake, DELETE), 15, "each broken tag deleted once");
    assert_eq!(requests(&fake, DETAILS), 151, "details read once per tag");
    let left = fake.tags("dup/p/app");
    assert_eq!(left.len(), 150 - 15 + 1);
    assert!(
        left.contains(&"0-pushed-0".to_string()),
        "the new tag is untouched"
    );
}

fn two_repositories() -> Fixture {
    fixture(json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "projects": [{"id": 1, "path": "mid/p", "repositories": [
            {"id": 10, "name": "a", "tags": [{"name": "x", "broken": true}, {"name": "y", "age": "1d"}]},
            {"id": 11, "name": "b", "tags": [{"name": "x", "broken": true}, {"name": "y", "age": "1d"}]},
            {"id": 12, "name": "b.cache", "tags": [{"name": "y"}, {"name": "z"}]}
        ]}]
    }))
}

#[test]
fn a_repository_deleted_mid_run_is_reported_and_left_alone() {
    // Its tag list answers GitLab's 404: that repository is reported, the others are cleaned.
    let fake = FakeGitlab::start(two_repositories());
    fake.set_faults(faults(json!({"scripted": [
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags", "fault": "404", "skip": 1}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false"), ("GC_CONCURRENCY", "1")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("mid/p/b: GET /api/v4/projects/1/registry/repositories/11/tags: 404"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.tags("mid/p/a"), ["y"]);
    assert_eq!(fake.tags("mid/p/b"), ["x", "y"], "left untouched");
    // Its cache is not judged orphaned on a counterpart it could not read.
    assert_eq!(fake.tags("mid/p/b.cache"), ["y", "z"]);

    // Its tags' details answer 404 `Not found` (not GitLab's `Tag Not Found`): the tags are
    // kept as errors, not mistaken for broken tags and deleted.
    let fake = FakeGitlab::start(two_repositories());
    fake.set_faults(faults(json!({"scripted": [
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags/:tag_name", "fault": "404", "times": 1000}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(deletions_sent(&fake), 0);
    assert!(out
        .tags()
        .iter()
        .filter(|t| t.1 == "x")
        .all(|t| t.3 == "error"));

    // A DELETE answering GitLab's 404 `Not found` (repository or tag gone): already gone, not
    // an error.
    let fake = FakeGitlab::start(two_repositories());
    fake.set_faults(faults(json!({"scripted": [
        {"method": "DELETE", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags/:tag_name", "fault": "404", "times": 1}
    ]})));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_CONCURRENCY", "1"),
            ("GC_DELETE_BROKEN", "false"),
            ("GC_OLDER_THAN", "1h"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.rule_of("mid/p/a", "y"),
        ("already-gone".into(), "older-than".into())
    );
}

/// A 404 to the DELETE of a broken tag means "this GitLab cannot delete it" (older versions), or
/// "already deleted" when the DELETE was retried after its first answer was lost: the tag list
/// tells which, so the report says what happened.
#[test]
fn a_broken_tags_404_is_checked_against_the_tag_list() {
    const FIRST_DELETE: &str = "/projects/:id/registry/repositories/:repository_id/tags/:tag_name";
    // The first DELETE (mid/p/a:x) is applied, its answer lost; the retry meets 404.
    let fake = FakeGitlab::start(two_repositories());
    fake.set_faults(faults(json!({"scripted": [
        {"method": "DELETE", "endpoint": FIRST_DELETE, "fault": "drop_after"}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false"), ("GC_CONCURRENCY", "1")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.tags("mid/p/a"), ["y"]);
    assert_eq!(
        out.rule_of("mid/p/a", "x"),
        ("deleted".into(), "broken".into())
    );
    assert!(out.log.contains("deleted      mid/p/a:x"), "{}", out.log);

    // A 404 while the tag is still there: this GitLab cannot delete it.
    let fake = FakeGitlab::start(two_repositories());
    fake.set_faults(faults(json!({"scripted": [
        {"method": "DELETE", "endpoint": FIRST_DELETE, "fault": "404"}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false"), ("GC_CONCURRENCY", "1")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.tags("mid/p/a"), ["x", "y"]);
    assert_eq!(
        out.rule_of("mid/p/a", "x"),
        ("kept".into(), "broken-undeletable".into())
    );
}

/// `repository → tags` of the whole fake.
fn registry(fake: &FakeGitlab) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for project in fake.state()["projects"].as_object().unwrap().values() {
        for (path, tags) in project["repositories"].as_object().unwrap() {
            out.push((path.clone(), tags.clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn a_huge_json_body_is_read_and_changes_nothing() {
    let reference = demo();
    let expected = run(&reference, &[("GC_DRY_RUN", "false")]);
    assert_eq!(expected.code, 0);

    let fake = demo();
    fake.set_faults(faults(json!({"huge_body_bytes": 48 << 20, "scripted": [
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories", "fault": "huge"},
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags", "fault": "huge"},
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags/:tag_name", "fault": "huge"}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.stats().fault("huge"), 3);
    assert_eq!(
        out.with_outcome("deleted"),
        expected.with_outcome("deleted")
    );
    assert_eq!(registry(&fake), registry(&reference));
}

#[test]
fn sigint_mid_run_stops_deleting_flushes_reports_exits_130_and_the_next_run_completes() {
    interrupt_mid_run("INT", 130);
}
