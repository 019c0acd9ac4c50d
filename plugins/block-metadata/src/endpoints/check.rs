//! The one unauthenticated request per open endpoint: a GET over TLS (accepting any certificate,
//! sending none) or plain HTTP, made by this process and carried either over its own TCP
//! connection (from here) or through `nc` run in the source pod with exec (from a pod: the bytes
//! leave from the pod's network namespace, with its address, as a compromised pod's would). The
//! TLS is ours, not the pod's: busybox's TLS client cannot complete a handshake with the Go TLS of
//! the kubelet and the API server, and many images have no client at all. The answer is the HTTP
//! status, or why there is none.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use harden_tls::verifier::{AnyCertificate, client_config};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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

/// TLS that accepts any server certificate (the point is to see what is served without
/// credentials, not to trust it), still checking the handshake's signatures.
fn tls_config() -> Result<Arc<ClientConfig>, String> {
    let verifier = Arc::new(AnyCertificate::new(&rustls::crypto::ring::default_provider()));
    client_config(verifier).map(Arc::new).map_err(|e| format!("TLS setup: {e}"))
}

/// A GET of `path` to `ip:port` over a byte stream already connected there (a TCP socket from
/// here, or `nc` run in a pod): TLS without a client certificate when `tls`, else plain HTTP. The
/// status, or why there is none.
pub async fn get_over<R, W>(mut from: R, mut to: W, tls: bool, ip: IpAddr, port: u16, path: &str) -> Answer
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let address = SocketAddr::new(ip, port);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: kubectl-block-metadata\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let head = if tls {
        tls_head(&mut from, &mut to, ip, &request).await
    } else {
        plain_head(&mut from, &mut to, &request).await
    };
    let answer = |status, why: String| Answer { path: path.to_string(), status, why };
    match head {
        Ok(text) => match status_code(text.lines().next().unwrap_or_default()) {
            Some(status) => answer(Some(status), String::new()),
            None if text.is_empty() => answer(None, "the connection closed without an answer".into()),
            None => answer(None, "not HTTP (no status line)".into()),
        },
        Err(why) => answer(None, why),
    }
}

async fn plain_head<R, W>(from: &mut R, to: &mut W, request: &str) -> Result<String, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    to.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    to.flush().await.map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while head.len() < 4096 && !head.contains(&b'\n') {
        match from.read(&mut buffer).await {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
            Err(e) if head.is_empty() => return Err(e.to_string()),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Drives a rustls client over the stream by hand (the request is buffered until the handshake is
/// done) until the status line has arrived.
async fn tls_head<R, W>(from: &mut R, to: &mut W, ip: IpAddr, request: &str) -> Result<String, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut conn = ClientConnection::new(tls_config()?, ServerName::IpAddress(ip.into()))
        .map_err(|e| format!("TLS setup: {e}"))?;
    conn.writer().write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        while conn.wants_write() {
            let mut out = Vec::new();
            conn.write_tls(&mut out).map_err(|e| e.to_string())?;
            to.write_all(&out).await.map_err(|e| e.to_string())?;
            to.flush().await.map_err(|e| e.to_string())?;
        }
        if head.contains(&b'\n') || head.len() >= 4096 {
            break;
        }
        let n = from.read(&mut buffer).await.map_err(|e| e.to_string())?;
        if n == 0 {
            if conn.is_handshaking() {
                return Err("the connection closed during the TLS handshake (not TLS, or TLS refused)".into());
            }
            break;
        }
        let mut incoming = &buffer[..n];
        while !incoming.is_empty() {
            conn.read_tls(&mut incoming).map_err(|e| e.to_string())?;
            conn.process_new_packets().map_err(|e| format!("TLS: {e}"))?;
        }
        let mut plain = [0u8; 4096];
        loop {
            match conn.reader().read(&mut plain) {
                Ok(0) => break,
                Ok(n) => head.extend_from_slice(&plain[..n]),
                Err(_) => break,
            }
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// A GET from here.
pub async fn get_here(tls: bool, ip: IpAddr, port: u16, path: &str, timeout: Duration) -> Answer {
    let attempt = async {
        match tokio::net::TcpStream::connect(SocketAddr::new(ip, port)).await {
            Ok(stream) => {
                let (from, to) = stream.into_split();
                get_over(from, to, tls, ip, port, path).await
            }
            Err(e) => Answer { path: path.to_string(), status: None, why: format!("cannot connect: {e}") },
        }
    };
    tokio::time::timeout(timeout, attempt).await.unwrap_or_else(|_| Answer {
        path: path.to_string(),
        status: None,
        why: format!("no answer within {}s", timeout.as_secs_f32()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain HTTP server that answers 200 and one that is not HTTP, on loopback.
    #[tokio::test]
    async fn a_get_from_here_reads_the_status_or_says_why_not() {
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
        assert_eq!(get_here(false, ip, port, "/metrics", Duration::from_secs(2)).await.status, Some(200));
        let other = get_here(false, ip, port, "/metrics", Duration::from_secs(2)).await;
        assert_eq!((other.status, other.why.as_str()), (None, "not HTTP (no status line)"));
        server.join().unwrap();
        // Nothing listening any more: no status, and why.
        let gone = get_here(true, ip, port, "/pods", Duration::from_secs(1)).await;
        assert_eq!(gone.status, None);
        assert!(gone.why.starts_with("cannot connect"), "{}", gone.why);
    }
}
