//! `gc-report.html`: one self-contained page for the reviewer of a merge request (GitLab links
//! it as "registry-gc report" through `artifacts:expose_as`): what was (or would be) deleted and
//! why, where the bytes are, and every decision in a table to filter and sort.
//!
//! The page loads nothing: its style and script are inline, and its Content-Security-Policy
//! (`default-src 'none'`, the script allowed by its hash only) forbids every request and any
//! other script. Everything the server said (tag names, repository paths, reasons, error
//! messages) is untrusted: it is HTML-escaped where the page is HTML, and written as JSON with
//! `<`, `>`, `&`, U+2028 and U+2029 escaped inside the data block, which the script reads with
//! `JSON.parse` and puts on the page with `textContent` only.
//!
//! Written as it is rendered, like the other reports: the run box, cards, chart and counts come
//! from small sums, then one table row per tag streams out of the plan. The table is paged in
//! the browser (100 rows at a time), so a page of 100,000 tags opens in well under a second (BENCHMARKS.md).

use std::collections::BTreeMap;
use std::fmt::{self, Display};
use std::io::{self, Write};
use std::path::Path;

use base64::Engine as _;

use super::{final_view, human_bytes, kind, repo_reclaimed_bytes, Run, Verb};
use crate::rules::RuleId;

const STYLE: &str = include_str!("html/page.css");
const SCRIPT: &str = include_str!("html/page.js");

/// Bars in the chart; the other repositories are folded into one more bar.
const CHART_BARS: usize = 12;

pub fn write(path: &Path, run: &Run<'_>) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    render(&mut out, run)?;
    out.flush()
}

pub fn render(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    let sums = Sums::of(run);
    head(out, run)?;
    writeln!(out, "<body>")?;
    header(out, run)?;
    writeln!(out, "<main>")?;
    cards(out, run)?;
    chart(out, run, &sums)?;
    by_rule(out, &sums)?;
    run_box(out, run)?;
    problems(out, run)?;
    table(out)?;
    writeln!(out, "</main>")?;
    data(out, run, &sums)?;
    writeln!(out, "<script>{SCRIPT}</script>\n</body>\n</html>")
}

/// What the chart and the counts by rule need: one pass over the plan, a few numbers per
/// repository and rule.
struct Sums {
    /// (bytes, repository index) of each repository that frees bytes, most first.
    bytes: Vec<(u64, usize)>,
    by_rule: BTreeMap<RuleId, BTreeMap<Verb, usize>>,
    /// The verbs and rules of this run, in their order: the data block names a row's verb and
    /// rule by its index here.
    verbs: Vec<Verb>,
    rules: Vec<RuleId>,
}

impl Sums {
    fn of(run: &Run<'_>) -> Sums {
        let mut bytes = Vec::new();
        let mut by_rule: BTreeMap<RuleId, BTreeMap<Verb, usize>> = BTreeMap::new();
        for (i, (repo, outcomes)) in run.plan.repos.iter().zip(run.outcomes).enumerate() {
            let freed = repo_reclaimed_bytes(repo, outcomes);
            if freed > 0 {
                bytes.push((freed, i));
            }
            for (tag, outcome) in repo.tags.iter().zip(outcomes) {
                let f = final_view(tag, outcome);
                *by_rule
                    .entry(f.rule)
                    .or_default()
                    .entry(f.verb)
                    .or_default() += 1;
            }
        }
        bytes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let rules = by_rule.keys().copied().collect();
        let mut verbs: Vec<Verb> = by_rule.values().flat_map(|m| m.keys().copied()).collect();
        verbs.sort();
        verbs.dedup();
        Sums {
            bytes,
            by_rule,
            verbs,
            rules,
        }
    }

    fn verb_index(&self, verb: Verb) -> usize {
        self.verbs
            .binary_search(&verb)
            .expect("every verb of the run")
    }

    fn rule_index(&self, rule: RuleId) -> usize {
        self.rules
            .binary_search(&rule)
            .expect("every rule of the run")
    }
}

fn head(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    // The script's hash is the only script the policy allows; nothing may be fetched.
    let hash = ring::digest::digest(&ring::digest::SHA256, SCRIPT.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(hash.as_ref());
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
         base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">"
    )?;
    writeln!(
        out,
        "<title>registry-gc report: {}</title>\n<style>{STYLE}</style>\n</head>",
        Html(&run.scope)
    )
}

fn header(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    let dry = run.mode.dry_run;
    writeln!(
        out,
        "<header><h1>registry-gc report</h1><span class=\"badge {}\">{}</span></header>",
        if dry { "dry" } else { "delete" },
        if dry { "dry run" } else { "delete" }
    )?;
    if dry {
        writeln!(
            out,
            "<p class=\"note\">Dry run: nothing was deleted. The tags marked <b>would-delete</b> \
             are what a run with these settings deletes.</p>"
        )?;
    }
    if let Some(stopped) = &run.stopped {
        writeln!(
            out,
            "<p class=\"note stopped\" id=\"stopped\">Stopped: {}</p>",
            Html(stopped)
        )?;
    }
    Ok(())
}

fn run_box(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    let s = &run.summary;
    writeln!(out, "<section id=\"run\"><h2>Run</h2><dl>")?;
    let item = |out: &mut dyn Write, name: &str, value: &dyn Display| {
        writeln!(out, "<dt>{name}</dt><dd>{}</dd>", Html(value))
    };
    item(
        out,
        "mode",
        &format_args!("{} ({})", run.mode.word(), run.mode.why),
    )?;
    item(out, "scope", &run.scope)?;
    item(out, "API", &s.api)?;
    item(
        out,
        "inspection",
        &run.inspection().unwrap_or("not inspected"),
    )?;
    item(out, "started", &run.started_at)?;
    item(
        out,
        "duration",
        &format_args!("{:.1} s", s.duration_seconds),
    )?;
    item(
        out,
        "examined",
        &format_args!(
            "{} tags in {} repositories of {} projects ({} repositories skipped)",
            s.tags, s.repositories, s.projects, s.repositories_skipped
        ),
    )?;
    item(
        out,
        "requests",
        &format_args!(
            "{} ({} retries, {} throttled)",
            s.requests.total, s.requests.retries, s.requests.throttled
        ),
    )?;
    match run.job_url.filter(|url| is_web_url(url)) {
        Some(url) => writeln!(
            out,
            "<dt>job</dt><dd><a href=\"{}\" rel=\"noreferrer\">{}</a></dd>",
            Html(url),
            Html(url)
        )?,
        None => {
            if let Some(url) = run.job_url {
                item(out, "job", &url)?;
            }
        }
    }
    item(out, "version", &format_args!("registry-gc {}", run.version))?;
    writeln!(out, "</dl></section>")
}

/// Only links a browser follows to a page: a `javascript:` URL in `CI_JOB_URL` stays text.
fn is_web_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// One card per figure; `data-key` names the figure of gc-report.json's `summary`, `data-value`
/// holds it exactly.
fn cards(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    let s = &run.summary;
    let dry = run.mode.dry_run;
    writeln!(out, "<section id=\"cards\">")?;
    let card = |out: &mut dyn Write, key: &str, label: &str, value: u64, shown: &dyn Display| {
        writeln!(
            out,
            "<div class=\"card {key}\" data-key=\"{key}\" data-value=\"{value}\">\
             <div class=\"figure\">{}</div><div class=\"label\">{label}</div></div>",
            Html(shown)
        )
    };
    let count = |out: &mut dyn Write, key: &str, label: &str, value: usize| {
        card(out, key, label, value as u64, &Count(value as u64))
    };
    if dry {
        count(out, "would_delete", "would delete", s.would_delete)?;
    } else {
        count(out, "deleted", "deleted", s.deleted)?;
        if s.not_deleted > 0 {
            count(out, "not_deleted", "not deleted", s.not_deleted)?;
        }
    }
    count(out, "kept", "kept", s.kept)?;
    count(out, "errors", "errors", s.errors)?;
    card(
        out,
        "bytes_reclaimed",
        if dry {
            "bytes reclaimable (estimate)"
        } else {
            "bytes reclaimed (estimate)"
        },
        s.bytes_reclaimed,
        &human_bytes(s.bytes_reclaimed),
    )?;
    writeln!(out, "</section>")
}

/// Bytes freed per repository, largest first, as horizontal bars in an inline SVG.
fn chart(out: &mut impl Write, run: &Run<'_>, sums: &Sums) -> io::Result<()> {
    let verb = if run.mode.dry_run {
        "reclaimable"
    } else {
        "reclaimed"
    };
    writeln!(
        out,
        "<section id=\"chart\"><h2>Bytes {verb} by repository</h2>"
    )?;
    if sums.bytes.is_empty() {
        writeln!(out, "<p>No repository frees any bytes.</p></section>")?;
        return Ok(());
    }
    let mut bars: Vec<Bar> = sums
        .bytes
        .iter()
        .take(CHART_BARS)
        .map(|&(bytes, i)| {
            let path = &run.plan.repos[i].repo.path;
            Bar {
                label: shortened(path, 44),
                title: path.clone(),
                bytes,
                rest: false,
            }
        })
        .collect();
    // Bars are to the scale of the largest repository; the others together may be larger than
    // it, and then their bar is cut at full width and says so.
    let max = bars[0].bytes.max(1);
    let rest = &sums.bytes[bars.len()..];
    if !rest.is_empty() {
        let label = format!("{} other repositories", rest.len());
        bars.push(Bar {
            title: label.clone(),
            label,
            bytes: rest.iter().map(|r| r.0).sum(),
            rest: true,
        });
    }
    const ROW: usize = 24;
    const LABEL: usize = 330;
    const BAR: f64 = 430.0;
    let height = bars.len() * ROW + 4;
    writeln!(
        out,
        "<svg class=\"bars\" viewBox=\"0 0 900 {height}\" role=\"img\" \
         aria-label=\"bytes {verb} by repository\">"
    )?;
    for (row, bar) in bars.iter().enumerate() {
        let y = row * ROW;
        let scaled = bar.bytes as f64 / max as f64;
        let width = (scaled.min(1.0) * BAR).max(1.0);
        let cut = if scaled > 1.0 { " (bar cut)" } else { "" };
        writeln!(
            out,
            "<g class=\"bar{}\" data-bytes=\"{}\"><title>{}: {} ({} bytes)</title>\
             <text class=\"name\" x=\"{}\" y=\"{}\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{}\" width=\"{width:.1}\" height=\"{}\" rx=\"2\"></rect>\
             <text class=\"value\" x=\"{:.1}\" y=\"{}\">{}{cut}</text></g>",
            if bar.rest { " rest" } else { "" },
            bar.bytes,
            Html(&bar.title),
            human_bytes(bar.bytes),
            bar.bytes,
            LABEL - 8,
            y + 16,
            Html(&bar.label),
            y + 4,
            ROW - 8,
            LABEL as f64 + width + 6.0,
            y + 16,
            human_bytes(bar.bytes),
        )?;
    }
    writeln!(out, "</svg></section>")
}

struct Bar {
    label: String,
    title: String,
    bytes: u64,
    /// The other repositories, folded into one bar.
    rest: bool,
}

/// `…/team-3/svc-12/app.cache`: the end of a long path, where repositories differ.
fn shortened(path: &str, max: usize) -> String {
    let count = path.chars().count();
    if count <= max {
        return path.to_string();
    }
    let tail: String = path.chars().skip(count - (max - 1)).collect();
    format!("…{tail}")
}

fn by_rule(out: &mut impl Write, sums: &Sums) -> io::Result<()> {
    let verbs = &sums.verbs;
    writeln!(out, "<section id=\"rules\"><h2>Tags by rule</h2>")?;
    if verbs.is_empty() {
        return writeln!(out, "<p>No tags.</p></section>");
    }
    write!(out, "<table class=\"counts\"><thead><tr><th>rule</th>")?;
    for verb in verbs {
        write!(out, "<th class=\"num\">{}</th>", verb.as_str())?;
    }
    writeln!(out, "</tr></thead><tbody>")?;
    for (rule, counts) in &sums.by_rule {
        write!(out, "<tr data-rule=\"{rule}\"><td>{rule}</td>")?;
        for verb in verbs {
            match counts.get(verb) {
                Some(n) => write!(
                    out,
                    "<td class=\"num\" data-verb=\"{}\">{}</td>",
                    verb.as_str(),
                    Count(*n as u64)
                )?,
                None => write!(out, "<td class=\"num zero\"></td>")?,
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table></section>")
}

/// Failed listings, skipped repositories and policy results: what a reviewer must not miss.
fn problems(out: &mut impl Write, run: &Run<'_>) -> io::Result<()> {
    let failed_repos = run.plan.repos.iter().filter(|r| r.error.is_some());
    if run.errors.is_empty()
        && run.skipped.is_empty()
        && run.policies.is_empty()
        && run.plan.repos.iter().all(|r| r.error.is_none())
    {
        return Ok(());
    }
    writeln!(
        out,
        "<section id=\"problems\"><h2>Listings and policies</h2><ul>"
    )?;
    for e in run.errors {
        writeln!(
            out,
            "<li class=\"error\">{}: {}</li>",
            Html(&e.what),
            Html(&e.error)
        )?;
    }
    for repo in failed_repos {
        writeln!(
            out,
            "<li class=\"error\">{}: tag list failed, repository left untouched: {}</li>",
            Html(&repo.repo.path),
            Html(repo.error.as_deref().unwrap_or_default())
        )?;
    }
    for s in run.skipped {
        writeln!(out, "<li>skipped {}: {}</li>", Html(&s.what), Html(&s.why))?;
    }
    for p in run.policies {
        writeln!(
            out,
            "<li>cleanup policy of {}: {}</li>",
            Html(&p.project_path),
            Html(&PolicyText(p))
        )?;
    }
    writeln!(out, "</ul></section>")
}

struct PolicyText<'a>(&'a crate::policy::PolicyResult);

impl Display for PolicyText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::policy::Status;
        let p = self.0;
        match &p.status {
            Status::Unchanged => f.write_str("unchanged"),
            Status::WouldChange => write!(f, "would change: {}", p.diff_text()),
            Status::Changed { .. } => write!(f, "changed: {}", p.diff_text()),
            Status::Failed { error } => write!(f, "failed: {error}"),
        }
    }
}

/// The decision table's frame; the script fills its body from the data block.
fn table(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"decisions\"><h2>Decisions</h2>\n\
         <div class=\"controls\"><input id=\"q\" type=\"search\" placeholder=\"filter repository, tag, reason… (=text: exact tag)\" aria-label=\"filter all columns\">\
         <span id=\"count\" aria-live=\"polite\"></span></div>\n\
         <table id=\"table\"><thead><tr>\
         <th data-col=\"repo\"><button type=\"button\">repository</button></th>\
         <th data-col=\"tag\"><button type=\"button\">tag</button></th>\
         <th data-col=\"verb\"><button type=\"button\">action</button></th>\
         <th data-col=\"rule\"><button type=\"button\">rule</button></th>\
         <th data-col=\"reason\"><button type=\"button\">reason</button></th>\
         <th data-col=\"size\" class=\"num\"><button type=\"button\">size</button></th>\
         <th data-col=\"kind\"><button type=\"button\">kind</button></th></tr>\n\
         <tr class=\"filters\">\
         <td><input data-filter=\"repo\" type=\"search\" placeholder=\"contains…\" aria-label=\"filter repository\"></td>\
         <td><input data-filter=\"tag\" type=\"search\" placeholder=\"contains… or =exact\" aria-label=\"filter tag\"></td>\
         <td><select data-filter=\"verb\" aria-label=\"filter action\"><option value=\"\">any</option></select></td>\
         <td><select data-filter=\"rule\" aria-label=\"filter rule\"><option value=\"\">any</option></select></td>\
         <td><input data-filter=\"reason\" type=\"search\" placeholder=\"contains…\" aria-label=\"filter reason\"></td>\
         <td><select data-filter=\"size\" aria-label=\"filter size\"><option value=\"\">any</option>\
         <option value=\"1048576\">≥ 1 MiB</option><option value=\"10485760\">≥ 10 MiB</option>\
         <option value=\"104857600\">≥ 100 MiB</option><option value=\"1073741824\">≥ 1 GiB</option></select></td>\
         <td><select data-filter=\"kind\" aria-label=\"filter kind\"><option value=\"\">any</option></select></td>\
         </tr></thead>\n<tbody id=\"rows\"></tbody></table>\n\
         <div class=\"pager\"><button type=\"button\" id=\"first\">« first</button>\
         <button type=\"button\" id=\"prev\">‹ previous</button><span id=\"page\"></span>\
         <button type=\"button\" id=\"next\">next ›</button><button type=\"button\" id=\"last\">last »</button></div>\n\
         <noscript><p>The decision table needs JavaScript; gc-report.json and gc.log hold the same decisions.</p></noscript>\n\
         </section>"
    )
}

/// The data block: `{"verbs":[…],"rules":[…],"repos":[…],"rows":[[repo, tag, verb, rule,
/// reason, size, kind], …]}`, where repo, verb and rule are indexes into their lists, size is
/// bytes or null, and kind is a string or null (not inspected). Streamed one row at a time.
fn data(out: &mut impl Write, run: &Run<'_>, sums: &Sums) -> io::Result<()> {
    write!(
        out,
        "<script type=\"application/json\" id=\"gc-data\">{{\"verbs\":["
    )?;
    for (i, verb) in sums.verbs.iter().enumerate() {
        comma(out, i)?;
        json_string(out, verb.as_str())?;
    }
    write!(out, "],\"rules\":[")?;
    for (i, rule) in sums.rules.iter().enumerate() {
        comma(out, i)?;
        json_string(out, rule.as_str())?;
    }
    write!(out, "],\"repos\":[")?;
    for (i, repo) in run.plan.repos.iter().enumerate() {
        comma(out, i)?;
        json_string(out, &repo.repo.path)?;
    }
    write!(out, "],\"rows\":[")?;
    let mut first = true;
    for (r, (repo, outcomes)) in run.plan.repos.iter().zip(run.outcomes).enumerate() {
        for (tag, outcome) in repo.tags.iter().zip(outcomes) {
            let f = final_view(tag, outcome);
            if !first {
                out.write_all(b",\n")?;
            }
            first = false;
            write!(out, "[{r},")?;
            json_string(out, &tag.name)?;
            write!(
                out,
                ",{},{},",
                sums.verb_index(f.verb),
                sums.rule_index(f.rule)
            )?;
            json_string(out, f.reason)?;
            match tag.info.as_ref().and_then(|i| i.size) {
                Some(size) => write!(out, ",{size},")?,
                None => write!(out, ",null,")?,
            }
            match kind(tag) {
                Some(kind) => json_string(out, kind)?,
                None => out.write_all(b"null")?,
            }
            out.write_all(b"]")?;
        }
    }
    writeln!(out, "]}}</script>")
}

fn comma(out: &mut impl Write, i: usize) -> io::Result<()> {
    if i > 0 {
        out.write_all(b",")?;
    }
    Ok(())
}

/// A JSON string literal of `value` that can sit inside a `<script>` element: besides JSON's own
/// escapes, `<`, `>` and `&` are written as `\u003c`, `\u003e`, `\u0026` (so no `</script>` or
/// `<!--` can end or change the element), and U+2028/U+2029 as `\u2028`/`\u2029`.
fn json_string(out: &mut impl Write, value: impl Display) -> io::Result<()> {
    out.write_all(b"\"")?;
    Escaping::new(out, escape_json).write(value)?;
    out.write_all(b"\"")
}

fn escape_json(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        '<' => "\\u003c",
        '>' => "\\u003e",
        '&' => "\\u0026",
        '\u{2028}' => "\\u2028",
        '\u{2029}' => "\\u2029",
        c if c < ' ' => CONTROL_ESCAPES[c as usize],
        _ => return None,
    })
}

/// `\u0000` … `\u001f`, JSON's escapes for the other control characters.
const CONTROL_ESCAPES: [&str; 32] = [
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
    "\\u0008", "\\u0009", "\\u000a", "\\u000b", "\\u000c", "\\u000d", "\\u000e", "\\u000f",
    "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
];

fn escape_html(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&#39;",
        _ => return None,
    })
}

/// Text for HTML: in an element or a quoted attribute value, it stays text.
struct Html<T>(T);

impl<T: Display> Display for Html<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut escaping = Escaping {
            out: FmtOut(f),
            escape: escape_html,
            error: None,
        };
        fmt::write(&mut escaping, format_args!("{}", self.0))
    }
}

/// `12,345`: counts as people read them.
struct Count(u64);

impl Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                f.write_str(",")?;
            }
            write!(f, "{digit}")?;
        }
        Ok(())
    }
}

/// Where escaped text goes: an `io::Write` (the data block) or a formatter ([`Html`]).
trait Sink {
    fn put(&mut self, s: &str) -> io::Result<()>;
}

impl<W: Write> Sink for &mut W {
    fn put(&mut self, s: &str) -> io::Result<()> {
        self.write_all(s.as_bytes())
    }
}

struct FmtOut<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Sink for FmtOut<'_, '_> {
    fn put(&mut self, s: &str) -> io::Result<()> {
        self.0.write_str(s).map_err(io::Error::other)
    }
}

/// Formats a value straight into a sink, each character through `escape`: the reasons of
/// 100,000 tags are never held as strings.
struct Escaping<S> {
    out: S,
    escape: fn(char) -> Option<&'static str>,
    error: Option<io::Error>,
}

impl<W: Write> Escaping<&mut W> {
    fn new(out: &mut W, escape: fn(char) -> Option<&'static str>) -> Escaping<&mut W> {
        Escaping {
            out,
            escape,
            error: None,
        }
    }

    fn write(mut self, value: impl Display) -> io::Result<()> {
        match fmt::write(&mut self, format_args!("{value}")) {
            Ok(()) => Ok(()),
            Err(_) => Err(self
                .error
                .unwrap_or_else(|| io::Error::other("formatting failed"))),
        }
    }
}

impl<S: Sink> fmt::Write for Escaping<S> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if let Some(escaped) = (self.escape)(c) {
                let result = self
                    .out
                    .put(&s[start..i])
                    .and_then(|()| self.out.put(escaped));
                if let Err(e) = result {
                    self.error = Some(e);
                    return Err(fmt::Error);
                }
                start = i + c.len_utf8();
            }
        }
        self.out.put(&s[start..]).map_err(|e| {
            self.error = Some(e);
            fmt::Error
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &str) -> String {
        let mut out = Vec::new();
        json_string(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_in_a_script_element_cannot_end_it() {
        let hostile = "</script><script>alert(1)</script><!-- & \u{2028}\u{2029}\"\\\n\u{1}";
        let text = json(hostile);
        for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}", "\n", "\u{1}"] {
            assert!(!text.contains(forbidden), "{forbidden:?} in {text}");
        }
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, hostile, "it is still the same string as JSON");
    }

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(
            Html("<img src=x onerror='a()'> & \"q\"").to_string(),
            "&lt;img src=x onerror=&#39;a()&#39;&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(Html("ü plain").to_string(), "ü plain");
    }

    #[test]
    fn counts_and_long_paths_read_well() {
        assert_eq!(Count(0).to_string(), "0");
        assert_eq!(Count(999).to_string(), "999");
        assert_eq!(Count(1000).to_string(), "1,000");
        assert_eq!(Count(1234567).to_string(), "1,234,567");
        assert_eq!(shortened("a/b", 10), "a/b");
        let s = shortened("group/team-3/svc-12/app.cache", 11);
        assert_eq!(s, "…/app.cache");
        assert_eq!(s.chars().count(), 11);
    }

    #[test]
    fn only_web_urls_become_links() {
        assert!(is_web_url("https://gitlab.example.com/g/p/-/jobs/1"));
        assert!(is_web_url("HTTP://x"));
        assert!(!is_web_url("javascript:alert(1)"));
        assert!(!is_web_url("data:text/html,x"));
    }
}
