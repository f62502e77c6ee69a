//! The registry's HTTP API (distribution's `/v2/`), with its token flow.
//!
//! `GET /v2/` answers 401 with `WWW-Authenticate: Bearer realm="…",service="…"`; the realm (on
//! GitLab, `/jwt/auth`) must be on the origin of `CI_API_V4_URL`, or the credentials are not sent
//! and inspection is unavailable. The realm is asked for a bearer token with Basic credentials
//! and one `scope=repository:<path>:pull` per repository (several in one request); GitLab's
//! tokens expire (5 minutes by default), so a 401 from the registry gets a new token once and
//! the request is sent again. Retries, 429 pauses and the concurrency limit are the API's
//! ([`crate::http`]). No token or password ever appears in an error or a log line.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};

use super::kind::MANIFEST_TYPES;
use super::stats::{Endpoint, Stats};
use crate::config::RegistryLogin;
use crate::http::{one_line, origin, same_origin, Problem, Reply, Transport, Verdict};
use crate::signals::Interrupt;

/// A failed registry operation, shown as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    /// The registry answered with a status the caller does not handle.
    Status {
        request: String,
        status: u16,
        message: String,
    },
    /// No usable answer after the retries: connection, timeout, 5xx.
    Transport {
        request: String,
        detail: String,
    },
    /// An answer that is not what the registry protocol says.
    Decode {
        request: String,
        detail: String,
    },
    /// The realm refused the credentials.
    Unauthorized {
        request: String,
        message: String,
    },
    /// The realm is on another origin than `CI_API_V4_URL`: the credentials are not sent.
    ForeignRealm {
        realm: String,
    },
    /// Something registry-gc refuses to do (follow a redirect).
    Refused {
        request: String,
        detail: String,
    },
    Interrupted,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Status {
                request,
                status,
                message,
            } => {
                write!(f, "{request}: {status}")?;
                if !message.is_empty() {
                    write!(f, " {message}")?;
                }
                if *status == 401 || *status == 403 {
                    f.write_str(" (the registry token does not allow pull: the token needs read_registry, read_api or api, and Reporter)")?;
                }
                Ok(())
            }
            RegistryError::Transport { request, detail } => write!(f, "{request}: {detail}"),
            RegistryError::Decode { request, detail } => {
                write!(f, "{request}: not a registry answer ({detail})")
            }
            RegistryError::Unauthorized { request, message } => write!(
                f,
                "{request}: 401 {message} (the registry login was refused: is API_TOKEN valid, with scope read_registry, read_api or api?)"
            ),
            RegistryError::ForeignRealm { realm } => write!(
                f,
                "the registry's token realm {realm} is not on the origin of CI_API_V4_URL; the credentials are not sent there"
            ),
            RegistryError::Refused { request, detail } => write!(f, "{request}: refused: {detail}"),
            RegistryError::Interrupted => f.write_str("interrupted before the request was sent"),
        }
    }
}

impl std::error::Error for RegistryError {}

/// What `GET /v2/` says of the registry (GitLab's registry names itself, upstream-differences.md).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `Gitlab-Container-Registry-Version`, e.g. `4.32.0-gitlab`; `None` for another registry.
    pub version: Option<String>,
    /// `Gitlab-Container-Registry-Database-Enabled`.
    pub database: bool,
}

/// A manifest as the registry served it, or proof that it has none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    Found {
        media_type: String,
        digest: String,
        body: Vec<u8>,
    },
    /// 404 with the registry's own `MANIFEST_UNKNOWN` (or `NAME_UNKNOWN`, no such repository):
    /// the registry has no manifest under that reference for any accept type.
    Missing,
}

struct Realm {
    url: Url,
    service: String,
}

pub struct Registry {
    transport: Transport,
    base: Url,
    realm: Option<Realm>,
    basic: HeaderValue,
    /// Bearer tokens by repository path; several repositories may share one.
    tokens: Mutex<HashMap<String, Arc<HeaderValue>>>,
    pub identity: Identity,
    pub stats: Stats,
}

impl Registry {
    /// Connects: `GET /v2/` for the challenge, the realm for a token with the credentials (no
    /// scope: it proves the login), and `GET /v2/` again with it for the registry's identity.
    pub fn connect(
        base: &Url,
        api_url: &Url,
        login: &RegistryLogin,
        http: reqwest::blocking::Client,
        concurrency: usize,
        interrupt: Interrupt,
    ) -> Result<Registry, RegistryError> {
        let basic = STANDARD.encode(format!("{}:{}", login.user, login.password.expose()));
        let mut basic = HeaderValue::from_str(&format!("Basic {basic}")).map_err(|_| {
            RegistryError::Refused {
                request: "registry login".into(),
                detail: "the credentials hold characters not allowed in an HTTP header".into(),
            }
        })?;
        basic.set_sensitive(true);
        let mut registry = Registry {
            transport: Transport::new(http, concurrency, interrupt),
            base: base.clone(),
            realm: None,
            basic,
            tokens: Mutex::new(HashMap::new()),
            identity: Identity::default(),
            stats: Stats::default(),
        };
        let v2 = registry.url("/v2/");
        let challenge = registry.get(Endpoint::Base, &v2, None, Verdict::Done)?;
        match challenge.status {
            s if s.is_success() => {
                registry.identity = identity(&challenge);
                return Ok(registry);
            }
            StatusCode::UNAUTHORIZED => {}
            status => {
                return Err(RegistryError::Status {
                    request: "GET /v2/".into(),
                    status: status.as_u16(),
                    message: challenge.message(),
                })
            }
        }
        let realm = parse_challenge(&challenge).ok_or_else(|| RegistryError::Decode {
            request: "GET /v2/".into(),
            detail: "401 without a Bearer realm in WWW-Authenticate".into(),
        })?;
        if !same_origin(&realm.url, api_url) {
            return Err(RegistryError::ForeignRealm {
                realm: origin(&realm.url),
            });
        }
        registry.realm = Some(realm);
        let token = registry.fetch_token(&[])?;
        let reply = registry.get(Endpoint::Base, &v2, Some(&token), |reply| {
            Verdict::Done(reply)
        })?;
        if !reply.status.is_success() {
            return Err(RegistryError::Status {
                request: "GET /v2/ (with the realm's token)".into(),
                status: reply.status.as_u16(),
                message: reply.message(),
            });
        }
        registry.identity = identity(&reply);
        Ok(registry)
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let root = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{root}{path}"));
        url
    }

    /// Tokens for every repository of `repositories` not holding one yet, several per realm
    /// request: how many requests the tokens cost is in the summary.
    pub fn authorize(&self, repositories: &[&str]) -> Result<(), RegistryError> {
        if self.realm.is_none() {
            return Ok(());
        }
        let missing: Vec<&str> = {
            let tokens = self.tokens.lock().expect("tokens poisoned");
            repositories
                .iter()
                .copied()
                .filter(|r| !tokens.contains_key(*r))
                .collect()
        };
        for chunk in missing.chunks(SCOPES_PER_TOKEN) {
            let token = Arc::new(self.fetch_token(chunk)?);
            let mut tokens = self.tokens.lock().expect("tokens poisoned");
            for repo in chunk {
                tokens.insert(repo.to_string(), token.clone());
            }
        }
        Ok(())
    }

    /// The realm's token for `repositories` (pull).
    fn fetch_token(&self, repositories: &[&str]) -> Result<HeaderValue, RegistryError> {
        let realm = self.realm.as_ref().expect("a realm to ask");
        let mut url = realm.url.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("service", &realm.service);
            for repo in repositories {
                query.append_pair("scope", &format!("repository:{repo}:pull"));
            }
        }
        let request = format!("GET {} (registry token)", realm.url.path());
        let basic = self.basic.clone();
        let build = |http: &reqwest::blocking::Client| {
            http.get(url.clone()).header(AUTHORIZATION, basic.clone())
        };
        let counter = self.stats.counter(Endpoint::Token);
        let token = self.transport.send(
            &request,
            &counter,
            &build,
            |reply| match reply.status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    Verdict::Fail(RegistryError::Unauthorized {
                        request: request.clone(),
                        message: realm_message(&reply),
                    })
                }
                s if s.is_success() => match token_of(&reply.body) {
                    Some(token) => Verdict::Done(token),
                    None => Verdict::Retry(RegistryError::Decode {
                        request: request.clone(),
                        detail: "no token in the realm's answer".into(),
                    }),
                },
                s => Verdict::Fail(RegistryError::Status {
                    request: request.clone(),
                    status: s.as_u16(),
                    message: reply.message(),
                }),
            },
            |p| problem(&request, p),
        )?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            RegistryError::Decode {
                request: request.clone(),
                detail: "the token holds characters not allowed in an HTTP header".into(),
            }
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn token(&self, repo: &str) -> Result<Option<Arc<HeaderValue>>, RegistryError> {
        if self.realm.is_none() {
            return Ok(None);
        }
        if let Some(t) = self.tokens.lock().expect("tokens poisoned").get(repo) {
            return Ok(Some(t.clone()));
        }
        self.authorize(&[repo])?;
        Ok(self
            .tokens
            .lock()
            .expect("tokens poisoned")
            .get(repo)
            .cloned())
    }

    /// A token expired (GitLab's last 5 minutes): one new token for every repository that
    /// shared `stale`, however many reads found it expired at once. The lock is held while it
    /// is fetched, so the readers that come second take the new one; renewals are rare.
    fn renew(
        &self,
        repo: &str,
        stale: Option<&Arc<HeaderValue>>,
    ) -> Result<Arc<HeaderValue>, RegistryError> {
        let mut tokens = self.tokens.lock().expect("tokens poisoned");
        let current = tokens.get(repo).cloned();
        if let (Some(current), Some(stale)) = (&current, stale) {
            if !Arc::ptr_eq(current, stale) {
                return Ok(current.clone());
            }
        }
        let mut sharing: Vec<String> = match stale {
            Some(stale) => tokens
                .iter()
                .filter(|(_, t)| Arc::ptr_eq(t, stale))
                .map(|(r, _)| r.clone())
                .collect(),
            None => Vec::new(),
        };
        if !sharing.iter().any(|r| r == repo) {
            sharing.push(repo.to_string());
        }
        let scopes: Vec<&str> = sharing.iter().map(String::as_str).collect();
        let token = Arc::new(self.fetch_token(&scopes)?);
        for r in sharing {
            tokens.insert(r, token.clone());
        }
        Ok(token)
    }

    fn get<T>(
        &self,
        endpoint: Endpoint,
        url: &Url,
        token: Option<&HeaderValue>,
        judge: impl Fn(Reply) -> Verdict<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        self.send(endpoint, reqwest::Method::GET, url, token, &[], judge)
    }

    fn send<T>(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        url: &Url,
        token: Option<&HeaderValue>,
        accept: &[&str],
        judge: impl Fn(Reply) -> Verdict<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let request = format!("{method} {}", url.path());
        if !same_origin(url, &self.base) {
            return Err(RegistryError::Refused {
                request,
                detail: format!("{} is not the origin of GC_REGISTRY_URL", origin(url)),
            });
        }
        let accept = accept.join(", ");
        let build = |http: &reqwest::blocking::Client| {
            let mut b = http.request(method.clone(), url.clone());
            if let Some(token) = token {
                b = b.header(AUTHORIZATION, token.clone());
            }
            if !accept.is_empty() {
                b = b.header(ACCEPT, accept.as_str());
            }
            b
        };
        let counter = self.stats.counter(endpoint);
        self.transport
            .send(&request, &counter, &build, judge, |p| problem(&request, p))
    }

    /// Sends a read of `repo`, renewing its token once if the registry says 401.
    fn read<T>(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        repo: &str,
        url: &Url,
        accept: &[&str],
        judge: impl Fn(Reply) -> Verdict<T, RegistryError> + Copy,
    ) -> Result<T, RegistryError> {
        let expired = |reply: &Reply| reply.status == StatusCode::UNAUTHORIZED;
        let token = self.token(repo)?;
        let first = self.send(
            endpoint,
            method.clone(),
            url,
            token.as_deref(),
            accept,
            |reply| {
                if expired(&reply) && self.realm.is_some() {
                    Verdict::Done(None)
                } else {
                    judge(reply).map_done(Some)
                }
            },
        )?;
        if let Some(value) = first {
            return Ok(value);
        }
        let token = self.renew(repo, token.as_ref())?;
        self.send(endpoint, method, url, Some(&token), accept, judge)
    }

    /// `GET /v2/<repo>/manifests/<reference>` accepting every manifest type.
    pub fn manifest(&self, repo: &str, reference: &str) -> Result<Fetched, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let request = format!("GET {}", url.path());
        self.read(
            Endpoint::Manifest,
            reqwest::Method::GET,
            repo,
            &url,
            &MANIFEST_TYPES,
            |reply| judge_manifest(&request, reply, true),
        )
    }

    /// `HEAD /v2/<repo>/manifests/<reference>`: the digest the registry serves for a tag
    /// (`Docker-Content-Digest`), whatever its type; `None` when it has none.
    pub fn digest(&self, repo: &str, reference: &str) -> Result<Option<String>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let request = format!("HEAD {}", url.path());
        let fetched = self.read(
            Endpoint::ManifestHead,
            reqwest::Method::HEAD,
            repo,
            &url,
            &MANIFEST_TYPES,
            |reply| judge_manifest(&request, reply, false),
        )?;
        Ok(match fetched {
            Fetched::Found { digest, .. } => Some(digest),
            Fetched::Missing => None,
        })
    }

    /// `GET /v2/<repo>/blobs/<digest>`: a config blob.
    pub fn blob(&self, repo: &str, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let request = format!("GET {}", url.path());
        self.read(
            Endpoint::Blob,
            reqwest::Method::GET,
            repo,
            &url,
            &[],
            |reply| {
                if reply.status.is_success() {
                    Verdict::Done(reply.body)
                } else {
                    Verdict::Fail(RegistryError::Status {
                        request: request.clone(),
                        status: reply.status.as_u16(),
                        message: registry_message(&reply),
                    })
                }
            },
        )
    }
}

/// How many repositories one realm request asks for (each a `scope` parameter).
const SCOPES_PER_TOKEN: usize = 10;

/// A manifest answer: found (with its digest), missing (the registry's own error code on a
/// 404), or an error. A HEAD has no body: its 404 counts as missing only for a registry that
/// answers HEAD 404s at all (distribution does); anything else is an error.
fn judge_manifest(request: &str, reply: Reply, with_body: bool) -> Verdict<Fetched, RegistryError> {
    let status = reply.status;
    if status == StatusCode::NOT_FOUND {
        let code = error_code(&reply);
        return match code.as_deref() {
            Some("MANIFEST_UNKNOWN" | "NAME_UNKNOWN") => Verdict::Done(Fetched::Missing),
            None if !with_body => Verdict::Done(Fetched::Missing),
            _ => Verdict::Fail(RegistryError::Status {
                request: request.to_string(),
                status: 404,
                message: registry_message(&reply),
            }),
        };
    }
    if !status.is_success() {
        return Verdict::Fail(RegistryError::Status {
            request: request.to_string(),
            status: status.as_u16(),
            message: registry_message(&reply),
        });
    }
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
    };
    let media_type = header("content-type").unwrap_or_default();
    let digest = match header("docker-content-digest") {
        Some(d) => d,
        None if with_body => sha256(&reply.body),
        None => {
            return Verdict::Fail(RegistryError::Decode {
                request: request.to_string(),
                detail: "no Docker-Content-Digest".into(),
            })
        }
    };
    if with_body && serde_json::from_slice::<serde_json::Value>(&reply.body).is_err() {
        return Verdict::Retry(RegistryError::Decode {
            request: request.to_string(),
            detail: "the manifest is not JSON".into(),
        });
    }
    Verdict::Done(Fetched::Found {
        media_type,
        digest,
        body: reply.body,
    })
}

fn sha256(body: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, body);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// distribution's error body: `{"errors": [{"code": …, "message": …}]}`.
fn error_code(reply: &Reply) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
    value["errors"][0]["code"].as_str().map(str::to_string)
}

fn registry_message(reply: &Reply) -> String {
    let value: Option<serde_json::Value> = serde_json::from_slice(&reply.body).ok();
    match value
        .as_ref()
        .and_then(|v| v["errors"][0]["message"].as_str())
    {
        Some(m) => one_line(m),
        None => reply.message(),
    }
}

/// GitLab's realm answers `{"errors": [{"code": "UNAUTHORIZED", "message": …}]}`.
fn realm_message(reply: &Reply) -> String {
    registry_message(reply)
}

fn token_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["token"]
        .as_str()
        .or_else(|| value["access_token"].as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn identity(reply: &Reply) -> Identity {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    Identity {
        version: header("gitlab-container-registry-version"),
        database: header("gitlab-container-registry-database-enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    }
}

/// `Bearer realm="…",service="…"` (RFC 6750 parameters, quoted).
fn parse_challenge(reply: &Reply) -> Option<Realm> {
    let header = reply.headers.get(WWW_AUTHENTICATE)?.to_str().ok()?;
    let (scheme, params) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = String::new();
    let mut rest = params;
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key {
            "realm" => realm = Some(value.to_string()),
            "service" => service = value.to_string(),
            _ => {}
        }
        rest = next;
    }
    Some(Realm {
        url: Url::parse(&realm?).ok()?,
        service,
    })
}

fn problem(request: &str, problem: Problem) -> RegistryError {
    let request = request.to_string();
    match problem {
        Problem::Interrupted => RegistryError::Interrupted,
        Problem::Certificate(detail) => RegistryError::Transport {
            request,
            detail: format!(
                "{detail} (for a private CA, set CI_SERVER_TLS_CA_FILE to its PEM file)"
            ),
        },
        Problem::Transport(detail) => RegistryError::Transport { request, detail },
        Problem::Server { status, message } => RegistryError::Status {
            request,
            status,
            message,
        },
        Problem::Throttled { message } => RegistryError::Status {
            request,
            status: 429,
            message,
        },
        Problem::Redirect { to } => RegistryError::Refused {
            request,
            detail: format!("the registry redirects to {to}; set GC_REGISTRY_URL to the final URL (redirects are not followed so credentials stay on one host)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn challenges_name_the_realm_and_service() {
        let r = reply(
            401,
            &[(
                "www-authenticate",
                r#"Bearer realm="https://gitlab.example.com/jwt/auth",service="container_registry",scope="repository:g/p:pull""#,
            )],
            "",
        );
        let realm = parse_challenge(&r).unwrap();
        assert_eq!(realm.url.as_str(), "https://gitlab.example.com/jwt/auth");
        assert_eq!(realm.service, "container_registry");
        assert!(parse_challenge(&reply(
            401,
            &[("www-authenticate", "Basic realm=\"x\"")],
            ""
        ))
        .is_none());
    }

    #[test]
    fn missing_needs_the_registrys_own_error_code() {
        let unknown = reply(
            404,
            &[],
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        );
        assert!(matches!(
            judge_manifest("GET x", unknown, true),
            Verdict::Done(Fetched::Missing)
        ));
        let proxy = reply(404, &[], "<html>not found</html>");
        assert!(matches!(
            judge_manifest("GET x", proxy, true),
            Verdict::Fail(_)
        ));
        let found = reply(
            200,
            &[
                ("content-type", "application/vnd.oci.image.index.v1+json"),
                ("docker-content-digest", "sha256:ab"),
            ],
            "{}",
        );
        match judge_manifest("GET x", found, true) {
            Verdict::Done(Fetched::Found {
                media_type, digest, ..
            }) => {
                assert_eq!(
                    (media_type.as_str(), digest.as_str()),
                    ("application/vnd.oci.image.index.v1+json", "sha256:ab")
                );
            }
            _ => panic!("found"),
        }
    }

    #[test]
    fn tokens_come_as_token_or_access_token() {
        assert_eq!(token_of(br#"{"token":"a"}"#).as_deref(), Some("a"));
        assert_eq!(token_of(br#"{"access_token":"b"}"#).as_deref(), Some("b"));
        assert_eq!(token_of(br#"{"token":""}"#), None);
    }
}
