//! A listener on another origin that records what reaches it.
//!
//! The other end of a redirect or of a pagination link that leaves the API's
//! origin: a client must never send its token there. Such answers happen
//! with real GitLab behind a proxy or after a move: pagination links are
//! built from the request's own host (lib/gitlab/pagination/offset_header_builder.rb
//! uses `request.url`), so a proxy that rewrites `Host` makes GitLab link
//! to the internal host (python-gitlab/python-gitlab#1254 and #2149,
//! NARKOZ/gitlab#494), and Omnibus' NGINX answers 301 to another URL when
//! `external_url` or `redirect_http_to_https` say so. Every request gets
//! `200 []`, so a client that follows would carry on happily: only the
//! record tells.

use crate::http::{self, Delivery, Outcome, Request, Response};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as the foreign host saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// Whether it carried anything GitLab accepts as a credential
    /// (lib/gitlab/auth/auth_finders.rb: `PRIVATE-TOKEN`, `JOB-TOKEN`,
    /// `Authorization`, or the `private_token` / `job_token` parameters).
    pub fn has_credentials(&self) -> bool {
        self.headers.iter().any(|(n, _)| {
            matches!(
                n.as_str(),
                "private-token" | "job-token" | "authorization" | "deploy-token"
            )
        }) || self.query.split('&').any(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            matches!(key, "private_token" | "job_token" | "access_token")
        })
    }
}

/// A running foreign host. Dropping it stops the server.
pub struct ForeignHost {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl ForeignHost {
    /// Listens on `addr`, e.g. `127.0.0.2:0` (another loopback address, so
    /// another host as far as a URL goes) or `127.0.0.1:0` (another port).
    pub fn start(addr: &str) -> std::io::Result<ForeignHost> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let seen: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let record = Arc::clone(&seen);
        let handler: Arc<http::Handler> = Arc::new(move |req: &Request| {
            crate::lock(&record).push(Recorded {
                method: req.method.clone(),
                path: req.path.clone(),
                query: req.query.clone(),
                headers: req.headers.clone(),
            });
            Outcome {
                response: Response::new(200, "application/json", "[]"),
                delivery: Delivery::Normal,
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let accept = http::serve(listener, handler, Arc::clone(&stop));
        Ok(ForeignHost {
            addr,
            seen,
            stop,
            accept: Some(accept),
        })
    }

    /// `http://IP:PORT`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        crate::lock(&self.seen).clone()
    }

    /// Whether any request carried a credential.
    pub fn received_credentials(&self) -> bool {
        self.requests().iter().any(Recorded::has_credentials)
    }
}

impl Drop for ForeignHost {
    fn drop(&mut self) {
        crate::stop_server(self.addr, &self.stop, self.accept.take());
    }
}
