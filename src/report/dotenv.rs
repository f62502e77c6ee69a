//! `gc.env`: the run's figures as a GitLab dotenv report (`artifacts:reports:dotenv`), so that
//! later jobs of the pipeline, and their `rules:`, can use them.
//!
//! GitLab's rules for the file, which every line here keeps:
//! - each line is `KEY=VALUE`, matched by `/^(.*?)=(.*)$/` and both sides stripped; a line that
//!   does not match fails the whole report, so no empty lines and no comments
//!   (app/services/ci/parse_dotenv_artifact_service.rb `scan_line!`);
//! - a key has only ASCII letters, digits and `_`, at most 255 characters
//!   (app/models/concerns/ci/has_variable.rb, `validates :key`);
//! - a value is one line, with no spaces and no quotes (they are kept literally), and no
//!   variable substitution (doc/ci/yaml/artifacts_reports.md, `artifacts:reports:dotenv`);
//! - the file must be smaller than the `dotenv_size` plan limit (5 KB by default) and hold at
//!   most `dotenv_variables` variables (20 by default on self-managed instances, 50 on
//!   GitLab.com Free) (doc/administration/instance_limits.md; the service's `validate!` and
//!   `parse!`); UTF-8.
//!
//! So the file holds a fixed set of [`KEYS`], each with a number or one word: under 300 bytes.
//! The keys start with `REGISTRY_GC_`, never `GC_`: registry-gc refuses unknown `GC_*`
//! variables, and a later job may run registry-gc again with these inherited.

use std::io::{self, Write};
use std::path::Path;

use super::Run;
use crate::config::Mode;

/// Every key, in the order written. A later job always finds all of them, whatever happened.
pub const KEYS: [&str; 8] = [
    "REGISTRY_GC_STATUS",
    "REGISTRY_GC_MODE",
    "REGISTRY_GC_DELETED",
    "REGISTRY_GC_WOULD_DELETE",
    "REGISTRY_GC_KEPT",
    "REGISTRY_GC_ERRORS",
    "REGISTRY_GC_BYTES_RECLAIMED",
    "REGISTRY_GC_REPOSITORIES",
];

/// What the file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    /// How the run ended, one word per exit code (see `run::exit::status`).
    pub status: &'static str,
    /// `dry-run` or `delete`; `none` when no configuration was accepted.
    pub mode: &'static str,
    pub deleted: usize,
    pub would_delete: usize,
    pub kept: usize,
    pub errors: usize,
    pub bytes_reclaimed: u64,
    pub repositories: usize,
}

impl Figures {
    /// The figures of a run that reached its reports.
    pub fn of(run: &Run<'_>, status: &'static str) -> Figures {
        let s = &run.summary;
        Figures {
            status,
            mode: run.mode.word(),
            deleted: s.deleted,
            would_delete: s.would_delete,
            kept: s.kept,
            errors: s.errors,
            bytes_reclaimed: s.bytes_reclaimed,
            repositories: s.repositories,
        }
    }

    /// A run that stopped before it decided anything (a refused configuration, a signal during
    /// the API probe): nothing was listed, decided or deleted, so every count is 0.
    pub fn nothing_done(mode: Option<&Mode>, status: &'static str, errors: usize) -> Figures {
        Figures {
            status,
            mode: mode.map_or("none", Mode::word),
            deleted: 0,
            would_delete: 0,
            kept: 0,
            errors,
            bytes_reclaimed: 0,
            repositories: 0,
        }
    }
}

pub fn write(path: &Path, figures: &Figures) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    render(&mut out, figures)?;
    out.flush()
}

pub fn render(out: &mut impl Write, f: &Figures) -> io::Result<()> {
    let values: [&dyn std::fmt::Display; 8] = [
        &f.status,
        &f.mode,
        &f.deleted,
        &f.would_delete,
        &f.kept,
        &f.errors,
        &f.bytes_reclaimed,
        &f.repositories,
    ];
    for (key, value) in KEYS.iter().zip(values) {
        writeln!(out, "{key}={value}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitLab's checks of a dotenv report, as the module's comment lists them; `Err` names the
    /// first rule broken.
    fn gitlab_accepts(text: &str) -> Result<Vec<(String, String)>, String> {
        const SIZE_LIMIT: usize = 5 * 1024; // `dotenv_size` default; the file must be smaller
        const VARIABLE_LIMIT: usize = 20; // `dotenv_variables` default on self-managed
        if text.len() >= SIZE_LIMIT {
            return Err(format!("{} bytes, not under {SIZE_LIMIT}", text.len()));
        }
        let mut vars = Vec::new();
        for line in text.lines() {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("invalid format: {line:?}"))?;
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty()
                || key.len() > 255
                || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(format!("invalid key {key:?}"));
            }
            if value
                .chars()
                .any(|c| c.is_whitespace() || c == '"' || c == '\'')
            {
                return Err(format!("value of {key} has spaces or quotes: {value:?}"));
            }
            vars.push((key.to_string(), value.to_string()));
        }
        if vars.len() > VARIABLE_LIMIT {
            return Err(format!(
                "{} variables, more than {VARIABLE_LIMIT}",
                vars.len()
            ));
        }
        Ok(vars)
    }

    #[test]
    fn the_file_keeps_gitlabs_dotenv_rules_with_every_key() {
        let figures = Figures {
            status: "refused",
            mode: "delete",
            deleted: 0,
            would_delete: usize::MAX,
            kept: 12,
            errors: 3,
            bytes_reclaimed: u64::MAX,
            repositories: 7,
        };
        let mut out = Vec::new();
        render(&mut out, &figures).unwrap();
        let text = String::from_utf8(out).unwrap();
        let vars = gitlab_accepts(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
        let keys: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, KEYS);
        assert!(keys.iter().all(|k| k.starts_with("REGISTRY_GC_")));
        assert!(text.ends_with('\n') && !text.contains("\n\n"), "{text:?}");
        let value = |key: &str| &vars.iter().find(|(k, _)| k == key).unwrap().1;
        assert_eq!(value("REGISTRY_GC_BYTES_RECLAIMED"), &u64::MAX.to_string());
        assert_eq!(value("REGISTRY_GC_MODE"), "delete");
        assert_eq!(value("REGISTRY_GC_STATUS"), "refused");
    }

    #[test]
    fn the_rules_checker_rejects_what_gitlab_rejects() {
        for bad in [
            "A=1\n\nB=2\n",
            "# comment\nA=1\n",
            "A B=1\n",
            "A=two words\n",
            "GC-X=1\n",
        ] {
            assert!(gitlab_accepts(bad).is_err(), "{bad:?}");
        }
        let many: String = (0..21).map(|i| format!("K{i}=1\n")).collect();
        assert!(gitlab_accepts(&many).is_err());
        assert!(gitlab_accepts(&format!("A={}\n", "x".repeat(5200))).is_err());
    }

    #[test]
    fn a_run_that_did_nothing_says_so() {
        let f = Figures::nothing_done(None, "config-error", 1);
        assert_eq!(
            (f.mode, f.status, f.errors, f.deleted),
            ("none", "config-error", 1, 0)
        );
        let dry = Mode {
            dry_run: true,
            why: "test".into(),
        };
        assert_eq!(
            Figures::nothing_done(Some(&dry), "interrupted", 0).mode,
            "dry-run"
        );
    }
}
