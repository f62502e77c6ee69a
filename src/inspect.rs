//! Reading the registry for the tags GitLab could not show (design §9), after GitLab's facts
//! are in and before anything is decided.
//!
//! Only tags whose decision depends on it are read: details that answered 404 (proof of
//! nothing: every OCI index answers so without GitLab's metadata database), a 5xx that outlived
//! the retries, 200 with neither a date nor a size (GitLab 19.2+ on an index), and, in a cache
//! repository, tags whose null date would otherwise be the only sign of a cache (GitLab's
//! database dates every tag). Each costs one manifest read; an index also has its platform
//! manifests read when a missing one would make it `broken` (`GC_DELETE_BROKEN`), and its first
//! platform's config when an age rule needs its age and it carries no date of its own. A
//! repository that holds signatures, attestations or SBOMs has the digest of each of its other
//! tags read (one HEAD each), since a referrer's subject must be found among them and GitLab's
//! digest of a Docker manifest list is its amd64 child's, not the list's (over GraphQL on the
//! metadata database the listing's digests are the registry's: `facts` keeps them and they are
//! not asked again). Tokens are asked for several repositories at a time.

use crate::config::RuleSettings;
use crate::facts::{RepoFacts, Role};
use crate::progress::Progress;
use crate::registry::kind::{self, Manifest};
use crate::registry::{Fetched, Kind, Registry, RegistryError};
use crate::rules::{Details, Digest, Inspected, Inspection, TagFacts, Time};
use crate::scope::CounterpartPath;

/// What inspection did, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Inspections {
    /// Tags whose manifest was read.
    pub tags: usize,
    /// Tags whose digest alone was read (repositories with referrers).
    pub digests: usize,
    /// Reads that failed (those tags are kept).
    pub failed: usize,
}

/// Reads what the rules need from the registry into `facts`.
pub fn inspect(
    registry: &Registry,
    rules: &RuleSettings,
    facts: &mut [RepoFacts],
    concurrency: usize,
    progress: &Progress,
) -> Inspections {
    let mut count = Inspections::default();
    let database = registry.identity.database;
    let kinds = work(facts, |repo, tag| needs_kind(rules, database, repo, tag));
    read(
        registry,
        facts,
        &kinds,
        concurrency,
        progress,
        "manifests",
        |repo, tag| inspect_tag(registry, rules, repo, tag),
    );
    count.tags = kinds.len();
    let holding = holding_referrers(rules, facts);
    let digests = work(facts, |repo, tag| {
        holding.contains(&repo.repo.path) && tag.inspected == Inspected::No && !is_referrer(tag)
    });
    read(
        registry,
        facts,
        &digests,
        concurrency,
        progress,
        "digests",
        |repo, tag| match registry.digest(&repo.repo.path, &tag.name) {
            Ok(Some(d)) => Inspected::Digest(Box::new(Digest::from(d))),
            Ok(None) => Inspected::Read(Box::new(missing(
                String::new(),
                "the registry has no manifest for it",
            ))),
            Err(e) => Inspected::Failed(e.to_string().into()),
        },
    );
    count.digests = digests.len();
    count.failed = facts
        .iter()
        .filter_map(|f| f.tags.as_ref().ok())
        .flatten()
        .filter(|t| matches!(t.inspected, Inspected::Failed(_)))
        .count();
    count
}

/// `(repository, tag)` indices of every decided tag `wanted` says to read.
fn work(
    facts: &[RepoFacts],
    wanted: impl Fn(&RepoFacts, &TagFacts) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (r, repo) in facts.iter().enumerate() {
        if repo.role != Role::Decided {
            continue;
        }
        let Ok(tags) = &repo.tags else { continue };
        for (t, tag) in tags.iter().enumerate() {
            if wanted(repo, tag) {
                out.push((r, t));
            }
        }
    }
    out
}

/// Reads `items` on up to `concurrency` threads, tokens first (several repositories a request).
fn read(
    registry: &Registry,
    facts: &mut [RepoFacts],
    items: &[(usize, usize)],
    concurrency: usize,
    progress: &Progress,
    what: &str,
    one: impl Fn(&RepoFacts, &TagFacts) -> Inspected + Sync,
) {
    if items.is_empty() {
        return;
    }
    let mut repos: Vec<&str> = items
        .iter()
        .map(|&(r, _)| facts[r].repo.path.as_str())
        .collect();
    repos.dedup();
    let authorized = registry.authorize(&repos);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results = {
        let facts: &[RepoFacts] = facts;
        crate::pool::map(items, concurrency, |&(r, t)| {
            let repo = &facts[r];
            let tag = &repo.tags.as_ref().expect("only listed repositories")[t];
            let result = match &authorized {
                Err(e) => Inspected::Failed(e.to_string().into()),
                Ok(()) => one(repo, tag),
            };
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.tick(|| format!("read {n}/{} {what} from the registry", items.len()));
            result
        })
    };
    for (&(r, t), result) in items.iter().zip(results) {
        if let Ok(tags) = &mut facts[r].tags {
            tags[t].inspected = result;
        }
    }
}

fn is_cache_repository(rules: &RuleSettings, repo: &RepoFacts) -> bool {
    rules.delete_orphan_cache
        && !matches!(
            repo.repo.counterpart_path(&rules.cache_suffix),
            CounterpartPath::NotCache
        )
}

/// Whether the decision of `tag` depends on what the registry holds for it. `database`: the
/// registry says it has GitLab's metadata database.
fn needs_kind(rules: &RuleSettings, database: bool, repo: &RepoFacts, tag: &TagFacts) -> bool {
    if rules.keep.is_match(&tag.name) || kind::subject_by_name(&tag.name).is_some() {
        return false;
    }
    match &tag.details {
        Details::Missing | Details::Unavailable(_) => true,
        Details::Found(info) if info.created_at.is_none() && info.size.is_none() => true,
        // GitLab's database dates every tag (its push), so a date does not tell a cache from an
        // image there; without it the date is the image config's, which no cache has.
        Details::Found(info) => {
            info.created_at.is_some()
                && (database || repo.metadata_database)
                && is_cache_repository(rules, repo)
        }
        Details::NotFetched | Details::Failed(_) => false,
    }
}

fn is_referrer(tag: &TagFacts) -> bool {
    kind::subject_by_name(&tag.name).is_some()
        || tag
            .inspected
            .read()
            .is_some_and(|i| i.kind == Kind::Referrer)
}

/// Repositories whose referrers' subjects must be looked for among their tags.
fn holding_referrers(
    rules: &RuleSettings,
    facts: &[RepoFacts],
) -> std::collections::HashSet<String> {
    if !rules.delete_orphan_referrers {
        return Default::default();
    }
    facts
        .iter()
        .filter(|f| f.role == Role::Decided)
        .filter(|f| {
            f.tags.as_ref().is_ok_and(|tags| {
                tags.iter()
                    .any(|t| is_referrer(t) && !rules.keep.is_match(&t.name))
            })
        })
        .map(|f| f.repo.path.clone())
        .collect()
}

fn missing(digest: String, why: &str) -> Inspection {
    Inspection {
        kind: Kind::Missing,
        media_type: "".into(),
        digest: Digest::from(digest),
        platforms: 0,
        attestations: 0,
        subject: None,
        created: None,
        missing: Some(why.into()),
    }
}

/// One tag: its manifest, and what its kind needs besides (platform manifests, a config).
fn inspect_tag(
    registry: &Registry,
    rules: &RuleSettings,
    repo: &RepoFacts,
    tag: &TagFacts,
) -> Inspected {
    let path = &repo.repo.path;
    let result = (|| -> Result<Inspection, RegistryError> {
        let (media_type, digest, body) = match registry.manifest(path, &tag.name)? {
            Fetched::Missing => {
                return Ok(missing(
                    String::new(),
                    "the registry has no manifest for it (MANIFEST_UNKNOWN)",
                ))
            }
            Fetched::Found {
                media_type,
                digest,
                body,
            } => (media_type, digest, body),
        };
        let manifest = match kind::classify(&tag.name, &media_type, &body) {
            Ok(m) => m,
            Err(e) => {
                return Err(RegistryError::Decode {
                    request: format!("GET /v2/{path}/manifests/{}", tag.name),
                    detail: e,
                })
            }
        };
        let needs_age = needs_age(rules, repo, tag, &manifest);
        let mut inspection = Inspection {
            kind: manifest.kind,
            media_type: manifest.media_type.as_str().into(),
            digest: Digest::from(digest),
            platforms: manifest.platforms.len().min(u16::MAX as usize) as u16,
            attestations: manifest.attestations.min(u16::MAX as usize) as u16,
            subject: manifest.subject.as_deref().map(Digest::from),
            created: manifest.created.as_deref().and_then(parse_time),
            missing: None,
        };
        match manifest.kind {
            Kind::Index => index(registry, rules, path, &manifest, needs_age, &mut inspection)?,
            Kind::Image if needs_age => {
                inspection.created = config_created(registry, path, &manifest)?;
            }
            _ => {}
        }
        Ok(inspection)
    })();
    match result {
        Ok(i) => Inspected::Read(Box::new(i)),
        Err(e) => Inspected::Failed(e.to_string().into()),
    }
}

/// Whether an age rule, or `stale-ref` for a tag of a gone ref (`GC_STALE_REF_MIN_AGE`), needs
/// a date GitLab did not give.
fn needs_age(rules: &RuleSettings, repo: &RepoFacts, tag: &TagFacts, manifest: &Manifest) -> bool {
    let age_rules = rules.keep_n.is_some() || rules.older_than.is_some();
    let judged = (age_rules && rules.delete.is_match(&tag.name))
        || crate::rules::ref_hint(rules, &tag.name, &repo.refs) == crate::rules::RefHint::Gone;
    let dated = tag.details.info().and_then(|i| i.created_at).is_some();
    judged && !dated && manifest.created.is_none()
}

/// An index's platform manifests: every one when a missing one would make the tag broken,
/// the first (and its config) when its age is needed.
fn index(
    registry: &Registry,
    rules: &RuleSettings,
    path: &str,
    manifest: &Manifest,
    needs_age: bool,
    inspection: &mut Inspection,
) -> Result<(), RegistryError> {
    let wanted = if rules.delete_broken {
        manifest.platforms.len()
    } else {
        usize::from(needs_age).min(manifest.platforms.len())
    };
    for (i, child) in manifest.platforms.iter().take(wanted).enumerate() {
        match registry.manifest(path, &child.digest)? {
            Fetched::Missing => {
                inspection.kind = Kind::Missing;
                inspection.missing =
                    Some(format!("its platform manifest {} is missing", child.digest).into());
                return Ok(());
            }
            Fetched::Found {
                media_type, body, ..
            } if i == 0 && needs_age => {
                if let Ok(platform) = kind::classify("", &media_type, &body) {
                    inspection.created = config_created(registry, path, &platform)?;
                }
            }
            Fetched::Found { .. } => {}
        }
    }
    Ok(())
}

/// The image config's `created`.
fn config_created(
    registry: &Registry,
    path: &str,
    manifest: &Manifest,
) -> Result<Option<Time>, RegistryError> {
    let Some(config) = manifest.config.as_ref().filter(|c| !c.digest.is_empty()) else {
        return Ok(None);
    };
    let blob = registry.blob(path, &config.digest)?;
    Ok(kind::config_created(&blob).as_deref().and_then(parse_time))
}

fn parse_time(text: &str) -> Option<Time> {
    text.parse::<jiff::Timestamp>().ok().map(Time::from)
}
