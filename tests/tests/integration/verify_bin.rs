//! `kubectl verify-bin` on real binaries: the machine's kubectl and the kube-apiserver the harness
//! built, checked against `sha256sum`/`sha512sum`; a tampered copy; checksums served over HTTPS
//! by a local server with a test CA, laid out like dl.k8s.io; and bad input.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harden_tests::{controlplane, plugin_command, run, stderr, stdout};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;

fn verify_bin() -> Command {
    plugin_command("verify-bin")
}

/// The kube-apiserver built by the harness (no cluster needs to run).
fn kube_apiserver() -> PathBuf {
    let dir = controlplane::build_binaries().expect("building kube-apiserver");
    dir.join("kube-apiserver")
}

fn kubectl() -> PathBuf {
    let out = run(Command::new("sh").args(["-c", "command -v kubectl"]));
    assert!(out.status.success(), "these tests need kubectl in PATH");
    PathBuf::from(stdout(&out).trim())
}

/// What `sha256sum`/`sha512sum` say, independently of the plugin.
fn coreutils_sum(tool: &str, path: &Path) -> String {
    let out = run(Command::new(tool).arg(path));
    assert!(out.status.success(), "{tool} {}", path.display());
    stdout(&out).split_whitespace().next().unwrap().to_string()
}

fn kubectl_version() -> String {
    let out = run(Command::new(kubectl()).args(["version", "--client", "-o", "json"]));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    json["clientVersion"]["gitVersion"].as_str().unwrap().to_string()
}

/// The Go-style name of this machine's platform, which native binaries' headers must show.
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

fn json_reports(out: &std::process::Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn real_binaries_hash_like_sha256sum_and_sha512sum() {
    for binary in [kubectl(), kube_apiserver()] {
        let sha256 = coreutils_sum("sha256sum", &binary);
        let sha512 = coreutils_sum("sha512sum", &binary);

        let out = run(verify_bin().arg(&binary).args(["--checksum", &sha256, "-o", "json"]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let report = &json_reports(&out)[0];
        assert_eq!(report["actual"], sha256.as_str());
        assert_eq!(report["algorithm"], "sha256");
        assert_eq!(report["verdict"], "OK");
        assert_eq!(format!("{}/{}", report["os"].as_str().unwrap(), report["arch"].as_str().unwrap()), host_platform());

        // sha512 from a sha512sum-style file; the algorithm follows from the digest length.
        let dir = tempfile::tempdir().unwrap();
        let sums = dir.path().join("SHA512SUMS");
        let name = binary.file_name().unwrap().to_str().unwrap();
        std::fs::write(&sums, format!("{}  other-binary\n{sha512}  {name}\n", "0".repeat(128))).unwrap();
        let out = run(verify_bin().arg(&binary).arg("--checksum-file").arg(&sums).args(["--version", "v1.2.3"]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let line = stdout(&out);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words, [name, "v1.2.3", host_platform().as_str(), "OK"], "{line}");
    }
}

#[test]
fn a_tampered_copy_is_a_mismatch_with_both_digests() {
    let original = kube_apiserver();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("kube-apiserver");
    std::fs::copy(&original, &copy).unwrap();
    let mut data = std::fs::read(&copy).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0x01;
    std::fs::write(&copy, &data).unwrap();
    drop(data);

    let expected = coreutils_sum("sha256sum", &original);
    let actual = coreutils_sum("sha256sum", &copy);
    assert_ne!(expected, actual);
    // The seed's way of writing the file: `echo "$(cat kubeadm.sha256) kubeadm"`.
    let sums = dir.path().join("kube-apiserver.sha256");
    std::fs::write(&sums, format!("{expected} kube-apiserver\n")).unwrap();

    let out = run(verify_bin().arg(&copy).arg("--checksum-file").arg(&sums));
    assert_eq!(out.status.code(), Some(1), "mismatch exits 1: {}", stderr(&out));
    let text = stdout(&out);
    let first: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first, ["kube-apiserver", "-", host_platform().as_str(), "MISMATCH"], "{text}");
    assert!(text.contains(&format!("expected: sha256 {expected}")), "{text}");
    assert!(text.contains(&format!("actual:   sha256 {actual}")), "{text}");

    // The untouched original still passes with the same file.
    let out = run(verify_bin().arg(&original).arg("--checksum-file").arg(&sums));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A tiny HTTPS file server on 127.0.0.1 with a certificate from a fresh test CA.
struct HttpsServer {
    base: String,
    ca_file: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

fn https_server(files: HashMap<String, String>) -> HttpsServer {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert: CertificateDer<'static> = params.signed_by(&key, &issuer).unwrap().der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let config = Arc::new(config);

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://127.0.0.1:{}/release", listener.local_addr().unwrap().port());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let files = Arc::new(files);
    let log = requests.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, files, log) = (config.clone(), files.clone(), log.clone());
            std::thread::spawn(move || serve(tcp, config, &files, &log));
        }
    });
    HttpsServer { base, ca_file, requests, _dir: dir }
}

fn serve(
    tcp: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    files: &HashMap<String, String>,
    log: &Mutex<Vec<String>>,
) {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), tcp);
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return, // e.g. a client that does not trust the test CA
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    log.lock().unwrap().push(path.clone());
    let (status, body) = match files.get(&path) {
        Some(body) => ("200 OK", body.as_str()),
        None => ("404 Not Found", "not found\n"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(response.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

#[test]
fn published_checksums_are_fetched_over_https_by_version_and_platform() {
    let apiserver = kube_apiserver();
    let kubectl = kubectl();
    let kubectl_version = kubectl_version();
    let platform = host_platform();
    // A copy of kube-apiserver named kube-scheduler: it answers --version like the real one, but
    // the published kube-scheduler checksum is not its digest.
    let bins = tempfile::tempdir().unwrap();
    let scheduler = bins.path().join("kube-scheduler");
    std::fs::copy(&apiserver, &scheduler).unwrap();

    let files = HashMap::from([
        // dl.k8s.io serves the bare hex without a newline.
        (format!("/release/v1.37.2/bin/{platform}/kube-apiserver.sha256"), coreutils_sum("sha256sum", &apiserver)),
        (format!("/release/v1.37.2/bin/{platform}/kube-scheduler.sha256"), "ab".repeat(32)),
        (
            format!("/release/{kubectl_version}/bin/{platform}/kubectl.sha256"),
            coreutils_sum("sha256sum", &kubectl) + "\n",
        ),
        (format!("/release/{kubectl_version}/bin/{platform}/kubectl.sha512"), coreutils_sum("sha512sum", &kubectl)),
    ]);
    let server = https_server(files);

    // Versions are asked from the binaries themselves; OS/arch come from their headers.
    let out = run(verify_bin()
        .arg(&apiserver)
        .arg(&kubectl)
        .arg(&scheduler)
        .args(["--base-url", &server.base])
        .env("SSL_CERT_FILE", &server.ca_file));
    assert_eq!(out.status.code(), Some(1), "one mismatch: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["kube-apiserver", "v1.37.2", platform.as_str(), "OK"], "{text}");
    assert_eq!(lines[1], ["kubectl", kubectl_version.as_str(), platform.as_str(), "OK"], "{text}");
    assert_eq!(lines[2], ["kube-scheduler", "v1.37.2", platform.as_str(), "MISMATCH"], "{text}");
    assert!(text.contains(&format!("{}/v1.37.2/bin/{platform}/kube-scheduler.sha256", server.base)), "{text}");
    let requested = server.requests.lock().unwrap().clone();
    assert!(requested.contains(&format!("/release/v1.37.2/bin/{platform}/kube-apiserver.sha256")), "{requested:?}");

    // sha512, and the default set: KUBECTL_PATH plus the platform binaries in PATH.
    let path_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&apiserver, path_dir.path().join("kube-apiserver")).unwrap();
    let out = run(verify_bin()
        .args(["--base-url", &server.base, "--algorithm", "sha512", "-o", "json"])
        .env("SSL_CERT_FILE", &server.ca_file)
        .env("KUBECTL_PATH", &kubectl)
        .env("PATH", path_dir.path()));
    assert_eq!(out.status.code(), Some(2), "kube-apiserver has no .sha512 on the server: {}", stderr(&out));
    let reports = json_reports(&out);
    assert_eq!(reports[0]["name"], "kubectl");
    assert_eq!(reports[0]["verdict"], "OK");
    assert_eq!(reports[0]["actual"], coreutils_sum("sha512sum", &kubectl).as_str());
    assert_eq!(reports[1]["name"], "kube-apiserver");
    assert_eq!(reports[1]["verdict"], "ERROR");
    assert!(reports[1]["error"].as_str().unwrap().contains("no checksum published"), "{:?}", reports[1]);

    // An unknown version is a clear error, exit 2.
    let out = run(verify_bin()
        .arg(&apiserver)
        .args(["--version", "v9.9.9", "--base-url", &server.base])
        .env("SSL_CERT_FILE", &server.ca_file));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no checksum published at"), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint:"), "{}", stderr(&out));

    // Without the test CA the server is not trusted.
    let out = run(verify_bin().arg(&apiserver).args(["--base-url", &server.base]).env_remove("SSL_CERT_FILE"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("downloading"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn plain_http_is_refused() {
    let out = run(verify_bin().args(["/bin/sh", "--version", "v1.30.0", "--base-url", "http://127.0.0.1:1/release"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("refusing plain-http"), "{}", stderr(&out));
}

#[test]
fn bad_input_gives_clear_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "ab".repeat(32);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![dir.path().join("kubeadm").display().to_string(), "--checksum".into(), sha.clone()], "no such file"),
        (vec![dir.path().display().to_string(), "--checksum".into(), sha.clone()], "is a directory"),
        (vec!["/bin/sh".into(), "--checksum".into(), "not-hex!".into()], "is not a hex checksum"),
        (vec!["/bin/sh".into(), "--checksum".into(), "abc123".into()], "has 6 hex digits"),
        (vec!["/bin/sh".into(), "--algorithm".into(), "md5".into()], "invalid value 'md5'"),
        (vec!["/bin/sh".into(), "--version".into(), "latest".into()], "not a Kubernetes release version"),
        (vec!["no-such-binary-anywhere".into(), "--checksum".into(), sha.clone()], "no executable of that name"),
    ];
    for (args, message) in cases {
        let out = run(verify_bin().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
    }

    // A checksum file without a line for the binary.
    let sums = dir.path().join("SHA256SUMS");
    std::fs::write(&sums, format!("{sha}  kubelet\n")).unwrap();
    let out = run(verify_bin().arg("/bin/sh").arg("--checksum-file").arg(&sums));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no checksum for sh (it lists kubelet)"), "{}", stderr(&out));
}
