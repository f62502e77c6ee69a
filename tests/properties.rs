//! Property tests and fuzzing with proptest.
//!
//! Part 1, the rules and the plan (pure, in process): keep-regex tags are never deleted, every
//! decision carries exactly one rule id of the right kind, dry-run outcomes delete nothing, and
//! decisions depend neither on the order GitLab lists tags or repositories in nor on where pages
//! split them. Two properties need the real binary (GC_MAX_DELETIONS, page boundaries) and run
//! few cases against the fake GitLab.
//!
//! Part 2, fuzzing every parser of untrusted input: the environment (`Config::from_vars`),
//! `parse_age`, the `Link` / `X-Next-Page` pagination headers, GitLab's JSON bodies (arbitrary
//! bytes and mutated valid answers), error bodies, and the report writers fed hostile names.
//! None may panic; reports must stay well-formed.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 in process, a 32nd of it end to end).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use common::*;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::Config as ProptestConfig;
use registry_gc::config::{
    self, AgeFrom, Config, FullRegex, Mode, RuleSettings, DEFAULT_KEEP_REGEX,
};
use registry_gc::delete::Outcome;
use registry_gc::duration::parse_age;
use registry_gc::facts::{RepoFacts, Role};
use registry_gc::gitlab::client::{json_verdict, next_page, parse_link_next, Reply, Verdict};
use registry_gc::gitlab::types::{ExpirationPolicy, ListedTag, Project, Repository, TagDetails};
use registry_gc::plan::{self, Plan};
use registry_gc::refs::{ListedBranch, OpenMergeRequest, ProjectRefs, Refs};
use registry_gc::report::{self, Run, Summary};
use registry_gc::rules::{
    self, Action, Counterpart, Decision, Details, Evidence, RuleId, TagFacts, TagInfo,
};
use registry_gc::scope::Repo;
use registry_gc::slug::slugify;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::json;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        // Failures are reported with their seed; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn e2e_config() -> ProptestConfig {
    config((cases(256) / 32).max(2))
}

// ------------------------------------------------------------------------------- strategies

fn now() -> Timestamp {
    "2026-11-24T12:00:00Z".parse().unwrap()
}

fn hours_ago(h: i64) -> Timestamp {
    now().checked_sub(SignedDuration::from_hours(h)).unwrap()
}

const NAMES: &[&str] = &[
    "latest",
    "main",
    "master",
    "v1.2.3",
    "v2.0.0-rc.1",
    "feature-a",
    "feature-b",
    "mr-17",
    "build-1",
    "build-2",
    "build-10",
    "cache-main",
    "sha256-abc.att",
    "x",
    "MAIN",
];

fn tag_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(NAMES).prop_map(String::from),
        1 => "[a-z0-9_][a-z0-9_.-]{0,12}",
    ]
}

fn regex_source() -> impl Strategy<Value = String> {
    select(
        &[
            DEFAULT_KEEP_REGEX,
            "latest",
            "v.*",
            ".*",
            "nothing",
            "feature-.*",
            "[a-m].*",
            "(?i)main|x",
            r"build-\d+",
            "",
            "main|master|latest",
        ][..],
    )
    .prop_map(String::from)
}

fn rule_settings() -> impl Strategy<Value = RuleSettings> {
    (
        regex_source(),
        regex_source(),
        proptest::option::of(0usize..6),
        proptest::option::of(select(&["1h", "12h", "1d", "7d", "30d", "2w", "0d"][..])),
        any::<bool>(),
        any::<bool>(),
        select(&[".cache", "/cache", "-cache"][..]),
        select(&[AgeFrom::Created, AgeFrom::Published][..]),
    )
        .prop_map(
            |(keep, delete, keep_n, older, broken, orphan, suffix, age_from)| RuleSettings {
                keep: FullRegex::new(&keep).unwrap(),
                delete: FullRegex::new(&delete).unwrap(),
                keep_n,
                older_than: older.map(|a| parse_age(a).unwrap()),
                delete_broken: broken,
                delete_orphan_cache: orphan,
                delete_orphan_referrers: true,
                cache_suffix: suffix.to_string(),
                stale_ref: None,
                age_from,
                evidence: Default::default(),
            },
        )
}

fn details() -> impl Strategy<Value = Details> {
    prop_oneof![
        1 => Just(Details::NotFetched),
        2 => Just(Details::Missing),
        1 => Just(Details::Failed("GET …: 500".into())),
        6 => (
            proptest::option::of(0i64..24 * 60),
            proptest::option::of(0u8..4),
            proptest::option::of(0u64..1 << 30),
            proptest::option::of(0i64..24 * 60),
        )
            .prop_map(|(age, digest, size, pushed)| Details::Found(TagInfo {
                created_at: age.map(|a| hours_ago(a).into()),
                published_at: pushed.map(|p| hours_ago(p).into()),
                digest: digest.map(|d| format!("sha256:{d}").into()),
                size,
            })),
    ]
}

/// Tags with distinct names, in a random order.
fn tags(max: usize) -> impl Strategy<Value = Vec<TagFacts>> {
    proptest::collection::btree_map(tag_name(), details(), 0..max)
        .prop_map(|m| {
            m.into_iter()
                .map(|(name, details)| TagFacts::new(name, details))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

#[derive(Clone, Debug)]
enum CounterpartKind {
    NotApplicable,
    Outside,
    Unknown,
    Missing,
    Present { has: Vec<bool>, deleted: Vec<bool> },
}

fn counterpart_kind() -> impl Strategy<Value = CounterpartKind> {
    prop_oneof![
        Just(CounterpartKind::NotApplicable),
        Just(CounterpartKind::Outside),
        Just(CounterpartKind::Unknown),
        Just(CounterpartKind::Missing),
        (
            proptest::collection::vec(any::<bool>(), NAMES.len()),
            proptest::collection::vec(any::<bool>(), NAMES.len())
        )
            .prop_map(|(has, deleted)| CounterpartKind::Present { has, deleted }),
    ]
}

const PATHS: &[&str] = &[
    "g/p",
    "g/p/app",
    "g/p/app.cache",
    "g/p/cache",
    "g/p/worker.cache",
    "g/p/app/cache",
    "g/p/sub/img",
    "g/p/sub/img.cache",
    "g/p/sub/img-cache",
];

/// Repositories of one project, each listed (tags) or not (its listing failed), plus paths that
/// exist but are not examined.
fn repositories() -> impl Strategy<Value = (Vec<RepoFacts>, HashSet<String>)> {
    (
        subsequence(PATHS, 0..=PATHS.len()),
        proptest::collection::vec((tags(12), 0u8..10), PATHS.len()),
        subsequence(PATHS, 0..3),
    )
        .prop_map(|(paths, listed, unknown)| {
            let facts = paths
                .iter()
                .zip(listed)
                .enumerate()
                .map(|(i, (path, (tags, fail)))| RepoFacts {
                    repo: Repo {
                        id: 100 + i as u64,
                        project_id: 1,
                        project_path: "g/p".into(),
                        path: path.to_string(),
                    },
                    tags: if fail == 0 {
                        Err("GET …/tags: 502".into())
                    } else {
                        Ok(tags)
                    },
                    refs: Refs::NotListed,
                    role: Role::Decided,
                    metadata_database: false,
                })
                .collect();
            let unknown = unknown
                .into_iter()
                .filter(|u| !paths.contains(u))
                .map(String::from)
                .collect();
            (facts, unknown)
        })
}

fn clone_facts(facts: &[RepoFacts]) -> Vec<RepoFacts> {
    facts
        .iter()
        .map(|f| RepoFacts {
            repo: f.repo.clone(),
            tags: f.tags.clone(),
            refs: f.refs.clone(),
            role: f.role,
            metadata_database: f.metadata_database,
        })
        .collect()
}

const DELETE_RULES: &[RuleId] = &[
    RuleId::Broken,
    RuleId::OrphanCache,
    RuleId::StaleRef,
    RuleId::OlderThan,
];
const KEEP_RULES: &[RuleId] = &[
    RuleId::KeepRegex,
    RuleId::NotCandidate,
    RuleId::UnknownAge,
    RuleId::KeepN,
    RuleId::Default,
    RuleId::Error,
];

/// Every decision of the plan by `repository:tag`.
fn decisions(plan: &Plan) -> BTreeMap<String, Decision> {
    let mut out = BTreeMap::new();
    for repo in &plan.repos {
        for tag in &repo.tags {
            let key = format!("{}:{}", repo.repo.path, tag.name);
            assert!(
                out.insert(key.clone(), tag.decision.clone()).is_none(),
                "{key} planned twice"
            );
        }
    }
    out
}

/// Checks every per-decision invariant; `tags` are the facts the decision was made from.
fn check_decision(rules: &RuleSettings, tag: &TagFacts, d: &Decision) -> Result<(), TestCaseError> {
    prop_assert!(
        !d.reason.text(&tag.name).to_string().is_empty(),
        "{}: empty reason",
        tag.name
    );
    if rules.keep.is_match(&tag.name) {
        prop_assert_eq!(
            (d.action, d.rule),
            (Action::Keep, RuleId::KeepRegex),
            "{} matches GC_KEEP_REGEX `{}`",
            &tag.name,
            rules.keep.as_str()
        );
    }
    match d.action {
        Action::Delete => {
            prop_assert!(DELETE_RULES.contains(&d.rule), "{:?} deletes", d.rule);
            prop_assert!(
                !matches!(tag.details, Details::Failed(_) | Details::NotFetched),
                "{} deleted without facts: {:?}",
                tag.name,
                d
            );
        }
        Action::Keep => prop_assert!(KEEP_RULES.contains(&d.rule), "{:?} keeps", d.rule),
    }
    match d.rule {
        RuleId::Broken => {
            prop_assert!(rules.delete_broken && tag.details == Details::Missing)
        }
        RuleId::OlderThan => {
            let created = tag
                .details
                .info()
                .and_then(|i| i.age(rules.age_from))
                .map(|(time, _)| time);
            prop_assert!(created.is_some(), "older-than needs an age");
            prop_assert!(
                rules.delete.is_match(&tag.name),
                "older-than needs a candidate"
            );
            if let Some(limit) = rules.older_than {
                let age = now().duration_since(created.unwrap()).as_secs();
                prop_assert!(
                    age > limit.as_secs(),
                    "{} is not older than {limit}",
                    tag.name
                );
            }
        }
        RuleId::OrphanCache => {
            prop_assert!(rules.delete_orphan_cache);
            prop_assert_eq!(
                tag.details.info().map(|i| i.created_at),
                Some(None),
                "orphan-cache needs a null created_at"
            );
        }
        _ => {}
    }
    prop_assert_eq!(
        d.depends_on().is_some() && d.rule != RuleId::OrphanCache,
        false
    );
    Ok(())
}

// ------------------------------------------------------------------------- rules and plans

proptest! {
    #![proptest_config(config(256))]

    /// Within one repository: the per-decision invariants, keep-n keeps what it promises, and
    /// the decisions do not depend on the listing order.
    #[test]
    fn repository_decisions_are_safe_and_order_free(
        rules in rule_settings(),
        tags in tags(25),
        kind in counterpart_kind(),
        seed in any::<u64>(),
    ) {
        let (has, deleted): (HashSet<&str>, HashSet<&str>) = match &kind {
            CounterpartKind::Present { has, deleted } => (
                NAMES.iter().zip(has).filter(|(_, h)| **h).map(|(n, _)| *n).collect(),
                NAMES.iter().zip(has.iter().zip(deleted)).filter(|(_, (h, d))| **h && **d).map(|(n, _)| *n).collect(),
            ),
            _ => Default::default(),
        };
        let counterpart = match kind {
            CounterpartKind::NotApplicable => Counterpart::NotApplicable,
            CounterpartKind::Outside => Counterpart::Outside { path: "g/app".into() },
            CounterpartKind::Unknown => Counterpart::Unknown { path: "g/p/app".into(), why: "listing failed".into() },
            CounterpartKind::Missing => Counterpart::Missing { path: "g/p/app".into() },
            CounterpartKind::Present { .. } => Counterpart::Present { path: "g/p/app".into(), tags: &has, deleted: &deleted },
        };
        let out = rules::decide_repository(&rules, now(), &tags, &counterpart, &Refs::NotListed);
        prop_assert_eq!(out.len(), tags.len());
        for (tag, d) in tags.iter().zip(&out) {
            check_decision(&rules, tag, d)?;
            if d.rule == RuleId::OrphanCache {
                match &counterpart {
                    Counterpart::Missing { .. } => prop_assert!(d.depends_on().is_none()),
                    Counterpart::Present { tags: t, deleted: del, .. } => {
                        let name = &*tag.name;
                        prop_assert!(!t.contains(name) || del.contains(name));
                        prop_assert_eq!(d.depends_on().is_some(), t.contains(name));
                    }
                    other => prop_assert!(false, "orphan-cache with counterpart {:?}", other),
                }
            }
        }
        if let Some(n) = rules.keep_n {
            // The n newest age candidates (with a known age, matching GC_DELETE_REGEX, decided by
            // the age rules) are all kept.
            let mut candidates: Vec<(Timestamp, &str, &Decision)> = tags.iter().zip(&out)
                .filter(|(_, d)| matches!(d.rule, RuleId::KeepN | RuleId::OlderThan | RuleId::Default))
                .filter_map(|(t, d)| t.details.info().and_then(|i| i.age(rules.age_from)).map(|(c, _)| (c, &*t.name, d)))
                .collect();
            candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            for (_, name, d) in candidates.iter().take(n) {
                prop_assert_eq!(d.action, Action::Keep, "{} is among the {} newest", name, n);
            }
        }

        // Listing order: the same tags in another order get the same decisions.
        let mut shuffled: Vec<usize> = (0..tags.len()).collect();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let reordered: Vec<TagFacts> = shuffled.iter().map(|&i| tags[i].clone()).collect();
        let again = rules::decide_repository(&rules, now(), &reordered, &counterpart, &Refs::NotListed);
        for (&i, d) in shuffled.iter().zip(&again) {
            prop_assert_eq!(d, &out[i], "{} decided differently in another order", &tags[i].name);
        }
    }

    /// Across repositories (caches and their counterparts, failed listings, unexamined paths):
    /// the per-decision invariants, orphan-cache only on evidence, dry-run outcomes delete
    /// nothing, and neither repository nor tag order changes a decision.
    #[test]
    fn plans_are_safe_and_order_free(
        rules in rule_settings(),
        (facts, unknown) in repositories(),
        seed in any::<u64>(),
    ) {
        let by_key: HashMap<String, TagFacts> = facts.iter()
            .filter_map(|f| f.tags.as_ref().ok().map(|t| (f, t)))
            .flat_map(|(f, t)| t.iter().map(move |t| (format!("{}:{}", f.repo.path, t.name), t.clone())))
            .collect();
        let listed: HashMap<String, Option<HashSet<String>>> = facts.iter()
            .map(|f| (f.repo.path.clone(), f.tags.as_ref().ok().map(|t| t.iter().map(|t| t.name.to_string()).collect())))
            .collect();
        let plan = plan::plan(&rules, now(), clone_facts(&facts), &unknown);

        prop_assert_eq!(plan.repos.len(), facts.len());
        for (repo, f) in plan.repos.iter().zip(&facts) {
            prop_assert_eq!(&repo.repo, &f.repo);
            match &f.tags {
                Ok(t) => prop_assert_eq!(repo.tags.len(), t.len()),
                Err(_) => prop_assert!(repo.error.is_some() && repo.tags.is_empty()),
            }
        }
        let all = decisions(&plan);
        for (key, d) in &all {
            check_decision(&rules, &by_key[key], d)?;
            if d.rule == RuleId::OrphanCache {
                let (path, tag) = key.split_once(':').unwrap();
                let counterpart = match plan.repos.iter().find(|r| r.repo.path == path).unwrap().repo.counterpart_path(&rules.cache_suffix) {
                    registry_gc::scope::CounterpartPath::Inside(p) => p,
                    other => return Err(TestCaseError::fail(format!("{key}: orphan-cache with {other:?}"))),
                };
                prop_assert!(!unknown.contains(&counterpart), "{}: counterpart {} is not examined", key, counterpart);
                match listed.get(&counterpart) {
                    None => prop_assert!(d.depends_on().is_none()),
                    Some(None) => prop_assert!(false, "{}: counterpart {} could not be listed", key, counterpart),
                    Some(Some(names)) if names.contains(tag) => {
                        // The dependency is the counterpart's tag of the same name.
                        let dep = d.depends_on().expect("relies on this run's deletion");
                        prop_assert_eq!(dep, rules::Dependency::Counterpart(counterpart.as_str()));
                        prop_assert_eq!(
                            d.reason.text(tag).to_string(),
                            format!("counterpart tag {counterpart}:{tag} is deleted by this run")
                        );
                        prop_assert_eq!(all[&format!("{counterpart}:{tag}")].action, Action::Delete);
                    }
                    Some(Some(_)) => prop_assert!(d.depends_on().is_none()),
                }
            }
        }

        // Dry-run deletes nothing; a real run has deleted nothing before acting.
        let dry = Outcome::initial(&plan, true);
        let would = dry.iter().flatten().filter(|o| **o == Outcome::WouldDelete).count();
        prop_assert_eq!(would, plan.deletions());
        prop_assert!(dry.iter().flatten().all(|o| matches!(o, Outcome::Kept | Outcome::WouldDelete)));
        let real = Outcome::initial(&plan, false);
        prop_assert!(real.iter().flatten().all(|o| matches!(o, Outcome::Kept | Outcome::NotAttempted(_))));
        let summary = Summary::compute(&plan, &dry, &[], 0, 0);
        prop_assert_eq!(summary.would_delete, plan.deletions());
        prop_assert_eq!(summary.deleted, 0);
        prop_assert_eq!(summary.kept + summary.would_delete, summary.tags);

        // Another listing order of repositories and tags: the same decisions.
        let mut reordered = clone_facts(&facts);
        let mut s = seed;
        let mut next = |n: usize| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as usize % n
        };
        for i in (1..reordered.len()).rev() {
            let j = next(i + 1);
            reordered.swap(i, j);
        }
        for f in &mut reordered {
            if let Ok(t) = &mut f.tags {
                for i in (1..t.len()).rev() {
                    let j = next(i + 1);
                    t.swap(i, j);
                }
            }
        }
        let again = decisions(&plan::plan(&rules, now(), reordered, &unknown));
        prop_assert_eq!(&again, &all);
    }
}

// --------------------------------------------------------------------------- stale-ref

/// Branch names as people write them: slashes, upper case, underscores, dots, non-ASCII, and
/// long ones whose slugs collide after 63 characters.
fn branch_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9][a-zA-Z0-9/_.-]{0,14}",
        1 => select(&["main", "feature/Login", "fix/1_typo", "Release/2.0", "ümlaut/ß", "日本", "mr-13", "a-b--c"][..]).prop_map(String::from),
        1 => (60usize..70, "[a-c]{0,4}").prop_map(|(n, tail)| format!("{}{tail}", "x".repeat(n))),
    ]
}

/// The tag a pipeline of each scheme pushes for a branch slug or a merge request.
fn scheme_tag(scheme: usize, slug: &str, iid: u64, sha: u32) -> String {
    match scheme {
        0 => slug.to_string(),
        1 => format!("{slug}-{sha:08x}"),
        2 => format!("{slug}-mr{iid}"),
        _ => format!("mr-{iid}"),
    }
}

const STALE_REF_REGEXES: &[&str] = &[
    "(?P<slug>.+)",
    "(?P<slug>.+)-[0-9a-f]{8}",
    "mr-(?P<mr>[0-9]+)",
    "mr-(?P<mr>[0-9]+)|(?P<slug>.+?)(-[0-9a-f]{8})?",
    "(?P<slug>.+)-mr(?P<mr>[0-9]+)",
];

/// One project's refs and tags: live branches (the first is the default), open merge requests
/// (iid, source branch, possibly a fork's), gone branches and closed iids, and tags pushed for
/// all of them by the three schemes, with random details.
#[allow(clippy::type_complexity)]
fn stale_ref_case() -> impl Strategy<
    Value = (
        Vec<String>,
        Vec<(u64, String)>,
        Vec<(usize, String, u64, u32)>,
        Vec<Details>,
    ),
> {
    (
        proptest::collection::vec(branch_name(), 1..6),
        proptest::collection::vec((1u64..40, branch_name()), 0..4),
        proptest::collection::vec((0usize..4, branch_name(), 1u64..40, any::<u32>()), 0..16),
    )
        .prop_flat_map(|(live, open, pushed)| {
            let n = pushed.len() + live.len() + open.len();
            (
                Just(live),
                Just(open),
                Just(pushed),
                proptest::collection::vec(details(), n),
            )
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// With GC_STALE_REF_REGEX set, no tag whose branch or open merge request exists is ever
    /// deleted by `stale-ref`, whatever the branch names, schemes, ages and other rules; and a
    /// tag whose ref is gone and whose age is known and old enough always is, unless a rule
    /// before it (keep-regex, broken) decided first.
    #[test]
    fn stale_ref_never_deletes_the_tag_of_a_live_branch_or_open_merge_request(
        rules in rule_settings(),
        regex in select(STALE_REF_REGEXES),
        min_age in select(&["1h", "1d", "7d"][..]),
        (live, open, pushed, details) in stale_ref_case(),
    ) {
        let mut rules = rules;
        rules.stale_ref = Some(config::StaleRefSettings {
            pattern: config::RefPattern::new(FullRegex::new(regex).unwrap()).unwrap(),
            min_age: parse_age(min_age).unwrap(),
        });
        let settings = rules.stale_ref.as_ref().unwrap();
        // Tags for every live branch and open merge request (all schemes), and for refs that
        // may or may not be live.
        let mut names: Vec<String> = live.iter().map(|b| slugify(b))
            .chain(open.iter().map(|(_, b)| slugify(b)))
            .zip(0..)
            .map(|(slug, i)| scheme_tag(i % 4, &slug, open.get(i % open.len().max(1)).map_or(1, |m| m.0), i as u32))
            .chain(pushed.iter().map(|(scheme, b, iid, sha)| scheme_tag(*scheme, &slugify(b), *iid, *sha)))
            .collect();
        names.sort();
        names.dedup();
        let tags: Vec<TagFacts> = names.into_iter().zip(details).map(|(name, details)| TagFacts::new(name, details)).collect();

        let refs = ProjectRefs::from_listings(
            live.iter().enumerate().map(|(i, b)| ListedBranch { name: b, default: i == 0 }),
            open.iter().map(|(iid, b)| OpenMergeRequest { iid: *iid, source_branch: b }),
        ).unwrap();
        let refs = Refs::Known(std::sync::Arc::new(refs));
        let decisions = rules::decide_repository(&rules, now(), &tags, &Counterpart::NotApplicable, &refs);

        // What is live, worked out here from the listings, not by the rule.
        let live_slugs: HashSet<String> = live.iter().chain(open.iter().map(|(_, b)| b)).map(|b| slugify(b)).collect();
        let open_iids: HashSet<u64> = open.iter().map(|(iid, _)| *iid).collect();
        for (tag, d) in tags.iter().zip(&decisions) {
            check_decision(&rules, tag, d)?;
            let named = settings.pattern.named_ref(&tag.name);
            let is_live = named.is_some_and(|n| {
                n.slug.is_some_and(|s| live_slugs.contains(s)) || n.mr.is_some_and(|m| open_iids.contains(&m))
            });
            let age = tag.details.info().and_then(|i| i.age(rules.age_from))
                .map(|(t, _)| now().duration_since(t).as_secs());
            if d.rule == RuleId::StaleRef {
                prop_assert!(named.is_some() && !is_live, "{} deleted, but its ref is live", tag.name);
                prop_assert!(age.is_some_and(|a| a >= settings.min_age.as_secs()), "{} deleted too young", tag.name);
            }
            let decided_before = rules.keep.is_match(&tag.name)
                || (rules.delete_broken && tag.details == Details::Missing);
            if named.is_some() && !is_live && !decided_before
                && matches!(tag.details, Details::Found(_))
                && age.is_some_and(|a| a >= settings.min_age.as_secs())
            {
                prop_assert_eq!((d.action, d.rule), (Action::Delete, RuleId::StaleRef), "{}", &tag.name);
            }
        }
    }
}

proptest! {
    #![proptest_config(e2e_config())]

    /// The same through the binary and the fake's branch and merge request listings (pages of
    /// 100): a dry run never would-deletes by `stale-ref` a tag of a live branch or open merge
    /// request, and lists each exactly once.
    #[test]
    fn binary_never_deletes_the_tag_of_a_live_ref(
        live in proptest::collection::btree_set(branch_name(), 1..130),
        gone in proptest::collection::btree_set(branch_name(), 0..6),
        open in proptest::collection::btree_set(1u64..30, 0..4),
        regex in select(STALE_REF_REGEXES),
    ) {
        let live: Vec<String> = std::iter::once("main".to_string()).chain(live.into_iter().filter(|b| b != "main")).collect();
        let tag = |name: String| json!({"name": name, "age": "3d"});
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (i, b) in live.iter().chain(&gone).enumerate() {
            let slug = slugify(b);
            names.insert(scheme_tag(i % 4, &slug, 1 + i as u64 % 30, i as u32));
        }
        // Only names a registry can hold: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
        names.retain(|n| {
            (1..=128).contains(&n.len())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && !n.starts_with(['.', '-'])
        });
        // The property is about refs, not images: in memory, many cases a second.
        let fake = fake_in_memory(json!([{
            "id": 1, "path": "e2e/p",
            "branches": live.iter().map(|b| json!({"name": b})).collect::<Vec<_>>(),
            "merge_requests": open.iter().map(|iid| json!({"iid": iid, "source_branch": format!("topic-{iid}")})).collect::<Vec<_>>(),
            "repositories": [{"id": 10, "name": "app", "tags": names.iter().cloned().map(tag).collect::<Vec<_>>()}]
        }]));
        let out = run(&fake, &[("GC_DRY_RUN", "true"), ("GC_STALE_REF_REGEX", regex), ("GC_KEEP_REGEX", "nothing")]);
        prop_assert_eq!(out.code, 0, "{}", out.stderr);
        // The refs are listed, every page once, only if a tag is named after one (with two
        // or three branches no tag may have the scheme the regex reads).
        let pattern = config::RefPattern::new(FullRegex::new(regex).unwrap()).unwrap();
        let listed = names.iter().any(|n| pattern.named_ref(n).is_some());
        prop_assert_eq!(
            requests(&fake, "GET /projects/:id/repository/branches") as usize,
            if listed { live.len().div_ceil(100) } else { 0 }
        );
        prop_assert_eq!(requests(&fake, "GET /projects/:id/merge_requests"), u64::from(listed));

        let live_slugs: HashSet<String> = live.iter().map(|b| slugify(b))
            .chain(open.iter().map(|iid| format!("topic-{iid}"))).collect();
        for (_, name, outcome, rule) in out.tags() {
            if rule != "stale-ref" { continue; }
            prop_assert_eq!(outcome.as_str(), "would-delete");
            let named = pattern.named_ref(&name).expect("stale-ref names a ref");
            prop_assert!(!named.slug.is_some_and(|s| live_slugs.contains(s)), "{} is a live branch's", name);
            prop_assert!(!named.mr.is_some_and(|m| open.contains(&m)), "{} is an open MR's", name);
        }
    }
}

// ----------------------------------------------------------------------- end to end, few

fn tag_fixture(name: &str, age_hours: Option<i64>, broken: bool) -> serde_json::Value {
    let mut t = json!({ "name": name, "broken": broken });
    if let Some(h) = age_hours {
        t["age"] = json!(format!("{h}h"));
    }
    t
}

/// One project `e2e/p`, repository 10 `app` with the given tags.
fn one_repo_fixture(tags: &[serde_json::Value]) -> Fixture {
    Fixture::from_json(
        &json!({
            "tokens": [{"token": TOKEN, "scopes": ["api"]}],
            "projects": [{"id": 1, "path": "e2e/p", "repositories": [{"id": 10, "name": "app", "tags": tags}]}]
        })
        .to_string(),
    )
    .unwrap()
}

/// (name, age in odd hours or null, broken) for `n` tags: odd hours never equal a limit in whole
/// days, so a run a few seconds later decides the same.
fn e2e_tags(n: usize, seed: u64) -> Vec<(String, Option<i64>, bool)> {
    let mut s = seed | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let name = match i % 17 {
                0 => format!("v1.{i}.0"),
                1 => format!("feature-{i}"),
                _ => format!("build-{i:05}"),
            };
            let age = (s % 9 != 0).then_some((2 * (s >> 8) % (24 * 40) + 1) as i64);
            (name, age, s % 23 == 0)
        })
        .collect()
}

proptest! {
    #![proptest_config(e2e_config())]

    /// The binary decides exactly as the library does, whatever the tag count: counts straddle
    /// GitLab's page size (100, fixed by the `per_page` cap), so tags end up on page boundaries.
    #[test]
    fn binary_decisions_match_the_rules_across_page_boundaries(
        n in select(&[1usize, 99, 100, 101, 199, 200, 201, 250][..]),
        seed in any::<u64>(),
        keep_n in proptest::option::of(1usize..8),
        older in proptest::option::of(select(&["1d", "7d", "20d"][..])),
        delete_regex in select(&[".*", "build-.*"][..]),
    ) {
        let tags = e2e_tags(n, seed);
        let fixture: Vec<serde_json::Value> = tags.iter().map(|(n, a, b)| tag_fixture(n, *a, *b)).collect();
        let fake = FakeGitlab::start(one_repo_fixture(&fixture));
        let keep_n_text = keep_n.map(|k| k.to_string());
        let mut vars = vec![("GC_DRY_RUN", "true"), ("GC_DELETE_REGEX", delete_regex)];
        if let Some(k) = &keep_n_text { vars.push(("GC_KEEP_N", k)); }
        if let Some(o) = older { vars.push(("GC_OLDER_THAN", o)); }
        let out = run(&fake, &vars);
        prop_assert_eq!(out.code, 0, "{}", out.stderr);
        if on_rest() {
            prop_assert_eq!(requests(&fake, LIST_TAGS) as usize, n.div_ceil(100).max(1));
        } else {
            prop_assert_eq!(requests(&fake, GRAPHQL_TAGS) as usize, n.div_ceil(20).max(1));
        }

        let rules = RuleSettings {
            keep: FullRegex::new(DEFAULT_KEEP_REGEX).unwrap(),
            delete: FullRegex::new(delete_regex).unwrap(),
            keep_n,
            older_than: older.map(|o| parse_age(o).unwrap()),
            delete_broken: true,
            delete_orphan_cache: true,
            delete_orphan_referrers: true,
            cache_suffix: ".cache".into(),
            stale_ref: None,
            age_from: AgeFrom::Created,
            // No registry to read (the images are in the fake's memory): over REST a 404 is
            // broken; GraphQL's listing has media types, so it stands for GitLab's metadata
            // database, where a 404 alone proves nothing.
            evidence: if on_rest() {
                Evidence::DetailsOnly("no registry".into())
            } else {
                Evidence::Nothing("no registry".into())
            },
        };
        let facts: Vec<TagFacts> = tags.iter().map(|(name, age, broken)| TagFacts {
            name: name.as_str().into(),
            details: if *broken { Details::Missing } else {
                Details::Found(TagInfo { created_at: age.map(|a| hours_ago(a).into()), published_at: None, digest: None, size: None })
            },
            inspected: Default::default(),
            protected: None,
        }).collect();
        let expected: BTreeSet<String> = rules::decide_repository(&rules, now(), &facts, &Counterpart::NotApplicable, &Refs::NotListed)
            .iter().zip(&tags)
            .filter(|(d, _)| d.action == Action::Delete)
            .map(|(_, (name, _, _))| format!("e2e/p/app:{name}"))
            .collect();
        let got: BTreeSet<String> = out.with_outcome("would-delete").into_iter().collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(out.tags().len(), n, "every tag once");
    }

    /// GC_MAX_DELETIONS is a hard cap: a plan over it deletes nothing and exits 3; under it, the
    /// plan is carried out.
    #[test]
    fn max_deletions_is_never_exceeded(max in 0usize..10, seed in any::<u64>()) {
        let tags = e2e_tags(40, seed);
        let fixture: Vec<serde_json::Value> = tags.iter().map(|(n, a, b)| tag_fixture(n, *a, *b)).collect();
        let fake = FakeGitlab::start(one_repo_fixture(&fixture));
        let max_text = max.to_string();
        let vars = [("GC_OLDER_THAN", "20d"), ("GC_KEEP_N", "25"), ("GC_MAX_DELETIONS", max_text.as_str())];
        let dry = run(&fake, &[vars[0], vars[1], ("GC_DRY_RUN", "true")]);
        let planned = dry.with_outcome("would-delete").len();
        let before = fake.tags("e2e/p/app").len();
        let out = run(&fake, &[vars[0], vars[1], vars[2], ("GC_DRY_RUN", "false")]);
        let deleted = before - fake.tags("e2e/p/app").len();
        prop_assert!(deleted <= max, "{} deleted, GC_MAX_DELETIONS={}", deleted, max);
        if planned > max {
            prop_assert_eq!(out.code, 3, "{}", out.stderr);
            prop_assert_eq!(deletions_sent(&fake), 0);
        } else {
            prop_assert_eq!(out.code, 0, "{}", out.stderr);
            prop_assert_eq!(deleted, planned);
        }
    }
}

// ----------------------------------------------------------------------------------- fuzzing

/// Hostile strings: control characters, quotes, markup, URL syntax, non-ASCII, long runs.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "[\\x00-\\x1f\"'<>&%/\\\\?#;=, ]{0,20}",
        select(
            &[
                "",
                " ",
                "\n",
                "..",
                ".",
                "%2F",
                "a/b",
                "${API_TOKEN}",
                "true\n",
                "0x10",
                "-1",
                "18446744073709551616",
                "1e3",
                "ü",
                "\u{0}",
                "\u{feff}7d",
                "７d",
                "(",
                "[z-a]",
                "a{1000000}",
                "(?i)",
                "\\",
                "http://",
                "https://u:p@h/api/v4",
                "ftp://h",
                "http://[::1]:0/api/v4",
                "http://127.0.0.1:1/api/v4?x=1",
            ][..]
        )
        .prop_map(String::from),
        "\\PC{0,300}",
    ]
}

fn valid_value(name: &'static str) -> BoxedStrategy<String> {
    let pick = |v: &'static [&'static str]| select(v).prop_map(String::from).boxed();
    match name {
        "CI_API_V4_URL" => pick(&[
            "http://127.0.0.1:1/api/v4",
            "https://gitlab.example.com/api/v4/",
        ]),
        "GC_SCOPE" => pick(&["project", "group", "all"]),
        "GC_DRY_RUN" => pick(&["auto", "true", "false", "YES", "0"]),
        "GC_KEEP_N" | "GC_MAX_DELETIONS" => (0u32..2000).prop_map(|n| n.to_string()).boxed(),
        "GC_CONCURRENCY" => (0u32..80).prop_map(|n| n.to_string()).boxed(),
        "GC_OLDER_THAN" | "GC_STALE_REF_MIN_AGE" => {
            pick(&["90m", "12h", "7d", "2w", "0d", "5200w"])
        }
        "GC_STALE_REF_REGEX" => pick(STALE_REF_REGEXES),
        "GC_POLICY_CADENCE" => pick(config::POLICY_CADENCES),
        "GC_POLICY_KEEP_N" => pick(config::POLICY_KEEP_N),
        "GC_POLICY_OLDER_THAN" => pick(config::POLICY_OLDER_THAN),
        "CI_NODE_INDEX" | "CI_NODE_TOTAL" | "CI_PROJECT_ID" | "CI_PROJECT_NAMESPACE_ID" => {
            (0u32..5).prop_map(|n| n.to_string()).boxed()
        }
        n if n.ends_with("_REGEX") || n.ends_with("_REGEX_KEEP") => regex_source().boxed(),
        n if [
            "GC_DELETE_BROKEN",
            "GC_DELETE_ORPHAN_CACHE",
            "GC_POLICY_APPLY",
            "GC_POLICY_ENABLED",
        ]
        .contains(&n) =>
        {
            pick(&["true", "false", "1", "no"])
        }
        _ => "[a-z0-9./_-]{1,12}".boxed(),
    }
}

/// Every documented variable (bar the token) absent, empty, valid-looking or hostile; plus
/// stray `GC_` names.
fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
    let per_var: Vec<BoxedStrategy<Option<(String, String)>>> = config::VARIABLES
        .iter()
        .map(|v| v.name)
        .chain(["CI_MERGE_REQUEST_IID"])
        .filter(|n| *n != "API_TOKEN")
        .map(|name| {
            prop_oneof![
                3 => Just(None),
                1 => Just(Some((name.to_string(), String::new()))),
                4 => valid_value(name).prop_map(move |v| Some((name.to_string(), v))),
                2 => hostile_string().prop_map(move |v| Some((name.to_string(), v))),
            ]
            .boxed()
        })
        .collect();
    (
        per_var,
        proptest::option::of("GC_[A-Z_]{1,12}"),
        proptest::option::of(hostile_string()),
    )
        .prop_map(|(vars, stray, other)| {
            let mut env: Vec<(String, String)> = vars.into_iter().flatten().collect();
            if let Some(s) = stray {
                env.push((s, "1".into()));
            }
            if let Some(v) = other {
                env.push(("HOME".into(), v));
            }
            env
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// The environment never panics the parser, and the token shows in no error, no `Debug` and
    /// no setting the reports print.
    #[test]
    fn config_from_arbitrary_environment(
        env in environment(),
        token in "glpat-[A-Za-z0-9_-]{20}",
        token_kind in 0u8..3,
    ) {
        let mut env = env;
        match token_kind {
            0 => env.push(("API_TOKEN".into(), token.clone())),
            1 => env.push(("CI_JOB_TOKEN".into(), token.clone())),
            _ => {}
        }
        match Config::from_vars(env.clone()) {
            Ok(c) => {
                prop_assert!(!format!("{c:?}").contains(&token), "token in Debug");
                let settings = format!("{:?}", config::describe(&c));
                prop_assert!(!settings.contains(&token));
                prop_assert!(c.concurrency >= 1 && c.concurrency <= 64);
                prop_assert!(matches!(c.api_url.scheme(), "http" | "https"));
                prop_assert!(c.api_url.username().is_empty() && c.api_url.password().is_none());
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(!text.contains(&token), "token in error: {}", text);
                prop_assert!(!e.variable.is_empty());
                let multiline_input = env.iter().any(|(_, v)| v.contains(['\n', '\r']));
                prop_assert!(multiline_input || !text.contains('\n'), "one line: {}", text);
            }
        }
    }

    /// `parse_age`: never panics; what it accepts prints back to itself and stays in range.
    #[test]
    fn parse_age_is_total(text in hostile_string()) {
        if let Ok(age) = parse_age(&text) {
            prop_assert!(age.as_secs() >= 0 && age.as_secs() <= 100 * 365 * 86_400);
            prop_assert_eq!(parse_age(&age.to_string()), Ok(age));
        }
    }

    #[test]
    fn parse_age_accepts_every_number_and_unit(n in 0u64..5000, unit in select(&['m', 'h', 'd', 'w'][..])) {
        let secs = n * match unit { 'm' => 60, 'h' => 3600, 'd' => 86_400, _ => 604_800 };
        match parse_age(&format!("{n}{unit}")) {
            Ok(age) => prop_assert_eq!(age.as_secs() as u64, secs),
            Err(_) => prop_assert!(secs > 100 * 365 * 86_400),
        }
    }

    /// `Link` parsing: total, and what it finds is a substring of the header.
    #[test]
    fn link_header_parsing_is_total(header in prop_oneof![
        hostile_string(),
        proptest::collection::vec(
            ("[ -~]{0,30}", select(&["next", "\"next\"", "prev", "\"last first\"", "\"prev next\"", ""][..])),
            0..5,
        ).prop_map(|links| links.iter().map(|(u, r)| format!("<{u}>; rel={r}")).collect::<Vec<_>>().join(", ")),
    ]) {
        if let Some(target) = parse_link_next(&header) {
            prop_assert!(header.contains(target));
            prop_assert!(!target.contains('>'));
        }
    }

    /// `next_page`: total over arbitrary `Link` / `X-Next-Page` bytes, and never a page on
    /// another origin without the caller being able to see it (it returns the URL, the client
    /// compares origins).
    #[test]
    fn next_page_is_total(
        link in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..120)),
        link_text in proptest::option::of(hostile_string()),
        next in proptest::option::of(prop_oneof![hostile_string(), (0u64..u64::MAX).prop_map(|n| n.to_string())]),
        base in select(&["http://127.0.0.1:1/api/v4/projects/1/registry/repositories?per_page=100", "https://g.example/api/v4/x?page=3&per_page=100&a=%2F"][..]),
    ) {
        let current = Url::parse(base).unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in [("link", link.clone()), ("link", link_text.map(String::into_bytes)), ("x-next-page", next.map(String::into_bytes))] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                headers.append(name, v);
            }
        }
        let has_link = headers.contains_key("link");
        if let Ok(Some(url)) = next_page(&current, &headers) {
            if !has_link {
                // X-Next-Page only changes `page`: same origin, same path.
                prop_assert_eq!(url.origin(), current.origin());
                prop_assert_eq!(url.path(), current.path());
            }
        }
    }
}

/// Valid GitLab answers to mutate: each type the client parses, as GitLab sends it.
const SAMPLES: &[&str] = &[
    r#"[{"id":101,"name":"app","path":"demo/shop/app","project_id":1,"location":"registry.example.com/demo/shop/app","created_at":"2019-01-10T13:38:57.391Z","cleanup_policy_started_at":null,"status":null}]"#,
    r#"[{"name":"latest","path":"demo/shop/app:latest","location":"registry.example.com/demo/shop/app:latest"}]"#,
    r#"{"name":"v1.0.0","path":"demo/shop/app:v1.0.0","location":"r/demo/shop/app:v1.0.0","revision":"d7a3f2","short_revision":"d7a3f2","digest":"sha256:c3bf","created_at":"2019-01-06T16:49:51.272+00:00","total_size":2818413}"#,
    r#"{"id":1,"path_with_namespace":"demo/shop","container_registry_access_level":"enabled","container_registry_enabled":true,"container_expiration_policy":{"cadence":"7d","enabled":true,"keep_n":5,"older_than":"30d","name_regex":".*","name_regex_keep":null,"next_run_at":"2026-11-25T12:00:00.000Z"}}"#,
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0usize..20).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                select(
                    &[
                        "null",
                        "-1",
                        "1e400",
                        "18446744073709551616",
                        "\"\\ud800\"",
                        "[]",
                        "{}",
                        "{\"a\":",
                        "99999999999999999999999",
                        "true",
                        "\"\\u0000\""
                    ][..]
                )
                .prop_map(|s| s.as_bytes().to_vec()),
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(sample: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = sample.to_vec();
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match m {
            Mutation::Flip(i, x) if !b.is_empty() => {
                let i = i % b.len();
                b[i] ^= x | 1;
            }
            Mutation::Delete(i, n) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::Insert(i, bytes) => {
                let i = at(*i, b.len());
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Duplicate(i, n) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                let copy = b[i..end].to_vec();
                b.splice(end..end, copy);
            }
            Mutation::Truncate(i) => {
                let i = at(*i, b.len());
                b.truncate(i);
            }
            _ => {}
        }
    }
    b
}

/// Parses `body` as every response type the client reads, as the client would.
fn parse_everything(body: &[u8]) {
    let _ = serde_json::from_slice::<Vec<Repository>>(body).map(|repos| {
        for r in &repos {
            let _ = r.project_path();
        }
    });
    let _ = serde_json::from_slice::<Vec<ListedTag>>(body);
    let _ = serde_json::from_slice::<TagDetails>(body);
    let _ = serde_json::from_slice::<Project>(body).map(|p| p.registry_enabled());
    let _ = serde_json::from_slice::<Vec<Project>>(body);
    let _ = serde_json::from_slice::<ExpirationPolicy>(body);
    for status in [200u16, 404, 500] {
        let reply = || Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_vec(),
        };
        let message = reply().message();
        assert!(
            message.chars().count() <= 200
                || serde_json::from_slice::<serde_json::Value>(body).is_ok()
        );
        match json_verdict::<Vec<ListedTag>>("GET /x", reply()) {
            Verdict::Done(_) => assert_eq!(status, 200),
            Verdict::Retry(e) | Verdict::Fail(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn json_types_accept_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&body);
    }

    #[test]
    fn json_types_accept_mutated_gitlab_answers(
        sample in select(SAMPLES),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        parse_everything(&mutate(sample.as_bytes(), &mutations));
    }

    /// Field values of the right names but any JSON type or size.
    #[test]
    fn json_types_accept_odd_field_values(
        id in prop_oneof![Just(json!(-1)), Just(json!(1.5)), Just(json!(u64::MAX)), Just(json!("7")), Just(json!(null)), (0u64..u64::MAX).prop_map(|n| json!(n))],
        text in prop_oneof![hostile_string().prop_map(|s| json!(s)), Just(json!(null)), Just(json!(12)), Just(json!([]))],
        path in hostile_string(),
        name in hostile_string(),
    ) {
        let repo = json!([{"id": id, "name": name, "path": path, "project_id": id, "status": text}]);
        if let Ok(repos) = serde_json::from_value::<Vec<Repository>>(repo) {
            for r in &repos {
                let p = r.project_path();
                prop_assert!(r.path.contains(p) || p.is_empty());
            }
        }
        let details = json!({"digest": text, "created_at": text, "total_size": id});
        let _ = serde_json::from_value::<TagDetails>(details);
        let project = json!({"id": id, "path_with_namespace": path, "container_registry_access_level": text,
            "container_expiration_policy": {"keep_n": id, "cadence": text, "enabled": text}});
        let _ = serde_json::from_value::<Project>(project);
    }

    /// Repository paths and cache suffixes of any shape: no panic, and a counterpart is always a
    /// proper prefix of the path.
    #[test]
    fn counterpart_paths_are_total(path in hostile_string(), project in hostile_string(), suffix in hostile_string()) {
        let repo = Repo { id: 1, project_id: 1, project_path: project, path: path.clone() };
        use registry_gc::scope::CounterpartPath::*;
        match repo.counterpart_path(&suffix) {
            Inside(p) | Outside(p) => prop_assert!(path.starts_with(&p) && p.len() < path.len()),
            NotCache => {}
        }
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    for open in ["[", "{\"a\":"] {
        let body = open.repeat(100_000);
        parse_everything(body.as_bytes());
    }
}

#[test]
fn a_huge_body_is_parsed_within_its_own_size() {
    // 100 tags with 100 KiB names: 10 MiB of JSON, parsed as one page.
    let name = "a".repeat(100 * 1024);
    let page: Vec<serde_json::Value> = (0..100)
        .map(|i| json!({"name": format!("{name}{i}")}))
        .collect();
    let body = serde_json::to_vec(&page).unwrap();
    let tags: Vec<ListedTag> = serde_json::from_slice(&body).unwrap();
    assert_eq!(tags.len(), 100);
}

// --------------------------------------------------------------- reports with hostile names

/// XML 1.0's `Char` production: what a JUnit consumer (GitLab's parser) accepts.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

proptest! {
    #![proptest_config(config(128))]

    /// Tag and repository names straight from a (hostile) server: the JUnit file stays
    /// well-formed XML with only legal characters and the names intact, gc.log keeps one line
    /// per tag, and gc-report.json round-trips the names.
    #[test]
    fn reports_stay_well_formed_with_hostile_names(
        names in proptest::collection::btree_set(hostile_string(), 1..6),
        path in hostile_string(),
        dry_run in any::<bool>(),
    ) {
        let rules = RuleSettings {
            keep: FullRegex::new("nothing").unwrap(),
            delete: FullRegex::new(".*").unwrap(),
            keep_n: None,
            older_than: Some(parse_age("1d").unwrap()),
            delete_broken: true,
            delete_orphan_cache: true,
            delete_orphan_referrers: true,
            cache_suffix: ".cache".into(),
            stale_ref: None,
            age_from: AgeFrom::Created,
            evidence: Default::default(),
        };
        let tags: Vec<TagFacts> = names.iter().enumerate().map(|(i, n)| TagFacts {
            name: n.as_str().into(),
            details: match i % 3 {
                0 => Details::Missing,
                1 => Details::Failed(format!("GET /x/{n}: 500 {n}")),
                _ => Details::Found(TagInfo { created_at: Some(hours_ago(1000).into()), published_at: None, digest: Some(n.as_str().into()), size: Some(1) }),
            },
            inspected: Default::default(),
            protected: None,
        }).collect();
        let repo = Repo { id: 1, project_id: 1, project_path: path.clone(), path: format!("{path}/{path}") };
        let facts = vec![RepoFacts { repo: repo.clone(), tags: Ok(tags), refs: Refs::NotListed, role: Role::Decided, metadata_database: false }];
        let plan = plan::plan(&rules, now(), facts, &HashSet::new());
        let mut outcomes = Outcome::initial(&plan, dry_run);
        if !dry_run {
            for (i, o) in outcomes[0].iter_mut().enumerate() {
                if *o != Outcome::Kept {
                    *o = if i % 2 == 0 { Outcome::Deleted } else { Outcome::Failed(format!("DELETE {path}: 500").into()) };
                }
            }
        }
        let mode = Mode { dry_run, why: "GC_DRY_RUN=x".into() };
        let summary = Summary::compute(&plan, &outcomes, &[], 0, 0);
        let run = Run {
            version: "0",
            started_at: now(),
            mode: &mode,
            scope: path.clone(),
            settings: BTreeMap::new(),
            job_url: Some(&path),
            plan: &plan,
            outcomes: &outcomes,
            policies: &[],
            skipped: &[],
            errors: &[],
            stopped: Some(path.clone()),
            summary,
        };

        let mut xml = Vec::new();
        report::junit::render(&mut xml, &run).unwrap();
        let xml = String::from_utf8(xml).expect("UTF-8");
        prop_assert!(xml.chars().all(xml_char), "illegal XML character in {:?}", xml);
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut seen = BTreeSet::new();
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Start(e)) if e.name().as_ref() == "testcase" => {
                    for a in e.attributes() {
                        let a = a.expect("well-formed attribute");
                        if a.key.as_ref() == "name" {
                            #[allow(deprecated)] // its replacement needs the XML version type
                            seen.insert(a.unescape_value().expect("escaped").into_owned());
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(TestCaseError::fail(format!("JUnit is not XML: {e}\n{xml}"))),
            }
        }
        for tag in plan.repos[0].tags.iter().filter(|t| t.decision.action == Action::Delete || t.decision.rule == RuleId::Error) {
            // Names without control characters come back verbatim (XML normalizes whitespace
            // in attributes, and cannot carry most control characters at all).
            if !tag.name.chars().any(char::is_control) {
                prop_assert!(seen.contains(&*tag.name), "{:?} missing from {:?}", tag.name, seen);
            }
        }

        for (tag, outcome) in plan.repos[0].tags.iter().zip(&outcomes[0]) {
            let line = report::log::line(&repo, tag, outcome);
            prop_assert!(!line.contains(['\n', '\r']), "gc.log line split: {:?}", line);
        }

        let mut text = Vec::new();
        report::json::render(&mut text, &run).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let names_back: BTreeSet<String> = back["repositories"][0]["tags"].as_array().unwrap()
            .iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
        prop_assert_eq!(names_back, names.clone());
    }
}
