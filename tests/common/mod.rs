//! Runs the real registry-gc binary against the fake GitLab and collects everything it wrote.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

#[allow(unused_imports)] // each test crate uses its own subset
pub use fake_gitlab::{FakeGitlab, Faults, Fixture, RegistryMode};

/// Sorted `repo:tag` strings.
pub fn sorted(refs: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = refs.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

pub const TOKEN: &str = "glpat-demo-token";

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub log: String,
    pub junit: String,
    pub report: serde_json::Value,
    /// gc-report.html.
    pub page: String,
    /// gc.env.
    pub dotenv: String,
    pub dir: PathBuf,
}

impl Outcome {
    /// Every byte registry-gc produced, for "the token never appears" checks.
    pub fn everything(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.stdout, self.stderr, self.log, self.junit, self.report, self.page, self.dotenv
        )
    }

    /// The variables of gc.env, in the order written.
    pub fn figures(&self) -> Vec<(String, String)> {
        dotenv_vars(&self.dotenv)
    }

    /// One variable of gc.env.
    pub fn figure(&self, key: &str) -> String {
        self.figures()
            .into_iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("{key} not in gc.env:\n{}", self.dotenv))
            .1
    }

    /// `(repository path, tag, outcome, rule)` for every tag in the JSON report.
    pub fn tags(&self) -> Vec<(String, String, String, String)> {
        let mut out = Vec::new();
        for repo in self.report["repositories"].as_array().into_iter().flatten() {
            for tag in repo["tags"].as_array().into_iter().flatten() {
                out.push((
                    repo["path"].as_str().unwrap().to_string(),
                    tag["name"].as_str().unwrap().to_string(),
                    tag["outcome"].as_str().unwrap().to_string(),
                    tag["rule"].as_str().unwrap().to_string(),
                ));
            }
        }
        out.sort();
        out
    }

    /// `repo:tag` of every tag with the given outcome (`deleted`, `would-delete`, `kept`, …).
    pub fn with_outcome(&self, outcome: &str) -> Vec<String> {
        let mut refs: Vec<String> = self
            .tags()
            .into_iter()
            .filter(|t| t.2 == outcome)
            .map(|t| format!("{}:{}", t.0, t.1))
            .collect();
        refs.sort();
        refs
    }

    pub fn rule_of(&self, repo: &str, tag: &str) -> (String, String) {
        let t = self
            .tags()
            .into_iter()
            .find(|t| t.0 == repo && t.1 == tag)
            .unwrap_or_else(|| panic!("{repo}:{tag} not in report"));
        (t.2, t.3)
    }
}

/// The backend the suite runs on: `REGISTRY_GC_TEST_API=graphql` runs the same scenarios over
/// GraphQL (component-tests/test-all.sh runs the suite both ways); REST by default.
pub fn api() -> &'static str {
    match std::env::var("REGISTRY_GC_TEST_API").as_deref() {
        Ok("graphql") => "graphql",
        Ok("rest") | Err(_) => "rest",
        Ok(other) => panic!("REGISTRY_GC_TEST_API={other}: expected rest or graphql"),
    }
}

pub fn on_rest() -> bool {
    api() == "rest"
}

/// The registry behind the suite's fake: a real docker-registry, without GitLab's metadata
/// database on the REST run (most self-managed instances) and with it on the GraphQL run
/// (GitLab.com), as `component-tests/test-all.sh` runs them.
pub fn registry_mode() -> RegistryMode {
    if on_rest() {
        RegistryMode::Legacy
    } else {
        RegistryMode::Gitlab
    }
}

/// Starts a fake; a registry that cannot start fails the test, saying why.
pub fn start(fixture: Fixture) -> FakeGitlab {
    FakeGitlab::start_on(fixture, "127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot start the fake GitLab: {e}"))
}

/// Base environment: the fake's URL, the demo token, project 1, the suite's backend
/// ([`api`]), the fake's registry when it has a real one, and `extra` on top.
pub fn env_for(fake: &FakeGitlab, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = vec![
        ("CI_API_V4_URL".into(), fake.api_url()),
        ("API_TOKEN".into(), TOKEN.into()),
        ("CI_PROJECT_ID".into(), "1".into()),
        ("GC_API".into(), api().into()),
    ];
    if let Some(url) = fake.registry_url() {
        // What `https://$CI_REGISTRY` is in a job; the fake's registry speaks plain HTTP.
        vars.push(("GC_REGISTRY_URL".into(), url));
    }
    if !on_rest() {
        // The suite checks that both backends decide alike: on the same ages.
        vars.push(("GC_AGE_FROM".into(), "created".into()));
    }
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    vars
}

/// Runs the binary with exactly `vars` (plus a cwd of its own) and reads its outputs.
pub fn run_with(vars: &[(String, String)]) -> Outcome {
    run_in(tempdir(), vars)
}

/// [`run_with`] in a given working directory (which may hold files of an earlier run).
pub fn run_in(dir: PathBuf, vars: &[(String, String)]) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_registry-gc"))
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&dir)
        .output()
        .expect("registry-gc runs");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let report = read("gc-report.json");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        log: read("gc.log"),
        junit: read("gc-junit.xml"),
        page: read("gc-report.html"),
        dotenv: read("gc.env"),
        report: if report.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&report).expect("gc-report.json is JSON")
        },
        dir,
    }
}

pub fn run(fake: &FakeGitlab, extra: &[(&str, &str)]) -> Outcome {
    run_with(&env_for(fake, extra))
}

/// [`run`] over the given API (`rest`, `graphql`, `auto`), whatever the suite's backend.
pub fn run_on(api: &str, fake: &FakeGitlab, extra: &[(&str, &str)]) -> Outcome {
    let mut vars = env_for(fake, extra);
    vars.retain(|(k, _)| k != "GC_API");
    vars.push(("GC_API".into(), api.into()));
    run_with(&vars)
}

pub fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "registry-gc-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fake serving `projects` (fixture JSON) to the demo token, over the suite's registry.
pub fn fake_with(projects: serde_json::Value) -> FakeGitlab {
    fake_over(registry_mode(), projects)
}

/// [`fake_with`] with the images in the fake's memory: for worlds a real registry cannot
/// hold (names it refuses, 10,000-tag lists) or answers only an older GitLab gives.
pub fn fake_in_memory(projects: serde_json::Value) -> FakeGitlab {
    fake_over(RegistryMode::Memory, projects)
}

pub fn fake_over(mode: RegistryMode, projects: serde_json::Value) -> FakeGitlab {
    let fixture = serde_json::json!({"tokens": [{"token": TOKEN, "scopes": ["api"]}], "projects": projects, "registry": mode.as_str()});
    start(Fixture::from_json(&fixture.to_string()).expect("test fixture is valid"))
}

/// [`env_for`], authenticating with the demo's job token instead of `API_TOKEN` (and so over
/// REST: `GC_API=auto` never offers a job token to GraphQL).
pub fn job_token_env(fake: &FakeGitlab, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    env_for(fake, extra)
        .into_iter()
        .filter(|(k, _)| k != "API_TOKEN" && k != "GC_API")
        .chain([("CI_JOB_TOKEN".to_string(), "demo-job-token".to_string())])
        .collect()
}

/// The demo instance over the suite's registry.
pub fn demo() -> FakeGitlab {
    start(Fixture::demo().with_registry(registry_mode()))
}

pub fn requests(fake: &FakeGitlab, endpoint: &str) -> u64 {
    fake.stats().by_endpoint.get(endpoint).copied().unwrap_or(0)
}

pub const LIST_TAGS: &str = "GET /projects/:id/registry/repositories/:repository_id/tags";
pub const DETAILS: &str = "GET /projects/:id/registry/repositories/:repository_id/tags/:tag_name";
pub const DELETE: &str = "DELETE /projects/:id/registry/repositories/:repository_id/tags/:tag_name";
pub const PROTECTION_RULES: &str = "GET /projects/:id/registry/protection/tag/rules";
/// The registry's token realm, which GitLab serves.
pub const REALM: &str = "GET /jwt/auth";
pub const GRAPHQL_PROBE: &str = "POST /api/graphql (registryGcProbe)";
pub const GRAPHQL_TAGS: &str = "POST /api/graphql (registryGcTags)";
pub const GRAPHQL_DELETE: &str = "POST /api/graphql (registryGcDeleteTags)";

/// A fault configuration from its JSON (component-tests/fixtures/README.md, "Faults").
pub fn faults(value: serde_json::Value) -> Faults {
    serde_json::from_value(value).expect("fault JSON matches the fake's Faults")
}

/// The `(method, endpoint)` a scripted fault names to hit the tag listings of the suite's
/// backend.
pub fn tag_listing_route() -> (&'static str, &'static str) {
    if on_rest() {
        (
            "GET",
            "/projects/:id/registry/repositories/:repository_id/tags",
        )
    } else {
        ("POST", "/api/graphql (registryGcTags)")
    }
}

/// Requests that could delete something, over either API.
pub fn deletions_sent(fake: &FakeGitlab) -> u64 {
    requests(fake, DELETE) + requests(fake, GRAPHQL_DELETE)
}

/// Parses a JUnit file with quick-xml and returns (tests, failures, skipped) as counted from
/// the testcases, checking that every declared count attribute agrees.
pub fn junit_counts(xml: &str) -> (usize, usize, usize) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    let mut declared = None;
    // Per suite: (declared, counted), each as (tests, failures, skipped).
    type Counts = (usize, usize, usize);
    let mut suite_counts: Vec<(Counts, Counts)> = Vec::new();
    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> usize {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .map(|a| a.value.as_ref().parse::<usize>().unwrap())
            .unwrap()
    };
    loop {
        match reader
            .read_event()
            .expect("gc-junit.xml is well-formed XML")
        {
            Event::Start(e) if e.name().as_ref() == "testsuites" => {
                declared = Some((attr(&e, "tests"), attr(&e, "failures"), attr(&e, "skipped")))
            }
            Event::Start(e) if e.name().as_ref() == "testsuite" => suite_counts.push((
                (attr(&e, "tests"), attr(&e, "failures"), attr(&e, "skipped")),
                (0, 0, 0),
            )),
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "testcase" => {
                tests += 1;
                suite_counts
                    .last_mut()
                    .expect("testcase inside a testsuite")
                    .1
                     .0 += 1;
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "failure" => {
                failures += 1;
                suite_counts.last_mut().unwrap().1 .1 += 1;
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "skipped" => {
                skipped += 1;
                suite_counts.last_mut().unwrap().1 .2 += 1;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(
        declared,
        Some((tests, failures, skipped)),
        "testsuites counts match the testcases"
    );
    for (declared, counted) in suite_counts {
        assert_eq!(declared, counted, "testsuite counts match its testcases");
    }
    (tests, failures, skipped)
}

/// `KEY=VALUE` lines of a dotenv file.
pub fn dotenv_vars(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| {
            let (k, v) = line.split_once('=').expect("KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Starts a real run that deletes 40 broken tags slowly, sends `signal` (`TERM` or `INT`) once
/// deletions have started, and checks what an interrupted run must leave: the exit code, a
/// partial but consistent result, a gc.log summary naming the interruption, parseable JUnit and
/// a JSON report matching the registry; then a second run completes the job.
pub fn interrupt_mid_run(signal: &str, expected_code: i32) {
    let tags: Vec<serde_json::Value> = (0..400)
        .map(|i| {
            if i % 10 == 0 {
                serde_json::json!({"name": format!("broken-{i:04}"), "broken": true})
            } else {
                serde_json::json!({"name": format!("build-{i:04}"), "age": "1d"})
            }
        })
        .collect();
    let fake = fake_with(
        serde_json::json!([{"id": 1, "path": "big/project", "repositories": [{"id": 10, "name": "app", "tags": tags}]}]),
    );
    // REST deletes the 40 broken tags one by one. GraphQL deletes 20 a call, so it is given all
    // 400 tags to delete (GC_OLDER_THAN) and slow answers, or it would be done in two calls.
    let (settings, planned) = if on_rest() {
        fake.set_faults(serde_json::from_value(serde_json::json!({"latency_ms": 25})).unwrap());
        (vec![("GC_DRY_RUN", "false"), ("GC_CONCURRENCY", "2")], 40)
    } else {
        fake.set_faults(
            serde_json::from_value(serde_json::json!({"latency_ms": 5, "slow_body_ms": 300, "scripted": [
                {"method": "POST", "endpoint": "/api/graphql (registryGcDeleteTags)", "fault": "slow", "times": 1000}
            ]}))
            .unwrap(),
        );
        (
            vec![
                ("GC_DRY_RUN", "false"),
                ("GC_CONCURRENCY", "2"),
                ("GC_OLDER_THAN", "1h"),
            ],
            400,
        )
    };
    let dir = tempdir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_registry-gc"))
        .env_clear()
        .envs(env_for(&fake, &settings))
        .current_dir(&dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deleted = || 400 - fake.tags("big/project/app").len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while deleted() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(deleted() >= 3, "deletions started");
    Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(expected_code));
    let deleted_at_stop = deleted();
    assert!(
        deleted_at_stop < planned,
        "it stopped before deleting everything"
    );
    let log = std::fs::read_to_string(dir.join("gc.log")).unwrap();
    let said = format!("interrupted by signal (exit {expected_code})");
    assert!(
        log.contains("--- summary ---") && log.contains(&said),
        "{log}"
    );
    junit_counts(&std::fs::read_to_string(dir.join("gc-junit.xml")).unwrap());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("gc-report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["summary"]["deleted"].as_u64().unwrap() as usize,
        deleted_at_stop
    );
    // The page says why it stopped; gc.env tells a later job.
    let page = std::fs::read_to_string(dir.join("gc-report.html")).unwrap();
    assert!(
        page.contains(&format!("Stopped: {said}")),
        "the page names the stop"
    );
    let figures = dotenv_vars(&std::fs::read_to_string(dir.join("gc.env")).unwrap());
    let figure = |key: &str| figures.iter().find(|(k, _)| k == key).unwrap().1.clone();
    assert_eq!(figure("REGISTRY_GC_STATUS"), "interrupted");
    assert_eq!(figure("REGISTRY_GC_DELETED"), deleted_at_stop.to_string());

    // The next run completes the job.
    fake.set_faults(Faults::default());
    let out = run(&fake, &settings);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(deleted(), planned);
}
