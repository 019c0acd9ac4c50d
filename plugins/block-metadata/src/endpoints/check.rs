//! The one unauthenticated request per open endpoint, from a pod (busybox `wget` run with exec: it
//! speaks TLS and does not check the certificate, and `-S` prints the status line) and from where
//! the command runs (a TLS client that accepts any certificate and sends none, or plain HTTP).
//! Either way the answer is the HTTP status, or why there is none.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use super::catalog::status_code;

/// One request: its URL, and the status, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub path: String,
    pub status: Option<u16>,
    pub why: String,
}

pub fn url(tls: bool, ip: IpAddr, port: u16, path: &str) -> String {
    format!("{}://{}{path}", if tls { "https" } else { "http" }, SocketAddr::new(ip, port))
}

/// The shell line run in the source pod: busybox wget with `-S`, bounded by a loop as the probe's
/// nc is (busybox 1.35's `wget -T` crashes, and its `timeout` leaves a zombie behind). Exit 127
/// without wget; wget's output, then `__rc=N` or `__ended`.
pub fn wget_script(url: &str, timeout: Duration) -> String {
    let ticks = (timeout.as_secs().max(1) + 2) * 10;
    format!(
        "command -v wget >/dev/null 2>&1 || exit 127; \
         alive() {{ [ -r /proc/$1/stat ] && read -r _ _ st _ < /proc/$1/stat && [ \"$st\" != Z ]; }}; \
         out=$(wget -S -O /dev/null --no-check-certificate '{url}' 2>&1 & pid=$!; i=0; \
         while alive $pid; do if [ $i -ge {ticks} ]; then kill $pid 2>/dev/null; echo __ended; break; fi; \
         sleep 0.1 2>/dev/null || {{ sleep 1; i=$((i+9)); }}; i=$((i+1)); done; wait $pid; echo \"__rc=$?\"); \
         echo \"$out\"; exit 0"
    )
}

/// Reads the script's output: the status line wget printed, or why there is none.
pub fn wget_answer(path: &str, code: Option<i32>, output: &str) -> Answer {
    let answer = |status, why: &str| Answer { path: path.to_string(), status, why: why.to_string() };
    match code {
        Some(127) => return answer(None, "not checked: the pod has no wget"),
        Some(0) => {}
        _ => return answer(None, "not checked: the check's shell failed"),
    }
    if let Some(status) = status_code(output) {
        return answer(Some(status), "");
    }
    if output.lines().any(|l| l.trim() == "__ended") {
        return answer(None, "no answer within the timeout");
    }
    let said = output
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with("wget:") || l.starts_with("ssl_client:"))
        .unwrap_or("no status line");
    answer(None, said)
}

/// Accepts any server certificate (the point is to see what is served without credentials, not
/// to trust it), still checking the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A GET of `path` from here, over TLS without a client certificate when `tls`, else plain HTTP.
/// Blocking: run it off the async runtime.
pub fn get_here(tls: bool, ip: IpAddr, port: u16, path: &str, timeout: Duration) -> Answer {
    let answer = |status, why: String| Answer { path: path.to_string(), status, why };
    let address = SocketAddr::new(ip, port);
    let mut socket = match TcpStream::connect_timeout(&address, timeout) {
        Ok(s) => s,
        Err(e) => return answer(None, format!("cannot connect: {e}")),
    };
    let _ = socket.set_read_timeout(Some(timeout));
    let _ = socket.set_write_timeout(Some(timeout));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: kubectl-block-metadata\r\nConnection: close\r\n\r\n"
    );
    let mut response = Vec::new();
    let result = if tls {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AnyCertificate(provider.signature_verification_algorithms));
        let config = match ClientConfig::builder_with_provider(provider as Arc<CryptoProvider>)
            .with_safe_default_protocol_versions()
        {
            Ok(b) => b.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth(),
            Err(e) => return answer(None, format!("TLS setup: {e}")),
        };
        let mut conn = match ClientConnection::new(Arc::new(config), ServerName::IpAddress(ip.into())) {
            Ok(c) => c,
            Err(e) => return answer(None, format!("TLS setup: {e}")),
        };
        let mut stream = rustls::Stream::new(&mut conn, &mut socket);
        stream.write_all(request.as_bytes()).and_then(|()| read_head(&mut stream, &mut response))
    } else {
        socket.write_all(request.as_bytes()).and_then(|()| read_head(&mut socket, &mut response))
    };
    let text = String::from_utf8_lossy(&response);
    match (status_code(text.lines().next().unwrap_or_default()), result) {
        (Some(status), _) => answer(Some(status), String::new()),
        (None, Err(e)) if tls => answer(None, format!("TLS: {e}")),
        (None, Err(e)) => answer(None, e.to_string()),
        (None, Ok(())) => answer(None, "no HTTP status line".into()),
    }
}

/// Reads until the end of the status line (or 4 KiB, or the end).
fn read_head(reader: &mut impl Read, into: &mut Vec<u8>) -> std::io::Result<()> {
    let mut buffer = [0u8; 1024];
    while into.len() < 4096 && !into.contains(&b'\n') {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => into.extend_from_slice(&buffer[..n]),
            Err(e) if !into.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wget_is_bounded_and_its_status_line_read() {
        let script = wget_script("https://10.0.0.1:10250/pods", Duration::from_secs(2));
        assert!(script.starts_with("command -v wget >/dev/null 2>&1 || exit 127;"), "{script}");
        assert!(script.contains("wget -S -O /dev/null --no-check-certificate 'https://10.0.0.1:10250/pods'"));
        assert!(script.contains("if [ $i -ge 40 ]"), "{script}");
        let unauthorized = "Connecting to 10.0.0.1:10250 (10.0.0.1:10250)\n  HTTP/1.1 401 Unauthorized\n\
                            wget: server returned error: HTTP/1.1 401 Unauthorized\n__rc=1\n";
        assert_eq!(wget_answer("/pods", Some(0), unauthorized).status, Some(401));
        let anonymous = "Connecting to x\n  HTTP/1.0 200 ok\n  Content-type: text/plain\n__rc=0\n";
        assert_eq!(wget_answer("/pods", Some(0), anonymous).status, Some(200));
        let tls =
            wget_answer("/version", Some(0), "Connecting to x\nwget: TLS error from peer (alert code 116): \n__rc=1");
        assert_eq!(tls.status, None);
        assert!(tls.why.starts_with("wget: TLS error"), "{}", tls.why);
        assert_eq!(wget_answer("/x", Some(127), "").why, "not checked: the pod has no wget");
        assert_eq!(wget_answer("/x", Some(0), "__ended\n__rc=143").why, "no answer within the timeout");
    }

    /// A plain HTTP server that answers 200 and one that is not HTTP, on loopback.
    #[test]
    fn a_get_from_here_reads_the_status_or_says_why_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for reply in [&b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..], b"SSH-2.0-OpenSSH\r\n"] {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                s.write_all(reply).unwrap();
            }
        });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(get_here(false, ip, port, "/metrics", Duration::from_secs(2)).status, Some(200));
        let other = get_here(false, ip, port, "/metrics", Duration::from_secs(2));
        assert_eq!(other.status, None);
        server.join().unwrap();
        // Nothing listening any more: no status, and why.
        let gone = get_here(true, ip, port, "/pods", Duration::from_secs(1));
        assert_eq!(gone.status, None);
        assert!(gone.why.starts_with("cannot connect"), "{}", gone.why);
    }
}
