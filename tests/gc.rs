//! End-to-end: the real binary against the stateful fake GitLab over HTTP. Assertions are on the
//! fake's state after the run and on the reports, not on call sequences.

mod common;

use common::*;
use serde_json::json;

/// What the rules delete in the demo's project 1 with default settings, on the suite's
/// registry (component-tests/fixtures/demo.json).
fn demo_shop_deletes() -> Vec<String> {
    sorted(match registry_mode() {
        RegistryMode::Legacy => &[
            // Really broken, as the registry says: a manifest gone from storage, an index
            // whose platform manifest is gone.
            "demo/shop/app:multiarch-20240101",
            "demo/shop/app:nightly-broken",
            // Orphaned caches: the counterpart tag or repository is gone (one of them a
            // BuildKit cache index GitLab cannot show).
            "demo/shop/app.cache:renovate-old",
            "demo/shop/app.cache:feature-gone",
            "demo/shop/worker.cache:feature-login",
            // A cosign signature of an image no tag points at any more.
            "demo/shop/app:sha256-0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c.sig",
            // Not deleted: the working buildx images with attestations (feature-login,
            // renovate-deps) whose details GitLab cannot read without the metadata
            // database, which the seed's `broken` rule deleted.
        ],
        // With the database GitLab shows every tag the registry has, with a push time as
        // `created_at`: only the manifest gone from storage answers 404 (the index with a
        // lost platform manifest is shown, so not read: the database keeps children from
        // going). No cache has the null `created_at` the seed's orphan-cache rule looked
        // for: the registry says which tags of a cache repository are caches.
        _ => &[
            "demo/shop/app:nightly-broken",
            "demo/shop/app.cache:renovate-old",
            "demo/shop/app.cache:feature-gone",
            "demo/shop/worker.cache:feature-login",
            "demo/shop/app:sha256-0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c9a1e5b7d0f3c.sig",
        ],
    })
}

/// The same for the demo's project 2 (group demo/platform), on either registry: its working
/// attested image and that image's cache stay.
fn demo_platform_deletes() -> Vec<String> {
    sorted(&["demo/platform/api/server.cache:feature-removed"])
}

/// What the plan deletes in project 1: GitLab refuses none of the demo's deletions.
fn demo_shop_planned() -> Vec<String> {
    demo_shop_deletes()
}

fn faults(value: serde_json::Value) -> Faults {
    serde_json::from_value(value).expect("fault JSON matches the fake's Faults")
}

#[test]
fn demo_real_run_deletes_broken_and_orphaned_cache_tags_only_and_converges() {
    let fake = demo();
    let before_app = fake.tags("demo/shop/app");
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), demo_shop_deletes());

    // Stable, release and branch tags stay.
    let app = fake.tags("demo/shop/app");
    for tag in [
        "latest",
        "main",
        "v1.0.0",
        "v1.1.0",
        "v1.2.0",
        "feature-cart",
        "fix-typo",
        "mr-17",
    ] {
        assert!(app.contains(&tag.to_string()), "{tag} must stay");
    }
    let app_deleted = demo_shop_deletes()
        .iter()
        .filter(|t| t.starts_with("demo/shop/app:"))
        .count();
    assert_eq!(app.len(), before_app.len() - app_deleted);
    let legacy = registry_mode() == RegistryMode::Legacy;
    // The caches of the branches that have images stay.
    assert_eq!(
        fake.tags("demo/shop/app.cache"),
        ["feature-cart", "feature-login", "main"]
    );
    assert_eq!(fake.tags("demo/shop/worker.cache"), ["main"]);
    assert!(
        out.log
            .contains("counterpart repository demo/shop/worker does not exist"),
        "{}",
        out.log
    );
    if legacy {
        assert_eq!(
            out.rule_of("demo/shop/app.cache", "feature-cart"),
            ("kept".into(), "unknown-age".into())
        );
    }
    assert_eq!(
        out.rule_of("demo/shop/app", "latest"),
        ("kept".into(), "keep-regex".into())
    );
    assert!(out.log.contains("--- summary ---"));

    assert_eq!(
        requests(&fake, "GET /projects/:id/registry/repositories"),
        1
    );
    let tags = out.tags();
    type Reported = (String, String, String, String);
    let count = |f: &dyn Fn(&Reported) -> bool| tags.iter().filter(|t| f(t)).count() as u64;
    // Tags GitLab refused to delete: protected, and the broken tag it cannot delete.
    let refused = count(&|t| t.3 == "protected" || t.3 == "broken-undeletable");
    if on_rest() {
        // The REST floor: one tag list per repository, details for every tag not kept by
        // regex, one DELETE per planned deletion.
        let planned = demo_shop_planned().len() as u64;
        assert_eq!(requests(&fake, LIST_TAGS), 5);
        let not_kept_by_regex = count(&|t| t.3 != "keep-regex");
        assert_eq!(requests(&fake, DETAILS), not_kept_by_regex);
        assert_eq!(requests(&fake, DELETE), planned);
        // The protection rules, once per project, so a protected tag is never planned.
        assert_eq!(requests(&fake, PROTECTION_RULES), 1);
        // Registry tokens: one proving the login, one for every repository read.
        assert_eq!(requests(&fake, REALM), 2);
        assert_eq!(
            fake.stats().total,
            1 + 1 + 5 + not_kept_by_regex + planned + 2
        );
    } else {
        // The GraphQL floor: the probe, one tag page per repository (all under 20 tags), no
        // REST details (a tag whose GraphQL fields are null is read in the registry, and
        // protection comes with the listing), one delete call per repository with deletions,
        // and one REST DELETE for each tag GitLab did not delete in the batch, to learn why.
        let broken = 0;
        let repos_with_deletions = {
            let mut r: Vec<&str> = tags
                .iter()
                .filter(|t| t.2 == "deleted" || refused_rule(&t.3))
                .map(|t| t.0.as_str())
                .collect();
            r.dedup();
            r.len() as u64
        };
        assert_eq!(requests(&fake, GRAPHQL_PROBE), 1);
        assert_eq!(requests(&fake, GRAPHQL_TAGS), 5);
        assert_eq!(requests(&fake, DETAILS), broken);
        assert_eq!(requests(&fake, GRAPHQL_DELETE), repos_with_deletions);
        assert_eq!(requests(&fake, DELETE), refused);
        // Protection comes with the tag pages (userPermissions): no rules request.
        assert_eq!(requests(&fake, PROTECTION_RULES), 0);
        assert_eq!(requests(&fake, REALM), 2);
        assert_eq!(
            fake.stats().total,
            1 + 1 + 5 + broken + repos_with_deletions + refused + 2
        );
    }

    let second = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.with_outcome("deleted").is_empty(),
        "a second run deletes nothing: {:?}",
        second.with_outcome("deleted")
    );
}

fn refused_rule(rule: &str) -> bool {
    rule == "protected" || rule == "broken-undeletable"
}

#[test]
fn dry_run_deletes_nothing_and_reports_what_it_would_delete() {
    let fake = demo();
    let out = run(&fake, &[("GC_DRY_RUN", "true")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(deletions_sent(&fake), 0);
    assert_eq!(out.with_outcome("would-delete"), demo_shop_planned());
    assert_eq!(fake.tags("demo/shop/app.cache").len(), 5);
    let (_, _, skipped) = junit_counts(&out.junit);
    assert_eq!(
        skipped,
        demo_shop_planned().len(),
        "would-delete shows as skipped in JUnit"
    );
    assert!(out.junit.contains("would delete: [broken]"));
}

#[test]
fn auto_mode_is_dry_in_merge_requests_and_outside_ci_and_deletes_on_the_default_branch() {
    let ci = [
        ("CI_COMMIT_REF_NAME", "main"),
        ("CI_DEFAULT_BRANCH", "main"),
    ];

    let fake = demo();
    let out = run(
        &fake,
        &[ci[0], ci[1], ("CI_PIPELINE_SOURCE", "merge_request_event")],
    );
    assert_eq!((out.code, deletions_sent(&fake)), (0, 0), "{}", out.stderr);
    assert!(
        out.log.contains("merge request pipeline"),
        "the log says why it ran dry"
    );

    let out = run(&fake, &[]);
    assert_eq!(
        (out.code, deletions_sent(&fake)),
        (0, 0),
        "outside CI auto is dry-run"
    );

    let out = run(
        &fake,
        &[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_REF_NAME", "feature"),
            ("CI_DEFAULT_BRANCH", "main"),
        ],
    );
    assert_eq!(
        (out.code, deletions_sent(&fake)),
        (0, 0),
        "other branches are dry"
    );

    let out = run(&fake, &[ci[0], ci[1], ("CI_PIPELINE_SOURCE", "schedule")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), demo_shop_deletes());
}

#[test]
fn group_scope_covers_subgroups_and_all_scope_covers_maintained_projects() {
    let group_deletes = {
        let mut d = demo_shop_planned();
        d.extend(demo_platform_deletes());
        d.sort();
        d
    };
    let fake = demo();
    let out = run(
        &fake,
        &[
            ("GC_SCOPE", "group"),
            ("GC_GROUP", "demo"),
            ("GC_DRY_RUN", "true"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("would-delete"), group_deletes);
    assert_eq!(requests(&fake, "GET /groups/:id/registry/repositories"), 1);

    // By numeric namespace id, as CI_PROJECT_NAMESPACE_ID gives it.
    let out = run(
        &fake,
        &[
            ("GC_SCOPE", "group"),
            ("CI_PROJECT_NAMESPACE_ID", "11"),
            ("GC_DRY_RUN", "true"),
        ],
    );
    assert_eq!(out.with_outcome("would-delete"), demo_platform_deletes());
    assert_eq!(out.report["summary"]["repositories"], 2);

    // `all`: Maintainer projects only (other/tools is Developer), registry-disabled skipped.
    let out = run(&fake, &[("GC_SCOPE", "all"), ("GC_DRY_RUN", "true")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("would-delete"), group_deletes);
    assert!(
        !out.log.contains("other/tools"),
        "a Developer project is out of scope"
    );
}

#[test]
fn shards_partition_the_work_and_their_union_is_the_unsharded_run() {
    let fake = demo();
    let whole =
        run(&fake, &[("GC_SCOPE", "all"), ("GC_DRY_RUN", "true")]).with_outcome("would-delete");
    let mut union = Vec::new();
    for index in ["1", "2"] {
        let out = run(
            &fake,
            &[
                ("GC_SCOPE", "all"),
                ("GC_DRY_RUN", "true"),
                ("CI_NODE_INDEX", index),
                ("CI_NODE_TOTAL", "2"),
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let part = out.with_outcome("would-delete");
        assert!(
            !part.is_empty() && part.len() < whole.len(),
            "each shard has a part: {part:?}"
        );
        union.extend(part);
    }
    union.sort();
    assert_eq!(union, whole);
}

/// One repository of `tags` build tags aged 0–39 days, every tenth broken, plus `latest`.
fn big_fake(tags: usize) -> FakeGitlab {
    let mut list = vec![json!({"name": "latest", "age": "1h"})];
    for i in 0..tags {
        let tag = if i % 10 == 0 {
            json!({"name": format!("broken-{i:04}"), "broken": true})
        } else {
            json!({"name": format!("build-{i:04}"), "age": format!("{}d", i % 40)})
        };
        list.push(tag);
    }
    fake_with(
        json!([{"id": 1, "path": "big/project", "repositories": [{"id": 10, "name": "app", "tags": list}]}]),
    )
}

#[test]
fn pagination_reads_every_page_once() {
    let fake = big_fake(349);
    let out = run(&fake, &[("GC_DRY_RUN", "true")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.tags().len(), 350);
    if on_rest() {
        assert_eq!(requests(&fake, LIST_TAGS), 4, "350 tags are 4 pages of 100");
    } else {
        assert_eq!(
            requests(&fake, GRAPHQL_TAGS),
            18,
            "350 tags are 18 pages of 20"
        );
    }
    assert_eq!(out.with_outcome("would-delete").len(), 35);
}

#[test]
fn keep_n_older_than_and_delete_regex_end_to_end() {
    let fake = big_fake(99);
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_KEEP_N", "5"),
            ("GC_OLDER_THAN", "30d"),
            ("GC_DELETE_REGEX", "build-.*"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let tags = out.tags();
    let count = |rule: &str| tags.iter().filter(|t| t.3 == rule).count();
    assert_eq!(count("keep-n"), 5);
    assert_eq!(count("broken"), 10);
    // build-i has age i % 40 days; older than 30d: i % 40 in 31..=39, minus those among the 5 newest (none).
    let expected_old = (0..99).filter(|i| i % 10 != 0 && i % 40 > 30).count();
    assert_eq!(count("older-than"), expected_old);
    let left = fake.tags("big/project/app");
    assert_eq!(left.len(), 100 - 10 - expected_old);
    assert!(left.iter().all(|t| !t.starts_with("broken-")));

    // Not candidates: with a delete regex that matches nothing, age rules delete nothing.
    let fake = big_fake(20);
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_OLDER_THAN", "1d"),
            ("GC_DELETE_REGEX", "nothing-.*"),
            ("GC_DELETE_BROKEN", "false"),
        ],
    );
    assert_eq!(out.code, 0);
    assert_eq!(deletions_sent(&fake), 0);
    assert!(out
        .tags()
        .iter()
        .filter(|t| t.1.starts_with("build-"))
        .all(|t| t.3 == "not-candidate"));
    assert_eq!(
        requests(&fake, DETAILS),
        0,
        "no rule can use details: none are fetched"
    );
}

#[test]
fn transient_5xx_and_429_are_retried_and_converge_to_the_fault_free_result() {
    let fake = demo();
    fake.set_faults(faults(json!({"scripted": [
        // Over GraphQL the REST tag routes carry few requests (no details at all): its tag
        // pages fail too, and its delete calls are throttled.
        {"method": "POST", "endpoint": GRAPHQL_TAGS.trim_start_matches("POST "), "fault": "502", "times": 3},
        {"method": "POST", "endpoint": GRAPHQL_DELETE.trim_start_matches("POST "), "fault": "429", "times": 3},
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories", "fault": "503", "times": 2},
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags", "fault": "502", "times": 2},
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags/:tag_name", "fault": "429", "times": 3},
        {"method": "DELETE", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags/:tag_name", "fault": "500", "times": 1},
        {"method": "GET", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags/:tag_name", "fault": "short_read", "times": 1, "skip": 5}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), demo_shop_deletes());
    assert!(
        out.report["summary"]["requests"]["retries"]
            .as_u64()
            .unwrap()
            >= 5
    );
    assert!(
        out.report["summary"]["requests"]["throttled"]
            .as_u64()
            .unwrap()
            >= 3
    );
}

#[test]
fn a_persistently_truncated_answer_never_leads_to_a_deletion() {
    let fake = demo();
    // Every answer with tag details (REST's details, GraphQL's tag pages) is cut short: nothing
    // can be known, nothing is deleted.
    let (method, endpoint) = if on_rest() {
        (
            "GET",
            "/projects/:id/registry/repositories/:repository_id/tags/:tag_name",
        )
    } else {
        ("POST", "/api/graphql (registryGcTags)")
    };
    fake.set_faults(faults(json!({"scripted": [
        {"method": method, "endpoint": endpoint, "fault": "truncate", "times": 100000}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 1, "API errors exit 1: {}", out.stderr);
    assert_eq!(deletions_sent(&fake), 0);
    assert!(out.with_outcome("deleted").is_empty());
    if on_rest() {
        assert!(out
            .tags()
            .iter()
            .filter(|t| t.3 != "keep-regex")
            .all(|t| t.3 == "error"));
    } else {
        // The tag pages are the details: each repository is left alone, with its error.
        let repositories = out.report["repositories"].as_array().unwrap();
        assert!(!repositories.is_empty());
        assert!(repositories.iter().all(|r| r["error"].is_string()));
    }
    assert!(
        out.log
            .contains("response is not the JSON GitLab documents"),
        "{}",
        out.log
    );

    // A truncated tag list: that repository is left alone, the others are processed.
    let fake = demo();
    let (method, endpoint) = if on_rest() {
        (
            "GET",
            "/projects/:id/registry/repositories/:repository_id/tags",
        )
    } else {
        ("POST", "/api/graphql (registryGcTags)")
    };
    fake.set_faults(faults(json!({"scripted": [
        {"method": method, "endpoint": endpoint, "fault": "non_json", "times": 5}
    ]})));
    let out = run(&fake, &[("GC_DRY_RUN", "false"), ("GC_CONCURRENCY", "1")]);
    assert_eq!(out.code, 1);
    assert!(out.report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["error"].is_string()));
    assert!(out.log.contains("HTML instead of JSON"), "{}", out.log);
}

#[test]
fn max_deletions_refuses_the_whole_plan() {
    let fake = demo();
    let planned = demo_shop_planned().len();
    let below = (planned - 1).to_string();
    let out = run(
        &fake,
        &[("GC_DRY_RUN", "false"), ("GC_MAX_DELETIONS", &below)],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(deletions_sent(&fake), 0);
    assert!(
        out.stderr.contains(&format!("GC_MAX_DELETIONS={below}")),
        "{}",
        out.stderr
    );
    assert_eq!(out.with_outcome("not-deleted"), demo_shop_planned());

    // Dry-run says the same: the real run would be refused.
    let out = run(
        &fake,
        &[("GC_DRY_RUN", "true"), ("GC_MAX_DELETIONS", &below)],
    );
    assert_eq!(out.code, 3);

    let exactly = planned.to_string();
    let out = run(
        &fake,
        &[("GC_DRY_RUN", "false"), ("GC_MAX_DELETIONS", &exactly)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), demo_shop_deletes());
}

#[test]
fn every_configuration_error_exits_2_before_any_request() {
    let fake = demo();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("GC_KEEP_REGEX", "(unclosed")], "GC_KEEP_REGEX"),
        (&[("GC_DELETE_REGEX", "[z-a]")], "GC_DELETE_REGEX"),
        (&[("GC_OLDER_THAN", "7 days")], "GC_OLDER_THAN"),
        (&[("GC_KEEP_N", "-1")], "GC_KEEP_N"),
        (&[("GC_DRY_RUN", "maybe")], "GC_DRY_RUN"),
        (&[("GC_DELETE_BROKEN", "sometimes")], "GC_DELETE_BROKEN"),
        (&[("GC_SCOPE", "galaxy")], "GC_SCOPE"),
        (&[("GC_CONCURRENCY", "1000")], "GC_CONCURRENCY"),
        (&[("GC_MAX_DELETIONS", "lots")], "GC_MAX_DELETIONS"),
        (&[("GC_DRY_RUM", "true")], "GC_DRY_RUM"),
        (&[("GC_POLICY_CADENCE", "2d")], "GC_POLICY_CADENCE"),
        (&[("GC_API", "soap")], "GC_API"),
        (&[("GC_AGE_FROM", "pushed")], "GC_AGE_FROM"),
        (
            &[("GC_API", "rest"), ("GC_AGE_FROM", "published")],
            "GC_AGE_FROM",
        ),
        (
            &[(
                "CI_API_GRAPHQL_URL",
                "https://elsewhere.example/api/graphql",
            )],
            "CI_API_GRAPHQL_URL",
        ),
        (
            &[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "2")],
            "CI_NODE_INDEX",
        ),
        (&[("CI_API_V4_URL", "not a url")], "CI_API_V4_URL"),
        (
            &[("CI_SERVER_TLS_CA_FILE", "/nonexistent/ca.pem")],
            "CI_SERVER_TLS_CA_FILE",
        ),
    ];
    for (vars, name) in cases {
        let out = run(&fake, vars);
        assert_eq!(out.code, 2, "{vars:?}: {}", out.stderr);
        let first = out.stderr.lines().next().unwrap_or("");
        assert!(
            first.starts_with("error: ") && first.contains(name),
            "{vars:?}: {}",
            out.stderr
        );
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    }
    let vars: Vec<(String, String)> = env_for(&fake, &[])
        .into_iter()
        .filter(|(k, _)| k != "API_TOKEN")
        .collect();
    let out = run_with(&vars);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("API_TOKEN"));
    assert_eq!(fake.stats().total, 0, "no request was made");
}

#[test]
fn junit_parses_and_its_counts_match_the_run() {
    let fake = demo();
    let out = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_SCOPE", "group"),
            ("GC_GROUP", "demo"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (tests, failures, skipped) = junit_counts(&out.junit);
    let repositories = out.report["repositories"].as_array().unwrap().len();
    // One case per deleted tag plus one "(kept tags)" case per repository.
    assert_eq!(tests, out.with_outcome("deleted").len() + repositories);
    assert_eq!((failures, skipped), (0, 0));
    assert!(
        out.junit
            .contains(r#"classname="demo/shop/app.cache" name="feature-gone""#),
        "{}",
        out.junit
    );
}

#[test]
fn the_token_never_appears_in_any_output() {
    let fake = demo();
    let ok = run(&fake, &[("GC_DRY_RUN", "false"), ("RUST_LOG", "trace")]);
    assert_eq!(ok.code, 0);
    let rejected = run(&fake, &[("API_TOKEN", "glpat-wrong-token-123")]);
    // Over GraphQL the probe meets the 401 first, and GC_API=graphql cannot be used: exit 2.
    assert_eq!(rejected.code, if on_rest() { 1 } else { 2 });
    assert!(rejected.stderr.contains("401"), "{}", rejected.stderr);
    assert!(
        rejected.stderr.contains("API_TOKEN"),
        "the 401 message names the variable: {}",
        rejected.stderr
    );
    let bad_config = run(&fake, &[("GC_KEEP_N", "x"), ("RUST_LOG", "trace")]);
    for (out, token) in [
        (&ok, TOKEN),
        (&rejected, "glpat-wrong-token-123"),
        (&bad_config, TOKEN),
    ] {
        assert!(!out.everything().contains(token), "token leaked");
    }
    // Nor a registry token: the run read the registry (under trace logging), and no JWT (its
    // base64url always starts `eyJ`, for `{"`) is in any output.
    assert_eq!(ok.report["summary"]["inspection"], "on", "{}", ok.log);
    assert!(ok.report["summary"]["registry_requests"]["total"].as_u64() > Some(2));
    assert!(!ok.everything().contains("eyJ"), "a registry token leaked");
}

#[test]
fn help_and_version() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_registry-gc"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for v in [
        "CI_API_V4_URL",
        "API_TOKEN",
        "GC_SCOPE",
        "GC_KEEP_REGEX",
        "GC_MAX_DELETIONS",
        "GC_POLICY_APPLY",
        "default: auto",
    ] {
        assert!(text.contains(v), "--help lists {v}");
    }
    let version = std::process::Command::new(env!("CARGO_BIN_EXE_registry-gc"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        concat!("registry-gc ", env!("CARGO_PKG_VERSION"))
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_registry-gc"))
        .arg("--delete-everything")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn sigterm_mid_run_stops_deleting_flushes_reports_and_exits_143() {
    interrupt_mid_run("TERM", 143);
}

#[test]
fn a_job_token_works_for_its_own_project() {
    let fake = demo();
    let out = run_with(&job_token_env(&fake, &[("GC_DRY_RUN", "false")]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), demo_shop_deletes());
    assert!(!out.everything().contains("demo-job-token"));
}

#[test]
fn a_group_path_with_subgroups_is_url_encoded() {
    let fake = demo();
    let out = run(
        &fake,
        &[
            ("GC_SCOPE", "group"),
            ("GC_GROUP", "demo/platform"),
            ("GC_DRY_RUN", "true"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("would-delete"), demo_platform_deletes());
    assert_eq!(out.report["summary"]["repositories"], 2);
}

#[test]
fn repositories_scheduled_for_deletion_are_skipped_and_never_make_a_cache_look_orphaned() {
    let fake = fake_with(json!([{"id": 1, "path": "g/p", "repositories": [
        {"id": 1, "name": "app", "status": "delete_scheduled", "tags": [{"name": "feature-a", "age": "1d"}]},
        {"id": 2, "name": "app.cache", "tags": [{"name": "feature-a"}, {"name": "feature-b"}]}
    ]}]));
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.log
            .contains("skipped      g/p/app  (repository status is delete_scheduled)"),
        "{}",
        out.log
    );
    assert_eq!(
        deletions_sent(&fake),
        0,
        "the counterpart's state is unknown: nothing deleted"
    );
    assert_eq!(fake.tags("g/p/app.cache").len(), 2);
}

/// Tag protection needs GitLab's metadata database, so these run over it. `access_level`:
/// the token's role in the project; `refusal`: how a DELETE refused for protection answers
/// (the fake's `protected_tag_refusal`).
fn protected_counterpart_world(access_level: u8, refusal: &str) -> FakeGitlab {
    let fixture = json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "registry": "gitlab",
        "protected_tag_refusal": refusal,
        "projects": [{"id": 1, "path": "g/p", "access_level": access_level, "repositories": [
            {"id": 1, "name": "app", "tags": [
                {"name": "feature-a", "broken": true},
                {"name": "feature-b", "broken": true, "protected": true}
            ]},
            {"id": 2, "name": "app.cache", "tags": [{"name": "feature-a"}, {"name": "feature-b"}]}
        ]}]
    });
    start(Fixture::from_json(&fixture.to_string()).expect("test fixture is valid"))
}

#[test]
fn a_cache_orphaned_by_this_run_goes_with_its_counterpart_and_protection_is_known_before_deciding()
{
    let fake = protected_counterpart_world(40, "forbidden");
    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("deleted"),
        ["g/p/app.cache:feature-a", "g/p/app:feature-a"]
    );
    assert_eq!(fake.tags("g/p/app"), ["feature-b"]);
    assert_eq!(fake.tags("g/p/app.cache"), ["feature-b"]);
    // GitLab's rule `feature-b` covers the tag in every repository of the project.
    for repo in ["g/p/app", "g/p/app.cache"] {
        assert_eq!(
            out.rule_of(repo, "feature-b"),
            ("kept".into(), "protected".into()),
            "{}",
            out.log
        );
    }
    if on_rest() {
        assert_eq!(requests(&fake, DELETE), 2, "no DELETE for a protected tag");
    } else {
        // One call for app:feature-a, one for the cache tag whose counterpart went.
        assert_eq!(requests(&fake, GRAPHQL_DELETE), 2);
        assert_eq!(requests(&fake, DELETE), 0, "no DELETE for a protected tag");
    }
}

#[test]
fn a_cache_stays_when_gitlab_refuses_to_delete_its_counterpart() {
    // A Developer may delete tags but not read the protection rules (403, Maintainer only),
    // so GitLab's answer to the DELETE decides.
    for (refusal, code, outcome, why) in [
        // The tag policy's plain 403 could also be a role or an immutability rule: a failure.
        ("forbidden", 1, ("failed", "broken"), "its deletion failed"),
        ("service", 0, ("kept", "protected"), "protected"),
    ] {
        let fake = protected_counterpart_world(30, refusal);
        let out = run_on("rest", &fake, &[("GC_DRY_RUN", "false")]);
        assert_eq!(out.code, code, "{refusal}: {}\n{}", out.stderr, out.log);
        assert!(
            out.log.contains("protection   g/p  rules unknown"),
            "{}",
            out.log
        );
        assert_eq!(
            out.with_outcome("deleted"),
            ["g/p/app.cache:feature-a", "g/p/app:feature-a"]
        );
        let (outcome, rule) = outcome;
        assert_eq!(
            out.rule_of("g/p/app", "feature-b"),
            (outcome.into(), rule.into()),
            "{}",
            out.log
        );
        assert_eq!(fake.tags("g/p/app"), ["feature-b"]);
        assert_eq!(fake.tags("g/p/app.cache"), ["feature-b"]);
        let stays = format!(
            "counterpart tag g/p/app:feature-b was not deleted ({why}), so its cache stays"
        );
        assert!(out.log.contains(&stays), "{refusal}: {}", out.log);
        assert_eq!(
            requests(&fake, DELETE),
            3,
            "the kept counterpart's cache is never sent a DELETE"
        );
    }
}
