use super::*;
use crate::config::FullRegex;
use crate::duration::parse_age;
use std::collections::HashSet;

fn settings() -> RuleSettings {
    RuleSettings {
        keep: FullRegex::new(crate::config::DEFAULT_KEEP_REGEX).unwrap(),
        delete: FullRegex::new(".*").unwrap(),
        keep_n: None,
        older_than: None,
        delete_broken: true,
        delete_orphan_cache: true,
        delete_orphan_referrers: true,
        cache_suffix: ".cache".into(),
        stale_ref: None,
        age_from: AgeFrom::Created,
        evidence: Default::default(),
    }
}

fn now() -> Timestamp {
    "2026-11-24T12:00:00Z".parse().unwrap()
}

fn aged(name: &str, days: i64) -> TagFacts {
    let created = now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * days))
        .unwrap();
    TagFacts {
        name: name.into(),
        details: Details::Found(TagInfo {
            created_at: Some(created.into()),
            published_at: None,
            digest: None,
            size: Some(1),
        }),
        inspected: Inspected::No,
        protected: None,
    }
}

/// Built at `built` days ago (None: an index without a config), pushed `pushed` days ago.
fn pushed(name: &str, built: Option<i64>, pushed: i64) -> TagFacts {
    let days_ago = |days: i64| {
        now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .unwrap()
    };
    TagFacts {
        name: name.into(),
        details: Details::Found(TagInfo {
            created_at: built.map(|days| days_ago(days).into()),
            published_at: Some(days_ago(pushed).into()),
            digest: None,
            size: Some(1),
        }),
        inspected: Inspected::No,
        protected: None,
    }
}

#[test]
fn age_from_published_judges_the_push_time() {
    let mut rules = settings();
    rules.older_than = Some(parse_age("7d").unwrap());
    // A reproducible build (created in 1970) pushed yesterday, and an image built yesterday
    // but pushed a month ago (re-tagged later does not change published_at).
    let tags = [
        pushed("feature-repro", Some(20_000), 1),
        pushed("feature-old", Some(1), 30),
    ];
    let by_created = decide(&rules, &tags);
    assert_eq!(
        by_created,
        vec![
            (Action::Delete, RuleId::OlderThan),
            (Action::Keep, RuleId::Default)
        ]
    );
    rules.age_from = AgeFrom::Published;
    let by_published = decide(&rules, &tags);
    assert_eq!(
        by_published,
        vec![
            (Action::Keep, RuleId::Default),
            (Action::Delete, RuleId::OlderThan)
        ]
    );
    let d = decide_repository(
        &rules,
        now(),
        &tags,
        &Counterpart::NotApplicable,
        &Refs::NotListed,
    );
    let reason = d[1].reason.text(&tags[1].name).to_string();
    assert!(reason.starts_with("pushed 30d ago"), "{reason}");
}

#[test]
fn a_cache_tag_with_a_push_time_has_an_age_when_age_is_from_published() {
    let mut rules = settings();
    rules.older_than = Some(parse_age("7d").unwrap());
    let tags = [pushed("feature-x", None, 30)];
    assert_eq!(
        decide(&rules, &tags),
        vec![(Action::Keep, RuleId::UnknownAge)]
    );
    rules.age_from = AgeFrom::Published;
    assert_eq!(
        decide(&rules, &tags),
        vec![(Action::Delete, RuleId::OlderThan)]
    );
}

fn null_age(name: &str) -> TagFacts {
    TagFacts {
        name: name.into(),
        details: Details::Found(TagInfo::default()),
        inspected: Default::default(),
        protected: None,
    }
}

fn broken(name: &str) -> TagFacts {
    TagFacts {
        name: name.into(),
        details: Details::Missing,
        inspected: Default::default(),
        protected: None,
    }
}

/// The decisions of one repository without a counterpart or refs.
fn decisions(rules: &RuleSettings, tags: &[TagFacts]) -> Vec<Decision> {
    decide_repository(
        rules,
        now(),
        tags,
        &Counterpart::NotApplicable,
        &Refs::NotListed,
    )
}

fn decide(rules: &RuleSettings, tags: &[TagFacts]) -> Vec<(Action, RuleId)> {
    decisions(rules, tags)
        .into_iter()
        .map(|d| (d.action, d.rule))
        .collect()
}

#[test]
fn keep_regex_wins_over_everything() {
    let mut rules = settings();
    rules.older_than = Some(parse_age("1d").unwrap());
    let out = decide(
        &rules,
        &[broken("latest"), aged("v1.2.3", 400), null_age("main")],
    );
    assert!(
        out.iter().all(|d| *d == (Action::Keep, RuleId::KeepRegex)),
        "{out:?}"
    );
}

#[test]
fn broken_tags_are_deleted_unless_disabled() {
    assert_eq!(
        decide(&settings(), &[broken("sha256-abc.att")]),
        [(Action::Delete, RuleId::Broken)]
    );
    let mut rules = settings();
    rules.delete_broken = false;
    assert_eq!(
        decide(&rules, &[broken("sha256-abc.att")]),
        [(Action::Keep, RuleId::UnknownAge)]
    );
}

#[test]
fn failed_details_keep_the_tag() {
    let tag = TagFacts {
        name: "x".into(),
        details: Details::Failed("503".into()),
        inspected: Default::default(),
        protected: None,
    };
    assert_eq!(decide(&settings(), &[tag]), [(Action::Keep, RuleId::Error)]);
}

#[test]
fn orphan_cache_needs_null_created_at_and_a_missing_counterpart() {
    let rules = settings();
    let tags: HashSet<&str> = ["feature-x"].into();
    let deleted: HashSet<&str> = HashSet::new();
    let present = Counterpart::Present {
        path: "g/p/app".into(),
        tags: &tags,
        deleted: &deleted,
    };
    let decide_with = |t: TagFacts, c: &Counterpart<'_>| {
        decide_repository(&rules, now(), &[t], c, &Refs::NotListed).remove(0)
    };

    let d = decide_with(null_age("feature-gone"), &present);
    assert_eq!((d.action, d.rule), (Action::Delete, RuleId::OrphanCache));
    let reason = d.reason.text("feature-gone").to_string();
    assert!(
        reason.contains("g/p/app:feature-gone does not exist"),
        "{reason}"
    );
    assert_eq!(
        decide_with(null_age("feature-x"), &present).rule,
        RuleId::UnknownAge
    );
    // A tag with a real age is an image, not a cache manifest: not orphan-cache.
    assert_eq!(
        decide_with(aged("feature-gone", 3), &present).rule,
        RuleId::Default
    );
    let missing = Counterpart::Missing {
        path: "g/p/worker".into(),
    };
    assert_eq!(
        decide_with(null_age("main-x"), &missing).rule,
        RuleId::OrphanCache
    );
    let unknown = Counterpart::Unknown {
        path: "g/p/app".into(),
        why: "503".into(),
    };
    assert_eq!(
        decide_with(null_age("feature-gone"), &unknown).rule,
        RuleId::UnknownAge
    );
    let outside = Counterpart::Outside {
        path: "g/other".into(),
    };
    assert_eq!(
        decide_with(null_age("feature-gone"), &outside).rule,
        RuleId::UnknownAge
    );
}

#[test]
fn orphan_cache_follows_counterpart_deletions_of_this_run() {
    let rules = settings();
    let tags: HashSet<&str> = ["feature-x"].into();
    let deleted = tags.clone();
    let present = Counterpart::Present {
        path: "g/p/app".into(),
        tags: &tags,
        deleted: &deleted,
    };
    let d = decide_repository(
        &rules,
        now(),
        &[null_age("feature-x")],
        &present,
        &Refs::NotListed,
    )
    .remove(0);
    assert_eq!((d.action, d.rule), (Action::Delete, RuleId::OrphanCache));
    assert_eq!(d.depends_on(), Some(Dependency::Counterpart("g/p/app")));
    assert_eq!(
        d.reason.text("feature-x").to_string(),
        "counterpart tag g/p/app:feature-x is deleted by this run"
    );
}

#[test]
fn orphan_cache_can_be_disabled() {
    let mut rules = settings();
    rules.delete_orphan_cache = false;
    let c = Counterpart::Missing {
        path: "g/p/worker".into(),
    };
    assert_eq!(
        decide_repository(&rules, now(), &[null_age("x")], &c, &Refs::NotListed)[0].rule,
        RuleId::UnknownAge
    );
}

#[test]
fn not_candidate_only_with_age_rules() {
    let mut rules = settings();
    rules.delete = FullRegex::new("feature-.*").unwrap();
    assert_eq!(
        decide(&rules, &[aged("release-1", 400)]),
        [(Action::Keep, RuleId::Default)]
    );
    rules.older_than = Some(parse_age("7d").unwrap());
    assert_eq!(
        decide(&rules, &[aged("release-1", 400)]),
        [(Action::Keep, RuleId::NotCandidate)]
    );
    assert_eq!(
        decide(&rules, &[aged("feature-a", 400)]),
        [(Action::Delete, RuleId::OlderThan)]
    );
}

#[test]
fn unknown_age_is_never_deleted_by_age_rules() {
    let mut rules = settings();
    rules.older_than = Some(parse_age("1d").unwrap());
    rules.keep_n = Some(0);
    assert_eq!(
        decide(&rules, &[null_age("feature-a")]),
        [(Action::Keep, RuleId::UnknownAge)]
    );
}

#[test]
fn keep_n_keeps_the_newest_and_deletes_the_rest_when_alone() {
    let mut rules = settings();
    rules.keep_n = Some(2);
    let out = decide(
        &rules,
        &[aged("a", 10), aged("b", 1), aged("c", 5), aged("d", 20)],
    );
    assert_eq!(
        out,
        [
            (Action::Delete, RuleId::OlderThan),
            (Action::Keep, RuleId::KeepN),
            (Action::Keep, RuleId::KeepN),
            (Action::Delete, RuleId::OlderThan)
        ]
    );
}

#[test]
fn keep_n_and_older_than_combine() {
    let mut rules = settings();
    rules.keep_n = Some(1);
    rules.older_than = Some(parse_age("7d").unwrap());
    let out = decide(&rules, &[aged("a", 30), aged("b", 3), aged("c", 1)]);
    assert_eq!(
        out,
        [
            (Action::Delete, RuleId::OlderThan),
            (Action::Keep, RuleId::Default),
            (Action::Keep, RuleId::KeepN)
        ]
    );
}

#[test]
fn older_than_alone() {
    let mut rules = settings();
    rules.older_than = Some(parse_age("2w").unwrap());
    assert_eq!(
        decide(&rules, &[aged("a", 15), aged("b", 13)]),
        [
            (Action::Delete, RuleId::OlderThan),
            (Action::Keep, RuleId::Default)
        ]
    );
}

#[test]
fn decisions_do_not_depend_on_listing_order() {
    let mut rules = settings();
    rules.keep_n = Some(2);
    let tags = vec![aged("a", 3), aged("b", 3), aged("c", 3), aged("d", 1)];
    let forward = decide(&rules, &tags);
    let mut reversed_tags = tags.clone();
    reversed_tags.reverse();
    let mut backward = decide(&rules, &reversed_tags);
    backward.reverse();
    assert_eq!(forward, backward);
}

#[test]
fn details_are_needed_only_where_a_rule_can_use_them() {
    let mut rules = settings();
    assert!(
        !needs_details(
            &rules,
            "latest",
            CounterpartHint::MayOrphan,
            RefHint::NotNamed
        ),
        "keep-regex tags never need details"
    );
    assert!(
        needs_details(
            &rules,
            "feature-a",
            CounterpartHint::CannotOrphan,
            RefHint::NotNamed
        ),
        "broken detection needs details"
    );
    rules.delete_broken = false;
    assert!(!needs_details(
        &rules,
        "feature-a",
        CounterpartHint::CannotOrphan,
        RefHint::NotNamed
    ));
    assert!(needs_details(
        &rules,
        "feature-a",
        CounterpartHint::MayOrphan,
        RefHint::NotNamed
    ));
    rules.older_than = Some(parse_age("7d").unwrap());
    rules.delete = FullRegex::new("feature-.*").unwrap();
    assert!(needs_details(
        &rules,
        "feature-a",
        CounterpartHint::CannotOrphan,
        RefHint::NotNamed
    ));
    assert!(!needs_details(
        &rules,
        "release-1",
        CounterpartHint::CannotOrphan,
        RefHint::NotNamed
    ));
}

fn with_stale_ref(regex: &str) -> RuleSettings {
    let mut rules = settings();
    rules.stale_ref = Some(crate::config::StaleRefSettings {
        pattern: crate::config::RefPattern::new(FullRegex::new(regex).unwrap()).unwrap(),
        min_age: parse_age("1d").unwrap(),
    });
    rules
}

#[test]
fn stale_ref_sits_after_orphan_cache_and_before_the_age_rules() {
    use crate::refs::{ListedBranch, OpenMergeRequest, ProjectRefs};
    let mut rules = with_stale_ref("mr-(?P<mr>[0-9]+)|(?P<slug>.+)");
    rules.older_than = Some(parse_age("30d").unwrap());
    let none: [OpenMergeRequest<'_>; 0] = [];
    let refs = Refs::Known(Arc::new(
        ProjectRefs::from_listings(
            [ListedBranch {
                name: "feature/live",
                default: true,
            }],
            none,
        )
        .unwrap(),
    ));
    let tags = [
        aged("feature-live", 90),
        aged("feature-gone", 3),
        aged("mr-4", 90),
        broken("feature-broken"),
        null_age("feature-cache"),
        aged("latest", 90),
    ];
    let missing = Counterpart::Missing {
        path: "g/p/app".into(),
    };
    let rules_of = |refs: &Refs| -> Vec<RuleId> {
        decide_repository(&rules, now(), &tags, &missing, refs)
            .iter()
            .map(|d| d.rule)
            .collect()
    };
    assert_eq!(
        rules_of(&refs),
        [
            RuleId::OlderThan,
            RuleId::StaleRef,
            RuleId::StaleRef,
            RuleId::Broken,
            RuleId::OrphanCache,
            RuleId::KeepRegex
        ]
    );
    // Unknown refs keep every tag named after one, though GC_OLDER_THAN alone would
    // delete it; the rules before stale-ref still decide on their own facts.
    let unknown = Refs::Unknown("GET …/branches: 503".into());
    assert_eq!(
        rules_of(&unknown),
        [
            RuleId::Error,
            RuleId::Error,
            RuleId::Error,
            RuleId::Broken,
            RuleId::OrphanCache,
            RuleId::KeepRegex
        ]
    );
    let d = decide_repository(&rules, now(), &tags[..1], &missing, &unknown).remove(0);
    assert_eq!(
        (d.action, d.reason.text("feature-live").to_string()),
        (
            Action::Keep,
            "stale-ref unknown: GET …/branches: 503".to_string()
        )
    );
}

#[test]
fn details_wait_for_refs_only_where_the_refs_change_the_need() {
    let mut rules = with_stale_ref("(?P<slug>feature-.+)");
    let may = CounterpartHint::CannotOrphan;
    assert!(
        !needs_wait_for_refs(&rules, "feature-x", may),
        "broken detection needs them anyway"
    );
    rules.delete_broken = false;
    assert!(needs_wait_for_refs(&rules, "feature-x", may));
    assert!(
        !needs_wait_for_refs(&rules, "release-1", may),
        "names no ref"
    );
    assert!(needs_details(&rules, "feature-x", may, RefHint::Gone));
    assert!(!needs_details(&rules, "feature-x", may, RefHint::Live));
    assert!(!needs_details(&rules, "feature-x", may, RefHint::Unknown));
    rules.older_than = Some(parse_age("7d").unwrap());
    assert!(
        !needs_wait_for_refs(&rules, "feature-x", may),
        "the age rules need them anyway"
    );
    assert!(
        !needs_details(&rules, "feature-x", may, RefHint::Unknown),
        "kept before the age rules"
    );
}

#[test]
fn times_and_digests_are_written_back_as_they_came() {
    for text in [
        "2019-01-06T16:49:51.272Z",
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999999Z",
        "0001-01-01T00:00:00Z",
        "-009999-01-02T01:59:59Z",
        "9999-12-30T22:00:00.5Z",
    ] {
        let t: Timestamp = text.parse().unwrap();
        let time = Time::from(t);
        assert_eq!(Timestamp::from(time), t);
        assert_eq!(time.to_string(), t.to_string());
    }
    assert_eq!(std::mem::size_of::<Option<Time>>(), 12);
    let sha = format!("sha256:{}", "0123456789abcdef".repeat(4));
    for text in [
        sha.as_str(),
        "sha256:c3bf",
        "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "sha512:00",
        "",
    ] {
        assert_eq!(Digest::from(text).to_string(), text);
        assert_eq!(Digest::from(text.to_string()), Digest::from(text));
    }
    assert!(matches!(Digest::from(sha.as_str()), Digest::Sha256(_)));
}

#[test]
fn human_ages() {
    assert_eq!(human_age(3 * 86_400 + 5), "3d");
    assert_eq!(human_age(5 * 3_600), "5h");
    assert_eq!(human_age(90), "1m");
}

// --- What the registry said (design §9) ---

fn inspected_settings() -> RuleSettings {
    let mut rules = settings();
    rules.evidence = Evidence::Inspected;
    rules
}

fn sha(n: u8) -> Digest {
    Digest::from(format!("sha256:{}", format!("{n:02x}").repeat(32)))
}

/// A tag GitLab answered 404 for, as the registry describes it.
fn read_as(name: &str, kind: crate::registry::Kind, digest: Digest) -> TagFacts {
    TagFacts {
        name: name.into(),
        details: Details::Missing,
        inspected: Inspected::Read(Box::new(Inspection {
            kind,
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            digest,
            platforms: 2,
            attestations: 1,
            subject: None,
            created: None,
            missing: None,
        })),
        protected: None,
    }
}

fn index(name: &str, digest: Digest, days: Option<i64>) -> TagFacts {
    let mut tag = read_as(name, crate::registry::Kind::Index, digest);
    if let Inspected::Read(i) = &mut tag.inspected {
        i.created = days.map(|d| {
            now()
                .checked_sub(jiff::SignedDuration::from_hours(24 * d))
                .unwrap()
                .into()
        });
    }
    tag
}

fn missing_tag(name: &str, why: &str) -> TagFacts {
    let mut tag = read_as(name, crate::registry::Kind::Missing, sha(0));
    if let Inspected::Read(i) = &mut tag.inspected {
        i.missing = Some(why.into());
    }
    tag
}

fn signature(subject: &Digest) -> TagFacts {
    let hex = subject.to_string().replace(':', "-");
    TagFacts::new(
        format!("{hex}.sig"),
        Details::Found(TagInfo {
            created_at: None,
            published_at: None,
            digest: Some(sha(0xee)),
            size: Some(242),
        }),
    )
}

/// A tag GitLab showed, whose digest the registry was asked for.
fn with_digest(mut tag: TagFacts, digest: Digest) -> TagFacts {
    tag.inspected = Inspected::Digest(Box::new(digest));
    tag
}

#[test]
fn a_404_is_broken_only_where_nothing_else_can_be_known() {
    let tag = broken("multiarch");
    // The registry not read, no metadata database: the seed's rule.
    assert_eq!(
        decide(&settings(), std::slice::from_ref(&tag)),
        [(Action::Delete, RuleId::Broken)]
    );
    // The registry not read, on GitLab's metadata database: a 404 proves nothing.
    let mut rules = settings();
    rules.evidence = Evidence::Nothing("GC_INSPECT=false".into());
    assert_eq!(
        decide(&rules, std::slice::from_ref(&tag)),
        [(Action::Keep, RuleId::Default)]
    );
    // The registry read it: a working index is an image like any other.
    let read = index("multiarch", sha(1), None);
    assert_eq!(
        decide(&inspected_settings(), &[read]),
        [(Action::Keep, RuleId::Default)]
    );
    // Inspection on, but this tag was not read: kept, saying so.
    let d = decisions(&inspected_settings(), &[tag]);
    assert_eq!((d[0].action, d[0].rule), (Action::Keep, RuleId::Default));
    assert!(d[0]
        .reason
        .text("multiarch")
        .to_string()
        .contains("not read"));
}

#[test]
fn what_the_registry_lacks_is_broken_and_says_what() {
    let tags = [
        missing_tag(
            "gone",
            "the registry has no manifest for it (MANIFEST_UNKNOWN)",
        ),
        missing_tag("half", "its platform manifest sha256:bf95… is missing"),
    ];
    let d = decisions(&inspected_settings(), &tags);
    for (decision, tag) in d.iter().zip(&tags) {
        assert_eq!(
            (decision.action, decision.rule),
            (Action::Delete, RuleId::Broken)
        );
        let text = decision.reason.text(&tag.name).to_string();
        assert!(
            text.contains("MANIFEST_UNKNOWN") || text.contains("platform manifest"),
            "{text}"
        );
    }
    let mut rules = inspected_settings();
    rules.delete_broken = false;
    assert!(decide(&rules, &tags)
        .iter()
        .all(|d| *d == (Action::Keep, RuleId::UnknownAge)));
}

#[test]
fn a_failed_read_or_a_5xx_never_deletes() {
    let mut failed = broken("x");
    failed.inspected = Inspected::Failed(Box::new("GET /v2/…: 503".into()));
    let unavailable = TagFacts::new("y".into(), Details::Unavailable("500".into()));
    for rules in [inspected_settings(), settings()] {
        assert_eq!(
            decide(&rules, &[failed.clone(), unavailable.clone()]),
            [(Action::Keep, RuleId::Error), (Action::Keep, RuleId::Error)]
        );
    }
}

#[test]
fn an_index_is_judged_by_the_age_the_registry_gives() {
    let mut rules = inspected_settings();
    rules.older_than = Some(parse_age("7d").unwrap());
    let tags = [
        index("feature-old", sha(1), Some(30)),
        index("feature-new", sha(2), Some(2)),
        index("feature-undated", sha(3), None),
    ];
    assert_eq!(
        decide(&rules, &tags),
        [
            (Action::Delete, RuleId::OlderThan),
            (Action::Keep, RuleId::Default),
            (Action::Keep, RuleId::UnknownAge),
        ]
    );
}

#[test]
fn stale_ref_judges_an_index_by_the_age_the_registry_gives() {
    let mut rules = with_stale_ref("(?P<slug>.+)");
    rules.evidence = Evidence::Inspected;
    let refs = Refs::Known(Arc::new(crate::refs::ProjectRefs::default()));
    let tags = [
        index("old", sha(1), Some(30)),
        index("undated", sha(2), None),
    ];
    let d = decide_repository(&rules, now(), &tags, &Counterpart::NotApplicable, &refs);
    assert_eq!((d[0].action, d[0].rule), (Action::Delete, RuleId::StaleRef));
    assert_eq!((d[1].action, d[1].rule), (Action::Keep, RuleId::UnknownAge));
}

#[test]
fn a_referrer_follows_its_subject() {
    let rules = inspected_settings();
    let kept = with_digest(aged("latest", 400), sha(1));
    let kept_sig = signature(&sha(1));
    let orphan_sig = signature(&sha(9));
    let d = decisions(&rules, &[kept, kept_sig.clone(), orphan_sig.clone()]);
    assert_eq!((d[1].action, d[1].rule), (Action::Keep, RuleId::Referrer));
    assert_eq!(
        (d[2].action, d[2].rule),
        (Action::Delete, RuleId::OrphanReferrer)
    );

    // Its subject deleted by this run: it goes too, naming the tag.
    let mut aging = inspected_settings();
    aging.older_than = Some(parse_age("7d").unwrap());
    let old = with_digest(aged("feature-x", 30), sha(1));
    let d = decisions(&aging, &[old, kept_sig.clone()]);
    assert_eq!(
        (d[0].action, d[0].rule),
        (Action::Delete, RuleId::OlderThan)
    );
    assert_eq!(
        (d[1].action, d[1].rule),
        (Action::Delete, RuleId::OrphanReferrer)
    );
    assert!(d[1]
        .reason
        .text(&kept_sig.name)
        .to_string()
        .contains("feature-x"));

    // A referrer is never judged by age: a signature of a kept image outlives GC_OLDER_THAN.
    let kept_old = with_digest(aged("v1.0.0", 400), sha(1));
    let d = decisions(&aging, &[kept_old, kept_sig.clone()]);
    assert_eq!((d[1].action, d[1].rule), (Action::Keep, RuleId::Referrer));

    // Off: kept whatever its subject.
    let mut off = inspected_settings();
    off.delete_orphan_referrers = false;
    let d = decisions(&off, &[orphan_sig]);
    assert_eq!((d[0].action, d[0].rule), (Action::Keep, RuleId::Referrer));
}

#[test]
fn a_referrer_stays_while_any_digest_is_unknown() {
    // One tag's digest was not read (or failed): its subject might be that tag.
    let rules = inspected_settings();
    let unread = aged("feature-y", 1);
    let mut failed = aged("feature-z", 1);
    failed.inspected = Inspected::Failed(Box::new("HEAD: 503".into()));
    for other in [unread, failed] {
        let d = decisions(&rules, &[other, signature(&sha(9))]);
        assert_eq!((d[1].action, d[1].rule), (Action::Keep, RuleId::Referrer));
    }
    // Without the registry at all, the same.
    let d = decisions(&settings(), &[aged("a", 1), signature(&sha(9))]);
    assert_eq!((d[1].action, d[1].rule), (Action::Keep, RuleId::Referrer));
    assert!(d[1].reason.text("s").to_string().contains("not read"));
}

#[test]
fn a_protected_tag_is_kept_before_any_deleting_rule() {
    let mut rules = inspected_settings();
    rules.older_than = Some(parse_age("1d").unwrap());
    let mut old = aged("feature-x", 30);
    old.protected = Some("matches tag protection rule `feature-*`".into());
    let mut gone = missing_tag("release-broken", "MANIFEST_UNKNOWN");
    gone.protected = old.protected.clone();
    assert_eq!(
        decide(&rules, &[old, gone]),
        [
            (Action::Keep, RuleId::Protected),
            (Action::Keep, RuleId::Protected)
        ]
    );
}

/// A plan holds one `PlannedTag` per tag, and gathering one `TagFacts`: at 100,000 tags every
/// 8 bytes is 0.8 MB of peak memory (BENCHMARKS.md). What few tags have is boxed.
#[test]
fn what_every_tag_holds_stays_small() {
    assert!(std::mem::size_of::<Reason>() <= 32);
    assert!(std::mem::size_of::<Inspected>() <= 16);
    assert!(std::mem::size_of::<TagFacts>() <= 128);
    assert!(std::mem::size_of::<crate::plan::PlannedTag>() <= 144);
}
