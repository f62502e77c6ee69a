//! The GraphQL backend against the fake's GraphQL API: the same decisions as REST (ages aside),
//! far fewer requests, the fallbacks of `GC_API=auto`, and no deletion on a GraphQL error.
//!
//! The rest of the suite runs on GraphQL too with `REGISTRY_GC_TEST_API=graphql`
//! (component-tests/test-all.sh does); these tests pick their backend themselves.

mod common;

use common::*;
use serde_json::json;

fn faults(value: serde_json::Value) -> Faults {
    serde_json::from_value(value).expect("fault JSON matches the fake's Faults")
}

fn fixture(value: serde_json::Value) -> Fixture {
    Fixture::from_json(&value.to_string()).expect("valid fixture")
}

/// `(repository, tag, outcome, rule)` of every tag, and the registry left behind.
fn result(
    out: &common::Outcome,
    fake: &FakeGitlab,
) -> (Vec<(String, String, String, String)>, serde_json::Value) {
    // Only the registry's content is compared (policies carry times of their own).
    let state = fake.state();
    let repositories: serde_json::Map<String, serde_json::Value> = state["projects"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|p| p["repositories"].as_object().unwrap().clone())
        .collect();
    (out.tags(), serde_json::Value::Object(repositories))
}

#[test]
fn the_demo_gets_the_same_decisions_and_the_same_registry_on_both_backends() {
    for settings in [
        vec![("GC_DRY_RUN", "true")],
        vec![("GC_DRY_RUN", "false")],
        vec![
            ("GC_DRY_RUN", "false"),
            ("GC_KEEP_N", "2"),
            ("GC_OLDER_THAN", "30d"),
        ],
        vec![("GC_DRY_RUN", "false"), ("GC_DELETE_BROKEN", "false")],
        vec![
            ("GC_DRY_RUN", "false"),
            ("GC_SCOPE", "group"),
            ("GC_GROUP", "demo"),
        ],
    ] {
        let (rest, graphql) = (demo(), demo());
        let mut with_created = settings.clone();
        with_created.push(("GC_AGE_FROM", "created"));
        let a = run_on("rest", &rest, &settings);
        let b = run_on("graphql", &graphql, &with_created);
        assert_eq!(a.code, b.code, "{settings:?}: {}\n{}", a.stderr, b.stderr);
        assert_eq!(result(&a, &rest), result(&b, &graphql), "{settings:?}");
        assert_eq!(a.report["settings"]["api"], "rest");
        assert_eq!(b.report["settings"]["api"], "graphql");
        assert!(
            b.log.contains("api          graphql (GC_API=graphql: GraphQL at /api/graphql has the tag fields and batch delete, and push times); ages from created"),
            "{}",
            b.log
        );
        assert!(
            requests_of(&b) * 2 <= requests_of(&a) + 20,
            "{settings:?}: graphql {} vs rest {} requests",
            requests_of(&b),
            requests_of(&a)
        );
    }
}

/// Requests of a run, as its report counts them.
fn requests_of(out: &common::Outcome) -> u64 {
    out.report["summary"]["requests"]["total"].as_u64().unwrap()
}

/// One repository: `n` build tags pushed 30 days ago, every tenth broken, plus `latest`.
fn one_repository(n: usize) -> FakeGitlab {
    let mut tags = vec![json!({"name": "latest", "age": "1h"})];
    for i in 0..n {
        tags.push(if i % 10 == 0 {
            json!({"name": format!("broken-{i:04}"), "broken": true})
        } else {
            json!({"name": format!("build-{i:04}"), "age": "30d"})
        });
    }
    fake_with(
        json!([{"id": 1, "path": "big/project", "repositories": [{"id": 10, "name": "app", "tags": tags}]}]),
    )
}

#[test]
fn tags_come_twenty_a_page_with_their_dates_and_go_twenty_a_call() {
    let fake = one_repository(99);
    let out = run_on(
        "graphql",
        &fake,
        &[("GC_DRY_RUN", "false"), ("GC_OLDER_THAN", "7d")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.tags("big/project/app"), ["latest"]);
    // The floor: the probe; 100 tags in 5 pages of 20; no REST details (GraphQL's fields are
    // null for the 10 broken tags: the registry is read for them, where REST's 404 would say
    // no more); 99 deletions in 5 calls (20 at most each), and not one REST DELETE, since
    // GitLab deleted every tag it was asked to.
    assert_eq!(requests(&fake, GRAPHQL_PROBE), 1);
    assert_eq!(requests(&fake, GRAPHQL_TAGS), 5);
    assert_eq!(requests(&fake, DETAILS), 0);
    assert_eq!(requests(&fake, GRAPHQL_DELETE), 5);
    assert_eq!(requests(&fake, DELETE), 0);
    assert_eq!(requests(&fake, LIST_TAGS), 0);
    // The registry (the 10 broken tags are read there): a token proving the login, one for
    // the repository.
    assert_eq!(requests(&fake, REALM), 2);
    assert_eq!(fake.stats().total, 1 + 1 + 5 + 5 + 2);

    // The same over REST: one page of 100, 99 details, 99 DELETEs.
    let fake = one_repository(99);
    let rest = run_on(
        "rest",
        &fake,
        &[("GC_DRY_RUN", "false"), ("GC_OLDER_THAN", "7d")],
    );
    assert_eq!(rest.code, 0);
    let protection = requests(&fake, PROTECTION_RULES);
    assert_eq!(protection, 1, "read once, for the project");
    assert_eq!(fake.stats().total, 1 + 1 + 99 + 99 + protection + 2);
}

/// A reproducible build (created in 1970, pushed yesterday) and an image built yesterday but
/// pushed a month ago: the only tags whose decision depends on which time is a tag's age.
fn pushed_and_built(mode: RegistryMode) -> FakeGitlab {
    fake_over(
        mode,
        json!([{"id": 1, "path": "g/p", "repositories": [{"id": 10, "name": "app", "tags": [
            {"name": "feature-repro", "age": "20000d", "published": "1d"},
            {"name": "feature-old-push", "age": "1d", "published": "30d"},
            {"name": "feature-both-new", "age": "1d", "published": "1d"},
            {"name": "feature-both-old", "age": "40d", "published": "40d"}
        ]}]}]),
    )
}

/// What each registry tells GitLab (gitlab-api.md §13): without the metadata database, REST
/// and GraphQL read the image config's `created` (the build time) and GraphQL has no push
/// times; with it, both APIs answer the push time, also as `created_at`. So the two APIs
/// decide alike on either registry, on build times or on push times.
#[test]
fn ages_are_build_times_without_the_database_and_push_times_with_it_on_both_apis() {
    let settings = [("GC_DRY_RUN", "true"), ("GC_OLDER_THAN", "7d")];
    let mut created_settings = settings.to_vec();
    created_settings.push(("GC_AGE_FROM", "created"));
    for (mode, deleted) in [
        (
            RegistryMode::Legacy,
            ["g/p/app:feature-both-old", "g/p/app:feature-repro"],
        ),
        (
            RegistryMode::Gitlab,
            ["g/p/app:feature-both-old", "g/p/app:feature-old-push"],
        ),
    ] {
        let rest = run_on("rest", &pushed_and_built(mode), &settings);
        let published = run_on("graphql", &pushed_and_built(mode), &settings);
        let created = run_on("graphql", &pushed_and_built(mode), &created_settings);
        for out in [&rest, &published, &created] {
            assert_eq!(out.code, 0, "{mode:?}: {}", out.stderr);
            assert_eq!(
                out.with_outcome("would-delete"),
                deleted,
                "{mode:?}: {}",
                out.log
            );
        }
        assert_eq!(published.report["settings"]["age_from"], "published");
        let said = if mode == RegistryMode::Gitlab {
            "pushed 30d ago"
        } else {
            "created 20000d ago"
        };
        assert!(published.log.contains(said), "{mode:?}: {}", published.log);
    }

    // REST cannot read push times: asking for them is a configuration error, before anything.
    let fake = pushed_and_built(registry_mode());
    let out = run_on(
        "rest",
        &fake,
        &[("GC_DRY_RUN", "false"), ("GC_AGE_FROM", "published")],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("GC_AGE_FROM"), "{}", out.stderr);
    assert_eq!(fake.stats().total, 0);
}

fn with_graphql(mode: &str) -> FakeGitlab {
    let mut f: serde_json::Value =
        serde_json::from_str(include_str!("../component-tests/fixtures/demo.json")).unwrap();
    f["graphql"] = json!(mode);
    FakeGitlab::start(fixture(f))
}

#[test]
fn auto_uses_graphql_where_it_can_and_says_why_it_does_not() {
    // Full GraphQL: used, with push times.
    let fake = with_graphql("full");
    let out = run_on("auto", &fake, &[("GC_DRY_RUN", "true")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.report["settings"]["api"], "graphql");
    assert_eq!(out.report["settings"]["age_from"], "published");

    // No GraphQL endpoint (404): REST, after exactly one probe.
    let fake = with_graphql("absent");
    let out = run_on("auto", &fake, &[("GC_DRY_RUN", "true")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.report["settings"]["api"], "rest");
    assert!(
        out.report["settings"]["api_reason"]
            .as_str()
            .unwrap()
            .starts_with("GC_API=auto fell back to REST: the GraphQL probe failed: POST /api/graphql (registryGcProbe): 404"),
        "{}",
        out.report["settings"]["api_reason"]
    );
    // Without GraphQL the fake counts the probe as an unknown route, like any 404.
    assert_eq!(requests(&fake, "POST (unknown)"), 1);
    assert_eq!(requests(&fake, GRAPHQL_TAGS), 0);
    // ... and the REST run is what it would have been with GC_API=rest.
    let reference = demo();
    let rest = run_on("rest", &reference, &[("GC_DRY_RUN", "true")]);
    assert_eq!(out.tags(), rest.tags());
    assert_eq!(fake.stats().total, reference.stats().total + 1);

    // GC_API=graphql where there is none: exit 2, nothing listed, nothing deleted.
    let fake = with_graphql("absent");
    let out = run_on("graphql", &fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("GC_API: graphql cannot be used"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.stats().total, 1, "only the probe");

    // An older GitLab without publishedAt: GraphQL without push times, ages from build times.
    let fake = with_graphql("no_published_at");
    let out = run_on("auto", &fake, &[("GC_DRY_RUN", "true")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.report["settings"]["api"], "graphql");
    assert_eq!(out.report["settings"]["age_from"], "created");
    assert_eq!(out.tags(), rest.tags());
    let out = run_on(
        "auto",
        &fake,
        &[("GC_DRY_RUN", "false"), ("GC_AGE_FROM", "published")],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("GC_AGE_FROM: published needs"),
        "{}",
        out.stderr
    );
    assert_eq!(deletions_sent(&fake), 0);

    // A job token: REST without a probe (GitLab's GraphQL does not take job tokens).
    let fake = demo();
    let mut vars = job_token_env(&fake, &[("GC_DRY_RUN", "true")]);
    vars.retain(|(k, _)| k != "GC_API");
    let out = run_with(&vars);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.report["settings"]["api"], "rest");
    assert_eq!(requests(&fake, GRAPHQL_PROBE), 0);
}

#[test]
fn a_graphql_error_or_partial_answer_never_leads_to_a_deletion() {
    for fault in ["graphql_error", "graphql_partial"] {
        let fake = demo();
        let before = fake.tags("demo/shop/app");
        fake.set_faults(faults(json!({"scripted": [
            {"method": "POST", "endpoint": "/api/graphql (registryGcTags)", "fault": fault, "times": 1000}
        ]})));
        let out = run_on("graphql", &fake, &[("GC_DRY_RUN", "false")]);
        assert_eq!(out.code, 1, "{fault}: {}", out.stderr);
        assert_eq!(deletions_sent(&fake), 0, "{fault}");
        assert_eq!(fake.tags("demo/shop/app"), before, "{fault}");
        assert!(
            out.stderr
                .contains("POST /api/graphql (registryGcTags): GraphQL error:"),
            "{fault}: {}",
            out.stderr
        );
    }

    // A failed delete call: its tags are reported failed, not deleted; nothing is guessed.
    let fake = demo();
    fake.set_faults(faults(json!({"scripted": [
        {"method": "POST", "endpoint": "/api/graphql (registryGcDeleteTags)", "fault": "graphql_error", "times": 1000}
    ]})));
    let out = run_on("graphql", &fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.with_outcome("deleted").is_empty());
    assert!(!out.with_outcome("failed").is_empty());
}

#[test]
fn a_delete_call_whose_answer_was_lost_is_not_reported_as_a_failure() {
    // The first delete call is applied but its answer is lost; the retry finds the tags gone and
    // the REST DELETE of each says so.
    let fake = one_repository(9);
    fake.set_faults(faults(json!({"scripted": [
        {"method": "POST", "endpoint": "/api/graphql (registryGcDeleteTags)", "fault": "drop_after"}
    ]})));
    let out = run_on(
        "graphql",
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_OLDER_THAN", "7d"),
            ("GC_CONCURRENCY", "1"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fake.tags("big/project/app"), ["latest"]);
    assert!(out.with_outcome("failed").is_empty(), "{}", out.log);
}

/// Many small projects, each an image and its cache, listed by many workers at once with no
/// latency: a cache is often settled by the worker that listed its counterpart, in the instant
/// after its own listing landed. Every run must decide exactly as REST does.
#[test]
fn many_repositories_listed_at_once_decide_as_over_rest() {
    let projects: Vec<serde_json::Value> = (1..=120)
        .map(|p| {
            json!({"id": p, "path": format!("many/p{p}"), "repositories": [
                {"id": p * 10, "name": "app", "tags": [
                    {"name": "latest", "age": "1h"},
                    {"name": "feature-a", "age": "40d"},
                    // Not `broken`: in memory a GraphQL listing has media types, so it stands
                    // for a metadata database, where a 404 proves nothing (over REST it does).
                    {"name": "feature-b", "age": "35d"}
                ]},
                {"id": p * 10 + 1, "name": "app.cache", "tags": [
                    {"name": "feature-a"}, {"name": "feature-b"}, {"name": "feature-gone"}
                ]}
            ]})
        })
        .collect();
    let fixture_json = json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "groups": [{"id": 5, "path": "many", "access_level": 40}],
        "projects": projects
    });
    let settings = [
        ("GC_DRY_RUN", "false"),
        ("GC_SCOPE", "group"),
        ("GC_GROUP", "many"),
        ("GC_CONCURRENCY", "16"),
        ("GC_OLDER_THAN", "30d"),
        ("GC_AGE_FROM", "created"),
    ];
    let rest_fake = FakeGitlab::start(fixture(fixture_json.clone()));
    let rest = run_on("rest", &rest_fake, &settings);
    assert_eq!(rest.code, 0, "{}", rest.stderr);
    assert_eq!(rest.with_outcome("deleted").len(), 120 * 5);
    for _ in 0..3 {
        let fake = FakeGitlab::start(fixture(fixture_json.clone()));
        let out = run_on("graphql", &fake, &settings);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(result(&out, &fake), result(&rest, &rest_fake));
    }
}
