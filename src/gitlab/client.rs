//! The HTTP layer: authentication, retries, rate limits, pagination and request accounting.
//!
//! Every request goes through [`Client::call`], so the safety properties hold everywhere at once:
//! the token is attached only to requests for the configured API origin and never printed;
//! redirects are refused rather than followed (a redirect would carry the token elsewhere);
//! transient failures (connection errors, timeouts, 5xx, truncated or non-JSON bodies) are retried
//! a bounded number of times with jittered exponential backoff; 429s pause every worker until
//! GitLab's `Retry-After` (or `RateLimit-Reset`); and a body that still does not parse is an error
//! naming the endpoint, never an empty list.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::ratelimit::RateLimiter;
use super::stats::{Endpoint, Stats};
use crate::config::{Auth, Config};
use crate::signals::Interrupt;

/// A failed API operation, with enough context to be shown as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// GitLab answered with a status the caller does not handle.
    Status {
        request: String,
        status: u16,
        message: String,
    },
    /// No usable answer after the retries: connection, timeout, 5xx, truncated body.
    Transport { request: String, detail: String },
    /// A 2xx answer whose body is not the JSON GitLab documents.
    Decode { request: String, detail: String },
    /// Something registry-gc refuses to do, e.g. follow a redirect or a link to another host.
    Refused { request: String, detail: String },
    /// The run was interrupted before this request was sent.
    Interrupted,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Status {
                request,
                status,
                message,
            } => {
                write!(f, "{request}: {status}")?;
                if !message.is_empty() {
                    write!(f, " {message}")?;
                }
                match status {
                    401 => f.write_str(" (the token was rejected: is API_TOKEN valid and not expired?)"),
                    403 => f.write_str(
                        " (the token lacks permission: it needs scope api (read_api for dry-run), Developer to delete tags, Maintainer for group/all scope and the cleanup policy)",
                    ),
                    404 => f.write_str(" (not found, or not visible to this token)"),
                    429 => f.write_str(" (rate limited by GitLab; lower GC_CONCURRENCY or run later)"),
                    _ => Ok(()),
                }
            }
            ApiError::Transport { request, detail } => write!(f, "{request}: {detail}"),
            ApiError::Decode { request, detail } => write!(
                f,
                "{request}: response is not the JSON GitLab documents ({detail})"
            ),
            ApiError::Refused { request, detail } => write!(f, "{request}: refused: {detail}"),
            ApiError::Interrupted => f.write_str("interrupted before the request was sent"),
        }
    }
}

impl std::error::Error for ApiError {}

/// A response read to the end; bodies are small (≤ 100 items a page).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// GitLab's error message: `{"message": …}` or `{"error": …}`, else the start of the body.
    pub fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            for key in ["message", "error"] {
                match value.get(key) {
                    Some(serde_json::Value::String(s)) => return s.clone(),
                    Some(other) if !other.is_null() => return other.to_string(),
                    _ => {}
                }
            }
        }
        let line = text.lines().next().unwrap_or("").trim();
        line.chars().take(200).collect()
    }
}

/// What the caller makes of a response: done, or worth another attempt.
pub enum Verdict<T> {
    Done(T),
    Retry(ApiError),
    Fail(ApiError),
}

const MAX_ATTEMPTS: u32 = 5;
const MAX_THROTTLED: u32 = 20;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// GitLab's own limit for `per_page` (doc/api/rest/_index.md).
const PER_PAGE: &str = "100";
/// A guard against a server that never stops paginating.
const MAX_PAGES: usize = 1_000_000;

pub struct Client {
    http: reqwest::blocking::Client,
    base: Url,
    auth: (HeaderName, HeaderValue),
    pub stats: Stats,
    limiter: RateLimiter,
    interrupt: Interrupt,
}

impl Client {
    pub fn new(config: &Config, interrupt: Interrupt) -> Result<Client, String> {
        let mut builder = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("registry-gc/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(config.concurrency);
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                format!("CI_SERVER_TLS_CA_FILE: cannot read {}: {e}", path.display())
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                format!(
                    "CI_SERVER_TLS_CA_FILE: {} is not a PEM certificate bundle: {e}",
                    path.display()
                )
            })?;
            if certs.is_empty() {
                return Err(format!(
                    "CI_SERVER_TLS_CA_FILE: {} holds no PEM certificate",
                    path.display()
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        let (name, token) = match &config.auth {
            Auth::Private(t) => ("private-token", t),
            Auth::Job(t) => ("job-token", t),
        };
        let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
            "API_TOKEN: contains characters not allowed in an HTTP header".to_string()
        })?;
        value.set_sensitive(true);
        Ok(Client {
            http,
            base: config.api_url.clone(),
            auth: (HeaderName::from_static(name), value),
            stats: Stats::default(),
            limiter: RateLimiter::new(config.concurrency),
            interrupt,
        })
    }

    /// `base` + path segments, each percent-encoded (a group path `a/b` becomes `a%2Fb`).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have paths")
            .extend(segments);
        url
    }

    /// How a request is named in errors: method and path, never the token or the host.
    fn describe(method: &Method, url: &Url) -> String {
        format!("{method} {}", url.path())
    }

    /// Sends one request with retries; `judge` turns a response into a verdict.
    pub fn call<T>(
        &self,
        endpoint: Endpoint,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        judge: impl Fn(Reply) -> Verdict<T>,
    ) -> Result<T, ApiError> {
        let request = Self::describe(&method, url);
        if !same_origin(url, &self.base) {
            return Err(ApiError::Refused {
                request,
                detail: format!("{} is not the origin of CI_API_V4_URL", origin(url)),
            });
        }
        let mut attempt = 0;
        let mut throttled = 0;
        loop {
            if self.interrupt.is_raised() {
                return Err(ApiError::Interrupted);
            }
            self.limiter.before_request(&self.interrupt);
            self.stats.count(endpoint);
            let mut builder = self
                .http
                .request(method.clone(), url.clone())
                .header(self.auth.0.clone(), self.auth.1.clone());
            if let Some(body) = body {
                builder = builder.json(body);
            }
            let failure = match builder.send().and_then(read_reply) {
                Err(e) => ApiError::Transport {
                    request: request.clone(),
                    detail: chain(&e),
                },
                Ok(reply) => {
                    self.limiter.observe(&reply.headers);
                    let status = reply.status;
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        self.stats.count_throttled();
                        throttled += 1;
                        if throttled > MAX_THROTTLED {
                            return Err(ApiError::Status {
                                request,
                                status: 429,
                                message: reply.message(),
                            });
                        }
                        let wait = retry_after(&reply.headers)
                            .unwrap_or_else(|| backoff(throttled).max(Duration::from_secs(1)));
                        log::warn!(
                            "{request}: 429 Too Many Requests, pausing all requests for {:.1}s",
                            wait.as_secs_f64()
                        );
                        self.limiter.pause(wait);
                        continue;
                    }
                    if status.is_redirection() {
                        let to = reply
                            .headers
                            .get("location")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("?");
                        return Err(ApiError::Refused {
                            request,
                            detail: format!("GitLab redirects to {to}; set CI_API_V4_URL to the final API URL (redirects are not followed so the token stays on one host)"),
                        });
                    }
                    if status.is_server_error() {
                        ApiError::Status {
                            request: request.clone(),
                            status: status.as_u16(),
                            message: reply.message(),
                        }
                    } else {
                        match judge(reply) {
                            Verdict::Done(value) => return Ok(value),
                            Verdict::Fail(e) => return Err(e),
                            Verdict::Retry(e) => e,
                        }
                    }
                }
            };
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                return Err(failure);
            }
            self.stats.count_retry();
            let wait = backoff(attempt);
            log::debug!(
                "{failure}; retrying in {:.2}s (attempt {}/{MAX_ATTEMPTS})",
                wait.as_secs_f64(),
                attempt + 1
            );
            sleep_unless_interrupted(wait, &self.interrupt);
        }
    }

    /// GET returning typed JSON; any non-2xx is an error.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        url: &Url,
    ) -> Result<T, ApiError> {
        self.call(endpoint, Method::GET, url, None, |reply| {
            json_verdict(&Self::describe(&Method::GET, url), reply).map_done(|(v, _)| v)
        })
    }

    /// Lists every page of an offset-paginated collection, calling `each` per page in order.
    ///
    /// Follows `Link: rel="next"` when present (it must stay on the API origin), else
    /// `X-Next-Page`; stops when neither names a next page.
    pub fn get_pages<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        first: Url,
        mut each: impl FnMut(Vec<T>),
    ) -> Result<(), ApiError> {
        let mut url = first;
        set_query(&mut url, "per_page", PER_PAGE);
        for _ in 0..MAX_PAGES {
            let request = Self::describe(&Method::GET, &url);
            let (items, headers) = self.call(endpoint, Method::GET, &url, None, |reply| {
                json_verdict::<Vec<T>>(&request, reply)
            })?;
            let empty = items.is_empty();
            each(items);
            match next_page(&url, &headers) {
                Ok(Some(next)) if !empty => {
                    if next == url {
                        return Err(ApiError::Refused {
                            request,
                            detail: "the next page link points at the same page".into(),
                        });
                    }
                    if !same_origin(&next, &self.base) {
                        return Err(ApiError::Refused {
                            request,
                            detail: format!("the next page is on {}, not on the origin of CI_API_V4_URL; the token is not sent there", origin(&next)),
                        });
                    }
                    url = next;
                }
                Ok(_) => return Ok(()),
                Err(detail) => return Err(ApiError::Decode { request, detail }),
            }
        }
        Err(ApiError::Refused {
            request: Self::describe(&Method::GET, &url),
            detail: format!("more than {MAX_PAGES} pages"),
        })
    }
}

impl<T> Verdict<T> {
    fn map_done<U>(self, f: impl FnOnce(T) -> U) -> Verdict<U> {
        match self {
            Verdict::Done(v) => Verdict::Done(f(v)),
            Verdict::Retry(e) => Verdict::Retry(e),
            Verdict::Fail(e) => Verdict::Fail(e),
        }
    }
}

/// 2xx with a JSON body of type `T`; a body that does not parse is retried (it may be a
/// truncated answer from a proxy) and is an error once the retries are spent.
pub fn json_verdict<T: DeserializeOwned>(request: &str, reply: Reply) -> Verdict<(T, HeaderMap)> {
    if !reply.status.is_success() {
        return Verdict::Fail(ApiError::Status {
            request: request.to_string(),
            status: reply.status.as_u16(),
            message: reply.message(),
        });
    }
    match serde_json::from_slice::<T>(&reply.body) {
        Ok(value) => Verdict::Done((value, reply.headers)),
        Err(e) => {
            let kind = if reply.body.first().is_some_and(|b| *b == b'<') {
                "HTML instead of JSON".to_string()
            } else {
                e.to_string()
            };
            Verdict::Retry(ApiError::Decode {
                request: request.to_string(),
                detail: kind,
            })
        }
    }
}

fn read_reply(response: Response) -> reqwest::Result<Reply> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes()?.to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// The error and its causes on one line: reqwest's top-level message alone says too little.
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

fn origin(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""))
        + &url.port().map(|p| format!(":{p}")).unwrap_or_default()
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn set_query(url: &mut Url, key: &str, value: &str) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut query = url.query_pairs_mut();
    query.clear();
    for (k, v) in &pairs {
        query.append_pair(k, v);
    }
    query.append_pair(key, value);
}

/// The next page, from `Link` (preferred: keyset pagination only has that) or `X-Next-Page`.
pub fn next_page(current: &Url, headers: &HeaderMap) -> Result<Option<Url>, String> {
    if let Some(link) = headers.get("link") {
        let link = link
            .to_str()
            .map_err(|_| "Link header is not ASCII".to_string())?;
        if let Some(next) = parse_link_next(link) {
            return current
                .join(next)
                .map(Some)
                .map_err(|e| format!("Link rel=next `{next}` is not a URL: {e}"));
        }
        // A Link header without rel=next is GitLab's way of saying this is the last page.
        return Ok(None);
    }
    match headers
        .get("x-next-page")
        .map(|v| v.to_str().unwrap_or("").trim())
    {
        None | Some("") => Ok(None),
        Some(page) => {
            let n: u64 = page
                .parse()
                .map_err(|_| format!("X-Next-Page `{page}` is not a page number"))?;
            let mut next = current.clone();
            set_query(&mut next, "page", &n.to_string());
            Ok(Some(next))
        }
    }
}

/// Finds the target of `rel="next"` in an RFC 8288 `Link` header.
pub fn parse_link_next(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.strip_prefix("rel=").is_some_and(|v| {
                v.trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target);
        }
        rest = after;
    }
    None
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(secs) = value("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs.clamp(1, 300)));
    }
    let reset = value("ratelimit-reset").and_then(|v| v.parse::<u64>().ok())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(Duration::from_secs_f64(
        (reset as f64 - now).clamp(1.0, 300.0),
    ))
}

/// Exponential backoff with "equal jitter": half fixed, half random, so retries spread out.
fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_CAP);
    let half = exp / 2;
    half + half.mul_f64(jitter())
}

/// A cheap random number in [0, 1): retry timing needs spread, not cryptography.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

pub fn sleep_unless_interrupted(total: Duration, interrupt: &Interrupt) {
    let end = Instant::now() + total;
    while !interrupt.is_raised() {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_is_found_among_others() {
        let h = r#"<https://g.example/api/v4/projects?page=1&per_page=100>; rel="prev", <https://g.example/api/v4/projects?page=3&per_page=100>; rel="next", <https://g.example/api/v4/projects?page=9>; rel="last""#;
        assert_eq!(
            parse_link_next(h),
            Some("https://g.example/api/v4/projects?page=3&per_page=100")
        );
        assert_eq!(
            parse_link_next(r#"<https://g.example/x?page=1>; rel="first""#),
            None
        );
        assert_eq!(
            parse_link_next(r#"<https://g.example/x?a=1,2>; rel=next"#),
            Some("https://g.example/x?a=1,2")
        );
        assert_eq!(parse_link_next(""), None);
        assert_eq!(parse_link_next("<unterminated; rel=next"), None);
    }

    #[test]
    fn x_next_page_keeps_other_parameters() {
        let url = Url::parse(
            "https://g.example/api/v4/projects/1/registry/repositories?per_page=100&page=1",
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-next-page", HeaderValue::from_static("2"));
        let next = next_page(&url, &headers).unwrap().unwrap();
        assert_eq!(
            next.as_str(),
            "https://g.example/api/v4/projects/1/registry/repositories?per_page=100&page=2"
        );
        headers.insert("x-next-page", HeaderValue::from_static(""));
        assert_eq!(next_page(&url, &headers).unwrap(), None);
        headers.insert("x-next-page", HeaderValue::from_static("two"));
        assert!(next_page(&url, &headers).is_err());
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("https://g.example/api/v4").unwrap();
        assert!(same_origin(
            &Url::parse("https://g.example:443/x").unwrap(),
            &a
        ));
        assert!(!same_origin(&Url::parse("http://g.example/x").unwrap(), &a));
        assert!(!same_origin(
            &Url::parse("https://evil.example/x").unwrap(),
            &a
        ));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(1) >= Duration::from_millis(250) && backoff(1) <= Duration::from_millis(500)
        );
        assert!(backoff(30) <= BACKOFF_CAP);
    }
}
