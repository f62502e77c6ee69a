//! What every request registry-gc sends has in common, whichever server answers it: GitLab's
//! API or the container registry.
//!
//! [`Transport::send`] is the one retry loop: at most `GC_CONCURRENCY` requests in flight
//! (whatever threads send them), transient failures (connection errors, timeouts, 5xx, answers
//! the caller wants again) retried a bounded number of times with jittered exponential backoff,
//! 429s pausing every worker until `Retry-After` (or `RateLimit-Reset`), redirects refused
//! rather than followed (a redirect would carry a credential elsewhere), bodies read whole and
//! bounded. What a status means is the caller's business: it judges each answer
//! ([`Verdict`]) and names its own errors ([`Problem`] → its error type).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};

use crate::gitlab::ratelimit::RateLimiter;
use crate::signals::Interrupt;

/// A response read to the end; bodies are small (a page of tags, a manifest).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The server's message: `{"message": …}` or `{"error": …}` (GitLab), else the start of
    /// the body.
    pub fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            for key in ["message", "error"] {
                match value.get(key) {
                    Some(serde_json::Value::String(s)) => return one_line(s),
                    Some(other) if !other.is_null() => return one_line(&other.to_string()),
                    _ => {}
                }
            }
        }
        one_line(text.lines().next().unwrap_or(""))
    }
}

/// What the caller makes of an answer: done, worth another attempt, or a failure.
pub enum Verdict<T, E> {
    Done(T),
    Retry(E),
    Fail(E),
}

impl<T, E> Verdict<T, E> {
    pub fn map_done<U>(self, f: impl FnOnce(T) -> U) -> Verdict<U, E> {
        match self {
            Verdict::Done(v) => Verdict::Done(f(v)),
            Verdict::Retry(e) => Verdict::Retry(e),
            Verdict::Fail(e) => Verdict::Fail(e),
        }
    }
}

/// What went wrong below the caller's judgement, for the caller to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The run was interrupted before this request was sent.
    Interrupted,
    /// A certificate the client does not trust (never retried: it stays untrusted).
    Certificate(String),
    /// No usable answer after the retries: connection or timeout.
    Transport(String),
    /// A 5xx after the retries.
    Server { status: u16, message: String },
    /// Still 429 after many pauses.
    Throttled { message: String },
    /// A 3xx: where it points.
    Redirect { to: String },
}

/// How requests are counted: every attempt, retries and 429s, because the server counts them.
pub trait Count: Sync {
    fn attempt(&self);
    fn retry(&self);
    fn throttled(&self);
}

/// The endpoints of one server, as the summary names them.
pub trait Endpoints: Copy + Send + Sync + 'static {
    const ALL: &'static [Self];
    fn index(self) -> usize;
    fn label(self) -> &'static str;
}

/// Thread-safe request counters by endpoint.
pub struct Stats<E: Endpoints> {
    by_endpoint: Vec<AtomicU64>,
    retries: AtomicU64,
    throttled: AtomicU64,
    endpoints: std::marker::PhantomData<E>,
}

impl<E: Endpoints> Default for Stats<E> {
    fn default() -> Stats<E> {
        Stats {
            by_endpoint: E::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            endpoints: std::marker::PhantomData,
        }
    }
}

/// A snapshot for the summary and the reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub total: u64,
    pub retries: u64,
    pub throttled: u64,
    pub by_endpoint: std::collections::BTreeMap<&'static str, u64>,
}

impl<E: Endpoints> Stats<E> {
    pub fn count(&self, endpoint: E) {
        self.by_endpoint[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Counts {
        let mut counts = Counts {
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            ..Counts::default()
        };
        for &endpoint in E::ALL {
            let n = self.by_endpoint[endpoint.index()].load(Ordering::Relaxed);
            counts.total += n;
            if n > 0 {
                counts.by_endpoint.insert(endpoint.label(), n);
            }
        }
        counts
    }

    /// Counts attempts of `endpoint` for [`Transport::send`].
    pub fn counter(&self, endpoint: E) -> Counter<'_, E> {
        Counter {
            stats: self,
            endpoint,
        }
    }
}

/// [`Count`] for one endpoint of a [`Stats`].
pub struct Counter<'a, E: Endpoints> {
    stats: &'a Stats<E>,
    endpoint: E,
}

impl<E: Endpoints> Count for Counter<'_, E> {
    fn attempt(&self) {
        self.stats.count(self.endpoint);
    }
    fn retry(&self) {
        self.stats.count_retry();
    }
    fn throttled(&self) {
        self.stats.count_throttled();
    }
}

const MAX_ATTEMPTS: u32 = 5;
const MAX_THROTTLED: u32 = 20;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// The largest body accepted: a page of 100 tags is a few KiB; anything near this is not GitLab.
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// One HTTP client with its limits, shared by all the threads of a run.
pub struct Transport {
    pub http: reqwest::blocking::Client,
    limiter: RateLimiter,
    /// At most `GC_CONCURRENCY` requests in flight, whichever threads send them.
    permits: Permits,
    concurrency: usize,
    interrupt: Interrupt,
}

impl Transport {
    pub fn new(
        http: reqwest::blocking::Client,
        concurrency: usize,
        interrupt: Interrupt,
    ) -> Transport {
        Transport {
            http,
            limiter: RateLimiter::new(concurrency),
            permits: Permits::new(concurrency),
            concurrency: concurrency.max(1),
            interrupt,
        }
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Sends one request with retries. `build` makes the request afresh for each attempt;
    /// `judge` turns a non-5xx, non-429, non-3xx answer into a verdict; `problem` names what
    /// went wrong below it in the caller's terms.
    pub fn send<T, E>(
        &self,
        request: &str,
        counter: &dyn Count,
        build: &dyn Fn(&reqwest::blocking::Client) -> RequestBuilder,
        judge: impl Fn(Reply) -> Verdict<T, E>,
        problem: impl Fn(Problem) -> E,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
    {
        let mut attempt = 0;
        let mut throttled = 0;
        loop {
            if self.interrupt.is_raised() {
                return Err(problem(Problem::Interrupted));
            }
            let permit = self.permits.take();
            let ticket = self.limiter.before_request(&self.interrupt);
            if self.interrupt.is_raised() {
                // Raised while waiting for the rate limit: send nothing more.
                return Err(problem(Problem::Interrupted));
            }
            counter.attempt();
            let sent = build(&self.http)
                .send()
                .map_err(|e| chain(&e))
                .and_then(read_reply);
            drop(permit);
            let failure = match sent {
                Err(detail) if detail.to_ascii_lowercase().contains("certificate") => {
                    return Err(problem(Problem::Certificate(detail)));
                }
                Err(detail) => problem(Problem::Transport(detail)),
                Ok(reply) => {
                    self.limiter.observe(&reply.headers, ticket);
                    let status = reply.status;
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        counter.throttled();
                        throttled += 1;
                        if throttled > MAX_THROTTLED {
                            return Err(problem(Problem::Throttled {
                                message: reply.message(),
                            }));
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
                            .unwrap_or("?")
                            .to_string();
                        return Err(problem(Problem::Redirect { to }));
                    }
                    if status.is_server_error() {
                        problem(Problem::Server {
                            status: status.as_u16(),
                            message: reply.message(),
                        })
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
            counter.retry();
            let wait = backoff(attempt);
            log::debug!(
                "{failure}; retrying in {:.2}s (attempt {}/{MAX_ATTEMPTS})",
                wait.as_secs_f64(),
                attempt + 1
            );
            sleep_unless_interrupted(wait, &self.interrupt);
        }
    }
}

/// A counting semaphore: the pages of one listing may be fetched by helper threads while
/// other workers run, and the total in flight must still not exceed `GC_CONCURRENCY`.
struct Permits {
    free: Mutex<usize>,
    returned: Condvar,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(n: usize) -> Permits {
        Permits {
            free: Mutex::new(n.max(1)),
            returned: Condvar::new(),
        }
    }

    fn take(&self) -> Permit<'_> {
        let mut free = self.free.lock().expect("permits poisoned");
        while *free == 0 {
            free = self.returned.wait(free).expect("permits poisoned");
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().expect("permits poisoned") += 1;
        self.0.returned.notify_one();
    }
}

/// A reqwest client as registry-gc wants it everywhere: rustls with the compiled-in roots plus
/// `CI_SERVER_TLS_CA_FILE`, no redirects, bounded waits.
pub fn client(
    ca_file: Option<&std::path::Path>,
    concurrency: usize,
) -> Result<reqwest::blocking::Client, String> {
    let mut builder = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("registry-gc/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(concurrency);
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("CI_SERVER_TLS_CA_FILE: cannot read {}: {e}", path.display()))?;
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
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
}

fn read_reply(response: Response) -> Result<Reply, String> {
    use std::io::Read;
    let status = response.status();
    let headers = response.headers().clone();
    if response.content_length().is_some_and(|n| n > MAX_BODY) {
        return Err(format!("the answer is larger than {} MiB", MAX_BODY >> 20));
    }
    let mut body = Vec::new();
    response
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| chain(&e))?;
    if body.len() as u64 > MAX_BODY {
        return Err(format!("the answer is larger than {} MiB", MAX_BODY >> 20));
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// The error and its causes on one line: reqwest's top-level message alone says too little.
pub fn chain(error: &dyn std::error::Error) -> String {
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

/// A server's message as one short line: it goes into one-line errors and gc.log.
pub fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(199) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// `scheme://host[:port]`, for messages.
pub fn origin(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""))
        + &url.port().map(|p| format!(":{p}")).unwrap_or_default()
}

pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
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
    fn server_messages_become_one_short_line() {
        assert_eq!(one_line("a\nb\t c"), "a b c");
        assert_eq!(one_line(&"x".repeat(500)).chars().count(), 200);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(
            backoff(1) >= Duration::from_millis(250) && backoff(1) <= Duration::from_millis(500)
        );
        assert!(backoff(30) <= BACKOFF_CAP);
    }
}
