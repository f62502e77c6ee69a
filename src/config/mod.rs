//! Configuration, read once from the environment and validated before any request.
//!
//! registry-gc runs in CI jobs, where the environment is the only interface a user controls.
//! Everything is checked up front so that a typo can never turn into a deletion: an invalid
//! regex, duration, number or boolean, and even an unknown `GC_*` variable (a misspelled
//! `GC_DRY_RUN` would otherwise be ignored silently), stops the run with exit code 2 before the
//! first HTTP request. A variable set to the empty string counts as unset, because CI templates
//! routinely pass empty inputs through.

mod environment;
mod parse;
mod variables;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use regex::Regex;

use crate::duration::Age;
use environment::Raw;
use parse::err;
pub use parse::{parse_bool, ConfigError};
pub use variables::*;
use variables::{is_ours, unknown_variable_message};

/// A secret that cannot be printed by accident: `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Secret {
        Secret(secret.to_string())
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

impl Mode {
    /// `dry-run` or `delete`, as the reports write it.
    pub fn word(&self) -> &'static str {
        if self.dry_run {
            "dry-run"
        } else {
            "delete"
        }
    }
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

    /// The groups of a whole-name match, if the name matches.
    pub fn captures<'t>(&self, text: &'t str) -> Option<regex::Captures<'t>> {
        self.regex.captures(text)
    }

    fn has_group(&self, name: &str) -> bool {
        self.regex.capture_names().flatten().any(|n| n == name)
    }
}

/// `GC_STALE_REF_REGEX`: which tags are named after a branch (group `slug`, compared with
/// `CI_COMMIT_REF_SLUG`) or a merge request (group `mr`, its iid), design §10.
#[derive(Clone, Debug)]
pub struct RefPattern {
    regex: FullRegex,
}

/// What a tag's name says it was built for: a branch slug, a merge request, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedRef<'t> {
    pub slug: Option<&'t str>,
    pub mr: Option<u64>,
}

impl RefPattern {
    /// A pattern needs a group to read a ref from: without one it could match tags but never say
    /// which branch they belong to.
    pub fn new(regex: FullRegex) -> Result<RefPattern, String> {
        if regex.has_group("slug") || regex.has_group("mr") {
            Ok(RefPattern { regex })
        } else {
            Err(format!(
                "`{}` has no named group `slug` or `mr` (e.g. `mr-(?P<mr>[0-9]+)|(?P<slug>.+)`): registry-gc could not tell which branch or merge request a tag is named after",
                regex.as_str()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// The ref `tag` is named after, or `None` if the pattern does not match it or the match
    /// names nothing (neither group took part). An `mr` group that did not capture a number
    /// names no merge request that could exist, so such a tag is not judged at all rather than
    /// judged gone.
    pub fn named_ref<'t>(&self, tag: &'t str) -> Option<NamedRef<'t>> {
        let groups = self.regex.captures(tag)?;
        let slug = groups.name("slug").map(|m| m.as_str());
        let mr = match groups.name("mr") {
            None => None,
            Some(m) if !m.as_str().is_empty() && m.as_str().bytes().all(|b| b.is_ascii_digit()) => {
                Some(m.as_str().parse().ok()?)
            }
            Some(_) => return None,
        };
        (slug.is_some() || mr.is_some()).then_some(NamedRef { slug, mr })
    }
}

/// `GC_STALE_REF_REGEX` and `GC_STALE_REF_MIN_AGE`: the `stale-ref` rule, when it is on.
#[derive(Clone, Debug)]
pub struct StaleRefSettings {
    pub pattern: RefPattern,
    /// A tag younger than this is kept: its branch may be re-created, its pipeline running.
    pub min_age: Age,
}

/// `GC_REPOSITORY_REGEX` and `GC_REPOSITORY_EXCLUDE_REGEX`: which repositories a run decides,
/// by full path (`acme/shop/app.cache`). The exclusion wins.
#[derive(Clone, Debug)]
pub struct RepositoryFilter {
    pub include: FullRegex,
    pub exclude: Option<FullRegex>,
}

impl RepositoryFilter {
    /// `None` if the run decides `path`; else why not, for the report.
    pub fn left_out(&self, path: &str) -> Option<String> {
        match &self.exclude {
            Some(exclude) if exclude.is_match(path) => Some(format!(
                "matches GC_REPOSITORY_EXCLUDE_REGEX `{}`",
                exclude.as_str()
            )),
            _ if !self.include.is_match(path) => Some(format!(
                "does not match GC_REPOSITORY_REGEX `{}`",
                self.include.as_str()
            )),
            _ => None,
        }
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
    /// `GC_DELETE_ORPHAN_REFERRERS`: signatures, attestations and SBOMs whose subject is gone.
    pub delete_orphan_referrers: bool,
    pub cache_suffix: String,
    /// The `stale-ref` rule; `None` when `GC_STALE_REF_REGEX` is unset.
    pub stale_ref: Option<StaleRefSettings>,
    /// Resolved once the backend is known (`GC_AGE_FROM` unset means published where the backend
    /// provides it).
    pub age_from: AgeFrom,
    /// Resolved once the registry has been asked (see [`crate::rules::Evidence`]).
    pub evidence: crate::rules::Evidence,
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
    pub repositories: RepositoryFilter,
    pub mode: Mode,
    pub rules: RuleSettings,
    pub concurrency: usize,
    pub max_deletions: Option<usize>,
    pub log_file: PathBuf,
    pub junit_file: PathBuf,
    pub report_file: PathBuf,
    pub html_file: PathBuf,
    /// Also written when the configuration is refused: see [`dotenv_file_from_env`].
    pub dotenv_file: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub shard: Option<Shard>,
    pub job_url: Option<String>,
    pub policy: Option<PolicySettings>,
    pub inspect: InspectSettings,
}

impl Config {
    /// The variable that holds the registry password this run logs in with.
    pub fn inspect_password_variable(&self) -> &'static str {
        self.inspect.login.password_variable
    }
}

/// `GC_INSPECT`: whether the registry is read where GitLab cannot show a manifest (design §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectChoice {
    /// When the registry answers; otherwise the seed's rule, and the run says why.
    Auto,
    /// Required: no registry access is a configuration error, before anything is deleted.
    On,
    /// Never contacts the registry.
    Off,
}

/// Where the registry is and how registry-gc logs in to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InspectSettings {
    pub choice: InspectChoice,
    /// `GC_REGISTRY_URL`, else `https://$CI_REGISTRY`; `None` when neither is set.
    pub url: Option<reqwest::Url>,
    pub login: RegistryLogin,
}

/// Basic credentials for the registry's token realm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryLogin {
    pub user: String,
    pub password: Secret,
    /// Where the password comes from, for errors.
    pub password_variable: &'static str,
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

/// Where `gc.env` goes when the configuration is refused (exit 2) and no [`Config`] exists:
/// `GC_DOTENV_FILE` as set, whatever else is wrong, so that a later job reads this run's
/// `config-error` there and never figures an earlier run left behind.
pub fn dotenv_file_from_env() -> PathBuf {
    match std::env::var_os("GC_DOTENV_FILE") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(DEFAULT_DOTENV_FILE),
    }
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
    m.insert(
        "delete_orphan_referrers",
        r.delete_orphan_referrers.to_string(),
    );
    m.insert("cache_suffix", r.cache_suffix.clone());
    m.insert("age_from", r.age_from.as_str().to_string());
    m.insert(
        "stale_ref_regex",
        r.stale_ref
            .as_ref()
            .map_or("unset".into(), |s| s.pattern.as_str().to_string()),
    );
    if let Some(s) = &r.stale_ref {
        m.insert("stale_ref_min_age", s.min_age.to_string());
    }
    m.insert(
        "repository_regex",
        config.repositories.include.as_str().to_string(),
    );
    m.insert(
        "repository_exclude_regex",
        config
            .repositories
            .exclude
            .as_ref()
            .map_or("unset".into(), |r| r.as_str().to_string()),
    );
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
    fn stale_ref_regex_needs_a_group_and_an_access_token() {
        let c = with(&[(
            "GC_STALE_REF_REGEX",
            "mr-(?P<mr>[0-9]+)|(?P<slug>.+)-[0-9a-f]{8}",
        )])
        .unwrap();
        let s = c.rules.stale_ref.expect("the rule is on");
        assert_eq!(s.min_age.to_string(), "1d");
        let named = |tag| s.pattern.named_ref(tag);
        assert_eq!(
            named("mr-13"),
            Some(NamedRef {
                slug: None,
                mr: Some(13)
            }),
            "the narrower alternative first"
        );
        assert_eq!(
            named("feature-x-3f9a2c1e"),
            Some(NamedRef {
                slug: Some("feature-x"),
                mr: None
            })
        );
        assert_eq!(named("feature-x"), None, "full match");
        assert!(
            with(&[]).unwrap().rules.stale_ref.is_none(),
            "off by default"
        );
        let s = with(&[
            ("GC_STALE_REF_REGEX", "mr-(?P<mr>.+)|(?P<other>.+)"),
            ("GC_STALE_REF_MIN_AGE", "3h"),
        ])
        .unwrap()
        .rules
        .stale_ref
        .unwrap();
        assert_eq!(s.min_age.to_string(), "3h");
        assert_eq!(
            s.pattern.named_ref("mr-x"),
            None,
            "not a merge request number"
        );
        assert_eq!(s.pattern.named_ref("other"), None, "no ref group took part");
        assert_eq!(
            s.pattern.named_ref("mr-99999999999999999999999"),
            None,
            "beyond any iid"
        );

        let e = error_of(&[("GC_STALE_REF_REGEX", "feature-.*")]);
        assert_eq!(e.variable, "GC_STALE_REF_REGEX");
        assert!(e.message.contains("no named group `slug` or `mr`"), "{e}");
        assert_eq!(
            error_of(&[("GC_STALE_REF_REGEX", "(?P<slug>")]).variable,
            "GC_STALE_REF_REGEX"
        );
        assert_eq!(
            error_of(&[("GC_STALE_REF_MIN_AGE", "1 day")]).variable,
            "GC_STALE_REF_MIN_AGE"
        );
        let job = [
            ("API_TOKEN", ""),
            ("CI_JOB_TOKEN", "job"),
            ("GC_STALE_REF_REGEX", "(?P<slug>.+)"),
        ];
        let e = error_of(&job);
        assert_eq!(e.variable, "GC_STALE_REF_REGEX");
        assert!(e.message.contains("needs API_TOKEN"), "{e}");
    }

    #[test]
    fn repository_filters_match_whole_paths_and_exclusion_wins() {
        let c = with(&[
            ("GC_REPOSITORY_REGEX", "acme/.*"),
            ("GC_REPOSITORY_EXCLUDE_REGEX", r".*\.cache"),
        ])
        .unwrap();
        let f = &c.repositories;
        assert_eq!(f.left_out("acme/shop/app"), None);
        assert!(f
            .left_out("acme/shop/app.cache")
            .unwrap()
            .contains("GC_REPOSITORY_EXCLUDE_REGEX"));
        assert!(f
            .left_out("other/acme/app")
            .unwrap()
            .contains("does not match GC_REPOSITORY_REGEX `acme/.*`"));
        assert_eq!(with(&[]).unwrap().repositories.left_out("x/y"), None);
        assert_eq!(
            error_of(&[("GC_REPOSITORY_EXCLUDE_REGEX", "(")]).variable,
            "GC_REPOSITORY_EXCLUDE_REGEX"
        );
        assert_eq!(
            error_of(&[("GC_REPOSITORY_REGEX", "[")]).variable,
            "GC_REPOSITORY_REGEX"
        );
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
        let readme = include_str!("../../README.md");
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
