//! The instance's mutable state, built once from a fixture.
//!
//! Tags live in a sorted map per repository: GitLab lists them sorted by
//! name, a benchmark fixture holds 100,000+ of them, and a DELETE must not
//! copy anything. All ids, digests and sizes the fixture leaves out are
//! derived deterministically, so two runs of the same fixture answer the
//! same bytes (timestamps aside).

use crate::clock;
use crate::fixture::Fixture;
use crate::policy::Policy;
use crate::protection::TagRule;
use crate::registry::world::{self, World};
use crate::registry::{self, Registry};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The default token when a fixture lists none.
pub(crate) const DEFAULT_TOKEN: &str = "glpat-fake-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegistryAccess {
    Enabled,
    Private,
    Disabled,
}

impl RegistryAccess {
    pub(crate) fn parse(s: &str) -> Option<RegistryAccess> {
        match s {
            "enabled" => Some(RegistryAccess::Enabled),
            "private" => Some(RegistryAccess::Private),
            "disabled" => Some(RegistryAccess::Disabled),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RegistryAccess::Enabled => "enabled",
            RegistryAccess::Private => "private",
            RegistryAccess::Disabled => "disabled",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Group {
    pub id: u64,
    pub full_path: String,
    pub name: String,
    pub parent_id: Option<u64>,
    pub access_level: u8,
}

#[derive(Debug)]
pub(crate) struct Project {
    pub id: u64,
    pub full_path: String,
    pub name: String,
    pub namespace_id: u64,
    pub access_level: u8,
    pub registry: RegistryAccess,
    pub archived: bool,
    pub created_ms: i64,
    pub policy: Policy,
    pub repo_ids: Vec<u64>,
    /// Container tag protection rules: the fixture's, plus one exact rule per tag
    /// flagged `protected`.
    pub protection_rules: Vec<TagRule>,
    /// Branches and merge requests.
    pub git: crate::refs::Git,
}

impl Project {
    pub(crate) fn path(&self) -> &str {
        self.full_path.rsplit('/').next().unwrap_or(&self.full_path)
    }
}

#[derive(Debug)]
pub(crate) struct Repo {
    pub id: u64,
    pub project_id: u64,
    pub name: String,
    pub path: String,
    pub status: Option<String>,
    pub created_ms: i64,
    pub tags: Tags,
}

/// A repository's tags: a hash for lookups and a sorted name list for
/// pages. Paging a sorted map by offset walks it from the start on every
/// page, which dominated benchmark profiles; the list makes a page a slice,
/// and a DELETE costs one binary search and one memmove of pointers.
#[derive(Debug, Default)]
pub(crate) struct Tags {
    by_name: HashMap<String, Tag>,
    sorted: Vec<String>,
}

impl Tags {
    fn from_map(by_name: HashMap<String, Tag>) -> Tags {
        let mut sorted: Vec<String> = by_name.keys().cloned().collect();
        // Byte order, as Ruby's String#sort.
        sorted.sort_unstable();
        Tags { by_name, sorted }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Tag> {
        self.by_name.get(name)
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Tag> {
        let tag = self.by_name.remove(name)?;
        if let Ok(i) = self.sorted.binary_search_by(|n| n.as_str().cmp(name)) {
            self.sorted.remove(i);
        }
        Some(tag)
    }

    /// Adds (or replaces) a tag, keeping the names sorted.
    pub(crate) fn insert(&mut self, name: String, tag: Tag) {
        if self.by_name.insert(name.clone(), tag).is_none() {
            let i = self.sorted.binary_search(&name).unwrap_or_else(|i| i);
            self.sorted.insert(i, name);
        }
    }

    /// Names in GitLab's order.
    pub(crate) fn names(&self) -> &[String] {
        &self.sorted
    }
}

#[derive(Debug)]
pub(crate) struct Tag {
    pub digest: String,
    pub revision: Option<String>,
    pub size: Option<u64>,
    pub created_ms: Option<i64>,
    /// When the tag was pushed (GraphQL `publishedAt`).
    pub published_ms: i64,
    pub broken: bool,
    pub undeletable: bool,
}

#[derive(Debug)]
pub(crate) struct State {
    pub registry_host: String,
    /// token -> scopes
    pub tokens: HashMap<String, Vec<String>>,
    /// job token -> project id
    pub job_tokens: HashMap<String, u64>,
    pub groups: BTreeMap<u64, Group>,
    pub projects: BTreeMap<u64, Project>,
    pub repos: BTreeMap<u64, Repo>,
    pub repo_by_path: HashMap<String, u64>,
    pub delete_missing_tag_status: u16,
    pub graphql: crate::graphql::Mode,
    /// Where the images live, and the GitLab version whose answers are given.
    pub registry_settings: registry::Settings,
    /// A registry-backed fixture's images, pushed when the fake starts.
    pub world: World,
    /// The running registry (registry-backed modes, once started).
    pub registry: Option<Registry>,
    /// A protected tag's DELETE answers `403 Forbidden - cannot delete protected tag(s)`
    /// instead of the plain `403 Forbidden`.
    pub protected_refusal_by_service: bool,
}

const ACCESS_LEVELS: [u8; 8] = [0, 5, 10, 15, 20, 30, 40, 50];

/// 64 hex characters derived from `seed`; stands in for a sha256.
pub(crate) fn fake_sha256_hex(seed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        out.push_str(&format!("{:016x}", crate::faults::splitmix64(&mut h)));
    }
    out
}

fn parent_path(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

impl State {
    /// An in-memory tag `name`, created and pushed at `now_ms`.
    pub(crate) fn push_memory_tag(&mut self, rid: u64, name: String, now_ms: i64) {
        let Some(repo) = self.repos.get_mut(&rid) else {
            return;
        };
        let digest = format!(
            "sha256:{}",
            fake_sha256_hex(&format!("{}:{name}", repo.path))
        );
        let revision = Some(fake_sha256_hex(&format!("{digest}#config")));
        repo.tags.insert(
            name,
            Tag {
                digest,
                revision,
                size: Some(10 * 1024 * 1024),
                created_ms: Some(now_ms),
                published_ms: now_ms,
                broken: false,
                undeletable: false,
            },
        );
    }

    pub(crate) fn build(f: &Fixture, start_ms: i64) -> Result<State, String> {
        let mut tokens = HashMap::new();
        for t in &f.tokens {
            if tokens.insert(t.token.clone(), t.scopes.clone()).is_some() {
                return Err(format!("token {:?} listed twice", t.token));
            }
        }
        if tokens.is_empty() {
            tokens.insert(DEFAULT_TOKEN.to_string(), vec!["api".to_string()]);
        }

        // Groups: explicit ones first, then every ancestor path they or the
        // projects imply.
        let mut group_ids: HashMap<String, u64> = HashMap::new();
        let mut groups = BTreeMap::new();
        for g in &f.groups {
            let key = g.path.to_lowercase();
            if g.path.is_empty() || g.path.starts_with('/') || g.path.ends_with('/') {
                return Err(format!(
                    "group path {:?} is not a full path like \"a/b\"",
                    g.path
                ));
            }
            if group_ids.insert(key, g.id).is_some() || groups.contains_key(&g.id) {
                return Err(format!("group {:?} (id {}) listed twice", g.path, g.id));
            }
            let access = g.access_level.unwrap_or(0);
            if !ACCESS_LEVELS.contains(&access) {
                return Err(format!(
                    "group {:?}: access_level {access} is not a GitLab role",
                    g.path
                ));
            }
            groups.insert(
                g.id,
                Group {
                    id: g.id,
                    full_path: g.path.clone(),
                    name: g
                        .name
                        .clone()
                        .unwrap_or_else(|| last_segment(&g.path).to_string()),
                    parent_id: None,
                    access_level: access,
                },
            );
        }
        let mut needed: Vec<String> = Vec::new();
        for g in &f.groups {
            let mut p = parent_path(&g.path);
            while let Some(pp) = p {
                needed.push(pp.to_string());
                p = parent_path(pp);
            }
        }
        for pr in &f.projects {
            let mut p = parent_path(&pr.path);
            if p.is_none() {
                return Err(format!(
                    "project path {:?} has no namespace (use \"group/project\")",
                    pr.path
                ));
            }
            while let Some(pp) = p {
                needed.push(pp.to_string());
                p = parent_path(pp);
            }
        }
        needed.sort_by_key(|p| p.matches('/').count());
        let mut next_group_id = groups.keys().max().copied().unwrap_or(0).max(99) + 1;
        for path in needed {
            let key = path.to_lowercase();
            if group_ids.contains_key(&key) {
                continue;
            }
            while groups.contains_key(&next_group_id) {
                next_group_id += 1;
            }
            group_ids.insert(key, next_group_id);
            groups.insert(
                next_group_id,
                Group {
                    id: next_group_id,
                    full_path: path.clone(),
                    name: last_segment(&path).to_string(),
                    parent_id: None,
                    access_level: 0,
                },
            );
        }
        let parents: Vec<(u64, Option<u64>)> = groups
            .values()
            .map(|g| {
                let parent = parent_path(&g.full_path).map(|p| group_ids[&p.to_lowercase()]);
                (g.id, parent)
            })
            .collect();
        for (id, parent) in parents {
            if let Some(g) = groups.get_mut(&id) {
                g.parent_id = parent;
            }
        }

        let settings = registry_settings(f)?;
        let registry_backed = settings.mode != registry::Mode::Memory;
        let mut world = World::default();

        // Projects and repositories.
        let mut projects = BTreeMap::new();
        let mut repos = BTreeMap::new();
        let mut repo_by_path = HashMap::new();
        let mut project_paths = BTreeSet::new();
        let explicit_repo_ids: BTreeSet<u64> = f
            .projects
            .iter()
            .flat_map(|p| p.repositories.iter().filter_map(|r| r.id))
            .collect();
        let mut next_repo_id = explicit_repo_ids.iter().max().copied().unwrap_or(0) + 1;
        for pf in &f.projects {
            if projects.contains_key(&pf.id) {
                return Err(format!("project id {} listed twice", pf.id));
            }
            if !project_paths.insert(pf.path.to_lowercase()) {
                return Err(format!("project path {:?} listed twice", pf.path));
            }
            let access = pf.access_level.unwrap_or(40);
            if !ACCESS_LEVELS.contains(&access) {
                return Err(format!(
                    "project {:?}: access_level {access} is not a GitLab role",
                    pf.path
                ));
            }
            let registry = match &pf.registry {
                None => RegistryAccess::Enabled,
                Some(s) => RegistryAccess::parse(s).ok_or_else(|| {
                    format!(
                        "project {:?}: registry must be enabled, private or disabled",
                        pf.path
                    )
                })?,
            };
            let created_ms = start_ms - clock::parse_age_ms(pf.age.as_deref().unwrap_or("365d"))?;
            let policy = match &pf.container_expiration_policy {
                None => Policy::new_project_default(created_ms),
                Some(m) => Policy::from_fixture(created_ms, m)
                    .map_err(|e| format!("project {:?}: {e}", pf.path))?,
            };
            let git = crate::refs::Git::build(pf, start_ms)?;
            let namespace_id = group_ids[&parent_path(&pf.path).unwrap_or_default().to_lowercase()];
            let mut repo_ids = Vec::new();
            let mut names = BTreeSet::new();
            let mut protection_rules = Vec::new();
            for (i, rule) in pf.protection_rules.iter().enumerate() {
                protection_rules.push(
                    TagRule::from_fixture(pf.id * 100 + i as u64 + 1, rule)
                        .map_err(|e| format!("project {:?}: {e}", pf.path))?,
                );
            }
            // Tag protection needs GitLab's metadata database: without it, GitLab has no
            // rules, so a legacy fake ignores the fixture's (one fixture, both worlds).
            if settings.mode == registry::Mode::Legacy {
                protection_rules.clear();
            }
            for rf in &pf.repositories {
                let id = match rf.id {
                    Some(id) => id,
                    None => {
                        while explicit_repo_ids.contains(&next_repo_id)
                            || repos.contains_key(&next_repo_id)
                        {
                            next_repo_id += 1;
                        }
                        next_repo_id
                    }
                };
                if repos.contains_key(&id) {
                    return Err(format!("repository id {id} listed twice"));
                }
                if !names.insert(rf.name.clone()) {
                    return Err(format!(
                        "project {:?}: repository {:?} listed twice",
                        pf.path, rf.name
                    ));
                }
                if let Some(s) = &rf.status {
                    if !["delete_scheduled", "delete_failed", "delete_ongoing"]
                        .contains(&s.as_str())
                    {
                        return Err(format!("repository {:?}: unknown status {s:?}", rf.name));
                    }
                }
                let path = if rf.name.is_empty() {
                    pf.path.to_lowercase()
                } else {
                    format!("{}/{}", pf.path, rf.name).to_lowercase()
                };
                let mut tags = HashMap::new();
                let mut world_tags = Vec::new();
                let mut first_of_digest: HashMap<String, String> = HashMap::new();
                for tf in &rf.tags {
                    if (tf.name.is_empty() && !registry_backed) || tf.name.contains('/') {
                        return Err(format!("{path}: tag name {:?} is not a valid tag", tf.name));
                    }
                    if registry_backed && !tf.name.is_empty() && !is_registry_tag(&tf.name) {
                        return Err(format!(
                            "{path}: tag name {:?} is not one a registry can hold ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})",
                            tf.name
                        ));
                    }
                    let created = match &tf.age {
                        None => None,
                        Some(a) => Some(
                            start_ms
                                - clock::parse_age_ms(a)
                                    .map_err(|e| format!("{path}:{}: {e}", tf.name))?,
                        ),
                    };
                    // A push without an age (cache, index) counts as now.
                    let published = match &tf.published {
                        None => created.unwrap_or(start_ms),
                        Some(a) => {
                            start_ms
                                - clock::parse_age_ms(a)
                                    .map_err(|e| format!("{path}:{}: published: {e}", tf.name))?
                        }
                    };
                    let seed = format!("{path}:{}", tf.name);
                    let digest = match &tf.digest {
                        Some(d) => {
                            let hex = d.strip_prefix("sha256:").unwrap_or("");
                            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return Err(format!("{seed}: digest must be sha256:<64 hex>"));
                            }
                            d.clone()
                        }
                        None => format!("sha256:{}", fake_sha256_hex(&seed)),
                    };
                    let (revision, size) = if tf.oci_index {
                        (None, None)
                    } else {
                        let size = tf.size.unwrap_or_else(|| {
                            let h = u64::from_str_radix(
                                &fake_sha256_hex(&format!("{seed}#size"))[..12],
                                16,
                            )
                            .unwrap_or(0);
                            10 * 1024 * 1024 + h % (80 * 1024 * 1024)
                        });
                        // The config digest follows the manifest digest, so
                        // two tags of one manifest share a revision too.
                        (
                            Some(fake_sha256_hex(&format!("{digest}#config"))),
                            Some(size),
                        )
                    };
                    let tag = Tag {
                        digest,
                        revision,
                        size,
                        created_ms: created,
                        published_ms: published,
                        broken: tf.broken,
                        undeletable: tf.undeletable,
                    };
                    if tf.protected && settings.mode != registry::Mode::Legacy {
                        let id = pf.id * 100_000 + protection_rules.len() as u64 + 1;
                        protection_rules.push(TagRule::exact(id, &tf.name));
                    }
                    if registry_backed {
                        let same = tf.digest.as_ref().and_then(|d| {
                            let first = first_of_digest
                                .entry(d.clone())
                                .or_insert_with(|| tf.name.clone());
                            (*first != tf.name).then(|| first.clone())
                        });
                        let cache = rf.name.ends_with(".cache");
                        world_tags
                            .push(world::plan_tag(&path, cache, tf, created, published, same)?);
                        if !tf.name.is_empty()
                            && world_tags.iter().filter(|t| t.name == tf.name).count() > 1
                        {
                            return Err(format!("{path}: tag {:?} listed twice", tf.name));
                        }
                        continue;
                    }
                    if tf.name.is_empty() {
                        return Err(format!("{path}: a tag needs a name"));
                    }
                    if tags.insert(tf.name.clone(), tag).is_some() {
                        return Err(format!("{path}: tag {:?} listed twice", tf.name));
                    }
                }
                let created_ms =
                    start_ms - clock::parse_age_ms(rf.age.as_deref().unwrap_or("180d"))?;
                if registry_backed {
                    world.repos.push((path.clone(), world_tags));
                }
                if repo_by_path.insert(path.clone(), id).is_some() {
                    return Err(format!("repository path {path:?} listed twice"));
                }
                repos.insert(
                    id,
                    Repo {
                        id,
                        project_id: pf.id,
                        name: rf.name.clone(),
                        path,
                        status: rf.status.clone(),
                        created_ms,
                        tags: Tags::from_map(tags),
                    },
                );
                repo_ids.push(id);
            }
            repo_ids.sort_unstable();
            projects.insert(
                pf.id,
                Project {
                    id: pf.id,
                    full_path: pf.path.clone(),
                    name: pf
                        .name
                        .clone()
                        .unwrap_or_else(|| last_segment(&pf.path).to_string()),
                    namespace_id,
                    access_level: access,
                    registry,
                    archived: pf.archived,
                    created_ms,
                    policy,
                    repo_ids,
                    protection_rules,
                    git,
                },
            );
        }

        let mut job_tokens = HashMap::new();
        for j in &f.job_tokens {
            if !projects.contains_key(&j.project_id) {
                return Err(format!(
                    "job token {:?}: no project {}",
                    j.token, j.project_id
                ));
            }
            if job_tokens.insert(j.token.clone(), j.project_id).is_some()
                || tokens.contains_key(&j.token)
            {
                return Err(format!("token {:?} listed twice", j.token));
            }
        }

        let delete_missing_tag_status = f.delete_missing_tag_status.unwrap_or(404);
        if ![200, 400, 404].contains(&delete_missing_tag_status) {
            return Err("delete_missing_tag_status must be 200, 400 or 404".into());
        }

        let graphql = crate::graphql::Mode::parse(f.graphql.as_deref())?;

        Ok(State {
            registry_host: f.registry_host.clone(),
            tokens,
            job_tokens,
            groups,
            projects,
            repos,
            repo_by_path,
            delete_missing_tag_status,
            graphql,
            registry_settings: settings,
            world,
            registry: None,
            protected_refusal_by_service: match f.protected_tag_refusal.as_deref() {
                None | Some("forbidden") => false,
                Some("service") => true,
                Some(other) => {
                    return Err(format!(
                        "protected_tag_refusal must be forbidden or service, not {other:?}"
                    ))
                }
            },
        })
    }

    /// The user's role in a group, inherited from ancestors.
    pub(crate) fn group_access(&self, group_id: u64) -> u8 {
        let mut best = 0;
        let mut cur = self.groups.get(&group_id);
        while let Some(g) = cur {
            best = best.max(g.access_level);
            cur = g.parent_id.and_then(|p| self.groups.get(&p));
        }
        best
    }

    /// The user's role in a project: its own membership or an inherited
    /// group membership, whichever is higher (GitLab's max_member_access).
    pub(crate) fn project_access(&self, p: &Project) -> u8 {
        p.access_level.max(self.group_access(p.namespace_id))
    }

    /// Group ids of `group_id` and all its descendants.
    pub(crate) fn subtree(&self, group_id: u64) -> BTreeSet<u64> {
        let mut out = BTreeSet::from([group_id]);
        // Groups are few; iterate to a fixed point.
        loop {
            let before = out.len();
            for g in self.groups.values() {
                if let Some(p) = g.parent_id {
                    if out.contains(&p) {
                        out.insert(g.id);
                    }
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }

    /// A private group is visible to its members and to members of any
    /// project inside it.
    pub(crate) fn group_visible(&self, group_id: u64) -> bool {
        if self.group_access(group_id) >= 10 {
            return true;
        }
        let tree = self.subtree(group_id);
        self.projects
            .values()
            .any(|p| tree.contains(&p.namespace_id) && self.project_access(p) >= 10)
    }

    /// `:id` of a project route: a numeric id or a full path (helpers.rb
    /// `find_project`: integer, or a path containing "/"; case-insensitive).
    pub(crate) fn find_project(&self, id: &str) -> Option<u64> {
        if is_integer(id) {
            return id.parse().ok().filter(|i| self.projects.contains_key(i));
        }
        if !id.contains('/') {
            return None;
        }
        let lower = id.to_lowercase();
        self.projects
            .values()
            .find(|p| p.full_path.to_lowercase() == lower)
            .map(|p| p.id)
    }

    /// `ContainerRegistry::Path#repository_project`: the project whose full path is the
    /// longest leading run of the repository path's components.
    pub(crate) fn project_of_repository_path(&self, path: &str) -> Option<u64> {
        let lower = path.to_lowercase();
        self.projects
            .values()
            .filter(|p| {
                let full = p.full_path.to_lowercase();
                lower == full || lower.starts_with(&format!("{full}/"))
            })
            .max_by_key(|p| p.full_path.len())
            .map(|p| p.id)
    }

    /// `:id` of a group route: a numeric id or a full path.
    pub(crate) fn find_group(&self, id: &str) -> Option<u64> {
        if is_integer(id) {
            return id.parse().ok().filter(|i| self.groups.contains_key(i));
        }
        let lower = id.to_lowercase();
        self.groups
            .values()
            .find(|g| g.full_path.to_lowercase() == lower)
            .map(|g| g.id)
    }
}

/// The version a registry-backed fixture answers as by default: before GitLab 19.0.2 read
/// index manifests, so a multi-arch tag's details are 404 (gitlab-api.md §13).
pub(crate) const DEFAULT_GITLAB_VERSION: &str = "18.10";

/// The fixture's registry settings (see crate::registry).
fn registry_settings(f: &Fixture) -> Result<registry::Settings, String> {
    let mode = registry::Mode::parse(f.registry.as_deref())?;
    let version = registry::Version::parse(
        f.gitlab_version
            .as_deref()
            .unwrap_or(DEFAULT_GITLAB_VERSION),
    )?;
    let token_ttl_secs = clock::parse_age_ms(f.registry_token_ttl.as_deref().unwrap_or("5m"))
        .map_err(|e| format!("registry_token_ttl: {e}"))?
        / 1000;
    if token_ttl_secs < 1 {
        return Err("registry_token_ttl must be at least 1s".into());
    }
    if mode == registry::Mode::Memory && (f.gitlab_version.is_some() || f.delete_validates_tag) {
        return Err("gitlab_version and delete_validates_tag need a registry-backed fixture (registry: legacy or gitlab)".into());
    }
    Ok(registry::Settings {
        mode,
        version,
        token_ttl_secs,
        delete_validates_tag: f.delete_validates_tag,
    })
}

/// distribution's tag grammar (reference.TagRegexp): `[\w][\w.-]{0,127}`.
fn is_registry_tag(name: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    name.len() <= 128
        && name.bytes().next().is_some_and(word)
        && name.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// helpers.rb `INTEGER_ID_REGEX = /^-?\d+$/`.
pub(crate) fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_groups_and_defaults() {
        let f = Fixture::from_json(
            r#"{"projects":[{"id":1,"path":"a/b/c","repositories":[{"name":"","tags":[{"name":"x","age":"1d"},{"name":"y"}]}]}]}"#,
        )
        .unwrap();
        let s = State::build(&f, 1_000_000_000_000).unwrap();
        assert_eq!(s.groups.len(), 2);
        let p = &s.projects[&1];
        let ns = &s.groups[&p.namespace_id];
        assert_eq!(ns.full_path, "a/b");
        assert!(ns.parent_id.is_some());
        let r = &s.repos[&1];
        assert_eq!(r.path, "a/b/c");
        assert_eq!(r.tags.get("y").unwrap().created_ms, None);
        assert_eq!(r.tags.get("x").unwrap().digest.len(), 71);
        assert_eq!(r.tags.names(), ["x", "y"]);
        assert!(s.tokens.contains_key(DEFAULT_TOKEN));
        assert_eq!(
            s.find_project("A%2Fb/C".replace("%2F", "/").as_str()),
            Some(1)
        );
        assert_eq!(s.find_project("c"), None);
    }

    #[test]
    fn rejects_bad_fixtures() {
        for bad in [
            r#"{"projects":[{"id":1,"path":"solo"}]}"#,
            r#"{"projects":[{"id":1,"path":"a/b","registry":"maybe"}]}"#,
            r#"{"projects":[{"id":1,"path":"a/b"},{"id":1,"path":"a/c"}]}"#,
            r#"{"projects":[{"id":1,"path":"a/b","repositories":[{"tags":[{"name":"t","age":"3y"}]}]}]}"#,
            r#"{"job_tokens":[{"token":"j","project_id":9}]}"#,
            r#"{"projects":[],"unknown":1}"#,
        ] {
            assert!(Fixture::from_json(bad).is_err(), "{bad}");
        }
    }
}
