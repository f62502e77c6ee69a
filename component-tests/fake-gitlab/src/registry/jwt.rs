//! The tokens GitLab signs for its registry, and the key docker-registry trusts them by.
//!
//! GitLab signs registry tokens with the key whose certificate is the registry's
//! `auth.token.rootcertbundle`, and names the key in the JWT header's `kid`
//! (lib/json_web_token/rsa_token.rb: the libtrust fingerprint, base32 of the first
//! 30 bytes of SHA-256 over the DER SubjectPublicKeyInfo, grouped by four with `:`).
//! distribution looks a `kid` up among the rootcertbundle's keys by that same
//! fingerprint (registry/auth/token/accesscontroller.go, libtrust `KeyID`). GitLab uses
//! RS256; the fake uses ES256 (P-256), which distribution verifies the same way and
//! which `rcgen`/`ring` can generate without a stored key. Claims follow
//! lib/json_web_token/token.rb: `jti`, `aud`, `sub`, `iss`, `iat`, `nbf` (5 s early),
//! `exp`, plus `access` (app/services/auth/container_registry_authentication_service.rb).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rcgen::{CertificateParams, DnType, KeyPair};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The issuer and audience GitLab's registry configuration uses (`registry.issuer` is
/// `gitlab-issuer` in Omnibus; the audience is `AUDIENCE = 'container_registry'`).
pub(crate) const ISSUER: &str = "gitlab-issuer";
pub(crate) const SERVICE: &str = "container_registry";

/// distribution accepts a token until `exp` plus this leeway
/// (registry/auth/token/token.go `Leeway = 60 * time.Second`).
pub(crate) const REGISTRY_LEEWAY_SECS: i64 = 60;

/// One granted access: `{"type": "repository", "name": path, "actions": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub name: String,
    pub actions: Vec<String>,
}

pub(crate) struct Signer {
    key: EcdsaKeyPair,
    kid: String,
    cert_pem: String,
    rng: SystemRandom,
}

impl Signer {
    pub(crate) fn generate() -> Result<Signer, String> {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| format!("registry token key: {what}: {e}");
        let key_pair = KeyPair::generate().map_err(|e| fail("generate", &e))?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "fake-gitlab registry token issuer");
        let cert = params
            .self_signed(&key_pair)
            .map_err(|e| fail("certificate", &e))?;
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .map_err(|e| fail("pkcs8", &e))?;
        Ok(Signer {
            key,
            kid: libtrust_key_id(&key_pair.public_key_der()),
            cert_pem: cert.pem(),
            rng,
        })
    }

    /// The certificate docker-registry is given as `rootcertbundle`.
    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A signed token for `access`, valid `ttl_secs` from now as the registry judges it
    /// (its leeway included: a short `ttl_secs` makes a token the registry really refuses
    /// that soon, which the token-expiry tests need).
    pub(crate) fn token(&self, subject: Option<&str>, access: &[Access], ttl_secs: i64) -> String {
        let now = unix_now();
        let exp = if ttl_secs < REGISTRY_LEEWAY_SECS {
            now + ttl_secs - REGISTRY_LEEWAY_SECS
        } else {
            now + ttl_secs
        };
        let mut claims = json!({
            "jti": random_hex(&self.rng, 16),
            "aud": SERVICE,
            "iss": ISSUER,
            "iat": now,
            "nbf": now - 5,
            "exp": exp,
            "access": access.iter().map(|a| json!({
                "type": "repository",
                "name": a.name,
                "actions": a.actions,
            })).collect::<Vec<Value>>(),
        });
        if let Some(sub) = subject {
            claims["sub"] = json!(sub);
        }
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("ECDSA signing does not fail");
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }

    /// A token with every action on `repositories`: how GitLab itself talks to its registry
    /// (`full_access_token`, action `*`).
    pub(crate) fn admin_token(&self, repositories: &[&str]) -> String {
        let access: Vec<Access> = repositories
            .iter()
            .map(|name| Access {
                name: name.to_string(),
                actions: vec!["*".into()],
            })
            .collect();
        self.token(None, &access, 300)
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn random_hex(rng: &SystemRandom, bytes: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf).expect("system randomness");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// libtrust's key id: base32 (RFC 4648, no padding) of the first 240 bits of
/// SHA-256(DER SubjectPublicKeyInfo), in groups of four joined by `:`.
fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, spki_der);
    let encoded = base32(&digest.as_ref()[..30]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join(":")
}

fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn key_ids_are_twelve_groups_of_four() {
        let kid = libtrust_key_id(b"any bytes");
        assert_eq!(kid.len(), 12 * 4 + 11);
        assert!(kid.split(':').all(|g| g.len() == 4));
    }

    #[test]
    fn tokens_carry_header_claims_and_a_64_byte_signature() {
        let signer = Signer::generate().unwrap();
        let token = signer.token(
            Some("root"),
            &[Access {
                name: "g/p".into(),
                actions: vec!["pull".into()],
            }],
            300,
        );
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"].as_str().unwrap().len(), 59);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["access"][0]["name"], "g/p");
        assert_eq!(claims["sub"], "root");
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
        assert!(signer.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
