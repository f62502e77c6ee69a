//! One run, start to end: scope → facts → plan → (safety check) → act → policy → reports.
//!
//! Data flows one way. Nothing is deleted until the complete plan exists; every early stop
//! (a failed listing, a safety limit, a signal) still writes all three reports.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::backend::{self, ChoiceError};
use crate::config::{self, Config};
use crate::delete::{self, Outcome};
use crate::facts;
use crate::gitlab::{ApiError, Client};
use crate::plan::{self, Plan};
use crate::policy::{self, PolicyResult};
use crate::progress::Progress;
use crate::report::{self, log::DecisionLog, Run, Summary};
use crate::rules::Action;
use crate::scope::{self, ScopeError, Skipped};
use crate::signals::Interrupt;

/// Exit codes (design §5).
pub mod exit {
    pub const OK: i32 = 0;
    pub const API_ERRORS: i32 = 1;
    pub const CONFIG: i32 = 2;
    pub const REFUSED: i32 = 3;
}

/// Runs registry-gc with a validated configuration and returns the process exit code.
pub fn run(config: &Config, interrupt: Interrupt) -> i32 {
    let clock = Instant::now();
    let started_at = jiff::Timestamp::now();
    let log = match DecisionLog::create(&config.log_file) {
        Ok(log) => log,
        Err(e) => {
            log::error!(
                "GC_LOG_FILE: cannot create {}: {e}",
                config.log_file.display()
            );
            return exit::CONFIG;
        }
    };
    let client = match Client::new(config, interrupt.clone()) {
        Ok(client) => client,
        Err(e) => {
            log::error!("{e}");
            return exit::CONFIG;
        }
    };
    let mode = if config.mode.dry_run {
        "dry-run"
    } else {
        "delete"
    };
    log.text(&format!(
        "registry-gc {} started {started_at}: {mode} ({}), scope: {}",
        env!("CARGO_PKG_VERSION"),
        config.mode.why,
        config.scope
    ));
    log::info!("{mode} ({}), scope: {}", config.mode.why, config.scope);

    // 0. The API for tags, and with it the age the rules judge. Failing here is a configuration
    // error: nothing has been decided yet.
    let resolved = backend::choose(&client, config).and_then(|choice| {
        let age_from = backend::age_from(config, &choice)?;
        Ok((choice, age_from))
    });
    let (choice, config) = match resolved {
        Ok((choice, age_from)) => {
            let mut config = config.clone();
            config.rules.age_from = age_from;
            (choice, config)
        }
        Err(ChoiceError::Interrupted) => return interrupt.exit_code().unwrap_or(exit::CONFIG),
        Err(ChoiceError::Config { variable, message }) => {
            log::error!("{variable}: {message}");
            log.text(&format!("stopped      {variable}: {message}"));
            return exit::CONFIG;
        }
    };
    let config = &config;
    log.text(&format!(
        "api          {} ({}); ages from {}",
        choice.backend.name(),
        choice.why,
        config.rules.age_from.as_str()
    ));
    log::info!("api: {} ({})", choice.backend.name(), choice.why);
    let progress = Progress::new(Duration::from_secs(5));

    let mut skipped: Vec<Skipped> = Vec::new();
    let mut errors: Vec<ScopeError> = Vec::new();
    let mut stopped: Option<String> = None;

    // 1. Scope.
    let in_scope = match scope::repositories(&client, config) {
        Ok(s) => s,
        Err(e) => {
            if e != ApiError::Interrupted {
                log::error!("{e}");
                errors.push(ScopeError {
                    what: config.scope.to_string(),
                    error: e.to_string(),
                });
            }
            stopped = Some(format!("listing the repositories in scope failed: {e}"));
            scope::InScope::default()
        }
    };
    skipped.extend(in_scope.skipped);
    errors.extend(in_scope.errors);
    for s in &skipped {
        log.text(&format!("skipped      {}  ({})", s.what, s.why));
    }
    for e in &errors {
        log.text(&format!("error        {}  {}", e.what, e.error));
    }
    log::info!(
        "{} repositories in {} projects",
        in_scope.repositories.len(),
        in_scope.projects.len()
    );

    // 2. Facts, 3. plan. Repositories seen but not examined must never look "missing".
    let unknown: HashSet<String> = skipped.iter().map(|s| s.what.clone()).collect();
    let facts = facts::gather(
        &client,
        &choice.backend,
        &config.rules,
        in_scope.repositories,
        &unknown,
        config.concurrency,
        &progress,
    );
    let plan = plan::plan(&config.rules, jiff::Timestamp::now(), facts, &unknown);
    let mut outcomes = Outcome::initial(&plan, config.mode.dry_run);
    for (repo, repo_outcomes) in plan.repos.iter().zip(&outcomes) {
        if let Some(e) = &repo.error {
            log::error!("{}: {e}", repo.repo.path);
            log.text(&format!(
                "error        {}  tag list failed, repository left untouched: {e}",
                repo.repo.path
            ));
        }
        for (tag, outcome) in repo.tags.iter().zip(repo_outcomes) {
            // Deletions are logged when they happen; everything else is final now.
            if tag.decision.action == Action::Keep || config.mode.dry_run {
                log.tag(&repo.repo, tag, outcome);
            }
        }
    }
    if interrupt.is_raised() {
        stopped.get_or_insert_with(|| "interrupted before any deletion".into());
        mark_not_attempted(&plan, &mut outcomes, "interrupted before deletion");
    }

    // 4. Safety limit, judged on the complete plan.
    let planned = plan.deletions();
    let mut refused = false;
    if let Some(max) = config.max_deletions {
        if planned > max {
            refused = true;
            let why = format!("the plan deletes {planned} tags, more than GC_MAX_DELETIONS={max}: nothing deleted");
            log::error!("{why}");
            stopped = Some(why.clone());
            if !config.mode.dry_run {
                mark_not_attempted(&plan, &mut outcomes, &why);
            }
        }
    }

    // 5. Act.
    if !config.mode.dry_run && !refused && !interrupt.is_raised() && planned > 0 {
        log::info!("deleting {planned} tags");
        delete::execute(
            &delete::With {
                client: &client,
                backend: &choice.backend,
                concurrency: config.concurrency,
                interrupt: &interrupt,
                progress: &progress,
            },
            &plan,
            &mut outcomes,
            &|repo, tag, outcome| log.tag(repo, tag, outcome),
        );
    } else if !config.mode.dry_run {
        // Planned deletions that did not happen still get their line.
        for (repo, repo_outcomes) in plan.repos.iter().zip(&outcomes) {
            for (tag, outcome) in repo.tags.iter().zip(repo_outcomes) {
                if tag.decision.action == Action::Delete {
                    log.tag(&repo.repo, tag, outcome);
                }
            }
        }
    }

    // 6. The built-in cleanup policy.
    let mut policies: Vec<PolicyResult> = Vec::new();
    if let Some(desired) = &config.policy {
        if refused || interrupt.is_raised() {
            log.text("policy       not applied: the run was stopped");
        } else {
            match scope::projects(&client, config) {
                Ok((projects, policy_skipped)) => {
                    for s in policy_skipped {
                        log.text(&format!(
                            "skipped      {}  (cleanup policy: {})",
                            s.what, s.why
                        ));
                    }
                    policies = crate::pool::map(&projects, config.concurrency, |p| {
                        policy::apply_one(&client, p, desired, config.mode.dry_run)
                    });
                    for p in &policies {
                        log.text(&policy_line(p));
                    }
                }
                Err(e) => {
                    log::error!("{e}");
                    log.text(&format!(
                        "error        cleanup policy: cannot list the projects in scope: {e}"
                    ));
                    errors.push(ScopeError {
                        what: "container_expiration_policy".into(),
                        error: e.to_string(),
                    });
                }
            }
        }
    }

    // 7. Reports.
    if let Some(code) = interrupt.exit_code() {
        stopped.get_or_insert_with(|| format!("interrupted by signal (exit {code})"));
    }
    let mut summary = Summary::compute(&plan, &outcomes, &policies, errors.len(), skipped.len());
    summary.mode = format!("{mode} ({})", config.mode.why);
    summary.dry_run = config.mode.dry_run;
    summary.api = format!(
        "{} (ages from {})",
        choice.backend.name(),
        config.rules.age_from.as_str()
    );
    summary.requests = client.stats.snapshot();
    summary.duration_seconds = clock.elapsed().as_secs_f64();
    if let Some(why) = &stopped {
        log.text(&format!("stopped      {why}"));
    }
    log.summary(&summary);
    let run = Run {
        version: env!("CARGO_PKG_VERSION"),
        started_at,
        mode: &config.mode,
        scope: config.scope.to_string(),
        settings: {
            let mut settings = config::describe(config);
            settings.insert("api", choice.backend.name().to_string());
            settings.insert("api_reason", choice.why.clone());
            settings
        },
        job_url: config.job_url.as_deref(),
        plan: &plan,
        outcomes: &outcomes,
        policies: &policies,
        skipped: &skipped,
        errors: &errors,
        stopped,
        summary,
    };
    let mut report_failed = false;
    if let Err(e) = report::junit::write(&config.junit_file, &run) {
        log::error!(
            "GC_JUNIT_FILE: cannot write {}: {e}",
            config.junit_file.display()
        );
        report_failed = true;
    }
    if let Err(e) = report::json::write(&config.report_file, &run) {
        log::error!(
            "GC_REPORT_FILE: cannot write {}: {e}",
            config.report_file.display()
        );
        report_failed = true;
    }
    eprintln!("{}", run.summary);
    eprintln!(
        "decisions: {}  junit: {}  report: {}",
        config.log_file.display(),
        config.junit_file.display(),
        config.report_file.display()
    );

    if let Some(code) = interrupt.exit_code() {
        code
    } else if refused {
        exit::REFUSED
    } else if run.summary.errors > 0 || report_failed {
        exit::API_ERRORS
    } else {
        exit::OK
    }
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
