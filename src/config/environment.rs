//! From the raw environment to a validated [`Config`], one named step per setting group.

use std::path::PathBuf;

use serde::Deserialize;

use super::parse::*;
use super::*;
use crate::duration::parse_age;

/// The raw environment, as `envy` reads it (it lower-cases names). Every field is a string so
/// that each value is validated here, with an error that names its variable.
#[derive(Deserialize, Default)]
pub(super) struct Raw {
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
    ci_registry: Option<String>,
    ci_registry_user: Option<String>,
    ci_registry_password: Option<String>,
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
    gc_delete_orphan_referrers: Option<String>,
    gc_inspect: Option<String>,
    gc_registry_url: Option<String>,
    gc_stale_ref_regex: Option<String>,
    gc_stale_ref_min_age: Option<String>,
    gc_repository_regex: Option<String>,
    gc_repository_exclude_regex: Option<String>,
    gc_api: Option<String>,
    gc_age_from: Option<String>,
    gc_concurrency: Option<String>,
    gc_max_deletions: Option<String>,
    gc_log_file: Option<String>,
    gc_junit_file: Option<String>,
    gc_report_file: Option<String>,
    gc_html_file: Option<String>,
    gc_dotenv_file: Option<String>,
    gc_policy_apply: Option<String>,
    gc_policy_enabled: Option<String>,
    gc_policy_cadence: Option<String>,
    gc_policy_keep_n: Option<String>,
    gc_policy_older_than: Option<String>,
    gc_policy_name_regex: Option<String>,
    gc_policy_name_regex_keep: Option<String>,
}

impl Raw {
    /// Every setting, in the order its errors are reported; each step is one function below.
    pub(super) fn validate(self) -> Result<Config, ConfigError> {
        let api_url = self.api_url()?;
        let graphql_url = self.graphql_url(&api_url)?;
        let scope = self.scope()?;
        let auth = self.auth(&scope)?;
        let api = self.api(&api_url, graphql_url.is_some(), &auth)?;
        let age_from = self.age_from(api)?;
        let mode = self.mode()?;
        let rules = self.rules()?;
        self.stale_ref_needs_api_token(&rules, &auth)?;
        let repositories = self.repositories()?;
        let concurrency = optional(&self.gc_concurrency, |v| {
            parse_count("GC_CONCURRENCY", v, 1, 64)
        })?
        .unwrap_or(8);
        let max_deletions = optional(&self.gc_max_deletions, |v| {
            parse_count("GC_MAX_DELETIONS", v, 0, usize::MAX)
        })?;
        let shard = self.shard()?;
        let ca_file = self.ca_file()?;
        let policy = self.policy(&rules.keep, &auth)?;
        let inspect = self.inspect(&auth)?;
        Ok(Config {
            api_url,
            graphql_url,
            api,
            age_from,
            auth,
            scope,
            repositories,
            mode,
            rules,
            concurrency,
            max_deletions,
            log_file: PathBuf::from(self.gc_log_file.as_deref().unwrap_or("gc.log")),
            junit_file: PathBuf::from(self.gc_junit_file.as_deref().unwrap_or("gc-junit.xml")),
            report_file: PathBuf::from(self.gc_report_file.as_deref().unwrap_or("gc-report.json")),
            html_file: PathBuf::from(self.gc_html_file.as_deref().unwrap_or("gc-report.html")),
            dotenv_file: PathBuf::from(
                self.gc_dotenv_file
                    .as_deref()
                    .unwrap_or(DEFAULT_DOTENV_FILE),
            ),
            ca_file,
            shard,
            job_url: self.ci_job_url.clone(),
            policy,
            inspect,
        })
    }

    /// `GC_INSPECT`, where the registry is, and how to log in to it (design §9): an access
    /// token with any user name (GitLab does not check it), else the job's registry login.
    fn inspect(&self, auth: &Auth) -> Result<InspectSettings, ConfigError> {
        let choice = optional(&self.gc_inspect, |v| {
            if v.eq_ignore_ascii_case("auto") {
                return Ok(InspectChoice::Auto);
            }
            parse_bool("GC_INSPECT", v)
                .map(|on| {
                    if on {
                        InspectChoice::On
                    } else {
                        InspectChoice::Off
                    }
                })
                .map_err(|_| {
                    err(
                        "GC_INSPECT",
                        format!("`{v}` is not allowed (expected auto, true or false)"),
                    )
                })
        })?
        .unwrap_or(InspectChoice::Auto);
        let url = match (&self.gc_registry_url, &self.ci_registry) {
            (Some(url), _) => Some(parse_api_url("GC_REGISTRY_URL", url)?),
            (None, Some(host)) => Some(parse_api_url(
                "CI_REGISTRY",
                &format!("https://{}", host.trim_end_matches('/')),
            )?),
            (None, None) => None,
        };
        if choice == InspectChoice::On && url.is_none() {
            return Err(err(
                "GC_REGISTRY_URL",
                "is not set, nor CI_REGISTRY, but GC_INSPECT=true needs the registry",
            ));
        }
        let login = match auth {
            Auth::Private(token) => RegistryLogin {
                user: "registry-gc".into(),
                password: token.clone(),
                password_variable: "API_TOKEN",
            },
            Auth::Job(token) => match (&self.ci_registry_user, &self.ci_registry_password) {
                (Some(user), Some(password)) => RegistryLogin {
                    user: user.clone(),
                    password: Secret(password.clone()),
                    password_variable: "CI_REGISTRY_PASSWORD",
                },
                _ => RegistryLogin {
                    user: "gitlab-ci-token".into(),
                    password: token.clone(),
                    password_variable: "CI_JOB_TOKEN",
                },
            },
        };
        Ok(InspectSettings { choice, url, login })
    }

    fn api_url(&self) -> Result<reqwest::Url, ConfigError> {
        match self.ci_api_v4_url.as_deref() {
            None => Err(err(
                "CI_API_V4_URL",
                "is not set (the GitLab API root, e.g. https://gitlab.example.com/api/v4)",
            )),
            Some(url) => parse_api_url("CI_API_V4_URL", url),
        }
    }

    /// `CI_API_GRAPHQL_URL`, or the one beside `CI_API_V4_URL`; on the same origin only.
    fn graphql_url(&self, api_url: &reqwest::Url) -> Result<Option<reqwest::Url>, ConfigError> {
        let Some(url) = self.ci_api_graphql_url.as_deref() else {
            return Ok(derive_graphql_url(api_url));
        };
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
        Ok(Some(url))
    }

    fn scope(&self) -> Result<Scope, ConfigError> {
        match self.gc_scope.as_deref().unwrap_or("project") {
            "project" => match &self.ci_project_id {
                Some(id) => Ok(Scope::Project(parse_id("CI_PROJECT_ID", id)?)),
                None => Err(err(
                    "CI_PROJECT_ID",
                    "is not set (needed for GC_SCOPE=project)",
                )),
            },
            "group" => match (&self.gc_group, &self.ci_project_namespace_id) {
                (Some(group), _) => Ok(Scope::Group(parse_group("GC_GROUP", group)?)),
                (None, Some(id)) => Ok(Scope::Group(parse_id("CI_PROJECT_NAMESPACE_ID", id)?)),
                (None, None) => Err(err(
                    "GC_GROUP",
                    "is not set and neither is CI_PROJECT_NAMESPACE_ID (needed for GC_SCOPE=group)",
                )),
            },
            "all" => Ok(Scope::All),
            other => Err(err(
                "GC_SCOPE",
                format!("`{other}` is not a scope (expected project, group or all)"),
            )),
        }
    }

    /// `API_TOKEN`, else the job token, which GitLab accepts for the job's own project only.
    fn auth(&self, scope: &Scope) -> Result<Auth, ConfigError> {
        match (&self.api_token, &self.ci_job_token) {
            (Some(token), _) => Ok(Auth::Private(Secret(token.clone()))),
            (None, Some(_)) if !matches!(scope, Scope::Project(_)) => Err(err(
                "API_TOKEN",
                "is not set, and CI_JOB_TOKEN only works for GC_SCOPE=project (GitLab accepts job tokens only on the job's own project)",
            )),
            (None, Some(token)) => Ok(Auth::Job(Secret(token.clone()))),
            (None, None) => Err(err(
                "API_TOKEN",
                "is not set (nor CI_JOB_TOKEN): create an access token with scope api",
            )),
        }
    }

    /// `GC_API`, refused up front where GraphQL cannot work (no URL, a job token).
    fn api(
        &self,
        api_url: &reqwest::Url,
        has_graphql_url: bool,
        auth: &Auth,
    ) -> Result<ApiChoice, ConfigError> {
        let api = optional(&self.gc_api, |v| {
            parse_choice(
                "GC_API",
                v,
                &[
                    ("auto", ApiChoice::Auto),
                    ("rest", ApiChoice::Rest),
                    ("graphql", ApiChoice::Graphql),
                ],
            )
        })?
        .unwrap_or(ApiChoice::Auto);
        if api == ApiChoice::Graphql && !has_graphql_url {
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
        Ok(api)
    }

    /// `GC_AGE_FROM` as set; `None` lets the backend decide once it is known.
    fn age_from(&self, api: ApiChoice) -> Result<Option<AgeFrom>, ConfigError> {
        let age_from = optional(&self.gc_age_from, |v| {
            parse_choice(
                "GC_AGE_FROM",
                v,
                &[
                    ("published", AgeFrom::Published),
                    ("created", AgeFrom::Created),
                ],
            )
        })?;
        if age_from == Some(AgeFrom::Published) && api == ApiChoice::Rest {
            return Err(err(
                "GC_AGE_FROM",
                "published needs GraphQL, but GC_API=rest (GitLab's REST API has no push times)",
            ));
        }
        Ok(age_from)
    }

    /// What the pure rules need.
    fn rules(&self) -> Result<RuleSettings, ConfigError> {
        Ok(RuleSettings {
            keep: parse_regex(
                "GC_KEEP_REGEX",
                self.gc_keep_regex.as_deref().unwrap_or(DEFAULT_KEEP_REGEX),
            )?,
            delete: parse_regex(
                "GC_DELETE_REGEX",
                self.gc_delete_regex.as_deref().unwrap_or(".*"),
            )?,
            // 0 would make GC_KEEP_N alone delete every candidate: surely not what was meant.
            keep_n: optional(&self.gc_keep_n, |v| {
                parse_count("GC_KEEP_N", v, 1, 1_000_000).map_err(|e| {
                    err(
                        "GC_KEEP_N",
                        format!("{} (unset it to turn the count rule off)", e.message),
                    )
                })
            })?,
            older_than: optional(&self.gc_older_than, |v| {
                parse_age(v).map_err(|e| err("GC_OLDER_THAN", format!("`{v}` {e}")))
            })?,
            delete_broken: optional(&self.gc_delete_broken, |v| {
                parse_bool("GC_DELETE_BROKEN", v)
            })?
            .unwrap_or(true),
            delete_orphan_cache: optional(&self.gc_delete_orphan_cache, |v| {
                parse_bool("GC_DELETE_ORPHAN_CACHE", v)
            })?
            .unwrap_or(true),
            delete_orphan_referrers: optional(&self.gc_delete_orphan_referrers, |v| {
                parse_bool("GC_DELETE_ORPHAN_REFERRERS", v)
            })?
            .unwrap_or(true),
            cache_suffix: self
                .gc_cache_suffix
                .clone()
                .unwrap_or_else(|| ".cache".to_string()),
            stale_ref: self.stale_ref()?,
            age_from: AgeFrom::Created,
            evidence: Default::default(),
        })
    }

    /// `GC_STALE_REF_REGEX` with its groups, and `GC_STALE_REF_MIN_AGE` (validated even when the
    /// rule is off, so a typo does not wait for the day it is turned on).
    fn stale_ref(&self) -> Result<Option<StaleRefSettings>, ConfigError> {
        let min_age = optional(&self.gc_stale_ref_min_age, |v| {
            parse_age(v).map_err(|e| err("GC_STALE_REF_MIN_AGE", format!("`{v}` {e}")))
        })?
        .unwrap_or_else(|| parse_age("1d").expect("a valid age"));
        let Some(source) = &self.gc_stale_ref_regex else {
            return Ok(None);
        };
        let regex = parse_regex("GC_STALE_REF_REGEX", source)?;
        let pattern =
            RefPattern::new(regex).map_err(|message| err("GC_STALE_REF_REGEX", message))?;
        Ok(Some(StaleRefSettings { pattern, min_age }))
    }

    /// Branches and merge requests are not registry endpoints: GitLab ignores a job token there
    /// (lib/api/branches.rb and lib/api/merge_requests.rb allow no job token), so the rule could
    /// never see a branch and would keep every tag it names.
    fn stale_ref_needs_api_token(
        &self,
        rules: &RuleSettings,
        auth: &Auth,
    ) -> Result<(), ConfigError> {
        if rules.stale_ref.is_some() && matches!(auth, Auth::Job(_)) {
            return Err(err(
                "GC_STALE_REF_REGEX",
                "needs API_TOKEN (scope read_api or api): GitLab does not accept CI_JOB_TOKEN on the branches and merge requests APIs",
            ));
        }
        Ok(())
    }

    /// `GC_REPOSITORY_REGEX` and `GC_REPOSITORY_EXCLUDE_REGEX`.
    fn repositories(&self) -> Result<RepositoryFilter, ConfigError> {
        Ok(RepositoryFilter {
            include: parse_regex(
                "GC_REPOSITORY_REGEX",
                self.gc_repository_regex.as_deref().unwrap_or(".*"),
            )?,
            exclude: optional(&self.gc_repository_exclude_regex, |v| {
                parse_regex("GC_REPOSITORY_EXCLUDE_REGEX", v)
            })?,
        })
    }

    /// `CI_NODE_INDEX` of `CI_NODE_TOTAL`; a single job has no shard.
    fn shard(&self) -> Result<Option<Shard>, ConfigError> {
        match (&self.ci_node_index, &self.ci_node_total) {
            (None, None) => Ok(None),
            (Some(index), Some(total)) => {
                let total = parse_count("CI_NODE_TOTAL", total, 1, 1_000_000)? as u64;
                let index = parse_count("CI_NODE_INDEX", index, 1, total as usize)? as u64;
                Ok(Some(Shard { index, total }).filter(|s| s.total > 1))
            }
            (Some(_), None) => Err(err("CI_NODE_TOTAL", "is not set but CI_NODE_INDEX is")),
            // GitLab sets CI_NODE_TOTAL=1 in every job and CI_NODE_INDEX only in `parallel:`
            // jobs (lib/gitlab/ci/variables/builder.rb).
            (None, Some(total)) if total.trim() == "1" => Ok(None),
            (None, Some(total)) => Err(err(
                "CI_NODE_INDEX",
                format!("is not set but CI_NODE_TOTAL={total}"),
            )),
        }
    }

    fn ca_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        let ca_file = self.ci_server_tls_ca_file.as_ref().map(PathBuf::from);
        if let Some(path) = &ca_file {
            if !path.is_file() {
                return Err(err(
                    "CI_SERVER_TLS_CA_FILE",
                    format!("`{}` is not a readable file", path.display()),
                ));
            }
        }
        Ok(ca_file)
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

    /// `GC_POLICY_*`, validated even when not applied: a typo should not wait for the day
    /// someone turns `GC_POLICY_APPLY` on. Applying needs `API_TOKEN`.
    fn policy(&self, keep: &FullRegex, auth: &Auth) -> Result<Option<PolicySettings>, ConfigError> {
        let apply = self
            .gc_policy_apply
            .as_deref()
            .map(|v| parse_bool("GC_POLICY_APPLY", v))
            .transpose()?
            .unwrap_or(false);
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
        if apply && matches!(auth, Auth::Job(_)) {
            return Err(err(
                "GC_POLICY_APPLY",
                "needs API_TOKEN: a job token cannot change project settings (GitLab accepts CI_JOB_TOKEN only on registry endpoints)",
            ));
        }
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

/// An optional variable through its parser: unset stays `None`.
fn optional<T>(
    value: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    value.as_deref().map(parse).transpose()
}
