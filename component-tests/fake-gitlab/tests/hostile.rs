//! The faults that test a client's security and hostile-data handling: a
//! repository gone mid-run, redirects and pagination links to another
//! origin, huge bodies, tags pushed during a listing; the foreign host that
//! records credentials; and HTTPS with a generated CA.

mod common;

use common::*;
use fake_gitlab::{FakeGitlab, FaultKind, Faults, Fixture, ForeignHost, ScriptedFault};

const TAGS_TEMPLATE: &str = "/projects/:id/registry/repositories/:repository_id/tags";
const TAG_TEMPLATE: &str = "/projects/:id/registry/repositories/:repository_id/tags/:tag_name";
const APP_TAGS: &str = "/projects/1/registry/repositories/101/tags";

fn scripted(method: &str, endpoint: &str, fault: FaultKind, skip: u64) -> ScriptedFault {
    ScriptedFault {
        method: method.into(),
        endpoint: endpoint.into(),
        fault,
        times: 1,
        skip,
    }
}

#[test]
fn not_found_is_gitlabs_record_not_found() {
    let f = FakeGitlab::start(Fixture::memory());
    f.set_faults(Faults {
        scripted: vec![scripted("GET", TAGS_TEMPLATE, FaultKind::NotFound, 0)],
        ..Faults::default()
    });
    let r = get(&f, APP_TAGS);
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), serde_json::json!({"message": "404 Not found"}));
    assert_eq!(get(&f, APP_TAGS).status, 200);
    assert_eq!(f.stats().fault("404"), 1);
}

#[test]
fn redirect_points_at_the_foreign_origin_and_applies_nothing() {
    let f = FakeGitlab::start(Fixture::memory());
    let before = f.tags("demo/shop/app");
    f.set_faults(Faults {
        foreign_origin: Some("http://127.0.0.2:9999".into()),
        scripted: vec![scripted("DELETE", TAG_TEMPLATE, FaultKind::Redirect, 0)],
        ..Faults::default()
    });
    let r = delete(&f, &format!("{APP_TAGS}/mr-17?x=1"));
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("http://127.0.0.2:9999/api/v4/projects/1/registry/repositories/101/tags/mr-17?x=1")
    );
    assert_eq!(
        f.tags("demo/shop/app"),
        before,
        "a redirect deletes nothing"
    );
}

#[test]
fn redirect_and_foreign_next_need_an_origin() {
    let bad = Faults {
        scripted: vec![scripted("GET", "*", FaultKind::Redirect, 0)],
        ..Faults::default()
    };
    assert!(bad.validate().is_err());
    let bad = Faults {
        foreign_origin: Some("127.0.0.2:1".into()),
        ..Faults::default()
    };
    assert!(bad.validate().is_err());
}

#[test]
fn foreign_next_moves_the_links_only() {
    let f = FakeGitlab::start(Fixture::memory());
    f.set_faults(Faults {
        foreign_origin: Some("http://127.0.0.2:9999".into()),
        scripted: vec![scripted("GET", TAGS_TEMPLATE, FaultKind::ForeignNext, 0)],
        ..Faults::default()
    });
    let r = get(&f, &format!("{APP_TAGS}?per_page=2"));
    assert_eq!(r.status, 200);
    let link = r.header("link").unwrap();
    assert!(
        link.contains("<http://127.0.0.2:9999/api/v4/projects/1/registry/repositories/101/tags?"),
        "{link}"
    );
    assert!(!link.contains("fake.test"), "{link}");
    assert_eq!(r.header("x-next-page"), Some("2"));
    assert_eq!(r.names().len(), 2);
}

#[test]
fn huge_pads_json_and_stays_valid() {
    let f = FakeGitlab::start(Fixture::memory());
    f.set_faults(Faults {
        huge_body_bytes: 3 << 20,
        scripted: vec![scripted("GET", TAGS_TEMPLATE, FaultKind::Huge, 0)],
        ..Faults::default()
    });
    let r = get(&f, APP_TAGS);
    assert_eq!(r.body.len(), 3 << 20);
    assert_eq!(r.content_length(), Some(3 << 20));
    assert!(!r.names().is_empty(), "still the tag list");
}

#[test]
fn concurrent_push_shifts_later_pages_by_one() {
    let f = FakeGitlab::start(Fixture::memory());
    let first = get(&f, &format!("{APP_TAGS}?per_page=3&page=1")).names();
    f.set_faults(Faults {
        scripted: vec![scripted("GET", TAGS_TEMPLATE, FaultKind::ConcurrentPush, 0)],
        ..Faults::default()
    });
    let second = get(&f, &format!("{APP_TAGS}?per_page=3&page=2")).names();
    assert_eq!(
        second[0], first[2],
        "the last tag of page 1 is listed again"
    );
    assert!(f.tags("demo/shop/app").contains(&"0-pushed-0".to_string()));
}

#[test]
fn foreign_host_records_credentials() {
    let foreign = ForeignHost::start("127.0.0.2:0")
        .or_else(|_| ForeignHost::start("127.0.0.1:0"))
        .unwrap();
    let origin = foreign.origin();
    let hostport = origin.trim_start_matches("http://");
    let raw = |req: &[u8]| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(hostport).unwrap();
        s.write_all(req).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        parse(&out)
    };
    let r = raw(&request_bytes("GET", "/api/v4/x?page=2", &[], None, true));
    assert_eq!((r.status, r.text()), (200, "[]".to_string()));
    assert!(!foreign.received_credentials());
    raw(&request_bytes(
        "GET",
        "/api/v4/x",
        &[("PRIVATE-TOKEN", "secret")],
        None,
        true,
    ));
    assert!(foreign.received_credentials());
    assert_eq!(foreign.requests().len(), 2);
    assert_eq!(foreign.requests()[0].query, "page=2");
}

#[cfg(feature = "tls")]
#[test]
fn https_with_the_generated_ca() {
    use std::io::{Read, Write};
    use std::sync::Arc;

    let f = FakeGitlab::start_tls(Fixture::memory());
    assert!(f.api_url().starts_with("https://127.0.0.1:"));
    let pem = f.ca_pem().expect("a CA");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let der = pem_to_der(pem);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(f.base_url().trim_start_matches("https://")).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(&request_bytes(
        "GET",
        "/api/v4/projects/1/registry/repositories?per_page=1",
        &[TOKEN],
        None,
        true,
    ))
    .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let r = parse(&raw);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("link")
            .unwrap()
            .contains("<https://fake.test/api/v4/"),
        "links keep the scheme: {:?}",
        r.header("link")
    );
    assert_eq!(f.stats().total, 1);
}

/// The body of a one-certificate PEM, decoded (base64 without padding
/// surprises: the PEM is rcgen's).
#[cfg(feature = "tls")]
fn pem_to_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    let table = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => 0,
        }
    };
    let bytes: Vec<u8> = b64.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= table(c) << (18 - 6 * i);
        }
        let len = chunk.len() * 3 / 4;
        out.extend_from_slice(&n.to_be_bytes()[1..1 + len]);
    }
    out
}
