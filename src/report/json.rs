//! `gc-report.json`: the plan and its outcome, one object per tag, for tools and reviewers.
//!
//! Written as it is serialized, one tag at a time: a report of 100,000 tags built as a
//! `serde_json::Value` first would be ten times the size of the plan it describes. Keys are in
//! alphabetical order at every level, as the report has always had them (tools may diff it).

use std::io::{self, Write};
use std::path::Path;

use serde::ser::{Serialize, Serializer};
use serde_json::Value;

use super::{final_view, Run, Why};
use crate::delete::Outcome;
use crate::plan::{PlannedTag, RepoPlan};
use crate::rules::{Action, Digest, RuleId};

pub fn write(path: &Path, run: &Run<'_>) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    render(&mut out, run)?;
    out.flush()
}

pub fn render(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    // The small parts go through `Value` so that their keys come out sorted (a map's keys
    // sort as strings there, e.g. `kept_by_rule`), as they always have.
    let report = Report {
        dry_run: run.mode.dry_run,
        errors: run
            .errors
            .iter()
            .map(|e| Problem {
                error: Some(&e.error),
                what: &e.what,
                why: None,
            })
            .collect(),
        job_url: run.job_url,
        mode_reason: &run.mode.why,
        policies: serde_json::to_value(run.policies)?,
        repositories: Repositories(run),
        scope: &run.scope,
        settings: serde_json::to_value(&run.settings)?,
        skipped: run
            .skipped
            .iter()
            .map(|s| Problem {
                error: None,
                what: &s.what,
                why: Some(&s.why),
            })
            .collect(),
        started_at: run.started_at.to_string(),
        stopped: run.stopped.as_deref(),
        summary: serde_json::to_value(&run.summary)?,
        tool: "registry-gc",
        version: run.version,
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}

/// Fields in alphabetical order: see the module's comment.
#[derive(serde::Serialize)]
struct Report<'a> {
    dry_run: bool,
    errors: Vec<Problem<'a>>,
    job_url: Option<&'a str>,
    mode_reason: &'a str,
    policies: Value,
    repositories: Repositories<'a>,
    scope: &'a str,
    settings: Value,
    skipped: Vec<Problem<'a>>,
    started_at: String,
    stopped: Option<&'a str>,
    summary: Value,
    tool: &'static str,
    version: &'static str,
}

/// `{"error", "what"}` of a failed listing or `{"what", "why"}` of a skipped one.
#[derive(serde::Serialize)]
struct Problem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    what: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
}

struct Repositories<'a>(&'a Run<'a>);

impl Serialize for Repositories<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let run = self.0;
        serializer.collect_seq(
            run.plan
                .repos
                .iter()
                .zip(run.outcomes)
                .map(|(repo, outcomes)| Repository { repo, outcomes }),
        )
    }
}

struct Repository<'a> {
    repo: &'a RepoPlan,
    outcomes: &'a [Outcome],
}

impl Serialize for Repository<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Fields<'a> {
            error: Option<&'a str>,
            id: u64,
            path: &'a str,
            project_id: u64,
            project_path: &'a str,
            tags: Tags<'a>,
        }
        let repo = &self.repo.repo;
        Fields {
            error: self.repo.error.as_deref(),
            id: repo.id,
            path: &repo.path,
            project_id: repo.project_id,
            project_path: &repo.project_path,
            tags: Tags(self),
        }
        .serialize(serializer)
    }
}

struct Tags<'a>(&'a Repository<'a>);

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .repo
                .tags
                .iter()
                .zip(self.0.outcomes)
                .map(|(tag, outcome)| Tag { tag, outcome }),
        )
    }
}

struct Tag<'a> {
    tag: &'a PlannedTag,
    outcome: &'a Outcome,
}

impl Serialize for Tag<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Fields<'a> {
            action: Action,
            created_at: Option<String>,
            digest: Option<&'a Digest>,
            /// What the registry said the manifest is, for tags it was asked about.
            kind: Option<&'static str>,
            media_type: Option<&'a str>,
            name: &'a str,
            outcome: super::Verb,
            reason: Why<'a>,
            rule: RuleId,
            size: Option<u64>,
        }
        let tag = self.tag;
        let f = final_view(tag, self.outcome);
        let info = tag.info.as_ref();
        Fields {
            action: tag.decision.action,
            created_at: info.and_then(|i| i.created_at).map(|t| t.to_string()),
            digest: info.and_then(|i| i.digest.as_ref()),
            kind: super::kind(tag),
            media_type: tag
                .inspection
                .as_ref()
                .map(|i| &*i.media_type)
                .filter(|m| !m.is_empty()),
            name: &tag.name,
            outcome: f.verb,
            reason: f.reason,
            rule: f.rule,
            size: info.and_then(|i| i.size),
        }
        .serialize(serializer)
    }
}
