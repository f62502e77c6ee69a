//! GitLab's view of a repository's tags, whichever registry holds them.
//!
//! The REST and GraphQL handlers ask these functions, never the storage: in memory mode
//! the answers come from the fixture's table (flags say what is broken, undeletable or
//! protected), in the registry-backed modes from the real registry through
//! [`crate::registry::Registry`]. Protection is the same in both: the project's tag rules
//! (an in-memory `protected` flag is an exact rule), matched as GitLab matches them.

use std::borrow::Cow;

use crate::registry::{Details, Mode, TagView};
use crate::state::{State, Tag};

/// What a REST tag DELETE answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeleteAnswer {
    Deleted,
    /// `404 Tag Not Found`: older GitLab validated the tag first.
    TagNotFound,
    /// The tag policy's plain `403 Forbidden`.
    Forbidden,
    /// `403 Forbidden - cannot delete protected tag(s)` from the service's filter.
    ProtectedByService,
    /// What an in-memory fixture sets for a tag that does not exist.
    Status(u16),
    /// The registry failed: `status :bad_request`.
    BadRequest(String),
}

/// What `destroyContainerRepositoryTags` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Destroyed {
    pub deleted: Vec<String>,
    pub errors: Vec<String>,
}

fn memory_view(tag: &Tag) -> TagView {
    TagView {
        digest: Some(tag.digest.clone()),
        // An image index has no config, hence no `created` date: that is what marks
        // cache and index manifests in the in-memory world.
        media_type: Some(
            if tag.created_ms.is_none() {
                "application/vnd.oci.image.index.v1+json"
            } else {
                "application/vnd.docker.distribution.manifest.v2+json"
            }
            .to_string(),
        ),
        revision: tag.revision.clone(),
        created_ms: tag.created_ms,
        published_ms: Some(tag.published_ms),
        total_size: tag.size,
        referrers: Vec::new(),
    }
}

/// Rails' String#truncate: at most `max` characters including `...`.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 3).collect();
    out.push_str("...");
    out
}

impl State {
    pub(crate) fn registry_mode(&self) -> Mode {
        self.registry_settings.mode
    }

    /// The repository's tag names in GitLab's order (sorted by name).
    pub(crate) fn tag_names(&self, rid: u64) -> Result<Cow<'_, [String]>, String> {
        let repo = &self.repos[&rid];
        match &self.registry {
            None => Ok(Cow::Borrowed(repo.tags.names())),
            Some(r) => r.tags(&repo.path).map(Cow::Owned),
        }
    }

    /// `GET …/tags/:tag_name`: `validate_tag!`, then the entity.
    pub(crate) fn rest_details(&self, rid: u64, name: &str) -> Details {
        let repo = &self.repos[&rid];
        match &self.registry {
            None => match repo.tags.get(name).filter(|t| !t.broken) {
                Some(tag) => Details::Found(memory_view(tag)),
                None => Details::NotFound,
            },
            Some(r) => r.rest_details(&repo.path, name),
        }
    }

    /// A tag as GraphQL shows it: `None` for a tag that is gone; null fields where GitLab
    /// cannot read the manifest.
    pub(crate) fn graphql_view(
        &self,
        rid: u64,
        name: &str,
        referrers: bool,
    ) -> Result<Option<TagView>, String> {
        let repo = &self.repos[&rid];
        match &self.registry {
            None => Ok(repo.tags.get(name).map(|t| {
                if t.broken {
                    TagView::default()
                } else {
                    memory_view(t)
                }
            })),
            Some(r) => r.graphql_view(&repo.path, name, referrers).map(Some),
        }
    }

    /// When the tag was pushed, for `PUBLISHED_AT_*` sorts (metadata database only).
    pub(crate) fn published_ms(&self, rid: u64, name: &str) -> i64 {
        let repo = &self.repos[&rid];
        match &self.registry {
            None => repo.tags.get(name).map_or(0, |t| t.published_ms),
            Some(r) => r.pushed_at(&repo.path, name).unwrap_or(0),
        }
    }

    /// Whether the project's tag protection keeps a user with `role` from deleting `name`.
    pub(crate) fn delete_protected(&self, project_id: u64, name: &str, role: u8) -> bool {
        self.projects[&project_id]
            .protection_rules
            .iter()
            .any(|r| r.blocks_delete(name, role))
    }

    /// `DELETE …/tags/:tag_name` for a caller with project role `role` (Developer or
    /// more, checked by the route), as this GitLab and registry answer it
    /// (gitlab-api.md §13).
    pub(crate) fn delete_tag(
        &mut self,
        rid: u64,
        name: &str,
        role: u8,
        apply: bool,
    ) -> DeleteAnswer {
        let project_id = self.repos[&rid].project_id;
        let protected = self.delete_protected(project_id, name, role);
        let refused = if self.protected_refusal_by_service {
            DeleteAnswer::ProtectedByService
        } else {
            DeleteAnswer::Forbidden
        };
        let mode = self.registry_mode();
        if mode == Mode::Memory {
            let repo = &self.repos[&rid];
            match repo.tags.get(name) {
                None => return DeleteAnswer::Status(self.delete_missing_tag_status),
                Some(t) if t.broken && t.undeletable => return DeleteAnswer::TagNotFound,
                Some(_) if protected => return refused,
                Some(_) => {}
            }
            if apply {
                if let Some(r) = self.repos.get_mut(&rid) {
                    r.tags.remove(name);
                }
            }
            return DeleteAnswer::Deleted;
        }
        let registry = self
            .registry
            .as_ref()
            .expect("a registry-backed fake has a registry");
        let path = &self.repos[&rid].path;
        if self.registry_settings.delete_validates_tag
            && !matches!(registry.rest_details(path, name), Details::Found(_))
        {
            return DeleteAnswer::TagNotFound;
        }
        if mode == Mode::Gitlab {
            // A tag the database does not have fails the tag policy (nil tag).
            match registry.tags(path) {
                Ok(names) if !names.iter().any(|n| n == name) => return DeleteAnswer::Forbidden,
                Ok(_) => {}
                Err(e) => return DeleteAnswer::BadRequest(e),
            }
            if protected {
                return refused;
            }
        }
        if !apply {
            return DeleteAnswer::Deleted;
        }
        match registry.delete_tags(path, &[name]) {
            Ok(()) => DeleteAnswer::Deleted,
            Err(e) => DeleteAnswer::BadRequest(e),
        }
    }

    /// `destroyContainerRepositoryTags` → `DeleteTagsService`: protected tags are dropped
    /// silently (all protected: `cannot delete protected tag(s)`); with GitLab's registry,
    /// tags that do not exist count as deleted; a legacy registry deletes them all with one
    /// dummy image.
    pub(crate) fn destroy_tags(
        &mut self,
        rid: u64,
        names: Vec<String>,
        role: u8,
        apply: bool,
    ) -> Destroyed {
        let project_id = self.repos[&rid].project_id;
        if names.is_empty() {
            return Destroyed {
                deleted: Vec::new(),
                errors: vec!["not tags specified".into()],
            };
        }
        let candidates: Vec<String> = names
            .into_iter()
            .filter(|n| !self.delete_protected(project_id, n, role))
            .collect();
        if candidates.is_empty() {
            return Destroyed {
                deleted: Vec::new(),
                errors: vec!["cannot delete protected tag(s)".into()],
            };
        }
        let could_not = |candidates: &[String]| Destroyed {
            deleted: Vec::new(),
            errors: vec![truncate(
                &format!("could not delete tags: {}", candidates.join(", ")),
                1000,
            )],
        };
        if self.registry_mode() == Mode::Memory {
            let missing_ok = self.delete_missing_tag_status == 200;
            let mut deleted = Vec::new();
            for name in &candidates {
                let ok = match self.repos[&rid].tags.get(name) {
                    // The registry's 404 counts as deleted only where GitLab's client
                    // treats it so (the REST DELETE's status says which).
                    None => missing_ok,
                    // The same tag REST cannot delete (`undeletable`).
                    Some(t) => !(t.broken && t.undeletable),
                };
                if !ok {
                    continue;
                }
                if apply {
                    if let Some(r) = self.repos.get_mut(&rid) {
                        r.tags.remove(name);
                    }
                }
                deleted.push(name.clone());
            }
            if deleted.is_empty() {
                return could_not(&candidates);
            }
            return Destroyed {
                deleted,
                errors: Vec::new(),
            };
        }
        let registry = self
            .registry
            .as_ref()
            .expect("a registry-backed fake has a registry");
        let path = &self.repos[&rid].path;
        let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let deleted = if apply {
            registry.delete_tags(path, &refs)
        } else {
            Ok(())
        };
        match deleted {
            Ok(()) => Destroyed {
                deleted: candidates,
                errors: Vec::new(),
            },
            Err(_) => could_not(&candidates),
        }
    }

    /// The repository path of every repository, with its current tags (for
    /// `/__fake/state` and [`crate::FakeGitlab::tags`]).
    pub(crate) fn tags_of_path(&self, path: &str) -> Vec<String> {
        self.repo_by_path
            .get(&path.to_lowercase())
            .and_then(|id| self.tag_names(*id).ok())
            .map(|names| names.into_owned())
            .unwrap_or_default()
    }

    /// How every tag of every repository resolves in the registry (empty in memory mode).
    pub(crate) fn resolve_all(&self) -> Vec<crate::registry::Resolution> {
        let Some(registry) = self.registry.as_ref() else {
            return Vec::new();
        };
        self.repos
            .values()
            .flat_map(|repo| {
                self.tags_of_path(&repo.path)
                    .into_iter()
                    .map(|tag| registry.resolve(&repo.path, &tag))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// A `docker push` racing a listing (fault `concurrent_push`): a new tag `0-pushed-N`
    /// (sorting before every other tag name) lands in repository `rid`, created now.
    pub(crate) fn push_tag_first(&mut self, rid: &str, now_ms: i64) {
        let Some(rid) = rid
            .parse::<u64>()
            .ok()
            .filter(|r| self.repos.contains_key(r))
        else {
            return;
        };
        let names = self
            .tag_names(rid)
            .map(|n| n.into_owned())
            .unwrap_or_default();
        let n = names.iter().filter(|t| t.starts_with("0-pushed-")).count();
        let name = format!("0-pushed-{n}");
        match &self.registry {
            None => self.push_memory_tag(rid, name, now_ms),
            Some(registry) => {
                let path = self.repos[&rid].path.clone();
                let tag = crate::fixture::TagFixture {
                    name: name.clone(),
                    ..Default::default()
                };
                if let Ok(planned) =
                    crate::registry::world::plan_tag(&path, false, &tag, Some(now_ms), now_ms, None)
                {
                    let world = crate::registry::world::World {
                        repos: vec![(path, vec![planned])],
                    };
                    let _ = world.push(registry);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_like_rails() {
        assert_eq!(truncate("abcdef", 5), "ab...");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
