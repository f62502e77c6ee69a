//! What a run tells people: `gc.log` for humans, JUnit for GitLab's Tests tab, JSON for tools,
//! an HTML page for the reviewer of a merge request, and dotenv figures for later jobs.
//!
//! All of them render the same [`Run`]: the plan, what happened to each planned tag, the policy
//! results and the request counts. They never recompute a decision; they only render it.

pub mod dotenv;
pub mod html;
pub mod json;
pub mod junit;
pub mod log;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::config::Mode;
use crate::delete::Outcome;
use crate::gitlab::Counts;
use crate::plan::{Plan, PlannedTag, RepoPlan};
use crate::policy::{PolicyResult, Status};
use crate::rules::{Digest, RuleId};
use crate::scope::{ScopeError, Skipped};

/// The verb a person reads first on each line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verb {
    Kept,
    Deleted,
    WouldDelete,
    AlreadyGone,
    Failed,
    NotDeleted,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Kept => "kept",
            Verb::Deleted => "deleted",
            Verb::WouldDelete => "would-delete",
            Verb::AlreadyGone => "already-gone",
            Verb::Failed => "failed",
            Verb::NotDeleted => "not-deleted",
        }
    }
}

/// A tag's final word: the plan's decision as refined by what GitLab answered.
pub struct Final<'a> {
    pub verb: Verb,
    pub rule: RuleId,
    pub reason: Why<'a>,
}

/// A final reason, written out only where a report writes it: the plan keeps no sentence per tag.
#[derive(Clone, Copy)]
pub enum Why<'a> {
    /// The plan's reason for this tag.
    Planned(&'a PlannedTag),
    Text(&'a str),
    DeletionFailed(&'a str),
}

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Why::Planned(tag) => {
                if let Some(what) = seen_in_registry(tag) {
                    write!(f, "{what}; ")?;
                }
                tag.decision.reason.text(&tag.name).fmt(f)
            }
            Why::Text(text) => f.write_str(text),
            Why::DeletionFailed(error) => write!(f, "deletion failed: {error}"),
        }
    }
}

impl serde::Serialize for Why<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

pub fn final_view<'a>(tag: &'a PlannedTag, outcome: &'a Outcome) -> Final<'a> {
    let rule = tag.decision.rule;
    let planned = |verb| Final {
        verb,
        rule,
        reason: Why::Planned(tag),
    };
    match outcome {
        Outcome::Kept => planned(Verb::Kept),
        Outcome::WouldDelete => planned(Verb::WouldDelete),
        Outcome::Deleted => planned(Verb::Deleted),
        Outcome::AlreadyGone => Final {
            verb: Verb::AlreadyGone,
            rule,
            reason: Why::Text("DELETE answered 404: already deleted"),
        },
        Outcome::Protected => Final {
            verb: Verb::Kept,
            rule: RuleId::Protected,
            reason: Why::Text("GitLab refused: cannot delete protected tag(s) (a protection or immutability rule)"),
        },
        Outcome::BrokenUndeletable => Final {
            verb: Verb::Kept,
            rule: RuleId::BrokenUndeletable,
            reason: Why::Text(
                "warning: broken tag, but DELETE answered 404: this GitLab version cannot delete a tag whose manifest it cannot read",
            ),
        },
        Outcome::Failed(e) => Final {
            verb: Verb::Failed,
            rule,
            reason: Why::DeletionFailed(e),
        },
        // Only seen if a report is built before the recheck settled it.
        Outcome::Forbidden => Final {
            verb: Verb::Failed,
            rule,
            reason: Why::DeletionFailed("403 Forbidden"),
        },
        Outcome::CounterpartKept(why) => Final {
            verb: Verb::Kept,
            rule,
            reason: Why::Text(why),
        },
        Outcome::NotAttempted(why) => Final {
            verb: Verb::NotDeleted,
            rule,
            reason: Why::Text(why),
        },
    }
}

/// Everything a run produced, for the reports.
pub struct Run<'a> {
    pub version: &'static str,
    pub started_at: jiff::Timestamp,
    pub mode: &'a Mode,
    pub scope: String,
    pub settings: BTreeMap<&'static str, String>,
    pub job_url: Option<&'a str>,
    pub plan: &'a Plan,
    pub outcomes: &'a [Vec<Outcome>],
    pub policies: &'a [PolicyResult],
    pub skipped: &'a [Skipped],
    pub errors: &'a [ScopeError],
    /// Why the run stopped early or refused to act, if it did.
    pub stopped: Option<String>,
    pub summary: Summary,
}

impl Run<'_> {
    /// Whether the registry itself was read (design §9: `on`, `off (GC_INSPECT=false)`,
    /// `unavailable (<why>)`), for the reports to state.
    pub fn inspection(&self) -> Option<&str> {
        Some(self.summary.inspection.as_str()).filter(|s| !s.is_empty())
    }
}

/// The manifest kind the registry reports for a tag (design §9: `image`, `index`, `cache`,
/// `referrer`, `artifact`, `missing`), or `None` when the tag was not inspected.
pub fn kind(tag: &PlannedTag) -> Option<&'static str> {
    tag.inspection.as_ref().map(|i| i.kind.as_str())
}

/// What the registry holds for a tag GitLab could not show, as a reason begins:
/// `multi-arch image (OCI index, 2 platforms, 1 attestation): GitLab cannot show it`. `None`
/// for a tag GitLab showed, or that was not read.
pub fn seen_in_registry(tag: &PlannedTag) -> Option<String> {
    use crate::registry::Kind;
    let i = tag.inspection.as_ref()?;
    let media = short_media_type(&i.media_type);
    let attestations = match i.attestations {
        0 => String::new(),
        1 => ", 1 attestation".into(),
        n => format!(", {n} attestations"),
    };
    let platforms = match i.platforms {
        1 => "1 platform".to_string(),
        n => format!("{n} platforms"),
    };
    let what = match i.kind {
        Kind::Index if i.platforms > 1 => {
            format!("multi-arch image ({media}, {platforms}{attestations})")
        }
        Kind::Index if i.attestations > 0 => {
            format!("attested image ({media}, {platforms}{attestations})")
        }
        Kind::Index => format!("image index ({media}, {platforms})"),
        Kind::Cache => format!("BuildKit cache ({media})"),
        Kind::Referrer => match tag.name.rsplit_once('.').map(|(_, s)| s) {
            Some("sig") => format!("cosign signature ({media})"),
            Some("att") => format!("cosign attestation ({media})"),
            Some("sbom") => format!("cosign SBOM ({media})"),
            _ => format!("OCI referrer ({media})"),
        },
        Kind::Artifact => format!("OCI artifact ({media})"),
        Kind::Image => format!("image ({media})"),
        Kind::Missing => return None,
    };
    Some(if tag.info.is_none() {
        format!("{what}: GitLab cannot show it")
    } else {
        what
    })
}

/// The four manifest media types by name; any other as it is.
fn short_media_type(media_type: &str) -> &str {
    match media_type {
        "application/vnd.oci.image.index.v1+json" => "OCI index",
        "application/vnd.docker.distribution.manifest.list.v2+json" => "Docker manifest list",
        "application/vnd.oci.image.manifest.v1+json" => "OCI manifest",
        "application/vnd.docker.distribution.manifest.v2+json" => "Docker manifest",
        other => other,
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub mode: String,
    pub dry_run: bool,
    /// The API that read and deleted tags (`rest` or `graphql`), and the age used.
    pub api: String,
    pub projects: usize,
    pub repositories: usize,
    pub repositories_skipped: usize,
    pub tags: usize,
    pub deleted: usize,
    pub would_delete: usize,
    pub already_gone: usize,
    pub not_deleted: usize,
    pub failed: usize,
    pub kept: usize,
    pub kept_by_rule: BTreeMap<RuleId, usize>,
    pub errors: usize,
    /// Bytes of the digests that no longer have any tag (an estimate, see [`reclaimed_bytes`]).
    pub bytes_reclaimed: u64,
    pub policies_changed: usize,
    pub policies_would_change: usize,
    pub policies_unchanged: usize,
    pub policies_failed: usize,
    pub requests: Counts,
    /// What the registry is (`GET /v2/`), and what that means for the space deletions free.
    pub registry: String,
    /// `on`, `off (GC_INSPECT=false)` or `unavailable (<why>)`.
    pub inspection: String,
    /// Tags whose manifest the registry was asked for, and tags whose digest alone.
    pub inspected: usize,
    pub inspected_digests: usize,
    pub registry_requests: Counts,
    pub duration_seconds: f64,
}

impl Summary {
    pub fn compute(
        plan: &Plan,
        outcomes: &[Vec<Outcome>],
        policies: &[PolicyResult],
        scope_errors: usize,
        skipped: usize,
    ) -> Summary {
        let mut s = Summary {
            repositories: plan.repos.len(),
            repositories_skipped: skipped,
            errors: scope_errors,
            ..Summary::default()
        };
        let mut projects = std::collections::HashSet::new();
        for (repo, repo_outcomes) in plan.repos.iter().zip(outcomes) {
            projects.insert(repo.repo.project_id);
            if repo.error.is_some() {
                s.errors += 1;
            }
            for (tag, outcome) in repo.tags.iter().zip(repo_outcomes) {
                s.tags += 1;
                let f = final_view(tag, outcome);
                match f.verb {
                    Verb::Kept => {
                        s.kept += 1;
                        *s.kept_by_rule.entry(f.rule).or_default() += 1;
                        if f.rule == RuleId::Error {
                            s.errors += 1;
                        }
                    }
                    Verb::Deleted => s.deleted += 1,
                    Verb::WouldDelete => s.would_delete += 1,
                    Verb::AlreadyGone => s.already_gone += 1,
                    Verb::NotDeleted => s.not_deleted += 1,
                    Verb::Failed => {
                        s.failed += 1;
                        s.errors += 1;
                    }
                }
            }
        }
        s.projects = projects.len();
        for p in policies {
            match p.status {
                Status::Unchanged => s.policies_unchanged += 1,
                Status::WouldChange => s.policies_would_change += 1,
                Status::Changed { .. } => s.policies_changed += 1,
                Status::Failed { .. } => {
                    s.policies_failed += 1;
                    s.errors += 1;
                }
            }
        }
        s.bytes_reclaimed = reclaimed_bytes(plan, outcomes);
        s
    }
}

/// Bytes freed (or, in dry-run, that would be): per repository, the size of each digest all of
/// whose known tags go. A digest still carried by a kept tag frees nothing. Tags kept by
/// `GC_KEEP_REGEX` are never inspected (no details request), so a digest shared with one of them
/// is counted: the figure is an upper estimate, as is any size before the registry's own GC.
pub fn reclaimed_bytes(plan: &Plan, outcomes: &[Vec<Outcome>]) -> u64 {
    plan.repos
        .iter()
        .zip(outcomes)
        .map(|(repo, outcomes)| repo_reclaimed_bytes(repo, outcomes))
        .sum()
}

/// [`reclaimed_bytes`] of one repository: digests are counted per repository.
pub fn repo_reclaimed_bytes(repo: &RepoPlan, outcomes: &[Outcome]) -> u64 {
    // digest → (size, still referenced)
    let mut digests: HashMap<&Digest, (u64, bool)> = HashMap::new();
    for (tag, outcome) in repo.tags.iter().zip(outcomes) {
        let Some(info) = &tag.info else { continue };
        let Some(digest) = &info.digest else {
            continue;
        };
        let goes = matches!(outcome, Outcome::Deleted | Outcome::WouldDelete);
        let entry = digests
            .entry(digest)
            .or_insert((info.size.unwrap_or(0), false));
        entry.1 |= !goes;
    }
    digests
        .values()
        .filter(|(_, kept)| !kept)
        .map(|(size, _)| size)
        .sum()
}

/// `48.0 MiB`: sizes as people read them.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kept_by_rule: Vec<String> = self
            .kept_by_rule
            .iter()
            .map(|(rule, n)| format!("{rule} {n}"))
            .collect();
        writeln!(f, "mode:            {}", self.mode)?;
        writeln!(f, "api:             {}", self.api)?;
        if !self.registry.is_empty() {
            writeln!(f, "registry:        {}", self.registry)?;
        }
        if !self.inspection.is_empty() {
            writeln!(
                f,
                "inspection:      {}; {} tags read, {} digests",
                self.inspection, self.inspected, self.inspected_digests
            )?;
        }
        writeln!(f, "projects:        {}", self.projects)?;
        writeln!(
            f,
            "repositories:    {} ({} skipped)",
            self.repositories, self.repositories_skipped
        )?;
        writeln!(f, "tags seen:       {}", self.tags)?;
        if self.dry_run {
            writeln!(f, "would delete:    {}", self.would_delete)?;
        } else {
            writeln!(f, "deleted:         {}", self.deleted)?;
        }
        if self.already_gone > 0 {
            writeln!(f, "already gone:    {}", self.already_gone)?;
        }
        if self.not_deleted > 0 {
            writeln!(f, "not deleted:     {}", self.not_deleted)?;
        }
        writeln!(
            f,
            "kept:            {}{}",
            self.kept,
            if kept_by_rule.is_empty() {
                String::new()
            } else {
                format!(" ({})", kept_by_rule.join(", "))
            }
        )?;
        let policies = self.policies_changed
            + self.policies_would_change
            + self.policies_unchanged
            + self.policies_failed;
        if policies > 0 {
            writeln!(
                f,
                "cleanup policy:  {} changed, {} would change, {} unchanged, {} failed",
                self.policies_changed,
                self.policies_would_change,
                self.policies_unchanged,
                self.policies_failed
            )?;
        }
        writeln!(f, "errors:          {}", self.errors)?;
        writeln!(
            f,
            "bytes reclaimed: {} (estimate)",
            human_bytes(self.bytes_reclaimed)
        )?;
        let by_endpoint: Vec<String> = self
            .requests
            .by_endpoint
            .iter()
            .map(|(e, n)| format!("{e}: {n}"))
            .collect();
        writeln!(
            f,
            "requests:        {} ({} retries, {} throttled)",
            self.requests.total, self.requests.retries, self.requests.throttled
        )?;
        for line in by_endpoint {
            writeln!(f, "                 {line}")?;
        }
        if self.registry_requests.total > 0 {
            writeln!(
                f,
                "registry requests: {} ({} retries, {} throttled)",
                self.registry_requests.total,
                self.registry_requests.retries,
                self.registry_requests.throttled
            )?;
            for (e, n) in &self.registry_requests.by_endpoint {
                writeln!(f, "                 {e}: {n}")?;
            }
        }
        write!(f, "duration:        {:.1}s", self.duration_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(52_428_800), "50.0 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
