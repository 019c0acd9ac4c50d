//! Downloading published checksum files over HTTPS only (redirects included), trusting the
//! Mozilla roots plus any CAs in `SSL_CERT_FILE` (a mirror or proxy with a private CA).

use std::sync::Arc;
use std::time::Duration;

use harden_cli::error::{Error, ErrorKind, Result};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Checksum files are one line; anything much bigger is not one.
const MAX_BODY: u64 = 64 * 1024;

pub struct Fetcher {
    agent: ureq::Agent,
}

/// The trusted roots: webpki's Mozilla set, plus the certificates in `ssl_cert_file` if given.
pub fn root_certs(ssl_cert_file: Option<&std::path::Path>) -> Result<Vec<Certificate<'static>>> {
    let mut roots: Vec<Certificate<'static>> =
        webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| Certificate::from_der(der.as_ref())).collect();
    if let Some(path) = ssl_cert_file {
        let hint = "point SSL_CERT_FILE at a PEM file of CA certificates, or unset it";
        // A CA bundle is a few hundred certificates; 16 MiB is far beyond any real one.
        let what = format!("SSL_CERT_FILE {}", path.display());
        let pem = harden_cli::files::read_limited(path, &what, 16 * 1024 * 1024).map_err(|e| e.with_hint(hint))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => roots.push(cert.to_owned()),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::invalid(format!("SSL_CERT_FILE {} is not valid PEM: {e}", path.display()))
                        .with_hint(hint));
                }
            }
        }
        if roots.len() == before {
            return Err(
                Error::invalid(format!("SSL_CERT_FILE {} holds no certificates", path.display())).with_hint(hint)
            );
        }
    }
    Ok(roots)
}

impl Fetcher {
    pub fn new(roots: Vec<Certificate<'static>>, timeout: Duration) -> Self {
        let tls = TlsConfig::builder().root_certs(RootCerts::Specific(Arc::new(roots))).build();
        let agent = ureq::Agent::config_builder()
            .https_only(true)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .tls_config(tls)
            .user_agent(concat!("kubectl-verify-bin/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }

    /// GETs `url` and returns the body as text. 404 is NotFound; everything else that fails is Unreachable.
    pub fn get(&self, url: &str) -> Result<String> {
        let mut response = self.call(url, "no checksum published at")?;
        response.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(|e| unreachable(url, describe(e)))
    }

    /// GETs a binary of at most `limit` bytes. An empty body is an error: its digest would be the
    /// SHA-256 of nothing.
    pub fn get_binary(&self, url: &str, limit: u64) -> Result<Vec<u8>> {
        let mut response = self.call(url, "no binary published at")?;
        let body =
            response.body_mut().with_config().limit(limit).read_to_vec().map_err(|e| unreachable(url, describe(e)))?;
        if body.is_empty() {
            return Err(Error::other(format!("downloading {url}: the server sent an empty file")));
        }
        Ok(body)
    }

    fn call(&self, url: &str, missing: &str) -> Result<ureq::http::Response<ureq::Body>> {
        let response = self.agent.get(url).call().map_err(|e| unreachable(url, describe(e)))?;
        let status = response.status().as_u16();
        if status == 404 || status == 403 {
            // dl.k8s.io's bucket answers 403 or 404 for files that do not exist.
            return Err(Error::not_found(format!("{missing} {url} (HTTP {status})")).with_hint(
                "check the version (--version) and platform (--os/--arch); for binaries not published on \
                 dl.k8s.io pass --checksum or --checksum-file",
            ));
        }
        if status != 200 {
            return Err(unreachable(url, format!("the server answered HTTP {status}")));
        }
        Ok(response)
    }
}

fn unreachable(url: &str, why: String) -> Error {
    Error::new(ErrorKind::Unreachable, format!("downloading {url}: {why}"))
        .with_hint("check the network (HTTPS_PROXY) and --base-url, or pass --checksum/--checksum-file")
}

fn describe(err: ureq::Error) -> String {
    match err {
        ureq::Error::RequireHttpsOnly(url) => format!("refusing plain-http {url} (HTTPS only, redirects included)"),
        ureq::Error::BodyExceedsLimit(limit) => format!("the answer is larger than {limit} bytes"),
        ureq::Error::Timeout(_) => "timed out (see --timeout)".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_cert_file_adds_to_the_mozilla_roots() {
        let base = root_certs(None).unwrap().len();
        assert!(base > 100, "webpki roots: {base}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        assert!(root_certs(Some(&empty)).unwrap_err().message.contains("holds no certificates"));
        assert!(root_certs(Some(&dir.path().join("missing.pem"))).unwrap_err().message.contains("cannot read"));
    }

    #[test]
    fn plain_http_is_never_fetched() {
        let fetcher = Fetcher::new(root_certs(None).unwrap(), Duration::from_secs(2));
        let err = fetcher.get("http://127.0.0.1:9/v1.0.0/bin/linux/amd64/kubectl.sha256").unwrap_err();
        assert!(err.message.contains("refusing plain-http"), "{err}");
        assert_eq!(err.kind, ErrorKind::Unreachable);
    }
}
