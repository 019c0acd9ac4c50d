//! The TLS checks of scenario 4: the certificate's SANs cover the host (clients ignore the CN), it is
//! valid now, and the private key is the certificate's (same public key).

use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::pkcs1::DecodeRsaPrivateKey;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

use crate::grade::Check;

/// Whether a certificate name (`*.example.com` allowed) covers `host`: a wildcard stands for
/// exactly one left-most label.
pub fn name_covers(name: &str, host: &str) -> bool {
    let (name, host) =
        (name.trim_end_matches('.').to_ascii_lowercase(), host.trim_end_matches('.').to_ascii_lowercase());
    match name.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => name == host,
    }
}

/// The public key (SubjectPublicKeyInfo DER) of a PEM private key: RSA (PKCS#1 or PKCS#8) or P-256
/// (SEC1 or PKCS#8), what `openssl req -newkey` and `kubectl create secret tls` take.
pub fn key_spki(pem: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the key is not PEM text".to_string())?;
    let from_rsa = |key: rsa::RsaPrivateKey| {
        key.to_public_key().to_public_key_der().map(|d| d.as_bytes().to_vec()).map_err(|e| e.to_string())
    };
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(text) {
        return from_rsa(key);
    }
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs1_pem(text) {
        return from_rsa(key);
    }
    let ec = p256::SecretKey::from_pkcs8_pem(text).or_else(|_| p256::SecretKey::from_sec1_pem(text));
    match ec {
        Ok(key) => key.public_key().to_public_key_der().map(|d| d.as_bytes().to_vec()).map_err(|e| e.to_string()),
        Err(_) => Err("tls.key is not an RSA or P-256 private key in PEM (PKCS#1, SEC1 or PKCS#8)".into()),
    }
}

/// The certificate checks for `host`, on the PEM texts of tls.crt and tls.key.
pub fn grade(cert_pem: &[u8], key_pem: &[u8], host: &str, now: OffsetDateTime) -> Vec<Check> {
    let covers = format!("the certificate covers {host} in its subjectAltName");
    let valid = "the certificate is valid now".to_string();
    let matches = "the private key matches the certificate".to_string();
    let pem = match Pem::iter_from_buffer(cert_pem).next() {
        Some(Ok(pem)) if pem.label == "CERTIFICATE" => pem,
        _ => {
            let reason = "tls.crt holds no PEM CERTIFICATE block".to_string();
            return vec![
                Check::new(covers, false, reason.clone()),
                Check::new(valid, false, reason.clone()),
                Check::new(matches, false, reason),
            ];
        }
    };
    let cert = match pem.parse_x509() {
        Ok(cert) => cert,
        Err(e) => {
            let reason = format!("tls.crt does not parse as X.509: {e}");
            return vec![
                Check::new(covers, false, reason.clone()),
                Check::new(valid, false, reason.clone()),
                Check::new(matches, false, reason),
            ];
        }
    };
    let mut sans: Vec<String> = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push(dns.to_string()),
                GeneralName::IPAddress(ip) => sans.push(format!("IP {ip:?}")),
                _ => {}
            }
        }
    }
    let cn: Vec<String> =
        cert.subject().iter_common_name().filter_map(|c| c.as_str().ok()).map(str::to_string).collect();
    let mut checks = Vec::new();
    if sans.iter().any(|s| name_covers(s, host)) {
        checks.push(Check::new(covers, true, format!("its DNS names are {}", sans.join(", "))));
    } else {
        let shown = if sans.is_empty() {
            "it has no subjectAltName".to_string()
        } else {
            format!("its DNS names are {}", sans.join(", "))
        };
        let cn_note = if cn.iter().any(|c| name_covers(c, host)) {
            format!(
                "; its CN is {host}, which clients ignore when checking the name (add -addext \"subjectAltName=DNS:{host}\")"
            )
        } else {
            String::new()
        };
        checks.push(Check::new(covers, false, format!("{shown}, none covers {host}{cn_note}")));
    }
    let (from, until) = (cert.validity().not_before.to_datetime(), cert.validity().not_after.to_datetime());
    let ok = from <= now && now <= until;
    let reason = if ok {
        format!("valid from {} until {}", from.date(), until.date())
    } else if now < from {
        format!("not valid before {}", from.date())
    } else {
        format!("expired on {}", until.date())
    };
    checks.push(Check::new(valid, ok, reason));
    let cert_key = cert.public_key().raw.to_vec();
    match key_spki(key_pem) {
        Ok(key) if key == cert_key => {
            checks.push(Check::new(matches, true, "tls.key holds the certificate's key pair"))
        }
        Ok(_) => checks.push(Check::new(
            matches,
            false,
            "tls.key's public key differs from the certificate's: the key belongs to another certificate",
        )),
        Err(e) => checks.push(Check::new(matches, false, e)),
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(sans: &[&str], cn: &str) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_matching_certificate_for_the_host_passes() {
        let (cert, key) = material(&["web.t75.example.com"], "web");
        let checks = grade(cert.as_bytes(), key.as_bytes(), "web.t75.example.com", OffsetDateTime::now_utc());
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
    }

    #[test]
    fn the_cn_alone_does_not_cover_the_host_and_says_why() {
        let (cert, key) = material(&[], "web.t75.example.com");
        let checks = grade(cert.as_bytes(), key.as_bytes(), "web.t75.example.com", OffsetDateTime::now_utc());
        assert!(!checks[0].passed);
        assert!(
            checks[0].reason.contains("no subjectAltName") && checks[0].reason.contains("clients ignore"),
            "{}",
            checks[0].reason
        );
    }

    #[test]
    fn another_key_is_caught() {
        let (cert, _) = material(&["a.example.com"], "a");
        let (_, other) = material(&["a.example.com"], "a");
        let checks = grade(cert.as_bytes(), other.as_bytes(), "a.example.com", OffsetDateTime::now_utc());
        assert!(!checks[2].passed && checks[2].reason.contains("differs"), "{checks:?}");
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_covers("*.example.com", "a.example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(name_covers("A.example.com.", "a.example.com"));
    }
}
