//! HTTPS for the fake: a throwaway CA and a server certificate made at start.
//!
//! Self-managed GitLab instances often use a private CA, which runners hand
//! to jobs as `CI_SERVER_TLS_CA_FILE` (doc/ci/variables/predefined_variables.md).
//! A test of that path needs a server whose certificate only that CA
//! vouches for. The CA lives only in memory and in the PEM the test writes;
//! the server certificate names the listening IP address as its subject
//! alternative name (loopback tests use `127.0.0.1`, never `localhost`).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::IpAddr;
use std::sync::Arc;

/// A generated CA (as PEM) and a server configuration whose certificate it signed.
pub(crate) struct Generated {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

pub(crate) fn generate(ip: IpAddr) -> Result<Generated, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("fake-gitlab TLS: {what}: {e}");
    let ca_key = KeyPair::generate().map_err(|e| fail("CA key", &e))?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "fake-gitlab test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| fail("CA", &e))?;

    let key = KeyPair::generate().map_err(|e| fail("server key", &e))?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "fake-gitlab");
    leaf.subject_alt_names = vec![SanType::IpAddress(ip)];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .map_err(|e| fail("server certificate", &e))?;

    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .map_err(|e| fail("server configuration", &e))?;
    Ok(Generated {
        ca_pem: ca_cert.pem(),
        config: Arc::new(config),
    })
}
