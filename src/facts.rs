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
//!
//! With `GC_STALE_REF_REGEX`, a project's branches and open merge requests are listed on the
//! same queue, once per project and only if one of its listed tags is named after a ref
//! ([`rules::names_ref`]); a repository whose details requests depend on them (where the rules
//! need a tag's age only if its ref is gone) waits for them, the others do not.
//!
//! Over REST (and GraphQL without `userPermissions`) a project's tag protection rules are read
//! on the same queue, once per project with a tag listed, before its details: a tag a rule
//! protects is kept whatever its details say, so its details are not read. Each project's
//! compiled rules live only until its last repository is listed (compiled regexes are large).
//!
//! A repository read only as the counterpart of a cache in scope ([`Role::CounterpartOnly`]: the
//! repository filters leave it out) is listed and nothing more: its tags are known, none is
//! decided, so none of its details is ever needed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use crate::backend::Backend;
use crate::config::RuleSettings;
use crate::gitlab::api::Details as ApiDetails;
use crate::gitlab::graphql;
use crate::gitlab::types::{Branch, MergeRequest};
use crate::gitlab::{ApiError, Client};
use crate::progress::Progress;
use crate::refs::{ListedBranch, OpenMergeRequest, ProjectRefs, Refs};
use crate::rules::{
    self, CounterpartHint, Details, Digest, Inspected, RefHint, TagFacts, TagInfo, Time,
};
use crate::scope::{CounterpartPath, Repo};

/// One repository's facts; `tags` is `Err` when its tag list could not be read.
#[derive(Debug)]
pub struct RepoFacts {
    pub repo: Repo,
    pub tags: Result<Vec<TagFacts>, String>,
    /// Its project's branches and merge requests, where a tag of the project names one.
    pub refs: Refs,
    pub role: Role,
    /// GitLab's listing carried media types, which only the metadata database has.
    pub metadata_database: bool,
}

/// Whether a run decides a repository's tags or only reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Decided,
    /// Left out by the repository filters, but the counterpart of a cache in scope: its tags
    /// are what that cache's tags are judged against (filtering chooses what is deleted from,
    /// not what is known). Nothing in it is decided, deleted or reported.
    CounterpartOnly,
}

/// The repositories a run gathers facts of: those it decides, and those it only reads as the
/// counterparts of caches it decides.
pub struct Repositories {
    pub decided: Vec<Repo>,
    pub counterparts_only: Vec<Repo>,
}

/// What gathering found: every repository's facts, and the projects whose protection rules
/// could not be read (why), for the log: GitLab's answer to a DELETE decides there.
pub struct Gathered {
    pub facts: Vec<RepoFacts>,
    pub protection_unknown: Vec<(u64, String)>,
}

/// `unknown` holds repository paths that exist but are not examined (e.g. being deleted): a
/// cache whose counterpart is one of them is never judged orphaned.
pub fn gather(
    client: &Client,
    backend: &Backend,
    rules: &RuleSettings,
    repositories: Repositories,
    unknown: &HashSet<String>,
    concurrency: usize,
    progress: &Progress,
) -> Gathered {
    let roles: Vec<Role> = repositories
        .decided
        .iter()
        .map(|_| Role::Decided)
        .chain(
            repositories
                .counterparts_only
                .iter()
                .map(|_| Role::CounterpartOnly),
        )
        .collect();
    let repos: Vec<Repo> = repositories
        .decided
        .into_iter()
        .chain(repositories.counterparts_only)
        .collect();
    let links = Links::new(rules, &repos, &roles, unknown);
    let projects = Projects::new(&repos, &roles);
    let listings: Vec<OnceLock<Listing>> = repos.iter().map(|_| OnceLock::new()).collect();
    let state = Mutex::new(Gathering {
        needs: vec![None; repos.len()],
        details: vec![Vec::new(); repos.len()],
        protected: vec![Vec::new(); repos.len()],
        media_types: vec![false; repos.len()],
        digests: vec![Vec::new(); repos.len()],
        refs: (0..projects.ids.len())
            .map(|_| RefsListing::default())
            .collect(),
        rules: (0..projects.ids.len())
            .map(|p| RulesListing {
                unlisted: projects.repos[p].len(),
                ..RulesListing::default()
            })
            .collect(),
        protection_unknown: Vec::new(),
        listed: 0,
        needed: 0,
        fetched: 0,
    });
    let lock = || state.lock().expect("a worker panicked");
    let known = Known {
        rules,
        graphql: matches!(backend, Backend::Graphql { .. }),
        read_rules: !matches!(
            backend,
            Backend::Graphql {
                permissions: true,
                ..
            }
        ),
        links: &links,
        projects: &projects,
        roles: &roles,
        listings: &listings,
    };

    let lists = (0..repos.len()).map(Task::List).collect();
    crate::pool::run(lists, concurrency, |task, queue| match task {
        Task::List(r) => {
            let (result, details, protected, media_types) = match list(client, backend, &repos[r]) {
                Ok(listed) => (
                    Ok(listed.names),
                    listed.known,
                    listed.protected,
                    listed.media_types,
                ),
                Err(e) => (Err(e), Vec::new(), Vec::new(), false),
            };
            let mut s = lock();
            // Details before the listing, both under the lock: once the listing is set, a
            // worker settling r's counterpart may settle r too, and must find its details.
            s.details[r] = details;
            s.protected[r] = protected;
            s.media_types[r] = media_types;
            let _ = listings[r].set(result);
            s.listed += 1;
            progress.tick(|| format!("listed tags of {}/{} repositories", s.listed, repos.len()));
            if let Some(p) = s.refs_to_request(r, &known) {
                // Lists, like tag lists, go before details.
                queue.push_first(Task::Branches(p));
                queue.push_first(Task::MergeRequests(p));
            }
            if let Some(p) = s.rules_to_request(r, &known) {
                queue.push_first(Task::ProtectionRules(p));
            }
            s.rules_listed(r, &known);
            s.settle(r, &known, &mut |r, t| queue.push(Task::Details(r, t)));
        }
        Task::ProtectionRules(p) => {
            let rules = crate::protection::read(client, projects.ids[p]);
            let mut s = lock();
            s.rules_arrived(p, rules, &known, &mut |r, t| {
                queue.push(Task::Details(r, t))
            });
        }
        Task::Branches(p) => {
            let listed = read_whole(|| client.list_branches(projects.ids[p]));
            let mut s = lock();
            s.refs[p].branches = Some(listed.map_err(|e| e.to_string()));
            s.refs_arrived(p, &known, &mut |r, t| queue.push(Task::Details(r, t)));
        }
        Task::MergeRequests(p) => {
            let listed = read_whole(|| client.list_open_merge_requests(projects.ids[p]));
            let mut s = lock();
            s.refs[p].merge_requests = Some(listed.map_err(|e| e.to_string()));
            s.refs_arrived(p, &known, &mut |r, t| queue.push(Task::Details(r, t)));
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

    let state = state.into_inner().expect("a worker panicked");
    let protection_unknown = state.protection_unknown;
    let mut details = state.details;
    let mut protected = state.protected;
    let media_types = state.media_types;
    let mut digests = state.digests;
    let refs: Vec<Refs> = state
        .refs
        .into_iter()
        .map(|listing| listing.refs.unwrap_or_default())
        .collect();
    let facts = repos
        .into_iter()
        .zip(listings)
        .enumerate()
        .map(|(r, (repo, listing))| {
            let listing = listing.into_inner().unwrap_or(Err(ApiError::Interrupted));
            let tags = listing.map_err(|e| e.to_string()).map(|names| {
                let details = std::mem::take(&mut details[r]);
                let mut details = details.into_iter();
                let mut protected = std::mem::take(&mut protected[r]).into_iter();
                let mut digests = std::mem::take(&mut digests[r]).into_iter();
                names
                    .into_iter()
                    .map(|name| TagFacts {
                        name: name.into_boxed_str(),
                        details: details.next().unwrap_or(Details::NotFetched),
                        inspected: match digests.next().flatten() {
                            Some(digest) => Inspected::Digest(Box::new(digest)),
                            None => Inspected::No,
                        },
                        protected: protected.next().flatten(),
                    })
                    .collect()
            });
            let refs = projects.of[r].map_or(Refs::NotListed, |p| refs[p].clone());
            RepoFacts {
                repo,
                tags,
                refs,
                role: roles[r],
                metadata_database: media_types[r],
            }
        })
        .collect();
    Gathered {
        facts,
        protection_unknown,
    }
}

/// A listing read to the end, read once more if it changed while it was read (offset
/// pagination: an item deleted meanwhile hides another, so a live branch could go unseen and
/// its tags look stale). Changed twice, it is an error: what it lists is left undecided.
fn read_whole<T>(mut listing: impl FnMut() -> Result<T, ApiError>) -> Result<T, ApiError> {
    match listing() {
        Err(ApiError::Changed { .. }) => listing(),
        other => other,
    }
}

type Listing = Result<Vec<String>, ApiError>;

/// A repository's tags as listed. GraphQL lists details too (`known`, one per name, `NotFetched`
/// where GitLab returned null fields: a broken tag, whose REST details tell 404 from a glitch);
/// REST lists names only (`known` empty). The names are shared with the workers; the details go
/// straight into the gathering state (held once, dropped where no decision needs them).
struct Listed {
    names: Vec<String>,
    known: Vec<Details>,
    /// Per name (GraphQL with `userPermissions`): why this token may not delete it.
    protected: Vec<Option<Arc<str>>>,
    /// GraphQL gave a media type: only the metadata database knows them.
    media_types: bool,
}

fn list(client: &Client, backend: &Backend, repo: &Repo) -> Result<Listed, ApiError> {
    let mut seen = HashSet::new();
    match backend {
        Backend::Graphql {
            url,
            published_at,
            permissions,
        } => {
            let mut listed = Listed {
                names: Vec::new(),
                known: Vec::new(),
                protected: Vec::new(),
                media_types: false,
            };
            client.graphql_tags(url, repo.id, *published_at, *permissions, |page| {
                for tag in page {
                    if seen.insert(tag.name.clone()) {
                        listed.known.push(graphql_details(&tag));
                        listed.protected.push(crate::protection::from_listing(&tag));
                        listed.media_types |= tag.media_type.is_some();
                        listed.names.push(tag.name);
                    }
                }
            })?;
            Ok(listed)
        }
        // A listing that changed under us is read once more; twice changed, the repository is
        // left alone this run (and its cache is not judged on it).
        Backend::Rest => read_whole(|| {
            let mut names = Vec::new();
            seen.clear();
            client.list_tags(repo.project_id, repo.id, |page| {
                // GitLab may repeat a tag across pages when tags change during the listing.
                names.extend(
                    page.into_iter()
                        .map(|t| t.name)
                        .filter(|n| seen.insert(n.clone())),
                );
            })?;
            Ok(Listed {
                names,
                known: Vec::new(),
                protected: Vec::new(),
                media_types: false,
            })
        }),
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
    /// A project's branches (by index into [`Projects::ids`]).
    Branches(usize),
    MergeRequests(usize),
    ProtectionRules(usize),
}

/// What the workers share.
struct Gathering {
    /// Per repository, per tag: whether its details are needed; `None` until decided.
    needs: Vec<Option<Vec<bool>>>,
    details: Vec<Vec<Details>>,
    /// Per repository, per tag, where the listing says: why it may not be deleted.
    protected: Vec<Vec<Option<Arc<str>>>>,
    /// Per repository: whether its listing carried media types.
    media_types: Vec<bool>,
    /// Per repository that holds referrers by name, per tag: the digest GitLab's metadata
    /// database listed, which is the registry's own (design §9: what GraphQL gives is not
    /// asked of the registry). Empty elsewhere.
    digests: Vec<Vec<Option<Digest>>>,
    /// Per project: its branches and merge requests.
    refs: Vec<RefsListing>,
    /// Per project: its tag protection rules.
    rules: Vec<RulesListing>,
    protection_unknown: Vec<(u64, String)>,
    listed: usize,
    needed: usize,
    fetched: usize,
}

/// One project's two listings, and what they say once both are in.
#[derive(Default)]
struct RefsListing {
    requested: bool,
    branches: Option<Result<Vec<Branch>, String>>,
    merge_requests: Option<Result<Vec<MergeRequest>, String>>,
    refs: Option<Refs>,
    /// Repositories whose details requests wait for `refs`.
    waiting: Vec<usize>,
}

/// One project's tag protection rules, from the request to the last repository they are
/// matched against.
#[derive(Default)]
struct RulesListing {
    requested: bool,
    /// Arrived (`Unknown` when they cannot be read); dropped once `unlisted` is 0.
    rules: Option<crate::protection::Rules>,
    arrived: bool,
    /// The project's decided repositories whose listing has not been matched yet.
    unlisted: usize,
    /// Repositories whose details requests wait for the rules.
    waiting: Vec<usize>,
}

/// What is known before anything is gathered, shared by every worker.
struct Known<'a> {
    rules: &'a RuleSettings,
    /// The listings are GraphQL's, with details (REST lists names only).
    graphql: bool,
    /// Protection comes from the projects' rules (the listings do not say it).
    read_rules: bool,
    links: &'a Links,
    projects: &'a Projects,
    roles: &'a [Role],
    listings: &'a [OnceLock<Listing>],
}

/// The projects of the repositories a run decides, which the `stale-ref` rule may need the
/// refs of.
struct Projects {
    /// Project ids.
    ids: Vec<u64>,
    /// Per repository: its project's index in `ids`; `None` for repositories not decided.
    of: Vec<Option<usize>>,
    /// Per project: its decided repositories.
    repos: Vec<Vec<usize>>,
}

impl Projects {
    fn new(repos: &[Repo], roles: &[Role]) -> Projects {
        let mut index: HashMap<u64, usize> = HashMap::new();
        let mut ids = Vec::new();
        let of = repos
            .iter()
            .zip(roles)
            .map(|(repo, role)| {
                (*role == Role::Decided).then(|| {
                    *index.entry(repo.project_id).or_insert_with(|| {
                        ids.push(repo.project_id);
                        ids.len() - 1
                    })
                })
            })
            .collect::<Vec<Option<usize>>>();
        let mut repos = vec![Vec::new(); ids.len()];
        for (r, p) in of.iter().enumerate() {
            if let Some(p) = p {
                repos[*p].push(r);
            }
        }
        Projects { ids, of, repos }
    }
}

impl Gathering {
    /// The project whose refs must now be listed, if repository `r`, just listed, has a tag
    /// named after a ref and its project's refs are not requested yet.
    fn refs_to_request(&mut self, r: usize, known: &Known<'_>) -> Option<usize> {
        let p = known.projects.of[r]?;
        let Some(Ok(names)) = known.listings[r].get() else {
            return None;
        };
        if self.refs[p].requested || !names.iter().any(|n| rules::names_ref(known.rules, n)) {
            return None;
        }
        self.refs[p].requested = true;
        Some(p)
    }

    /// The project whose protection rules must now be read, if repository `r`, just listed,
    /// is the first of its project with a tag.
    fn rules_to_request(&mut self, r: usize, known: &Known<'_>) -> Option<usize> {
        let p = known.projects.of[r]?;
        let listed_tags = matches!(known.listings[r].get(), Some(Ok(names)) if !names.is_empty());
        if !known.read_rules || self.rules[p].requested || !listed_tags {
            return None;
        }
        self.rules[p].requested = true;
        Some(p)
    }

    /// Repository `r` is listed: where its project's rules are in, its protected tags are
    /// marked; the rules go once no repository of the project is left to match.
    fn rules_listed(&mut self, r: usize, known: &Known<'_>) {
        let Some(p) = known.projects.of[r] else {
            return;
        };
        let listing = &mut self.rules[p];
        listing.unlisted -= 1;
        if let (Some(rules), Some(listed)) = (&listing.rules, known.listings[r].get()) {
            self.protected[r] = protected_by(rules, listed);
        }
        if listing.unlisted == 0 {
            listing.rules = None;
        }
    }

    /// Project `p`'s rules are in: the tags of its listed repositories that they protect are
    /// marked, and the repositories that waited for them are settled.
    fn rules_arrived(
        &mut self,
        p: usize,
        rules: crate::protection::Rules,
        known: &Known<'_>,
        queue: &mut dyn FnMut(usize, usize),
    ) {
        if let crate::protection::Rules::Unknown(why) = &rules {
            self.protection_unknown
                .push((known.projects.ids[p], why.clone()));
        }
        for &r in &known.projects.repos[p] {
            if let Some(listing) = known.listings[r].get() {
                self.protected[r] = protected_by(&rules, listing);
            }
        }
        let listing = &mut self.rules[p];
        listing.arrived = true;
        if listing.unlisted > 0 {
            listing.rules = Some(rules);
        }
        for r in std::mem::take(&mut listing.waiting) {
            self.settle(r, known, queue);
        }
    }

    /// One of project `p`'s listings is in; once both are, what they say is known, and the
    /// repositories that waited for it are settled.
    fn refs_arrived(&mut self, p: usize, known: &Known<'_>, queue: &mut dyn FnMut(usize, usize)) {
        let listing = &mut self.refs[p];
        let (branches, merge_requests) =
            match (listing.branches.take(), listing.merge_requests.take()) {
                (Some(branches), Some(merge_requests)) => (branches, merge_requests),
                (branches, merge_requests) => {
                    (listing.branches, listing.merge_requests) = (branches, merge_requests);
                    return;
                }
            };
        listing.refs = Some(what_refs_say(
            branches,
            merge_requests,
            known.projects.ids[p],
        ));
        let waiting = std::mem::take(&mut listing.waiting);
        for r in waiting {
            self.settle(r, known, queue);
        }
    }

    /// Once repository `r` is listed, and its counterpart decided (a cache's details may depend
    /// on what its counterpart keeps), and its project's refs known where its details depend on
    /// them, decides which of its tags need details and queues them; then does the same for the
    /// caches that waited on it.
    fn settle(&mut self, r: usize, known: &Known<'_>, queue: &mut dyn FnMut(usize, usize)) {
        let rules = known.rules;
        let Some(listing) = known.listings[r].get() else {
            return;
        };
        if self.needs[r].is_some() {
            return;
        }
        let hint = match known.links.counterpart[r] {
            Link::Counterpart(c) => {
                let Some(need) = &self.needs[c] else {
                    return; // settled when the counterpart is
                };
                match known.listings[c].get() {
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
        let names: &[String] = match listing {
            Ok(names) => names,
            Err(_) => &[],
        };
        // Protected tags need no details: a decided repository with tags waits for its
        // project's rules.
        if let Some(p) = known.projects.of[r] {
            let listing = &mut self.rules[p];
            if listing.requested && !listing.arrived && !names.is_empty() {
                if !listing.waiting.contains(&r) {
                    listing.waiting.push(r);
                }
                return; // settled when the rules are in
            }
        }
        let refs = match known.projects.of[r] {
            Some(p) => match &self.refs[p].refs {
                Some(refs) => Some(refs),
                None if names
                    .iter()
                    .any(|n| rules::needs_wait_for_refs(rules, n, hint.hint(n))) =>
                {
                    self.refs[p].waiting.push(r);
                    return; // settled when the refs are known
                }
                // Nothing here depends on them: a tag named after a ref needs its details
                // whether the ref is live or gone.
                None => None,
            },
            None => None,
        };
        let ref_hint = |name: &str| match refs {
            Some(refs) => rules::ref_hint(rules, name, refs),
            None if rules::names_ref(rules, name) => RefHint::Live,
            None => RefHint::NotNamed,
        };
        // `need`: the decision depends on the details. Details a tag does not need are not
        // kept even when GraphQL listed them, so both backends decide on the same facts. A
        // repository read only as a counterpart decides nothing, so needs nothing.
        //
        // A tag the listing says this token may not delete is `protected` before any rule that
        // reads details. A tag GraphQL lists without a digest is one GitLab cannot show; REST's
        // 404 would say no more where the registry is read, or where the listing's media types
        // show GitLab's metadata database (a 404 proves nothing there): it is taken as that.
        let decided = known.roles[r] == Role::Decided;
        let rest_says_more = !(rules.evidence == rules::Evidence::Inspected || self.media_types[r]);
        let listed_details = std::mem::take(&mut self.details[r]);
        if self.media_types[r] && decided && holds_referrers(rules, names) {
            self.digests[r] = listed_details
                .iter()
                .map(|d| d.info().and_then(|i| i.digest.clone()))
                .collect();
        }
        let mut listed = listed_details.into_iter();
        let protected = &self.protected[r];
        let (need, details): (Vec<bool>, Vec<Details>) = names
            .iter()
            .enumerate()
            .map(|(t, name)| {
                let protected = protected.get(t).is_some_and(Option::is_some);
                let need = decided
                    && !protected
                    && rules::needs_details(rules, name, hint.hint(name), ref_hint(name));
                let listed = match listed.next().unwrap_or(Details::NotFetched) {
                    Details::NotFetched if known.graphql && !rest_says_more => Details::Missing,
                    listed => listed,
                };
                (need, if need { listed } else { Details::NotFetched })
            })
            .unzip();
        drop(hint);
        for (t, listed) in details.iter().enumerate() {
            if need[t] && *listed == Details::NotFetched {
                self.needed += 1;
                queue(r, t);
            }
        }
        self.details[r] = details;
        self.needs[r] = Some(need);
        for &cache in &known.links.caches[r] {
            self.settle(cache, known, queue);
        }
    }
}

/// Whether a repository's referrers by name (cosign's `sha256-<hex>.sig` and kin) have subjects
/// to look for among its other tags.
fn holds_referrers(rules: &RuleSettings, names: &[String]) -> bool {
    rules.delete_orphan_referrers
        && names
            .iter()
            .any(|n| crate::registry::kind::subject_by_name(n).is_some() && !rules.keep.is_match(n))
}

/// Per tag of a listing, why `rules` keep this token from deleting it.
fn protected_by(rules: &crate::protection::Rules, listing: &Listing) -> Vec<Option<Arc<str>>> {
    match listing {
        Ok(names) => names
            .iter()
            .map(|name| rules.protecting(name).map(Arc::from))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// What a project's two listings say of its refs; a failed listing makes them unknown.
fn what_refs_say(
    branches: Result<Vec<Branch>, String>,
    merge_requests: Result<Vec<MergeRequest>, String>,
    project: u64,
) -> Refs {
    let (branches, merge_requests) = match (branches, merge_requests) {
        (Ok(branches), Ok(merge_requests)) => (branches, merge_requests),
        (Err(e), _) | (_, Err(e)) => return Refs::Unknown(e.into()),
    };
    let refs = ProjectRefs::from_listings(
        branches.iter().map(|b| ListedBranch {
            name: &b.name,
            default: b.default == Some(true),
        }),
        merge_requests.iter().map(|mr| OpenMergeRequest {
            iid: mr.iid,
            source_branch: &mr.source_branch,
        }),
    );
    match refs {
        Ok(refs) => Refs::Known(Arc::new(refs)),
        Err(e) => Refs::Unknown(format!("{e} (project {project})").into()),
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
        // A 5xx that outlived the retries says nothing about the tag (gitlab-api.md §13).
        Err(
            e @ ApiError::Status {
                status: 500..=599, ..
            },
        ) => Details::Unavailable(e.to_string()),
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
    fn new(
        rules: &RuleSettings,
        repos: &[Repo],
        roles: &[Role],
        unknown: &HashSet<String>,
    ) -> Links {
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
                if !rules.delete_orphan_cache || roles[i] != Role::Decided {
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
