//! Gathering the facts the rules need, with the fewest requests GitLab allows.
//!
//! Each repository's tag list is read once; a cache repository's counterpart is a repository in
//! the same project, so its tag list is the one already read (no extra request, ever); details
//! (one request per tag, the dominant cost) are fetched only for tags whose decision can depend
//! on them ([`rules::needs_details`]). Both phases run on `GC_CONCURRENCY` workers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::RuleSettings;
use crate::gitlab::api::Details as ApiDetails;
use crate::gitlab::{ApiError, Client};
use crate::progress::Progress;
use crate::rules::{self, CounterpartHint, Details, TagFacts, TagInfo};
use crate::scope::{CounterpartPath, Repo};

/// One repository's facts; `tags` is `Err` when its tag list could not be read.
#[derive(Debug)]
pub struct RepoFacts {
    pub repo: Repo,
    pub tags: Result<Vec<TagFacts>, String>,
}

/// `unknown` holds repository paths that exist but are not examined (e.g. being deleted): a
/// cache whose counterpart is one of them is never judged orphaned.
pub fn gather(
    client: &Client,
    rules: &RuleSettings,
    repos: Vec<Repo>,
    unknown: &HashSet<String>,
    concurrency: usize,
    progress: &Progress,
) -> Vec<RepoFacts> {
    let listed_count = AtomicUsize::new(0);
    let listings: Vec<Result<Vec<String>, ApiError>> =
        crate::pool::map(&repos, concurrency, |repo| {
            let mut names = Vec::new();
            let mut seen = HashSet::new();
            let result = client.list_tags(repo.project_id, repo.id, |page| {
                // GitLab may repeat a tag across pages when tags change during the listing.
                names.extend(
                    page.into_iter()
                        .map(|t| t.name)
                        .filter(|n| seen.insert(n.clone())),
                );
            });
            let done = listed_count.fetch_add(1, Ordering::Relaxed) + 1;
            progress.tick(|| format!("listed tags of {done}/{} repositories", repos.len()));
            result.map(|()| names)
        });

    let hints = counterpart_hints(rules, &repos, unknown, &listings);
    let needed: Vec<(usize, usize)> = listings
        .iter()
        .enumerate()
        .filter_map(|(r, listing)| listing.as_ref().ok().map(|names| (r, names)))
        .flat_map(|(r, names)| names.iter().enumerate().map(move |(t, name)| (r, t, name)))
        .filter(|(r, _, name)| rules::needs_details(rules, name, hints[*r].hint(name)))
        .map(|(r, t, _)| (r, t))
        .collect();

    let fetched_count = AtomicUsize::new(0);
    let fetched: Vec<Details> = crate::pool::map(&needed, concurrency, |&(r, t)| {
        let repo = &repos[r];
        let name = &listings[r].as_ref().expect("only listed repositories")[t];
        let details = match client.tag_details(repo.project_id, repo.id, name) {
            Ok(ApiDetails::NotFound) => Details::Missing,
            Ok(ApiDetails::Found(d)) => match parse_time(d.created_at.as_deref()) {
                Ok(created_at) => Details::Found(TagInfo {
                    created_at,
                    digest: d.digest,
                    size: d.total_size,
                }),
                Err(e) => Details::Failed(e),
            },
            Err(e) => Details::Failed(e.to_string()),
        };
        let done = fetched_count.fetch_add(1, Ordering::Relaxed) + 1;
        progress.tick(|| format!("read details of {done}/{} tags", needed.len()));
        details
    });

    let mut details: HashMap<(usize, usize), Details> = needed.into_iter().zip(fetched).collect();
    repos
        .into_iter()
        .zip(listings)
        .enumerate()
        .map(|(r, (repo, listing))| {
            let tags = listing.map_err(|e| e.to_string()).map(|names| {
                names
                    .into_iter()
                    .enumerate()
                    .map(|(t, name)| TagFacts {
                        name,
                        details: details.remove(&(r, t)).unwrap_or(Details::NotFetched),
                    })
                    .collect()
            });
            RepoFacts { repo, tags }
        })
        .collect()
}

/// `created_at` as GitLab prints it (RFC 3339), or null.
fn parse_time(text: Option<&str>) -> Result<Option<jiff::Timestamp>, String> {
    match text {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| format!("created_at `{t}` is not an RFC 3339 time")),
    }
}

/// Per repository: which of its tags the orphan-cache rule could possibly delete.
enum Hint<'a> {
    Never,
    Always,
    /// The counterpart's tags are known: a tag it has and keeps by regex cannot be orphaned.
    Unless {
        counterpart: HashSet<&'a str>,
        rules: &'a RuleSettings,
    },
}

impl Hint<'_> {
    fn hint(&self, tag: &str) -> CounterpartHint {
        match self {
            Hint::Never => CounterpartHint::CannotOrphan,
            Hint::Always => CounterpartHint::MayOrphan,
            Hint::Unless { counterpart, rules } => {
                if counterpart.contains(tag) && rules.keep.is_match(tag) {
                    CounterpartHint::CannotOrphan
                } else {
                    CounterpartHint::MayOrphan
                }
            }
        }
    }
}

fn counterpart_hints<'a>(
    rules: &'a RuleSettings,
    repos: &[Repo],
    unknown: &HashSet<String>,
    listings: &'a [Result<Vec<String>, ApiError>],
) -> Vec<Hint<'a>> {
    let by_path: HashMap<&str, usize> = repos
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_str(), i))
        .collect();
    repos
        .iter()
        .map(|repo| {
            if !rules.delete_orphan_cache {
                return Hint::Never;
            }
            match repo.counterpart_path(&rules.cache_suffix) {
                CounterpartPath::NotCache | CounterpartPath::Outside(_) => Hint::Never,
                CounterpartPath::Inside(path) => {
                    match by_path.get(path.as_str()).map(|&i| &listings[i]) {
                        Some(Ok(names)) => Hint::Unless {
                            counterpart: names.iter().map(String::as_str).collect(),
                            rules,
                        },
                        Some(Err(_)) => Hint::Never,
                        None if unknown.contains(&path) => Hint::Never,
                        None => Hint::Always,
                    }
                }
            }
        })
        .collect()
}
