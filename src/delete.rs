//! Acting on the plan: the only module that deletes.
//!
//! Deletions run concurrently in two waves. The first deletes everything that stands on its own;
//! the second deletes cache tags whose orphan status relies on this run deleting their
//! counterpart tag, and only if that deletion really happened (a protected counterpart keeps its
//! cache). GitLab's answers refine the plan: 403 `cannot delete protected tag(s)` means kept as
//! `protected`; 404 means already gone, except for a broken tag, where it means this GitLab
//! cannot delete it through the API (`broken-undeletable`).
//!
//! Over GraphQL, tags go 20 per call per repository; a tag GitLab does not name as deleted is
//! asked once more over REST, whose status gives the same outcomes as above.

use std::collections::HashMap;
use std::sync::Arc;

use crate::backend::Backend;
use crate::gitlab::api::Deletion;
use crate::gitlab::graphql;
use crate::gitlab::{ApiError, Client};
use crate::plan::{Plan, PlannedTag};
use crate::progress::Progress;
use crate::rules::{Action, Dependency, RuleId};
use crate::scope::Repo;
use crate::signals::Interrupt;

/// What happened to a tag. One per tag of the plan, so the texts are boxed (a word smaller than
/// a `String`) or shared (the same `why` for every tag a stop leaves undeleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The plan keeps it.
    Kept,
    /// Dry-run: a real run would delete it.
    WouldDelete,
    Deleted,
    /// 404 on DELETE: someone else deleted it first.
    AlreadyGone,
    /// 403 `cannot delete protected tag(s)`.
    Protected,
    /// A broken tag whose DELETE answered 404: older GitLab cannot delete it through the API.
    BrokenUndeletable,
    /// A plain 403 not yet explained: settled after the wave by a listing of the repository
    /// (gone: someone else deleted it; still there: a failure naming the possible causes).
    Forbidden,
    /// The DELETE failed; the run goes on and exits 1.
    Failed(Box<str>),
    /// Planned for deletion but not attempted (interrupted, safety limit).
    NotAttempted(Arc<str>),
    /// A cache tag orphaned only by this run's deletion of its counterpart tag, which GitLab
    /// refused: the counterpart stays, so the cache stays.
    CounterpartKept(Box<str>),
}

impl Outcome {
    /// Outcomes of a plan before acting: keeps are final, deletions pending.
    pub fn initial(plan: &Plan, dry_run: bool) -> Vec<Vec<Outcome>> {
        let not_reached: Arc<str> = "not reached".into();
        plan.repos
            .iter()
            .map(|r| {
                r.tags
                    .iter()
                    .map(|t| match (t.decision.action, dry_run) {
                        (Action::Keep, _) => Outcome::Kept,
                        (Action::Delete, true) => Outcome::WouldDelete,
                        (Action::Delete, false) => Outcome::NotAttempted(not_reached.clone()),
                    })
                    .collect()
            })
            .collect()
    }
}

/// What deleting needs besides the plan.
#[derive(Clone, Copy)]
pub struct With<'a> {
    pub client: &'a Client,
    pub backend: &'a Backend,
    pub concurrency: usize,
    pub interrupt: &'a Interrupt,
    pub progress: &'a Progress,
}

/// Deletes what the plan deletes; `report` sees each outcome as it happens (for `gc.log`).
pub fn execute(
    with: &With<'_>,
    plan: &Plan,
    outcomes: &mut [Vec<Outcome>],
    report: &(dyn Fn(&Repo, &PlannedTag, &Outcome) + Sync),
) {
    let With {
        client,
        backend,
        concurrency,
        interrupt,
        progress,
    } = *with;
    let by_path: HashMap<&str, usize> = plan
        .repos
        .iter()
        .enumerate()
        .map(|(i, r)| (r.repo.path.as_str(), i))
        .collect();
    let total = plan.deletions();
    let interrupted: Arc<str> = "interrupted before deletion".into();
    let done = std::sync::atomic::AtomicUsize::new(0);
    for wave in [Wave::Independent, Wave::Dependent] {
        let mut work: Vec<(usize, usize)> = Vec::new();
        for (r, repo) in plan.repos.iter().enumerate() {
            for (t, tag) in repo.tags.iter().enumerate() {
                if tag.decision.action != Action::Delete
                    || (tag.decision.depends_on().is_some()) != (wave == Wave::Dependent)
                {
                    continue;
                }
                if let Some(dependency) = tag.decision.depends_on() {
                    if let Some(reason) =
                        dependency_kept(plan, outcomes, &by_path, r, dependency, &tag.name)
                    {
                        outcomes[r][t] = Outcome::CounterpartKept(reason.into());
                        report(&repo.repo, tag, &outcomes[r][t]);
                        continue;
                    }
                }
                work.push((r, t));
            }
        }
        // Every outcome is reported as it happens, except a 404 for a broken tag: that one is
        // checked below first.
        let settle = |r: usize, t: usize, outcome: Outcome| {
            if !matches!(outcome, Outcome::BrokenUndeletable | Outcome::Forbidden) {
                report(&plan.repos[r].repo, &plan.repos[r].tags[t], &outcome);
            }
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.tick(|| format!("deleted {n}/{total} tags"));
            outcome
        };
        let results: Vec<Outcome> = match backend {
            Backend::Rest => crate::pool::map(&work, concurrency, |&(r, t)| {
                settle(
                    r,
                    t,
                    delete_one(client, plan, r, t, interrupt, &interrupted),
                )
            }),
            Backend::Graphql { url, .. } => {
                let batches = batches(&work);
                let done = crate::pool::map(&batches, concurrency, |batch| {
                    delete_batch(client, url, plan, &work, batch, interrupt, &interrupted)
                        .into_iter()
                        .map(|(i, outcome)| (i, settle(work[i].0, work[i].1, outcome)))
                        .collect::<Vec<_>>()
                });
                let mut results = vec![Outcome::Kept; work.len()];
                for (i, outcome) in done.into_iter().flatten() {
                    results[i] = outcome;
                }
                results
            }
        };
        let mut results = results;
        for i in recheck(client, plan, &work, &mut results) {
            let (r, t) = work[i];
            report(&plan.repos[r].repo, &plan.repos[r].tags[t], &results[i]);
        }
        for ((r, t), outcome) in work.into_iter().zip(results) {
            outcomes[r][t] = outcome;
        }
    }
}

/// One tag over REST: GitLab's status says what happened.
fn delete_one(
    client: &Client,
    plan: &Plan,
    r: usize,
    t: usize,
    interrupt: &Interrupt,
    interrupted: &Arc<str>,
) -> Outcome {
    let repo = &plan.repos[r].repo;
    let tag = &plan.repos[r].tags[t];
    if interrupt.is_raised() {
        return Outcome::NotAttempted(interrupted.clone());
    }
    match client.delete_tag(repo.project_id, repo.id, &tag.name) {
        Ok(Deletion::Deleted) => Outcome::Deleted,
        Ok(Deletion::Protected) => Outcome::Protected,
        Ok(Deletion::Forbidden) => Outcome::Forbidden,
        Ok(Deletion::NotFound) if tag.decision.rule == RuleId::Broken => Outcome::BrokenUndeletable,
        Ok(Deletion::NotFound) => Outcome::AlreadyGone,
        Err(ApiError::Interrupted) => Outcome::NotAttempted(interrupted.clone()),
        Err(e) => Outcome::Failed(e.to_string().into()),
    }
}

/// Indices into `work`, grouped by repository, at most [`graphql::DELETE_BATCH`] per group.
fn batches(work: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut by_repo: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, &(r, _)) in work.iter().enumerate() {
        match by_repo.last_mut() {
            Some((last, items)) if *last == r && items.len() < graphql::DELETE_BATCH => {
                items.push(i)
            }
            _ => by_repo.push((r, vec![i])),
        }
    }
    by_repo.into_iter().map(|(_, items)| items).collect()
}

/// One `destroyContainerRepositoryTags` call for a batch of one repository's tags. GitLab names
/// the tags it deleted; any other tag of the batch was not deleted, and GitLab does not say why
/// (protected tags are skipped silently, a broken tag cannot be read): each of those gets one
/// REST DELETE, whose status tells protected, broken-undeletable and already gone apart, so the
/// outcomes are the ones a REST run reports. A failed call deletes nothing we know of: its tags
/// are reported failed, never guessed deleted.
fn delete_batch(
    client: &Client,
    url: &reqwest::Url,
    plan: &Plan,
    work: &[(usize, usize)],
    batch: &[usize],
    interrupt: &Interrupt,
    interrupted: &Arc<str>,
) -> Vec<(usize, Outcome)> {
    let every = |outcome: Outcome| batch.iter().map(|&i| (i, outcome.clone())).collect();
    if interrupt.is_raised() {
        return every(Outcome::NotAttempted(interrupted.clone()));
    }
    let r = work[batch[0]].0;
    let repo = &plan.repos[r].repo;
    let names: Vec<&str> = batch
        .iter()
        .map(|&i| &*plan.repos[r].tags[work[i].1].name)
        .collect();
    match client.graphql_delete_tags(url, repo.id, &names) {
        Ok(result) => {
            if !result.errors.is_empty() {
                log::debug!("{}: {}", repo.path, result.errors.join("; "));
            }
            batch
                .iter()
                .map(|&i| {
                    let (r, t) = work[i];
                    let name = &plan.repos[r].tags[t].name;
                    if result.deleted.iter().any(|d| **d == **name) {
                        (i, Outcome::Deleted)
                    } else {
                        (i, delete_one(client, plan, r, t, interrupt, interrupted))
                    }
                })
                .collect()
        }
        Err(ApiError::Interrupted) => every(Outcome::NotAttempted(interrupted.clone())),
        Err(e) => every(Outcome::Failed(e.to_string().into())),
    }
}

/// Answers that need the repository's tag list to be understood, settled after the wave with
/// one listing per repository concerned:
/// - a 404 to the DELETE of a broken tag means this GitLab cannot delete it (older versions read
///   the manifest first), or that it is already gone: a DELETE retried after its answer was lost
///   (connection dropped, timeout) meets the 404 of its own first attempt. Only a run that
///   retried some request can have met its own 404, so only such a run looks; if the listing
///   fails, the tag stays reported as undeletable (kept), the cautious reading;
/// - a plain 403: GitLab's answer for a protected or immutable tag and for a role below
///   Developer, and (metadata database) for a tag someone else deleted meanwhile. Not listed any
///   more: already gone; still listed: a failure naming both causes.
///
/// Returns the indices settled.
fn recheck(
    client: &Client,
    plan: &Plan,
    work: &[(usize, usize)],
    results: &mut [Outcome],
) -> Vec<usize> {
    let retried = client.stats.snapshot().retries > 0;
    let unsure: Vec<usize> = (0..work.len())
        .filter(|&i| matches!(results[i], Outcome::BrokenUndeletable | Outcome::Forbidden))
        .collect();
    let mut listed: HashMap<usize, Result<std::collections::HashSet<String>, String>> =
        HashMap::new();
    for &i in &unsure {
        let (r, t) = work[i];
        if results[i] == Outcome::BrokenUndeletable && !retried {
            continue;
        }
        let names = listed.entry(r).or_insert_with(|| {
            let repo = &plan.repos[r].repo;
            let mut names = std::collections::HashSet::new();
            client
                .list_tags(repo.project_id, repo.id, |page| {
                    names.extend(page.into_iter().map(|t| t.name))
                })
                .map(|()| names)
                .map_err(|e| e.to_string())
        });
        let name = &*plan.repos[r].tags[t].name;
        let gone = names.as_ref().is_ok_and(|n| !n.contains(name));
        results[i] = match (&results[i], gone) {
            (Outcome::BrokenUndeletable, true) => Outcome::Deleted,
            (Outcome::Forbidden, true) => Outcome::AlreadyGone,
            (Outcome::Forbidden, false) => {
                let mut why = "403 Forbidden: GitLab refuses to delete it: a tag protection or immutability rule this run could not read, or a role below Developer".to_string();
                if let Err(e) = names {
                    why.push_str(&format!(
                        " (the tag list to check it was not deleted meanwhile failed: {e})"
                    ));
                }
                Outcome::Failed(why.into())
            }
            (other, _) => other.clone(),
        };
    }
    unsure
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wave {
    Independent,
    Dependent,
}

/// `Some(reason)` when a deletion a dependent deletion relies on did not happen: the cache
/// tag's counterpart tag of the same name, or one of the tags of a referrer's subject (in the
/// referrer's repository `r`).
fn dependency_kept(
    plan: &Plan,
    outcomes: &[Vec<Outcome>],
    by_path: &HashMap<&str, usize>,
    r: usize,
    dependency: Dependency<'_>,
    tag: &str,
) -> Option<String> {
    let not_deleted = |repo: usize, name: &str| {
        let index = plan.repos[repo]
            .tags
            .iter()
            .position(|t| &*t.name == name)?;
        match &outcomes[repo][index] {
            Outcome::Deleted | Outcome::AlreadyGone => None,
            other => Some(describe(other)),
        }
    };
    match dependency {
        Dependency::Counterpart(counterpart) => {
            let repo = *by_path.get(counterpart)?;
            not_deleted(repo, tag).map(|why| {
                format!("counterpart tag {counterpart}:{tag} was not deleted ({why}), so its cache stays")
            })
        }
        Dependency::Subject(tags) => tags.iter().find_map(|name| {
            not_deleted(r, name)
                .map(|why| format!("its subject's tag {name} was not deleted ({why}), so it stays"))
        }),
    }
}

fn describe(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Protected => "protected",
        Outcome::Failed(_) => "its deletion failed",
        Outcome::BrokenUndeletable => "GitLab cannot delete it",
        _ => "not attempted",
    }
}
