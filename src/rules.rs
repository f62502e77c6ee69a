//! The decision rules: pure functions from facts to a keep/delete decision with a reason.
//!
//! This is the part users must be able to predict, so it does no I/O and knows no HTTP: the
//! planner hands it what was learned about a repository, and it answers with one [`Decision`] per
//! tag. Rules are tried in the order of design §3 and the first that matches decides. Two rules
//! (`protected`, `broken-undeletable`) only GitLab can apply, when a deletion is refused; they
//! are named here so every outcome has one rule id.

use std::collections::HashSet;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{AgeFrom, RuleSettings};
use crate::duration::Age;
use crate::refs::Refs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleId {
    KeepRegex,
    Protected,
    Broken,
    OrphanCache,
    StaleRef,
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
            RuleId::StaleRef => "stale-ref",
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
    pub reason: Reason,
}

impl Decision {
    fn keep(rule: RuleId, reason: Reason) -> Decision {
        Decision {
            action: Action::Keep,
            rule,
            reason,
        }
    }

    fn delete(rule: RuleId, reason: Reason) -> Decision {
        Decision {
            action: Action::Delete,
            rule,
            reason,
        }
    }

    /// For an `orphan-cache` deletion that relies on this run deleting the counterpart's tag of
    /// the same name: the counterpart repository. If that deletion does not happen (protected,
    /// failed), the cache tag must stay too.
    pub fn depends_on(&self) -> Option<&str> {
        match &self.reason {
            Reason::CounterpartTagDeleted(counterpart) => Some(counterpart),
            _ => None,
        }
    }
}

/// Why a rule decided as it did: the values its sentence needs, not the sentence. A plan holds
/// one per tag, and most are the same for a whole run or repository (a regex, a counterpart
/// path: shared, not copied), so 100,000 tags cost a few megabytes, not one string each. The
/// sentence is written by [`Reason::text`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The `GC_KEEP_REGEX` pattern.
    KeepRegex(Arc<str>),
    /// The error of the details request.
    DetailsFailed(Box<str>),
    Broken,
    /// The counterpart repository's path.
    CounterpartMissing(Arc<str>),
    /// The counterpart repository, which has no tag of this name.
    CounterpartTagMissing(Arc<str>),
    /// The counterpart repository, whose tag of this name this run deletes.
    CounterpartTagDeleted(Arc<str>),
    /// The branch or merge request the tag is named after is gone (deleted as `stale-ref`, or
    /// kept because it is too young or has no age): boxed, as few tags have one.
    RefGone(Box<GoneRef>),
    /// The project's branches or merge requests could not be listed: the error.
    RefsUnknown(Arc<str>),
    /// The `GC_DELETE_REGEX` pattern.
    NotCandidate(Arc<str>),
    /// `created_at` is null; with, when orphan-cache could not judge the tag, what is known of
    /// the counterpart (`g/app unknown (…)`, `g/app is outside this project`).
    NullAge {
        counterpart: Option<Arc<str>>,
    },
    /// Broken, but `GC_DELETE_BROKEN=false`.
    BrokenKept,
    NoRule,
    /// 1-based rank among the age candidates, and `GC_KEEP_N`.
    KeepN {
        rank: usize,
        n: usize,
    },
    /// Ranked beyond `GC_KEEP_N` (no `GC_OLDER_THAN`).
    BeyondKeepN {
        rank: usize,
        n: usize,
    },
    /// Judged against `GC_OLDER_THAN`: which timestamp, how old (seconds), the limit.
    Age {
        from: AgeFrom,
        older: bool,
        age: i64,
        limit: Age,
    },
}

/// What a `stale-ref` tag names that is gone, and how its age compares with
/// `GC_STALE_REF_MIN_AGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoneRef {
    pub slug: Option<Box<str>>,
    pub mr: Option<u64>,
    /// Which timestamp, and how old the tag is (seconds); `None` if no age is known.
    pub age: Option<(AgeFrom, i64)>,
    pub min_age: Age,
}

impl fmt::Display for GoneRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(slug) = &self.slug {
            write!(f, "no branch of the project has the slug `{slug}`")?;
        }
        if let Some(mr) = self.mr {
            let and = if self.slug.is_some() { " and " } else { "" };
            write!(f, "{and}merge request !{mr} is not open")?;
        }
        let min = self.min_age;
        let Some((from, age)) = self.age else {
            return f.write_str(", but its age is unknown");
        };
        let what = match from {
            AgeFrom::Published => "pushed",
            AgeFrom::Created => "created",
        };
        let age_text = human_age(age);
        if age >= min.as_secs() {
            write!(
                f,
                "; {what} {age_text} ago, at least GC_STALE_REF_MIN_AGE={min}"
            )
        } else {
            write!(
                f,
                ", but {what} {age_text} ago, younger than GC_STALE_REF_MIN_AGE={min}"
            )
        }
    }
}

impl Reason {
    /// The sentence people read; `tag` is the tag decided (some sentences name it).
    pub fn text<'a>(&'a self, tag: &'a str) -> impl fmt::Display + 'a {
        ReasonText { reason: self, tag }
    }
}

struct ReasonText<'a> {
    reason: &'a Reason,
    tag: &'a str,
}

impl fmt::Display for ReasonText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = self.tag;
        match self.reason {
            Reason::KeepRegex(regex) => write!(f, "matches GC_KEEP_REGEX `{regex}`"),
            Reason::DetailsFailed(error) => {
                write!(f, "kept because its details could not be read: {error}")
            }
            Reason::Broken => f.write_str(
                "tag details return 404: GitLab cannot read its manifest (OCI index, attestation or missing blob)",
            ),
            Reason::CounterpartMissing(path) => {
                write!(f, "counterpart repository {path} does not exist")
            }
            Reason::CounterpartTagMissing(path) => {
                write!(f, "counterpart tag {path}:{tag} does not exist")
            }
            Reason::CounterpartTagDeleted(path) => {
                write!(f, "counterpart tag {path}:{tag} is deleted by this run")
            }
            Reason::RefGone(gone) => gone.fmt(f),
            Reason::RefsUnknown(error) => write!(f, "stale-ref unknown: {error}"),
            Reason::NotCandidate(regex) => write!(f, "does not match GC_DELETE_REGEX `{regex}`"),
            Reason::NullAge { counterpart } => {
                f.write_str("created_at is null (cache or index manifest): no age to judge")?;
                match counterpart {
                    Some(counterpart) => write!(f, "; counterpart {counterpart}"),
                    None => Ok(()),
                }
            }
            Reason::BrokenKept => f.write_str(
                "tag details return 404 and GC_DELETE_BROKEN=false: no age to judge",
            ),
            Reason::NoRule => f.write_str("no rule deletes it"),
            Reason::KeepN { rank, n } => {
                write!(f, "#{rank} of the {n} newest candidates kept by GC_KEEP_N")
            }
            Reason::BeyondKeepN { rank, n } => {
                write!(f, "#{rank} newest candidate, beyond the {n} kept by GC_KEEP_N")
            }
            Reason::Age {
                from,
                older,
                age,
                limit,
            } => {
                let what = match from {
                    AgeFrom::Published => "pushed",
                    AgeFrom::Created => "created",
                };
                let than = if *older { "older" } else { "newer" };
                write!(
                    f,
                    "{what} {} ago, {than} than GC_OLDER_THAN={limit}",
                    human_age(*age)
                )
            }
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
    pub created_at: Option<Time>,
    /// The push time: GraphQL on registries with GitLab's metadata database only.
    pub published_at: Option<Time>,
    pub digest: Option<Digest>,
    pub size: Option<u64>,
}

impl TagInfo {
    /// The timestamp the age rules judge, and which one it is.
    pub fn age(&self, from: AgeFrom) -> Option<(Timestamp, AgeFrom)> {
        match (from, self.published_at, self.created_at) {
            (AgeFrom::Published, Some(published), _) => {
                Some((published.into(), AgeFrom::Published))
            }
            (_, _, Some(created)) => Some((created.into(), AgeFrom::Created)),
            _ => None,
        }
    }
}

/// A point in time in 12 bytes, `Option` included (a `Timestamp` takes 16, its `Option` 24): a
/// plan keeps two per tag. Converts to and from `Timestamp` exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// The seconds since the epoch, as two halves: 4-byte alignment keeps the struct at 12.
    low: u32,
    high: i32,
    /// `subsec_nanosecond` (negative before the epoch) plus 10⁹: never zero, which is what
    /// `None` is then.
    nanos: NonZeroU32,
}

const NANOS: i32 = 1_000_000_000;

impl From<Timestamp> for Time {
    fn from(t: Timestamp) -> Time {
        let second = t.as_second();
        let nanos = (t.subsec_nanosecond() + NANOS) as u32;
        Time {
            low: second as u32,
            high: (second >> 32) as i32,
            nanos: NonZeroU32::new(nanos).expect("|subsec_nanosecond| < 10⁹"),
        }
    }
}

impl From<Time> for Timestamp {
    fn from(t: Time) -> Timestamp {
        let second = (i64::from(t.high) << 32) | i64::from(t.low);
        let nanos = t.nanos.get() as i32 - NANOS;
        Timestamp::new(second, nanos).expect("made from a valid Timestamp")
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Timestamp::from(*self).fmt(f)
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Timestamp::from(*self).fmt(f)
    }
}

/// A manifest digest as GitLab wrote it. Nearly always `sha256:` and 64 lowercase hex digits:
/// those are kept as the 32 bytes they spell (a plan holds one per tag, and 71 characters on
/// the heap each add up), and written back identically; anything else is kept as it came.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Digest {
    Sha256([u8; 32]),
    Other(Box<str>),
}

impl Digest {
    fn sha256(text: &str) -> Option<[u8; 32]> {
        let hex = text.strip_prefix("sha256:")?.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        // Lowercase only: uppercase digits would not be written back as they came.
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(bytes)
    }
}

impl From<String> for Digest {
    fn from(text: String) -> Digest {
        match Digest::sha256(&text) {
            Some(bytes) => Digest::Sha256(bytes),
            None => Digest::Other(text.into_boxed_str()),
        }
    }
}

impl From<&str> for Digest {
    fn from(text: &str) -> Digest {
        match Digest::sha256(text) {
            Some(bytes) => Digest::Sha256(bytes),
            None => Digest::Other(text.into()),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Digest::Sha256(bytes) => {
                f.write_str("sha256:")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Digest::Other(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
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
        tags: &'a HashSet<&'a str>,
        deleted: &'a HashSet<&'a str>,
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

/// What is known of the ref a tag is named after, before its details are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefHint {
    /// The rule is off, or the tag names no ref.
    NotNamed,
    /// Its branch or open merge request exists: `stale-ref` cannot delete it.
    Live,
    /// It is gone: `stale-ref` deletes it if it is old enough, so its age is needed.
    Gone,
    /// The refs could not be listed: the tag is kept (`error`) whatever its age.
    Unknown,
}

/// Whether the decision for `tag` can depend on its details: the REST floor is built on this.
pub fn needs_details(
    rules: &RuleSettings,
    tag: &str,
    hint: CounterpartHint,
    refs: RefHint,
) -> bool {
    if rules.keep.is_match(tag) {
        return false;
    }
    let age_rules = rules.keep_n.is_some() || rules.older_than.is_some();
    // The rules from `stale-ref` on: a tag it keeps for want of refs never reaches the others.
    let from_stale_ref = match refs {
        RefHint::Gone => true,
        RefHint::Unknown => false,
        RefHint::NotNamed | RefHint::Live => age_rules && rules.delete.is_match(tag),
    };
    rules.delete_broken || hint == CounterpartHint::MayOrphan || from_stale_ref
}

/// Whether `tag` is named after a ref that `stale-ref` must look up: a project's branches and
/// merge requests are listed only if one of its tags is.
pub fn names_ref(rules: &RuleSettings, tag: &str) -> bool {
    rules
        .stale_ref
        .as_ref()
        .is_some_and(|s| s.pattern.named_ref(tag).is_some())
        && !rules.keep.is_match(tag)
}

/// Whether [`needs_details`] for `tag` waits for its project's refs: only where knowing them
/// changes the answer (by default every tag needs its details anyway, and nothing waits).
pub fn needs_wait_for_refs(rules: &RuleSettings, tag: &str, hint: CounterpartHint) -> bool {
    names_ref(rules, tag)
        && needs_details(rules, tag, hint, RefHint::Live)
            != needs_details(rules, tag, hint, RefHint::Gone)
}

/// The [`RefHint`] of `tag` given what is known of its project's refs.
pub fn ref_hint(rules: &RuleSettings, tag: &str, refs: &Refs) -> RefHint {
    let named = rules
        .stale_ref
        .as_ref()
        .and_then(|s| s.pattern.named_ref(tag));
    match (named, refs) {
        (None, _) => RefHint::NotNamed,
        (Some(named), Refs::Known(refs)) if refs.is_live(&named) => RefHint::Live,
        (Some(_), Refs::Known(_)) => RefHint::Gone,
        (Some(_), Refs::Unknown(_) | Refs::NotListed) => RefHint::Unknown,
    }
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
    refs: &Refs,
) -> Vec<Decision> {
    let age_rules = rules.keep_n.is_some() || rules.older_than.is_some();
    let shared = Shared::new(rules, counterpart, refs);
    let repository = Repository {
        rules,
        now,
        counterpart,
        refs,
        shared: &shared,
        age_rules,
    };
    let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(tags.len());
    // Candidates for keep-n / older-than: (index, age timestamp, which one it is).
    let mut candidates: Vec<(usize, Timestamp, AgeFrom)> = Vec::new();

    for (i, tag) in tags.iter().enumerate() {
        let early = repository.before_age(tag);
        if early.is_none() {
            match tag.details.info().and_then(|info| info.age(rules.age_from)) {
                Some((time, from)) => candidates.push((i, time, from)),
                None => unreachable!("before_age keeps tags without a known age"),
            }
        }
        decisions.push(early);
    }

    // Newest first; ties broken by name so the listing order never matters.
    candidates.sort_by(|(a, ta, _), (b, tb, _)| {
        tb.cmp(ta).then_with(|| tags[*a].name.cmp(&tags[*b].name))
    });
    for (rank, (i, time, from)) in candidates.into_iter().enumerate() {
        let age = now.duration_since(time).as_secs().max(0);
        let rank = rank + 1;
        let decision = match rules.keep_n {
            Some(n) if rank <= n => Decision::keep(RuleId::KeepN, Reason::KeepN { rank, n }),
            _ => match rules.older_than {
                Some(limit) => {
                    let older = age > limit.as_secs();
                    let reason = Reason::Age {
                        from,
                        older,
                        age,
                        limit,
                    };
                    if older {
                        Decision::delete(RuleId::OlderThan, reason)
                    } else {
                        Decision::keep(RuleId::Default, reason)
                    }
                }
                None => {
                    let n = rules.keep_n.expect("age rules are set");
                    Decision::delete(RuleId::OlderThan, Reason::BeyondKeepN { rank, n })
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

/// The parts of reasons that are the same for every tag of the repository, made once.
struct Shared {
    keep: Arc<str>,
    delete: Arc<str>,
    /// The counterpart's path, if the repository has one in this project.
    counterpart: Option<Arc<str>>,
    null_age: Reason,
    /// Why a tag named after a ref cannot be judged, if its project's refs are not known.
    refs_unknown: Arc<str>,
}

impl Shared {
    fn new(rules: &RuleSettings, counterpart: &Counterpart<'_>, refs: &Refs) -> Shared {
        let null_age = match counterpart {
            Counterpart::Unknown { path, why } if rules.delete_orphan_cache => {
                Some(format!("{path} unknown ({why})"))
            }
            Counterpart::Outside { path } if rules.delete_orphan_cache => {
                Some(format!("{path} is outside this project"))
            }
            _ => None,
        };
        Shared {
            keep: rules.keep.as_str().into(),
            delete: rules.delete.as_str().into(),
            counterpart: match counterpart {
                Counterpart::Missing { path } | Counterpart::Present { path, .. } => {
                    Some(path.as_str().into())
                }
                _ => None,
            },
            null_age: Reason::NullAge {
                counterpart: null_age.map(Arc::from),
            },
            refs_unknown: match refs {
                Refs::Unknown(error) => error.clone(),
                Refs::NotListed | Refs::Known(_) => {
                    "the project's branches and merge requests were not listed".into()
                }
            },
        }
    }
}

/// What the rules before the age rules look at in one repository, besides the tag.
struct Repository<'a> {
    rules: &'a RuleSettings,
    now: Timestamp,
    counterpart: &'a Counterpart<'a>,
    refs: &'a Refs,
    shared: &'a Shared,
    age_rules: bool,
}

/// What `stale-ref` makes of a tag.
enum StaleRef {
    /// It names no ref, or its ref is live: the rules after it decide.
    Passes,
    Decided(Decision),
    /// Its ref is gone but it is younger than `GC_STALE_REF_MIN_AGE`: the rules after it decide,
    /// and if none does, this is why it stays.
    Young(Reason),
}

impl Repository<'_> {
    /// The rules before the age rules; `None` means the tag is an age candidate with a known
    /// age.
    fn before_age(&self, tag: &TagFacts) -> Option<Decision> {
        let (rules, shared) = (self.rules, self.shared);
        if rules.keep.is_match(&tag.name) {
            return Some(Decision::keep(
                RuleId::KeepRegex,
                Reason::KeepRegex(shared.keep.clone()),
            ));
        }
        if let Details::Failed(error) = &tag.details {
            return Some(Decision::keep(
                RuleId::Error,
                Reason::DetailsFailed(error.as_str().into()),
            ));
        }
        if tag.details == Details::Missing && rules.delete_broken {
            return Some(Decision::delete(RuleId::Broken, Reason::Broken));
        }
        let created_at = tag.details.info().map(|info| info.created_at);
        if rules.delete_orphan_cache && created_at == Some(None) {
            if let Some(decision) = orphan_cache(&tag.name, self.counterpart, shared) {
                return Some(decision);
            }
        }
        let young = match self.stale_ref(tag) {
            StaleRef::Decided(decision) => return Some(decision),
            StaleRef::Young(reason) => Some(reason),
            StaleRef::Passes => None,
        };
        if self.age_rules && !rules.delete.is_match(&tag.name) {
            return Some(Decision::keep(
                RuleId::NotCandidate,
                Reason::NotCandidate(shared.delete.clone()),
            ));
        }
        let age = tag
            .details
            .info()
            .map(|info| info.age(rules.age_from).is_some());
        match age {
            Some(false) => Some(Decision::keep(RuleId::UnknownAge, shared.null_age.clone())),
            Some(true) if self.age_rules => None,
            _ if tag.details == Details::Missing => {
                Some(Decision::keep(RuleId::UnknownAge, Reason::BrokenKept))
            }
            _ => Some(Decision::keep(
                RuleId::Default,
                young.unwrap_or(Reason::NoRule),
            )),
        }
    }

    /// `stale-ref` (design §10): the tag is named after a branch or merge request that is gone,
    /// and it is at least `GC_STALE_REF_MIN_AGE` old. Without its project's refs nothing is
    /// concluded; without an age it is kept as `unknown-age`.
    fn stale_ref(&self, tag: &TagFacts) -> StaleRef {
        let Some(settings) = &self.rules.stale_ref else {
            return StaleRef::Passes;
        };
        let Some(named) = settings.pattern.named_ref(&tag.name) else {
            return StaleRef::Passes;
        };
        let refs = match self.refs {
            Refs::Known(refs) => refs,
            Refs::Unknown(_) | Refs::NotListed => {
                return StaleRef::Decided(Decision::keep(
                    RuleId::Error,
                    Reason::RefsUnknown(self.shared.refs_unknown.clone()),
                ))
            }
        };
        if refs.is_live(&named) {
            return StaleRef::Passes;
        }
        let age = tag
            .details
            .info()
            .and_then(|info| info.age(self.rules.age_from))
            .map(|(time, from)| (from, self.now.duration_since(time).as_secs().max(0)));
        let gone = Reason::RefGone(Box::new(GoneRef {
            slug: named.slug.map(Box::from),
            mr: named.mr,
            age,
            min_age: settings.min_age,
        }));
        match age {
            None => StaleRef::Decided(Decision::keep(RuleId::UnknownAge, gone)),
            Some((_, age)) if age >= settings.min_age.as_secs() => {
                StaleRef::Decided(Decision::delete(RuleId::StaleRef, gone))
            }
            Some(_) => StaleRef::Young(gone),
        }
    }
}

fn orphan_cache(tag: &str, counterpart: &Counterpart<'_>, shared: &Shared) -> Option<Decision> {
    let path = || {
        shared
            .counterpart
            .clone()
            .expect("a counterpart in this project")
    };
    match counterpart {
        Counterpart::NotApplicable | Counterpart::Outside { .. } | Counterpart::Unknown { .. } => {
            None
        }
        Counterpart::Missing { .. } => Some(Decision::delete(
            RuleId::OrphanCache,
            Reason::CounterpartMissing(path()),
        )),
        Counterpart::Present { tags, deleted, .. } => {
            if !tags.contains(tag) {
                Some(Decision::delete(
                    RuleId::OrphanCache,
                    Reason::CounterpartTagMissing(path()),
                ))
            } else if deleted.contains(tag) {
                Some(Decision::delete(
                    RuleId::OrphanCache,
                    Reason::CounterpartTagDeleted(path()),
                ))
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
            stale_ref: None,
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
                created_at: Some(created.into()),
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
                created_at: built.map(|days| days_ago(days).into()),
                published_at: Some(days_ago(pushed).into()),
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
        }
    }

    fn broken(name: &str) -> TagFacts {
        TagFacts {
            name: name.into(),
            details: Details::Missing,
        }
    }

    fn decide(rules: &RuleSettings, tags: &[TagFacts]) -> Vec<(Action, RuleId)> {
        decide_repository(
            rules,
            now(),
            tags,
            &Counterpart::NotApplicable,
            &Refs::NotListed,
        )
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
        assert_eq!(d.depends_on(), Some("g/p/app"));
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
}
