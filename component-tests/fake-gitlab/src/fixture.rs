//! The fixture: a readable JSON description of a GitLab instance.
//!
//! Fixtures are written by hand for tests and the demo, so they say only what
//! matters to a test (names, relative ages, broken/protected flags) and leave
//! the rest (ids, digests, sizes, timestamps) to deterministic defaults.
//! Ages are relative to the fake's start so a fixture never goes stale.
//! The format is documented in component-tests/fixtures/README.md.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// A whole fake GitLab instance, as loaded from JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Host (and port) of the container registry, used in `location` fields.
    #[serde(default = "default_registry_host")]
    pub registry_host: String,
    /// Personal access tokens. Empty: `glpat-fake-token` with scope `api`.
    #[serde(default)]
    pub tokens: Vec<TokenFixture>,
    /// CI/CD job tokens, each bound to the project whose pipeline runs.
    #[serde(default)]
    pub job_tokens: Vec<JobTokenFixture>,
    /// Groups. Groups implied by project paths are created automatically.
    #[serde(default)]
    pub groups: Vec<GroupFixture>,
    #[serde(default)]
    pub projects: Vec<ProjectFixture>,
    /// Status of `DELETE .../tags/:tag_name` for a tag that does not exist:
    /// 404 (GitLab versions that check the tag first, the default) or 200
    /// (newest GitLab with the GitLab registry, whose client treats the
    /// registry's 404 as success).
    #[serde(default)]
    pub delete_missing_tag_status: Option<u16>,
    /// `/api/graphql`: `full` (default), `no_published_at` (a GitLab whose
    /// ContainerRepositoryTag lacks `publishedAt`) or `absent` (404).
    #[serde(default)]
    pub graphql: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFixture {
    pub token: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTokenFixture {
    pub token: String,
    pub project_id: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFixture {
    pub id: u64,
    /// Full path, e.g. `demo/platform`.
    pub path: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The token user's role in the group (inherited by subgroups and
    /// projects). Absent: not a group member.
    #[serde(default)]
    pub access_level: Option<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFixture {
    pub id: u64,
    /// Full path, e.g. `demo/shop`.
    pub path: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The token user's role: 10 Guest, 20 Reporter, 30 Developer,
    /// 40 Maintainer (default), 50 Owner; 0 = not a member.
    #[serde(default)]
    pub access_level: Option<u8>,
    /// `enabled` (default), `private` or `disabled`.
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub archived: bool,
    /// How long ago the project was created (default `365d`).
    #[serde(default)]
    pub age: Option<String>,
    /// Attributes overriding GitLab's defaults for a new project; may include
    /// `next_run_at` (RFC 3339 or null; default created_at + cadence).
    #[serde(default)]
    pub container_expiration_policy: Option<Map<String, Value>>,
    #[serde(default)]
    pub repositories: Vec<RepositoryFixture>,
    /// The default branch (default `main`); `null` with `"branches": []` (an empty repository).
    #[serde(default)]
    pub default_branch: Option<String>,
    /// The repository's branches; absent: the default branch alone.
    #[serde(default)]
    pub branches: Option<Vec<BranchFixture>>,
    /// Merge requests whose target is this project.
    #[serde(default)]
    pub merge_requests: Vec<MergeRequestFixture>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchFixture {
    pub name: String,
    /// A protected branch (the `protected` field of the branch list).
    #[serde(default)]
    pub protected: bool,
    /// How long ago its head commit was made (default `1d`).
    #[serde(default)]
    pub age: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequestFixture {
    /// The number in `!17`, unique in the project.
    pub iid: u64,
    /// `opened` (default), `closed`, `merged` or `locked` (being merged).
    #[serde(default)]
    pub state: Option<String>,
    pub source_branch: String,
    /// Default: the project's default branch.
    #[serde(default)]
    pub target_branch: Option<String>,
    /// The project the source branch lives in; default: this project (a fork otherwise).
    #[serde(default)]
    pub source_project_id: Option<u64>,
    /// How long ago it was created (default `30d`).
    #[serde(default)]
    pub age: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryFixture {
    /// Auto-assigned when absent.
    #[serde(default)]
    pub id: Option<u64>,
    /// `""` is the project's root image.
    #[serde(default)]
    pub name: String,
    /// `null` (default), `delete_scheduled`, `delete_failed`, `delete_ongoing`.
    #[serde(default)]
    pub status: Option<String>,
    /// How long ago the repository was created (default `180d`).
    #[serde(default)]
    pub age: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagFixture>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagFixture {
    pub name: String,
    /// `90m`, `12h`, `7d`, `2w`; absent or null: `created_at` is null, as for
    /// a buildkit cache or an OCI index (no image config to read it from).
    #[serde(default)]
    pub age: Option<String>,
    /// When the tag was pushed (GraphQL `publishedAt`), same syntax as
    /// `age`; default: the instant of `age`, or the fake's start without one.
    #[serde(default)]
    pub published: Option<String>,
    /// `sha256:<64 hex>`; default derived from repository path and tag name.
    #[serde(default)]
    pub digest: Option<String>,
    /// Bytes; default derived from repository path and tag name.
    #[serde(default)]
    pub size: Option<u64>,
    /// The manifest has no image config (OCI index): `revision`,
    /// `short_revision` and `total_size` are null.
    #[serde(default)]
    pub oci_index: bool,
    /// Tag details answer 404 `Tag Not Found`.
    #[serde(default)]
    pub broken: bool,
    /// A tag protection rule matches: DELETE answers 403.
    #[serde(default)]
    pub protected: bool,
    /// With `broken`: DELETE answers 404 like GitLab versions that validate
    /// the tag before deleting it.
    #[serde(default)]
    pub undeletable: bool,
}

fn default_registry_host() -> String {
    "registry.example.com".to_string()
}

fn default_scopes() -> Vec<String> {
    vec!["api".to_string()]
}

impl Fixture {
    pub fn from_json(s: &str) -> Result<Fixture, String> {
        let fixture: Fixture = serde_json::from_str(s).map_err(|e| format!("fixture: {e}"))?;
        // Building the state runs every check, so a bad fixture fails here
        // rather than on the first request.
        crate::state::State::build(&fixture, crate::clock::now_ms())?;
        Ok(fixture)
    }

    pub fn from_path(p: impl AsRef<Path>) -> Result<Fixture, String> {
        let p = p.as_ref();
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        Fixture::from_json(&text).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// The demo instance of component-tests/fixtures/demo.json.
    pub fn demo() -> Fixture {
        Fixture::from_json(include_str!("../../fixtures/demo.json"))
            .expect("component-tests/fixtures/demo.json is valid")
    }

    /// A large single-project instance for benchmarks: project 1 `bench/app`
    /// with `repositories` repositories of `tags_per_repository` tags each.
    /// Tags mix ages (hours to a year), null `created_at` (every 7th), broken
    /// (every 50th) and protected (every 500th) tags, so a run exercises the
    /// same paths as the demo.
    pub fn synthetic(repositories: usize, tags_per_repository: usize) -> Fixture {
        let repositories = (0..repositories)
            .map(|r| RepositoryFixture {
                id: Some(1000 + r as u64),
                name: format!("image-{r}"),
                status: None,
                age: None,
                tags: (0..tags_per_repository)
                    .map(|t| TagFixture {
                        name: format!("build-{t:06}"),
                        age: (t % 7 != 3).then(|| format!("{}h", 1 + (t * 37) % 8760)),
                        published: None,
                        digest: None,
                        size: None,
                        oci_index: false,
                        broken: t % 50 == 49,
                        protected: t % 500 == 499,
                        undeletable: false,
                    })
                    .collect(),
            })
            .collect();
        Fixture {
            registry_host: default_registry_host(),
            tokens: Vec::new(),
            job_tokens: Vec::new(),
            groups: Vec::new(),
            projects: vec![ProjectFixture {
                id: 1,
                path: "bench/app".to_string(),
                name: None,
                access_level: None,
                registry: None,
                archived: false,
                age: None,
                container_expiration_policy: None,
                repositories,
                default_branch: None,
                branches: None,
                merge_requests: Vec::new(),
            }],
            delete_missing_tag_status: None,
            graphql: None,
        }
    }
}
