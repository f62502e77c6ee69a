//! Planning: turns the gathered facts into one decision per tag, before anything is deleted.
//!
//! The whole plan exists before the first DELETE, so safety limits (`GC_MAX_DELETIONS`) judge the
//! complete picture and dry-run shows exactly what a real run would do. Repositories are decided
//! shortest path first: a cache repository (`app.cache`) is always longer than its counterpart
//! (`app`), so when the cache is decided the counterpart's deletions of this run are known, and
//! one run converges. A repository read only as a cache's counterpart ([`Role::CounterpartOnly`])
//! gives its tag names to its caches and has no plan of its own.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::config::RuleSettings;
use crate::facts::{RepoFacts, Role};
use crate::rules::{self, Action, Counterpart, Decision, Details, Inspected, Inspection, TagInfo};
use crate::scope::{CounterpartPath, Repo};

#[derive(Debug)]
pub struct Plan {
    pub repos: Vec<RepoPlan>,
}

#[derive(Debug)]
pub struct RepoPlan {
    pub repo: Repo,
    /// Why this repository could not be planned (its tag list failed); it is left untouched.
    pub error: Option<String>,
    pub tags: Vec<PlannedTag>,
}

#[derive(Debug)]
pub struct PlannedTag {
    /// Never grows: a boxed `str` is a word smaller than a `String`, 100,000 times over.
    pub name: Box<str>,
    pub info: Option<TagInfo>,
    /// What the registry said of it, for the tags it was read for.
    pub inspection: Option<Box<Inspection>>,
    pub decision: Decision,
}

impl Plan {
    pub fn deletions(&self) -> usize {
        self.repos
            .iter()
            .flat_map(|r| &r.tags)
            .filter(|t| t.decision.action == Action::Delete)
            .count()
    }
}

/// Decides every tag of the repositories decided. `unknown` lists repository paths that exist but
/// were not examined.
///
/// Each repository's facts become its plan as soon as it is decided, so the facts and the plan
/// of 100,000 tags are never both held whole.
pub fn plan(
    rules: &RuleSettings,
    now: Timestamp,
    facts: Vec<RepoFacts>,
    unknown: &HashSet<String>,
) -> Plan {
    let by_path: HashMap<String, usize> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| (f.repo.path.clone(), i))
        .collect();
    let mut order: Vec<usize> = (0..facts.len()).collect();
    order.sort_by_key(|&i| (facts[i].repo.path.len(), i));

    // Tag names, and names this run deletes, only of repositories some cache in scope is the
    // counterpart of: the only ones the orphan-cache rule looks at. Borrowed from their plans
    // (a counterpart is planned before its caches), not copied.
    let mut is_counterpart = vec![false; facts.len()];
    if rules.delete_orphan_cache {
        for f in &facts {
            if let CounterpartPath::Inside(path) = f.repo.counterpart_path(&rules.cache_suffix) {
                if let Some(&c) = by_path.get(&path) {
                    is_counterpart[c] = true;
                }
            }
        }
    }
    let planned: Vec<OnceCell<RepoPlan>> = facts.iter().map(|_| OnceCell::new()).collect();
    // The tag names of repositories read only as counterparts, which nothing deletes from.
    let read: Vec<OnceCell<Vec<Box<str>>>> = facts.iter().map(|_| OnceCell::new()).collect();
    let roles: Vec<Role> = facts.iter().map(|f| f.role).collect();
    // Per counterpart: (tags it has, tags this run deletes); `None` if its tag list failed.
    let mut names_of: Vec<Option<(HashSet<&str>, HashSet<&str>)>> = vec![None; facts.len()];
    let mut facts: Vec<Option<RepoFacts>> = facts.into_iter().map(Some).collect();

    for &i in &order {
        let RepoFacts {
            repo,
            tags,
            refs,
            role,
            ..
        } = facts[i].take().expect("each repository once");
        if role == Role::CounterpartOnly {
            if let Ok(tags) = tags {
                let names = read[i].get_or_init(|| tags.into_iter().map(|t| t.name).collect());
                if is_counterpart[i] {
                    names_of[i] = Some((names.iter().map(|n| &**n).collect(), HashSet::new()));
                }
            }
            continue;
        }
        let tags = match tags {
            Ok(tags) => tags,
            Err(e) => {
                let _ = planned[i].set(RepoPlan {
                    repo,
                    error: Some(e),
                    tags: Vec::new(),
                });
                continue;
            }
        };
        let counterpart = if !rules.delete_orphan_cache {
            Counterpart::NotApplicable
        } else {
            match repo.counterpart_path(&rules.cache_suffix) {
                CounterpartPath::NotCache => Counterpart::NotApplicable,
                CounterpartPath::Outside(path) => Counterpart::Outside { path },
                CounterpartPath::Inside(path) => match by_path.get(&path) {
                    Some(&c) => match &names_of[c] {
                        Some((tags, deleted)) => Counterpart::Present {
                            path,
                            tags,
                            deleted,
                        },
                        None => Counterpart::Unknown {
                            path,
                            why: "its tag list could not be read".into(),
                        },
                    },
                    None if unknown.contains(&path) => Counterpart::Unknown {
                        path,
                        why: "it is not examined by this run".into(),
                    },
                    None => Counterpart::Missing { path },
                },
            }
        };
        let decisions = rules::decide_repository(rules, now, &tags, &counterpart, &refs);
        drop(counterpart);
        let tags = tags
            .into_iter()
            .zip(decisions)
            .map(|(t, decision)| PlannedTag {
                info: match t.details {
                    Details::Found(info) => Some(info),
                    _ => None,
                },
                inspection: match t.inspected {
                    Inspected::Read(i) => Some(i),
                    _ => None,
                },
                name: t.name,
                decision,
            })
            .collect();
        let _ = planned[i].set(RepoPlan {
            repo,
            error: None,
            tags,
        });
        if is_counterpart[i] {
            let tags = &planned[i].get().expect("just planned").tags;
            let deleted = tags
                .iter()
                .filter(|t| t.decision.action == Action::Delete)
                .map(|t| &*t.name)
                .collect();
            names_of[i] = Some((tags.iter().map(|t| &*t.name).collect(), deleted));
        }
    }
    drop(names_of);
    let repos = planned
        .into_iter()
        .zip(roles)
        .filter(|(_, role)| *role == Role::Decided)
        .map(|(p, _)| p.into_inner().expect("every repository decided is planned"))
        .collect();
    Plan { repos }
}
