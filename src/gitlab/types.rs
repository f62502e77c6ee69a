//! Response shapes, limited to the fields registry-gc reads (lib/api/entities/container_registry.rb,
//! lib/api/entities/project.rb). Unknown fields are ignored so newer GitLab versions keep working.

use serde::{Deserialize, Serialize};

/// `GET /projects/:id/registry/repositories` and `GET /groups/:id/registry/repositories`.
#[derive(Clone, Debug, Deserialize)]
pub struct Repository {
    pub id: u64,
    /// Empty for a project's root image.
    #[serde(default)]
    pub name: String,
    /// Full path, e.g. `group/project/app.cache`.
    pub path: String,
    pub project_id: u64,
    /// `null`, `delete_scheduled`, `delete_failed` or `delete_ongoing` (app/models/container_repository.rb).
    #[serde(default)]
    pub status: Option<String>,
}

impl Repository {
    /// The project's full path: the repository path minus the repository name.
    pub fn project_path(&self) -> &str {
        if self.name.is_empty() {
            return &self.path;
        }
        self.path
            .strip_suffix(&self.name)
            .and_then(|p| p.strip_suffix('/'))
            .unwrap_or_else(|| {
                self.path
                    .rsplit_once('/')
                    .map_or(self.path.as_str(), |(p, _)| p)
            })
    }
}

/// A tag as listed: no dates, no digest (those need one details request each).
#[derive(Clone, Debug, Deserialize)]
pub struct ListedTag {
    pub name: String,
}

/// `GET …/tags/:tag_name`.
#[derive(Clone, Debug, Deserialize)]
pub struct TagDetails {
    #[serde(default)]
    pub digest: Option<String>,
    /// RFC 3339; `null` for manifests without a config blob (OCI indexes, buildkit caches).
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub total_size: Option<u64>,
}

/// `GET /projects/:id/repository/branches` (lib/api/entities/branch.rb).
#[derive(Clone, Debug, Deserialize)]
pub struct Branch {
    pub name: String,
    /// `project.default_branch == name`; absent from GitLab versions before it was exposed.
    #[serde(default)]
    pub default: Option<bool>,
}

/// `GET /projects/:id/merge_requests` (lib/api/entities/merge_request_basic.rb).
#[derive(Clone, Debug, Deserialize)]
pub struct MergeRequest {
    /// The number in `!17` and `CI_MERGE_REQUEST_IID`.
    pub iid: u64,
    /// In the source project, which is another one for a merge request from a fork.
    pub source_branch: String,
}

/// A container tag protection rule as `GET /projects/:id/registry/protection/tag/rules` lists
/// it (lib/api/entities/projects/container_registry/protection/tag_rule.rb).
#[derive(Clone, Debug, Deserialize)]
pub struct TagRule {
    pub tag_name_pattern: String,
    /// `maintainer`, `owner` or `admin`.
    #[serde(default)]
    pub minimum_access_level_for_delete: Option<String>,
}

/// `GET /projects/:id` and the project lists.
#[derive(Clone, Debug, Deserialize)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
    /// `disabled`, `private` or `enabled` (GitLab 14.9+).
    #[serde(default)]
    pub container_registry_access_level: Option<String>,
    /// The older boolean, still sent by current GitLab.
    #[serde(default)]
    pub container_registry_enabled: Option<bool>,
    #[serde(default)]
    pub container_expiration_policy: Option<ExpirationPolicy>,
}

impl Project {
    pub fn registry_enabled(&self) -> bool {
        match self.container_registry_access_level.as_deref() {
            Some(level) => level != "disabled",
            None => self.container_registry_enabled != Some(false),
        }
    }
}

/// `container_expiration_policy` as `GET /projects/:id` shows it
/// (lib/api/entities/container_expiration_policy.rb).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ExpirationPolicy {
    #[serde(default)]
    pub cadence: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub keep_n: Option<u32>,
    #[serde(default)]
    pub older_than: Option<String>,
    #[serde(default)]
    pub name_regex: Option<String>,
    #[serde(default)]
    pub name_regex_keep: Option<String>,
    #[serde(default)]
    pub next_run_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_path_is_derived_from_repository_path_and_name() {
        let repo = |name: &str, path: &str| Repository {
            id: 1,
            name: name.into(),
            path: path.into(),
            project_id: 1,
            status: None,
        };
        assert_eq!(repo("", "g/p").project_path(), "g/p");
        assert_eq!(
            repo("app.cache", "g/sub/p/app.cache").project_path(),
            "g/sub/p"
        );
        assert_eq!(repo("a/b", "g/p/a/b").project_path(), "g/p");
    }
}
