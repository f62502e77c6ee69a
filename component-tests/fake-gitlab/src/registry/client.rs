//! GitLab's side of the registry protocol: the reads and writes GitLab's
//! `ContainerRegistry::Client` makes (lib/container_registry/client.rb, base_client.rb),
//! each with a token the fake signs for itself, as GitLab signs `full_access_token`s.

use reqwest::blocking::Client as Http;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;

use super::jwt::Signer;

/// `ContainerRegistry::BaseClient::ACCEPTED_TYPES`: what GitLab accepts when it reads a
/// tag's manifest. Index types are not in it.
pub(crate) const GITLAB_ACCEPTED_TYPES: &[&str] = &[media::DOCKER_MANIFEST, media::OCI_MANIFEST];

/// Every manifest type: what a client that reads any image sends.
pub(crate) const ALL_MANIFEST_TYPES: &[&str] = &[
    media::DOCKER_MANIFEST,
    media::DOCKER_LIST,
    media::OCI_MANIFEST,
    media::OCI_INDEX,
];

pub(crate) mod media {
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const BUILDKIT_CACHE: &str = "application/vnd.buildkit.cacheconfig.v0";
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
    pub const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
    pub const IN_TOTO: &str = "application/vnd.in-toto+json";
    pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
    pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
    pub const SPDX: &str = "text/spdx+json";

    pub fn is_index(media_type: &str) -> bool {
        media_type == DOCKER_LIST || media_type == OCI_INDEX
    }
}

/// A manifest as the registry served it.
#[derive(Clone, Debug)]
pub(crate) struct Fetched {
    pub media_type: String,
    pub digest: String,
    pub body: Vec<u8>,
}

pub(crate) struct RegistryClient {
    http: Http,
    base: String,
}

type Result<T> = std::result::Result<T, String>;

impl RegistryClient {
    pub(crate) fn new(base: String) -> RegistryClient {
        let http = Http::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .expect("an HTTP client without TLS settings builds");
        RegistryClient { http, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /v2/<name>/tags/list`; a repository the registry does not know has no tags.
    pub(crate) fn tags(&self, signer: &Signer, repo: &str) -> Result<Vec<String>> {
        let response = self
            .http
            .get(self.url(&format!("/v2/{repo}/tags/list")))
            .bearer_auth(signer.admin_token(&[repo]))
            .send()
            .map_err(|e| format!("GET /v2/{repo}/tags/list: {e}"))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        if !status.is_success() {
            return Err(format!("GET /v2/{repo}/tags/list: {status}"));
        }
        let bytes = response
            .bytes()
            .map_err(|e| format!("GET /v2/{repo}/tags/list: {e}"))?;
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("GET /v2/{repo}/tags/list: {e}"))?;
        let mut tags: Vec<String> = body["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        Ok(tags)
    }

    /// `GET /v2/<name>/manifests/<reference>` with `accept`; `None` on 404.
    pub(crate) fn manifest(
        &self,
        signer: &Signer,
        repo: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<Option<Fetched>> {
        let what = format!("GET /v2/{repo}/manifests/{reference}");
        let response = self
            .http
            .get(self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .bearer_auth(signer.admin_token(&[repo]))
            .header(ACCEPT, accept.join(", "))
            .send()
            .map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("{what}: {status}"));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let media_type = header(CONTENT_TYPE.as_str());
        let digest = header("docker-content-digest");
        let body = response
            .bytes()
            .map_err(|e| format!("{what}: {e}"))?
            .to_vec();
        Ok(Some(Fetched {
            media_type,
            digest,
            body,
        }))
    }

    /// `GET /v2/<name>/blobs/<digest>`; `None` on 404.
    pub(crate) fn blob(
        &self,
        signer: &Signer,
        repo: &str,
        digest: &str,
    ) -> Result<Option<Vec<u8>>> {
        let what = format!("GET /v2/{repo}/blobs/{digest}");
        let response = self
            .http
            .get(self.url(&format!("/v2/{repo}/blobs/{digest}")))
            .bearer_auth(signer.admin_token(&[repo]))
            .send()
            .map_err(|e| format!("{what}: {e}"))?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                response
                    .bytes()
                    .map_err(|e| format!("{what}: {e}"))?
                    .to_vec(),
            )),
            s => Err(format!("{what}: {s}")),
        }
    }

    /// `HEAD /v2/<name>/blobs/<digest>`.
    pub(crate) fn has_blob(&self, signer: &Signer, repo: &str, digest: &str) -> Result<bool> {
        let response = self
            .http
            .head(self.url(&format!("/v2/{repo}/blobs/{digest}")))
            .bearer_auth(signer.admin_token(&[repo]))
            .send()
            .map_err(|e| format!("HEAD /v2/{repo}/blobs/{digest}: {e}"))?;
        Ok(response.status().is_success())
    }

    /// A monolithic upload (`POST …/blobs/uploads/`, then `PUT <location>?digest=`), as
    /// GitLab's `upload_blob` does; skipped when the repository has the blob already.
    pub(crate) fn upload_blob(
        &self,
        signer: &Signer,
        repo: &str,
        digest: &str,
        data: &[u8],
    ) -> Result<()> {
        if self.has_blob(signer, repo, digest)? {
            return Ok(());
        }
        let token = signer.admin_token(&[repo]);
        let what = format!("POST /v2/{repo}/blobs/uploads/");
        let started = self
            .http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
            .bearer_auth(&token)
            .send()
            .map_err(|e| format!("{what}: {e}"))?;
        if started.status() != StatusCode::ACCEPTED {
            return Err(format!("{what}: {}", started.status()));
        }
        let location = started
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("{what}: no Location"))?
            .to_string();
        let location = if location.starts_with("http") {
            location
        } else {
            self.url(&location)
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let done = self
            .http
            .put(format!("{location}{separator}digest={digest}"))
            .bearer_auth(&token)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(data.to_vec())
            .send()
            .map_err(|e| format!("PUT blob upload of {digest}: {e}"))?;
        if done.status() != StatusCode::CREATED {
            let status = done.status();
            let text = done.text().unwrap_or_default();
            return Err(format!("PUT blob upload of {digest}: {status} {text}"));
        }
        Ok(())
    }

    /// `PUT /v2/<name>/manifests/<reference>`; returns the digest the registry computed.
    pub(crate) fn put_manifest(
        &self,
        signer: &Signer,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Result<String> {
        let what = format!("PUT /v2/{repo}/manifests/{reference}");
        let response = self
            .http
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .bearer_auth(signer.admin_token(&[repo]))
            .header(CONTENT_TYPE, media_type)
            .body(body.to_vec())
            .send()
            .map_err(|e| format!("{what}: {e}"))?;
        if response.status() != StatusCode::CREATED {
            let status = response.status();
            let text = response.text().unwrap_or_default();
            return Err(format!("{what}: {status} {text}"));
        }
        Ok(response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string())
    }

    /// `DELETE /v2/<name>/manifests/<digest>`: every tag of that digest goes with it.
    /// `Ok(false)` when the registry does not know it (404), as GitLab's
    /// `delete_if_exists` counts it done.
    pub(crate) fn delete_manifest(
        &self,
        signer: &Signer,
        repo: &str,
        digest: &str,
    ) -> Result<bool> {
        let what = format!("DELETE /v2/{repo}/manifests/{digest}");
        let response = self
            .http
            .delete(self.url(&format!("/v2/{repo}/manifests/{digest}")))
            .bearer_auth(signer.admin_token(&[repo]))
            .send()
            .map_err(|e| format!("{what}: {e}"))?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            s => Err(format!("{what}: {s}")),
        }
    }
}
