//! Which repositories (and projects) a run covers: `GC_SCOPE`, sharding, and what is skipped.
//!
//! Group scope uses GitLab's group repository list, one paginated listing for the group and all
//! its subgroups, instead of walking projects; `all` walks the projects where the token's user is
//! Maintainer, since there is no instance-wide repository list for non-admins.
//!
//! The repository filters (`GC_REPOSITORY_REGEX`, `GC_REPOSITORY_EXCLUDE_REGEX`) apply to the
//! repository lists, before any tag is listed. A repository they leave out is skipped, unless it
//! is the counterpart of a cache in scope: filtering chooses what is deleted from, not what is
//! known, so its tags are still read for that cache.

use std::collections::BTreeMap;

use crate::config::{Config, RepositoryFilter, Scope, Shard};
use crate::gitlab::types::{Project, Repository};
use crate::gitlab::{ApiError, Client};

/// A repository in scope, with the project facts the rules and reports need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repo {
    pub id: u64,
    pub project_id: u64,
    pub project_path: String,
    pub path: String,
}

/// Where a cache repository's image counterpart would be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CounterpartPath {
    NotCache,
    /// In the same project, where this run lists repositories.
    Inside(String),
    /// Outside the project (the cache is a project's root image): not looked up.
    Outside(String),
}

impl Repo {
    fn from_api(r: &Repository) -> Repo {
        Repo {
            id: r.id,
            project_id: r.project_id,
            project_path: r.project_path().to_string(),
            path: r.path.clone(),
        }
    }

    /// `group/p/app.cache` → `group/p/app` with suffix `.cache`.
    pub fn counterpart_path(&self, suffix: &str) -> CounterpartPath {
        match self.path.strip_suffix(suffix) {
            Some(base) if !base.is_empty() && !suffix.is_empty() => {
                if base == self.project_path || base.starts_with(&format!("{}/", self.project_path))
                {
                    CounterpartPath::Inside(base.to_string())
                } else {
                    CounterpartPath::Outside(base.to_string())
                }
            }
            _ => CounterpartPath::NotCache,
        }
    }
}

/// Something in scope that is deliberately not processed, and why (reported, not an error).
#[derive(Clone, Debug)]
pub struct Skipped {
    pub what: String,
    pub why: String,
}

/// A listing that failed: the project (or the whole scope) is left untouched and the run exits 1.
#[derive(Clone, Debug)]
pub struct ScopeError {
    pub what: String,
    pub error: String,
}

#[derive(Default, Debug)]
pub struct InScope {
    pub repositories: Vec<Repo>,
    /// Left out by the repository filters, but the counterparts of caches in `repositories`:
    /// their tags are read, nothing in them is decided.
    pub counterparts_only: Vec<Repo>,
    /// Project id → path, for every project that has repositories in scope.
    pub projects: BTreeMap<u64, String>,
    pub skipped: Vec<Skipped>,
    pub errors: Vec<ScopeError>,
}

/// Lists the repositories in scope. An error that makes the whole scope unknowable (the first
/// listing fails) is returned as `Err`; per-project failures in `all` scope are recorded.
pub fn repositories(client: &Client, config: &Config) -> Result<InScope, ApiError> {
    let mut scope = InScope::default();
    let mut left_out = Vec::new();
    let filter = &config.repositories;
    match &config.scope {
        Scope::Project(id) => {
            let repos = client.list_project_repositories(id)?;
            scope.add(repos, config.shard, filter, &mut left_out);
        }
        Scope::Group(group) => {
            let repos = client.list_group_repositories(group)?;
            scope.add(repos, config.shard, filter, &mut left_out);
        }
        Scope::All => {
            let projects = client.list_maintained_projects()?;
            for project in in_shard(projects, config.shard) {
                if !project.registry_enabled() {
                    scope.skipped.push(Skipped {
                        what: project.path_with_namespace.clone(),
                        why: "container registry is disabled".into(),
                    });
                    continue;
                }
                match client.list_project_repositories(&project.id.to_string()) {
                    Ok(repos) => scope.add(repos, None, filter, &mut left_out),
                    Err(ApiError::Interrupted) => return Err(ApiError::Interrupted),
                    Err(e) => scope.errors.push(ScopeError {
                        what: project.path_with_namespace.clone(),
                        error: e.to_string(),
                    }),
                }
            }
        }
    }
    scope.keep_counterparts(left_out, config);
    scope.repositories.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scope)
}

/// The projects the built-in policy applies to: every project in scope with a registry,
/// including those without repositories yet.
pub fn projects(
    client: &Client,
    config: &Config,
) -> Result<(Vec<Project>, Vec<Skipped>), ApiError> {
    let mut skipped = Vec::new();
    let listed = match &config.scope {
        Scope::Project(id) => vec![client.get_project(id)?],
        Scope::Group(group) => client.list_group_projects(group)?,
        Scope::All => client.list_maintained_projects()?,
    };
    let mut projects = Vec::new();
    for project in in_shard(listed, config.shard) {
        if project.registry_enabled() {
            projects.push(project);
        } else {
            skipped.push(Skipped {
                what: project.path_with_namespace.clone(),
                why: "container registry is disabled".into(),
            });
        }
    }
    Ok((projects, skipped))
}

fn in_shard(projects: Vec<Project>, shard: Option<Shard>) -> Vec<Project> {
    // Projects of other shards are simply another job's work: not reported as skipped.
    projects
        .into_iter()
        .filter(|p| shard.is_none_or(|s| s.owns(p.id)))
        .collect()
}

impl InScope {
    /// Adds the repositories of one listing; those the filters leave out go to `left_out`, with
    /// why, until it is known which of them are counterparts.
    fn add(
        &mut self,
        repos: Vec<Repository>,
        shard: Option<Shard>,
        filter: &RepositoryFilter,
        left_out: &mut Vec<(Repo, String)>,
    ) {
        for r in repos {
            if shard.is_some_and(|s| !s.owns(r.project_id)) {
                continue;
            }
            if let Some(status) = r.status.as_deref().filter(|s| s.starts_with("delete")) {
                self.skipped.push(Skipped {
                    what: r.path.clone(),
                    why: format!("repository status is {status}"),
                });
                continue;
            }
            let repo = Repo::from_api(&r);
            if let Some(why) = filter.left_out(&repo.path) {
                left_out.push((repo, why));
                continue;
            }
            self.projects
                .entry(repo.project_id)
                .or_insert_with(|| repo.project_path.clone());
            self.repositories.push(repo);
        }
    }

    /// Of the repositories the filters left out, those whose tags a cache in scope is judged
    /// against are read as counterparts; the rest are skipped. Both count as skipped.
    fn keep_counterparts(&mut self, left_out: Vec<(Repo, String)>, config: &Config) {
        let rules = &config.rules;
        let mut caches: std::collections::HashMap<String, &str> = Default::default();
        if rules.delete_orphan_cache {
            for repo in &self.repositories {
                if let CounterpartPath::Inside(path) = repo.counterpart_path(&rules.cache_suffix) {
                    caches.entry(path).or_insert(&repo.path);
                }
            }
        }
        let mut counterparts = Vec::new();
        for (repo, why) in left_out {
            let why = match caches.get(&repo.path) {
                Some(cache) => format!("{why}; its tags are read as the counterpart of {cache}"),
                None => why,
            };
            self.skipped.push(Skipped {
                what: repo.path.clone(),
                why,
            });
            if caches.contains_key(&repo.path) {
                counterparts.push(repo);
            }
        }
        counterparts.sort_by(|a, b| a.path.cmp(&b.path));
        self.counterparts_only = counterparts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str, project_path: &str) -> Repo {
        Repo {
            id: 1,
            project_id: 1,
            project_path: project_path.into(),
            path: path.into(),
        }
    }

    #[test]
    fn counterpart_paths() {
        assert_eq!(
            repo("g/p/app.cache", "g/p").counterpart_path(".cache"),
            CounterpartPath::Inside("g/p/app".into())
        );
        assert_eq!(
            repo("g/p/cache", "g/p").counterpart_path("/cache"),
            CounterpartPath::Inside("g/p".into())
        );
        assert_eq!(
            repo("g/p.cache", "g/p.cache").counterpart_path(".cache"),
            CounterpartPath::Outside("g/p".into())
        );
        assert_eq!(
            repo("g/p/app", "g/p").counterpart_path(".cache"),
            CounterpartPath::NotCache
        );
        assert_eq!(
            repo("g/p/app", "g/p").counterpart_path(""),
            CounterpartPath::NotCache
        );
    }
}
