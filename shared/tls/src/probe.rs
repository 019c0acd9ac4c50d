//! The probe of what a server serves (`tls-ingress inspect --probe`, cks-practice's TLS grading):
//! a TLS handshake with the controller's address, with SNI for each host, and the served
//! certificate compared with the one in our Secret. This catches the classic failure
//! where the controller silently serves its default certificate (the Secret in another namespace,
//! a key that does not match, a host not covered, another Ingress claiming the host).
//!
//! The handshake accepts any certificate on purpose: the point is to see what is served, not to
//! trust it. The server's signature over the handshake is still verified, so a served certificate
//! counts as "ours" only when the server holds its key.

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConnection;
use rustls::pki_types::ServerName;
use serde::Serialize;

use crate::cert::{self, CertInfo};
use crate::verifier::{AnyCertificate, client_config};

/// What one handshake showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The leaf served is the Secret's certificate.
    Ours,
    /// A certificate was served, but not ours.
    Another,
    /// Something answered on the port, but not with TLS.
    NoTls,
    /// Nothing to connect to.
    Unreachable,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub host: String,
    /// `ADDRESS:PORT` connected to.
    pub address: String,
    pub verdict: Verdict,
    /// The served leaf (subject, issuer, sha256), when one was served.
    pub served: Option<String>,
    pub detail: String,
}

/// The outcome of one handshake: the chain served (DER, leaf first), or why there is none.
pub enum Handshake {
    Served(Vec<Vec<u8>>),
    NoTls(String),
    Unreachable(String),
}

/// Where to connect: `address` as given when it names a port (`10.0.0.1:8443`, `[::1]:8443`,
/// `lb.example.com:8443`), else with `port` (an IPv6 address in brackets).
pub fn target(address: &str, port: u16) -> String {
    if address.parse::<std::net::SocketAddr>().is_ok()
        || address.rsplit_once(':').is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
    {
        address.to_string()
    } else if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

/// SNI for a host: a wildcard is probed with one concrete name under it.
pub fn sni(host: &str) -> String {
    match host.strip_prefix("*.") {
        Some(rest) => format!("tls-ingress-probe.{rest}"),
        None => host.to_string(),
    }
}

/// Connects to `address` (`HOST:PORT`) and runs a TLS handshake with SNI `server_name`.
pub fn handshake(address: &str, server_name: &str, timeout: Duration) -> Handshake {
    let recorder = Arc::new(AnyCertificate::new(&rustls::crypto::ring::default_provider()));
    let config = match client_config(recorder.clone()) {
        Ok(config) => config,
        Err(e) => return Handshake::Unreachable(format!("TLS setup: {e}")),
    };
    let Ok(name) = ServerName::try_from(server_name.to_string()) else {
        return Handshake::Unreachable(format!("{server_name} is not a valid TLS server name"));
    };
    let addrs: Vec<_> = match address.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(e) => return Handshake::Unreachable(format!("cannot resolve {address}: {e}")),
    };
    let mut last = format!("{address} resolves to no address");
    let mut socket = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                socket = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let Some(mut socket) = socket else { return Handshake::Unreachable(last) };
    let _ = socket.set_read_timeout(Some(timeout));
    let _ = socket.set_write_timeout(Some(timeout));
    let mut conn = match ClientConnection::new(Arc::new(config), name) {
        Ok(c) => c,
        Err(e) => return Handshake::Unreachable(format!("TLS setup: {e}")),
    };
    let mut failure = None;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut socket) {
            failure = Some(e);
            break;
        }
    }
    let chain = recorder.chain();
    match failure {
        // A certificate was presented before the failure: that is what a browser would have seen.
        _ if !chain.is_empty() => Handshake::Served(chain),
        None => Handshake::NoTls("the handshake ended without a certificate".into()),
        Some(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Handshake::NoTls(format!("no TLS answer within {}s (a plain TCP or HTTP server?)", timeout.as_secs()))
        }
        Some(e) if matches!(e.kind(), ErrorKind::ConnectionRefused) => {
            Handshake::Unreachable(format!("connection refused: {e}"))
        }
        Some(e) => Handshake::NoTls(format!("the server did not speak TLS: {e}")),
    }
}

fn describe(leaf: &CertInfo) -> String {
    let names = if leaf.dns_names.is_empty() { "no DNS SANs".to_string() } else { leaf.dns_names.join(", ") };
    format!("subject {}, issuer {}, {names}, sha256 {}", leaf.subject, leaf.issuer, leaf.sha256)
}

/// Compares what a handshake showed with our certificate (`ours`: its sha256, if the Secret
/// holds a readable one). `why` lists the problems already found with the Secret, which are the
/// likely reasons a controller serves something else.
pub fn judge(
    host: &str,
    address: &str,
    outcome: Handshake,
    ours: Option<&str>,
    secret: Option<&str>,
    why: &[String],
) -> ProbeResult {
    let result = |verdict, served, detail: String| ProbeResult {
        host: host.to_string(),
        address: address.to_string(),
        verdict,
        served,
        detail,
    };
    match outcome {
        Handshake::Unreachable(e) => result(Verdict::Unreachable, None, e),
        Handshake::NoTls(e) => result(Verdict::NoTls, None, format!("no TLS: {e}")),
        Handshake::Served(chain) => {
            let leaf = match cert::read_der(&chain[0]) {
                Ok(leaf) => leaf,
                Err(e) => {
                    return result(Verdict::Another, None, format!("serves a certificate that does not parse: {e}"));
                }
            };
            let shown = describe(&leaf);
            if ours == Some(leaf.sha256.as_str()) {
                return result(Verdict::Ours, Some(shown), "serves our certificate".into());
            }
            let secret = secret.unwrap_or("(none)");
            let reason = if let Some(first) = why.first() {
                format!("likely because {first}")
            } else if ours.is_none() {
                format!("secret {secret} holds no readable certificate")
            } else {
                let default = ["fake", "default", "traefik", "envoy", "kubernetes ingress controller"]
                    .iter()
                    .any(|w| leaf.subject.to_lowercase().contains(w) || leaf.issuer.to_lowercase().contains(w));
                format!(
                    "{}the controller has not taken secret {secret}: check its logs; another Ingress or listener may \
                     claim {host}, or the controller may not watch this namespace",
                    if default { "this looks like the controller's default certificate: " } else { "" }
                )
            };
            result(Verdict::Another, Some(shown), format!("serves another certificate: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_the_port_unless_they_name_one() {
        assert_eq!(target("10.0.0.1", 443), "10.0.0.1:443");
        assert_eq!(target("10.0.0.1:8443", 443), "10.0.0.1:8443");
        assert_eq!(target("lb.example.com", 443), "lb.example.com:443");
        assert_eq!(target("lb.example.com:8443", 443), "lb.example.com:8443");
        assert_eq!(target("fd00::1", 443), "[fd00::1]:443");
        assert_eq!(target("[fd00::1]:8443", 443), "[fd00::1]:8443");
    }

    #[test]
    fn wildcards_are_probed_with_a_name_under_them() {
        assert_eq!(sni("*.apps.acme.com"), "tls-ingress-probe.apps.acme.com");
        assert_eq!(sni("a.acme.com"), "a.acme.com");
    }

    #[test]
    fn verdicts_name_the_reason() {
        let hosts = vec!["a.acme.com".to_string()];
        let material = cert::generate(&hosts, cert::KeyType::EcdsaP256, 10, time::OffsetDateTime::now_utc()).unwrap();
        let der = cert::pem_to_der(material.cert_pem.as_bytes()).unwrap();
        let sha = cert::read_der(&der).unwrap().sha256;
        let served = || Handshake::Served(vec![der.clone()]);
        assert_eq!(judge("a.acme.com", "x:443", served(), Some(&sha), Some("s"), &[]).verdict, Verdict::Ours);
        let other =
            judge("a.acme.com", "x:443", served(), Some("00:11"), Some("s"), &["the key does not match".into()]);
        assert_eq!(other.verdict, Verdict::Another);
        assert!(other.detail.contains("likely because the key does not match"), "{}", other.detail);
        let other = judge("a.acme.com", "x:443", served(), Some("00:11"), Some("s"), &[]);
        assert!(other.detail.contains("has not taken secret s"), "{}", other.detail);
        let plain = judge("a.acme.com", "x:443", Handshake::NoTls("eof".into()), Some("00"), None, &[]);
        assert_eq!((plain.verdict, plain.detail.as_str()), (Verdict::NoTls, "no TLS: eof"));
    }

    #[test]
    fn nothing_listening_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        assert!(matches!(handshake(&address, "a.acme.com", Duration::from_secs(2)), Handshake::Unreachable(_)));
    }
}
