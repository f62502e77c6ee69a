//! Real images, built from a fixture's description and pushed as blobs and manifests.
//!
//! Each kind is built the way the tool that makes it in the wild lays it out: `docker
//! build`/`buildah` (Docker v2 or OCI image manifests), `docker buildx` (multi-arch
//! indexes, and the default provenance attestation: an extra manifest in the index
//! annotated `vnd.docker.reference.type: attestation-manifest`), BuildKit's registry cache
//! in both forms (an index holding an `application/vnd.buildkit.cacheconfig.v0`
//! descriptor, and since BuildKit 0.21 an image manifest whose config has that type),
//! cosign's tag-schema signatures, attestations and SBOMs (`sha256-<hex>.sig|.att|.sbom`,
//! whose config's `created` is the zero time go-containerregistry writes), OCI 1.1
//! artifacts with a `subject`, and Helm charts (config
//! `application/vnd.cncf.helm.config.v1+json`). Layer bytes are deterministic noise of
//! the declared size (the registry never looks inside a layer), so sizes on disk are real
//! and two tags that name the same layer share its blob.

use serde_json::{json, Value};

use super::client::media;

/// What a tag is (fixture `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Image,
    Index,
    Attested,
    CacheIndex,
    CacheImage,
    Signature,
    Attestation,
    Sbom,
    Artifact,
    Helm,
    IndexMissingChild,
    Missing,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "image" => Kind::Image,
            "index" => Kind::Index,
            "attested" => Kind::Attested,
            "cache-index" => Kind::CacheIndex,
            "cache-image" => Kind::CacheImage,
            "signature" => Kind::Signature,
            "attestation" => Kind::Attestation,
            "sbom" => Kind::Sbom,
            "artifact" => Kind::Artifact,
            "helm" => Kind::Helm,
            "index-missing-child" => Kind::IndexMissingChild,
            "missing" => Kind::Missing,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "image, index, attested, cache-index, cache-image, signature, attestation, sbom, artifact, helm, index-missing-child, missing";

    /// The cosign tag suffix of a referrer kind.
    pub fn cosign_suffix(self) -> Option<&'static str> {
        match self {
            Kind::Signature => Some("sig"),
            Kind::Attestation => Some("att"),
            Kind::Sbom => Some("sbom"),
            _ => None,
        }
    }

    /// Kinds whose manifest describes another one: built after their subject.
    pub fn needs_subject(self) -> bool {
        self.cosign_suffix().is_some()
    }
}

/// Docker v2 or OCI media types for image manifests (fixture `format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Docker,
    Oci,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// Same id, same bytes, same blob: how images share layers.
    pub id: String,
    pub size: u64,
}

/// A descriptor of what a referrer points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub kind: Kind,
    pub format: Format,
    /// The config's `created` (build time), ms since the epoch; `None`: no `created`.
    pub created_ms: Option<i64>,
    /// `os/arch` of each platform (indexes); one for single images.
    pub platforms: Vec<String>,
    pub layers: Vec<LayerSpec>,
    pub subject: Option<Subject>,
    /// An index also carries `org.opencontainers.image.created` (design §3 reads it first).
    pub annotate_created: bool,
}

/// A blob to upload.
pub struct Blob {
    pub digest: String,
    pub data: Vec<u8>,
}

/// A manifest to push, with what must be in the repository before it.
pub struct Built {
    pub media_type: String,
    pub body: Vec<u8>,
    pub digest: String,
    pub blobs: Vec<Blob>,
    /// Manifests an index lists, pushed by digest before it.
    pub children: Vec<Built>,
}

impl Built {
    fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.body.len()})
    }

    pub fn subject(&self) -> Subject {
        Subject {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.body.len() as u64,
        }
    }
}

pub fn sha256(data: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Deterministic bytes for a layer id.
fn noise(id: &str, size: u64) -> Vec<u8> {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        state ^= u64::from(b);
        state = state.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = Vec::with_capacity(size as usize);
    while (out.len() as u64) < size {
        out.extend_from_slice(&crate::faults::splitmix64(&mut state).to_le_bytes());
    }
    out.truncate(size as usize);
    out
}

fn blob(data: Vec<u8>) -> (Blob, Value) {
    let digest = sha256(&data);
    let size = data.len();
    (
        Blob {
            digest: digest.clone(),
            data,
        },
        json!({"digest": digest, "size": size}),
    )
}

fn with_media(mut descriptor: Value, media_type: &str) -> Value {
    descriptor["mediaType"] = json!(media_type);
    descriptor
}

fn manifest(media_type: &str, mut body: Value, blobs: Vec<Blob>, children: Vec<Built>) -> Built {
    body["schemaVersion"] = json!(2);
    body["mediaType"] = json!(media_type);
    let body = serde_json::to_vec_pretty(&body).expect("JSON serializes");
    Built {
        media_type: media_type.to_string(),
        digest: sha256(&body),
        body,
        blobs,
        children,
    }
}

fn rfc3339(ms: i64) -> String {
    crate::clock::rfc3339_z(ms)
}

/// One platform's image: a config blob (with `created` if known) and its layers.
fn image(spec: &ImageSpec, platform: &str, layers: &[LayerSpec]) -> Built {
    let (os, arch) = platform.split_once('/').unwrap_or(("linux", platform));
    let (manifest_type, config_type, layer_type) = match spec.format {
        Format::Docker => (
            media::DOCKER_MANIFEST,
            media::DOCKER_CONFIG,
            media::DOCKER_LAYER,
        ),
        Format::Oci => (media::OCI_MANIFEST, media::OCI_CONFIG, media::OCI_LAYER),
    };
    let mut blobs = Vec::new();
    let mut descriptors = Vec::new();
    for layer in layers {
        let (b, d) = blob(noise(&layer.id, layer.size));
        blobs.push(b);
        descriptors.push(with_media(d, layer_type));
    }
    let diff_ids: Vec<Value> = descriptors.iter().map(|d| d["digest"].clone()).collect();
    let mut config = json!({
        "architecture": arch,
        "os": os,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    if let Some(ms) = spec.created_ms {
        config["created"] = json!(rfc3339(ms));
        config["history"] = json!([{"created": rfc3339(ms), "created_by": "fake-gitlab"}]);
    }
    let (config_blob, config_descriptor) = blob(serde_json::to_vec(&config).expect("JSON"));
    blobs.push(config_blob);
    manifest(
        manifest_type,
        json!({"config": with_media(config_descriptor, config_type), "layers": descriptors}),
        blobs,
        Vec::new(),
    )
}

/// The layers of one platform of an index: the declared ones, made distinct per platform
/// (each architecture has its own bytes).
fn platform_layers(spec: &ImageSpec, platform: &str) -> Vec<LayerSpec> {
    spec.layers
        .iter()
        .map(|l| LayerSpec {
            id: format!("{}@{platform}", l.id),
            size: l.size,
        })
        .collect()
}

fn platform_json(platform: &str) -> Value {
    let (os, arch) = platform.split_once('/').unwrap_or(("linux", platform));
    json!({"architecture": arch, "os": os})
}

fn index(spec: &ImageSpec, attestation: bool) -> Built {
    let index_type = match spec.format {
        Format::Docker if !attestation => media::DOCKER_LIST,
        _ => media::OCI_INDEX,
    };
    let mut children = Vec::new();
    let mut descriptors = Vec::new();
    for platform in &spec.platforms {
        let child = image(spec, platform, &platform_layers(spec, platform));
        let mut d = child.descriptor();
        d["platform"] = platform_json(platform);
        descriptors.push(d);
        children.push(child);
    }
    if attestation {
        // buildx's default provenance: one attestation manifest per platform image.
        for i in 0..children.len() {
            let subject_digest = children[i].digest.clone();
            let att = attestation_manifest(&subject_digest);
            let mut d = att.descriptor();
            d["platform"] = json!({"architecture": "unknown", "os": "unknown"});
            d["annotations"] = json!({
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": subject_digest,
            });
            descriptors.push(d);
            children.push(att);
        }
    }
    let mut body = json!({"manifests": descriptors});
    if spec.annotate_created {
        if let Some(ms) = spec.created_ms {
            body["annotations"] = json!({"org.opencontainers.image.created": rfc3339(ms)});
        }
    }
    manifest(index_type, body, Vec::new(), children)
}

fn attestation_manifest(subject_digest: &str) -> Built {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "_", "digest": {"sha256": subject_digest.trim_start_matches("sha256:")}}],
        "predicate": {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"},
    });
    let (layer, d) = blob(serde_json::to_vec(&statement).expect("JSON"));
    let mut layer_descriptor = with_media(d, media::IN_TOTO);
    layer_descriptor["annotations"] =
        json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
    let config = json!({"architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer_descriptor["digest"].clone()]}});
    let (config_blob, cd) = blob(serde_json::to_vec(&config).expect("JSON"));
    manifest(
        media::OCI_MANIFEST,
        json!({"config": with_media(cd, media::OCI_CONFIG), "layers": [layer_descriptor]}),
        vec![layer, config_blob],
        Vec::new(),
    )
}

fn layers_of(spec: &ImageSpec, layer_type: &str) -> (Vec<Blob>, Vec<Value>) {
    let mut blobs = Vec::new();
    let mut descriptors = Vec::new();
    for l in &spec.layers {
        let (b, d) = blob(noise(&l.id, l.size));
        blobs.push(b);
        descriptors.push(with_media(d, layer_type));
    }
    (blobs, descriptors)
}

/// BuildKit's cache config blob: the layers and a record chain (enough to be one).
fn cache_config(layers: &[Value]) -> Vec<u8> {
    let records: Vec<Value> = (0..layers.len())
        .map(|i| json!({"digest": format!("sha256:{:064x}", i + 1), "layers": [{"blob": i}]}))
        .collect();
    serde_json::to_vec(&json!({"layers": layers.iter().map(|l| json!({"blob": l["digest"]})).collect::<Vec<_>>(), "records": records}))
        .expect("JSON")
}

fn cache_index(spec: &ImageSpec) -> Built {
    let (mut blobs, mut descriptors) = layers_of(spec, media::OCI_LAYER);
    let (config, d) = blob(cache_config(&descriptors));
    blobs.push(config);
    descriptors.push(with_media(d, media::BUILDKIT_CACHE));
    manifest(
        media::OCI_INDEX,
        json!({"manifests": descriptors}),
        blobs,
        Vec::new(),
    )
}

fn cache_image(spec: &ImageSpec) -> Built {
    let (mut blobs, descriptors) = layers_of(spec, media::OCI_LAYER);
    let (config, d) = blob(cache_config(&descriptors));
    blobs.push(config);
    manifest(
        media::OCI_MANIFEST,
        json!({"config": with_media(d, media::BUILDKIT_CACHE), "layers": descriptors}),
        blobs,
        Vec::new(),
    )
}

/// cosign's tag-schema objects: an image whose config is go-containerregistry's empty
/// config with the zero `created`, and one layer (the signed payload, the DSSE envelope
/// or the SBOM).
fn cosign(spec: &ImageSpec) -> Built {
    let subject = spec.subject.clone().unwrap_or(Subject {
        media_type: media::OCI_MANIFEST.into(),
        digest: sha256(b"unknown subject"),
        size: 0,
    });
    let (layer_type, payload, annotations) = match spec.kind {
        Kind::Signature => (
            media::COSIGN_SIMPLESIGNING,
            json!({"critical": {"identity": {"docker-reference": "registry.example.com/image"},
                "image": {"docker-manifest-digest": subject.digest},
                "type": "cosign container image signature"}, "optional": null}),
            json!({"dev.cosignproject.cosign/signature": "MEUCIQDfakefakefakefakefakefake"}),
        ),
        Kind::Attestation => (
            media::DSSE,
            json!({"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": [{"sig": "ZmFrZQ=="}]}),
            json!({"predicateType": "https://slsa.dev/provenance/v0.2"}),
        ),
        _ => (
            media::SPDX,
            json!({"spdxVersion": "SPDX-2.3", "name": subject.digest, "packages": []}),
            json!({}),
        ),
    };
    let (layer, d) = blob(serde_json::to_vec(&payload).expect("JSON"));
    let mut layer_descriptor = with_media(d, layer_type);
    layer_descriptor["annotations"] = annotations;
    let config = json!({"architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer_descriptor["digest"].clone()]}, "config": {}});
    let (config_blob, cd) = blob(serde_json::to_vec(&config).expect("JSON"));
    manifest(
        media::OCI_MANIFEST,
        json!({"config": with_media(cd, media::OCI_CONFIG), "layers": [layer_descriptor]}),
        vec![layer, config_blob],
        Vec::new(),
    )
}

/// An OCI 1.1 artifact: the empty config, `artifactType`, and a `subject` when given
/// (BuildKit 0.32 attestations, cosign 3 bundles, `oras attach`).
fn artifact(spec: &ImageSpec) -> Built {
    let (mut blobs, descriptors) = layers_of(spec, "application/vnd.example.artifact.v1+json");
    let empty = b"{}".to_vec();
    let (config, cd) = blob(empty);
    blobs.push(config);
    let mut body = json!({
        "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
        "config": with_media(cd, media::OCI_EMPTY),
        "layers": descriptors,
    });
    if let Some(s) = &spec.subject {
        body["subject"] = json!({"mediaType": s.media_type, "digest": s.digest, "size": s.size});
    }
    manifest(media::OCI_MANIFEST, body, blobs, Vec::new())
}

fn helm(spec: &ImageSpec) -> Built {
    let (mut blobs, descriptors) = layers_of(spec, media::HELM_CHART);
    let chart = json!({"name": "chart", "version": "1.2.3", "apiVersion": "v2", "description": "A Helm chart"});
    let (config, cd) = blob(serde_json::to_vec(&chart).expect("JSON"));
    blobs.push(config);
    manifest(
        media::OCI_MANIFEST,
        json!({"config": with_media(cd, media::HELM_CONFIG), "layers": descriptors}),
        blobs,
        Vec::new(),
    )
}

pub fn build(spec: &ImageSpec) -> Built {
    match spec.kind {
        Kind::Image | Kind::Missing => {
            let platform = spec.platforms.first().map_or("linux/amd64", String::as_str);
            image(spec, platform, &spec.layers)
        }
        Kind::Index | Kind::IndexMissingChild => index(spec, false),
        Kind::Attested => index(spec, true),
        Kind::CacheIndex => cache_index(spec),
        Kind::CacheImage => cache_image(spec),
        Kind::Signature | Kind::Attestation | Kind::Sbom => cosign(spec),
        Kind::Artifact => artifact(spec),
        Kind::Helm => helm(spec),
    }
}

/// The dummy image GitLab pushes under a tag to delete it from a registry that can only
/// delete by digest (`ContainerRegistry::Client#generate_empty_manifest`: a config blob
/// `{"config": {}}` pretty-printed, and a Docker v2 manifest without layers).
pub fn gitlab_dummy() -> (Blob, Vec<u8>) {
    let config = b"{\n  \"config\": {}\n}".to_vec();
    let digest = sha256(&config);
    let body = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media::DOCKER_MANIFEST,
        "config": {"mediaType": media::DOCKER_CONFIG, "size": config.len(), "digest": digest},
    }))
    .expect("JSON");
    (
        Blob {
            digest,
            data: config,
        },
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: Kind) -> ImageSpec {
        ImageSpec {
            kind,
            format: Format::Oci,
            created_ms: Some(1_700_000_000_000),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
            layers: vec![LayerSpec {
                id: "base".into(),
                size: 100,
            }],
            subject: None,
            annotate_created: false,
        }
    }

    #[test]
    fn an_attested_index_names_its_attestations() {
        let built = build(&ImageSpec {
            platforms: vec!["linux/amd64".into()],
            ..spec(Kind::Attested)
        });
        let body: Value = serde_json::from_slice(&built.body).unwrap();
        assert_eq!(body["mediaType"], media::OCI_INDEX);
        assert_eq!(body["manifests"].as_array().unwrap().len(), 2);
        assert_eq!(
            body["manifests"][1]["annotations"]["vnd.docker.reference.type"],
            "attestation-manifest"
        );
        assert_eq!(
            body["manifests"][1]["annotations"]["vnd.docker.reference.digest"],
            json!(built.children[0].digest)
        );
    }

    #[test]
    fn platforms_have_their_own_layers_and_same_ids_share_blobs() {
        let built = build(&spec(Kind::Index));
        assert_ne!(
            built.children[0].blobs[0].digest,
            built.children[1].blobs[0].digest
        );
        let a = build(&ImageSpec {
            kind: Kind::Image,
            ..spec(Kind::Image)
        });
        let b = build(&ImageSpec {
            created_ms: Some(1),
            ..spec(Kind::Image)
        });
        assert_eq!(
            a.blobs[0].digest, b.blobs[0].digest,
            "same layer id, same blob"
        );
        assert_ne!(a.digest, b.digest, "another config");
    }

    #[test]
    fn caches_carry_the_buildkit_config_type() {
        for kind in [Kind::CacheIndex, Kind::CacheImage] {
            let built = build(&spec(kind));
            assert!(String::from_utf8_lossy(&built.body).contains(media::BUILDKIT_CACHE));
        }
    }
}
