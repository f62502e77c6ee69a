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
    /// Where the images are: `memory` (default: a table in the fake), `legacy` (a real
    /// docker-registry without GitLab's metadata database) or `gitlab` (with it).
    #[serde(default)]
    pub registry: Option<String>,
    /// The GitLab version whose answers a registry-backed fake gives where they changed
    /// (index tag details: 404 up to 19.0.1, 500 in 19.0.2–19.1, 200 with nulls from
    /// 19.2; the protection rules endpoint from 18.7). Default `18.10`.
    #[serde(default)]
    pub gitlab_version: Option<String>,
    /// Lifetime of registry tokens (`container_registry_token_expire_delay`), age syntax
    /// (`2s`, `5m`). Default `5m`.
    #[serde(default)]
    pub registry_token_ttl: Option<String>,
    /// Older GitLab ran `validate_tag!` before a tag DELETE: a tag without details
    /// answers 404 and cannot be deleted through the API.
    #[serde(default)]
    pub delete_validates_tag: bool,
    /// What a tag DELETE refused for protection says: `forbidden` (the tag policy's plain
    /// `403 Forbidden`, the usual answer) or `service` (`403 Forbidden - cannot delete
    /// protected tag(s)`, when the policy lets it through to the service's filter).
    #[serde(default)]
    pub protected_tag_refusal: Option<String>,
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
    /// Container tag protection rules (GitLab 17.11+, metadata database only).
    #[serde(default)]
    pub protection_rules: Vec<ProtectionRuleFixture>,
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

/// One `ContainerRegistry::Protection::TagRule`: an RE2 pattern (matched unanchored),
/// the least role that may push and delete matching tags (`maintainer`, `owner`,
/// `admin`), or `immutable` (both levels null: nobody may).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectionRuleFixture {
    pub tag_name_pattern: String,
    #[serde(default)]
    pub minimum_access_level_for_delete: Option<String>,
    #[serde(default)]
    pub minimum_access_level_for_push: Option<String>,
    #[serde(default)]
    pub immutable: bool,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagFixture {
    /// The tag; may be left out for a cosign tag with `signs`, which is then named
    /// `sha256-<subject hex>.sig|.att|.sbom`.
    #[serde(default)]
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
    /// Registry-backed fixtures: what the tag is (`image`, `index`, `attested`,
    /// `cache-index`, `cache-image`, `signature`, `attestation`, `sbom`, `artifact`,
    /// `helm`, `index-missing-child`, `missing`); see the fixtures README.
    #[serde(default)]
    pub kind: Option<String>,
    /// `docker` (default) or `oci` media types; an `index` in `docker` format is a
    /// Docker manifest list.
    #[serde(default)]
    pub format: Option<String>,
    /// `os/arch` of each platform of an index (default `linux/amd64`, `linux/arm64`).
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
    /// The layers (default: one of `size` bytes); the same `id` is the same blob.
    #[serde(default)]
    pub layers: Option<Vec<LayerFixture>>,
    /// For a referrer: the tag of this repository (or the `sha256:` digest) it signs,
    /// attests or describes.
    #[serde(default)]
    pub signs: Option<String>,
    /// An index also carries the `org.opencontainers.image.created` annotation.
    #[serde(default)]
    pub annotate_created: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerFixture {
    pub id: String,
    pub size: u64,
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
        crate::state::State::build(&fixture, crate::clock::epoch_ms())?;
        Ok(fixture)
    }

    pub fn from_path(p: impl AsRef<Path>) -> Result<Fixture, String> {
        let p = p.as_ref();
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        Fixture::from_json(&text).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// The demo instance of component-tests/fixtures/demo.json: a realistic registry
    /// (multi-arch, attested and signed images, caches in both forms, broken tags) on a
    /// real docker-registry, legacy mode (no metadata database).
    pub fn demo() -> Fixture {
        Fixture::from_json(include_str!("../../fixtures/demo.json"))
            .expect("component-tests/fixtures/demo.json is valid")
    }

    /// The in-memory instance of component-tests/fixtures/memory.json: the fake's own
    /// tests of GitLab's HTTP behaviour, where the registry's content does not matter.
    pub fn memory() -> Fixture {
        Fixture::from_json(include_str!("../../fixtures/memory.json"))
            .expect("component-tests/fixtures/memory.json is valid")
    }

    /// The same instance with its images elsewhere: `memory`, `legacy` or `gitlab`.
    pub fn with_registry(mut self, mode: crate::registry::Mode) -> Fixture {
        self.registry = Some(mode.as_str().to_string());
        self
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
                        broken: t % 50 == 49,
                        protected: t % 500 == 499,
                        ..TagFixture::default()
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
                protection_rules: Vec::new(),
                repositories,
                default_branch: None,
                branches: None,
                merge_requests: Vec::new(),
            }],
            delete_missing_tag_status: None,
            graphql: None,
            registry: None,
            gitlab_version: None,
            registry_token_ttl: None,
            delete_validates_tag: false,
            protected_tag_refusal: None,
        }
    }
}
