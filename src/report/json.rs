//! `gc-report.json`: the plan and its outcome, one object per tag, for tools and reviewers.

use std::io::{self, Write};
use std::path::Path;

use serde_json::{json, Value};

use super::{final_view, Run};

pub fn to_value(run: &Run<'_>) -> Value {
    let repositories: Vec<Value> = run
        .plan
        .repos
        .iter()
        .zip(run.outcomes)
        .map(|(repo, outcomes)| {
            let tags: Vec<Value> = repo
                .tags
                .iter()
                .zip(outcomes)
                .map(|(tag, outcome)| {
                    let f = final_view(tag, outcome);
                    let info = tag.info.as_ref();
                    json!({
                        "name": tag.name,
                        "outcome": f.verb,
                        "action": tag.decision.action,
                        "rule": f.rule,
                        "reason": f.reason,
                        "digest": info.and_then(|i| i.digest.as_deref()),
                        "size": info.and_then(|i| i.size),
                        "created_at": info.and_then(|i| i.created_at).map(|t| t.to_string()),
                    })
                })
                .collect();
            json!({
                "id": repo.repo.id,
                "path": repo.repo.path,
                "project_id": repo.repo.project_id,
                "project_path": repo.repo.project_path,
                "error": repo.error,
                "tags": tags,
            })
        })
        .collect();
    json!({
        "tool": "registry-gc",
        "version": run.version,
        "started_at": run.started_at.to_string(),
        "dry_run": run.mode.dry_run,
        "mode_reason": run.mode.why,
        "scope": run.scope,
        "settings": run.settings,
        "job_url": run.job_url,
        "stopped": run.stopped,
        "summary": run.summary,
        "skipped": run.skipped.iter().map(|s| json!({"what": s.what, "why": s.why})).collect::<Vec<_>>(),
        "errors": run.errors.iter().map(|e| json!({"what": e.what, "error": e.error})).collect::<Vec<_>>(),
        "policies": run.policies,
        "repositories": repositories,
    })
}

pub fn write(path: &Path, run: &Run<'_>) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer_pretty(&mut out, &to_value(run))?;
    writeln!(out)?;
    out.flush()
}
