//! Certificates for tests: host lists and an expired certificate (the `testing` feature, for the
//! test modules of the plugins that judge certificates).

#![allow(clippy::unwrap_used, reason = "certificates for tests: a failure fails the test")]

use rcgen::{CertificateParams, KeyPair};
use time::{Duration, OffsetDateTime};

use crate::cert::Material;

pub fn hosts(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A certificate signed by `issuer_key` but valid in the past, for expiry tests.
pub fn expired(host: &str) -> Material {
    let now = OffsetDateTime::now_utc();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
    params.not_before = now - Duration::days(400);
    params.not_after = now - Duration::days(35);
    let cert = params.self_signed(&key).unwrap();
    Material { cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}
