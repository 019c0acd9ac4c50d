//! Certificates and keys, without a cluster: generating self-signed server certificates, reading
//! PEM certificates (chains) and private keys, and the checks both `create` and `inspect` rely on
//! (key matches certificate, hosts covered by SANs, validity).
//!
//! Generation uses rcgen on ring. ring cannot generate RSA keys, so RSA keys come from the `rsa`
//! crate and are handed to rcgen as PKCS#8. Reading keys accepts PKCS#8, PKCS#1 (`RSA PRIVATE KEY`)
//! and SEC1 (`EC PRIVATE KEY`), the three forms openssl writes.

use std::fmt;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";

/// Days before expiry from which a certificate counts as expiring soon.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The key types `create` and `rotate` can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcdsaP256,
    Rsa2048,
    Rsa4096,
}

impl KeyType {
    /// Every key type, in the order a list of them is shown.
    pub const ALL: [KeyType; 3] = [KeyType::EcdsaP256, KeyType::Rsa2048, KeyType::Rsa4096];

    /// The key type's name where one is typed or stored (`ecdsa-p256`).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }
}

impl std::str::FromStr for KeyType {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<Self, String> {
        KeyType::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let names: Vec<&str> = KeyType::ALL.iter().map(|k| k.name()).collect();
            format!("no key type {name:?} (one of {})", names.join(", "))
        })
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::Rsa2048 => "RSA 2048",
            KeyType::Rsa4096 => "RSA 4096",
        })
    }
}

/// A certificate chain and its private key, as PEM text (what goes into tls.crt and tls.key).
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    pub cert_pem: String,
    pub key_pem: String,
}

// Never print key material by accident, e.g. in a panic message or a debug log.
impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

/// Generates a self-signed server certificate: every host a DNS SAN, CN the first host, serverAuth.
pub fn generate(hosts: &[String], key_type: KeyType, days: u32, now: OffsetDateTime) -> Result<Material, String> {
    let first = hosts.first().ok_or("at least one host is needed for a certificate")?;
    let key_pair = match key_type {
        KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("generating an ECDSA P-256 key: {e}"))?,
        KeyType::Rsa2048 | KeyType::Rsa4096 => {
            let bits = if key_type == KeyType::Rsa2048 { 2048 } else { 4096 };
            let key =
                rsa::RsaPrivateKey::new(&mut OsRng, bits).map_err(|e| format!("generating an RSA {bits} key: {e}"))?;
            let der = key.to_pkcs8_der().map_err(|e| format!("encoding the RSA key: {e}"))?;
            KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().into(), &rcgen::PKCS_RSA_SHA256)
                .map_err(|e| format!("loading the RSA key: {e}"))?
        }
    };
    let mut params = CertificateParams::new(hosts.to_vec()).map_err(|e| format!("invalid host for a SAN: {e}"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, first.as_str());
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = match key_type {
        KeyType::EcdsaP256 => vec![KeyUsagePurpose::DigitalSignature],
        _ => vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment],
    };
    // Backdated a little so that clients whose clocks lag slightly do not see "not yet valid".
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(i64::from(days));
    let mut serial = [0u8; 16];
    OsRng.fill_bytes(&mut serial);
    serial[0] &= 0x7f; // a positive INTEGER
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key_pair).map_err(|e| format!("signing the certificate: {e}"))?;
    Ok(Material { cert_pem: cert.pem(), key_pem: key_pair.serialize_pem() })
}

/// An RSA public key as its modulus and exponent (big-endian, no leading zeros). Read with the
/// DER structures rather than `rsa::RsaPublicKey`, which refuses keys above 4096 bits: the API
/// server and the common controllers take RSA 8192 certificates, so this must read them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// The largest RSA modulus read: twice what anyone deploys, far below what would be slow.
const RSA_MAX_BITS: usize = 16384;

impl RsaKey {
    fn new(modulus: &[u8], exponent: &[u8]) -> Result<Self, String> {
        let trim = |b: &[u8]| b.iter().position(|&x| x != 0).map_or_else(Vec::new, |i| b[i..].to_vec());
        let key = RsaKey { modulus: trim(modulus), exponent: trim(exponent) };
        if key.bits() < 1024 || key.bits() > RSA_MAX_BITS || key.exponent.is_empty() {
            return Err(format!("an RSA key of {} bits is outside 1024-{RSA_MAX_BITS}", key.bits()));
        }
        Ok(key)
    }

    pub fn bits(&self) -> usize {
        match self.modulus.first() {
            Some(first) => self.modulus.len() * 8 - first.leading_zeros() as usize,
            None => 0,
        }
    }

    fn from_public_der(der: &[u8]) -> Result<Self, String> {
        use rsa::pkcs1::der::Decode;
        let key = rsa::pkcs1::RsaPublicKey::from_der(der).map_err(|e| e.to_string())?;
        RsaKey::new(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }

    fn from_private_der(der: &[u8]) -> Result<Self, String> {
        use rsa::pkcs1::der::Decode;
        let key = rsa::pkcs1::RsaPrivateKey::from_der(der).map_err(|e| e.to_string())?;
        RsaKey::new(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }
}

/// A public key, compared by value (so PKCS#1/PKCS#8/SEC1 and compressed points all compare equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa(RsaKey),
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    /// Ed25519 and anything else: the algorithm OID and the raw key bits.
    Other(String, Vec<u8>),
}

impl PublicKey {
    /// "ECDSA P-256", "RSA 2048", ...
    pub fn describe(&self) -> String {
        match self {
            PublicKey::Rsa(key) => format!("RSA {}", key.bits()),
            PublicKey::P256(_) => "ECDSA P-256".into(),
            PublicKey::P384(_) => "ECDSA P-384".into(),
            PublicKey::Other(oid, _) if oid == OID_ED25519 => "Ed25519".into(),
            PublicKey::Other(oid, _) => format!("key algorithm {oid}"),
        }
    }

    /// The generatable key type this is, if any (rotate keeps the type of the key it replaces).
    pub fn key_type(&self) -> Option<KeyType> {
        match self {
            PublicKey::P256(_) => Some(KeyType::EcdsaP256),
            PublicKey::Rsa(key) if key.bits() == 2048 => Some(KeyType::Rsa2048),
            PublicKey::Rsa(key) if key.bits() == 4096 => Some(KeyType::Rsa4096),
            _ => None,
        }
    }

    fn from_spki(spki: &SubjectPublicKeyInfo) -> Result<Self, String> {
        let oid = spki.algorithm.algorithm.to_id_string();
        let bits: &[u8] = &spki.subject_public_key.data;
        match oid.as_str() {
            OID_RSA => RsaKey::from_public_der(bits)
                .map(PublicKey::Rsa)
                .map_err(|e| format!("the certificate's RSA public key does not parse: {e}")),
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    OID_P256 => p256::PublicKey::from_sec1_bytes(bits).map(PublicKey::P256),
                    OID_P384 => p384::PublicKey::from_sec1_bytes(bits).map(PublicKey::P384),
                    _ => return Ok(PublicKey::Other(format!("{oid}/{curve}"), bits.to_vec())),
                }
                .map_err(|e| format!("the certificate's EC public key does not parse: {e}"))
            }
            _ => Ok(PublicKey::Other(oid, bits.to_vec())),
        }
    }
}

/// What we read from one certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub subject: String,
    pub common_name: Option<String>,
    pub issuer: String,
    pub dns_names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Issuer equals subject and the certificate's own key verifies its signature.
    pub self_signed: bool,
    pub public_key: Result<PublicKey, String>,
    /// SHA-256 of the DER, as `AB:CD:...`.
    pub sha256: String,
    /// basicConstraints says CA: clients refuse it as a server certificate (webpki's
    /// `CaUsedAsEndEntity`).
    pub is_ca: bool,
}

fn read_certificate(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(dns.to_string()),
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("the subjectAltName extension does not parse: {e}")),
    };
    let common_name = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned);
    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw() && cert.verify_signature(None).is_ok();
    let digest = Sha256::digest(der);
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        common_name,
        issuer: cert.issuer().to_string(),
        dns_names,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        self_signed,
        public_key: PublicKey::from_spki(cert.public_key()),
        sha256: digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"),
        is_ca: cert.basic_constraints().ok().flatten().is_some_and(|bc| bc.value.ca),
    })
}

fn pem_blocks(text: &[u8], what: &str) -> Result<Vec<Pem>, String> {
    let blocks: Vec<Pem> = Pem::iter_from_buffer(text)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the {what} is not valid PEM: {e}"))?;
    if blocks.is_empty() {
        return Err(format!("the {what} contains no PEM block (expected -----BEGIN ...-----)"));
    }
    Ok(blocks)
}

/// Reads one DER certificate (as a TLS server presents it).
pub fn read_der(der: &[u8]) -> Result<CertInfo, String> {
    read_certificate(der)
}

/// The DER of the first CERTIFICATE block of a PEM text.
#[cfg(test)]
pub fn pem_to_der(text: &[u8]) -> Result<Vec<u8>, String> {
    pem_blocks(text, "certificate")?
        .into_iter()
        .find(|b| b.label == "CERTIFICATE")
        .map(|b| b.contents)
        .ok_or_else(|| "no CERTIFICATE block".to_string())
}

/// Reads a PEM certificate chain (server certificate first). Blocks other than CERTIFICATE are ignored.
pub fn parse_chain(text: &[u8]) -> Result<Vec<CertInfo>, String> {
    let blocks = pem_blocks(text, "certificate")?;
    let mut chain = Vec::new();
    for block in blocks.iter().filter(|b| b.label == "CERTIFICATE") {
        let info = read_certificate(&block.contents)
            .map_err(|e| format!("certificate {} of the chain: {e}", chain.len() + 1))?;
        chain.push(info);
    }
    if chain.is_empty() {
        let labels: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
        return Err(format!("no CERTIFICATE block in the certificate PEM (found {})", labels.join(", ")));
    }
    Ok(chain)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1) and derives its public key.
pub fn parse_key(text: &[u8]) -> Result<PublicKey, String> {
    let blocks = pem_blocks(text, "private key")?;
    let keys: Vec<&Pem> = blocks.iter().filter(|b| b.label.ends_with("PRIVATE KEY")).collect();
    let block = match keys.as_slice() {
        [] => {
            let labels: Vec<&str> = blocks.iter().map(|b| b.label.as_str()).collect();
            return Err(format!("no PRIVATE KEY block in the key PEM (found {})", labels.join(", ")));
        }
        [one] => *one,
        _ => return Err(format!("the key PEM holds {} private keys; give exactly one", keys.len())),
    };
    let der = block.contents.as_slice();
    match block.label.as_str() {
        "PRIVATE KEY" => pkcs8_public_key(der),
        "RSA PRIVATE KEY" => RsaKey::from_private_der(der)
            .map(PublicKey::Rsa)
            .map_err(|e| format!("the RSA private key does not parse: {e}")),
        "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(der)
            .map(|k| PublicKey::P256(k.public_key()))
            .or_else(|_| p384::SecretKey::from_sec1_der(der).map(|k| PublicKey::P384(k.public_key())))
            .map_err(|_| "the EC private key does not parse (supported curves: P-256, P-384)".to_string()),
        "ENCRYPTED PRIVATE KEY" => Err("the private key is encrypted; ingress controllers need an unencrypted key \
             (decrypt it with `openssl pkey -in KEY -out KEY.plain`)"
            .into()),
        other => Err(format!("unsupported private key type {other:?}")),
    }
}

fn pkcs8_public_key(der: &[u8]) -> Result<PublicKey, String> {
    let info =
        rsa::pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| format!("the PKCS#8 private key does not parse: {e}"))?;
    let oid = info.algorithm.oid.to_string();
    match oid.as_str() {
        OID_RSA => RsaKey::from_private_der(info.private_key)
            .map(PublicKey::Rsa)
            .map_err(|e| format!("the RSA private key does not parse: {e}")),
        OID_EC => p256::SecretKey::from_pkcs8_der(der)
            .map(|k| PublicKey::P256(k.public_key()))
            .or_else(|_| p384::SecretKey::from_pkcs8_der(der).map(|k| PublicKey::P384(k.public_key())))
            .map_err(|_| "the EC private key does not parse (supported curves: P-256, P-384)".to_string()),
        _ => KeyPair::try_from(der)
            .map(|k| PublicKey::Other(oid.clone(), k.public_key_raw().to_vec()))
            .map_err(|e| format!("unsupported private key algorithm {oid}: {e}")),
    }
}

/// Whether a certificate name (`*.example.com` allowed) covers `host`, as TLS clients decide:
/// a wildcard stands for exactly one left-most label.
pub fn name_covers(name: &str, host: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if name == host {
        return true;
    }
    match (name.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((label, rest))) => !label.is_empty() && label != "*" && rest == suffix,
        _ => false,
    }
}

/// The hosts a certificate's DNS SANs do not cover. The CN is ignored, as modern clients do.
pub fn uncovered_hosts<'a>(cert: &CertInfo, hosts: &'a [String]) -> Vec<&'a String> {
    hosts.iter().filter(|h| !cert.dns_names.iter().any(|n| name_covers(n, h))).collect()
}

/// Where `now` is in a certificate's validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    NotYetValid,
    /// Days left, rounded down.
    Valid(i64),
    /// Days since expiry, rounded down.
    Expired(i64),
}

pub fn validity(cert: &CertInfo, now: OffsetDateTime) -> Validity {
    if now < cert.not_before {
        Validity::NotYetValid
    } else if now > cert.not_after {
        Validity::Expired((now - cert.not_after).whole_days())
    } else {
        Validity::Valid((cert.not_after - now).whole_days())
    }
}

/// Everything wrong with a certificate chain and key for serving `hosts` at `now`.
/// An empty list means the pair is usable.
pub fn problems(cert_pem: &[u8], key_pem: &[u8], hosts: &[String], now: OffsetDateTime) -> Result<Vec<String>, String> {
    let chain = parse_chain(cert_pem)?;
    let key = parse_key(key_pem)?;
    let leaf = &chain[0];
    let mut found: Vec<String> = key_problem(&chain, &key).into_iter().collect();
    found.extend(coverage_problem(leaf, hosts));
    found.extend(ca_problem(leaf));
    match validity(leaf, now) {
        Validity::NotYetValid => found.push(format!("the certificate is not valid before {}", date(leaf.not_before))),
        Validity::Expired(days) => {
            found.push(format!("the certificate expired on {} ({days} days ago)", date(leaf.not_after)))
        }
        Validity::Valid(_) => {}
    }
    Ok(found)
}

/// Why the key does not fit the chain's first certificate, if it does not.
pub fn key_problem(chain: &[CertInfo], key: &PublicKey) -> Option<String> {
    let leaf = chain.first()?;
    match &leaf.public_key {
        Ok(cert_key) if cert_key == key => None,
        Ok(_) => {
            let later = chain.iter().skip(1).position(|c| c.public_key.as_ref().is_ok_and(|k| k == key));
            Some(match later {
                Some(i) => format!(
                    "the private key matches certificate {} of the chain, not the first: put the server certificate first",
                    i + 2
                ),
                None => format!(
                    "the private key ({}) does not match the certificate (subject {})",
                    key.describe(),
                    leaf.subject
                ),
            })
        }
        Err(e) => Some(e.clone()),
    }
}

/// A CA certificate given as the server's: what clients report as `CaUsedAsEndEntity`, in words.
/// A self-signed one is left alone: `openssl req -x509` (the seed's command) marks its certificates
/// CA:TRUE by default, and browsers and Go clients accept them once trusted.
pub fn ca_problem(leaf: &CertInfo) -> Option<String> {
    (leaf.is_ca && !leaf.self_signed).then(|| {
        "this certificate is a CA certificate, not a server certificate (clients refuse it: CaUsedAsEndEntity); \
         issue a server certificate for the hosts from that CA and give that one"
            .to_string()
    })
}

/// Which hosts the certificate does not cover and what it does cover, if any host is left out.
pub fn coverage_problem(leaf: &CertInfo, hosts: &[String]) -> Option<String> {
    let uncovered = uncovered_hosts(leaf, hosts);
    if uncovered.is_empty() {
        return None;
    }
    let names = if leaf.dns_names.is_empty() {
        format!("it has no DNS SANs (CN={}, which clients ignore)", leaf.common_name.as_deref().unwrap_or("-"))
    } else {
        format!("its DNS SANs are {}", leaf.dns_names.join(", "))
    };
    let hosts: Vec<&str> = uncovered.iter().map(|h| h.as_str()).collect();
    Some(format!("the certificate does not cover {}: {names}", hosts.join(", ")))
}

/// A date as `2026-11-29 05:00 UTC`.
pub fn date(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{expired, hosts};

    /// Issue 16: a CA certificate given as the server's surfaced as webpki's `CaUsedAsEndEntity`.
    #[test]
    fn a_ca_certificate_as_the_server_certificate_is_a_sentence() {
        let now = OffsetDateTime::now_utc();
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let root_cert = root.self_signed(&root_key).unwrap();
        let issuer = rcgen::Issuer::new(root, &root_key);
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(vec!["a.acme.com".to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let found =
            problems(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), &hosts(&["a.acme.com"]), now).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("this certificate is a CA certificate, not a server certificate"), "{found:?}");
        // openssl req -x509 (the seed's command) marks self-signed certificates CA:TRUE: not refused.
        let own = problems(root_cert.pem().as_bytes(), root_key.serialize_pem().as_bytes(), &[], now).unwrap();
        assert!(own.is_empty(), "{own:?}");
    }

    #[test]
    fn generated_ecdsa_certificate_has_the_sans_cn_validity_and_matching_key() {
        let now = OffsetDateTime::now_utc();
        let names = hosts(&["accounting.internal.acme.com", "*.apps.acme.com"]);
        let material = generate(&names, KeyType::EcdsaP256, 90, now).unwrap();
        assert!(material.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let chain = parse_chain(material.cert_pem.as_bytes()).unwrap();
        let leaf = &chain[0];
        assert_eq!(leaf.dns_names, names);
        assert_eq!(leaf.common_name.as_deref(), Some("accounting.internal.acme.com"));
        assert!(leaf.self_signed);
        assert_eq!(validity(leaf, now), Validity::Valid(89));
        assert!((leaf.not_after - now - Duration::days(90)).abs() < Duration::seconds(2));
        let key = parse_key(material.key_pem.as_bytes()).unwrap();
        assert_eq!(leaf.public_key.as_ref().unwrap(), &key);
        assert_eq!(key.key_type(), Some(KeyType::EcdsaP256));
        assert!(problems(material.cert_pem.as_bytes(), material.key_pem.as_bytes(), &names, now).unwrap().is_empty());
        assert!(
            problems(material.cert_pem.as_bytes(), material.key_pem.as_bytes(), &hosts(&["x.apps.acme.com"]), now)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn generated_certificate_has_server_auth_and_is_not_a_ca() {
        let material = generate(&hosts(&["a.example.com"]), KeyType::EcdsaP256, 1, OffsetDateTime::now_utc()).unwrap();
        let der = Pem::iter_from_buffer(material.cert_pem.as_bytes()).next().unwrap().unwrap().contents;
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth);
        let basic = cert.basic_constraints().unwrap().unwrap().value;
        assert!(!basic.ca);
    }

    #[test]
    fn generated_rsa_certificate_uses_an_rsa_2048_key() {
        let names = hosts(&["rsa.example.com"]);
        let now = OffsetDateTime::now_utc();
        let material = generate(&names, KeyType::Rsa2048, 30, now).unwrap();
        let leaf = parse_chain(material.cert_pem.as_bytes()).unwrap().remove(0);
        let key = parse_key(material.key_pem.as_bytes()).unwrap();
        assert_eq!(key.describe(), "RSA 2048");
        assert_eq!(leaf.public_key.unwrap(), key);
        assert!(problems(material.cert_pem.as_bytes(), material.key_pem.as_bytes(), &names, now).unwrap().is_empty());
    }

    #[test]
    fn a_wrong_key_is_detected() {
        let now = OffsetDateTime::now_utc();
        let names = hosts(&["a.example.com"]);
        let one = generate(&names, KeyType::EcdsaP256, 30, now).unwrap();
        let other = generate(&names, KeyType::EcdsaP256, 30, now).unwrap();
        let found = problems(one.cert_pem.as_bytes(), other.key_pem.as_bytes(), &names, now).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("does not match the certificate"), "{found:?}");
    }

    #[test]
    fn a_key_matching_a_later_chain_certificate_says_to_reorder() {
        let now = OffsetDateTime::now_utc();
        let names = hosts(&["a.example.com"]);
        let one = generate(&names, KeyType::EcdsaP256, 30, now).unwrap();
        let other = generate(&names, KeyType::EcdsaP256, 30, now).unwrap();
        let chain = format!("{}{}", other.cert_pem, one.cert_pem);
        let found = problems(chain.as_bytes(), one.key_pem.as_bytes(), &names, now).unwrap();
        assert!(found[0].contains("certificate 2 of the chain"), "{found:?}");
    }

    #[test]
    fn an_expired_certificate_is_detected() {
        let material = expired("old.example.com");
        let found = problems(
            material.cert_pem.as_bytes(),
            material.key_pem.as_bytes(),
            &hosts(&["old.example.com"]),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("expired on") && found[0].contains("35 days ago"), "{found:?}");
    }

    #[test]
    fn a_host_not_covered_is_detected() {
        let now = OffsetDateTime::now_utc();
        let material = generate(&hosts(&["*.acme.com"]), KeyType::EcdsaP256, 30, now).unwrap();
        let found = problems(
            material.cert_pem.as_bytes(),
            material.key_pem.as_bytes(),
            &hosts(&["a.acme.com", "a.b.acme.com", "acme.com"]),
            now,
        )
        .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("does not cover a.b.acme.com, acme.com: its DNS SANs are *.acme.com"), "{found:?}");
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(name_covers("*.acme.com", "a.acme.com"));
        assert!(name_covers("*.acme.com", "*.acme.com"));
        assert!(name_covers("A.Acme.com.", "a.acme.com"));
        assert!(!name_covers("*.acme.com", "acme.com"));
        assert!(!name_covers("*.acme.com", "a.b.acme.com"));
        assert!(!name_covers("a.acme.com", "b.acme.com"));
        assert!(!name_covers("*.acme.com", ".acme.com"));
    }

    #[test]
    fn pkcs1_and_sec1_keys_are_read() {
        use p256::pkcs8::LineEnding;
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let rsa_key = rsa::RsaPrivateKey::new(&mut OsRng, 1024).unwrap();
        let pem = rsa_key.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        use rsa::traits::PublicKeyParts;
        let public = rsa_key.to_public_key();
        let expected = RsaKey::new(&public.n().to_bytes_be(), &public.e().to_bytes_be()).unwrap();
        assert_eq!(parse_key(pem.as_bytes()).unwrap(), PublicKey::Rsa(expected));

        let ec_key = p256::SecretKey::random(&mut OsRng);
        let pem = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            ec_key.to_sec1_pem(LineEnding::LF).unwrap().as_str()
        );
        assert_eq!(parse_key(pem.as_bytes()).unwrap(), PublicKey::P256(ec_key.public_key()));
    }

    #[test]
    fn garbage_and_wrong_blocks_give_clear_errors() {
        let err = parse_chain(b"hello, not a certificate").unwrap_err();
        assert!(err.contains("contains no PEM block"), "{err}");
        let err = parse_chain(b"-----BEGIN CERTIFICATE-----\nbm90IGRlcg==\n-----END CERTIFICATE-----\n").unwrap_err();
        assert!(err.contains("certificate 1 of the chain: not an X.509 certificate"), "{err}");
        let material = generate(&hosts(&["a.example.com"]), KeyType::EcdsaP256, 1, OffsetDateTime::now_utc()).unwrap();
        let err = parse_key(material.cert_pem.as_bytes()).unwrap_err();
        assert!(err.contains("no PRIVATE KEY block") && err.contains("CERTIFICATE"), "{err}");
        let err = parse_chain(material.key_pem.as_bytes()).unwrap_err();
        assert!(err.contains("no CERTIFICATE block"), "{err}");
        let err = parse_key(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
            .unwrap_err();
        assert!(err.contains("encrypted"), "{err}");
    }

    #[test]
    fn material_debug_hides_the_key() {
        let material = Material { cert_pem: "C".into(), key_pem: "SECRET".into() };
        assert!(!format!("{material:?}").contains("SECRET"));
    }
}
