//! Fault injection: latency, rate limiting, error statuses and broken
//! transports, probabilistic (seeded) or scripted per endpoint.
//!
//! Everything a real GitLab, its load balancer or the network can do to a
//! client that a unit test cannot: a client's retry and resume logic is only
//! trustworthy once it has met them. Draws come from one seeded generator in
//! request order, so a single-client run is reproducible.
//!
//! Rate limiting follows Rack::Attack as GitLab configures it
//! (lib/gitlab/rack_attack.rb `throttled_response_headers` and
//! lib/gitlab/rack_attack/request_throttle_data.rb): fixed windows aligned on
//! multiples of the period, `RateLimit-Limit` scaled to a per-minute quota,
//! `Retry-After` = period - (now % period), and the plain-text body
//! `Retry later` (doc/administration/settings/user_and_ip_rate_limits.md,
//! "Use a custom rate limit response"; Rack::Attack appends a newline).

use crate::clock;
use crate::http::{Delivery, Request, Response};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What to do to a request, chosen by a scripted rule or a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// `{"message":"500 Internal Server Error"}`, as GitLab's API answers an
    /// unhandled exception (lib/api/helpers.rb `handle_api_exception`).
    #[serde(rename = "500")]
    InternalServerError,
    /// An HTML 502 page, as from the proxy in front of Puma.
    #[serde(rename = "502")]
    BadGateway,
    /// An HTML 503 page, as from a load balancer during maintenance.
    #[serde(rename = "503")]
    ServiceUnavailable,
    /// 429 `Retry later` with `Retry-After: 1`.
    #[serde(rename = "429")]
    TooManyRequests,
    /// 429 without `Retry-After` but with `RateLimit-Reset` (gitlab#365728
    /// reports 429s without the headers on GitLab.com).
    #[serde(rename = "429-no-retry-after")]
    TooManyRequestsNoRetryAfter,
    /// Honest Content-Length, body cut in half. The answer is GitLab's own,
    /// mangled on the way, so the request was applied.
    #[serde(rename = "truncate")]
    Truncate,
    /// Content-Length of the whole body, half sent, connection closed. As
    /// with `truncate`, the request was applied.
    #[serde(rename = "short_read")]
    ShortRead,
    /// 200 with an HTML page (`text/html`).
    #[serde(rename = "non_json")]
    NonJson,
    /// Connection closed without a response; the request is not applied.
    #[serde(rename = "drop")]
    Drop,
    /// The request is applied, then the connection closed without a response.
    #[serde(rename = "drop_after")]
    DropAfter,
    /// The response body is sent slowly over `slow_body_ms`.
    #[serde(rename = "slow")]
    Slow,
    /// `404 {"message":"404 Not found"}`: what GitLab answers for a
    /// repository deleted since it was listed (lib/api/api.rb rescues
    /// ActiveRecord::RecordNotFound with that body; the registry routes look
    /// the repository up with `container_repositories.find`).
    #[serde(rename = "404")]
    NotFound,
    /// `301 Moved Permanently` to the same path and query on
    /// `foreign_origin`, as Omnibus' NGINX answers for a moved instance or
    /// `redirect_http_to_https` (doc/settings/nginx.md in omnibus-gitlab).
    /// The request is not applied.
    #[serde(rename = "redirect")]
    Redirect,
    /// The real answer, with every `Link` target moved to `foreign_origin`:
    /// GitLab builds pagination links from the request URL
    /// (lib/gitlab/pagination/offset_header_builder.rb), so behind a proxy
    /// that rewrites `Host` they name another host (python-gitlab#1254).
    #[serde(rename = "foreign_next")]
    ForeignNext,
    /// The real answer, its JSON padded with whitespace to
    /// `huge_body_bytes` (default 32 MiB): still valid JSON, just huge.
    #[serde(rename = "huge")]
    Huge,
    /// On a tag list: a tag that sorts first (`0-pushed-N`, created now) is
    /// pushed just before the answer is built. GitLab pages an array it
    /// reads from the registry on every request (`Kaminari.paginate_array`
    /// in lib/api/project_container_repositories.rb), so on a later page
    /// this shifts every name by one: the previous page's last tag is listed
    /// again. Elsewhere it changes nothing.
    #[serde(rename = "concurrent_push")]
    ConcurrentPush,
    /// On GraphQL: HTTP 200 `{"data":null,"errors":[...]}` with
    /// graphql-ruby's complexity-limit message, as GitLab answers a query
    /// over GitlabSchema's max_complexity. Elsewhere nothing.
    #[serde(rename = "graphql_error")]
    GraphqlError,
    /// On GraphQL: HTTP 200 with every root field (`containerRepository`,
    /// the mutation) null and an `Internal server error` entry each: an
    /// exception inside a resolver. Not applied. Elsewhere nothing.
    #[serde(rename = "graphql_partial")]
    GraphqlPartial,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InternalServerError => "500",
            FaultKind::BadGateway => "502",
            FaultKind::ServiceUnavailable => "503",
            FaultKind::TooManyRequests => "429",
            FaultKind::TooManyRequestsNoRetryAfter => "429-no-retry-after",
            FaultKind::Truncate => "truncate",
            FaultKind::ShortRead => "short_read",
            FaultKind::NonJson => "non_json",
            FaultKind::Drop => "drop",
            FaultKind::DropAfter => "drop_after",
            FaultKind::Slow => "slow",
            FaultKind::NotFound => "404",
            FaultKind::Redirect => "redirect",
            FaultKind::ForeignNext => "foreign_next",
            FaultKind::Huge => "huge",
            FaultKind::ConcurrentPush => "concurrent_push",
            FaultKind::GraphqlError => "graphql_error",
            FaultKind::GraphqlPartial => "graphql_partial",
        }
    }

    /// Whether the request still reaches the application (and so may change
    /// state). Every fault that mangles GitLab's own answer does: a status
    /// line that says 200 was written by GitLab after the work was done, so
    /// a response that says "deleted" must mean deleted, however much of its
    /// body arrives (`truncate`, `short_read`, `slow`); `drop_after` loses
    /// the answer of an applied request. Faults that replace the answer
    /// (5xx, 429, `non_json`, `drop`, `404`, `redirect`: a proxy or the
    /// network answering instead of GitLab) apply nothing.
    pub(crate) fn applies(self) -> bool {
        matches!(
            self,
            FaultKind::DropAfter
                | FaultKind::Truncate
                | FaultKind::ShortRead
                | FaultKind::Slow
                | FaultKind::ForeignNext
                | FaultKind::Huge
                | FaultKind::ConcurrentPush
        )
    }
}

/// Fault configuration, the JSON of `PUT /__fake/faults`. Every field is
/// optional; the default injects nothing.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub seed: u64,
    /// Added to every /api/v4 response.
    pub latency_ms: u64,
    /// Plus a uniform random 0..=jitter.
    pub latency_jitter_ms: u64,
    /// Probability of a 500, 502 or 503 (one of the three at random).
    pub error_rate: f64,
    pub truncate_rate: f64,
    pub short_read_rate: f64,
    pub non_json_rate: f64,
    pub drop_rate: f64,
    pub drop_after_rate: f64,
    pub slow_body_rate: f64,
    pub slow_body_ms: u64,
    /// Drawn for GraphQL requests only, like the rates above.
    pub graphql_error_rate: f64,
    pub graphql_partial_rate: f64,
    pub rate_limit: Option<RateLimit>,
    pub scripted: Vec<ScriptedFault>,
    /// `scheme://host:port` that `redirect` and `foreign_next` point at.
    pub foreign_origin: Option<String>,
    /// Body size of a `huge` answer; 0 means 32 MiB.
    pub huge_body_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u64,
    #[serde(default = "default_period")]
    pub period_secs: u64,
    /// Send `Retry-After` on throttled responses.
    #[serde(default = "default_true")]
    pub retry_after: bool,
}

/// Fires `fault` on the requests matching `method` and `endpoint` (`*`
/// matches anything), after letting `skip` of them through, `times` times.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedFault {
    #[serde(default = "default_any")]
    pub method: String,
    /// An endpoint template without the `/api/v4` prefix, e.g.
    /// `/projects/:id/registry/repositories/:repository_id/tags`; for
    /// GraphQL `/api/graphql` (every operation) or
    /// `/api/graphql (operationName)` (one).
    pub endpoint: String,
    pub fault: FaultKind,
    #[serde(default = "default_one")]
    pub times: u64,
    #[serde(default)]
    pub skip: u64,
}

fn default_period() -> u64 {
    60
}
fn default_true() -> bool {
    true
}
fn default_any() -> String {
    "*".to_string()
}
fn default_one() -> u64 {
    1
}

impl Faults {
    /// Rejects configurations that cannot mean what they say.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("error_rate", self.error_rate),
            ("truncate_rate", self.truncate_rate),
            ("short_read_rate", self.short_read_rate),
            ("non_json_rate", self.non_json_rate),
            ("drop_rate", self.drop_rate),
            ("drop_after_rate", self.drop_after_rate),
            ("slow_body_rate", self.slow_body_rate),
            ("graphql_error_rate", self.graphql_error_rate),
            ("graphql_partial_rate", self.graphql_partial_rate),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        let sum: f64 = rates.iter().map(|(_, r)| r).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!("the rates add up to {sum}, more than 1"));
        }
        if let Some(rl) = &self.rate_limit {
            if rl.period_secs == 0 {
                return Err("rate_limit.period_secs must be at least 1".into());
            }
        }
        let needs_origin = self
            .scripted
            .iter()
            .any(|s| matches!(s.fault, FaultKind::Redirect | FaultKind::ForeignNext));
        match &self.foreign_origin {
            None if needs_origin => {
                return Err("redirect and foreign_next need foreign_origin".into())
            }
            Some(o) if !(o.starts_with("http://") || o.starts_with("https://")) => {
                return Err("foreign_origin must look like http://host:port".into())
            }
            _ => {}
        }
        if self.huge_body_bytes > 1 << 30 {
            return Err("huge_body_bytes must be at most 1 GiB".into());
        }
        Ok(())
    }
}

/// SplitMix64: tiny, seedable, good enough to pick faults.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The decision for one request.
pub(crate) struct Plan {
    pub latency: Duration,
    /// Set when the rate limit refused the request.
    pub throttled: Option<Response>,
    pub fault: Option<FaultKind>,
    /// `RateLimit-*` headers for every response while a limit is set.
    pub rate_headers: Vec<(String, String)>,
}

pub(crate) struct FaultState {
    cfg: Faults,
    rng: u64,
    seen: Vec<u64>,
    window: u64,
    window_count: u64,
}

impl FaultState {
    pub(crate) fn new(cfg: Faults) -> FaultState {
        FaultState {
            rng: cfg.seed,
            seen: vec![0; cfg.scripted.len()],
            window: u64::MAX,
            window_count: 0,
            cfg,
        }
    }

    pub(crate) fn config(&self) -> &Faults {
        &self.cfg
    }

    pub(crate) fn huge_body_bytes(&self) -> usize {
        match self.cfg.huge_body_bytes {
            0 => 32 << 20,
            n => n as usize,
        }
    }

    fn uniform(&mut self) -> f64 {
        (splitmix64(&mut self.rng) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn plan(&mut self, method: &str, template: &str, now_ms: i64) -> Plan {
        let mut latency = self.cfg.latency_ms;
        if self.cfg.latency_jitter_ms > 0 {
            latency += splitmix64(&mut self.rng) % (self.cfg.latency_jitter_ms + 1);
        }
        let mut plan = Plan {
            latency: Duration::from_millis(latency),
            throttled: None,
            fault: None,
            rate_headers: Vec::new(),
        };

        if let Some(rl) = self.cfg.rate_limit.clone() {
            let now_s = (now_ms / 1000).max(0) as u64;
            let period = rl.period_secs.max(1);
            let window = now_s / period;
            if window != self.window {
                self.window = window;
                self.window_count = 0;
            }
            self.window_count += 1;
            let observed = self.window_count;
            let reset = (window + 1) * period;
            let per_minute = (rl.limit as f64 * 60.0 / period as f64).ceil() as u64;
            plan.rate_headers = vec![
                ("RateLimit-Name".into(), "throttle_authenticated_api".into()),
                ("RateLimit-Limit".into(), per_minute.to_string()),
                ("RateLimit-Observed".into(), observed.to_string()),
                (
                    "RateLimit-Remaining".into(),
                    rl.limit.saturating_sub(observed).to_string(),
                ),
                ("RateLimit-Reset".into(), reset.to_string()),
            ];
            if observed > rl.limit {
                let mut r = retry_later();
                r.headers.extend(plan.rate_headers.iter().cloned());
                r.headers.push((
                    "RateLimit-ResetTime".into(),
                    clock::http_date(reset as i64 * 1000),
                ));
                if rl.retry_after {
                    r.headers
                        .push(("Retry-After".into(), (period - now_s % period).to_string()));
                }
                plan.throttled = Some(r);
                return plan;
            }
        }

        let mut scripted = None;
        for (i, s) in self.cfg.scripted.iter().enumerate() {
            let endpoint = s.endpoint.strip_prefix("/api/v4").unwrap_or(&s.endpoint);
            let method_ok = s.method == "*" || s.method.eq_ignore_ascii_case(method);
            let endpoint_ok = endpoint == "*"
                || template == format!("{method} {endpoint}")
                || (endpoint == crate::graphql::PATH
                    && crate::graphql::is_template(template)
                    && template.starts_with(method));
            if method_ok && endpoint_ok {
                self.seen[i] += 1;
                let n = self.seen[i];
                if scripted.is_none() && n > s.skip && n <= s.skip + s.times {
                    scripted = Some(s.fault);
                }
            }
        }
        if scripted.is_some() {
            plan.fault = scripted;
            return plan;
        }

        let graphql = crate::graphql::is_template(template);
        let only_graphql = |r: f64| if graphql { r } else { 0.0 };
        let rates = [
            (self.cfg.error_rate, FaultKind::InternalServerError),
            (self.cfg.truncate_rate, FaultKind::Truncate),
            (self.cfg.short_read_rate, FaultKind::ShortRead),
            (self.cfg.non_json_rate, FaultKind::NonJson),
            (self.cfg.drop_rate, FaultKind::Drop),
            (self.cfg.drop_after_rate, FaultKind::DropAfter),
            (self.cfg.slow_body_rate, FaultKind::Slow),
            (
                only_graphql(self.cfg.graphql_error_rate),
                FaultKind::GraphqlError,
            ),
            (
                only_graphql(self.cfg.graphql_partial_rate),
                FaultKind::GraphqlPartial,
            ),
        ];
        if rates.iter().any(|(r, _)| *r > 0.0) {
            let u = self.uniform();
            let mut acc = 0.0;
            for (rate, kind) in rates {
                acc += rate;
                if u < acc {
                    plan.fault = Some(if kind == FaultKind::InternalServerError {
                        [
                            FaultKind::InternalServerError,
                            FaultKind::BadGateway,
                            FaultKind::ServiceUnavailable,
                        ][(splitmix64(&mut self.rng) % 3) as usize]
                    } else {
                        kind
                    });
                    break;
                }
            }
        }
        plan
    }

    /// The canned response of a fault that replaces the application's
    /// answer; `None` for faults that mangle the real answer instead.
    pub(crate) fn canned(&self, kind: FaultKind, now_ms: i64) -> Option<Response> {
        Some(match kind {
            FaultKind::InternalServerError => Response::json(
                500,
                &serde_json::json!({"message": "500 Internal Server Error"}),
            ),
            FaultKind::BadGateway => Response::new(
                502,
                "text/html; charset=utf-8",
                "<!DOCTYPE html>\n<html><head><title>Something went wrong (502)</title></head>\n\
                 <body><h1>502</h1><p>Whoops, GitLab is taking too much time to respond.</p></body></html>\n",
            ),
            FaultKind::ServiceUnavailable => Response::new(
                503,
                "text/html; charset=utf-8",
                "<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n\
                 <body><h1>503 Service Temporarily Unavailable</h1></body></html>\n",
            ),
            FaultKind::TooManyRequests | FaultKind::TooManyRequestsNoRetryAfter => {
                let reset_s = now_ms / 1000 + 1;
                let mut r = retry_later()
                    .with_header("RateLimit-Name", "throttle_authenticated_api")
                    .with_header("RateLimit-Reset", reset_s.to_string())
                    .with_header("RateLimit-ResetTime", clock::http_date(reset_s * 1000));
                if kind == FaultKind::TooManyRequests {
                    r = r.with_header("Retry-After", "1");
                }
                r
            }
            FaultKind::NotFound => {
                Response::json(404, &serde_json::json!({"message": "404 Not found"}))
            }
            FaultKind::NonJson => Response::new(
                200,
                "text/html; charset=utf-8",
                "<!DOCTYPE html>\n<html><head><title>Sign in · GitLab</title></head>\n\
                 <body><p>You need to sign in or sign up before continuing.</p></body></html>\n",
            ),
            FaultKind::Drop
            | FaultKind::Truncate
            | FaultKind::ShortRead
            | FaultKind::DropAfter
            | FaultKind::Slow
            | FaultKind::Redirect
            | FaultKind::ForeignNext
            | FaultKind::Huge
            | FaultKind::ConcurrentPush
            | FaultKind::GraphqlError
            | FaultKind::GraphqlPartial => return None,
        })
    }

    pub(crate) fn delivery(&self, kind: Option<FaultKind>) -> Delivery {
        match kind {
            None => Delivery::Normal,
            Some(FaultKind::Truncate) => Delivery::Truncate,
            Some(FaultKind::ShortRead) => Delivery::ShortRead,
            Some(FaultKind::Drop | FaultKind::DropAfter) => Delivery::Close,
            Some(FaultKind::Slow) => Delivery::Slow(Duration::from_millis(self.cfg.slow_body_ms)),
            Some(_) => Delivery::Normal,
        }
    }
}

fn retry_later() -> Response {
    Response::new(429, "text/plain", "Retry later\n")
}

/// NGINX's 301 to the same path and query on `origin`.
pub(crate) fn redirect(req: &Request, origin: Option<&str>) -> Response {
    let origin = origin.unwrap_or("http://127.0.0.1:9").trim_end_matches('/');
    let query = if req.query.is_empty() {
        String::new()
    } else {
        format!("?{}", req.query)
    };
    Response::new(
        301,
        "text/html",
        "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n\
         <center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx</center>\r\n\
         </body>\r\n</html>\r\n",
    )
    .with_header("Location", format!("{origin}{}{query}", req.path))
}

/// Moves every `Link` target from this server's origin to `origin`.
pub(crate) fn foreign_links(r: &mut Response, req: &Request, origin: Option<&str>) {
    let Some(origin) = origin else { return };
    let own = format!(
        "<{}://{}",
        req.scheme,
        req.header("host").unwrap_or("localhost")
    );
    let theirs = format!("<{}", origin.trim_end_matches('/'));
    for (name, value) in &mut r.headers {
        if name.eq_ignore_ascii_case("link") {
            *value = value.replace(&own, &theirs);
        }
    }
}

/// Pads a JSON body with trailing whitespace to `size` bytes.
pub(crate) fn pad_json(r: &mut Response, size: usize) {
    let is_json = r
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v.contains("json"));
    if is_json && r.body.len() < size {
        r.body.resize(size, b' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(json: &str) -> FaultState {
        let f: Faults = serde_json::from_str(json).unwrap();
        f.validate().unwrap();
        FaultState::new(f)
    }

    #[test]
    fn scripted_skip_and_times() {
        let mut s = faults(
            r#"{"scripted":[{"method":"GET","endpoint":"/api/v4/projects/:id","fault":"503","times":2,"skip":1}]}"#,
        );
        let kinds: Vec<_> = (0..5)
            .map(|_| s.plan("GET", "GET /projects/:id", 0).fault)
            .collect();
        assert_eq!(
            kinds,
            [
                None,
                Some(FaultKind::ServiceUnavailable),
                Some(FaultKind::ServiceUnavailable),
                None,
                None
            ]
        );
        assert_eq!(s.plan("PUT", "PUT /projects/:id", 0).fault, None);
    }

    #[test]
    fn rates_are_seeded() {
        let run = || {
            let mut s = faults(r#"{"seed":7,"error_rate":0.3,"drop_rate":0.2}"#);
            (0..200)
                .map(|_| s.plan("GET", "GET /projects", 0).fault)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let dropped = a.iter().filter(|f| **f == Some(FaultKind::Drop)).count();
        assert!((20..=60).contains(&dropped), "{dropped}");
    }

    #[test]
    fn rate_limit_windows() {
        let mut s = faults(r#"{"rate_limit":{"limit":2,"period_secs":10}}"#);
        let t = 1_609_844_395_000; // 5 s before a 10 s boundary
        assert!(s.plan("GET", "x", t).throttled.is_none());
        assert!(s.plan("GET", "x", t).throttled.is_none());
        let p = s.plan("GET", "x", t);
        let r = p.throttled.unwrap();
        assert_eq!(r.status, 429);
        assert_eq!(r.body, b"Retry later\n");
        let h = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("Retry-After").as_deref(), Some("5"));
        assert_eq!(h("RateLimit-Limit").as_deref(), Some("12"));
        assert_eq!(h("RateLimit-Remaining").as_deref(), Some("0"));
        assert_eq!(h("RateLimit-Observed").as_deref(), Some("3"));
        assert_eq!(h("RateLimit-Reset").as_deref(), Some("1609844400"));
        assert!(s.plan("GET", "x", t + 5_000).throttled.is_none());
    }
}
