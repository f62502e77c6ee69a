//! Planning: turns the gathered facts into one decision per tag, before anything is deleted.
//!
//! The whole plan exists before the first DELETE, so safety limits (`GC_MAX_DELETIONS`) judge the
//! complete picture and dry-run shows exactly what a real run would do. Repositories are decided
//! shortest path first: a cache repository (`app.cache`) is always longer than its counterpart
//! (`app`), so when the cache is decided the counterpart's deletions of this run are known, and
//! one run converges.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use crate::config::RuleSettings;
use crate::facts::RepoFacts;
use crate::rules::{self, Action, Counterpart, Decision, Details, TagInfo};
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
    pub name: String,
    pub info: Option<TagInfo>,
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

/// Decides every tag. `unknown` lists repository paths that exist but were not examined.
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
    // counterpart of: the only ones the orphan-cache rule looks at.
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
    let listed: Vec<Option<HashSet<String>>> = facts
        .iter()
        .zip(&is_counterpart)
        .map(|(f, &wanted)| match &f.tags {
            Ok(tags) if wanted => Some(tags.iter().map(|t| t.name.clone()).collect()),
            _ => None,
        })
        .collect();
    let mut deleted: Vec<HashSet<String>> = vec![HashSet::new(); facts.len()];
    let mut decided: Vec<Option<Vec<Decision>>> = vec![None; facts.len()];

    for &i in &order {
        let Ok(tags) = &facts[i].tags else { continue };
        let counterpart = if !rules.delete_orphan_cache {
            Counterpart::NotApplicable
        } else {
            match facts[i].repo.counterpart_path(&rules.cache_suffix) {
                CounterpartPath::NotCache => Counterpart::NotApplicable,
                CounterpartPath::Outside(path) => Counterpart::Outside { path },
                CounterpartPath::Inside(path) => match by_path.get(&path) {
                    Some(&c) => match &listed[c] {
                        Some(tags) => Counterpart::Present {
                            path,
                            tags,
                            deleted: &deleted[c],
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
        let decisions = rules::decide_repository(rules, now, tags, &counterpart);
        if is_counterpart[i] {
            deleted[i] = tags
                .iter()
                .zip(&decisions)
                .filter(|(_, d)| d.action == Action::Delete)
                .map(|(t, _)| t.name.clone())
                .collect();
        }
        decided[i] = Some(decisions);
    }

    let repos = facts
        .into_iter()
        .zip(decided)
        .map(|(f, decisions)| match (f.tags, decisions) {
            (Ok(tags), Some(decisions)) => RepoPlan {
                repo: f.repo,
                error: None,
                tags: tags
                    .into_iter()
                    .zip(decisions)
                    .map(|(t, decision)| PlannedTag {
                        info: match t.details {
                            Details::Found(info) => Some(info),
                            _ => None,
                        },
                        name: t.name,
                        decision,
                    })
                    .collect(),
            },
            (Err(e), _) => RepoPlan {
                repo: f.repo,
                error: Some(e),
                tags: Vec::new(),
            },
            (Ok(_), None) => unreachable!("every listed repository is decided"),
        })
        .collect();
    Plan { repos }
}
