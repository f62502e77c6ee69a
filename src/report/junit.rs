//! The JUnit report GitLab shows in a merge request's test summary and the pipeline's Tests tab.
//!
//! GitLab's parser (lib/gitlab/ci/parsers/test/junit.rb) reads `testsuites` → `testsuite` →
//! `testcase` with `classname` and `name`, and a `failure`, `error` or `skipped` child; text in
//! `system-out` is shown. So: one suite per repository, one case per tag deleted, would-delete
//! (skipped, so a merge request shows the count at a glance) or failed, and one passing case per
//! repository summing up the kept tags by rule; duplicate classname+name pairs are dropped by
//! GitLab, hence distinct names everywhere.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{final_view, Run, Verb};
use crate::delete::Outcome;
use crate::plan::RepoPlan;
use crate::policy::Status;

enum CaseResult {
    Pass(String),
    Skip(String),
    Fail(String, String),
}

struct Case {
    classname: String,
    name: String,
    result: CaseResult,
    /// What the registry said the tag is, where it was read.
    registry: Option<String>,
}

struct Suite {
    name: String,
    cases: Vec<Case>,
}

/// The suites one at a time, in report order: every call yields the same suites, so the totals
/// the root element declares can be counted in a first pass without holding the whole report
/// (a case per deleted tag) in memory.
fn suites<'a>(run: &'a Run<'a>) -> impl Iterator<Item = Suite> + 'a {
    let errors = run.errors.iter().map(|error| Suite {
        name: error.what.clone(),
        cases: vec![Case {
            classname: error.what.clone(),
            name: "list repositories".into(),
            result: CaseResult::Fail("listing failed".into(), error.error.clone()),
            registry: None,
        }],
    });
    let repos = run
        .plan
        .repos
        .iter()
        .zip(run.outcomes)
        .map(|(repo, outcomes)| repo_suite(repo, outcomes));
    let policies = (!run.policies.is_empty()).then(|| policy_suite(run));
    errors.chain(repos).chain(policies)
}

fn repo_suite(repo: &RepoPlan, outcomes: &[Outcome]) -> Suite {
    let path = &repo.repo.path;
    let mut cases = Vec::new();
    if let Some(error) = &repo.error {
        cases.push(Case {
            classname: path.clone(),
            name: "list tags".into(),
            result: CaseResult::Fail("tag list failed".into(), error.clone()),
            registry: None,
        });
    }
    let mut kept: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (tag, outcome) in repo.tags.iter().zip(outcomes) {
        let f = final_view(tag, outcome);
        let text = format!("[{}] {}", f.rule, f.reason);
        let result = match f.verb {
            Verb::Deleted | Verb::AlreadyGone => {
                CaseResult::Pass(format!("{}: {text}", f.verb.as_str()))
            }
            Verb::WouldDelete => CaseResult::Skip(format!("would delete: {text}")),
            Verb::NotDeleted => CaseResult::Skip(format!("not deleted: {text}")),
            Verb::Failed => CaseResult::Fail(format!("{}: {}", f.rule, f.reason), text),
            Verb::Kept if f.rule == crate::rules::RuleId::Error => {
                CaseResult::Fail(f.reason.to_string(), text)
            }
            Verb::Kept => {
                kept.entry(f.rule.to_string()).or_default().push(&tag.name);
                continue;
            }
        };
        cases.push(Case {
            classname: path.clone(),
            name: tag.name.to_string(),
            result,
            registry: tag.inspection.as_deref().map(registry_text),
        });
    }
    let count: usize = kept.values().map(Vec::len).sum();
    let mut text = format!("{count} tags kept");
    for (rule, names) in &kept {
        text.push_str(&format!("\n[{rule}] {}: {}", names.len(), names.join(", ")));
    }
    // A fixed name, so a merge request compares it with the same case on the target branch.
    cases.push(Case {
        classname: path.clone(),
        name: "(kept tags)".into(),
        result: CaseResult::Pass(text),
        registry: None,
    });
    Suite {
        name: path.clone(),
        cases,
    }
}

/// At most one `system-out` a case: GitLab's parser matches it as a string for attachments,
/// and two would make it an array, failing the whole report ("JUnit data parsing failed").
fn system_out(case: &Case, job_url: Option<&str>) -> Option<String> {
    let mut lines: Vec<Cow<'_, str>> = Vec::new();
    if let CaseResult::Pass(text) = &case.result {
        lines.push(text.into());
    }
    if let Some(registry) = &case.registry {
        lines.push(registry.into());
    }
    match job_url {
        Some(url) if !matches!(case.result, CaseResult::Pass(_)) => {
            lines.push(format!("job: {url}").into())
        }
        _ => {}
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// `registry: index (application/vnd.oci.image.index.v1+json), sha256:…`.
fn registry_text(i: &crate::rules::Inspection) -> String {
    match &i.missing {
        Some(why) => format!("registry: {} ({why})", i.kind),
        None => format!("registry: {} ({}), {}", i.kind, i.media_type, i.digest),
    }
}

fn policy_suite(run: &Run<'_>) -> Suite {
    let cases = run
        .policies
        .iter()
        .map(|p| {
            let result = match &p.status {
                Status::Unchanged => {
                    CaseResult::Pass("unchanged: the policy already matches".into())
                }
                Status::Changed { next_run_at } => CaseResult::Pass(format!(
                    "applied: {}; next run at {}",
                    p.diff_text(),
                    next_run_at.as_deref().unwrap_or("(not scheduled)")
                )),
                Status::WouldChange => CaseResult::Skip(format!("would change: {}", p.diff_text())),
                Status::Failed { error } => {
                    CaseResult::Fail("cannot apply the cleanup policy".into(), error.clone())
                }
            };
            Case {
                classname: p.project_path.clone(),
                name: "container_expiration_policy".into(),
                result,
                registry: None,
            }
        })
        .collect();
    Suite {
        name: "container_expiration_policy".into(),
        cases,
    }
}

fn counts(cases: &[Case]) -> (usize, usize, usize) {
    let failures = cases
        .iter()
        .filter(|c| matches!(c.result, CaseResult::Fail(..)))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.result, CaseResult::Skip(_)))
        .count();
    (cases.len(), failures, skipped)
}

pub fn write(path: &Path, run: &Run<'_>) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = io::BufWriter::new(file);
    render(&mut out, run)?;
    out.flush()
}

pub fn render(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for suite in suites(run) {
        let (t, f, s) = counts(&suite.cases);
        tests += t;
        failures += f;
        skipped += s;
    }
    let time = format!("{:.3}", run.summary.duration_seconds);

    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "registry-gc"));
    root.push_attribute(("tests", tests.to_string().as_str()));
    root.push_attribute(("failures", failures.to_string().as_str()));
    root.push_attribute(("errors", "0"));
    root.push_attribute(("skipped", skipped.to_string().as_str()));
    root.push_attribute(("time", time.as_str()));
    w.write_event(Event::Start(root))?;
    for suite in suites(run) {
        let (tests, failures, skipped) = counts(&suite.cases);
        let mut start = BytesStart::new("testsuite");
        start.push_attribute(("name", xml_safe(&suite.name).as_ref()));
        start.push_attribute(("tests", tests.to_string().as_str()));
        start.push_attribute(("failures", failures.to_string().as_str()));
        start.push_attribute(("errors", "0"));
        start.push_attribute(("skipped", skipped.to_string().as_str()));
        start.push_attribute(("time", "0"));
        w.write_event(Event::Start(start))?;
        for case in &suite.cases {
            let mut start = BytesStart::new("testcase");
            start.push_attribute(("classname", xml_safe(&case.classname).as_ref()));
            start.push_attribute(("name", xml_safe(&case.name).as_ref()));
            start.push_attribute(("time", "0"));
            w.write_event(Event::Start(start))?;
            match &case.result {
                CaseResult::Pass(_) => {}
                CaseResult::Skip(message) => {
                    let mut skip = BytesStart::new("skipped");
                    skip.push_attribute(("message", xml_safe(message).as_ref()));
                    w.write_event(Event::Empty(skip))?;
                }
                CaseResult::Fail(message, text) => {
                    let mut fail = BytesStart::new("failure");
                    fail.push_attribute(("message", xml_safe(message).as_ref()));
                    fail.push_attribute(("type", "registry-gc"));
                    w.write_event(Event::Start(fail))?;
                    w.write_event(Event::Text(BytesText::new(&xml_safe(text))))?;
                    w.write_event(Event::End(BytesEnd::new("failure")))?;
                }
            }
            if let Some(out) = system_out(case, run.job_url) {
                text_element(&mut w, "system-out", &out)?;
            }
            w.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    writeln!(w.get_mut())?;
    Ok(())
}

fn text_element<W: Write>(w: &mut Writer<W>, name: &str, text: &str) -> io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(&xml_safe(text))))?;
    w.write_event(Event::End(BytesEnd::new(name)))?;
    Ok(())
}

/// Tag and repository names come from the server: characters XML 1.0 cannot carry even escaped
/// (most control characters, lone surrogates cannot occur in `str`, U+FFFE/U+FFFF) are written as
/// `\u{…}`, so the report always parses (GitLab's parser rejects the whole file otherwise).
fn xml_safe(text: &str) -> Cow<'_, str> {
    let legal = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if text.chars().all(legal) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if legal(c) {
                    c.to_string()
                } else {
                    c.escape_unicode().to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn illegal_xml_characters_are_escaped() {
        assert_eq!(
            super::xml_safe("a\u{0}b\u{1b}\u{fffe}"),
            "a\\u{0}b\\u{1b}\\u{fffe}"
        );
        assert!(matches!(
            super::xml_safe("ü\tok"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
