//! End to end: what registry-gc reads in the registry where GitLab cannot show a tag (design
//! §9), against the fake GitLab over a real docker-registry, and what it decides from that.

mod common;

use common::*;
use serde_json::{json, Value};

const MANIFESTS: &str = "GET /v2/<name>/manifests/<reference>";
const HEADS: &str = "HEAD /v2/<name>/manifests/<reference>";
const BLOBS: &str = "GET /v2/<name>/blobs/<digest>";

/// Project `g/p` with repository `app` (and `app.cache` when `cache` has tags).
fn world(mode: RegistryMode, app: Value, cache: Value) -> FakeGitlab {
    let mut repos = vec![json!({"id": 10, "name": "app", "tags": app})];
    if cache.as_array().is_some_and(|c| !c.is_empty()) {
        repos.push(json!({"id": 11, "name": "app.cache", "tags": cache}));
    }
    fake_over(
        mode,
        json!([{"id": 1, "path": "g/p", "repositories": repos}]),
    )
}

fn registry_requests(out: &Outcome, endpoint: &str) -> u64 {
    out.report["summary"]["registry_requests"]["by_endpoint"][endpoint]
        .as_u64()
        .unwrap_or(0)
}

fn tag_field(out: &Outcome, repo: &str, tag: &str, field: &str) -> Value {
    out.report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == repo)
        .flat_map(|r| r["tags"].as_array().unwrap().iter())
        .find(|t| t["name"] == tag)
        .map(|t| t[field].clone())
        .unwrap_or(Value::Null)
}

/// Every tag still listed resolves fully (manifest, platform manifests, blobs), once the
/// registry's own garbage collection (without `--delete-untagged`) has run.
fn assert_everything_kept_resolves(fake: &FakeGitlab) {
    fake.registry_garbage_collect(false);
    let broken: Vec<String> = fake
        .registry_resolve_all()
        .into_iter()
        .filter_map(|r| {
            r.problem
                .map(|p| format!("{}:{}: {p}", r.repository, r.tag))
        })
        .collect();
    assert!(
        broken.is_empty(),
        "kept tags that no longer resolve: {broken:?}"
    );
}

/// The images a branch pipeline pushes today, beside the really broken ones.
fn feature_images() -> Value {
    json!([
        {"name": "multi", "kind": "index", "format": "oci", "age": "1d"},
        {"name": "list", "kind": "index", "format": "docker", "age": "1d"},
        {"name": "feature-x", "kind": "attested", "age": "1h"},
        {"name": "gone", "kind": "missing", "age": "1d"},
        {"name": "half", "kind": "index-missing-child", "age": "1d"},
        {"name": "chart", "kind": "helm"},
        {"name": "single", "age": "1d"}
    ])
}

#[test]
fn working_multi_arch_and_attested_images_are_kept_and_only_what_the_registry_lacks_is_broken() {
    for api in ["rest", "graphql"] {
        let fake = world(RegistryMode::Legacy, feature_images(), json!([]));
        let out = run_on(api, &fake, &[("GC_DRY_RUN", "false")]);
        assert_eq!(out.code, 0, "{api}: {}", out.stderr);
        assert_eq!(
            out.with_outcome("deleted"),
            ["g/p/app:gone", "g/p/app:half"],
            "{api}: {}",
            out.log
        );
        for tag in ["multi", "feature-x", "single", "list"] {
            assert_eq!(
                out.rule_of("g/p/app", tag),
                ("kept".into(), "default".into()),
                "{api}: {tag}"
            );
        }
        // GitLab shows the Helm chart (an OCI image manifest), without a date: never broken.
        assert_eq!(
            out.rule_of("g/p/app", "chart"),
            ("kept".into(), "unknown-age".into())
        );
        assert_eq!(tag_field(&out, "g/p/app", "multi", "kind"), "index");
        assert_eq!(
            tag_field(&out, "g/p/app", "multi", "media_type"),
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(tag_field(&out, "g/p/app", "half", "kind"), "missing");
        assert!(
            out.log.contains(
                "multi-arch image (OCI index, 2 platforms): GitLab cannot show it; no rule deletes it"
            ),
            "{}",
            out.log
        );
        assert!(
            out.log
                .contains("attested image (OCI index, 1 platform, 1 attestation)"),
            "{}",
            out.log
        );
        assert!(
            out.log
                .contains("the registry has no manifest for it (MANIFEST_UNKNOWN)"),
            "{}",
            out.log
        );
        assert!(
            out.log
                .contains("inspection:      on; 4 tags read, 0 digests"),
            "{}",
            out.log
        );
        // The cost: the login (GET /v2/, a token, GET /v2/ with it), one token for the
        // repository, and one manifest read for each tag GitLab could not show, plus each
        // platform manifest of an index (a lost one makes it broken): multi 1 + 2,
        // feature-x 1 + 1 (its attestation manifest is not a platform), gone 1, half 1 + 2
        // at most. No config is read: no age rule needs an age.
        assert_eq!(registry_requests(&out, "GET /v2/"), 2);
        assert_eq!(registry_requests(&out, "GET (realm) registry token"), 2);
        let manifests = registry_requests(&out, MANIFESTS);
        assert!((8..=9).contains(&manifests), "{manifests} manifest reads");
        assert_eq!(registry_requests(&out, BLOBS), 0);
        assert_eq!(registry_requests(&out, HEADS), 0);
        assert_everything_kept_resolves(&fake);
    }

    // The merge request's test widget shows what the registry said, in one `system-out` a
    // case (two would fail GitLab's parser for the whole report).
    let fake = world(RegistryMode::Legacy, feature_images(), json!([]));
    let out = run_on(
        "rest",
        &fake,
        &[
            ("GC_DRY_RUN", "true"),
            ("CI_JOB_URL", "https://gitlab.example.com/job/1"),
        ],
    );
    let case = out
        .junit
        .split("<testcase ")
        .find(|c| c.contains("name=\"half\""))
        .expect("a case for half");
    assert!(
        case.contains("<skipped message=\"would delete: [broken]"),
        "{case}"
    );
    assert_eq!(case.matches("<system-out>").count(), 1, "{case}");
    assert!(
        case.contains("registry: missing (its platform manifest sha256:"),
        "{case}"
    );
    assert!(
        case.contains("job: https://gitlab.example.com/job/1"),
        "{case}"
    );
    for case in out.junit.split("<testcase ") {
        assert!(case.matches("<system-out>").count() <= 1, "{case}");
    }
}

#[test]
fn without_inspection_a_404_is_broken_as_the_seeds_rule_had_it() {
    let fake = world(RegistryMode::Legacy, feature_images(), json!([]));
    let out = run_on(
        "rest",
        &fake,
        &[("GC_DRY_RUN", "true"), ("GC_INSPECT", "false")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("would-delete"),
        [
            "g/p/app:feature-x",
            "g/p/app:gone",
            "g/p/app:half",
            "g/p/app:multi"
        ]
    );
    assert!(
        out.log.contains("inspection   off (GC_INSPECT=false)"),
        "{}",
        out.log
    );
    assert!(!out.junit.contains("registry: "), "nothing was read");
    assert_eq!(out.report["summary"]["registry_requests"]["total"], 0);
    assert_eq!(requests(&fake, REALM), 0, "the registry is not asked");
}

#[test]
fn an_index_is_judged_by_the_age_the_registry_gives() {
    let fake = world(
        RegistryMode::Legacy,
        json!([
            {"name": "old-multi", "kind": "index", "format": "oci", "age": "30d"},
            {"name": "old-annotated", "kind": "index", "format": "oci", "age": "30d", "annotate_created": true},
            {"name": "new-multi", "kind": "index", "format": "oci", "age": "1d"},
            {"name": "old-single", "age": "30d"},
            {"name": "main", "kind": "index", "format": "oci", "age": "90d"}
        ]),
        json!([]),
    );
    let out = run_on(
        "rest",
        &fake,
        &[("GC_DRY_RUN", "false"), ("GC_OLDER_THAN", "7d")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("deleted"),
        [
            "g/p/app:old-annotated",
            "g/p/app:old-multi",
            "g/p/app:old-single"
        ]
    );
    assert_eq!(
        out.rule_of("g/p/app", "new-multi"),
        ("kept".into(), "default".into())
    );
    assert!(
        out.log
            .contains("GitLab cannot show it; created 24h ago, newer than GC_OLDER_THAN=7d"),
        "{}",
        out.log
    );
    // The config of the first platform gives an index its age, one blob read each, except
    // where the index carries `org.opencontainers.image.created` itself; `main` is kept by
    // GC_KEEP_REGEX and never read.
    assert_eq!(registry_requests(&out, BLOBS), 2);
    assert_eq!(out.report["summary"]["inspected"], 3);
    assert_everything_kept_resolves(&fake);
}

#[test]
fn caches_in_both_forms_are_known_from_the_registry_and_go_only_when_orphaned() {
    for mode in [RegistryMode::Legacy, RegistryMode::Gitlab] {
        let fake = world(
            mode,
            json!([
                {"name": "main", "age": "1d"},
                {"name": "feature-a", "age": "1d"}
            ]),
            json!([
                {"name": "main", "kind": "cache-index"},
                {"name": "feature-a", "kind": "cache-image"},
                {"name": "feature-gone", "kind": "cache-index"},
                {"name": "feature-gone-too", "kind": "cache-image"}
            ]),
        );
        let out = run_on("rest", &fake, &[("GC_DRY_RUN", "false")]);
        assert_eq!(out.code, 0, "{mode:?}: {}", out.stderr);
        assert_eq!(
            out.with_outcome("deleted"),
            [
                "g/p/app.cache:feature-gone",
                "g/p/app.cache:feature-gone-too"
            ],
            "{mode:?}: {}",
            out.log
        );
        // Without the database GitLab shows a cache in image form (undated, which is the
        // orphan-cache rule's hint), not one in index form; with it, both are dated, so the
        // registry is asked which tags are caches.
        let read: &[&str] = match mode {
            RegistryMode::Legacy => &["feature-gone"],
            // (`main` is kept by GC_KEEP_REGEX, so never read.)
            _ => &["feature-gone", "feature-gone-too", "feature-a"],
        };
        for &tag in read {
            assert_eq!(
                tag_field(&out, "g/p/app.cache", tag, "kind"),
                "cache",
                "{mode:?}: {tag}"
            );
        }
        assert_eq!(
            fake.tags("g/p/app.cache"),
            ["feature-a", "main"],
            "{mode:?}"
        );
        assert_everything_kept_resolves(&fake);
    }
}

#[test]
fn signatures_follow_their_images() {
    let app = json!([
        {"name": "v1.0.0", "age": "400d"},
        {"kind": "signature", "signs": "v1.0.0"},
        {"name": "feature-old", "age": "30d"},
        {"kind": "signature", "signs": "feature-old"},
        {"kind": "attestation", "signs": "feature-old"},
        {"name": "feature-new", "age": "1d"},
        {"kind": "signature", "signs": format!("sha256:{}", "0f".repeat(32))}
    ]);
    let fake = world(RegistryMode::Legacy, app.clone(), json!([]));
    let settings = [("GC_DRY_RUN", "false"), ("GC_OLDER_THAN", "7d")];
    let out = run_on("rest", &fake, &settings);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let deleted = out.with_outcome("deleted");
    let referrers: Vec<&String> = deleted.iter().filter(|t| t.contains("sha256-")).collect();
    assert_eq!(referrers.len(), 3, "{deleted:?}");
    assert!(deleted.contains(&"g/p/app:feature-old".to_string()));
    for t in &referrers {
        let name = t.trim_start_matches("g/p/app:");
        assert_eq!(
            out.rule_of("g/p/app", name),
            ("deleted".into(), "orphan-referrer".into())
        );
    }
    assert!(
        out.log
            .contains("whose tags this run deletes (feature-old)"),
        "the referrer names the tag it goes with: {}",
        out.log
    );
    assert!(
        out.log.contains("which no tag points at any more"),
        "{}",
        out.log
    );
    // The signature of the kept release stays, GC_OLDER_THAN notwithstanding.
    let kept_referrers: Vec<(String, String, String, String)> = out
        .tags()
        .into_iter()
        .filter(|t| t.1.starts_with("sha256-") && t.2 == "kept")
        .collect();
    assert_eq!(kept_referrers.len(), 1, "{kept_referrers:?}");
    assert_eq!(kept_referrers[0].3, "referrer");
    assert!(
        out.log.contains("which a kept tag points at"),
        "{}",
        out.log
    );
    // The subjects are found among the digests of the other tags: one HEAD each (v1.0.0,
    // feature-old, feature-new), the release's included though GC_KEEP_REGEX keeps it.
    assert_eq!(registry_requests(&out, HEADS), 3);
    assert_everything_kept_resolves(&fake);

    // Converged: the next run deletes nothing.
    let again = run_on("rest", &fake, &settings);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.with_outcome("deleted").is_empty(), "{}", again.log);

    // Over GraphQL on GitLab's metadata database the listing's digests are the registry's:
    // the same decisions, and not one digest read from the registry.
    let fake = world(RegistryMode::Gitlab, app.clone(), json!([]));
    let listed = run_on("graphql", &fake, &settings);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.with_outcome("deleted"), deleted, "{}", listed.log);
    assert_eq!(registry_requests(&listed, HEADS), 0, "{}", listed.log);
    assert_everything_kept_resolves(&fake);

    // Off: every signature stays, and no digest is read for them.
    let fake = world(RegistryMode::Legacy, app, json!([]));
    let out = run_on(
        "rest",
        &fake,
        &[
            ("GC_DRY_RUN", "true"),
            ("GC_DELETE_ORPHAN_REFERRERS", "false"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.with_outcome("would-delete").is_empty(), "{}", out.log);
    assert_eq!(registry_requests(&out, HEADS), 0);
}

/// A one-line error (the line that names it) on stderr.
fn error_line<'a>(out: &'a Outcome, variable: &str) -> &'a str {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(variable) && l.contains("GC_INSPECT=true"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one error line naming {variable}: {}",
        out.stderr
    );
    lines[0]
}

#[test]
fn gc_inspect_true_stops_before_anything_when_the_registry_cannot_be_read() {
    let fake = world(RegistryMode::Legacy, feature_images(), json!([]));

    // Unreachable.
    let out = run_on(
        "rest",
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_INSPECT", "true"),
            ("GC_REGISTRY_URL", "http://127.0.0.1:9"),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    error_line(&out, "GC_REGISTRY_URL");
    assert_eq!(requests(&fake, LIST_TAGS), 0, "nothing is listed");

    // A realm on another origin than GitLab's: the credentials are not sent there. The fake
    // answers on `localhost` as on 127.0.0.1, and its registry names `127.0.0.1` as realm.
    let api = fake.api_url().replace("127.0.0.1", "localhost");
    let out = run_on(
        "rest",
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("GC_INSPECT", "true"),
            ("CI_API_V4_URL", &api),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = error_line(&out, "GC_REGISTRY_URL");
    assert!(line.contains("realm"), "{line}");
    assert_eq!(
        requests(&fake, REALM),
        0,
        "no credentials to a foreign realm"
    );

    // Bad credentials: the job's registry password is wrong.
    let mut vars = job_token_env(&fake, &[("GC_DRY_RUN", "false"), ("GC_INSPECT", "true")]);
    vars.push(("CI_REGISTRY_USER".into(), "gitlab-ci-token".into()));
    vars.push(("CI_REGISTRY_PASSWORD".into(), "not-the-job-token".into()));
    let out = run_with(&vars);
    assert_eq!(out.code, 2, "{}", out.stderr);
    error_line(&out, "CI_REGISTRY_PASSWORD");
    assert!(!out.everything().contains("not-the-job-token"));

    assert_eq!(deletions_sent(&fake), 0);
    assert_eq!(fake.tags("g/p/app").len(), 7, "nothing deleted");
}

#[test]
fn gc_inspect_auto_without_a_registry_keeps_the_seeds_rule_and_says_why() {
    let fake = world(RegistryMode::Legacy, feature_images(), json!([]));
    let out = run_on(
        "rest",
        &fake,
        &[
            ("GC_DRY_RUN", "true"),
            ("GC_REGISTRY_URL", "http://127.0.0.1:9"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let inspection = out.report["summary"]["inspection"].as_str().unwrap();
    assert!(inspection.starts_with("unavailable ("), "{inspection}");
    assert!(inspection.contains("127.0.0.1:9"), "{inspection}");
    assert!(
        out.log.contains(&format!("inspection:      {inspection}")),
        "{}",
        out.log
    );
    assert_eq!(
        out.with_outcome("would-delete"),
        [
            "g/p/app:feature-x",
            "g/p/app:gone",
            "g/p/app:half",
            "g/p/app:multi"
        ]
    );
}

#[test]
fn on_the_metadata_database_a_404_alone_is_never_evidence() {
    // GitLab shows every tag there; one it cannot find (its partial-name lookup) answers 404,
    // and without the registry that proves nothing.
    let fake = world(RegistryMode::Gitlab, feature_images(), json!([]));
    let out = run_on(
        "graphql",
        &fake,
        &[("GC_DRY_RUN", "true"), ("GC_INSPECT", "false")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.with_outcome("would-delete").is_empty(), "{}", out.log);
    // With the registry: the manifest gone from storage is broken.
    let out = run_on("graphql", &fake, &[("GC_DRY_RUN", "true")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.with_outcome("would-delete"),
        ["g/p/app:gone"],
        "{}",
        out.log
    );
}

#[test]
fn a_protected_tag_is_never_planned_for_deletion() {
    let fake = fake_over(
        RegistryMode::Gitlab,
        json!([{"id": 1, "path": "g/p",
        "protection_rules": [{"tag_name_pattern": "release", "minimum_access_level_for_delete": "owner"}],
        "repositories": [{"id": 10, "name": "app", "tags": [
            {"name": "release-old", "age": "30d"},
            {"name": "feature-old", "age": "30d"}
        ]}]}]),
    );
    let settings = [("GC_OLDER_THAN", "7d")];
    let dry = run(&fake, &[settings[0], ("GC_DRY_RUN", "true")]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(dry.with_outcome("would-delete"), ["g/p/app:feature-old"]);
    assert_eq!(
        dry.rule_of("g/p/app", "release-old"),
        ("kept".into(), "protected".into())
    );
    let out = run(&fake, &[settings[0], ("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.with_outcome("deleted"), ["g/p/app:feature-old"]);
    assert_eq!(fake.tags("g/p/app"), ["release-old"]);
    if on_rest() {
        assert_eq!(
            requests(&fake, DELETE),
            1,
            "no DELETE for the protected tag"
        );
        // The rules are read once per run while the tags are gathered, before any details:
        // the protected tag's details are never asked (its decision cannot depend on them).
        assert_eq!(requests(&fake, PROTECTION_RULES), 2, "once per run");
        assert_eq!(
            requests(&fake, DETAILS),
            2,
            "feature-old's details, once per run; none for release-old"
        );
    } else {
        assert_eq!(requests(&fake, DELETE), 0);
        assert_eq!(requests(&fake, GRAPHQL_DELETE), 1);
    }
}

/// registry-gc's own registry client, logged in with the demo token to the fake's registry.
fn connect(fake: &FakeGitlab, concurrency: usize) -> registry_gc::registry::Registry {
    let login = registry_gc::config::RegistryLogin {
        user: "registry-gc".into(),
        password: TOKEN.into(),
        password_variable: "API_TOKEN",
    };
    let url = reqwest::Url::parse(&fake.registry_url().unwrap()).unwrap();
    let api = reqwest::Url::parse(&fake.api_url()).unwrap();
    let http = registry_gc::http::client(None, concurrency).unwrap();
    registry_gc::registry::Registry::connect(
        &url,
        &api,
        &login,
        http,
        concurrency,
        Default::default(),
    )
    .expect("logs in to the fake's registry")
}

/// GitLab's registry tokens last 5 minutes; here 2 seconds. A read that finds its token
/// expired renews it once, for every repository that shared it, however many reads found it
/// expired at the same time.
#[test]
fn an_expired_registry_token_is_renewed_once() {
    use registry_gc::registry::Fetched;
    let fixture = json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "registry": "legacy",
        "registry_token_ttl": "2s",
        "projects": [{"id": 1, "path": "g/p", "repositories": [
            {"id": 10, "name": "app", "tags": [{"name": "a", "age": "1d"}, {"name": "b", "age": "1d"}]},
            {"id": 11, "name": "web", "tags": [{"name": "a", "age": "1d"}]}
        ]}]
    });
    let fake = start(Fixture::from_json(&fixture.to_string()).unwrap());
    let registry = connect(&fake, 4);
    registry.authorize(&["g/p/app", "g/p/web"]).unwrap();
    let read = |repo: &str, tag: &str| match registry.manifest(repo, tag).unwrap() {
        Fetched::Found { .. } => (),
        Fetched::Missing => panic!("{repo}:{tag} is there"),
    };
    read("g/p/app", "a");
    let tokens_before = requests(&fake, REALM);
    assert_eq!(
        tokens_before, 2,
        "the login's, then one for both repositories"
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    std::thread::scope(|s| {
        for (repo, tag) in [
            ("g/p/app", "a"),
            ("g/p/app", "b"),
            ("g/p/web", "a"),
            ("g/p/app", "a"),
        ] {
            s.spawn(move || read(repo, tag));
        }
    });
    assert_eq!(
        requests(&fake, REALM) - tokens_before,
        1,
        "one renewal for the expiry"
    );
    read("g/p/web", "a");
    assert_eq!(requests(&fake, REALM) - tokens_before, 1);
}

/// Classification (design §9) of the manifests the registry really serves: each kind the
/// fake's fixtures push, read with registry-gc's own client and classified from the bytes.
#[test]
fn every_kind_the_registry_serves_is_classified_from_its_bytes() {
    use registry_gc::registry::{kind, Fetched, Kind};
    let expected = [
        ("image", Some(Kind::Image)),
        ("index", Some(Kind::Index)),
        ("attested", Some(Kind::Index)),
        ("cache-index", Some(Kind::Cache)),
        ("cache-image", Some(Kind::Cache)),
        ("helm", Some(Kind::Artifact)),
        ("index-missing-child", Some(Kind::Index)),
        ("missing", None),
    ];
    let mut tags: Vec<Value> = expected
        .iter()
        .map(|(k, _)| json!({"name": format!("t-{k}"), "kind": k, "age": "1d"}))
        .collect();
    tags.push(json!({"name": "t-oci-index", "kind": "index", "format": "oci", "age": "1d"}));
    for k in ["signature", "attestation", "sbom"] {
        tags.push(json!({"kind": k, "signs": "t-image"}));
    }
    tags.push(json!({"name": "t-artifact", "kind": "artifact", "signs": "t-image"}));
    let fake = world(RegistryMode::Legacy, json!(tags), json!([]));
    let registry = connect(&fake, 2);
    let classify = |tag: &str| match registry.manifest("g/p/app", tag).unwrap() {
        Fetched::Found {
            media_type, body, ..
        } => Some(kind::classify(tag, &media_type, &body).unwrap()),
        Fetched::Missing => None,
    };
    for (fixture_kind, kind) in expected {
        let got = classify(&format!("t-{fixture_kind}"));
        assert_eq!(got.as_ref().map(|m| m.kind), kind, "{fixture_kind}");
    }
    let oci = classify("t-oci-index").unwrap();
    assert_eq!(
        (oci.kind, oci.platforms.len(), oci.media_type.as_str()),
        (Kind::Index, 2, "application/vnd.oci.image.index.v1+json")
    );
    let attested = classify("t-attested").unwrap();
    assert_eq!((attested.platforms.len(), attested.attestations), (1, 1));
    // Referrers name their subject, the image's digest as the registry serves it.
    let image = registry.digest("g/p/app", "t-image").unwrap().unwrap();
    let referrers: Vec<String> = fake
        .tags("g/p/app")
        .into_iter()
        .filter(|t| t.starts_with("sha256-") || t == "t-artifact")
        .collect();
    assert_eq!(referrers.len(), 4, "{referrers:?}");
    for tag in referrers {
        let m = classify(&tag).unwrap();
        assert_eq!(
            (m.kind, m.subject.as_deref()),
            (Kind::Referrer, Some(image.as_str())),
            "{tag}"
        );
    }
}
