//! Why a rule decided as it did, and the sentence people read for it.

use std::fmt;
use std::sync::Arc;

use crate::config::AgeFrom;
use crate::duration::Age;

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
    /// The error of the registry read.
    InspectionFailed(Box<str>),
    /// Why GitLab will refuse to delete it (a protection or immutability rule), known up front.
    Protected(Arc<str>),
    /// Details 404 and the registry not read: the seed's rule, with why it was not read.
    Broken(Arc<str>),
    /// The registry has no manifest for the tag, or one of an index's platform manifests.
    Missing(Box<str>),
    /// Details 404 on a registry with GitLab's metadata database (which proves nothing), and
    /// the registry not read: why.
    NotEvidence(Arc<str>),
    /// A signature, attestation or SBOM whose subject is the digest of tags this run keeps.
    /// (Subjects are boxed: few tags are referrers, and a digest inline would double the size
    /// of every reason.)
    SubjectKept {
        subject: Box<super::Digest>,
    },
    /// Whose subject's every tag this run deletes: those tags.
    SubjectDeleted {
        subject: Box<super::Digest>,
        tags: Box<[Box<str>]>,
    },
    /// Whose subject no tag points at.
    SubjectGone {
        subject: Box<super::Digest>,
    },
    /// Whose subject cannot be looked for: why.
    SubjectUnchecked {
        subject: Box<super::Digest>,
        why: Arc<str>,
    },
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
            Reason::Protected(why) => write!(f, "{why}: GitLab keeps it, so no deletion is attempted"),
            Reason::InspectionFailed(error) => {
                write!(f, "kept because the registry could not be read for it: {error}")
            }
            Reason::Broken(why) => write!(
                f,
                "tag details return 404 and the registry was not read ({why}): the only evidence, so broken by the seed's rule"
            ),
            Reason::Missing(why) => write!(f, "{why}"),
            Reason::NotEvidence(why) => write!(
                f,
                "GitLab cannot show its manifest (details 404 or no digest), which proves nothing with GitLab's metadata database, and the registry was not read ({why})"
            ),
            Reason::SubjectKept { subject } => {
                write!(f, "describes {}, which a kept tag points at", short(subject))
            }
            Reason::SubjectDeleted { subject, tags } => write!(
                f,
                "describes {}, whose tags this run deletes ({})",
                short(subject),
                tags.join(", ")
            ),
            Reason::SubjectGone { subject } => write!(
                f,
                "describes {}, which no tag points at any more",
                short(subject)
            ),
            Reason::SubjectUnchecked { subject, why } => write!(
                f,
                "describes {}; its subject cannot be checked ({why}), so it stays",
                short(subject)
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

/// `sha256:ab12cd34ef56…`: enough of a digest to recognise it.
fn short(digest: &super::Digest) -> String {
    let text = digest.to_string();
    match text.char_indices().nth(19) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
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
