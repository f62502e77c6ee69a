//! The decision rules: pure functions from facts to a keep/delete decision with a reason.
//!
//! This is the part users must be able to predict, so it does no I/O and knows no HTTP: the
//! planner hands it what was learned about a repository, and it answers with one [`Decision`] per
//! tag. Rules are tried in the order of design §3 and the first that matches decides. Two rules
//! (`protected`, `broken-undeletable`) only GitLab can apply, when a deletion is refused; they
//! are named here so every outcome has one rule id.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use crate::config::{AgeFrom, RuleSettings};
use crate::refs::Refs;

mod facts;
mod reason;
#[cfg(test)]
mod tests;

pub use facts::*;
pub use reason::*;

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
