//! The fixture's images, planned (validated, once, with the rest of the fixture) and then
//! pushed into the registry when the fake starts.
//!
//! A tag says what it is with `kind` (see [`Kind`]); the older in-memory vocabulary keeps
//! a meaning so the same fixture describes both worlds: `oci_index` + `broken` is a
//! multi-arch index (GitLab cannot read it), `broken` alone a tag whose manifest is gone
//! from storage, no `age` in a cache repository a BuildKit cache image, and tags that
//! share a `digest` are one image under several tags.

use std::collections::HashMap;

use super::images::{self, Format, ImageSpec, Kind, LayerSpec, Subject};
use super::Registry;
use crate::fixture::TagFixture;

/// One tag to push.
#[derive(Clone, Debug)]
pub(crate) struct WorldTag {
    /// Empty for a cosign tag named after its subject (`sha256-<hex>.sig`).
    pub name: String,
    pub spec: ImageSpec,
    /// Another tag of the repository whose manifest this tag also points at.
    pub same_as: Option<String>,
    /// A tag of the repository, or a `sha256:` digest, that this referrer describes.
    pub signs: Option<String>,
    pub pushed_ms: i64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct World {
    /// Repository path → its tags, in fixture order.
    pub repos: Vec<(String, Vec<WorldTag>)>,
}

/// Default layer size in a registry-backed fixture without `size`: small, so a test's
/// world pushes in a blink, but distinct per tag.
fn default_size(seed: &str) -> u64 {
    let h = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    16 * 1024 + h % (48 * 1024)
}

/// Plans one tag of repository `repo` (`cache`: the repository's name ends in `.cache`).
pub(crate) fn plan_tag(
    repo: &str,
    cache: bool,
    tf: &TagFixture,
    created_ms: Option<i64>,
    pushed_ms: i64,
    same_digest: Option<String>,
) -> Result<WorldTag, String> {
    let at = || format!("{repo}:{}", tf.name);
    let kind = match tf.kind.as_deref() {
        Some(k) => Kind::parse(k)
            .ok_or_else(|| format!("{}: kind {k:?} is not one of {}", at(), Kind::NAMES))?,
        None if tf.broken && tf.oci_index => Kind::Index,
        None if tf.broken => Kind::Missing,
        None if tf.oci_index || (cache && tf.age.is_none()) => Kind::CacheImage,
        None => Kind::Image,
    };
    if tf.undeletable {
        return Err(format!(
            "{}: `undeletable` is an in-memory flag; a registry-backed fixture sets `delete_validates_tag` (older GitLab) instead",
            at()
        ));
    }
    let format = match tf.format.as_deref() {
        None | Some("docker") => Format::Docker,
        Some("oci") => Format::Oci,
        Some(other) => {
            return Err(format!(
                "{}: format must be docker or oci, not {other:?}",
                at()
            ))
        }
    };
    let platforms = match &tf.platforms {
        Some(p) if p.is_empty() => return Err(format!("{}: platforms is empty", at())),
        Some(p) => p.clone(),
        None if matches!(kind, Kind::Index | Kind::IndexMissingChild) => {
            vec!["linux/amd64".into(), "linux/arm64".into()]
        }
        None => vec!["linux/amd64".into()],
    };
    let seed = format!("{repo}:{}", tf.name);
    let layers = match &tf.layers {
        Some(layers) => layers
            .iter()
            .map(|l| LayerSpec {
                id: l.id.clone(),
                size: l.size,
            })
            .collect(),
        None => vec![LayerSpec {
            id: seed.clone(),
            size: tf.size.unwrap_or_else(|| default_size(&seed)),
        }],
    };
    if tf.name.is_empty() && !(kind.needs_subject() && tf.signs.is_some()) {
        return Err(format!(
            "{repo}: a tag without a name must be a signature, attestation or sbom with `signs`"
        ));
    }
    if tf.signs.is_some() && !(kind.needs_subject() || kind == Kind::Artifact) {
        return Err(format!(
            "{}: `signs` needs kind signature, attestation, sbom or artifact",
            at()
        ));
    }
    Ok(WorldTag {
        name: tf.name.clone(),
        spec: ImageSpec {
            kind,
            format,
            created_ms,
            platforms,
            layers,
            subject: None,
            annotate_created: tf.annotate_created,
        },
        same_as: same_digest,
        signs: tf.signs.clone(),
        pushed_ms,
    })
}

impl World {
    /// Pushes every repository (a few at a time) and records each push.
    pub(crate) fn push(&self, registry: &Registry) -> Result<(), String> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failure = std::sync::Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..4.min(self.repos.len()) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((repo, tags)) = self.repos.get(i) else {
                        break;
                    };
                    if let Err(e) = push_repository(registry, repo, tags) {
                        *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                        break;
                    }
                });
            }
        });
        match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(format!("pushing the fixture's images: {e}")),
            None => Ok(()),
        }
    }
}

/// Uploads each blob and child manifest of a repository once, however many images share it.
/// Two concurrent uploads of one blob race in distribution: committing it rewrites the
/// repository's link file in place (truncate, then write), and an index being put meanwhile
/// can read it empty and fail with `MANIFEST_BLOB_UNKNOWN`.
#[derive(Default)]
struct Once {
    keys: std::sync::Mutex<HashMap<String, std::sync::Arc<std::sync::Mutex<bool>>>>,
}

impl Once {
    fn run(&self, key: &str, work: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        let cell = self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let mut done = cell.lock().unwrap_or_else(|e| e.into_inner());
        if !*done {
            work()?;
            *done = true;
        }
        Ok(())
    }
}

fn push_repository(registry: &Registry, repo: &str, tags: &[WorldTag]) -> Result<(), String> {
    // Images first (several at once), then tags of the same image, then referrers: a
    // referrer's name and `subject` need its subject's digest.
    let once = Once::default();
    let images: Vec<&WorldTag> = tags
        .iter()
        .filter(|t| t.signs.is_none() && t.same_as.is_none())
        .collect();
    let mut pushed: HashMap<String, Subject> = parallel(&images, |tag| {
        push_tag(registry, repo, tag, &HashMap::new(), &once)
    })?
    .into_iter()
    .collect();
    for tag in tags.iter().filter(|t| t.same_as.is_some()) {
        let first = tag.same_as.as_deref().unwrap_or_default();
        let subject = pushed.get(first).cloned().ok_or_else(|| {
            format!(
                "{repo}:{}: same image as {first}, which is not an image",
                tag.name
            )
        })?;
        let fetched = registry
            .client()
            .manifest(
                &registry.signer,
                repo,
                &subject.digest,
                &[&subject.media_type],
            )?
            .ok_or_else(|| format!("{repo}: {} vanished", subject.digest))?;
        registry.client().put_manifest(
            &registry.signer,
            repo,
            &tag.name,
            &subject.media_type,
            &fetched.body,
        )?;
        registry.record_push(repo, &tag.name, tag.pushed_ms);
        pushed.insert(tag.name.clone(), subject);
    }
    let referrers: Vec<&WorldTag> = tags.iter().filter(|t| t.signs.is_some()).collect();
    parallel(&referrers, |tag| {
        push_tag(registry, repo, tag, &pushed, &once)
    })?;
    Ok(())
}

/// `work` on every item, four at a time; the first error wins.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> Result<R, String> + Sync,
) -> Result<Vec<R>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4.min(items.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = work(item);
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .collect()
}

/// Builds and pushes one tag; returns its name and its manifest as a subject.
fn push_tag(
    registry: &Registry,
    repo: &str,
    tag: &WorldTag,
    subjects: &HashMap<String, Subject>,
    once: &Once,
) -> Result<(String, Subject), String> {
    let mut spec = tag.spec.clone();
    let mut name = tag.name.clone();
    if let Some(signs) = &tag.signs {
        let subject = match signs.strip_prefix("sha256:") {
            Some(_) => Subject {
                media_type: super::client::media::OCI_MANIFEST.into(),
                digest: signs.clone(),
                size: 1024,
            },
            None => subjects.get(signs).cloned().ok_or_else(|| {
                format!("{repo}: `signs: {signs}` names no image of this repository")
            })?,
        };
        if name.is_empty() {
            let suffix = spec.kind.cosign_suffix().expect("checked when planned");
            name = format!(
                "sha256-{}.{suffix}",
                subject.digest.trim_start_matches("sha256:")
            );
        }
        spec.subject = Some(subject);
    }
    let built = images::build(&spec);
    push_built(registry, repo, &built, once)?;
    registry.client().put_manifest(
        &registry.signer,
        repo,
        &name,
        &built.media_type,
        &built.body,
    )?;
    registry.record_push(repo, &name, tag.pushed_ms);
    match spec.kind {
        Kind::IndexMissingChild => {
            let child = &built.children[0];
            registry
                .client()
                .delete_manifest(&registry.signer, repo, &child.digest)?;
        }
        Kind::Missing => registry.unlink_manifest(repo, &built.digest)?,
        _ => {}
    }
    Ok((tag.name.clone(), built.subject()))
}

/// Blobs, then the platform manifests (by digest), of one manifest.
fn push_built(
    registry: &Registry,
    repo: &str,
    built: &images::Built,
    once: &Once,
) -> Result<(), String> {
    for child in &built.children {
        push_built(registry, repo, child, once)?;
        once.run(&child.digest, || {
            registry
                .client()
                .put_manifest(
                    &registry.signer,
                    repo,
                    &child.digest,
                    &child.media_type,
                    &child.body,
                )
                .map(drop)
        })?;
    }
    for blob in &built.blobs {
        once.run(&blob.digest, || {
            registry
                .client()
                .upload_blob(&registry.signer, repo, &blob.digest, &blob.data)
        })?;
    }
    Ok(())
}
