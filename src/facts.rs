//! Gathering the facts the rules need, with the fewest requests GitLab allows.
//!
//! Each repository's tag list is read once; a cache repository's counterpart is a repository in
//! the same project, so its tag list is the one already read (no extra request, ever); details
//! (one request per tag, the dominant cost) are fetched only for tags whose decision can depend
//! on them ([`rules::needs_details`]).
//!
//! Both kinds of request share one queue served by `GC_CONCURRENCY` workers, tag lists first:
//! as soon as a repository is listed (and, for a cache repository, its counterpart too), the
//! details of its tags are queued, so details of one repository are read while others are still
//! being listed and no worker waits at a barrier between the two.
//!
//! Over GraphQL ([`Backend::Graphql`]) the listing itself carries each tag's details, 20 tags a
//! page; only a tag whose fields come back null (GitLab could not read its manifest) gets a REST
//! details request, and only if its decision needs one: the facts, and so the decisions, are the
//! same as over REST.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use crate::backend::Backend;
use crate::config::RuleSettings;
use crate::gitlab::api::Details as ApiDetails;
use crate::gitlab::graphql;
use crate::gitlab::{ApiError, Client};
use crate::progress::Progress;
use crate::rules::{self, CounterpartHint, Details, Digest, TagFacts, TagInfo, Time};
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
    backend: &Backend,
    rules: &RuleSettings,
    repos: Vec<Repo>,
    unknown: &HashSet<String>,
    concurrency: usize,
    progress: &Progress,
) -> Vec<RepoFacts> {
    let links = Links::new(rules, &repos, unknown);
    let listings: Vec<OnceLock<Listing>> = repos.iter().map(|_| OnceLock::new()).collect();
    let state = Mutex::new(Gathering {
        needs: vec![None; repos.len()],
        details: vec![Vec::new(); repos.len()],
        listed: 0,
        needed: 0,
        fetched: 0,
    });
    let lock = || state.lock().expect("a worker panicked");

    let lists = (0..repos.len()).map(Task::List).collect();
    crate::pool::run(lists, concurrency, |task, queue| match task {
        Task::List(r) => {
            let (result, known) = match list(client, backend, &repos[r]) {
                Ok(listed) => (Ok(listed.names), listed.known),
                Err(e) => (Err(e), Vec::new()),
            };
            let mut s = lock();
            // Details before the listing, both under the lock: once the listing is set, a
            // worker settling r's counterpart may settle r too, and must find its details.
            s.details[r] = known;
            let _ = listings[r].set(result);
            s.listed += 1;
            progress.tick(|| format!("listed tags of {}/{} repositories", s.listed, repos.len()));
            s.settle(r, rules, &links, &listings, &mut |r, t| {
                queue.push(Task::Details(r, t))
            });
        }
        Task::Details(r, t) => {
            let repo = &repos[r];
            let names = match listings[r].get() {
                Some(Ok(names)) => names,
                _ => unreachable!("details are only queued for listed repositories"),
            };
            let details = fetch_details(client, repo, &names[t]);
            let mut s = lock();
            s.details[r][t] = details;
            s.fetched += 1;
            progress.tick(|| format!("read details of {}/{} tags", s.fetched, s.needed));
        }
    });

    let mut details = state.into_inner().expect("a worker panicked").details;
    repos
        .into_iter()
        .zip(listings)
        .enumerate()
        .map(|(r, (repo, listing))| {
            let listing = listing.into_inner().unwrap_or(Err(ApiError::Interrupted));
            let tags = listing.map_err(|e| e.to_string()).map(|names| {
                let details = std::mem::take(&mut details[r]);
                let mut details = details.into_iter();
                names
                    .into_iter()
                    .map(|name| TagFacts {
                        name,
                        details: details.next().unwrap_or(Details::NotFetched),
                    })
                    .collect()
            });
            RepoFacts { repo, tags }
        })
        .collect()
}

type Listing = Result<Vec<String>, ApiError>;

/// A repository's tags as listed. GraphQL lists details too (`known`, one per name, `NotFetched`
/// where GitLab returned null fields: a broken tag, whose REST details tell 404 from a glitch);
/// REST lists names only (`known` empty). The names are shared with the workers; the details go
/// straight into the gathering state (held once, dropped where no decision needs them).
struct Listed {
    names: Vec<String>,
    known: Vec<Details>,
}

fn list(client: &Client, backend: &Backend, repo: &Repo) -> Result<Listed, ApiError> {
    let mut seen = HashSet::new();
    match backend {
        Backend::Graphql { url, published_at } => {
            let mut listed = Listed {
                names: Vec::new(),
                known: Vec::new(),
            };
            client.graphql_tags(url, repo.id, *published_at, |page| {
                for tag in page {
                    if seen.insert(tag.name.clone()) {
                        listed.known.push(graphql_details(&tag));
                        listed.names.push(tag.name);
                    }
                }
            })?;
            Ok(listed)
        }
        Backend::Rest => {
            let mut attempts = 0;
            loop {
                let mut names = Vec::new();
                seen.clear();
                let result = client.list_tags(repo.project_id, repo.id, |page| {
                    // GitLab may repeat a tag across pages when tags change during the listing.
                    names.extend(
                        page.into_iter()
                            .map(|t| t.name)
                            .filter(|n| seen.insert(n.clone())),
                    );
                });
                attempts += 1;
                // A listing that changed under us is read once more; twice changed, the
                // repository is left alone this run (and its cache is not judged on it).
                match result {
                    Err(ApiError::Changed { .. }) if attempts < 2 => continue,
                    other => {
                        return other.map(|()| Listed {
                            names,
                            known: Vec::new(),
                        })
                    }
                }
            }
        }
    }
}

/// A GraphQL tag's details, as REST details would give them. A null digest means GitLab could
/// not read the manifest: only REST's details answer tells a broken tag (404) from anything
/// else, so that tag is left `NotFetched` for a REST details request if its decision needs one.
fn graphql_details(tag: &graphql::Tag) -> Details {
    if tag.digest.is_none() {
        return Details::NotFetched;
    }
    let parsed = parse_time(tag.created_at.as_deref())
        .and_then(|created_at| Ok((created_at, parse_time(tag.published_at.as_deref())?)));
    match parsed {
        Ok((created_at, published_at)) => Details::Found(TagInfo {
            created_at: created_at.map(Time::from),
            published_at: published_at.map(Time::from),
            digest: tag.digest.clone().map(Digest::from),
            size: tag.total_size,
        }),
        Err(e) => Details::Failed(e),
    }
}

enum Task {
    List(usize),
    Details(usize, usize),
}

/// What the workers share.
struct Gathering {
    /// Per repository, per tag: whether its details are needed; `None` until decided.
    needs: Vec<Option<Vec<bool>>>,
    details: Vec<Vec<Details>>,
    listed: usize,
    needed: usize,
    fetched: usize,
}

impl Gathering {
    /// Once repository `r` is listed, and its counterpart decided (a cache's details may depend
    /// on what its counterpart keeps), decides which of its tags need details and queues them;
    /// then does the same for the caches that waited on it.
    fn settle(
        &mut self,
        r: usize,
        rules: &RuleSettings,
        links: &Links,
        listings: &[OnceLock<Listing>],
        queue: &mut dyn FnMut(usize, usize),
    ) {
        let Some(listing) = listings[r].get() else {
            return;
        };
        if self.needs[r].is_some() {
            return;
        }
        let hint = match links.counterpart[r] {
            Link::Counterpart(c) => {
                let Some(need) = &self.needs[c] else {
                    return; // settled when the counterpart is
                };
                match listings[c].get() {
                    Some(Ok(names)) => Hint::Unless {
                        kept: names
                            .iter()
                            .zip(need)
                            .filter(|(_, &need)| !need)
                            .map(|(name, _)| name.as_str())
                            .collect(),
                    },
                    _ => Hint::Never,
                }
            }
            Link::Never => Hint::Never,
            Link::Missing => Hint::Always,
        };
        // `need`: the decision depends on the details. Details a tag does not need are not
        // kept even when GraphQL listed them, so both backends decide on the same facts.
        let mut known = std::mem::take(&mut self.details[r]).into_iter();
        let (need, details): (Vec<bool>, Vec<Details>) = match listing {
            Ok(names) => names
                .iter()
                .map(|name| {
                    let need = rules::needs_details(rules, name, hint.hint(name));
                    let known = known.next().unwrap_or(Details::NotFetched);
                    (need, if need { known } else { Details::NotFetched })
                })
                .unzip(),
            Err(_) => (Vec::new(), Vec::new()),
        };
        drop(hint);
        for (t, known) in details.iter().enumerate() {
            if need[t] && *known == Details::NotFetched {
                self.needed += 1;
                queue(r, t);
            }
        }
        self.details[r] = details;
        self.needs[r] = Some(need);
        for &cache in &links.caches[r] {
            self.settle(cache, rules, links, listings, queue);
        }
    }
}

fn fetch_details(client: &Client, repo: &Repo, name: &str) -> Details {
    match client.tag_details(repo.project_id, repo.id, name) {
        Ok(ApiDetails::NotFound) => Details::Missing,
        Ok(ApiDetails::Found(d)) => match parse_time(d.created_at.as_deref()) {
            Ok(created_at) => Details::Found(TagInfo {
                created_at: created_at.map(Time::from),
                published_at: None,
                digest: d.digest.map(Digest::from),
                size: d.total_size,
            }),
            Err(e) => Details::Failed(e),
        },
        Err(e) => Details::Failed(e.to_string()),
    }
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
    /// The counterpart's tags are known: a tag it has and certainly keeps (one that needs no
    /// details: a tag without details is never deleted) cannot be orphaned by this run, so its
    /// details cannot change the cache tag's decision.
    Unless {
        kept: HashSet<&'a str>,
    },
}

impl Hint<'_> {
    fn hint(&self, tag: &str) -> CounterpartHint {
        match self {
            Hint::Never => CounterpartHint::CannotOrphan,
            Hint::Always => CounterpartHint::MayOrphan,
            Hint::Unless { kept } => {
                if kept.contains(tag) {
                    CounterpartHint::CannotOrphan
                } else {
                    CounterpartHint::MayOrphan
                }
            }
        }
    }
}

/// How each repository relates to a counterpart, known before anything is listed.
enum Link {
    /// Not a cache, the orphan-cache rule is off, or the counterpart is outside the project or
    /// not examined: the orphan-cache rule cannot delete its tags.
    Never,
    /// A cache whose counterpart does not exist: any of its tags may be orphaned.
    Missing,
    /// A cache whose counterpart is this repository in scope.
    Counterpart(usize),
}

struct Links {
    counterpart: Vec<Link>,
    /// Per repository: the caches whose counterpart it is.
    caches: Vec<Vec<usize>>,
}

impl Links {
    fn new(rules: &RuleSettings, repos: &[Repo], unknown: &HashSet<String>) -> Links {
        let by_path: HashMap<&str, usize> = repos
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect();
        let mut caches = vec![Vec::new(); repos.len()];
        let counterpart = repos
            .iter()
            .enumerate()
            .map(|(i, repo)| {
                if !rules.delete_orphan_cache {
                    return Link::Never;
                }
                match repo.counterpart_path(&rules.cache_suffix) {
                    CounterpartPath::NotCache | CounterpartPath::Outside(_) => Link::Never,
                    CounterpartPath::Inside(path) => match by_path.get(path.as_str()) {
                        // A counterpart's path is shorter than its cache's: no cycles.
                        Some(&c) if c != i => {
                            caches[c].push(i);
                            Link::Counterpart(c)
                        }
                        Some(_) => Link::Never,
                        None if unknown.contains(&path) => Link::Never,
                        None => Link::Missing,
                    },
                }
            })
            .collect();
        Links {
            counterpart,
            caches,
        }
    }
}
