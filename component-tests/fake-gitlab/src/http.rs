//! A minimal HTTP/1.1 server over std::net.
//!
//! Hand-rolled rather than a library because fault injection needs the raw
//! socket: a response cut short against its Content-Length, a body dribbled
//! out slowly, a connection closed with no response at all. One thread per
//! connection with keep-alive is plenty for a test double (benchmarks run a
//! handful of concurrent clients) and needs no async runtime.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;
/// How often an idle connection looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// A request that stalls this long mid-way is abandoned.
const STALL: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct Request {
    /// `http` or `https`: how this request arrived, for absolute URLs.
    pub scheme: &'static str,
    pub method: String,
    /// Raw path, still percent-encoded (so `%2F` inside an `:id` survives).
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub(crate) fn json(status: u16, v: &serde_json::Value) -> Response {
        Response::new(
            status,
            "application/json",
            serde_json::to_vec(v).unwrap_or_default(),
        )
    }

    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// How to put a response on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Delivery {
    Normal,
    /// Honest Content-Length, body cut to half.
    Truncate,
    /// Content-Length of the whole body, half of it sent, then close.
    ShortRead,
    /// The body spread over this long.
    Slow(Duration),
    /// Close without writing anything.
    Close,
}

pub(crate) struct Outcome {
    pub response: Response,
    pub delivery: Delivery,
}

pub(crate) type Handler = dyn Fn(&Request) -> Outcome + Send + Sync;

/// Server-side TLS, when the fake serves HTTPS.
#[cfg(feature = "tls")]
pub(crate) type Tls = Arc<rustls::ServerConfig>;
/// Without the `tls` feature there is no TLS configuration to have.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum Tls {}

/// Accepts connections until `stop` is set and a connection arrives (the
/// owner connects once to wake the accept call).
pub(crate) fn serve(
    listener: TcpListener,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    serve_with(listener, handler, stop, None)
}

/// As [`serve`], over TLS when `tls` is set (the handshake happens on the
/// connection's thread, at its first read).
pub(crate) fn serve_with(
    listener: TcpListener,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
    tls: Option<Tls>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("fake-gitlab-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let handler = Arc::clone(&handler);
                let stop = Arc::clone(&stop);
                let tls = tls.clone();
                let _ = std::thread::Builder::new()
                    .name("fake-gitlab-conn".into())
                    .spawn(move || start_connection(stream, tls, &*handler, &stop));
            }
        })
        .expect("spawn accept thread")
}

fn start_connection(tcp: TcpStream, tls: Option<Tls>, handler: &Handler, stop: &AtomicBool) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(POLL));
    match tls {
        None => {
            let Ok(control) = tcp.try_clone() else { return };
            connection(tcp, &control, "http", handler, stop)
        }
        #[cfg(feature = "tls")]
        Some(config) => {
            let Ok(control) = tcp.try_clone() else { return };
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            connection(
                rustls::StreamOwned::new(conn, tcp),
                &control,
                "https",
                handler,
                stop,
            )
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    }
}

/// Serves one connection. `stream` carries the bytes (plain or TLS);
/// `control` is the same socket, to close it without a goodbye (a dropped
/// connection, a short read) whatever the stream on top.
fn connection<S: Read + Write>(
    mut stream: S,
    control: &TcpStream,
    scheme: &'static str,
    handler: &Handler,
    stop: &AtomicBool,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let (req, keep_alive) = match read_request(&mut stream, &mut buf, stop, scheme) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(resp) => {
                let _ = write_normal(&mut stream, &resp, false);
                return;
            }
        };
        let head_only = req.method == "HEAD";
        let outcome = handler(&req);
        let ok = match outcome.delivery {
            Delivery::Close => false,
            Delivery::Normal => {
                write_response(&mut stream, &outcome.response, keep_alive, head_only)
            }
            Delivery::Truncate => {
                let mut r = outcome.response;
                r.body.truncate(r.body.len() / 2);
                write_response(&mut stream, &r, keep_alive, head_only)
            }
            Delivery::ShortRead => {
                let r = &outcome.response;
                let head = head_bytes(r, r.body.len(), false);
                let _ = stream.write_all(&head);
                let _ = stream.write_all(&r.body[..r.body.len() / 2]);
                let _ = stream.flush();
                false
            }
            Delivery::Slow(total) => write_slow(&mut stream, &outcome.response, keep_alive, total),
        };
        if !ok || !keep_alive {
            let _ = control.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Reads one request. `Ok(None)`: the peer closed, stalled or we are
/// stopping. `Err`: a malformed request, answered then closed.
fn read_request(
    stream: &mut (impl Read + Write),
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
    scheme: &'static str,
) -> Result<Option<(Request, bool)>, Response> {
    let mut stalled_since: Option<Instant> = None;
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(Response::new(
                431,
                "text/plain",
                "Request Header Fields Too Large\n",
            ));
        }
        if !fill(stream, buf, stop, &mut stalled_since) {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Response::new(400, "text/plain", "Bad Request\n"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Response::new(
            505,
            "text/plain",
            "HTTP Version Not Supported\n",
        ));
    }
    let mut headers = Vec::new();
    for line in lines {
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if get("transfer-encoding").is_some() {
        return Err(Response::new(411, "text/plain", "Length Required\n"));
    }
    let len: usize = match get("content-length") {
        None => 0,
        Some(v) => match v.parse() {
            Ok(n) if n <= MAX_BODY => n,
            _ => return Err(Response::new(400, "text/plain", "Bad Content-Length\n")),
        },
    };
    let connection = get("connection")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let keep_alive = if version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let body_start = head_end + 4;
    if buf.len() < body_start + len
        && get("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while buf.len() < body_start + len {
        if !fill(stream, buf, stop, &mut stalled_since) {
            return Ok(None);
        }
    }
    let body = buf[body_start..body_start + len].to_vec();
    buf.drain(..body_start + len);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    Ok(Some((
        Request {
            scheme,
            method: method.to_string(),
            path,
            query,
            headers,
            body,
        },
        keep_alive,
    )))
}

/// Reads more bytes. False when the connection is done: EOF, error, stop
/// requested while idle, or a partial request stalled too long.
fn fill(
    stream: &mut impl Read,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
    stalled_since: &mut Option<Instant>,
) -> bool {
    let mut tmp = [0u8; 4096];
    loop {
        match stream.read(&mut tmp) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                *stalled_since = None;
                return true;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
                if !buf.is_empty() {
                    let since = stalled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > STALL {
                        return false;
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn head_bytes(r: &Response, content_length: usize, keep_alive: bool) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\n",
        r.status,
        reason(r.status),
        crate::clock::http_date(crate::clock::now_ms())
    );
    for (n, v) in &r.headers {
        h.push_str(n);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str(&format!("Content-Length: {content_length}\r\n"));
    h.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    h.into_bytes()
}

fn write_response(
    stream: &mut impl Write,
    r: &Response,
    keep_alive: bool,
    head_only: bool,
) -> bool {
    let head = head_bytes(r, r.body.len(), keep_alive);
    let mut out = Vec::with_capacity(head.len() + r.body.len());
    out.extend_from_slice(&head);
    if !head_only {
        out.extend_from_slice(&r.body);
    }
    stream.write_all(&out).and_then(|_| stream.flush()).is_ok()
}

fn write_normal(stream: &mut impl Write, r: &Response, keep_alive: bool) -> bool {
    write_response(stream, r, keep_alive, false)
}

fn write_slow(stream: &mut impl Write, r: &Response, keep_alive: bool, total: Duration) -> bool {
    if stream
        .write_all(&head_bytes(r, r.body.len(), keep_alive))
        .is_err()
    {
        return false;
    }
    let chunks = r.body.len().clamp(1, 10);
    let step = total / chunks as u32;
    let size = r.body.len().div_ceil(chunks).max(1);
    for piece in r.body.chunks(size) {
        std::thread::sleep(step);
        if stream
            .write_all(piece)
            .and_then(|_| stream.flush())
            .is_err()
        {
            return false;
        }
    }
    true
}
