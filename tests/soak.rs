//! Fault soak: many runs of the real binary, each against its own fake GitLab misbehaving in a
//! different seeded way (5xx, 429 bursts with and without `Retry-After`, a Rack::Attack rate
//! limit, truncated, short and non-JSON bodies, dropped connections before and after the
//! request was applied, latency jitter, slow bodies), with or without the `stale-ref` rule (whose
//! branch and merge request listings meet the same faults).
//!
//! Each run is compared with the same configuration on a clean fake (the fault-free result):
//! - nothing the fault-free plan keeps is ever deleted, and nothing outside that plan is deleted;
//! - no panic: the exit code is 0, 1 or 3, never 101 or a signal;
//! - the exit code matches what happened: 1 exactly when the report records an error, and 0
//!   means the registry is exactly the fault-free result;
//! - the reports tell the truth: a tag reported deleted is gone, a tag reported kept is there;
//! - dry-run sends no DELETE, `GC_MAX_DELETIONS` is never exceeded;
//! - the token appears in no output;
//! - after at most one more (clean) run, the registry equals the fault-free result.
//!
//! `SOAK_RUNS` (default 24) sets the number of runs, `SOAK_PARALLEL` (default 4) how many go at
//! once (most of a faulty run is spent waiting in backoff), `SOAK_SEED` the first seed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use common::*;
use serde_json::{json, Value};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: seeded scenarios, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Tags of an image repository: ages in odd hours (never equal to a limit in whole days, so a
/// run seconds later decides the same), some null, broken, protected or undeletable.
fn image_tags(rng: &mut Rng, min: u64, spread: u64) -> Vec<Value> {
    let count = min + rng.below(spread);
    let mut names = BTreeSet::new();
    for _ in 0..count {
        let k = rng.below(30);
        let name = match rng.below(9) {
            0 => "latest".to_string(),
            1 => "main".to_string(),
            2 => format!("v1.{k}.0"),
            3 | 4 => format!("feature-{k}"),
            5 => format!("mr-{k}"),
            _ => format!("build-{k}"),
        };
        names.insert(name);
    }
    names
        .into_iter()
        .map(|name| {
            let mut tag = json!({ "name": name });
            if !rng.chance(0.1) {
                tag["age"] = json!(format!("{}h", 2 * rng.below(24 * 60) + 1));
            }
            if rng.chance(0.08) {
                tag["broken"] = json!(true);
                if rng.chance(0.3) {
                    tag["undeletable"] = json!(true);
                }
            }
            if rng.chance(0.05) {
                tag["protected"] = json!(true);
            }
            tag
        })
        .collect()
}

/// Cache tags (null `created_at`), mostly named after the counterpart's tags.
fn cache_tags(rng: &mut Rng, counterpart: &[Value], min: u64, spread: u64) -> Vec<Value> {
    let count = min + rng.below(spread);
    let mut names = BTreeSet::new();
    for _ in 0..count {
        if !counterpart.is_empty() && rng.chance(0.7) {
            let t = &counterpart[rng.below(counterpart.len() as u64) as usize];
            names.insert(t["name"].as_str().unwrap().to_string());
        } else {
            names.insert(format!("feature-gone-{}", rng.below(20)));
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mut tag = json!({ "name": name });
            if rng.chance(0.05) {
                tag["protected"] = json!(true);
            }
            tag
        })
        .collect()
}

fn fixture(rng: &mut Rng) -> Value {
    let api = image_tags(rng, 4, 12);
    let site = image_tags(rng, 3, 8);
    // Two pages of release tags, all kept by the default GC_KEEP_REGEX, plus a few others.
    let mut releases: Vec<Value> = (0..105)
        .map(|k| json!({"name": format!("v2.{k}.1"), "age": format!("{}h", 2 * k + 1)}))
        .collect();
    releases.extend(image_tags(rng, 3, 1));
    json!({
        "tokens": [{"token": TOKEN, "scopes": ["api"]}],
        "groups": [{"id": 10, "path": "soak", "access_level": 40}],
        "projects": [
            {"id": 1, "path": "soak/team/app-1",
             // For GC_STALE_REF_REGEX: feature-0..9 and mr-1, mr-2 are live, the rest gone.
             "branches": (0..10).map(|k| json!({"name": format!("feature/{k}")}))
                 .chain([json!({"name": "main"})]).collect::<Vec<_>>(),
             "merge_requests": [
                 {"iid": 1, "source_branch": "feature/1"}, {"iid": 2, "source_branch": "topic"},
                 {"iid": 3, "state": "merged", "source_branch": "feature/30"}
             ],
             "repositories": [
                {"id": 11, "name": "", "tags": image_tags(rng, 2, 6)},
                {"id": 12, "name": "api", "tags": api},
                {"id": 13, "name": "api.cache", "tags": cache_tags(rng, &api, 2, 8)},
                {"id": 14, "name": "worker.cache", "tags": cache_tags(rng, &[], 1, 4)},
                {"id": 15, "name": "empty", "tags": []},
                {"id": 16, "name": "sub/dir/img_x", "tags": image_tags(rng, 2, 6)},
                {"id": 17, "name": "releases", "tags": releases}
            ]},
            {"id": 2, "path": "soak/web", "repositories": [
                {"id": 21, "name": "site", "tags": site},
                {"id": 22, "name": "site.cache", "tags": cache_tags(rng, &site, 1, 5)}
            ]}
        ]
    })
}

struct Scenario {
    seed: u64,
    fixture: Value,
    vars: Vec<(String, String)>,
    dry_run: bool,
    max_deletions: Option<usize>,
    faults: Value,
}

fn scenario(seed: u64) -> Scenario {
    let mut rng = Rng::new(seed);
    let fixture = fixture(&mut rng);
    let mut vars: Vec<(&str, String)> = Vec::new();
    if rng.chance(0.5) {
        vars.push(("GC_SCOPE", "group".into()));
        vars.push(("GC_GROUP", rng.pick(&["soak", "10"]).into()));
    }
    if rng.chance(0.6) {
        vars.push(("GC_OLDER_THAN", rng.pick(&["1d", "7d", "30d"]).into()));
    }
    if rng.chance(0.5) {
        vars.push(("GC_KEEP_N", (1 + rng.below(5)).to_string()));
    }
    if rng.chance(0.3) {
        vars.push(("GC_DELETE_REGEX", "(feature|build)-.*".into()));
    }
    if rng.chance(0.2) {
        vars.push(("GC_DELETE_BROKEN", "false".into()));
    }
    if rng.chance(0.25) {
        vars.push(("GC_KEEP_REGEX", r"latest|main|v.*|mr-\d+".into()));
    }
    // From a generator of its own, so the other draws of each seed stay what they were.
    if Rng::new(seed ^ 0x5_7A1E_0000).chance(0.35) {
        vars.push((
            "GC_STALE_REF_REGEX",
            "mr-(?P<mr>[0-9]+)|(?P<slug>feature-.+)".into(),
        ));
    }
    vars.push(("GC_CONCURRENCY", (1 + rng.below(8)).to_string()));
    let dry_run = rng.chance(0.15);
    vars.push(("GC_DRY_RUN", dry_run.to_string()));
    let max_deletions = rng.chance(0.15).then(|| rng.below(12) as usize);
    if let Some(max) = max_deletions {
        vars.push(("GC_MAX_DELETIONS", max.to_string()));
    }

    let mut scripted = vec![
        // A burst of 429s with Retry-After, and one without (RateLimit-Reset only).
        json!({"fault": "429", "endpoint": "*", "times": 2 + rng.below(3), "skip": rng.below(60)}),
        json!({"fault": "429-no-retry-after", "endpoint": "*", "times": 1 + rng.below(2), "skip": rng.below(80)}),
    ];
    if rng.chance(0.5) && !on_rest() {
        // A dropped delete call that GitLab carried out: the retry finds the tags gone.
        scripted.push(json!({"method": "POST", "endpoint": "/api/graphql (registryGcDeleteTags)", "fault": "drop_after", "times": 1, "skip": rng.below(2)}));
    }
    if rng.chance(0.5) {
        // A dropped DELETE that GitLab carried out: the retry meets 404.
        scripted.push(json!({"method": "DELETE", "endpoint": "/projects/:id/registry/repositories/:repository_id/tags/:tag_name", "fault": "drop_after", "times": 1, "skip": rng.below(5)}));
    }
    let mut faults = json!({
        "seed": seed,
        "latency_jitter_ms": 4,
        "error_rate": 0.10 + rng.below(4) as f64 / 100.0,
        "truncate_rate": 0.02 + rng.below(2) as f64 / 100.0,
        "non_json_rate": 0.02,
        "short_read_rate": 0.01 + rng.below(2) as f64 / 100.0,
        "drop_rate": 0.02,
        "drop_after_rate": 0.02,
        "slow_body_rate": 0.02,
        "slow_body_ms": 30,
        // GraphQL answers with `errors` (HTTP 200): only GraphQL requests draw these.
        "graphql_error_rate": 0.03,
        "graphql_partial_rate": 0.03,
        "scripted": scripted,
    });
    if rng.chance(0.3) {
        faults["rate_limit"] =
            json!({"limit": 40 + rng.below(60), "period_secs": 1, "retry_after": rng.chance(0.5)});
    }
    Scenario {
        seed,
        fixture,
        vars: vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        dry_run,
        max_deletions,
        faults,
    }
}

/// `repository path → tags` as the fake holds them now.
fn registry(fake: &FakeGitlab) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for project in fake.state()["projects"].as_object().unwrap().values() {
        for (path, tags) in project["repositories"].as_object().unwrap() {
            out.insert(
                path.clone(),
                tags.as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect(),
            );
        }
    }
    out
}

fn refs(registry: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    registry
        .iter()
        .flat_map(|(p, tags)| tags.iter().map(move |t| format!("{p}:{t}")))
        .collect()
}

fn start(fixture: &Value) -> FakeGitlab {
    FakeGitlab::start(Fixture::from_json(&fixture.to_string()).expect("soak fixture is valid"))
}

fn run_vars(fake: &FakeGitlab, vars: &[(String, String)], dry_run: Option<bool>) -> Outcome {
    let mut extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if let Some(d) = dry_run {
        extra.push(("GC_DRY_RUN", if d { "true" } else { "false" }));
    }
    run(fake, &extra)
}

#[derive(Default)]
struct Totals {
    runs: usize,
    requests: u64,
    faults: BTreeMap<String, u64>,
    codes: BTreeMap<i32, usize>,
    reruns: usize,
    violations: Vec<String>,
}

/// One soak run: the fault-free result, the faulty run, the checks, the convergence run.
fn soak_one(s: &Scenario, totals: &Mutex<Totals>) {
    let mut violations: Vec<String> = Vec::new();
    let mut fail = |what: String| violations.push(format!("seed {}: {what}", s.seed));

    // The fault-free result: what the rules plan (dry-run) and what a real run leaves.
    let clean = start(&s.fixture);
    let initial = registry(&clean);
    let plan = run_vars(&clean, &s.vars, Some(true));
    let planned: BTreeSet<String> = plan.with_outcome("would-delete").into_iter().collect();
    let refused = s.max_deletions.is_some_and(|m| planned.len() > m);
    if plan.code != if refused { 3 } else { 0 } {
        fail(format!(
            "fault-free dry run exited {}: {}",
            plan.code, plan.stderr
        ));
    }
    let expected = if s.dry_run {
        initial.clone()
    } else {
        let real = run_vars(&clean, &s.vars, None);
        if real.code != if refused { 3 } else { 0 } {
            fail(format!(
                "fault-free run exited {}: {}",
                real.code, real.stderr
            ));
        }
        registry(&clean)
    };
    let keep: BTreeSet<String> = refs(&initial).difference(&planned).cloned().collect();

    // The faulty run.
    let fake = start(&s.fixture);
    fake.set_faults(serde_json::from_value(s.faults.clone()).expect("fault JSON"));
    let out = run_vars(&fake, &s.vars, None);
    let stats = fake.stats();
    fake.set_faults(Faults::default());
    let after = registry(&fake);
    let gone: BTreeSet<String> = refs(&initial).difference(&refs(&after)).cloned().collect();

    if !matches!(out.code, 0 | 1 | 3) {
        fail(format!(
            "exit code {} (101 = panic, -1 = signal): {}",
            out.code, out.stderr
        ));
    }
    if out.everything().contains(TOKEN) {
        fail("the token appears in the output".into());
    }
    for t in gone.intersection(&keep) {
        fail(format!("{t} was deleted although the rules keep it"));
    }
    for t in gone.difference(&planned) {
        fail(format!("{t} was deleted although no rule deletes it"));
    }
    if s.dry_run && (deletions_sent(&fake) > 0 || !gone.is_empty()) {
        fail(format!("dry-run sent {} deletions", deletions_sent(&fake)));
    }
    if let Some(max) = s.max_deletions {
        if gone.len() > max {
            fail(format!(
                "{} deleted, more than GC_MAX_DELETIONS={max}",
                gone.len()
            ));
        }
    }
    let errors = out.report["summary"]["errors"].as_u64();
    match (out.code, errors) {
        (_, None) => fail(format!("no report (exit {}): {}", out.code, out.stderr)),
        (0, Some(0)) | (1, Some(1..)) | (3, _) => {}
        (code, Some(n)) => fail(format!("exit {code} with {n} errors recorded")),
    }
    if out.code == 0 && after != expected {
        fail(format!(
            "exit 0 but the registry differs from the fault-free result: missing {:?}, extra {:?}",
            refs(&expected)
                .difference(&refs(&after))
                .collect::<Vec<_>>(),
            refs(&after)
                .difference(&refs(&expected))
                .collect::<Vec<_>>()
        ));
    }
    if out.code == 3 && !gone.is_empty() {
        fail(format!("exit 3 but {} tags were deleted", gone.len()));
    }
    // The reports tell what happened, each tag once with one rule.
    let now = refs(&after);
    let mut seen = BTreeSet::new();
    for (repo, tag, outcome, rule) in out.tags() {
        let r = format!("{repo}:{tag}");
        if !seen.insert(r.clone()) {
            fail(format!("{r} reported twice"));
        }
        if rule.is_empty() {
            fail(format!("{r} reported without a rule"));
        }
        match outcome.as_str() {
            "deleted" | "already-gone" if now.contains(&r) => {
                fail(format!("{r} reported {outcome} but still there"))
            }
            "kept" | "would-delete" | "not-deleted" if !now.contains(&r) => {
                fail(format!("{r} reported {outcome} [{rule}] but it is gone"))
            }
            _ => {}
        }
    }

    // Convergence: one more run without faults reaches the fault-free result.
    let mut reran = false;
    if after != expected && !(refused && s.max_deletions.is_some()) {
        reran = true;
        let again = run_vars(&fake, &s.vars, None);
        if again.code != 0 {
            fail(format!(
                "clean rerun exited {}: {}",
                again.code, again.stderr
            ));
        }
        let final_state = registry(&fake);
        if final_state != expected {
            fail(format!(
                "after a clean rerun: missing {:?}, extra {:?}",
                refs(&expected)
                    .difference(&refs(&final_state))
                    .collect::<Vec<_>>(),
                refs(&final_state)
                    .difference(&refs(&expected))
                    .collect::<Vec<_>>()
            ));
        }
    }

    let mut t = totals.lock().unwrap();
    t.runs += 1;
    t.requests += stats.total;
    for (kind, n) in stats.faults {
        *t.faults.entry(kind).or_default() += n;
    }
    *t.codes.entry(out.code).or_default() += 1;
    t.reruns += usize::from(reran);
    t.violations.extend(violations);
}

#[test]
fn fault_soak() {
    let runs = env_number("SOAK_RUNS", 24);
    let parallel = env_number("SOAK_PARALLEL", 4).max(1);
    let first = env_number("SOAK_SEED", 1);
    let started = Instant::now();
    let totals = Mutex::new(Totals::default());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                if i >= runs {
                    break;
                }
                soak_one(&scenario(first + i), &totals);
            });
        }
    });
    let t = totals.into_inner().unwrap();
    let injected: u64 = t.faults.values().sum();
    println!(
        "soak: {} runs (seeds {first}..{}), {parallel} at once, {:.1}s",
        t.runs,
        first + runs - 1,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  faulty runs: {} requests, {injected} faults injected ({:.1}%): {}",
        t.requests,
        100.0 * injected as f64 / t.requests.max(1) as f64,
        t.faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  exit codes: {}; clean reruns needed: {}",
        t.codes
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        t.reruns
    );
    println!("  violations: {}", t.violations.len());
    for v in &t.violations {
        println!("    {v}");
    }
    assert_eq!(t.runs as u64, runs);
    assert!(t.violations.is_empty(), "{} violations", t.violations.len());
}
