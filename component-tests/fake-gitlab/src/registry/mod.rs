//! The fake's container registry: a real `docker-registry`, with GitLab in front of it.
//!
//! GitLab does not store images; it asks its registry. So does the fake: the fixture's
//! images are pushed as real blobs and manifests at start ([`world`]), and every tag list,
//! tag detail and deletion GitLab's API answers is read from (or done to) the registry the
//! way GitLab's code does it, in one of two modes (design §8, gitlab-api.md §12–§13):
//!
//! - [`Mode::Legacy`], a registry without GitLab's metadata database (most self-managed
//!   instances): GitLab reads a tag's manifest accepting only Docker v2 and OCI image
//!   manifests (`ACCEPTED_TYPES`), so an OCI index has no details (404, or on newer GitLab
//!   versions 500 / 200 with nulls); `created_at` is the config blob's `created`,
//!   `total_size` the sum of the layers; a tag is deleted by pushing a dummy manifest under
//!   it and deleting that digest (sibling tags of the same image survive, the image's
//!   manifest stays, untagged, until the registry's garbage collection).
//! - [`Mode::Gitlab`], GitLab's registry with its database (GitLab.com): every tag has
//!   details, with its media type and push time, `GET /v2/` names the registry and its
//!   database, GraphQL has `mediaType`, `publishedAt` and `referrers`, and tag protection
//!   rules exist.
//!
//! [`Mode::Memory`] keeps the registry a table in the fake's memory (the 100k-tag
//! benchmark and the fault soak need speeds a real registry does not have); both are
//! answered through the same [`crate::tags`] functions.

pub(crate) mod client;
pub mod images;
pub(crate) mod jwt;
mod process;
pub(crate) mod realm;
pub(crate) mod world;

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use client::{media, Fetched, RegistryClient, ALL_MANIFEST_TYPES, GITLAB_ACCEPTED_TYPES};
use jwt::Signer;
pub use process::DiskUsage;
use process::{Identity, Process};

/// Where the fake's registry data lives (fixture `registry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Memory,
    Legacy,
    Gitlab,
}

impl Mode {
    pub fn parse(text: Option<&str>) -> Result<Mode, String> {
        match text {
            None | Some("memory") => Ok(Mode::Memory),
            Some("legacy") => Ok(Mode::Legacy),
            Some("gitlab") => Ok(Mode::Gitlab),
            Some(other) => Err(format!(
                "registry must be memory, legacy or gitlab, not {other:?}"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Memory => "memory",
            Mode::Legacy => "legacy",
            Mode::Gitlab => "gitlab",
        }
    }
}

/// A GitLab version, for the answers that changed between releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(text: &str) -> Result<Version, String> {
        let mut parts = text.split('.').map(|p| p.parse::<u32>());
        let mut next = || {
            parts
                .next()
                .transpose()
                .map_err(|_| format!("gitlab_version {text:?} is not like 19.2 or 19.0.2"))
        };
        let major = next()?.ok_or_else(|| format!("gitlab_version {text:?} is empty"))?;
        Ok(Version(major, next()?.unwrap_or(0), next()?.unwrap_or(0)))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// GitLab 19.0.2 added the index types to `ACCEPTED_TYPES` (details of a multi-arch tag
/// then failed with 500); 19.2 answers them with null dates and sizes
/// (gitlab-org/gitlab#603051, MRs !236905, !240746).
const INDEX_TYPES_ACCEPTED: Version = Version(19, 0, 2);
const INDEX_DETAILS_NULL: Version = Version(19, 2, 0);

/// What GitLab shows of one tag; fields are null where GitLab could not read them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TagView {
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub revision: Option<String>,
    pub created_ms: Option<i64>,
    pub published_ms: Option<i64>,
    pub total_size: Option<u64>,
    /// `(artifactType, digest)` of the manifests whose `subject` is this tag's manifest.
    pub referrers: Vec<(String, String)>,
}

/// REST tag details: `validate_tag!` passes, fails (404), or the registry read errs (500).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Details {
    Found(TagView),
    NotFound,
    ServerError(String),
}

/// Fixture-level settings of a registry-backed fake.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub mode: Mode,
    pub version: Version,
    /// `container_registry_token_expire_delay`, in seconds.
    pub token_ttl_secs: i64,
    /// Older GitLab ran `validate_tag!` before deleting: tags without details answer 404.
    pub delete_validates_tag: bool,
}

pub(crate) struct Registry {
    process: Process,
    client: RegistryClient,
    pub(crate) signer: Signer,
    pub(crate) settings: Settings,
    /// GitLab's record of pushes (its database, in `gitlab` mode): repository path → tag →
    /// first push, ms.
    pushed: Mutex<HashMap<String, HashMap<String, i64>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How a tag resolves: every manifest, child and blob it needs is there, or what is not.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Resolution {
    pub repository: String,
    pub tag: String,
    /// `None` when everything resolves.
    pub problem: Option<String>,
}

/// What `docker-registry garbage-collect` did to the storage.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GarbageCollection {
    pub delete_untagged: bool,
    pub before: DiskUsage,
    pub after: DiskUsage,
    /// The command's own last lines (it lists what it deletes).
    pub output_tail: String,
}

impl Registry {
    /// Starts a registry whose realm is `realm` (the fake's `/jwt/auth`).
    pub(crate) fn start(realm: &str, settings: Settings) -> Result<Registry, String> {
        let signer = Signer::generate()?;
        let identity = match settings.mode {
            // What GitLab's registry adds to `GET /v2/` (and every answer).
            Mode::Gitlab => Identity {
                headers: vec![
                    (
                        "Gitlab-Container-Registry-Version".into(),
                        "4.32.0-gitlab".into(),
                    ),
                    (
                        "Gitlab-Container-Registry-Features".into(),
                        "tag_delete".into(),
                    ),
                    (
                        "Gitlab-Container-Registry-Database-Enabled".into(),
                        "true".into(),
                    ),
                ],
            },
            _ => Identity::default(),
        };
        let process = Process::start(realm, signer.cert_pem(), &identity)?;
        let client = RegistryClient::new(process.url());
        Ok(Registry {
            process,
            client,
            signer,
            settings,
            pushed: Mutex::new(HashMap::new()),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        self.process.url()
    }

    /// `127.0.0.1:PORT`, GitLab's `registry.host_port`.
    pub(crate) fn host_port(&self) -> String {
        self.url().trim_start_matches("http://").to_string()
    }

    pub(crate) fn client(&self) -> &RegistryClient {
        &self.client
    }

    fn pushes(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, i64>>> {
        self.pushed.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn record_push(&self, repo: &str, tag: &str, at_ms: i64) {
        self.pushes()
            .entry(repo.to_string())
            .or_default()
            .entry(tag.to_string())
            .or_insert(at_ms);
    }

    fn forget_push(&self, repo: &str, tag: &str) {
        if let Some(tags) = self.pushes().get_mut(repo) {
            tags.remove(tag);
        }
    }

    pub(crate) fn pushed_at(&self, repo: &str, tag: &str) -> Option<i64> {
        self.pushes().get(repo).and_then(|t| t.get(tag)).copied()
    }

    /// The tags of `repo`, sorted (GitLab sorts `/v2/<name>/tags/list`).
    pub(crate) fn tags(&self, repo: &str) -> Result<Vec<String>, String> {
        self.client.tags(&self.signer, repo)
    }

    /// REST `GET …/tags/:tag_name`, as this mode and GitLab version answer it.
    pub(crate) fn rest_details(&self, repo: &str, tag: &str) -> Details {
        let result = match self.settings.mode {
            Mode::Gitlab => self.db_details(repo, tag),
            _ => self.legacy_details(repo, tag),
        };
        result.unwrap_or_else(Details::ServerError)
    }

    fn legacy_details(&self, repo: &str, tag: &str) -> Result<Details, String> {
        if self.settings.version >= INDEX_TYPES_ACCEPTED {
            let wide = self
                .client
                .manifest(&self.signer, repo, tag, ALL_MANIFEST_TYPES)?;
            return match wide {
                None => Ok(Details::NotFound),
                Some(m) if media::is_index(&m.media_type) => {
                    if self.settings.version < INDEX_DETAILS_NULL {
                        Ok(Details::ServerError(
                            "the manifest list could not be read as an image".into(),
                        ))
                    } else {
                        Ok(Details::Found(TagView {
                            digest: Some(m.digest),
                            ..TagView::default()
                        }))
                    }
                }
                Some(m) => self.image_view(repo, &m).map(Details::Found),
            };
        }
        match self.legacy_read(repo, tag)? {
            None => Ok(Details::NotFound),
            Some(view) => Ok(Details::Found(view)),
        }
    }

    /// What GitLab reads of a tag with its narrow Accept header: `None` when the registry
    /// serves no manifest of those types (every OCI index, a missing manifest).
    fn legacy_read(&self, repo: &str, tag: &str) -> Result<Option<TagView>, String> {
        match self
            .client
            .manifest(&self.signer, repo, tag, GITLAB_ACCEPTED_TYPES)?
        {
            None => Ok(None),
            Some(m) => self.image_view(repo, &m).map(Some),
        }
    }

    /// lib/container_registry/tag.rb on an image manifest: `created_at` from the config
    /// blob (nil if absent or unparsable), `total_size` the layers' sum (schema 2),
    /// `revision` the config digest's hex.
    fn image_view(&self, repo: &str, m: &Fetched) -> Result<TagView, String> {
        let body: Value = serde_json::from_slice(&m.body)
            .map_err(|e| format!("manifest of {repo} is not JSON: {e}"))?;
        let config_digest = body["config"]["digest"].as_str();
        let created_ms = match config_digest {
            Some(d) => self
                .client
                .blob(&self.signer, repo, d)?
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .and_then(|config| {
                    config["created"]
                        .as_str()
                        .and_then(crate::clock::parse_rfc3339_utc)
                }),
            None => None,
        };
        let total_size = (body["schemaVersion"] == 2)
            .then(|| body["layers"].as_array())
            .flatten()
            .map(|layers| layers.iter().filter_map(|l| l["size"].as_u64()).sum());
        Ok(TagView {
            digest: Some(m.digest.clone()),
            media_type: None,
            revision: config_digest.map(|d| d.trim_start_matches("sha256:").to_string()),
            created_ms,
            published_ms: None,
            total_size,
            referrers: Vec::new(),
        })
    }

    /// GitLab's database view of a tag (metadata DB): every tag the registry holds, with
    /// its media type and push time; `created_at` is the first push, indexes have size 0
    /// and an empty revision. `None` when the registry has no such manifest.
    fn db_view(&self, repo: &str, tag: &str, referrers: bool) -> Result<Option<TagView>, String> {
        let Some(m) = self
            .client
            .manifest(&self.signer, repo, tag, ALL_MANIFEST_TYPES)?
        else {
            return Ok(None);
        };
        let pushed = self.pushed_at(repo, tag);
        let mut view = if media::is_index(&m.media_type) {
            TagView {
                digest: Some(m.digest.clone()),
                revision: Some(String::new()),
                total_size: Some(0),
                ..TagView::default()
            }
        } else {
            self.image_view(repo, &m)?
        };
        view.media_type = Some(m.media_type.clone());
        view.created_ms = pushed;
        view.published_ms = pushed;
        if referrers {
            view.referrers = self.referrers_of(repo, &m.digest)?;
        }
        Ok(Some(view))
    }

    /// REST details with the metadata database: `ContainerRepository#tag` asks the
    /// registry for `tags/list?n=100&name=<tag>` (a `LIKE '%<tag>%'` filter, sorted by
    /// name) and looks for the exact name in that page: with 100 or more tags containing
    /// the name sorting before it, an existing tag answers 404.
    fn db_details(&self, repo: &str, tag: &str) -> Result<Details, String> {
        let names = self.tags(repo)?;
        let page: Vec<&String> = names.iter().filter(|n| n.contains(tag)).take(100).collect();
        if !page.iter().any(|n| n.as_str() == tag) {
            return Ok(Details::NotFound);
        }
        Ok(match self.db_view(repo, tag, false)? {
            Some(view) => Details::Found(view),
            None => Details::NotFound,
        })
    }

    /// GraphQL's view of a tag: on a legacy registry the same narrow read as REST (nulls
    /// for index tags; never a media type, push time or referrers); with the database,
    /// all of it.
    pub(crate) fn graphql_view(
        &self,
        repo: &str,
        tag: &str,
        referrers: bool,
    ) -> Result<TagView, String> {
        let view = match self.settings.mode {
            Mode::Gitlab => self.db_view(repo, tag, referrers)?,
            _ => self.legacy_read(repo, tag)?,
        };
        Ok(view.unwrap_or_default())
    }

    /// Manifests of `repo`'s tags whose `subject` is `digest` (the registry database's
    /// referrer links; distribution 2.8 has no referrers API, so the tags are read).
    fn referrers_of(&self, repo: &str, digest: &str) -> Result<Vec<(String, String)>, String> {
        let mut found = Vec::new();
        for tag in self.tags(repo)? {
            let Some(m) = self
                .client
                .manifest(&self.signer, repo, &tag, ALL_MANIFEST_TYPES)?
            else {
                continue;
            };
            let body: Value = serde_json::from_slice(&m.body).unwrap_or(Value::Null);
            if body["subject"]["digest"].as_str() == Some(digest) {
                let artifact_type = body["artifactType"]
                    .as_str()
                    .or(body["config"]["mediaType"].as_str())
                    .unwrap_or_default()
                    .to_string();
                if !found.iter().any(|(_, d)| *d == m.digest) {
                    found.push((artifact_type, m.digest));
                }
            }
        }
        Ok(found)
    }

    /// Deletes tags the way GitLab does on a registry that deletes by digest only
    /// (app/services/projects/container_repository/third_party/delete_tags_service.rb):
    /// the dummy image is pushed under every tag, then its digest deleted once. A tag that
    /// did not exist is created and deleted, so it counts as deleted. The fake's `gitlab`
    /// mode deletes the same way (GitLab's registry deletes by name, which distribution 2.8
    /// cannot): either way the tags go and their images' manifests stay, untagged.
    pub(crate) fn delete_tags(&self, repo: &str, tags: &[&str]) -> Result<(), String> {
        if tags.is_empty() {
            return Ok(());
        }
        let (config, body) = images::gitlab_dummy();
        self.client
            .upload_blob(&self.signer, repo, &config.digest, &config.data)?;
        let mut dummy = String::new();
        for tag in tags {
            dummy =
                self.client
                    .put_manifest(&self.signer, repo, tag, media::DOCKER_MANIFEST, &body)?;
        }
        self.client.delete_manifest(&self.signer, repo, &dummy)?;
        for tag in tags {
            self.forget_push(repo, tag);
        }
        Ok(())
    }

    /// Whether every manifest, platform manifest and blob `tag` needs is in the registry.
    pub(crate) fn resolve(&self, repo: &str, tag: &str) -> Resolution {
        let problem = self.resolve_reference(repo, tag, 0).err();
        Resolution {
            repository: repo.to_string(),
            tag: tag.to_string(),
            problem,
        }
    }

    fn resolve_reference(&self, repo: &str, reference: &str, depth: usize) -> Result<(), String> {
        let m = self
            .client
            .manifest(&self.signer, repo, reference, ALL_MANIFEST_TYPES)?
            .ok_or_else(|| format!("manifest {reference} is unknown"))?;
        let body: Value = serde_json::from_slice(&m.body)
            .map_err(|e| format!("manifest {reference} is not JSON: {e}"))?;
        for d in body["manifests"].as_array().into_iter().flatten() {
            let digest = d["digest"].as_str().unwrap_or_default();
            let is_manifest = d["mediaType"]
                .as_str()
                .is_some_and(|t| ALL_MANIFEST_TYPES.contains(&t));
            if is_manifest && depth < 4 {
                self.resolve_reference(repo, digest, depth + 1)
                    .map_err(|e| format!("{reference}: {e}"))?;
            } else if !self.client.has_blob(&self.signer, repo, digest)? {
                return Err(format!("{reference}: blob {digest} is missing"));
            }
        }
        let blobs = body["config"]["digest"].as_str().into_iter().chain(
            body["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["digest"].as_str()),
        );
        for digest in blobs {
            if !self.client.has_blob(&self.signer, repo, digest)? {
                return Err(format!("{reference}: blob {digest} is missing"));
            }
        }
        Ok(())
    }

    pub(crate) fn disk_usage(&self) -> DiskUsage {
        process::disk_usage(&self.process.storage())
    }

    /// Runs the registry's own garbage collection and measures the storage around it.
    pub(crate) fn garbage_collect(
        &mut self,
        delete_untagged: bool,
    ) -> Result<GarbageCollection, String> {
        let before = self.disk_usage();
        let output = self.process.garbage_collect(delete_untagged)?;
        let after = self.disk_usage();
        let lines: Vec<&str> = output.lines().collect();
        Ok(GarbageCollection {
            delete_untagged,
            before,
            after,
            output_tail: lines[lines.len().saturating_sub(3)..].join("\n"),
        })
    }

    /// Makes a manifest unknown to its repository while its tag stays listed.
    pub(crate) fn unlink_manifest(&self, repo: &str, digest: &str) -> Result<(), String> {
        let link = process::revision_link(&self.process.storage(), repo, digest);
        std::fs::remove_file(&link).map_err(|e| format!("{}: {e}", link.display()))
    }

    pub(crate) fn config_path(&self) -> std::path::PathBuf {
        self.process.config_path().to_path_buf()
    }
}
