//! The decision rules: pure functions from facts to a keep/delete decision with a reason.
//!
//! This is the part users must be able to predict, so it does no I/O and knows no HTTP: the
//! planner hands it what was learned about a repository, and it answers with one [`Decision`] per
//! tag. Rules are tried in the order of design §3 and the first that matches decides. Two rules
//! (`protected`, `broken-undeletable`) only GitLab can apply, when a deletion is refused; they
//! are named here so every outcome has one rule id.

use std::collections::HashSet;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{AgeFrom, RuleSettings};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    KeepRegex,
    Protected,
    Broken,
    OrphanCache,
    NotCandidate,
    UnknownAge,
    KeepN,
    OlderThan,
    Default,
    BrokenUndeletable,
    /// Not a rule: the facts could not be gathered, so the tag is kept.
    Error,
}

impl RuleId {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::KeepRegex => "keep-regex",
            RuleId::Protected => "protected",
            RuleId::Broken => "broken",
            RuleId::OrphanCache => "orphan-cache",
            RuleId::NotCandidate => "not-candidate",
            RuleId::UnknownAge => "unknown-age",
            RuleId::KeepN => "keep-n",
            RuleId::OlderThan => "older-than",
            RuleId::Default => "default",
            RuleId::BrokenUndeletable => "broken-undeletable",
            RuleId::Error => "error",
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Keep,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub rule: RuleId,
    pub reason: String,
    /// For `orphan-cache` decisions that rely on this run deleting the counterpart tag: that tag.
    /// If its deletion does not happen (protected, failed), the cache tag must stay too.
    pub depends_on: Option<TagRef>,
}

/// A tag in another repository: `repository:tag`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRef {
    pub repository: String,
    pub tag: String,
}

impl Decision {
    fn keep(rule: RuleId, reason: impl Into<String>) -> Decision {
        Decision {
            action: Action::Keep,
            rule,
            reason: reason.into(),
            depends_on: None,
        }
    }

    fn delete(rule: RuleId, reason: impl Into<String>) -> Decision {
        Decision {
            action: Action::Delete,
            rule,
            reason: reason.into(),
            depends_on: None,
        }
    }
}

/// What the tag's details request told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Details {
    /// Not requested: no rule needs it (see [`needs_details`]).
    NotFetched,
    /// 404: GitLab cannot read the manifest.
    Missing,
    Found(TagInfo),
    /// The request failed; nothing may be concluded.
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TagInfo {
    /// The image config's build time; null for manifests without one (indexes, caches).
    pub created_at: Option<Timestamp>,
    /// The push time: GraphQL on registries with GitLab's metadata database only.
    pub published_at: Option<Timestamp>,
    pub digest: Option<String>,
    pub size: Option<u64>,
}

impl TagInfo {
    /// The timestamp the age rules judge, and the word that names it in reasons.
    pub fn age(&self, from: AgeFrom) -> Option<(Timestamp, &'static str)> {
        match (from, self.published_at, self.created_at) {
            (AgeFrom::Published, Some(published), _) => Some((published, "pushed")),
            (_, _, Some(created)) => Some((created, "created")),
            _ => None,
        }
    }
}

impl Details {
    pub fn info(&self) -> Option<&TagInfo> {
        match self {
            Details::Found(info) => Some(info),
            _ => None,
        }
    }
}

/// What is known of a cache repository's counterpart (`app.cache` → `app`).
#[derive(Clone, Debug)]
pub enum Counterpart<'a> {
    /// Not a cache repository, or the orphan-cache rule is off.
    NotApplicable,
    /// The counterpart would live outside this project, where this run does not look.
    Outside { path: String },
    /// Its state is unknown (its tag list failed, or it is being deleted): decide nothing on it.
    Unknown { path: String, why: String },
    /// The project has no repository at that path.
    Missing { path: String },
    /// The counterpart exists: the tags it has now, and those this run deletes from it.
    Present {
        path: String,
        tags: &'a HashSet<String>,
        deleted: &'a HashSet<String>,
    },
}

/// What is known of a counterpart before any details are fetched, to skip needless requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterpartHint {
    /// The orphan-cache rule cannot delete this tag whatever its details say.
    CannotOrphan,
    /// It might: the details (`created_at`) are needed.
    MayOrphan,
}

/// Whether the decision for `tag` can depend on its details: the REST floor is built on this.
pub fn needs_details(rules: &RuleSettings, tag: &str, hint: CounterpartHint) -> bool {
    if rules.keep.is_match(tag) {
        return false;
    }
    let age_rules = rules.keep_n.is_some() || rules.older_than.is_some();
    rules.delete_broken
        || hint == CounterpartHint::MayOrphan
        || (age_rules && rules.delete.is_match(tag))
}

/// One tag as the rules see it.
#[derive(Clone, Debug)]
pub struct TagFacts {
    pub name: String,
    pub details: Details,
}

/// Decides every tag of one repository (`keep-n` ranks tags against each other, so the unit is
/// the repository). `now` is passed in so that decisions are reproducible.
pub fn decide_repository(
    rules: &RuleSettings,
    now: Timestamp,
    tags: &[TagFacts],
    counterpart: &Counterpart<'_>,
) -> Vec<Decision> {
    let age_rules = rules.keep_n.is_some() || rules.older_than.is_some();
    let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(tags.len());
    // Candidates for keep-n / older-than: (index, age timestamp, what it is).
    let mut candidates: Vec<(usize, Timestamp, &str)> = Vec::new();

    for (i, tag) in tags.iter().enumerate() {
        let early = decide_before_age(rules, tag, counterpart, age_rules);
        if early.is_none() {
            match tag.details.info().and_then(|info| info.age(rules.age_from)) {
                Some((time, what)) => candidates.push((i, time, what)),
                None => unreachable!("decide_before_age keeps tags without a known age"),
            }
        }
        decisions.push(early);
    }

    // Newest first; ties broken by name so the listing order never matters.
    candidates.sort_by(|(a, ta, _), (b, tb, _)| {
        tb.cmp(ta).then_with(|| tags[*a].name.cmp(&tags[*b].name))
    });
    for (rank, (i, time, what)) in candidates.into_iter().enumerate() {
        let age = now.duration_since(time).as_secs().max(0);
        let decision = match rules.keep_n {
            Some(n) if rank < n => Decision::keep(
                RuleId::KeepN,
                format!(
                    "#{} of the {n} newest candidates kept by GC_KEEP_N",
                    rank + 1
                ),
            ),
            _ => match rules.older_than {
                Some(limit) if age > limit.as_secs() => Decision::delete(
                    RuleId::OlderThan,
                    format!(
                        "{what} {} ago, older than GC_OLDER_THAN={limit}",
                        human_age(age)
                    ),
                ),
                Some(limit) => Decision::keep(
                    RuleId::Default,
                    format!(
                        "{what} {} ago, newer than GC_OLDER_THAN={limit}",
                        human_age(age)
                    ),
                ),
                None => {
                    let n = rules.keep_n.expect("age rules are set");
                    Decision::delete(
                        RuleId::OlderThan,
                        format!(
                            "#{} newest candidate, beyond the {n} kept by GC_KEEP_N",
                            rank + 1
                        ),
                    )
                }
            },
        };
        decisions[i] = Some(decision);
    }
    decisions
        .into_iter()
        .map(|d| d.expect("every tag decided"))
        .collect()
}

/// The rules before the age rules; `None` means the tag is an age candidate with a known age.
fn decide_before_age(
    rules: &RuleSettings,
    tag: &TagFacts,
    counterpart: &Counterpart<'_>,
    age_rules: bool,
) -> Option<Decision> {
    if rules.keep.is_match(&tag.name) {
        return Some(Decision::keep(
            RuleId::KeepRegex,
            format!("matches GC_KEEP_REGEX `{}`", rules.keep.as_str()),
        ));
    }
    if let Details::Failed(error) = &tag.details {
        return Some(Decision::keep(
            RuleId::Error,
            format!("kept because its details could not be read: {error}"),
        ));
    }
    if tag.details == Details::Missing && rules.delete_broken {
        return Some(Decision::delete(
            RuleId::Broken,
            "tag details return 404: GitLab cannot read its manifest (OCI index, attestation or missing blob)",
        ));
    }
    let created_at = tag.details.info().map(|info| info.created_at);
    if rules.delete_orphan_cache && created_at == Some(None) {
        if let Some(decision) = orphan_cache(&tag.name, counterpart) {
            return Some(decision);
        }
    }
    if age_rules && !rules.delete.is_match(&tag.name) {
        return Some(Decision::keep(
            RuleId::NotCandidate,
            format!("does not match GC_DELETE_REGEX `{}`", rules.delete.as_str()),
        ));
    }
    let age = tag
        .details
        .info()
        .map(|info| info.age(rules.age_from).is_some());
    match age {
        Some(false) => Some(Decision::keep(
            RuleId::UnknownAge,
            unknown_age_reason(rules, counterpart),
        )),
        Some(true) if age_rules => None,
        _ if tag.details == Details::Missing => Some(Decision::keep(
            RuleId::UnknownAge,
            "tag details return 404 and GC_DELETE_BROKEN=false: no age to judge",
        )),
        _ => Some(Decision::keep(RuleId::Default, "no rule deletes it")),
    }
}

fn unknown_age_reason(rules: &RuleSettings, counterpart: &Counterpart<'_>) -> String {
    let base = "created_at is null (cache or index manifest): no age to judge";
    match counterpart {
        Counterpart::Unknown { path, why } if rules.delete_orphan_cache => {
            format!("{base}; counterpart {path} unknown ({why})")
        }
        Counterpart::Outside { path } if rules.delete_orphan_cache => {
            format!("{base}; counterpart {path} is outside this project")
        }
        _ => base.to_string(),
    }
}

fn orphan_cache(tag: &str, counterpart: &Counterpart<'_>) -> Option<Decision> {
    match counterpart {
        Counterpart::NotApplicable | Counterpart::Outside { .. } | Counterpart::Unknown { .. } => {
            None
        }
        Counterpart::Missing { path } => Some(Decision::delete(
            RuleId::OrphanCache,
            format!("counterpart repository {path} does not exist"),
        )),
        Counterpart::Present {
            path,
            tags,
            deleted,
        } => {
            if !tags.contains(tag) {
                Some(Decision::delete(
                    RuleId::OrphanCache,
                    format!("counterpart tag {path}:{tag} does not exist"),
                ))
            } else if deleted.contains(tag) {
                Some(Decision {
                    depends_on: Some(TagRef {
                        repository: path.clone(),
                        tag: tag.to_string(),
                    }),
                    ..Decision::delete(
                        RuleId::OrphanCache,
                        format!("counterpart tag {path}:{tag} is deleted by this run"),
                    )
                })
            } else {
                None
            }
        }
    }
}

/// `3d`, `5h`, `12m`: the largest unit that fits, for reasons people read.
pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s >= 2 * 86_400 => format!("{}d", s / 86_400),
        s if s >= 2 * 3_600 => format!("{}h", s / 3_600),
        s => format!("{}m", s / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FullRegex;
    use crate::duration::parse_age;

    fn settings() -> RuleSettings {
        RuleSettings {
            keep: FullRegex::new(crate::config::DEFAULT_KEEP_REGEX).unwrap(),
            delete: FullRegex::new(".*").unwrap(),
            keep_n: None,
            older_than: None,
            delete_broken: true,
            delete_orphan_cache: true,
            cache_suffix: ".cache".into(),
            age_from: AgeFrom::Created,
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
                created_at: Some(created),
                published_at: None,
                digest: None,
                size: Some(1),
            }),
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
                created_at: built.map(days_ago),
                published_at: Some(days_ago(pushed)),
                digest: None,
                size: Some(1),
            }),
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
        let d = decide_repository(&rules, now(), &tags, &Counterpart::NotApplicable);
        assert!(d[1].reason.starts_with("pushed 30d ago"), "{}", d[1].reason);
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
        }
    }

    fn broken(name: &str) -> TagFacts {
        TagFacts {
            name: name.into(),
            details: Details::Missing,
        }
    }

    fn decide(rules: &RuleSettings, tags: &[TagFacts]) -> Vec<(Action, RuleId)> {
        decide_repository(rules, now(), tags, &Counterpart::NotApplicable)
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
        };
        assert_eq!(decide(&settings(), &[tag]), [(Action::Keep, RuleId::Error)]);
    }

    #[test]
    fn orphan_cache_needs_null_created_at_and_a_missing_counterpart() {
        let rules = settings();
        let tags: HashSet<String> = ["feature-x".to_string()].into();
        let deleted: HashSet<String> = HashSet::new();
        let present = Counterpart::Present {
            path: "g/p/app".into(),
            tags: &tags,
            deleted: &deleted,
        };
        let decide_with =
            |t: TagFacts, c: &Counterpart<'_>| decide_repository(&rules, now(), &[t], c).remove(0);

        let d = decide_with(null_age("feature-gone"), &present);
        assert_eq!((d.action, d.rule), (Action::Delete, RuleId::OrphanCache));
        assert!(
            d.reason.contains("g/p/app:feature-gone does not exist"),
            "{}",
            d.reason
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
        let tags: HashSet<String> = ["feature-x".to_string()].into();
        let deleted = tags.clone();
        let present = Counterpart::Present {
            path: "g/p/app".into(),
            tags: &tags,
            deleted: &deleted,
        };
        let d = decide_repository(&rules, now(), &[null_age("feature-x")], &present).remove(0);
        assert_eq!((d.action, d.rule), (Action::Delete, RuleId::OrphanCache));
        assert_eq!(
            d.depends_on,
            Some(TagRef {
                repository: "g/p/app".into(),
                tag: "feature-x".into()
            })
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
            decide_repository(&rules, now(), &[null_age("x")], &c)[0].rule,
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
            !needs_details(&rules, "latest", CounterpartHint::MayOrphan),
            "keep-regex tags never need details"
        );
        assert!(
            needs_details(&rules, "feature-a", CounterpartHint::CannotOrphan),
            "broken detection needs details"
        );
        rules.delete_broken = false;
        assert!(!needs_details(
            &rules,
            "feature-a",
            CounterpartHint::CannotOrphan
        ));
        assert!(needs_details(
            &rules,
            "feature-a",
            CounterpartHint::MayOrphan
        ));
        rules.older_than = Some(parse_age("7d").unwrap());
        rules.delete = FullRegex::new("feature-.*").unwrap();
        assert!(needs_details(
            &rules,
            "feature-a",
            CounterpartHint::CannotOrphan
        ));
        assert!(!needs_details(
            &rules,
            "release-1",
            CounterpartHint::CannotOrphan
        ));
    }

    #[test]
    fn human_ages() {
        assert_eq!(human_age(3 * 86_400 + 5), "3d");
        assert_eq!(human_age(5 * 3_600), "5h");
        assert_eq!(human_age(90), "1m");
    }
}
