//! One run, start to end, as the pipeline of design §1: choose the API → reach the registry →
//! scope → facts (GitLab's, then the registry's) → decisions (pure) → safety limit → act →
//! built-in policy → reports.
//!
//! [`run`] reads as that list: each stage is one function of [`Steps`] that takes what the
//! stage before it produced and returns what the next one needs. Data flows one way. Nothing is
//! deleted until the complete plan exists; every early stop (a failed listing, a safety limit, a
//! signal) still writes every report, and a run that stops before it decides anything still
//! writes `gc.env`, so a later job never reads another run's figures. What goes wrong along the
//! way without stopping the run (skipped repositories, failed listings, the reason a run
//! stopped) is collected in [`Notes`], which the reports render.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::backend::{self, Choice, ChoiceError};
use crate::config::{self, Config, InspectChoice};
use crate::delete::{self, Outcome};
use crate::facts;
use crate::gitlab::{ApiError, Client};
use crate::inspect::{self, Inspections};
use crate::plan::{self, Plan};
use crate::policy::{self, PolicyResult};
use crate::progress::Progress;
use crate::registry::{Registry, RegistryError};
use crate::report::{self, dotenv::Figures, log::DecisionLog, Run, Summary};
use crate::rules::Action;
use crate::rules::Evidence;
use crate::scope::{self, InScope, ScopeError, Skipped};
use crate::signals::Interrupt;

/// Exit codes (design §5).
pub mod exit {
    pub const OK: i32 = 0;
    pub const API_ERRORS: i32 = 1;
    pub const CONFIG: i32 = 2;
    pub const REFUSED: i32 = 3;

    /// The word `gc.env` gives later jobs for an exit code (`REGISTRY_GC_STATUS`); the codes
    /// not named here are the signals' (130, 143).
    pub fn status(code: i32) -> &'static str {
        match code {
            OK => "ok",
            API_ERRORS => "errors",
            CONFIG => "config-error",
            REFUSED => "refused",
            _ => "interrupted",
        }
    }
}

/// Runs registry-gc with a validated configuration and returns the process exit code.
pub fn run(config: &Config, interrupt: Interrupt) -> i32 {
    let started = Started::now();
    let (log, client) = match open(config, &interrupt) {
        Ok(opened) => opened,
        Err(code) => return stopped_before_planning(config, code),
    };
    announce(&log, config, &started);
    let (choice, config) = match choose_api(&client, config, &log, &interrupt) {
        Ok(chosen) => chosen,
        Err(code) => return stopped_before_planning(config, code),
    };
    let (access, config) = match reach_registry(&config, &log, &interrupt) {
        Ok(reached) => reached,
        Err(code) => return stopped_before_planning(&config, code),
    };
    let steps = Steps {
        config: &config,
        client: &client,
        registry: &access,
        log: &log,
        interrupt: &interrupt,
        progress: Progress::new(Duration::from_secs(5)),
    };
    let mut notes = Notes::default();
    let in_scope = steps.scope(&mut notes);
    let plan = steps.decide(&choice, in_scope, &mut notes);
    let mut outcomes = steps.record_plan(&plan, &mut notes);
    let refused = steps.safety_limit(&plan, &mut outcomes, &mut notes);
    steps.act(&choice, &plan, &mut outcomes, refused);
    let policies = steps.apply_policy(refused, &mut notes);
    steps.report(
        &started, &choice, &plan, &outcomes, &policies, notes, refused,
    )
}

/// A run that ends before it lists anything (exit 2, or a signal during the API probe) still
/// writes `gc.env`, with every count 0 (nothing was decided or deleted): the only report it
/// writes. Returns `code`, which already says the run failed.
fn stopped_before_planning(config: &Config, code: i32) -> i32 {
    // A configuration error says `none` whatever the mode, as when no configuration was read.
    let (mode, errors) = match code {
        exit::CONFIG => (None, 1),
        _ => (Some(&config.mode), 0),
    };
    let figures = Figures::nothing_done(mode, exit::status(code), errors);
    write_dotenv(&config.dotenv_file, &figures);
    code
}

/// `gc.env`; `false`, after saying why, if it could not be written.
pub fn write_dotenv(path: &std::path::Path, figures: &Figures) -> bool {
    match report::dotenv::write(path, figures) {
        Ok(()) => true,
        Err(e) => {
            log::error!("GC_DOTENV_FILE: cannot write {}: {e}", path.display());
            false
        }
    }
}

/// When the run started, by the wall clock (for the reports) and the monotonic one (for the
/// duration).
struct Started {
    at: jiff::Timestamp,
    clock: Instant,
}

impl Started {
    fn now() -> Started {
        Started {
            at: jiff::Timestamp::now(),
            clock: Instant::now(),
        }
    }
}

/// What the stages report without stopping the run.
#[derive(Default)]
struct Notes {
    skipped: Vec<Skipped>,
    errors: Vec<ScopeError>,
    /// Why the run stopped early or refused to act.
    stopped: Option<String>,
    inspections: Inspections,
}

/// The decision log and the API client; failing to make either is a configuration error.
fn open(config: &Config, interrupt: &Interrupt) -> Result<(DecisionLog, Client), i32> {
    let log = DecisionLog::create(&config.log_file).map_err(|e| {
        log::error!(
            "GC_LOG_FILE: cannot create {}: {e}",
            config.log_file.display()
        );
        exit::CONFIG
    })?;
    let client = Client::new(config, interrupt.clone()).map_err(|e| {
        log::error!("{e}");
        exit::CONFIG
    })?;
    Ok((log, client))
}

/// The first line of gc.log and of stderr: what this run will do, and why.
fn announce(log: &DecisionLog, config: &Config, started: &Started) {
    let mode = config.mode.word();
    log.text(&format!(
        "registry-gc {} started {}: {mode} ({}), scope: {}",
        env!("CARGO_PKG_VERSION"),
        started.at,
        config.mode.why,
        config.scope
    ));
    log::info!("{mode} ({}), scope: {}", config.mode.why, config.scope);
}

/// The API for tags, and with it the age the rules judge. Failing here is a configuration
/// error: nothing has been decided yet.
fn choose_api(
    client: &Client,
    config: &Config,
    log: &DecisionLog,
    interrupt: &Interrupt,
) -> Result<(Choice, Config), i32> {
    let resolved = backend::choose(client, config).and_then(|choice| {
        let age_from = backend::age_from(config, &choice)?;
        Ok((choice, age_from))
    });
    let (choice, age_from) = match resolved {
        Ok(resolved) => resolved,
        Err(ChoiceError::Interrupted) => return Err(interrupt.exit_code().unwrap_or(exit::CONFIG)),
        Err(ChoiceError::Config { variable, message }) => {
            log::error!("{variable}: {message}");
            log.text(&format!("stopped      {variable}: {message}"));
            return Err(exit::CONFIG);
        }
    };
    let mut config = config.clone();
    config.rules.age_from = age_from;
    log.text(&format!(
        "api          {} ({}); ages from {}",
        choice.backend.name(),
        choice.why,
        age_from.as_str()
    ));
    log::info!("api: {} ({})", choice.backend.name(), choice.why);
    Ok((choice, config))
}

/// The registry as this run reaches it, and what that is called in the reports.
struct RegistryAccess {
    registry: Option<Registry>,
    /// `on`, `off (GC_INSPECT=false)`, `unavailable (<why>)`.
    status: String,
    /// What the registry says it is, and what that means for the space freed.
    identity: String,
}

/// The registry, read where GitLab cannot show a manifest (design §9), and with it what makes
/// a tag broken in this run ([`Evidence`]). `GC_INSPECT=true` without a usable registry is a
/// configuration error naming the variable to fix; `auto` goes on with the seed's rule and
/// says why.
fn reach_registry(
    config: &Config,
    log: &DecisionLog,
    interrupt: &Interrupt,
) -> Result<(RegistryAccess, Config), i32> {
    let settings = &config.inspect;
    let unreached = |status: String, why: String| {
        let mut config = config.clone();
        config.rules.evidence = Evidence::DetailsOnly(why.into());
        (status, config)
    };
    let (registry, identity, (status, config)) = match (settings.choice, &settings.url) {
        (InspectChoice::Off, _) => (
            None,
            String::new(),
            unreached("off (GC_INSPECT=false)".into(), "GC_INSPECT=false".into()),
        ),
        (_, None) => {
            let why = "GC_REGISTRY_URL and CI_REGISTRY are unset".to_string();
            (
                None,
                String::new(),
                unreached(format!("unavailable ({why})"), why),
            )
        }
        (choice, Some(url)) => {
            let connected = crate::http::client(config.ca_file.as_deref(), config.concurrency)
                .map_err(|e| RegistryError::Transport {
                    request: "registry client".into(),
                    detail: e,
                })
                .and_then(|http| {
                    Registry::connect(
                        url,
                        &config.api_url,
                        &settings.login,
                        http,
                        config.concurrency,
                        interrupt.clone(),
                    )
                });
            match connected {
                Ok(registry) => {
                    let identity = describe_registry(url, &registry.identity);
                    let mut config = config.clone();
                    config.rules.evidence = Evidence::Inspected;
                    (Some(registry), identity, ("on".to_string(), config))
                }
                Err(RegistryError::Interrupted) => {
                    return Err(interrupt.exit_code().unwrap_or(exit::CONFIG))
                }
                Err(e) if choice == InspectChoice::On => {
                    let variable = match &e {
                        RegistryError::Unauthorized { .. } => config.inspect_password_variable(),
                        _ => "GC_REGISTRY_URL",
                    };
                    let message = format!("GC_INSPECT=true, but the registry cannot be read: {e}");
                    log::error!("{variable}: {message}");
                    log.text(&format!("stopped      {variable}: {message}"));
                    return Err(exit::CONFIG);
                }
                Err(e) => {
                    let why = e.to_string();
                    log::warn!("registry inspection unavailable: {why}; a tag whose details answer 404 is broken by the seed's rule");
                    (
                        None,
                        String::new(),
                        unreached(format!("unavailable ({why})"), why),
                    )
                }
            }
        }
    };
    if !identity.is_empty() {
        log.text(&format!("registry     {identity}"));
    }
    log.text(&format!("inspection   {status}"));
    log::info!("inspection: {status}");
    Ok((
        RegistryAccess {
            registry,
            status,
            identity,
        },
        config,
    ))
}

/// What `GET /v2/` says, and what it means for the bytes deletions free.
fn describe_registry(url: &reqwest::Url, identity: &crate::registry::Identity) -> String {
    let origin = crate::http::origin(url);
    match (&identity.version, identity.database) {
        (Some(version), true) => format!(
            "{origin}: GitLab container registry {version} with its metadata database: the manifests of deleted tags go by online garbage collection within a day"
        ),
        (Some(version), false) => format!(
            "{origin}: GitLab container registry {version} without its metadata database: deleted tags leave untagged manifests until the administrator's offline garbage collection (gitlab-ctl registry-garbage-collect -m) frees them"
        ),
        (None, _) => format!(
            "{origin}: not GitLab's own registry (no Gitlab-Container-Registry-Version): deleted tags leave untagged manifests until the registry's offline garbage collection frees them"
        ),
    }
}

/// What every stage after the API choice works with.
struct Steps<'a> {
    config: &'a Config,
    client: &'a Client,
    registry: &'a RegistryAccess,
    log: &'a DecisionLog,
    interrupt: &'a Interrupt,
    progress: Progress,
}

impl Steps<'_> {
    /// 1. The repositories in scope. A failed listing leaves nothing to do, and says so.
    fn scope(&self, notes: &mut Notes) -> InScope {
        let mut in_scope = match scope::repositories(self.client, self.config) {
            Ok(s) => s,
            Err(e) => {
                if e != ApiError::Interrupted {
                    log::error!("{e}");
                    notes.errors.push(ScopeError {
                        what: self.config.scope.to_string(),
                        error: e.to_string(),
                    });
                }
                notes.stopped = Some(format!("listing the repositories in scope failed: {e}"));
                InScope::default()
            }
        };
        notes.skipped.append(&mut in_scope.skipped);
        notes.errors.append(&mut in_scope.errors);
        for s in &notes.skipped {
            self.log
                .text(&format!("skipped      {}  ({})", s.what, s.why));
        }
        for e in &notes.errors {
            self.log
                .text(&format!("error        {}  {}", e.what, e.error));
        }
        log::info!(
            "{} repositories in {} projects",
            in_scope.repositories.len(),
            in_scope.projects.len()
        );
        in_scope
    }

    /// 2. Facts and 3. the plan. Repositories seen but not examined must never look "missing".
    fn decide(&self, choice: &Choice, in_scope: InScope, notes: &mut Notes) -> Plan {
        let unknown: HashSet<String> = notes.skipped.iter().map(|s| s.what.clone()).collect();
        let gathered = facts::gather(
            self.client,
            &choice.backend,
            &self.config.rules,
            facts::Repositories {
                decided: in_scope.repositories,
                counterparts_only: in_scope.counterparts_only,
            },
            &unknown,
            self.config.concurrency,
            &self.progress,
        );
        let mut facts = gathered.facts;
        self.record_gathering_errors(&facts, notes);
        self.log_unknown_protection(&facts, gathered.protection_unknown);
        if let Some(registry) = &self.registry.registry {
            notes.inspections = inspect::inspect(
                registry,
                &self.config.rules,
                &mut facts,
                self.config.concurrency,
                &self.progress,
            );
        }
        let rules = self.rules_for(&facts);
        plan::plan(&rules, jiff::Timestamp::now(), facts, &unknown)
    }

    /// The rules as this run's facts leave them: a registry not read whose listings carried
    /// media types has GitLab's metadata database, where a 404 on details proves nothing.
    fn rules_for(&self, facts: &[facts::RepoFacts]) -> config::RuleSettings {
        let mut rules = self.config.rules.clone();
        if let Evidence::DetailsOnly(why) = &rules.evidence {
            if facts.iter().any(|f| f.metadata_database) {
                rules.evidence = Evidence::Nothing(why.clone());
            }
        }
        rules
    }

    /// Projects whose tag protection rules could not be read (gathering read them, over REST
    /// and GraphQL without `userPermissions`, so that protected tags are known up front).
    fn log_unknown_protection(&self, facts: &[facts::RepoFacts], mut unknown: Vec<(u64, String)>) {
        unknown.sort();
        let paths: std::collections::HashMap<u64, &str> = facts
            .iter()
            .map(|f| (f.repo.project_id, f.repo.project_path.as_str()))
            .collect();
        for (project, why) in unknown {
            let path = paths.get(&project).copied().unwrap_or("?");
            self.log.text(&format!(
                "protection   {path}  rules unknown ({why}): GitLab's answer to a DELETE decides"
            ));
        }
    }

    /// Failures the plan has no repository to show: the tag list of a repository read only as a
    /// counterpart (its caches are then not judged on it; an error of the run), and a project's
    /// branches or merge requests (logged once here; each tag they leave undecided is kept as
    /// `error` and counted there).
    fn record_gathering_errors(&self, facts: &[facts::RepoFacts], notes: &mut Notes) {
        let mut projects_logged = HashSet::new();
        for f in facts {
            if let (Err(e), facts::Role::CounterpartOnly) = (&f.tags, f.role) {
                let error = format!("tag list failed (read as a cache's counterpart): {e}");
                log::error!("{}: {error}", f.repo.path);
                self.log
                    .text(&format!("error        {}  {error}", f.repo.path));
                notes.errors.push(ScopeError {
                    what: f.repo.path.clone(),
                    error,
                });
            }
            if let crate::refs::Refs::Unknown(e) = &f.refs {
                if projects_logged.insert(f.repo.project_id) {
                    log::error!("{}: {e}", f.repo.project_path);
                    self.log.text(&format!(
                        "error        {}  branches and merge requests: {e}; the tags named after them are kept",
                        f.repo.project_path
                    ));
                }
            }
        }
    }

    /// The outcomes before acting, with a gc.log line for every decision that is final now
    /// (deletions are logged when they happen). A signal that came during planning stops here.
    fn record_plan(&self, plan: &Plan, notes: &mut Notes) -> Vec<Vec<Outcome>> {
        let dry_run = self.config.mode.dry_run;
        let mut outcomes = Outcome::initial(plan, dry_run);
        for (repo, repo_outcomes) in plan.repos.iter().zip(&outcomes) {
            if let Some(e) = &repo.error {
                log::error!("{}: {e}", repo.repo.path);
                self.log.text(&format!(
                    "error        {}  tag list failed, repository left untouched: {e}",
                    repo.repo.path
                ));
            }
            for (tag, outcome) in repo.tags.iter().zip(repo_outcomes) {
                if tag.decision.action == Action::Keep || dry_run {
                    self.log.tag(&repo.repo, tag, outcome);
                }
            }
        }
        if self.interrupt.is_raised() {
            notes
                .stopped
                .get_or_insert_with(|| "interrupted before any deletion".into());
            mark_not_attempted(plan, &mut outcomes, "interrupted before deletion");
        }
        outcomes
    }

    /// 4. `GC_MAX_DELETIONS`, judged on the complete plan. Returns whether the run is refused.
    fn safety_limit(&self, plan: &Plan, outcomes: &mut [Vec<Outcome>], notes: &mut Notes) -> bool {
        let planned = plan.deletions();
        let Some(max) = self.config.max_deletions.filter(|&max| planned > max) else {
            return false;
        };
        let why = format!(
            "the plan deletes {planned} tags, more than GC_MAX_DELETIONS={max}: nothing deleted"
        );
        log::error!("{why}");
        if !self.config.mode.dry_run {
            mark_not_attempted(plan, outcomes, &why);
        }
        notes.stopped = Some(why);
        true
    }

    /// 5. Deletes what the plan deletes, unless this is a dry run or the run was stopped.
    fn act(&self, choice: &Choice, plan: &Plan, outcomes: &mut [Vec<Outcome>], refused: bool) {
        if self.config.mode.dry_run {
            return;
        }
        let planned = plan.deletions();
        if refused || self.interrupt.is_raised() || planned == 0 {
            // Planned deletions that did not happen still get their line.
            for (repo, repo_outcomes) in plan.repos.iter().zip(outcomes.iter()) {
                for (tag, outcome) in repo.tags.iter().zip(repo_outcomes) {
                    if tag.decision.action == Action::Delete {
                        self.log.tag(&repo.repo, tag, outcome);
                    }
                }
            }
            return;
        }
        log::info!("deleting {planned} tags");
        delete::execute(
            &delete::With {
                client: self.client,
                backend: &choice.backend,
                concurrency: self.config.concurrency,
                interrupt: self.interrupt,
                progress: &self.progress,
            },
            plan,
            outcomes,
            &|repo, tag, outcome| self.log.tag(repo, tag, outcome),
        );
    }

    /// 6. GitLab's built-in cleanup policy, when asked for and the run was not stopped.
    fn apply_policy(&self, refused: bool, notes: &mut Notes) -> Vec<PolicyResult> {
        let Some(desired) = &self.config.policy else {
            return Vec::new();
        };
        if refused || self.interrupt.is_raised() {
            self.log
                .text("policy       not applied: the run was stopped");
            return Vec::new();
        }
        let (projects, skipped) = match scope::projects(self.client, self.config) {
            Ok(found) => found,
            Err(e) => {
                log::error!("{e}");
                self.log.text(&format!(
                    "error        cleanup policy: cannot list the projects in scope: {e}"
                ));
                notes.errors.push(ScopeError {
                    what: "container_expiration_policy".into(),
                    error: e.to_string(),
                });
                return Vec::new();
            }
        };
        for s in skipped {
            self.log.text(&format!(
                "skipped      {}  (cleanup policy: {})",
                s.what, s.why
            ));
        }
        let policies = crate::pool::map(&projects, self.config.concurrency, |p| {
            policy::apply_one(self.client, p, desired, self.config.mode.dry_run)
        });
        for p in &policies {
            self.log.text(&policy_line(p));
        }
        policies
    }

    /// 7. The reports: summary, JUnit, JSON, HTML, then `gc.env`; returns the exit code.
    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        started: &Started,
        choice: &Choice,
        plan: &Plan,
        outcomes: &[Vec<Outcome>],
        policies: &[PolicyResult],
        mut notes: Notes,
        refused: bool,
    ) -> i32 {
        let config = self.config;
        if let Some(code) = self.interrupt.exit_code() {
            notes
                .stopped
                .get_or_insert_with(|| format!("interrupted by signal (exit {code})"));
        }
        let summary = self.summary(started, choice, plan, outcomes, policies, &notes);
        if let Some(why) = &notes.stopped {
            self.log.text(&format!("stopped      {why}"));
        }
        self.log.summary(&summary);
        let run = Run {
            version: env!("CARGO_PKG_VERSION"),
            started_at: started.at,
            mode: &config.mode,
            scope: config.scope.to_string(),
            settings: {
                let mut settings = config::describe(config);
                settings.insert("api", choice.backend.name().to_string());
                settings.insert("api_reason", choice.why.clone());
                settings.insert("inspection", self.registry.status.clone());
                settings
            },
            job_url: config.job_url.as_deref(),
            plan,
            outcomes,
            policies,
            skipped: &notes.skipped,
            errors: &notes.errors,
            stopped: notes.stopped.clone(),
            summary,
        };
        let written = write_reports(config, &run);
        eprintln!("{}", run.summary);
        eprintln!(
            "decisions: {}  junit: {}  report: {}  page: {}  figures: {}",
            config.log_file.display(),
            config.junit_file.display(),
            config.report_file.display(),
            config.html_file.display(),
            config.dotenv_file.display()
        );

        let code = if let Some(code) = self.interrupt.exit_code() {
            code
        } else if refused {
            exit::REFUSED
        } else if run.summary.errors > 0 || !written {
            exit::API_ERRORS
        } else {
            exit::OK
        };
        let figures = Figures::of(&run, exit::status(code));
        if write_dotenv(&config.dotenv_file, &figures) || code != exit::OK {
            code
        } else {
            exit::API_ERRORS
        }
    }

    fn summary(
        &self,
        started: &Started,
        choice: &Choice,
        plan: &Plan,
        outcomes: &[Vec<Outcome>],
        policies: &[PolicyResult],
        notes: &Notes,
    ) -> Summary {
        let config = self.config;
        let mut summary = Summary::compute(
            plan,
            outcomes,
            policies,
            notes.errors.len(),
            notes.skipped.len(),
        );
        summary.mode = format!("{} ({})", config.mode.word(), config.mode.why);
        summary.dry_run = config.mode.dry_run;
        summary.api = format!(
            "{} (ages from {})",
            choice.backend.name(),
            config.rules.age_from.as_str()
        );
        summary.requests = self.client.stats.snapshot();
        summary.registry = self.registry.identity.clone();
        summary.inspection = self.registry.status.clone();
        summary.inspected = notes.inspections.tags;
        summary.inspected_digests = notes.inspections.digests;
        if let Some(registry) = &self.registry.registry {
            summary.registry_requests = registry.stats.snapshot();
        }
        summary.duration_seconds = started.clock.elapsed().as_secs_f64();
        summary
    }
}

/// JUnit, JSON and HTML; `false` if one could not be written (the run then exits 1).
fn write_reports(config: &Config, run: &Run<'_>) -> bool {
    type Writer = fn(&std::path::Path, &Run<'_>) -> std::io::Result<()>;
    let reports: [(&str, &std::path::Path, Writer); 3] = [
        ("GC_JUNIT_FILE", &config.junit_file, report::junit::write),
        ("GC_REPORT_FILE", &config.report_file, report::json::write),
        ("GC_HTML_FILE", &config.html_file, report::html::write),
    ];
    let mut written = true;
    for (variable, path, write) in reports {
        if let Err(e) = write(path, run) {
            log::error!("{variable}: cannot write {}: {e}", path.display());
            written = false;
        }
    }
    written
}

fn mark_not_attempted(plan: &Plan, outcomes: &mut [Vec<Outcome>], why: &str) {
    let why: std::sync::Arc<str> = why.into();
    for (repo, repo_outcomes) in plan.repos.iter().zip(outcomes.iter_mut()) {
        for (tag, outcome) in repo.tags.iter().zip(repo_outcomes.iter_mut()) {
            if tag.decision.action == Action::Delete && *outcome != Outcome::WouldDelete {
                *outcome = Outcome::NotAttempted(why.clone());
            }
        }
    }
}

fn policy_line(p: &PolicyResult) -> String {
    use crate::policy::Status;
    match &p.status {
        Status::Unchanged => format!("policy       {}  unchanged", p.project_path),
        Status::WouldChange => format!(
            "policy       {}  would change: {}",
            p.project_path,
            p.diff_text()
        ),
        Status::Changed { next_run_at } => format!(
            "policy       {}  changed: {}; next run at {}",
            p.project_path,
            p.diff_text(),
            next_run_at.as_deref().unwrap_or("(not scheduled)")
        ),
        Status::Failed { error } => format!("policy       {}  failed: {error}", p.project_path),
    }
}
