//! Security: the token goes only to the origin of `CI_API_V4_URL` and into no output; TLS with a
//! private CA works through `CI_SERVER_TLS_CA_FILE` and fails clearly without it.
//!
//! The other end of a redirect or of a foreign pagination link is a [`ForeignHost`]: a listener
//! on another loopback address (127.0.0.2) or port that records every request, so "the token
//! never left" is checked where it would have arrived, not inferred from the client's logs.

mod common;

use common::*;
use fake_gitlab::ForeignHost;
use serde_json::json;

/// REST's mechanics (redirects of REST endpoints, `Link` pagination) are tested over REST.
fn run_rest(fake: &FakeGitlab, extra: &[(&str, &str)]) -> common::Outcome {
    run_on("rest", fake, extra)
}

fn faults(value: serde_json::Value) -> Faults {
    serde_json::from_value(value).expect("fault JSON matches the fake's Faults")
}

/// Another host as far as URLs go: 127.0.0.2 where the sandbox allows it, else another port.
fn foreign() -> ForeignHost {
    ForeignHost::start("127.0.0.2:0")
        .or_else(|_| ForeignHost::start("127.0.0.1:0"))
        .expect("a foreign listener")
}

/// `repository:tag` of everything the fake holds.
fn all_tags(fake: &FakeGitlab) -> Vec<String> {
    let mut out = Vec::new();
    for project in fake.state()["projects"].as_object().unwrap().values() {
        for (path, tags) in project["repositories"].as_object().unwrap() {
            for t in tags.as_array().unwrap() {
                out.push(format!("{path}:{}", t.as_str().unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn write_file(name: &str, text: &str) -> String {
    let path = tempdir().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

// ------------------------------------------------------------------------------------- TLS

#[test]
fn https_works_with_the_ca_file_and_fails_clearly_without_it() {
    // The reference: the same run over plain HTTP.
    let plain = demo();
    let expected = run(&plain, &[("GC_DRY_RUN", "false")]);
    assert_eq!(expected.code, 0, "{}", expected.stderr);

    let fake = FakeGitlab::start_tls(Fixture::demo().with_registry(registry_mode()));
    assert!(fake.api_url().starts_with("https://127.0.0.1:"));
    let ca = write_file("ca.pem", fake.ca_pem().unwrap());
    let other_ca = write_file(
        "other-ca.pem",
        // Only its certificate authority is used: no registry needed.
        FakeGitlab::start_tls(Fixture::memory()).ca_pem().unwrap(),
    );
    let before = all_tags(&fake);

    // Without the CA, and with a CA that did not sign the certificate: both refused. They run
    // side by side (each spends a few seconds retrying).
    let (without, wrong) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&fake, &[("GC_DRY_RUN", "false")]));
        let b = s.spawn(|| {
            run(
                &fake,
                &[
                    ("GC_DRY_RUN", "false"),
                    ("CI_SERVER_TLS_CA_FILE", other_ca.as_str()),
                ],
            )
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    // Over GraphQL the probe is the first request: GC_API=graphql cannot be used, exit 2.
    let (code, first_request) = if on_rest() {
        (1, "error: GET /api/v4/projects/1/registry/repositories")
    } else {
        (
            2,
            "error: GC_API: graphql cannot be used: the GraphQL probe failed: POST /api/graphql (registryGcProbe)",
        )
    };
    for out in [&without, &wrong] {
        assert_eq!(out.code, code, "{}", out.stderr);
        let line = out
            .stderr
            .lines()
            .find(|l| l.starts_with(first_request))
            .unwrap_or_else(|| panic!("one error line naming the endpoint: {}", out.stderr));
        assert!(
            line.contains("invalid peer certificate"),
            "the line says it is the certificate: {line}"
        );
        assert!(out.with_outcome("deleted").is_empty());
        assert!(out.log.contains("stopped"), "{}", out.log);
        assert!(!out.everything().contains(TOKEN));
    }
    assert_eq!(fake.stats().total, 0, "no request got past the handshake");
    assert_eq!(all_tags(&fake), before, "nothing deleted");

    // With it: the same result as over plain HTTP.
    let ok = run(
        &fake,
        &[
            ("GC_DRY_RUN", "false"),
            ("CI_SERVER_TLS_CA_FILE", ca.as_str()),
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.with_outcome("deleted"), expected.with_outcome("deleted"));
    assert_eq!(all_tags(&fake), all_tags(&plain));

    // A CA file that is not PEM: a configuration error before any request.
    let garbage = write_file("garbage.pem", "not a certificate\n");
    let out = run(&fake, &[("CI_SERVER_TLS_CA_FILE", garbage.as_str())]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("CI_SERVER_TLS_CA_FILE"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------- the token's origin

#[test]
fn a_redirect_to_another_origin_is_refused_and_the_token_stays_home() {
    let elsewhere = foreign();
    let redirect = |method: &str, endpoint: &str, times: u64| {
        faults(json!({
            "foreign_origin": elsewhere.origin(),
            "scripted": [{"method": method, "endpoint": endpoint, "fault": "redirect", "times": times}]
        }))
    };

    // The first request: the whole scope is unknown, nothing is deleted.
    let fake = demo();
    let before = all_tags(&fake);
    fake.set_faults(redirect("GET", "/projects/:id/registry/repositories", 1));
    let out = run_rest(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("redirects to {}", elsewhere.origin()))
            && out.stderr.contains("not followed"),
        "{}",
        out.stderr
    );
    assert_eq!(deletions_sent(&fake), 0);
    assert_eq!(all_tags(&fake), before);

    // Tag details: those tags are kept (rule `error`), the others proceed.
    let fake = demo();
    fake.set_faults(redirect(
        "GET",
        "/projects/:id/registry/repositories/:repository_id/tags/:tag_name",
        3,
    ));
    let out = run_rest(&fake, &[("GC_DRY_RUN", "false"), ("GC_CONCURRENCY", "1")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.tags().iter().filter(|t| t.3 == "error").count(), 3);

    // DELETEs: each refused, reported as failed; GitLab applied none of them.
    let fake = demo();
    let before = all_tags(&fake);
    fake.set_faults(redirect(
        "DELETE",
        "/projects/:id/registry/repositories/:repository_id/tags/:tag_name",
        1000,
    ));
    let out = run_rest(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.with_outcome("deleted").is_empty());
    assert!(!out.with_outcome("failed").is_empty());
    assert_eq!(all_tags(&fake), before);
    assert!(out.log.contains("redirects to"), "{}", out.log);

    assert!(
        elsewhere.requests().is_empty(),
        "redirects are not followed: {:?}",
        elsewhere.requests()
    );
}

fn many_tags_fixture() -> Fixture {
    let tags: Vec<serde_json::Value> = (0..150)
        .map(|i| {
            if i % 10 == 0 {
                json!({"name": format!("broken-{i:03}"), "broken": true})
            } else {
                json!({"name": format!("build-{i:03}"), "age": "3h"})
            }
        })
        .collect();
    Fixture::from_json(
        &json!({
            "tokens": [{"token": TOKEN, "scopes": ["api"]}],
            "groups": [{"id": 5, "path": "sec", "access_level": 40}],
            "projects": [{"id": 1, "path": "sec/p", "repositories": [
                {"id": 10, "name": "app", "tags": tags},
                {"id": 11, "name": "other", "tags": [{"name": "old", "broken": true}]}
            ]}]
        })
        .to_string(),
    )
    .unwrap()
}

#[test]
fn a_next_page_on_another_origin_is_refused_and_the_token_stays_home() {
    // Another host, and another port of the same host: both other origins.
    for elsewhere in [foreign(), ForeignHost::start("127.0.0.1:0").unwrap()] {
        let next = |endpoint: &str| {
            faults(json!({
                "foreign_origin": elsewhere.origin(),
                "scripted": [{"method": "GET", "endpoint": endpoint, "fault": "foreign_next", "times": 1000}]
            }))
        };

        // A tag list: that repository is left untouched; the other one is cleaned.
        let fake = FakeGitlab::start(many_tags_fixture());
        fake.set_faults(next(
            "/projects/:id/registry/repositories/:repository_id/tags",
        ));
        let out = run_rest(&fake, &[("GC_DRY_RUN", "false")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("not on the origin of CI_API_V4_URL"),
            "{}",
            out.stderr
        );
        assert_eq!(fake.tags("sec/p/app").len(), 150, "left untouched");
        assert!(
            fake.tags("sec/p/other").is_empty(),
            "the other repository is cleaned"
        );

        // The repository list (101 repositories, two pages): the whole scope is unknown,
        // nothing is deleted.
        let mut repos: Vec<serde_json::Value> = (0..100)
            .map(|i| json!({"id": 100 + i, "name": format!("empty-{i:03}")}))
            .collect();
        repos.push(json!({"id": 99, "name": "app", "tags": [{"name": "old", "broken": true}]}));
        let fake = FakeGitlab::start(
            Fixture::from_json(
                &json!({
                    "tokens": [{"token": TOKEN, "scopes": ["api"]}],
                    "projects": [{"id": 1, "path": "sec/many", "repositories": repos}]
                })
                .to_string(),
            )
            .unwrap(),
        );
        fake.set_faults(next("/projects/:id/registry/repositories"));
        let out = run_rest(&fake, &[("GC_DRY_RUN", "false")]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(deletions_sent(&fake), 0);
        assert_eq!(fake.tags("sec/many/app"), ["old"]);

        assert!(
            elsewhere.requests().is_empty(),
            "the foreign page was never requested: {:?}",
            elsewhere.requests()
        );
        assert!(!elsewhere.received_credentials());
    }
}

// ---------------------------------------------------------------------- the token in outputs

#[test]
fn the_token_appears_in_no_output_under_faults_and_errors() {
    const SECRET: &str = "glpat-Sup3rS3cretT0kenValue_x9";
    let fixture = |scopes: &str| {
        Fixture::from_json(
            &json!({
                "tokens": [{"token": SECRET, "scopes": [scopes]}],
                "projects": [{"id": 1, "path": "sec/p", "repositories": [
                    {"id": 10, "name": "app", "tags": [
                        {"name": "latest", "age": "1h"}, {"name": "gone", "broken": true},
                        {"name": "old", "age": "90d"}, {"name": "older", "age": "200d"}
                    ]}
                ]}]
            })
            .to_string(),
        )
        .unwrap()
    };
    let elsewhere = foreign();
    let mut outputs = Vec::new();
    let env = |fake: &FakeGitlab, extra: &[(&str, &str)]| {
        let mut vars = env_for(
            fake,
            &[
                ("API_TOKEN", SECRET),
                ("RUST_LOG", "trace"),
                ("GC_OLDER_THAN", "30d"),
            ],
        );
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    };

    for fault in [
        json!({"seed": 3, "error_rate": 0.3, "truncate_rate": 0.1, "non_json_rate": 0.1, "drop_rate": 0.1, "drop_after_rate": 0.1}),
        json!({"foreign_origin": elsewhere.origin(), "scripted": [{"endpoint": "*", "fault": "redirect", "times": 1000}]}),
        json!({"scripted": [{"endpoint": "*", "fault": "500", "times": 1000}]}),
        json!({"scripted": [{"endpoint": "*", "fault": "429", "times": 2}, {"endpoint": "*", "fault": "short_read", "times": 3}]}),
    ] {
        let fake = FakeGitlab::start(fixture("api"));
        fake.set_faults(faults(fault));
        outputs.push(run_with(&env(&fake, &[("GC_DRY_RUN", "false")])));
    }
    // Insufficient scope: every DELETE answers 403.
    let fake = FakeGitlab::start(fixture("read_api"));
    let out = run_with(&env(&fake, &[("GC_DRY_RUN", "false")]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    outputs.push(out);
    // A token GitLab does not know: 401.
    let fake = FakeGitlab::start(fixture("api"));
    let mut vars = env(&fake, &[]);
    vars.retain(|(k, _)| k != "API_TOKEN");
    vars.push(("API_TOKEN".into(), format!("{SECRET}-revoked")));
    let out = run_with(&vars);
    // Over GraphQL the probe meets the 401 first: GC_API=graphql cannot be used, exit 2.
    assert_eq!(out.code, if on_rest() { 1 } else { 2 }, "{}", out.stderr);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    outputs.push(out);
    // As a job token.
    let mut vars = env(&fake, &[]);
    vars.retain(|(k, _)| k != "API_TOKEN");
    vars.push(("CI_JOB_TOKEN".into(), SECRET.into()));
    outputs.push(run_with(&vars));
    // A token that cannot be a header value: refused, not printed.
    let mut vars = env(&fake, &[]);
    vars.retain(|(k, _)| k != "API_TOKEN");
    vars.push(("API_TOKEN".into(), format!("{SECRET}\nX-Injected: 1")));
    let out = run_with(&vars);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("API_TOKEN"), "{}", out.stderr);
    outputs.push(out);
    // A configuration error with the token set.
    outputs.push(run_with(&env(&fake, &[("GC_KEEP_N", "lots")])));

    for out in &outputs {
        assert!(
            !out.everything().contains(SECRET) && !out.everything().contains("Sup3rS3cret"),
            "the token leaked (exit {}):\n{}",
            out.code,
            out.everything()
        );
        assert_ne!(out.code, 101, "no panic: {}", out.stderr);
    }
    assert!(elsewhere.requests().is_empty());
}
