//! The reports a person and a later job read: gc-report.html (every decision of gc-report.json,
//! the server's words kept as text, nothing loaded from anywhere) and gc.env (the figures, in
//! GitLab's dotenv format, written however the run ends). The page in a real browser is
//! checked by component-tests/browser/check-page.mjs.

mod common;

use base64::Engine as _;
use common::*;
use registry_gc::report::dotenv::KEYS;
use serde_json::{json, Value};

/// The data block of the page, parsed.
fn page_data(page: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"gc-data\">";
    let start = page.find(open).expect("the page has its data block") + open.len();
    let end = start
        + page[start..]
            .find("</script>")
            .expect("the data block ends");
    serde_json::from_str(&page[start..end]).expect("the data block is JSON")
}

/// The page's inline script and the hash its Content-Security-Policy allows.
fn script_and_allowed_hash(page: &str) -> (String, String) {
    let data_end = page.find("</script>").unwrap() + "</script>".len();
    let start = data_end + page[data_end..].find("<script>").unwrap() + "<script>".len();
    let end = start + page[start..].find("</script>").unwrap();
    let policy = page
        .split("script-src 'sha256-")
        .nth(1)
        .expect("the policy names the script by hash");
    let hash = &policy[..policy.find('\'').unwrap()];
    (page[start..end].to_string(), hash.to_string())
}

fn card(page: &str, key: &str) -> Option<u64> {
    let marker = format!("data-key=\"{key}\" data-value=\"");
    let start = page.find(&marker)? + marker.len();
    Some(
        page[start..start + page[start..].find('"')?]
            .parse()
            .unwrap(),
    )
}

#[test]
fn the_page_holds_every_decision_of_the_json_report_and_loads_nothing() {
    let fake = demo();
    let out = run(&fake, &[("GC_SCOPE", "group"), ("GC_GROUP", "demo")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let data = page_data(&out.page);
    let name = |list: &str, i: &Value| data[list][i.as_u64().unwrap() as usize].clone();
    let rows: Vec<Value> = data["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!({"repo": name("repos", &r[0]), "name": r[1], "outcome": name("verbs", &r[2]),
                   "rule": name("rules", &r[3]), "reason": r[4], "size": r[5], "kind": r[6]})
        })
        .collect();
    let mut tags = Vec::new();
    for repo in out.report["repositories"].as_array().unwrap() {
        for t in repo["tags"].as_array().unwrap() {
            tags.push(
                json!({"repo": repo["path"], "name": t["name"], "outcome": t["outcome"],
                             "rule": t["rule"], "reason": t["reason"], "size": t["size"],
                             "kind": t["kind"]}),
            );
        }
    }
    assert!(tags.len() > 20);
    assert_eq!(rows, tags, "one row per tag, as gc-report.json says");
    // The registry was read where GitLab could not show a tag: the page says what it is.
    // (Without the metadata database GitLab cannot show any index either.)
    assert!(tags.iter().any(|t| t["kind"] == "cache"), "{tags:?}");
    if registry_mode() == RegistryMode::Legacy {
        assert!(tags.iter().any(|t| t["kind"] == "index"), "{tags:?}");
    }

    let summary = &out.report["summary"];
    for key in ["would_delete", "kept", "errors", "bytes_reclaimed"] {
        assert_eq!(card(&out.page, key), summary[key].as_u64(), "card {key}");
    }
    assert_eq!(
        card(&out.page, "deleted"),
        None,
        "a dry run shows would-delete"
    );
    assert!(
        out.page.contains("<dt>inspection</dt><dd>on</dd>"),
        "the page says the registry was read"
    );

    // Nothing to fetch, and no script but its own.
    let (script, allowed) = script_and_allowed_hash(&out.page);
    let hash = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(hash.as_ref()),
        allowed
    );
    assert!(out.page.contains("default-src 'none'"));
    for external in ["src=", "href=\"http", "@import", "url("] {
        let found = out
            .page
            .match_indices(external)
            .filter(|(i, _)| !out.page[..*i].ends_with("<a "))
            .count();
        assert_eq!(found, 0, "{external} in the page");
    }
}

#[test]
fn names_and_reasons_from_the_server_stay_text() {
    // Tag names cannot hold `/` (the fake refuses them, as registries do); a repository's path
    // can, so it brings the `</script>`.
    let hostile = [
        "<script>alert(1)",
        "<img src=x onerror=alert(2)>",
        "<!--",
        "\"q\" & 'a'",
        "sep\u{2028}\u{2029}",
    ];
    let mut tags: Vec<Value> = hostile
        .iter()
        .map(|n| json!({"name": n, "broken": true}))
        .collect();
    tags.push(json!({"name": "latest", "age": "1h"}));
    tags.push(json!({"name": "old", "age": "30d", "size": 1_048_576}));
    // Names no registry can hold, as a misbehaving server could still list them: in memory.
    let fake = fake_in_memory(json!([{"id": 1, "path": "g/p", "repositories": [
        {"id": 10, "name": "app</script><script>alert(3)</script>", "tags": tags}]}]));
    let out = run(
        &fake,
        &[
            ("CI_JOB_URL", "javascript:alert(3)"),
            ("GC_DRY_RUN", "true"),
            ("GC_OLDER_THAN", "7d"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lower = out.page.to_lowercase();
    assert_eq!(lower.matches("<script").count(), 2, "the data and the code");
    assert_eq!(lower.matches("</script").count(), 2);
    assert!(!out.page.contains("<!--") && !out.page.contains("<img"));
    assert!(!out.page.contains('\u{2028}') && !out.page.contains('\u{2029}'));
    assert!(!lower.contains("href=\"javascript"), "not a link");
    assert!(out.page.contains("javascript:alert(3)"), "but shown");
    let data = page_data(&out.page);
    let names: Vec<&str> = data["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap())
        .collect();
    for name in hostile {
        assert!(names.contains(&name), "{name:?} is in the data as it came");
    }
    assert_eq!(
        data["repos"][0].as_str().unwrap(),
        "g/p/app</script><script>alert(3)</script>"
    );
    assert!(
        out.page
            .contains("g/p/app&lt;/script&gt;&lt;script&gt;alert(3)&lt;/script&gt;"),
        "escaped in the chart"
    );
}

#[test]
fn gc_env_holds_the_figures_of_a_run() {
    let fake = demo();
    let out = run(&fake, &[("GC_SCOPE", "group"), ("GC_GROUP", "demo")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let keys: Vec<String> = out.figures().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, KEYS);
    assert_eq!(out.figure("REGISTRY_GC_STATUS"), "ok");
    assert_eq!(out.figure("REGISTRY_GC_MODE"), "dry-run");
    let summary = &out.report["summary"];
    for key in [
        "deleted",
        "would_delete",
        "kept",
        "errors",
        "bytes_reclaimed",
        "repositories",
    ] {
        let variable = format!("REGISTRY_GC_{}", key.to_uppercase());
        assert_eq!(
            out.figure(&variable),
            summary[key].to_string(),
            "{variable}"
        );
    }
    assert!(
        out.figure("REGISTRY_GC_WOULD_DELETE")
            .parse::<u64>()
            .unwrap()
            > 0
    );

    let out = run(&fake, &[("GC_DRY_RUN", "false")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.figure("REGISTRY_GC_MODE"), "delete");
    assert_eq!(
        out.figure("REGISTRY_GC_DELETED"),
        out.report["summary"]["deleted"].to_string()
    );
    assert_ne!(out.figure("REGISTRY_GC_DELETED"), "0");
}

#[test]
fn gc_env_and_the_page_are_written_when_a_run_stops_early() {
    // Refused by the safety limit: nothing deleted, exit 3.
    let fake = demo();
    let out = run(&fake, &[("GC_DRY_RUN", "false"), ("GC_MAX_DELETIONS", "1")]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.figure("REGISTRY_GC_STATUS"), "refused");
    assert_eq!(out.figure("REGISTRY_GC_DELETED"), "0");
    assert!(out.page.contains("Stopped: the plan deletes"));
    assert_eq!(
        card(&out.page, "not_deleted"),
        out.report["summary"]["not_deleted"].as_u64()
    );

    // The scope's listing fails: nothing decided, exit 1.
    let out = run(
        &fake,
        &[("GC_SCOPE", "group"), ("GC_GROUP", "no/such/group")],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.figure("REGISTRY_GC_STATUS"), "errors");
    assert_eq!(out.figure("REGISTRY_GC_REPOSITORIES"), "0");
    assert_ne!(out.figure("REGISTRY_GC_ERRORS"), "0");
    assert!(out
        .page
        .contains("Stopped: listing the repositories in scope failed"));
    assert!(out.page.contains("id=\"problems\""));
}

#[test]
fn a_configuration_error_replaces_earlier_figures_and_requests_nothing() {
    let fake = demo();
    // Refused while reading the environment (twice: the default gc.env, then GC_DOTENV_FILE),
    // and once the run has started: its log cannot be created.
    let cases = [
        (
            vec![("GC_KEEP_REGEX", "(unclosed")],
            "gc.env",
            "GC_KEEP_REGEX",
        ),
        (
            vec![
                ("GC_KEEP_REGEX", "(unclosed"),
                ("GC_DOTENV_FILE", "out/figures.env"),
            ],
            "out/figures.env",
            "GC_KEEP_REGEX",
        ),
        (
            vec![("GC_LOG_FILE", "no/such/dir/gc.log")],
            "gc.env",
            "GC_LOG_FILE",
        ),
    ];
    for (extra, path, variable) in cases {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        // What an earlier run left in the same directory.
        std::fs::write(
            dir.join(path),
            "REGISTRY_GC_STATUS=ok\nREGISTRY_GC_DELETED=99\n",
        )
        .unwrap();
        let out = run_in(dir.clone(), &env_for(&fake, &extra));
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(out.stderr.contains(variable), "{}", out.stderr);
        let figures = dotenv_vars(&std::fs::read_to_string(dir.join(path)).unwrap());
        let want: Vec<(String, String)> = [
            ("REGISTRY_GC_STATUS", "config-error"),
            ("REGISTRY_GC_MODE", "none"),
            ("REGISTRY_GC_DELETED", "0"),
            ("REGISTRY_GC_WOULD_DELETE", "0"),
            ("REGISTRY_GC_KEPT", "0"),
            ("REGISTRY_GC_ERRORS", "1"),
            ("REGISTRY_GC_BYTES_RECLAIMED", "0"),
            ("REGISTRY_GC_REPOSITORIES", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(figures, want);
        assert!(
            out.page.is_empty() && out.report.is_null(),
            "no other report"
        );
    }
    assert_eq!(
        fake.stats().total,
        0,
        "a configuration error requests nothing"
    );
}

#[test]
fn a_report_that_cannot_be_written_is_named_and_fails_the_run() {
    let fake = demo();
    for variable in ["GC_HTML_FILE", "GC_DOTENV_FILE"] {
        let out = run(&fake, &[(variable, "no/such/dir/file")]);
        assert_eq!(out.code, 1, "{variable}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("{variable}: cannot write no/such/dir/file")),
            "{}",
            out.stderr
        );
    }
}
