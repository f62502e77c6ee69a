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

    /// Writes one line of free text (headers, notes, errors). Names and error messages come
    /// from the server, so control characters are escaped: nothing it sends can start a line of
    /// its own (a forged `deleted …` line, say).
    pub fn text(&self, text: &str) {
        self.raw(&one_line(text));
    }

    /// A full disk must not stop a GC run half-way, so write errors are reported on stderr and
    /// otherwise ignored.
    fn raw(&self, text: &str) {
        let mut out = self.out.lock().expect("log poisoned");
        if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
            log::warn!("cannot write the decision log: {e}");
        }
    }

    pub fn tag(&self, repo: &Repo, tag: &PlannedTag, outcome: &Outcome) {
        self.text(&line(repo, tag, outcome));
    }

    pub fn summary(&self, summary: &Summary) {
        self.raw("--- summary ---");
        for line in summary.to_string().lines() {
            self.text(line);
        }
    }
}

/// `text` with every control character escaped (`\n` → `\\n`): one line whatever it holds.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// `deleted      group/p/app:sha256-1.att  [broken]  48.0 MiB  tag details return 404: …`
/// (control characters escaped, see [`one_line`]).
pub fn line(repo: &Repo, tag: &PlannedTag, outcome: &Outcome) -> String {
    let f = final_view(tag, outcome);
    let size = tag
        .info
        .as_ref()
        .and_then(|i| i.size)
        .map_or_else(|| "-".to_string(), human_bytes);
    let line = format!(
        "{:<12} {}:{}  [{}]  {}  {}",
        f.verb.as_str(),
        repo.path,
        tag.name,
        f.rule,
        size,
        f.reason
    );
    one_line(&line).into_owned()
}
