//! End to end: the `stale-ref` rule (design §10) against the fake GitLab's branches and merge
//! requests, its request cost, its failures, and the cascade to caches.

mod common;

use common::*;
use serde_json::json;

const BRANCHES: &str = "GET /projects/:id/repository/branches";
const MERGE_REQUESTS: &str = "GET /projects/:id/merge_requests";

/// The demo's scheme: `mr-<iid>` and `preview-<iid>` name merge requests, anything else a branch.
const DEMO_REGEX: &str = "(mr|preview)-(?P<mr>[0-9]+)|(?P<slug>.+)";

fn tag(name: &str, age: &str) -> serde_json::Value {
    json!({"name": name, "age": age})
}

/// Project 1 `g/p` with these branches (the first is the default), merge requests and
/// repositories.
fn project(
    branches: &[&str],
    merge_requests: serde_json::Value,
    repositories: serde_json::Value,
) -> serde_json::Value {
    json!({
        "id": 1, "path": "g/p",
        "default_branch": branches[0],
        "branches": branches.iter().map(|b| json!({"name": b})).collect::<Vec<_>>(),
        "merge_requests": merge_requests,
        "repositories": repositories,
    })
}

fn outcome(out: &Outcome, reference: &str) -> (String, String) {
    let (repo, tag) = reference.split_once(':').unwrap();
    out.rule_of(repo, tag)
}

#[test]
fn each_tag_scheme_deletes_the_tags_of_gone_refs_only() {
    // $CI_COMMIT_REF_SLUG, $CI_COMMIT_REF_SLUG-$CI_COMMIT_SHORT_SHA and mr-$CI_MERGE_REQUEST_IID.
    let cases = [
        (
            "(?P<slug>.+)",
            vec!["feature-login", "fix-1-typo"],
            vec!["feature-gone", "old-spike"],
        ),
        (
            "(?P<slug>.+)-[0-9a-f]{8}",
            vec!["feature-login-3f9a2c1e", "fix-1-typo-0badcafe"],
            vec!["feature-gone-3f9a2c1e", "old-spike-12345678"],
        ),
        (
            "mr-(?P<mr>[0-9]+)",
            vec!["mr-21", "mr-22"],
            vec!["mr-17", "mr-18", "mr-99"],
        ),
    ];
    for (regex, live, gone) in cases {
        let tags: Vec<_> = live
            .iter()
            .chain(&gone)
            .map(|t| tag(t, "3d"))
            .chain([tag("latest", "3d"), tag("v1.2.3", "90d")])
            .collect();
        let fake = fake_with(json!([project(
            &["main", "feature/Login", "fix/1_typo"],
            json!([
                {"iid": 17, "state": "merged", "source_branch": "feature/gone"},
                {"iid": 18, "state": "closed", "source_branch": "old/spike"},
                {"iid": 21, "state": "opened", "source_branch": "feature/Login"},
                {"iid": 22, "state": "opened", "source_branch": "topic", "source_project_id": 7}
            ]),
            json!([{"id": 10, "name": "app", "tags": tags}])
        )]));
        let out = run(
            &fake,
            &[("GC_DRY_RUN", "false"), ("GC_STALE_REF_REGEX", regex)],
        );
        assert_eq!(out.code, 0, "{regex}: {}", out.stderr);
        let mut deleted: Vec<String> = gone.iter().map(|t| format!("g/p/app:{t}")).collect();
        deleted.sort();
        assert_eq!(out.with_outcome("deleted"), deleted, "{regex}");
        for t in &gone {
            assert_eq!(out.rule_of("g/p/app", t).1, "stale-ref", "{regex}: {t}");
        }
        let left = fake.tags("g/p/app");
        for t in live.iter().chain(&["latest", "v1.2.3"]) {
            assert!(left.contains(&t.to_string()), "{regex}: {t} must stay");
        }
    }
}

#[test]
fn reasons_say_what_is_gone_and_how_old_the_tag_is() {
    let fake = fake_with(json!([project(
        &["main"],
        json!([{"iid": 17, "state": "merged", "source_branch": "feature/cart"}]),
        json!([{"id": 10, "name": "app", "tags": [tag("feature-cart", "20d"), tag("mr-17", "60d"), tag("feature-new", "2h")]}])
    )]));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "true"),
            ("GC_STALE_REF_REGEX", "mr-(?P<mr>[0-9]+)|(?P<slug>.+)"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.log.contains("g/p/app:feature-cart  [stale-ref]")
            && out.log.contains(
                "no branch of the project has the slug `feature-cart`; created 20d ago, at least GC_STALE_REF_MIN_AGE=1d"
            ),
        "{}",
        out.log
    );
    assert!(
        out.log
            .contains("merge request !17 is not open; created 60d ago"),
        "{}",
        out.log
    );
    assert!(
        out.log.contains(
            "kept         g/p/app:feature-new  [default]  "
        ) && out.log.contains("no branch of the project has the slug `feature-new`, but created 2h ago, younger than GC_STALE_REF_MIN_AGE=1d"),
        "{}",
        out.log
    );
}

#[test]
fn young_tags_recreated_branches_and_non_matching_tags_stay() {
    let fake = fake_with(json!([project(
        // `feature/again` was deleted and pushed again: it exists, with a fresh head commit.
        &["main", "feature/again"],
        json!([]),
        json!([{"id": 10, "name": "app", "tags": [
            tag("feature-again", "40d"),
            tag("feature-fresh", "3h"),
            tag("feature-old", "3d"),
            tag("nightly-2024", "300d"),
            tag("latest", "1d")
        ]}])
    )]));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_STALE_REF_REGEX", "(?P<slug>feature-.+)"),
            ("GC_STALE_REF_MIN_AGE", "12h"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), ["g/p/app:feature-old"]);
    assert_eq!(
        out.rule_of("g/p/app", "feature-fresh"),
        ("kept".into(), "default".into()),
        "younger than GC_STALE_REF_MIN_AGE"
    );
    assert_eq!(out.rule_of("g/p/app", "feature-again").0, "kept");
    assert_eq!(
        out.rule_of("g/p/app", "nightly-2024"),
        ("kept".into(), "default".into()),
        "a tag the regex does not match is left to the other rules"
    );
}

#[test]
fn merge_requests_count_as_live_only_while_open() {
    let fake = fake_with(json!([project(
        &["main"],
        json!([
            {"iid": 1, "state": "opened", "source_branch": "a"},
            {"iid": 2, "state": "merged", "source_branch": "b"},
            {"iid": 3, "state": "closed", "source_branch": "c"},
            {"iid": 4, "state": "locked", "source_branch": "d"}
        ]),
        json!([{"id": 10, "name": "app", "tags": [
            tag("mr-1", "9d"), tag("mr-2", "9d"), tag("mr-3", "9d"), tag("mr-5", "9d")
        ]}])
    )]));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "true"),
            ("GC_STALE_REF_REGEX", "mr-(?P<mr>[0-9]+)"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("would-delete"),
        sorted(&["g/p/app:mr-2", "g/p/app:mr-3", "g/p/app:mr-5"])
    );
    assert_eq!(out.rule_of("g/p/app", "mr-1").0, "kept");
}

/// App and its cache, where `feature-gone`'s branch is gone and `feature-kept` is protected by
/// a tag protection rule (which needs GitLab's metadata database, so the registry has it).
fn cascade_fixture() -> FakeGitlab {
    fake_over(
        RegistryMode::Gitlab,
        json!([project(
            &["main", "feature/live"],
            json!([]),
            json!([
                {"id": 10, "name": "app", "tags": [
                    tag("feature-live", "9d"), tag("feature-gone", "9d"),
                    {"name": "feature-kept", "age": "9d", "protected": true}
                ]},
                {"id": 11, "name": "app.cache", "tags": [
                    {"name": "feature-live"}, {"name": "feature-gone"}, {"name": "feature-kept"}
                ]}
            ])
        )]),
    )
}

#[test]
fn a_stale_ref_deletion_makes_its_cache_orphaned_in_the_same_run() {
    let fake = cascade_fixture();
    let settings = [
        ("GC_DRY_RUN", "false"),
        ("GC_STALE_REF_REGEX", "(?P<slug>feature-.+)"),
    ];
    let out = run(&fake, &settings);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("deleted"),
        sorted(&["g/p/app.cache:feature-gone", "g/p/app:feature-gone"])
    );
    assert_eq!(
        outcome(&out, "g/p/app.cache:feature-gone"),
        ("deleted".into(), "orphan-cache".into())
    );
    assert!(
        out.log
            .contains("counterpart tag g/p/app:feature-gone is deleted by this run"),
        "{}",
        out.log
    );
    // GitLab's protection rule `feature-kept` covers the image and its cache: known before
    // deciding, so neither is planned.
    for tag in ["g/p/app:feature-kept", "g/p/app.cache:feature-kept"] {
        assert_eq!(outcome(&out, tag), ("kept".into(), "protected".into()));
    }
    assert_eq!(fake.tags("g/p/app.cache"), ["feature-kept", "feature-live"]);
    // One run converges: the second finds nothing more to delete.
    let again = run(&fake, &settings);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.with_outcome("deleted").is_empty());

    // A dry run reports the cascade the same way.
    let fake = cascade_fixture();
    let dry = run(&fake, &[settings[1], ("GC_DRY_RUN", "true")]);
    assert_eq!(
        dry.with_outcome("would-delete"),
        sorted(&["g/p/app.cache:feature-gone", "g/p/app:feature-gone"])
    );
}

#[test]
fn a_failed_branch_or_merge_request_listing_keeps_every_tag_it_would_judge() {
    for endpoint in [
        "/projects/:id/repository/branches",
        "/projects/:id/merge_requests",
    ] {
        let fake = fake_with(json!([project(
            &["main"],
            json!([]),
            json!([{"id": 10, "name": "app", "tags": [
                tag("feature-gone", "9d"), {"name": "broken", "broken": true}, tag("latest", "1d")
            ]}])
        )]));
        fake.set_faults(faults(json!({"scripted": [
            {"method": "GET", "endpoint": endpoint, "fault": "503", "times": 1000}
        ]})));
        let out = run(
            &fake,
            &[
                ("GC_DRY_RUN", "false"),
                ("GC_STALE_REF_REGEX", "(?P<slug>.+)"),
                ("GC_OLDER_THAN", "1d"),
            ],
        );
        assert_eq!(out.code, 1, "an API operation failed: {}", out.stderr);
        // The broken tag is judged on its own details; the named tag is kept, even though
        // GC_OLDER_THAN alone would delete it.
        assert_eq!(out.with_outcome("deleted"), ["g/p/app:broken"]);
        assert_eq!(
            out.rule_of("g/p/app", "feature-gone"),
            ("kept".into(), "error".into())
        );
        let reason = out.report["repositories"][0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "feature-gone")
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            reason.starts_with("stale-ref unknown: GET /api/v4/projects/1/")
                && reason.contains("503"),
            "{reason}"
        );
        assert!(
            out.log
                .contains("error        g/p  branches and merge requests: "),
            "{}",
            out.log
        );
        assert_eq!(out.report["summary"]["errors"], 1);
        assert!(fake.tags("g/p/app").contains(&"feature-gone".to_string()));
    }
}

#[test]
fn a_branch_list_without_a_default_branch_is_not_trusted() {
    let fake = fake_with(json!([{
        "id": 1, "path": "g/p", "branches": [],
        "repositories": [{"id": 10, "name": "app", "tags": [tag("feature-x", "9d")]}]
    }]));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_STALE_REF_REGEX", "(?P<slug>.+)"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(deletions_sent(&fake), 0);
    assert!(
        out.log
            .contains("stale-ref unknown: the branch list names no default branch (project 1)"),
        "{}",
        out.log
    );
}

#[test]
fn job_token_with_stale_ref_regex_is_a_configuration_error_before_any_request() {
    let fake = demo();
    let out = run_with(&job_token_env(
        &fake,
        &[("GC_STALE_REF_REGEX", "(?P<slug>.+)")],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("GC_STALE_REF_REGEX: needs API_TOKEN"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.stats().total, 0);
}

#[test]
fn a_regex_that_is_invalid_or_names_no_ref_is_a_configuration_error() {
    let fake = demo();
    for (regex, says) in [
        ("(?P<slug>.+", "is not a valid regex"),
        ("feature-.+", "has no named group `slug` or `mr`"),
        ("(?P<branch>.+)", "has no named group `slug` or `mr`"),
    ] {
        let out = run(&fake, &[("GC_STALE_REF_REGEX", regex)]);
        assert_eq!(out.code, 2, "{regex}: {}", out.stderr);
        assert!(
            out.stderr.contains("GC_STALE_REF_REGEX: ") && out.stderr.contains(says),
            "{regex}: {}",
            out.stderr
        );
    }
    let out = run(&fake, &[("GC_STALE_REF_MIN_AGE", "1 day")]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("GC_STALE_REF_MIN_AGE"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.stats().total, 0);
}

#[test]
fn many_branches_across_pages_are_all_seen() {
    let branches: Vec<String> = std::iter::once("main".to_string())
        .chain((0..249).map(|i| format!("feature/b-{i:03}")))
        .collect();
    let names: Vec<&str> = branches.iter().map(String::as_str).collect();
    // A tag of a branch on each page of the branch list, and tags of branches that are gone.
    let tags: Vec<_> = ["feature-b-000", "feature-b-120", "feature-b-248"]
        .iter()
        .chain(&["feature-b-249", "feature-b-999"])
        .map(|t| tag(t, "5d"))
        .collect();
    let fake = fake_with(json!([project(
        &names,
        json!([]),
        json!([{"id": 10, "name": "app", "tags": tags}])
    )]));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "true"),
            ("GC_STALE_REF_REGEX", "(?P<slug>.+)"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("would-delete"),
        sorted(&["g/p/app:feature-b-249", "g/p/app:feature-b-999"])
    );
    assert_eq!(
        requests(&fake, BRANCHES),
        3,
        "250 branches are 3 pages of 100"
    );
    assert_eq!(requests(&fake, MERGE_REQUESTS), 1);
}

#[test]
fn refs_are_listed_once_per_project_with_named_tags_and_details_only_where_they_matter() {
    // Two projects with named tags in several repositories, one without any.
    let repo = |id: u64, name: &str, tags: serde_json::Value| json!({"id": id, "name": name, "tags": tags});
    let fake = fake_with(json!([
        project(&["main", "feature/live"], json!([{"iid": 4, "source_branch": "feature/live"}]), json!([
            repo(10, "app", json!([tag("feature-live", "9d"), tag("feature-gone", "9d"), tag("mr-4", "9d"), tag("mr-5", "9d"), tag("latest", "1d"), tag("release-1", "9d")])),
            repo(11, "worker", json!([tag("feature-gone", "9d"), tag("main", "1d")]))
        ])),
        {"id": 2, "path": "g/q", "repositories": [repo(20, "api", json!([tag("feature-other", "9d")]))]},
        {"id": 3, "path": "g/r", "repositories": [repo(30, "db", json!([tag("latest", "9d"), tag("v1.0.0", "9d")]))]}
    ]));
    let settings = [
        ("GC_SCOPE", "all"),
        ("GC_DRY_RUN", "true"),
        (
            "GC_STALE_REF_REGEX",
            "mr-(?P<mr>[0-9]+)|(?P<slug>feature-.+)",
        ),
        ("GC_DELETE_BROKEN", "false"),
    ];
    let out = run(&fake, &settings);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("would-delete"),
        sorted(&[
            "g/p/app:feature-gone",
            "g/p/app:mr-5",
            "g/p/worker:feature-gone",
            "g/q/api:feature-other"
        ])
    );
    // The floor: one branch and one merge request listing for each project with a named tag
    // (g/p and g/q; g/r has none), never per tag or per repository.
    assert_eq!(requests(&fake, BRANCHES), 2);
    assert_eq!(requests(&fake, MERGE_REQUESTS), 2);
    // Details only for the named tags whose ref is gone (their age decides); the live ones,
    // `release-1` and the keep-regex tags cannot be deleted by any rule, so need none.
    if on_rest() {
        assert_eq!(requests(&fake, DETAILS), 4);
    }
    assert_eq!(
        out.report["summary"]["requests"]["by_endpoint"][BRANCHES], 2,
        "counted in the summary"
    );
    assert!(out.log.contains(&format!("{BRANCHES}: 2")), "{}", out.log);
    assert!(
        out.log.contains(&format!("{MERGE_REQUESTS}: 2")),
        "{}",
        out.log
    );

    // With GC_OLDER_THAN, the live tags' ages matter too: every candidate needs its details.
    fake.reset_stats();
    let mut with_age = settings.to_vec();
    with_age.push(("GC_OLDER_THAN", "30d"));
    let out = run(&fake, &with_age);
    assert_eq!(out.code, 0, "{}", out.stderr);
    if on_rest() {
        // Every tag but the five kept by GC_KEEP_REGEX.
        assert_eq!(requests(&fake, DETAILS), 11 - 4);
    }

    // Without the rule, no branch or merge request is listed.
    fake.reset_stats();
    let out = run(&fake, &settings[..2]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        requests(&fake, BRANCHES) + requests(&fake, MERGE_REQUESTS),
        0
    );
}

#[test]
fn demo_deletes_the_images_of_the_deleted_branch_and_the_merged_merge_request_with_their_caches() {
    let fake = demo();
    let settings = [
        ("GC_SCOPE", "group"),
        ("GC_GROUP", "demo"),
        ("GC_DRY_RUN", "false"),
        ("GC_STALE_REF_REGEX", DEMO_REGEX),
    ];
    let out = run(&fake, &settings);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stale: Vec<String> = out
        .tags()
        .into_iter()
        .filter(|t| t.3 == "stale-ref")
        .map(|t| format!("{}:{}", t.0, t.1))
        .collect();
    // renovate-deps is an attested image GitLab cannot date: the registry's config gives its
    // age (40 days). multiarch-20240101 has lost a platform manifest: `broken` where GitLab
    // cannot show it, so the registry is read; shown (and so not read) on the database.
    let mut expected = vec![
        "demo/shop/app:feature-cart",
        "demo/shop/app:mr-17",
        "demo/shop/app:renovate-deps",
    ];
    if registry_mode() != RegistryMode::Legacy {
        expected.push("demo/shop/app:multiarch-20240101");
    }
    assert_eq!(stale, sorted(&expected));
    assert_eq!(
        outcome(&out, "demo/shop/app.cache:feature-cart"),
        ("deleted".into(), "orphan-cache".into()),
        "the cache of a stale-ref tag goes with it"
    );
    // Every live branch's and open merge request's images stay.
    for (repo, tag) in [
        ("demo/shop/app", "feature-login"),
        ("demo/shop/app", "fix-typo"),
        ("demo/shop/app.cache", "feature-login"),
        ("demo/shop/docs", "preview-7"),
        ("demo/platform/api/server", "feature-auth"),
        ("demo/platform/api/server.cache", "feature-auth"),
    ] {
        assert!(
            fake.tags(repo).contains(&tag.to_string()),
            "{repo}:{tag} must stay"
        );
    }
    assert_eq!(
        requests(&fake, BRANCHES),
        2,
        "demo/shop and demo/platform/api"
    );
    assert_eq!(requests(&fake, MERGE_REQUESTS), 2);
    let again = run(&fake, &settings);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.with_outcome("deleted").is_empty());
}

#[test]
fn the_default_branch_and_protected_branches_are_live_like_any_other() {
    let fake = fake_with(json!([{
        "id": 1, "path": "g/p", "default_branch": "develop",
        "branches": [
            {"name": "develop"},
            {"name": "release/1.x", "protected": true},
            {"name": "feature/x"}
        ],
        "repositories": [{"id": 10, "name": "app", "tags": [
            tag("develop", "90d"), tag("release-1-x", "90d"), tag("release-2-x", "90d"), tag("feature-x", "90d")
        ]}]
    }]));
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_STALE_REF_REGEX", "(?P<slug>.+)"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), ["g/p/app:release-2-x"]);
    assert_eq!(
        fake.tags("g/p/app"),
        ["develop", "feature-x", "release-1-x"]
    );
}
