//! `gc.log`: one line per tag as its fate is known, then the summary.
//!
//! Lines are flushed as they are written, so a job killed mid-run (timeout, cancellation) still
//! leaves a log of everything it did. Kept tags are logged when the plan is made; tags to delete
//! when their deletion has happened (or, in dry-run, at planning).

use std::fs::File;
use std::io::{self, LineWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use super::{final_view, human_bytes, Summary};
use crate::delete::Outcome;
use crate::plan::PlannedTag;
use crate::scope::Repo;

pub struct DecisionLog {
    out: Mutex<LineWriter<File>>,
}

impl DecisionLog {
    pub fn create(path: &Path) -> io::Result<DecisionLog> {
        Ok(DecisionLog {
            out: Mutex::new(LineWriter::new(File::create(path)?)),
        })
    }

    /// Writes free text (headers, notes, the summary). A full disk must not stop a GC run
    /// half-way, so write errors are reported once on stderr and otherwise ignored.
    pub fn text(&self, text: &str) {
        let mut out = self.out.lock().expect("log poisoned");
        if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
            log::warn!("cannot write the decision log: {e}");
        }
    }

    pub fn tag(&self, repo: &Repo, tag: &PlannedTag, outcome: &Outcome) {
        self.text(&line(repo, tag, outcome));
    }

    pub fn summary(&self, summary: &Summary) {
        self.text("--- summary ---");
        self.text(&summary.to_string());
    }
}

/// `deleted      group/p/app:sha256-1.att  [broken]  48.0 MiB  tag details return 404: …`
pub fn line(repo: &Repo, tag: &PlannedTag, outcome: &Outcome) -> String {
    let f = final_view(tag, outcome);
    let size = tag
        .info
        .as_ref()
        .and_then(|i| i.size)
        .map_or_else(|| "-".to_string(), human_bytes);
    format!(
        "{:<12} {}:{}  [{}]  {}  {}",
        f.verb.as_str(),
        repo.path,
        tag.name,
        f.rule,
        size,
        f.reason
    )
}
