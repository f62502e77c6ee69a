//! A raw HTTP/1.1 client: fault tests need to see exactly what went over
//! the wire (short bodies, closed connections), which a real client hides.

#![allow(dead_code)]

use fake_gitlab::{FakeGitlab, FaultKind, Faults, ScriptedFault};
use serde_json::Value;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub const TOKEN: (&str, &str) = ("PRIVATE-TOKEN", "glpat-demo-token");
pub const READONLY: (&str, &str) = ("PRIVATE-TOKEN", "glpat-demo-readonly");
pub const JOB: (&str, &str) = ("JOB-TOKEN", "demo-job-token");

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bytes received at all (false: the connection closed silently).
    pub received: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.parse().ok())
    }

    /// Names of a JSON array of objects.
    pub fn names(&self) -> Vec<String> {
        self.json()
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn ids(&self) -> Vec<u64> {
        self.json()
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v["id"].as_u64().unwrap())
            .collect()
    }
}

pub fn addr(f: &FakeGitlab) -> String {
    f.base_url().trim_start_matches("http://").to_string()
}

pub fn request_bytes(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
    close: bool,
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: fake.test\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    if close {
        r.push_str("Connection: close\r\n");
    }
    let body = body.map(|(ctype, b)| {
        r.push_str(&format!("Content-Type: {ctype}\r\n"));
        b
    });
    r.push_str(&format!(
        "Content-Length: {}\r\n\r\n",
        body.map_or(0, str::len)
    ));
    if let Some(b) = body {
        r.push_str(b);
    }
    r.into_bytes()
}

pub fn parse(raw: &[u8]) -> Resp {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Resp {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            received: !raw.is_empty(),
        };
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
        received: true,
    }
}

/// One request on a fresh connection, read to EOF.
pub fn send(
    f: &FakeGitlab,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> Resp {
    let mut s = TcpStream::connect(addr(f)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&request_bytes(method, path, headers, body, true))
        .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

pub fn get(f: &FakeGitlab, path: &str) -> Resp {
    send(f, "GET", &format!("/api/v4{path}"), &[TOKEN], None)
}

pub fn get_as(f: &FakeGitlab, path: &str, auth: (&str, &str)) -> Resp {
    send(f, "GET", &format!("/api/v4{path}"), &[auth], None)
}

pub fn delete(f: &FakeGitlab, path: &str) -> Resp {
    send(f, "DELETE", &format!("/api/v4{path}"), &[TOKEN], None)
}

pub fn put_json(f: &FakeGitlab, path: &str, auth: (&str, &str), body: &Value) -> Resp {
    send(
        f,
        "PUT",
        &format!("/api/v4{path}"),
        &[auth],
        Some(("application/json", &body.to_string())),
    )
}

/// Reads one response off a kept-alive connection: its status line, then exactly
/// `Content-Length` bytes of body, leaving the connection ready for the next one.
pub fn read_response(r: &mut impl BufRead) -> (String, Vec<u8>) {
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut len = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, body)
}

/// One scripted fault, on the next matching request only.
pub fn script(method: &str, endpoint: &str, fault: FaultKind) -> Faults {
    Faults {
        scripted: vec![ScriptedFault {
            method: method.into(),
            endpoint: endpoint.into(),
            fault,
            times: 1,
            skip: 0,
        }],
        ..Faults::default()
    }
}
