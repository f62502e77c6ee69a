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
    OrphanReferrer,
    Referrer,
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
            RuleId::OrphanReferrer => "orphan-referrer",
            RuleId::Referrer => "referrer",
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

    /// The deletions of this run a deletion relies on: an `orphan-cache` deletion on its
    /// counterpart's tag of the same name, an `orphan-referrer` one on its subject's tags. If
    /// those do not happen (protected, failed), the dependent tag must stay too.
    pub fn depends_on(&self) -> Option<Dependency<'_>> {
        match &self.reason {
            Reason::CounterpartTagDeleted(counterpart) => {
                Some(Dependency::Counterpart(counterpart))
            }
            Reason::SubjectDeleted { tags, .. } => Some(Dependency::Subject(tags)),
            _ => None,
        }
    }
}

/// What a dependent deletion waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency<'a> {
    /// The counterpart repository's tag of the same name.
    Counterpart(&'a str),
    /// These tags of the same repository (a referrer's subject).
    Subject(&'a [Box<str>]),
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

    // Referrers are decided last: whether their subject stays depends on the others.
    let mut referrers: Vec<(usize, Digest)> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let early = match repository.before_age(tag) {
            Early::Decided(decision) => Some(decision),
            Early::Referrer(subject) => {
                referrers.push((i, subject));
                Some(Decision::keep(RuleId::Referrer, Reason::NoRule))
            }
            Early::Candidate => {
                match age_of(rules, tag) {
                    Some((time, from)) => candidates.push((i, time, from)),
                    None => unreachable!("before_age keeps tags without a known age"),
                }
                None
            }
        };
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
    let mut decisions: Vec<Decision> = decisions
        .into_iter()
        .map(|d| d.expect("every tag decided"))
        .collect();
    for (i, subject) in referrers {
        decisions[i] = referrer(rules, tags, &decisions, subject);
    }
    decisions
}

/// The timestamp the age rules judge: GitLab's, else the one the registry gave (an index's).
pub fn age_of(rules: &RuleSettings, tag: &TagFacts) -> Option<(Timestamp, AgeFrom)> {
    tag.details
        .info()
        .and_then(|info| info.age(rules.age_from))
        .or_else(|| {
            tag.inspected
                .read()
                .and_then(|i| i.created)
                .map(|t| (t.into(), AgeFrom::Created))
        })
}

/// The subject a tag describes, if it is a signature, attestation, SBOM or other referrer.
pub fn subject_of(tag: &TagFacts) -> Option<Digest> {
    match tag.inspected.read() {
        Some(i) if i.kind == crate::registry::Kind::Referrer => i.subject.clone(),
        Some(i) if i.kind != crate::registry::Kind::Missing => None,
        _ => crate::registry::kind::subject_by_name(&tag.name).map(Digest::from),
    }
}

/// `orphan-referrer` / `referrer`: a referrer stays while a kept tag points at its subject,
/// goes with its subject's tags when this run deletes them all, and goes when no tag points at
/// it. Only where every other tag's digest is the registry's own can the subject be looked for
/// (GitLab's digest of a Docker manifest list is its amd64 child's).
fn referrer(
    rules: &RuleSettings,
    tags: &[TagFacts],
    decisions: &[Decision],
    subject: Digest,
) -> Decision {
    let keep = |reason| Decision::keep(RuleId::Referrer, reason);
    if !rules.delete_orphan_referrers {
        return keep(Reason::SubjectUnchecked {
            subject: Box::new(subject),
            why: "GC_DELETE_ORPHAN_REFERRERS=false".into(),
        });
    }
    // The tags a subject may be: not referrers, and pointing at something.
    let missing = |t: &TagFacts| {
        t.inspected
            .read()
            .is_some_and(|i| i.kind == crate::registry::Kind::Missing)
    };
    let others = || {
        tags.iter()
            .zip(decisions)
            .filter(|(t, d)| subject_of(t).is_none() && d.rule != RuleId::Referrer && !missing(t))
    };
    if let Some((unknown, _)) = others().find(|(t, _)| t.inspected.digest().is_none()) {
        let why = match (&rules.evidence, &unknown.inspected) {
            (Evidence::Inspected, Inspected::Failed(e)) => {
                format!("the digest of {} could not be read: {e}", unknown.name)
            }
            (Evidence::Inspected, _) => format!("the digest of {} is unknown", unknown.name),
            (Evidence::DetailsOnly(why) | Evidence::Nothing(why), _) => {
                format!("the registry was not read: {why}")
            }
        };
        return keep(Reason::SubjectUnchecked {
            subject: Box::new(subject),
            why: why.into(),
        });
    }
    let pointing: Vec<(&TagFacts, &Decision)> = others()
        .filter(|(t, _)| t.inspected.digest() == Some(&subject))
        .collect();
    if pointing.iter().any(|(_, d)| d.action == Action::Keep) {
        return keep(Reason::SubjectKept {
            subject: Box::new(subject),
        });
    }
    if pointing.is_empty() {
        return Decision::delete(
            RuleId::OrphanReferrer,
            Reason::SubjectGone {
                subject: Box::new(subject),
            },
        );
    }
    Decision::delete(
        RuleId::OrphanReferrer,
        Reason::SubjectDeleted {
            subject: Box::new(subject),
            tags: pointing.iter().map(|(t, _)| t.name.clone()).collect(),
        },
    )
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

/// What the rules before the age rules make of a tag.
enum Early {
    Decided(Decision),
    /// A referrer of this subject: decided once the others are.
    Referrer(Digest),
    /// An age candidate with a known age.
    Candidate,
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
    /// The rules before the age rules, in the order of design §3.
    fn before_age(&self, tag: &TagFacts) -> Early {
        use Early::Decided;
        let (rules, shared) = (self.rules, self.shared);
        if rules.keep.is_match(&tag.name) {
            return Decided(Decision::keep(
                RuleId::KeepRegex,
                Reason::KeepRegex(shared.keep.clone()),
            ));
        }
        if let Some(why) = &tag.protected {
            return Decided(Decision::keep(
                RuleId::Protected,
                Reason::Protected(why.clone()),
            ));
        }
        let inspection = tag.inspected.read();
        match (&tag.details, &tag.inspected) {
            (Details::Failed(error), _) => {
                return Decided(Decision::keep(
                    RuleId::Error,
                    Reason::DetailsFailed(error.as_str().into()),
                ))
            }
            (_, Inspected::Failed(error)) => {
                return Decided(Decision::keep(
                    RuleId::Error,
                    Reason::InspectionFailed(error.as_str().into()),
                ))
            }
            (Details::Unavailable(error), _) if inspection.is_none() => {
                return Decided(Decision::keep(
                    RuleId::Error,
                    Reason::DetailsFailed(error.as_str().into()),
                ))
            }
            _ => {}
        }
        if let Some(decision) = self.broken(tag) {
            return Decided(decision);
        }
        if let Some(subject) = subject_of(tag) {
            return Early::Referrer(subject);
        }
        // A cache: as the registry says, else as GitLab's null date hints.
        let cache = match inspection {
            Some(i) => i.kind == crate::registry::Kind::Cache,
            None => tag.details.info().is_some_and(|i| i.created_at.is_none()),
        };
        if rules.delete_orphan_cache && cache {
            if let Some(decision) = orphan_cache(&tag.name, self.counterpart, shared) {
                return Decided(decision);
            }
        }
        let young = match self.stale_ref(tag) {
            StaleRef::Decided(decision) => return Decided(decision),
            StaleRef::Young(reason) => Some(reason),
            StaleRef::Passes => None,
        };
        if self.age_rules && !rules.delete.is_match(&tag.name) {
            return Decided(Decision::keep(
                RuleId::NotCandidate,
                Reason::NotCandidate(shared.delete.clone()),
            ));
        }
        // A tag GitLab gave no date is `unknown-age`; one only the registry describes is too
        // where an age rule would judge it.
        let known = tag.details.info().is_some() || (inspection.is_some() && self.age_rules);
        match (known, age_of(rules, tag)) {
            (_, Some(_)) if self.age_rules => Early::Candidate,
            (true, None) => Decided(Decision::keep(RuleId::UnknownAge, shared.null_age.clone())),
            _ => Decided(Decision::keep(
                RuleId::Default,
                young.unwrap_or(Reason::NoRule),
            )),
        }
    }

    /// `broken`: the registry has no manifest for the tag (or one of an index's platform
    /// manifests); or, where the registry was not read, GitLab's 404 as the seed's rule had
    /// it, on a registry where that is the only evidence (design §3).
    fn broken(&self, tag: &TagFacts) -> Option<Decision> {
        let rules = self.rules;
        let kept = || Decision::keep(RuleId::UnknownAge, Reason::BrokenKept);
        if let Some(i) = tag.inspected.read() {
            if i.kind != crate::registry::Kind::Missing {
                return None;
            }
            let why = i.missing.clone().unwrap_or_else(|| "missing".into());
            return Some(if rules.delete_broken {
                Decision::delete(RuleId::Broken, Reason::Missing(why))
            } else {
                kept()
            });
        }
        if tag.details != Details::Missing {
            return None;
        }
        Some(match &rules.evidence {
            Evidence::DetailsOnly(why) if rules.delete_broken => {
                Decision::delete(RuleId::Broken, Reason::Broken(why.clone()))
            }
            Evidence::DetailsOnly(_) => kept(),
            Evidence::Nothing(why) => {
                Decision::keep(RuleId::Default, Reason::NotEvidence(why.clone()))
            }
            Evidence::Inspected => Decision::keep(
                RuleId::Default,
                Reason::NotEvidence("its manifest was not read".into()),
            ),
        })
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
        let age = age_of(self.rules, tag)
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
