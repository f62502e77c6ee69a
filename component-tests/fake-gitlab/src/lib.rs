//! A stateful fake of the GitLab REST API endpoints registry-gc uses, and of
//! the container-registry slice of its GraphQL API, both on one state.
//!
//! It is the project's only stand-in for GitLab in tests, the demo and
//! benchmarks, so it answers as GitLab does (statuses, bodies, pagination
//! headers, validation errors, permissions), never as would suit the
//! client: a client that passes against it should pass against GitLab.
//! Tests assert on its state after a run (which tags are left, what the
//! cleanup policy became) and on its counters, rather than on call
//! sequences, so a client may reorder or retry requests freely.
//!
//! It also misbehaves on request (latency, rate limits, 5xx, broken
//! transports), because the client's retry logic has no other way to be
//! tested. See component-tests/fixtures/README.md for the fixture format,
//! the fault JSON, the control endpoints and the command line.

mod api;
mod auth;
mod clock;
mod control;
mod faults;
mod fixture;
mod foreign;
mod graphql;
mod http;
mod pagination;
mod params;
mod policy;
mod protection;
mod refs;
pub mod registry;
mod state;
mod stats;
mod tags;
#[cfg(feature = "tls")]
mod tls;

pub use faults::{FaultKind, Faults, RateLimit, ScriptedFault};
pub use fixture::{
    BranchFixture, Fixture, GroupFixture, JobTokenFixture, LayerFixture, MergeRequestFixture,
    ProjectFixture, ProtectionRuleFixture, RepositoryFixture, TagFixture, TokenFixture,
};
pub use foreign::{ForeignHost, Recorded};
pub use registry::{DiskUsage, GarbageCollection, Mode as RegistryMode, Resolution};
pub use stats::Stats;

use faults::FaultState;
use http::{Delivery, Outcome, Request, Response};
use state::State;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Everything the connection threads share.
pub(crate) struct Shared {
    state: Mutex<State>,
    stats: Mutex<Stats>,
    faults: Mutex<FaultState>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
    pub(crate) fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }
    pub(crate) fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
    }
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.faults)
    }

    fn dispatch(&self, req: &Request) -> Outcome {
        let normal = |response| Outcome {
            response,
            delivery: Delivery::Normal,
        };
        if req.path == "/__fake" || req.path.starts_with("/__fake/") {
            return normal(control::handle(self, req));
        }
        let is_graphql = req.path == graphql::PATH;
        let is_realm = req.path == REALM_PATH;
        if !(is_graphql || is_realm || req.path == "/api/v4" || req.path.starts_with("/api/v4/")) {
            return normal(Response::new(404, "text/plain", "Not Found\n"));
        }
        let now = clock::now_ms();
        let routed = if is_realm {
            api::Routed {
                route: api::Route::Realm,
                template: format!("{} {REALM_PATH}", req.method),
            }
        } else if is_graphql {
            let mode = self.state().graphql;
            match graphql::template(req, mode) {
                Some(template) => api::Routed {
                    route: api::Route::Graphql,
                    template,
                },
                None => api::Routed {
                    route: api::Route::Unknown,
                    template: format!("{} (unknown)", req.method),
                },
            }
        } else {
            api::route(&req.method, &req.path)
        };
        let is_graphql = routed.route == api::Route::Graphql;
        lock(&self.stats).request(&routed.template);
        let plan = self.faults().plan(&req.method, &routed.template, now);
        if !plan.latency.is_zero() {
            std::thread::sleep(plan.latency);
        }
        if let Some(r) = plan.throttled {
            let mut stats = lock(&self.stats);
            stats.fault_injected("rate_limit");
            stats.status_sent(r.status);
            return normal(r);
        }
        let firsts = std::cell::RefCell::new(Vec::new());
        let app = |apply: bool| {
            if is_realm {
                registry::realm::handle(&self.state(), req)
            } else if is_graphql {
                graphql::handle(&mut self.state(), req, apply, &mut firsts.borrow_mut())
            } else {
                api::handle(&mut self.state(), req, &routed, apply, now)
            }
        };
        let (mut response, delivery) = match plan.fault {
            None => (app(true), Delivery::Normal),
            Some(kind) => {
                lock(&self.stats).fault_injected(kind.name());
                let (canned, delivery, foreign, huge) = {
                    let f = self.faults();
                    (
                        f.canned(kind, now),
                        f.delivery(Some(kind)),
                        f.config().foreign_origin.clone(),
                        f.huge_body_bytes(),
                    )
                };
                match (canned, kind) {
                    (Some(r), _) => (r, Delivery::Normal),
                    (None, FaultKind::Drop) => {
                        (Response::new(0, "text/plain", ""), Delivery::Close)
                    }
                    (None, FaultKind::Redirect) => {
                        (faults::redirect(req, foreign.as_deref()), Delivery::Normal)
                    }
                    (None, FaultKind::ConcurrentPush) => {
                        if let api::Route::Tags(_, rid) = &routed.route {
                            self.state().push_tag_first(rid, now);
                        }
                        (app(true), Delivery::Normal)
                    }
                    (None, FaultKind::ForeignNext) => {
                        let mut r = app(true);
                        faults::foreign_links(&mut r, req, foreign.as_deref());
                        (r, Delivery::Normal)
                    }
                    (None, FaultKind::Huge) => {
                        let mut r = app(true);
                        faults::pad_json(&mut r, huge);
                        (r, Delivery::Normal)
                    }
                    (None, FaultKind::GraphqlError) if is_graphql => {
                        (graphql::complexity_error(), Delivery::Normal)
                    }
                    (None, FaultKind::GraphqlPartial) if is_graphql => {
                        (graphql::partial_error(req), Delivery::Normal)
                    }
                    (None, FaultKind::GraphqlError | FaultKind::GraphqlPartial) => {
                        (app(true), Delivery::Normal)
                    }
                    (None, _) => (app(kind.applies()), delivery),
                }
            }
        };
        for (name, value) in plan.rate_headers {
            if !response
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                response.headers.push((name, value));
            }
        }
        {
            let mut stats = lock(&self.stats);
            for n in firsts.take() {
                stats.graphql_first_asked(n);
            }
            if !matches!(delivery, Delivery::Close) {
                stats.status_sent(response.status);
            }
        }
        Outcome { response, delivery }
    }
}

/// GitLab's registry token realm (`gitlab_rails['registry_issuer']`'s endpoint).
pub const REALM_PATH: &str = "/jwt/auth";

/// A running fake GitLab. Dropping it stops the server.
pub struct FakeGitlab {
    addr: SocketAddr,
    scheme: &'static str,
    /// The CA that signed the server certificate, when serving HTTPS.
    ca_pem: Option<String>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// Stops an accept loop: raise the flag, wake the blocking `accept` with one
/// connection, join.
pub(crate) fn stop_server(addr: SocketAddr, stop: &AtomicBool, accept: Option<JoinHandle<()>>) {
    stop.store(true, Ordering::SeqCst);
    let mut wake = addr;
    if wake.ip().is_unspecified() {
        wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
    if let Some(h) = accept {
        let _ = h.join();
    }
}

impl FakeGitlab {
    /// Serves `fixture` on an ephemeral port of 127.0.0.1.
    pub fn start(fixture: Fixture) -> FakeGitlab {
        FakeGitlab::start_on(fixture, "127.0.0.1:0")
            .expect("fake-gitlab: cannot start on 127.0.0.1:0")
    }

    /// Serves `fixture` on `addr` (e.g. `127.0.0.1:0`). Fails if the address
    /// cannot be bound or the fixture is invalid.
    pub fn start_on(fixture: Fixture, addr: &str) -> std::io::Result<FakeGitlab> {
        FakeGitlab::serve(fixture, addr, false)
    }

    /// Serves `fixture` over HTTPS on an ephemeral port of 127.0.0.1, with a
    /// certificate for the IP address `127.0.0.1` signed by a CA generated
    /// now: [`FakeGitlab::ca_pem`]. The plain-HTTP fake is unchanged.
    #[cfg(feature = "tls")]
    pub fn start_tls(fixture: Fixture) -> FakeGitlab {
        FakeGitlab::serve(fixture, "127.0.0.1:0", true)
            .expect("fake-gitlab: cannot start HTTPS on 127.0.0.1:0")
    }

    /// The PEM of the CA that signed the HTTPS certificate (`None` over HTTP).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    fn serve(fixture: Fixture, addr: &str, tls: bool) -> std::io::Result<FakeGitlab> {
        let mut state = State::build(&fixture, clock::epoch_ms())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        if state.registry_mode() != registry::Mode::Memory {
            let scheme = if tls { "https" } else { "http" };
            let realm = format!("{scheme}://{addr}{REALM_PATH}");
            let started = registry::Registry::start(&realm, state.registry_settings.clone())
                .and_then(|r| {
                    std::mem::take(&mut state.world).push(&r)?;
                    Ok(r)
                })
                .map_err(|e| std::io::Error::other(format!("fake-gitlab: the registry: {e}")))?;
            state.registry_host = started.host_port();
            state.registry = Some(started);
        }
        let (scheme, ca_pem, tls_config) = if tls {
            #[cfg(feature = "tls")]
            {
                let generated = tls::generate(addr.ip()).map_err(std::io::Error::other)?;
                ("https", Some(generated.ca_pem), Some(generated.config))
            }
            #[cfg(not(feature = "tls"))]
            unreachable!("start_tls needs the `tls` feature")
        } else {
            ("http", None, None)
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            stats: Mutex::new(Stats::default()),
            faults: Mutex::new(FaultState::new(Faults::default())),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let handler_shared = Arc::clone(&shared);
        let handler: Arc<http::Handler> =
            Arc::new(move |req: &Request| handler_shared.dispatch(req));
        let accept = http::serve_with(listener, handler, Arc::clone(&stop), tls_config);
        Ok(FakeGitlab {
            addr,
            scheme,
            ca_pem,
            shared,
            stop,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` from [`FakeGitlab::start_tls`])
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `http://127.0.0.1:PORT/api/v4`
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.base_url())
    }

    /// Replaces the fault configuration (and restarts its random sequence,
    /// scripted counters and rate-limit window).
    ///
    /// # Panics
    /// If the configuration is invalid (a rate outside 0..=1, rates adding
    /// up to more than 1, a zero rate-limit period).
    pub fn set_faults(&self, f: Faults) {
        if let Err(e) = f.validate() {
            panic!("fake-gitlab: invalid faults: {e}");
        }
        *self.shared.faults() = FaultState::new(f);
    }

    /// Counters since start or the last reset.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// Current tag names of the repository at `repository_path` (e.g.
    /// `demo/shop/app`), sorted; empty if there is no such repository.
    pub fn tags(&self, repository_path: &str) -> Vec<String> {
        self.shared.state().tags_of_path(repository_path)
    }

    /// Where the images are (`memory`, `legacy`, `gitlab`).
    pub fn registry_mode(&self) -> registry::Mode {
        self.shared.state().registry_mode()
    }

    /// The registry's URL (`http://127.0.0.1:PORT`), when it is a real one.
    pub fn registry_url(&self) -> Option<String> {
        self.shared.state().registry.as_ref().map(|r| r.url())
    }

    /// The registry's configuration file, for `docker-registry garbage-collect`.
    pub fn registry_config(&self) -> Option<std::path::PathBuf> {
        self.shared
            .state()
            .registry
            .as_ref()
            .map(|r| r.config_path())
    }

    /// Stops the registry (if any) and removes its storage now, rather than when the last
    /// connection lets go of the state: for a process about to exit.
    pub fn stop_registry(&self) {
        drop(self.shared.state().registry.take());
    }

    /// `${base_url}/jwt/auth`, the registry's token realm.
    pub fn realm_url(&self) -> String {
        format!("{}{REALM_PATH}", self.base_url())
    }

    /// Bytes, blobs, manifests and tags in the registry's storage.
    pub fn registry_disk_usage(&self) -> Option<DiskUsage> {
        self.shared
            .state()
            .registry
            .as_ref()
            .map(|r| r.disk_usage())
    }

    /// Runs the registry's own garbage collection (stopping and restarting it), with
    /// `--delete-untagged` as GitLab's `registry-garbage-collect -m` when asked.
    ///
    /// # Panics
    /// On an in-memory fake, or if the registry cannot be collected and restarted.
    pub fn registry_garbage_collect(&self, delete_untagged: bool) -> GarbageCollection {
        let mut state = self.shared.state();
        let registry = state
            .registry
            .as_mut()
            .expect("registry_garbage_collect needs a registry-backed fake");
        registry
            .garbage_collect(delete_untagged)
            .unwrap_or_else(|e| panic!("fake-gitlab: {e}"))
    }

    /// How every tag of every repository resolves: manifest, platform manifests, blobs.
    pub fn registry_resolve_all(&self) -> Vec<Resolution> {
        self.shared.state().resolve_all()
    }

    /// The digest the registry serves for `repository:tag` (any manifest type).
    pub fn registry_digest(&self, repository_path: &str, tag: &str) -> Option<String> {
        let state = self.shared.state();
        let registry = state.registry.as_ref()?;
        registry
            .client()
            .manifest(
                &registry.signer,
                repository_path,
                tag,
                registry::client::ALL_MANIFEST_TYPES,
            )
            .ok()
            .flatten()
            .map(|m| m.digest)
    }

    /// The project's `container_expiration_policy` as `GET /projects/:id`
    /// shows it; `null` for an unknown project.
    pub fn policy(&self, project_id: u64) -> serde_json::Value {
        self.shared
            .state()
            .projects
            .get(&project_id)
            .map(|p| p.policy.to_json())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The whole current state, as `GET /__fake/state` answers it.
    pub fn state(&self) -> serde_json::Value {
        control::state_json(&self.shared.state())
    }

    /// Stops accepting connections and joins the accept thread. Open
    /// keep-alive connections end at their next idle poll.
    pub fn shutdown(self) {}
}

impl Drop for FakeGitlab {
    fn drop(&mut self) {
        stop_server(self.addr, &self.stop, self.accept.take());
    }
}
