//! What a manifest is (design §9), from its bytes alone: no I/O, so every rule about it can be
//! tested on real manifests.
//!
//! The media types and annotations are the ones the tools that push them write: Docker v2 and
//! OCI image manifests with an image config are images; an OCI index or Docker manifest list with
//! at least one platform manifest is a multi-arch image (descriptors annotated
//! `vnd.docker.reference.type: attestation-manifest` are buildx's attestations of the image, not
//! platforms); BuildKit's registry cache holds an `application/vnd.buildkit.cacheconfig.v0`
//! descriptor (index form) or config (image-manifest form, BuildKit 0.21+); a manifest with a
//! `subject`, or a tag named `sha256-<hex>.sig|.att|.sbom` (cosign) or `sha256-<hex>` (the OCI
//! referrers tag schema), describes another manifest; anything else (a Helm chart, an ORAS
//! artifact) is an artifact.

use serde_json::Value;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const BUILDKIT_CACHE: &str = "application/vnd.buildkit.cacheconfig.v0";
const ATTESTATION_TYPE: &str = "vnd.docker.reference.type";
const CREATED: &str = "org.opencontainers.image.created";

/// Every manifest type, as registry-gc asks for them (the Accept header of a manifest read).
pub const MANIFEST_TYPES: [&str; 4] = [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Image,
    Index,
    Cache,
    Referrer,
    Artifact,
    /// The registry has no manifest for the tag, or an index's platform manifest is gone.
    Missing,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Index => "index",
            Kind::Cache => "cache",
            Kind::Referrer => "referrer",
            Kind::Artifact => "artifact",
            Kind::Missing => "missing",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A descriptor of a manifest an index lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    pub digest: String,
    pub media_type: String,
}

/// What a manifest says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub kind: Kind,
    pub media_type: String,
    /// An index's platform manifests (attestations not counted).
    pub platforms: Vec<Child>,
    pub attestations: usize,
    /// The digest a referrer describes.
    pub subject: Option<String>,
    /// An image manifest's config blob (digest and media type).
    pub config: Option<Child>,
    /// An index's `org.opencontainers.image.created` annotation, as written.
    pub created: Option<String>,
}

/// The subject a tag's name gives it under cosign's tag schema (`sha256-<hex>.sig`, `.att`,
/// `.sbom`) or the OCI referrers tag schema (`sha256-<hex>`).
pub fn subject_by_name(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("sha256-")?;
    let (hex, suffix) = rest.split_at(rest.len().min(64));
    let hex_ok = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex_ok && matches!(suffix, "" | ".sig" | ".att" | ".sbom")).then(|| format!("sha256:{hex}"))
}

/// Classifies a manifest the registry served for `tag` with media type `media_type` (the
/// `Content-Type` of the answer; the body's own `mediaType` where that is missing).
pub fn classify(tag: &str, media_type: &str, body: &[u8]) -> Result<Manifest, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the manifest is not JSON: {e}"))?;
    let media_type = value["mediaType"]
        .as_str()
        .filter(|_| media_type.is_empty() || !MANIFEST_TYPES.contains(&media_type))
        .unwrap_or(media_type)
        .to_string();
    let descriptors = value["manifests"].as_array();
    let mut manifest = Manifest {
        kind: Kind::Artifact,
        media_type: media_type.clone(),
        platforms: Vec::new(),
        attestations: 0,
        subject: value["subject"]["digest"].as_str().map(str::to_string),
        config: None,
        created: value["annotations"][CREATED].as_str().map(str::to_string),
    };
    if let Some(config) = value["config"].as_object() {
        manifest.config = Some(Child {
            digest: config
                .get("digest")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            media_type: config
                .get("mediaType")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        });
    }
    let is_index = media_type == OCI_INDEX
        || media_type == DOCKER_LIST
        || (media_type.is_empty() && descriptors.is_some());
    let mut cache_descriptor = false;
    if is_index {
        for d in descriptors.into_iter().flatten() {
            let child_type = d["mediaType"].as_str().unwrap_or_default();
            if child_type == BUILDKIT_CACHE {
                cache_descriptor = true;
            } else if d["annotations"][ATTESTATION_TYPE].as_str() == Some("attestation-manifest") {
                manifest.attestations += 1;
            } else if child_type == DOCKER_MANIFEST || child_type == OCI_MANIFEST {
                manifest.platforms.push(Child {
                    digest: d["digest"].as_str().unwrap_or_default().to_string(),
                    media_type: child_type.to_string(),
                });
            }
        }
    }
    let config_type = manifest.config.as_ref().map(|c| c.media_type.as_str());
    manifest.kind = if manifest.subject.is_some() || subject_by_name(tag).is_some() {
        if manifest.subject.is_none() {
            manifest.subject = subject_by_name(tag);
        }
        Kind::Referrer
    } else if cache_descriptor || config_type == Some(BUILDKIT_CACHE) {
        Kind::Cache
    } else if is_index && !manifest.platforms.is_empty() {
        Kind::Index
    } else if !is_index && matches!(config_type, Some(DOCKER_CONFIG | OCI_CONFIG)) {
        Kind::Image
    } else {
        Kind::Artifact
    };
    Ok(manifest)
}

/// An index's platform descriptors, for an image config's `created` where an index itself
/// carries no date: the first platform (design §3).
pub fn config_created(config: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(config).ok()?;
    value["created"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind_of(tag: &str, body: Value) -> Manifest {
        let media_type = body["mediaType"].as_str().unwrap_or_default().to_string();
        classify(tag, &media_type, body.to_string().as_bytes()).unwrap()
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn image(config: &str) -> Value {
        json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": config, "digest": D, "size": 1},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": D, "size": 10}]})
    }

    #[test]
    fn images_by_their_config() {
        let m = kind_of("v1", image(DOCKER_CONFIG));
        assert_eq!(
            (m.kind, m.config.unwrap().digest),
            (Kind::Image, D.to_string())
        );
        let mut oci = image(OCI_CONFIG);
        oci["mediaType"] = json!(OCI_MANIFEST);
        assert_eq!(kind_of("v1", oci).kind, Kind::Image);
    }

    #[test]
    fn multi_arch_indexes_and_buildx_attestations() {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": "sha256:c", "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "sha256:a"}}
        ], "annotations": {"org.opencontainers.image.created": "2026-01-02T03:04:05Z"}});
        let m = kind_of("feature-x", index);
        assert_eq!(
            (m.kind, m.platforms.len(), m.attestations),
            (Kind::Index, 2, 1)
        );
        assert_eq!(m.created.as_deref(), Some("2026-01-02T03:04:05Z"));
        let list = json!({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}}]});
        assert_eq!(kind_of("v1", list).kind, Kind::Index);
        let only_attestations = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": "sha256:c", "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]});
        assert_eq!(kind_of("x", only_attestations).kind, Kind::Artifact);
    }

    #[test]
    fn buildkit_caches_in_both_forms() {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:l", "size": 5},
            {"mediaType": BUILDKIT_CACHE, "digest": "sha256:c", "size": 1}]});
        assert_eq!(kind_of("main", index).kind, Kind::Cache);
        let mut manifest = image(BUILDKIT_CACHE);
        manifest["mediaType"] = json!(OCI_MANIFEST);
        assert_eq!(kind_of("main", manifest).kind, Kind::Cache);
    }

    #[test]
    fn referrers_by_subject_or_by_name() {
        let sig = format!("sha256-{}.sig", &D[7..]);
        let m = kind_of(&sig, image(OCI_CONFIG));
        assert_eq!((m.kind, m.subject.as_deref()), (Kind::Referrer, Some(D)));
        let artifact = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:e", "size": 2},
            "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": D, "size": 1}});
        let m = kind_of("sbom-v1", artifact);
        assert_eq!((m.kind, m.subject.as_deref()), (Kind::Referrer, Some(D)));
        assert_eq!(
            subject_by_name(&format!("sha256-{}", &D[7..])).as_deref(),
            Some(D)
        );
        for not in [
            "sha256-abc.sig",
            "sha256-0123.att",
            "v1.sig",
            &format!("sha256-{}.txt", &D[7..]),
        ] {
            assert_eq!(subject_by_name(not), None, "{not}");
        }
    }

    #[test]
    fn anything_else_is_an_artifact() {
        let mut helm = image("application/vnd.cncf.helm.config.v1+json");
        helm["mediaType"] = json!(OCI_MANIFEST);
        assert_eq!(kind_of("1.2.3", helm).kind, Kind::Artifact);
        assert!(classify("x", OCI_MANIFEST, b"not json").is_err());
    }
}
