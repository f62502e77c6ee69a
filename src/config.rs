//! Configuration, read once from the environment and validated before any request.
//!
//! registry-gc runs in CI jobs, where the environment is the only interface a user controls.
//! Everything is checked up front so that a typo can never turn into a deletion: an invalid
//! regex, duration, number or boolean, and even an unknown `GC_*` variable (a misspelled
//! `GC_DRY_RUN` would otherwise be ignored silently), stops the run with exit code 2 before the
//! first HTTP request. A variable set to the empty string counts as unset, because CI templates
//! routinely pass empty inputs through.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use regex::Regex;
use serde::Deserialize;

use crate::duration::{parse_age, Age};

/// One documented variable: the source of `--help` and of the unknown-variable check.
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

/// Every variable registry-gc reads, in the order `--help` lists them.
pub const VARIABLES: &[Variable] = &[
    Variable { name: "CI_API_V4_URL", default: "(required)", meaning: "GitLab API root, e.g. https://gitlab.example.com/api/v4" },
    Variable { name: "CI_API_GRAPHQL_URL", default: "CI_API_V4_URL with /api/graphql", meaning: "GitLab GraphQL endpoint (same origin as CI_API_V4_URL)" },
    Variable { name: "API_TOKEN", default: "(unset)", meaning: "access token with scope api (read_api for dry-run), sent as PRIVATE-TOKEN; never printed" },
    Variable { name: "CI_JOB_TOKEN", default: "(set by GitLab)", meaning: "used when API_TOKEN is unset: scope project only, no policy apply" },
    Variable { name: "CI_PROJECT_ID", default: "(set by GitLab)", meaning: "project for GC_SCOPE=project" },
    Variable { name: "CI_PROJECT_NAMESPACE_ID", default: "(set by GitLab)", meaning: "default group for GC_SCOPE=group" },
    Variable { name: "CI_SERVER_TLS_CA_FILE", default: "(unset)", meaning: "extra PEM CA bundle trusted in addition to the built-in roots" },
    Variable { name: "CI_PIPELINE_SOURCE", default: "(set by GitLab)", meaning: "GC_DRY_RUN=auto: merge request pipelines run dry" },
    Variable { name: "CI_COMMIT_REF_NAME", default: "(set by GitLab)", meaning: "GC_DRY_RUN=auto: only the default branch deletes" },
    Variable { name: "CI_DEFAULT_BRANCH", default: "(set by GitLab)", meaning: "GC_DRY_RUN=auto: the branch that may delete" },
    Variable { name: "CI_NODE_INDEX", default: "(unset)", meaning: "shard of a `parallel: N` job (1-based); needs CI_NODE_TOTAL" },
    Variable { name: "CI_NODE_TOTAL", default: "(unset)", meaning: "number of shards: project P belongs to shard P % total + 1" },
    Variable { name: "CI_JOB_URL", default: "(unset)", meaning: "linked from the reports" },
    Variable { name: "GC_SCOPE", default: "project", meaning: "project, group (with subgroups) or all (projects where the token is Maintainer+)" },
    Variable { name: "GC_GROUP", default: "CI_PROJECT_NAMESPACE_ID", meaning: "group id or full path for GC_SCOPE=group" },
    Variable { name: "GC_DRY_RUN", default: "auto", meaning: "true, false, or auto: delete only in a non-MR pipeline on the default branch" },
    Variable { name: "GC_KEEP_REGEX", default: DEFAULT_KEEP_REGEX, meaning: "tags never deleted by any rule (full match)" },
    Variable { name: "GC_DELETE_REGEX", default: ".*", meaning: "tags the age and count rules may delete (full match)" },
    Variable { name: "GC_KEEP_N", default: "(unset)", meaning: "keep the N newest candidate tags of each repository (N >= 1)" },
    Variable { name: "GC_OLDER_THAN", default: "(unset)", meaning: "delete candidate tags older than this: 90m, 12h, 7d, 2w" },
    Variable { name: "GC_DELETE_BROKEN", default: "true", meaning: "delete tags whose details GitLab cannot return (404)" },
    Variable { name: "GC_DELETE_ORPHAN_CACHE", default: "true", meaning: "delete cache tags whose image counterpart is gone" },
    Variable { name: "GC_CACHE_SUFFIX", default: ".cache", meaning: "marks a cache repository: app.cache is the cache of app" },
    Variable { name: "GC_API", default: "auto", meaning: "rest, graphql, or auto: GraphQL when a probe shows the instance has what we need" },
    Variable { name: "GC_AGE_FROM", default: "published if available", meaning: "age of a tag for GC_KEEP_N/GC_OLDER_THAN: published (push time, GraphQL) or created (build time)" },
    Variable { name: "GC_CONCURRENCY", default: "8", meaning: "parallel API requests (1-64); GitLab's rate limits are still obeyed" },
    Variable { name: "GC_MAX_DELETIONS", default: "(unset)", meaning: "if the plan deletes more tags than this, delete nothing and exit 3" },
    Variable { name: "GC_LOG_FILE", default: "gc.log", meaning: "decision log, written as the run goes" },
    Variable { name: "GC_JUNIT_FILE", default: "gc-junit.xml", meaning: "JUnit report for GitLab's Tests tab" },
    Variable { name: "GC_REPORT_FILE", default: "gc-report.json", meaning: "machine-readable plan and outcome" },
    Variable { name: "GC_POLICY_APPLY", default: "false", meaning: "also apply GitLab's built-in cleanup policy to every project in scope" },
    Variable { name: "GC_POLICY_ENABLED", default: "true", meaning: "policy: enabled" },
    Variable { name: "GC_POLICY_CADENCE", default: "1d", meaning: "policy: 1d, 7d, 14d, 1month, 3month" },
    Variable { name: "GC_POLICY_KEEP_N", default: "10", meaning: "policy: 1, 5, 10, 25, 50, 100" },
    Variable { name: "GC_POLICY_OLDER_THAN", default: "7d", meaning: "policy: 7d, 14d, 30d, 60d, 90d" },
    Variable { name: "GC_POLICY_NAME_REGEX", default: ".*", meaning: "policy: tags the built-in policy may delete" },
    Variable { name: "GC_POLICY_NAME_REGEX_KEEP", default: "GC_KEEP_REGEX", meaning: "policy: tags the built-in policy keeps" },
];

pub const DEFAULT_KEEP_REGEX: &str = r"latest|main|master|v.*\..*\..*";

/// Allowed values of GitLab's `container_expiration_policy` (app/models/container_expiration_policy.rb;
/// `60d` since GitLab 14.3, commit c7be549c "Add option of 60 days").
pub const POLICY_CADENCES: &[&str] = &["1d", "7d", "14d", "1month", "3month"];
pub const POLICY_KEEP_N: &[&str] = &["1", "5", "10", "25", "50", "100"];
pub const POLICY_OLDER_THAN: &[&str] = &["7d", "14d", "30d", "60d", "90d"];

/// A configuration problem, shown to the user as one line naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn err(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_string(),
        message: message.into(),
    }
}

/// A secret that cannot be printed by accident: `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How requests authenticate. A job token is weaker: GitLab accepts it only on the registry
/// endpoints of the job's own project (doc/ci/jobs/ci_job_token.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    Private(Secret),
    Job(Secret),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Project(String),
    Group(String),
    All,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Project(id) => write!(f, "project {id}"),
            Scope::Group(id) => write!(f, "group {id} (with subgroups)"),
            Scope::All => f.write_str("all projects where the token is Maintainer or above"),
        }
    }
}

/// Whether this run deletes, and why: the reason is printed so nobody has to guess what `auto` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mode {
    pub dry_run: bool,
    pub why: String,
}

/// A slice of the projects for one job of a `parallel: N` matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based, as GitLab's `CI_NODE_INDEX`.
    pub index: u64,
    pub total: u64,
}

impl Shard {
    pub fn owns(&self, project_id: u64) -> bool {
        project_id % self.total == self.index - 1
    }
}

/// A regex that must match the whole tag name, as GitLab's cleanup policy does (`\A…\z`).
#[derive(Clone, Debug)]
pub struct FullRegex {
    source: String,
    regex: Regex,
}

impl FullRegex {
    pub fn new(source: &str) -> Result<FullRegex, regex::Error> {
        let regex = Regex::new(&format!(r"\A(?:{source})\z"))?;
        Ok(FullRegex {
            source: source.to_string(),
            regex,
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// The desired built-in cleanup policy, already validated against GitLab's allowed values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySettings {
    pub enabled: bool,
    pub cadence: String,
    pub keep_n: u32,
    pub older_than: String,
    pub name_regex: String,
    pub name_regex_keep: String,
}

/// Which GitLab API reads tags and deletes them (`GC_API`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiChoice {
    /// GraphQL when the start-up probe shows it has the fields and mutation we use, else REST.
    Auto,
    Rest,
    Graphql,
}

/// Which timestamp is a tag's age (`GC_AGE_FROM`).
///
/// `created` is the image config's build time, which reproducible builds pin (often to 1970), so
/// it can call a fresh image ancient; `published` is when the tag was pushed, known only to
/// GraphQL on registries with GitLab's metadata database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AgeFrom {
    /// The push time where GitLab knows it, else the build time.
    Published,
    #[default]
    Created,
}

impl AgeFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            AgeFrom::Published => "published",
            AgeFrom::Created => "created",
        }
    }
}

/// The rule settings: everything the pure decision rules need to know.
#[derive(Clone, Debug)]
pub struct RuleSettings {
    pub keep: FullRegex,
    pub delete: FullRegex,
    pub keep_n: Option<usize>,
    pub older_than: Option<Age>,
    pub delete_broken: bool,
    pub delete_orphan_cache: bool,
    pub cache_suffix: String,
    /// Resolved once the backend is known (`GC_AGE_FROM` unset means published where the backend
    /// provides it).
    pub age_from: AgeFrom,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub api_url: reqwest::Url,
    /// `None` when CI_API_GRAPHQL_URL is unset and CI_API_V4_URL does not end in `/api/v4`.
    pub graphql_url: Option<reqwest::Url>,
    pub api: ApiChoice,
    /// `GC_AGE_FROM` as set; `None` lets the backend decide.
    pub age_from: Option<AgeFrom>,
    pub auth: Auth,
    pub scope: Scope,
    pub mode: Mode,
    pub rules: RuleSettings,
    pub concurrency: usize,
    pub max_deletions: Option<usize>,
    pub log_file: PathBuf,
    pub junit_file: PathBuf,
    pub report_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub shard: Option<Shard>,
    pub job_url: Option<String>,
    pub policy: Option<PolicySettings>,
}

/// The raw environment, as `envy` reads it (it lower-cases names). Every field is a string so
/// that each value is validated here, with an error that names its variable.
#[derive(Deserialize, Default)]
struct Raw {
    ci_api_v4_url: Option<String>,
    ci_api_graphql_url: Option<String>,
    api_token: Option<String>,
    ci_job_token: Option<String>,
    ci_project_id: Option<String>,
    ci_project_namespace_id: Option<String>,
    ci_server_tls_ca_file: Option<String>,
    ci_pipeline_source: Option<String>,
    ci_commit_ref_name: Option<String>,
    ci_default_branch: Option<String>,
    ci_merge_request_iid: Option<String>,
    ci_node_index: Option<String>,
    ci_node_total: Option<String>,
    ci_job_url: Option<String>,
    gc_scope: Option<String>,
    gc_group: Option<String>,
    gc_dry_run: Option<String>,
    gc_keep_regex: Option<String>,
    gc_delete_regex: Option<String>,
    gc_keep_n: Option<String>,
    gc_older_than: Option<String>,
    gc_delete_broken: Option<String>,
    gc_delete_orphan_cache: Option<String>,
    gc_cache_suffix: Option<String>,
    gc_api: Option<String>,
    gc_age_from: Option<String>,
    gc_concurrency: Option<String>,
    gc_max_deletions: Option<String>,
    gc_log_file: Option<String>,
    gc_junit_file: Option<String>,
    gc_report_file: Option<String>,
    gc_policy_apply: Option<String>,
    gc_policy_enabled: Option<String>,
    gc_policy_cadence: Option<String>,
    gc_policy_keep_n: Option<String>,
    gc_policy_older_than: Option<String>,
    gc_policy_name_regex: Option<String>,
    gc_policy_name_regex_keep: Option<String>,
}

impl Config {
    /// Reads the process environment. Variables whose value is not UTF-8 are errors only if
    /// they are ours.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().map(str::to_string) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => vars.push((name, value)),
                Err(_) if is_ours(&name) => return Err(err(&name, "value is not valid UTF-8")),
                Err(_) => {}
            }
        }
        Config::from_vars(vars)
    }

    /// Builds a configuration from name/value pairs; the environment in tests.
    pub fn from_vars<I>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut relevant = Vec::new();
        for (name, value) in vars {
            if name.starts_with("GC_") && !VARIABLES.iter().any(|v| v.name == name) {
                return Err(err(&name, unknown_variable_message(&name)));
            }
            // Empty counts as unset: CI templates pass empty inputs through.
            if is_ours(&name) && !value.is_empty() {
                relevant.push((name, value));
            }
        }
        let raw: Raw = envy::from_iter(relevant).map_err(|e| err("environment", e.to_string()))?;
        raw.validate()
    }
}

fn is_ours(name: &str) -> bool {
    name.starts_with("GC_")
        || VARIABLES.iter().any(|v| v.name == name)
        || name == "CI_MERGE_REQUEST_IID"
}

fn unknown_variable_message(name: &str) -> String {
    let closest = VARIABLES
        .iter()
        .filter(|v| v.name.starts_with("GC_"))
        .map(|v| (edit_distance(name, v.name), v.name))
        .min();
    match closest {
        Some((distance, known)) if distance <= 3 => {
            format!("unknown variable (did you mean {known}?); refusing to run with a setting that would be ignored")
        }
        _ => "unknown variable; refusing to run with a setting that would be ignored (see registry-gc --help)".to_string(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

pub fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(err(
            variable,
            format!("`{value}` is not a boolean (expected true, false, 1, 0, yes or no)"),
        )),
    }
}

fn parse_count(variable: &str, value: &str, min: usize, max: usize) -> Result<usize, ConfigError> {
    let n: usize = value
        .parse()
        .map_err(|_| err(variable, format!("`{value}` is not a whole number")))?;
    if n < min || n > max {
        return Err(err(
            variable,
            format!("{n} is out of range (expected {min} to {max})"),
        ));
    }
    Ok(n)
}

fn parse_regex(variable: &str, value: &str) -> Result<FullRegex, ConfigError> {
    FullRegex::new(value).map_err(|e| {
        // The regex crate's messages span several lines; the first names the problem.
        let detail = e.to_string();
        let last = detail
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("invalid")
            .trim()
            .to_string();
        err(
            variable,
            format!(
                "`{value}` is not a valid regex: {}",
                last.trim_start_matches("error: ")
            ),
        )
    })
}

/// One of a few words, in any case: `expected a, b or c` otherwise.
fn parse_choice<T: Copy>(
    variable: &str,
    value: &str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let lower = value.to_ascii_lowercase();
    if let Some((_, choice)) = choices.iter().find(|(name, _)| *name == lower) {
        return Ok(*choice);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let expected = match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(err(
        variable,
        format!("`{value}` is not allowed (expected {expected})"),
    ))
}

fn one_of(variable: &str, value: &str, allowed: &[&str]) -> Result<String, ConfigError> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(err(
            variable,
            format!(
                "`{value}` is not allowed (GitLab accepts: {})",
                allowed.join(", ")
            ),
        ))
    }
}

impl Raw {
    fn validate(self) -> Result<Config, ConfigError> {
        let api_url = match self.ci_api_v4_url.as_deref() {
            None => {
                return Err(err(
                    "CI_API_V4_URL",
                    "is not set (the GitLab API root, e.g. https://gitlab.example.com/api/v4)",
                ))
            }
            Some(url) => parse_api_url("CI_API_V4_URL", url)?,
        };
        let graphql_url = match self.ci_api_graphql_url.as_deref() {
            Some(url) => {
                let url = parse_api_url("CI_API_GRAPHQL_URL", url)?;
                // The token is only ever sent to one origin (see gitlab::client).
                if url.origin() != api_url.origin() {
                    return Err(err(
                        "CI_API_GRAPHQL_URL",
                        format!(
                            "`{url}` is not on the same origin as CI_API_V4_URL `{api_url}`; the token is sent to one origin only"
                        ),
                    ));
                }
                Some(url)
            }
            None => derive_graphql_url(&api_url),
        };

        let scope = match self.gc_scope.as_deref().unwrap_or("project") {
            "project" => match &self.ci_project_id {
                Some(id) => Scope::Project(parse_id("CI_PROJECT_ID", id)?),
                None => {
                    return Err(err(
                        "CI_PROJECT_ID",
                        "is not set (needed for GC_SCOPE=project)",
                    ))
                }
            },
            "group" => match self
                .gc_group
                .as_ref()
                .or(self.ci_project_namespace_id.as_ref())
            {
                Some(group) if self.gc_group.is_some() => {
                    Scope::Group(parse_group("GC_GROUP", group)?)
                }
                Some(group) => Scope::Group(parse_id("CI_PROJECT_NAMESPACE_ID", group)?),
                None => return Err(err(
                    "GC_GROUP",
                    "is not set and neither is CI_PROJECT_NAMESPACE_ID (needed for GC_SCOPE=group)",
                )),
            },
            "all" => Scope::All,
            other => {
                return Err(err(
                    "GC_SCOPE",
                    format!("`{other}` is not a scope (expected project, group or all)"),
                ))
            }
        };

        let auth = match (&self.api_token, &self.ci_job_token) {
            (Some(token), _) => Auth::Private(Secret(token.clone())),
            (None, Some(token)) => {
                if !matches!(scope, Scope::Project(_)) {
                    return Err(err(
                        "API_TOKEN",
                        "is not set, and CI_JOB_TOKEN only works for GC_SCOPE=project (GitLab accepts job tokens only on the job's own project)",
                    ));
                }
                Auth::Job(Secret(token.clone()))
            }
            (None, None) => {
                return Err(err(
                    "API_TOKEN",
                    "is not set (nor CI_JOB_TOKEN): create an access token with scope api",
                ))
            }
        };

        let api = self
            .gc_api
            .as_deref()
            .map(|v| {
                parse_choice(
                    "GC_API",
                    v,
                    &[
                        ("auto", ApiChoice::Auto),
                        ("rest", ApiChoice::Rest),
                        ("graphql", ApiChoice::Graphql),
                    ],
                )
            })
            .transpose()?
            .unwrap_or(ApiChoice::Auto);
        if api == ApiChoice::Graphql && graphql_url.is_none() {
            return Err(err(
                "CI_API_GRAPHQL_URL",
                format!("is not set and cannot be derived from CI_API_V4_URL `{api_url}` (it does not end in /api/v4), but GC_API=graphql"),
            ));
        }
        if api == ApiChoice::Graphql && matches!(auth, Auth::Job(_)) {
            return Err(err(
                "GC_API",
                "graphql needs API_TOKEN: GitLab's GraphQL API does not accept CI_JOB_TOKEN",
            ));
        }
        let age_from = self
            .gc_age_from
            .as_deref()
            .map(|v| {
                parse_choice(
                    "GC_AGE_FROM",
                    v,
                    &[
                        ("published", AgeFrom::Published),
                        ("created", AgeFrom::Created),
                    ],
                )
            })
            .transpose()?;
        if age_from == Some(AgeFrom::Published) && api == ApiChoice::Rest {
            return Err(err(
                "GC_AGE_FROM",
                "published needs GraphQL, but GC_API=rest (GitLab's REST API has no push times)",
            ));
        }

        let mode = self.mode()?;
        let rules = RuleSettings {
            keep: parse_regex(
                "GC_KEEP_REGEX",
                self.gc_keep_regex.as_deref().unwrap_or(DEFAULT_KEEP_REGEX),
            )?,
            delete: parse_regex(
                "GC_DELETE_REGEX",
                self.gc_delete_regex.as_deref().unwrap_or(".*"),
            )?,
            keep_n: self
                .gc_keep_n
                .as_deref()
                // 0 would make GC_KEEP_N alone delete every candidate: surely not what was meant.
                .map(|v| {
                    parse_count("GC_KEEP_N", v, 1, 1_000_000).map_err(|e| {
                        err(
                            "GC_KEEP_N",
                            format!("{} (unset it to turn the count rule off)", e.message),
                        )
                    })
                })
                .transpose()?,
            older_than: self
                .gc_older_than
                .as_deref()
                .map(|v| parse_age(v).map_err(|e| err("GC_OLDER_THAN", format!("`{v}` {e}"))))
                .transpose()?,
            delete_broken: self
                .gc_delete_broken
                .as_deref()
                .map(|v| parse_bool("GC_DELETE_BROKEN", v))
                .transpose()?
                .unwrap_or(true),
            delete_orphan_cache: self
                .gc_delete_orphan_cache
                .as_deref()
                .map(|v| parse_bool("GC_DELETE_ORPHAN_CACHE", v))
                .transpose()?
                .unwrap_or(true),
            cache_suffix: self
                .gc_cache_suffix
                .clone()
                .unwrap_or_else(|| ".cache".to_string()),
            age_from: AgeFrom::Created,
        };

        let concurrency = self
            .gc_concurrency
            .as_deref()
            .map(|v| parse_count("GC_CONCURRENCY", v, 1, 64))
            .transpose()?
            .unwrap_or(8);
        let max_deletions = self
            .gc_max_deletions
            .as_deref()
            .map(|v| parse_count("GC_MAX_DELETIONS", v, 0, usize::MAX))
            .transpose()?;

        let shard = match (&self.ci_node_index, &self.ci_node_total) {
            (None, None) => None,
            (Some(index), Some(total)) => {
                let total = parse_count("CI_NODE_TOTAL", total, 1, 1_000_000)? as u64;
                let index = parse_count("CI_NODE_INDEX", index, 1, total as usize)? as u64;
                Some(Shard { index, total }).filter(|s| s.total > 1)
            }
            (Some(_), None) => return Err(err("CI_NODE_TOTAL", "is not set but CI_NODE_INDEX is")),
            // GitLab sets CI_NODE_TOTAL=1 in every job and CI_NODE_INDEX only in `parallel:`
            // jobs (lib/gitlab/ci/variables/builder.rb).
            (None, Some(total)) if total.trim() == "1" => None,
            (None, Some(total)) => {
                return Err(err(
                    "CI_NODE_INDEX",
                    format!("is not set but CI_NODE_TOTAL={total}"),
                ))
            }
        };

        let ca_file = self.ci_server_tls_ca_file.as_ref().map(PathBuf::from);
        if let Some(path) = &ca_file {
            if !path.is_file() {
                return Err(err(
                    "CI_SERVER_TLS_CA_FILE",
                    format!("`{}` is not a readable file", path.display()),
                ));
            }
        }

        let policy = self.policy(&rules.keep)?;
        if policy.is_some() {
            if let Auth::Job(_) = auth {
                return Err(err(
                    "GC_POLICY_APPLY",
                    "needs API_TOKEN: a job token cannot change project settings (GitLab accepts CI_JOB_TOKEN only on registry endpoints)",
                ));
            }
        }

        Ok(Config {
            api_url,
            graphql_url,
            api,
            age_from,
            auth,
            scope,
            mode,
            rules,
            concurrency,
            max_deletions,
            log_file: PathBuf::from(self.gc_log_file.as_deref().unwrap_or("gc.log")),
            junit_file: PathBuf::from(self.gc_junit_file.as_deref().unwrap_or("gc-junit.xml")),
            report_file: PathBuf::from(self.gc_report_file.as_deref().unwrap_or("gc-report.json")),
            ca_file,
            shard,
            job_url: self.ci_job_url.clone(),
            policy,
        })
    }

    /// Resolves `GC_DRY_RUN`. `auto` deletes only where a human would expect it: a pipeline
    /// (push, schedule, web, api…) on the default branch. Merge request pipelines and anything
    /// outside GitLab CI stay dry.
    fn mode(&self) -> Result<Mode, ConfigError> {
        let value = self.gc_dry_run.as_deref().unwrap_or("auto");
        if value.eq_ignore_ascii_case("auto") {
            let source = self.ci_pipeline_source.as_deref();
            let why = |s: &str| s.to_string();
            return Ok(match source {
                None => Mode {
                    dry_run: true,
                    why: why("GC_DRY_RUN=auto outside GitLab CI (CI_PIPELINE_SOURCE is not set)"),
                },
                Some(s @ ("merge_request_event" | "external_pull_request_event")) => Mode {
                    dry_run: true,
                    why: format!(
                        "GC_DRY_RUN=auto in a merge request pipeline (CI_PIPELINE_SOURCE={s})"
                    ),
                },
                Some(_) if self.ci_merge_request_iid.is_some() => Mode {
                    dry_run: true,
                    why: why(
                        "GC_DRY_RUN=auto in a merge request pipeline (CI_MERGE_REQUEST_IID is set)",
                    ),
                },
                Some(s) => match (&self.ci_commit_ref_name, &self.ci_default_branch) {
                    (Some(r), Some(d)) if r == d => Mode {
                        dry_run: false,
                        why: format!("GC_DRY_RUN=auto in a {s} pipeline on the default branch {d}"),
                    },
                    (Some(r), Some(d)) => Mode {
                        dry_run: true,
                        why: format!("GC_DRY_RUN=auto on {r}, which is not the default branch {d}"),
                    },
                    _ => Mode {
                        dry_run: true,
                        why: why(
                            "GC_DRY_RUN=auto without CI_COMMIT_REF_NAME and CI_DEFAULT_BRANCH",
                        ),
                    },
                },
            });
        }
        let dry_run = parse_bool("GC_DRY_RUN", value).map_err(|_| {
            err(
                "GC_DRY_RUN",
                format!("`{value}` is not allowed (expected auto, true or false)"),
            )
        })?;
        Ok(Mode {
            dry_run,
            why: format!("GC_DRY_RUN={value}"),
        })
    }

    fn policy(&self, keep: &FullRegex) -> Result<Option<PolicySettings>, ConfigError> {
        let apply = self
            .gc_policy_apply
            .as_deref()
            .map(|v| parse_bool("GC_POLICY_APPLY", v))
            .transpose()?
            .unwrap_or(false);
        // Validate the policy settings even when they are not applied: a typo should not wait
        // for the day someone turns GC_POLICY_APPLY on.
        let enabled = self
            .gc_policy_enabled
            .as_deref()
            .map(|v| parse_bool("GC_POLICY_ENABLED", v))
            .transpose()?
            .unwrap_or(true);
        let cadence = one_of(
            "GC_POLICY_CADENCE",
            self.gc_policy_cadence.as_deref().unwrap_or("1d"),
            POLICY_CADENCES,
        )?;
        let keep_n = one_of(
            "GC_POLICY_KEEP_N",
            self.gc_policy_keep_n.as_deref().unwrap_or("10"),
            POLICY_KEEP_N,
        )?;
        let older_than = one_of(
            "GC_POLICY_OLDER_THAN",
            self.gc_policy_older_than.as_deref().unwrap_or("7d"),
            POLICY_OLDER_THAN,
        )?;
        let name_regex = self
            .gc_policy_name_regex
            .clone()
            .unwrap_or_else(|| ".*".to_string());
        parse_regex("GC_POLICY_NAME_REGEX", &name_regex)?;
        let name_regex_keep = self
            .gc_policy_name_regex_keep
            .clone()
            .unwrap_or_else(|| keep.as_str().to_string());
        parse_regex("GC_POLICY_NAME_REGEX_KEEP", &name_regex_keep)?;
        Ok(apply.then(|| PolicySettings {
            enabled,
            cadence,
            keep_n: keep_n.parse().expect("validated against POLICY_KEEP_N"),
            older_than,
            name_regex,
            name_regex_keep,
        }))
    }
}

fn parse_api_url(variable: &str, value: &str) -> Result<reqwest::Url, ConfigError> {
    let mut url = reqwest::Url::parse(value)
        .map_err(|e| err(variable, format!("`{value}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err(variable, format!("`{value}` is not an http(s) URL")));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(err(
            variable,
            "must not contain credentials or a query string",
        ));
    }
    // A trailing slash would double up when paths are appended.
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

/// GitLab serves GraphQL beside REST: `…/api/v4` becomes `…/api/graphql` (relative URL roots
/// included), as CI_API_GRAPHQL_URL is built (lib/gitlab/ci/variables/builder.rb).
fn derive_graphql_url(api_url: &reqwest::Url) -> Option<reqwest::Url> {
    let root = api_url.path().strip_suffix("/api/v4")?;
    let mut url = api_url.clone();
    url.set_path(&format!("{root}/api/graphql"));
    Some(url)
}

fn parse_id(variable: &str, value: &str) -> Result<String, ConfigError> {
    match value.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id.to_string()),
        _ => Err(err(variable, format!("`{value}` is not a numeric id"))),
    }
}

/// A group is a numeric id or a full path such as `acme/platform`.
fn parse_group(variable: &str, value: &str) -> Result<String, ConfigError> {
    let path_ok = value.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if value.parse::<u64>().is_ok_and(|id| id > 0) || path_ok {
        Ok(value.to_string())
    } else {
        Err(err(
            variable,
            format!("`{value}` is neither a numeric group id nor a group path like acme/platform"),
        ))
    }
}

/// `--help`: every variable with its default, generated from [`VARIABLES`] so it cannot drift.
pub fn help_text() -> String {
    let mut out = String::new();
    out.push_str(concat!(
        "registry-gc ",
        env!("CARGO_PKG_VERSION"),
        "\nGarbage-collects GitLab container registries: deletes broken tags (OCI indexes, attestations)\n",
        "and orphaned buildkit cache tags that GitLab's cleanup policy cannot remove, plus optional\n",
        "keep-N / older-than rules. Configured entirely from environment variables.\n\n",
        "Usage: registry-gc [--help | --version]\n\n",
        "Environment:\n"
    ));
    let width = VARIABLES.iter().map(|v| v.name.len()).max().unwrap_or(0);
    for v in VARIABLES {
        out.push_str(&format!(
            "  {:width$}  {}\n  {:width$}  default: {}\n",
            v.name, v.meaning, "", v.default
        ));
    }
    out.push_str(
        "\nRegexes are full-match (`main` does not match `main2`). An empty variable counts as unset.\n\
         Booleans: true/false/1/0/yes/no. Durations: 90m, 12h, 7d, 2w.\n\n\
         Outputs: GC_LOG_FILE (every decision, then a summary), GC_JUNIT_FILE, GC_REPORT_FILE.\n\
         Exit codes: 0 success (dry-run too), 1 some API operations failed, 2 configuration error\n\
         (nothing requested), 3 refused by GC_MAX_DELETIONS (nothing deleted), 130/143 interrupted.\n",
    );
    out
}

/// The settings worth echoing at the start of a run (never the token).
pub fn describe(config: &Config) -> BTreeMap<&'static str, String> {
    let r = &config.rules;
    let mut m = BTreeMap::new();
    m.insert("scope", config.scope.to_string());
    m.insert("keep_regex", r.keep.as_str().to_string());
    m.insert("delete_regex", r.delete.as_str().to_string());
    m.insert("keep_n", r.keep_n.map_or("unset".into(), |n| n.to_string()));
    m.insert(
        "older_than",
        r.older_than.map_or("unset".into(), |a| a.to_string()),
    );
    m.insert("delete_broken", r.delete_broken.to_string());
    m.insert("delete_orphan_cache", r.delete_orphan_cache.to_string());
    m.insert("cache_suffix", r.cache_suffix.clone());
    m.insert("age_from", r.age_from.as_str().to_string());
    m.insert("concurrency", config.concurrency.to_string());
    m.insert(
        "max_deletions",
        config
            .max_deletions
            .map_or("unset".into(), |n| n.to_string()),
    );
    if let Some(s) = config.shard {
        m.insert("shard", format!("{}/{}", s.index, s.total));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(String, String)> {
        vec![
            ("CI_API_V4_URL".into(), "http://127.0.0.1:1/api/v4".into()),
            ("API_TOKEN".into(), "glpat-secret".into()),
            ("CI_PROJECT_ID".into(), "7".into()),
        ]
    }

    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = base();
        for (k, v) in extra {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        Config::from_vars(vars)
    }

    fn error_of(extra: &[(&str, &str)]) -> ConfigError {
        with(extra).expect_err("configuration should be rejected")
    }

    #[test]
    fn the_graphql_url_is_derived_beside_the_rest_url_and_kept_on_its_origin() {
        let c = with(&[]).unwrap();
        assert_eq!(c.api, ApiChoice::Auto);
        assert_eq!(c.age_from, None, "unset: the backend decides");
        assert_eq!(
            c.graphql_url.unwrap().as_str(),
            "http://127.0.0.1:1/api/graphql"
        );
        let c = with(&[("CI_API_V4_URL", "https://g.example/gitlab/api/v4/")]).unwrap();
        assert_eq!(
            c.graphql_url.unwrap().as_str(),
            "https://g.example/gitlab/api/graphql",
            "relative URL root kept"
        );
        let c = with(&[("CI_API_V4_URL", "https://g.example/v4")]).unwrap();
        assert_eq!(
            c.graphql_url, None,
            "nothing to derive from: auto uses REST"
        );
        assert_eq!(
            error_of(&[
                ("CI_API_V4_URL", "https://g.example/v4"),
                ("GC_API", "graphql")
            ])
            .variable,
            "CI_API_GRAPHQL_URL"
        );
        assert_eq!(
            error_of(&[("CI_API_GRAPHQL_URL", "http://127.0.0.1:2/api/graphql")]).variable,
            "CI_API_GRAPHQL_URL",
            "another port is another origin"
        );
    }

    #[test]
    fn api_and_age_settings_are_validated() {
        assert_eq!(
            with(&[("GC_API", "GraphQL")]).unwrap().api,
            ApiChoice::Graphql
        );
        assert_eq!(
            with(&[("GC_AGE_FROM", "created")]).unwrap().age_from,
            Some(AgeFrom::Created)
        );
        let e = error_of(&[("GC_API", "soap")]);
        assert_eq!(
            e.to_string(),
            "GC_API: `soap` is not allowed (expected auto, rest or graphql)"
        );
        let e = error_of(&[("GC_AGE_FROM", "pushed")]);
        assert_eq!(
            e.to_string(),
            "GC_AGE_FROM: `pushed` is not allowed (expected published or created)"
        );
        assert_eq!(
            error_of(&[("GC_API", "rest"), ("GC_AGE_FROM", "published")]).variable,
            "GC_AGE_FROM"
        );
        let job = [
            ("API_TOKEN", ""),
            ("CI_JOB_TOKEN", "job"),
            ("GC_API", "graphql"),
        ];
        assert_eq!(error_of(&job).variable, "GC_API");
    }

    #[test]
    fn defaults_are_safe() {
        let c = with(&[]).unwrap();
        assert!(c.mode.dry_run, "outside CI, auto must be dry-run");
        assert_eq!(c.scope, Scope::Project("7".into()));
        assert!(c.rules.keep.is_match("v1.2.3") && c.rules.keep.is_match("main"));
        assert!(!c.rules.keep.is_match("main2"), "regexes are full-match");
        assert_eq!(c.concurrency, 8);
        assert!(c.policy.is_none());
    }

    #[test]
    fn errors_name_the_variable_and_value() {
        let e = error_of(&[("GC_KEEP_REGEX", "(unclosed")]);
        assert_eq!(e.variable, "GC_KEEP_REGEX");
        assert!(e.message.contains("(unclosed"), "{e}");
        assert!(!e.to_string().contains('\n'), "one line: {e}");
        assert_eq!(error_of(&[("GC_KEEP_N", "ten")]).variable, "GC_KEEP_N");
        assert!(error_of(&[("GC_KEEP_N", "0")]).message.contains("unset it"));
        assert_eq!(
            error_of(&[("GC_OLDER_THAN", "7 days")]).variable,
            "GC_OLDER_THAN"
        );
        assert_eq!(
            error_of(&[("GC_DELETE_BROKEN", "maybe")]).variable,
            "GC_DELETE_BROKEN"
        );
        assert_eq!(error_of(&[("GC_DRY_RUN", "maybe")]).variable, "GC_DRY_RUN");
        assert_eq!(error_of(&[("GC_SCOPE", "world")]).variable, "GC_SCOPE");
        assert_eq!(
            error_of(&[("GC_CONCURRENCY", "0")]).variable,
            "GC_CONCURRENCY"
        );
        assert_eq!(
            error_of(&[("CI_API_V4_URL", "gitlab.example.com")]).variable,
            "CI_API_V4_URL"
        );
        assert_eq!(
            error_of(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "2")]).variable,
            "CI_NODE_INDEX"
        );
        assert_eq!(
            error_of(&[("GC_POLICY_CADENCE", "2d")]).variable,
            "GC_POLICY_CADENCE"
        );
        assert!(error_of(&[("GC_POLICY_KEEP_N", "3")])
            .message
            .contains("1, 5, 10, 25, 50, 100"));
    }

    #[test]
    fn unknown_gc_variable_is_refused_with_a_suggestion() {
        let e = error_of(&[("GC_DRY_RUM", "true")]);
        assert_eq!(e.variable, "GC_DRY_RUM");
        assert!(e.message.contains("did you mean GC_DRY_RUN"), "{e}");
    }

    #[test]
    fn empty_counts_as_unset() {
        let c = with(&[("GC_KEEP_N", ""), ("GC_KEEP_REGEX", ""), ("GC_DRY_RUN", "")]).unwrap();
        assert_eq!(c.rules.keep_n, None);
        assert_eq!(c.rules.keep.as_str(), DEFAULT_KEEP_REGEX);
    }

    #[test]
    fn auto_mode_deletes_only_on_the_default_branch_outside_merge_requests() {
        let ci = |source: &str, branch: &str| {
            with(&[
                ("CI_PIPELINE_SOURCE", source),
                ("CI_COMMIT_REF_NAME", branch),
                ("CI_DEFAULT_BRANCH", "main"),
            ])
            .unwrap()
            .mode
        };
        assert!(!ci("schedule", "main").dry_run);
        assert!(!ci("push", "main").dry_run);
        assert!(ci("push", "feature").dry_run);
        assert!(ci("merge_request_event", "main").dry_run);
        assert!(
            with(&[
                ("CI_PIPELINE_SOURCE", "push"),
                ("CI_COMMIT_REF_NAME", "main"),
                ("CI_DEFAULT_BRANCH", "main"),
                ("CI_MERGE_REQUEST_IID", "4")
            ])
            .unwrap()
            .mode
            .dry_run
        );
        assert!(!with(&[("GC_DRY_RUN", "false")]).unwrap().mode.dry_run);
        assert!(with(&[("GC_DRY_RUN", "yes")]).unwrap().mode.dry_run);
    }

    #[test]
    fn job_token_only_for_project_scope_and_never_for_policy() {
        let mut vars: Vec<(String, String)> = base()
            .into_iter()
            .filter(|(k, _)| k != "API_TOKEN")
            .collect();
        vars.push(("CI_JOB_TOKEN".into(), "job".into()));
        let c = Config::from_vars(vars.clone()).unwrap();
        assert!(matches!(c.auth, Auth::Job(_)));
        let mut policy = vars.clone();
        policy.push(("GC_POLICY_APPLY".into(), "true".into()));
        assert_eq!(
            Config::from_vars(policy).unwrap_err().variable,
            "GC_POLICY_APPLY"
        );
        let mut group = vars;
        group.push(("GC_SCOPE".into(), "group".into()));
        group.push(("GC_GROUP".into(), "acme".into()));
        assert_eq!(Config::from_vars(group).unwrap_err().variable, "API_TOKEN");
    }

    #[test]
    fn missing_token_and_url_are_named() {
        let vars: Vec<(String, String)> = base()
            .into_iter()
            .filter(|(k, _)| k != "API_TOKEN")
            .collect();
        assert_eq!(Config::from_vars(vars).unwrap_err().variable, "API_TOKEN");
        let vars: Vec<(String, String)> = base()
            .into_iter()
            .filter(|(k, _)| k != "CI_API_V4_URL")
            .collect();
        assert_eq!(
            Config::from_vars(vars).unwrap_err().variable,
            "CI_API_V4_URL"
        );
    }

    #[test]
    fn token_never_appears_in_debug_output() {
        let c = with(&[]).unwrap();
        assert!(!format!("{c:?}").contains("glpat-secret"));
    }

    #[test]
    fn group_scope_takes_path_or_namespace_id() {
        let c = with(&[("GC_SCOPE", "group"), ("GC_GROUP", "acme/platform")]).unwrap();
        assert_eq!(c.scope, Scope::Group("acme/platform".into()));
        let c = with(&[("GC_SCOPE", "group"), ("CI_PROJECT_NAMESPACE_ID", "12")]).unwrap();
        assert_eq!(c.scope, Scope::Group("12".into()));
        assert_eq!(
            error_of(&[("GC_SCOPE", "group"), ("GC_GROUP", "a b")]).variable,
            "GC_GROUP"
        );
    }

    #[test]
    fn readme_documents_every_variable_with_its_default() {
        let readme = include_str!("../README.md");
        for v in VARIABLES {
            assert!(
                readme.contains(&format!("`{}`", v.name)),
                "README.md does not document {}",
                v.name
            );
        }
        assert!(
            readme.contains(&DEFAULT_KEEP_REGEX.replace('|', r"\|")),
            "README.md shows the default GC_KEEP_REGEX"
        );
    }

    #[test]
    fn a_plain_job_has_node_total_1_and_no_index() {
        assert_eq!(with(&[("CI_NODE_TOTAL", "1")]).unwrap().shard, None);
        assert_eq!(
            error_of(&[("CI_NODE_TOTAL", "3")]).variable,
            "CI_NODE_INDEX"
        );
    }

    #[test]
    fn shards_partition_projects() {
        let c = with(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")]).unwrap();
        let shard = c.shard.unwrap();
        assert!(shard.owns(4) && !shard.owns(3) && !shard.owns(5));
    }

    #[test]
    fn policy_defaults_follow_keep_regex() {
        let c = with(&[("GC_POLICY_APPLY", "true"), ("GC_KEEP_REGEX", "stable-.*")]).unwrap();
        let p = c.policy.unwrap();
        assert_eq!(
            (p.cadence.as_str(), p.keep_n, p.older_than.as_str()),
            ("1d", 10, "7d")
        );
        assert_eq!(p.name_regex_keep, "stable-.*");
    }
}
