//! GitLab's API over HTTP: authentication, pagination, GitLab's errors and request accounting.
//!
//! Every request goes through [`Client::call`], so the safety properties hold everywhere at once:
//! the token is attached only to requests for the configured API origin and never printed;
//! retries, 429 pauses, redirects refused and bounded bodies are [`crate::http`]'s; a body that
//! still does not parse after the retries is an error naming the endpoint, never an empty list.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::stats::{Endpoint, Stats};
use crate::config::{Auth, Config};
pub use crate::http::{one_line, sleep_unless_interrupted, Reply};
use crate::http::{origin, same_origin, Problem, Transport};
use crate::signals::Interrupt;

/// What GitLab's API calls make of an answer.
pub type Verdict<T> = crate::http::Verdict<T, ApiError>;

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
    /// The list changed while it was read (pagination shifted): not a complete answer.
    Changed { request: String, detail: String },
    /// GraphQL answered with an `errors` array (HTTP 200): the query failed as a whole.
    Graphql { request: String, message: String },
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
            ApiError::Changed { request, detail } => {
                write!(
                    f,
                    "{request}: the list changed while it was read ({detail})"
                )
            }
            ApiError::Graphql { request, message } => {
                write!(f, "{request}: GraphQL error: {message}")
            }
            ApiError::Interrupted => f.write_str("interrupted before the request was sent"),
        }
    }
}

impl std::error::Error for ApiError {}

/// Checks that an offset-paginated list did not change while it was read. GitLab paginates a
/// tag list by offset over the current tags, so a tag deleted by someone else between two pages
/// shifts the rest and one tag is never seen; a cache whose counterpart tag was skipped that way
/// would look orphaned. Each page carries `X-Total` (up to 10,000 records): if it varies, or the
/// items read do not add up to it, the listing is not trusted.
#[derive(Default)]
struct Census {
    items: u64,
    totals: Vec<Option<u64>>,
}

impl Census {
    fn page(&mut self, items: usize, headers: &HeaderMap) {
        self.items += items as u64;
        let total = headers
            .get("x-total")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        self.totals.push(total);
    }

    fn check(&self, request: &str) -> Result<(), ApiError> {
        let Some(Some(first)) = self.totals.first() else {
            return Ok(());
        };
        let changed = self.totals.iter().any(|t| t.is_some_and(|t| t != *first));
        if changed || (self.totals.iter().all(Option::is_some) && self.items != *first) {
            let last = self.totals.iter().rev().flatten().next().unwrap_or(first);
            return Err(ApiError::Changed {
                request: request.to_string(),
                detail: format!(
                    "X-Total went from {first} to {last}, {} items read",
                    self.items
                ),
            });
        }
        Ok(())
    }
}

/// GitLab's own limit for `per_page` (doc/api/rest/_index.md).
const PER_PAGE: &str = "100";
/// A guard against a server that never stops paginating.
const MAX_PAGES: usize = 1_000_000;

pub struct Client {
    transport: Transport,
    base: Url,
    auth: (HeaderName, HeaderValue),
    pub stats: Stats,
}

impl Client {
    pub fn new(config: &Config, interrupt: Interrupt) -> Result<Client, String> {
        let http = crate::http::client(config.ca_file.as_deref(), config.concurrency)?;
        let (name, token) = match &config.auth {
            Auth::Private(t) => ("private-token", t),
            Auth::Job(t) => ("job-token", t),
        };
        let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
            "API_TOKEN: contains characters not allowed in an HTTP header".to_string()
        })?;
        value.set_sensitive(true);
        Ok(Client {
            transport: Transport::new(http, config.concurrency, interrupt),
            base: config.api_url.clone(),
            auth: (HeaderName::from_static(name), value),
            stats: Stats::default(),
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
        self.call_named(
            &Self::describe(&method, url),
            endpoint,
            method,
            url,
            body,
            judge,
        )
    }

    /// [`Client::call`] with the name errors give the request, for endpoints whose path alone
    /// does not say what was asked (GraphQL: one path, many operations).
    pub fn call_named<T>(
        &self,
        request: &str,
        endpoint: Endpoint,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        judge: impl Fn(Reply) -> Verdict<T>,
    ) -> Result<T, ApiError> {
        let request = request.to_string();
        if !same_origin(url, &self.base) {
            return Err(ApiError::Refused {
                request,
                detail: format!("{} is not the origin of CI_API_V4_URL", origin(url)),
            });
        }
        let counter = self.stats.counter(endpoint);
        let build = |http: &reqwest::blocking::Client| {
            let builder = http
                .request(method.clone(), url.clone())
                .header(self.auth.0.clone(), self.auth.1.clone());
            match body {
                Some(body) => builder.json(body),
                None => builder,
            }
        };
        self.transport
            .send(&request, &counter, &build, judge, |problem| {
                api_problem(&request, problem)
            })
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
    /// `X-Next-Page`; stops when neither names a next page. When the first page announces how
    /// many pages there are (`X-Total-Pages`, which GitLab omits beyond 10,000 records), the
    /// others are fetched concurrently, the same requests in less time; they are still handed
    /// to `each` in order.
    pub fn get_pages<T: DeserializeOwned + Send + Sync>(
        &self,
        endpoint: Endpoint,
        first: Url,
        mut each: impl FnMut(Vec<T>),
    ) -> Result<(), ApiError> {
        let mut url = first;
        set_query(&mut url, "per_page", PER_PAGE);
        let request = Self::describe(&Method::GET, &url);
        let mut census = Census::default();
        let mut pages = 0;
        while pages < MAX_PAGES {
            let (items, headers) = self.get_page::<T>(endpoint, &url)?;
            pages += 1;
            let empty = items.is_empty();
            census.page(items.len(), &headers);
            each(items);
            let Some(next) = self.next_url(&url, &headers, empty)? else {
                return census.check(&request);
            };
            url = next;
            let Some(last) = (pages == 1)
                .then(|| known_last_page(&url, &headers))
                .flatten()
                .filter(|&last| last > 2 && last <= MAX_PAGES as u64)
            else {
                continue;
            };
            // `url` is page 2; pages 2..=last together, then on from the last one's answer.
            let fetched = self.fetch_pages::<T>(endpoint, &url, last);
            for (page_url, page) in fetched {
                let (items, headers) = page?;
                pages += 1;
                let empty = items.is_empty();
                census.page(items.len(), &headers);
                each(items);
                match self.next_url(&page_url, &headers, empty)? {
                    None => return census.check(&request),
                    Some(next) => url = next,
                }
            }
        }
        Err(ApiError::Refused {
            request: Self::describe(&Method::GET, &url),
            detail: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// One page of a list, with its headers.
    fn get_page<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        url: &Url,
    ) -> Result<(Vec<T>, HeaderMap), ApiError> {
        let request = Self::describe(&Method::GET, url);
        self.call(endpoint, Method::GET, url, None, |reply| {
            json_verdict::<Vec<T>>(&request, reply)
        })
    }

    /// The page after `url`, if its answer names one that may be followed.
    fn next_url(
        &self,
        url: &Url,
        headers: &HeaderMap,
        empty: bool,
    ) -> Result<Option<Url>, ApiError> {
        let request = || Self::describe(&Method::GET, url);
        match next_page(url, headers) {
            Ok(Some(next)) if !empty => {
                if &next == url {
                    return Err(ApiError::Refused {
                        request: request(),
                        detail: "the next page link points at the same page".into(),
                    });
                }
                if !same_origin(&next, &self.base) {
                    return Err(ApiError::Refused {
                        request: request(),
                        detail: format!("the next page is on {}, not on the origin of CI_API_V4_URL; the token is not sent there", origin(&next)),
                    });
                }
                Ok(Some(next))
            }
            Ok(_) => Ok(None),
            Err(detail) => Err(ApiError::Decode {
                request: request(),
                detail,
            }),
        }
    }

    /// Pages `second`..=`last` (`second` is the URL of page 2) on up to `GC_CONCURRENCY`
    /// threads, in page order. After a failure no further page is started; the answers end at
    /// the first failure.
    #[allow(clippy::type_complexity)]
    fn fetch_pages<T: DeserializeOwned + Send + Sync>(
        &self,
        endpoint: Endpoint,
        second: &Url,
        last: u64,
    ) -> Vec<(Url, Result<(Vec<T>, HeaderMap), ApiError>)> {
        let urls: Vec<Url> = (2..=last)
            .map(|page| {
                let mut url = second.clone();
                set_query(&mut url, "page", &page.to_string());
                url
            })
            .collect();
        let slots: Vec<OnceLock<Result<(Vec<T>, HeaderMap), ApiError>>> =
            urls.iter().map(|_| OnceLock::new()).collect();
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= urls.len() || failed.load(Ordering::Relaxed) {
                break;
            }
            let page = self.get_page::<T>(endpoint, &urls[i]);
            if page.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            let _ = slots[i].set(page);
        };
        std::thread::scope(|scope| {
            for _ in 1..self.transport.concurrency().min(urls.len()) {
                scope.spawn(work);
            }
            work();
        });
        let mut out = Vec::with_capacity(urls.len());
        for (url, slot) in urls.into_iter().zip(slots) {
            let Some(page) = slot.into_inner() else { break };
            let failed = page.is_err();
            out.push((url, page));
            if failed {
                break;
            }
        }
        out
    }
}

/// The number of the last page, when the answer to page 1 states it and names page 2 next
/// (offset pagination, so any page can be asked for by number).
fn known_last_page(second: &Url, headers: &HeaderMap) -> Option<u64> {
    let page_two = second.query_pairs().any(|(k, v)| k == "page" && v == "2");
    if !page_two {
        return None;
    }
    headers
        .get("x-total-pages")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What went wrong below the judgement, in GitLab's terms.
fn api_problem(request: &str, problem: Problem) -> ApiError {
    let request = request.to_string();
    match problem {
        Problem::Interrupted => ApiError::Interrupted,
        // A certificate the client does not trust stays untrusted: say how to fix it.
        Problem::Certificate(detail) => ApiError::Transport {
            request,
            detail: format!(
                "{detail} (for a private CA, set CI_SERVER_TLS_CA_FILE to its PEM file)"
            ),
        },
        Problem::Transport(detail) => ApiError::Transport { request, detail },
        Problem::Server { status, message } => ApiError::Status {
            request,
            status,
            message,
        },
        Problem::Throttled { message } => ApiError::Status {
            request,
            status: 429,
            message,
        },
        Problem::Redirect { to } => ApiError::Refused {
            request,
            detail: format!("GitLab redirects to {to}; set CI_API_V4_URL to the final API URL (redirects are not followed so the token stays on one host)"),
        },
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
    fn pages_are_fetched_together_only_when_their_number_is_known() {
        let page_two = Url::parse("https://g.example/api/v4/x?id=1&page=2&per_page=100").unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(
            known_last_page(&page_two, &headers),
            None,
            "no X-Total-Pages"
        );
        headers.insert("x-total-pages", HeaderValue::from_static("7"));
        assert_eq!(known_last_page(&page_two, &headers), Some(7));
        let keyset = Url::parse("https://g.example/api/v4/x?cursor=abc").unwrap();
        assert_eq!(
            known_last_page(&keyset, &headers),
            None,
            "not offset pagination"
        );
        headers.insert("x-total-pages", HeaderValue::from_static("many"));
        assert_eq!(known_last_page(&page_two, &headers), None);
    }

    #[test]
    fn a_list_that_changed_while_read_is_not_trusted() {
        let page = |total: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(t) = total {
                h.insert("x-total", HeaderValue::from_str(t).unwrap());
            }
            h
        };
        let census = |pages: &[(usize, Option<&str>)]| {
            let mut c = Census::default();
            for (items, total) in pages {
                c.page(*items, &page(*total));
            }
            c.check("GET /x")
        };
        assert!(census(&[(100, Some("150")), (50, Some("150"))]).is_ok());
        assert!(
            census(&[(100, None), (100, None)]).is_ok(),
            "GitLab omits X-Total past 10,000"
        );
        // A tag deleted between the pages: the total drops and one tag was skipped.
        assert!(matches!(
            census(&[(100, Some("150")), (48, Some("149"))]),
            Err(ApiError::Changed { .. })
        ));
        // Same total, but the items do not add up to it.
        assert!(matches!(
            census(&[(100, Some("150")), (49, Some("150"))]),
            Err(ApiError::Changed { .. })
        ));
    }
}
