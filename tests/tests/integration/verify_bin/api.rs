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

        // A --version other than the one the binary embeds is a finding, even with the right digest.
        let out = run(verify_bin().arg(&binary).args(["--checksum", &sha256, "--version", "v1.2.3", "-o", "json"]));
        let report = &json_reports(&out)[0];
        let version = match report["embeddedVersion"].as_str() {
            Some(embedded) => {
                assert_eq!(
                    (out.status.code(), report["verdict"].as_str()),
                    (Some(1), Some("WRONG-VERSION")),
                    "{report}"
                );
                embedded.to_string()
            }
            None => {
                assert_eq!((out.status.code(), report["verdict"].as_str()), (Some(0), Some("OK")), "{report}");
                "v1.2.3".to_string()
            }
        };

        // sha512 from a sha512sum-style file; the algorithm follows from the digest length.
        let dir = tempfile::tempdir().unwrap();
        let sums = dir.path().join("SHA512SUMS");
        let name = binary.file_name().unwrap().to_str().unwrap();
        std::fs::write(&sums, format!("{}  other-binary\n{sha512}  {name}\n", "0".repeat(128))).unwrap();
        let out = run(verify_bin().arg(&binary).arg("--checksum-file").arg(&sums).args(["--version", &version]));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let line = stdout(&out);
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words, [name, version.as_str(), host_platform().as_str(), "OK"], "{line}");
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

    // The shared report shape (issue 26): the tampered copy's finding fails, and says what to do.
    let out = run(verify_bin().arg(&copy).arg("--checksum-file").arg(&sums).args(["-o", "json"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let finding = &json_reports(&out)[0]["findings"][0];
    assert_eq!((finding["severity"].as_str(), finding["check"].as_str()), (Some("fail"), Some("checksum-mismatch")));
    assert!(finding["fix"].as_str().unwrap().starts_with("do not run it"), "{finding}");

    // The untouched original still passes with the same file, and finds nothing.
    let out = run(verify_bin().arg(&original).arg("--checksum-file").arg(&sums));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(verify_bin().arg(&original).arg("--checksum-file").arg(&sums).args(["-o", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_reports(&out)[0]["findings"], serde_json::json!([]));
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
    let platform = host_platform();
    // Copies of kube-apiserver named kube-scheduler and kubectl: they carry its embedded version
    // (v1.37.2); the published kube-scheduler checksum is not their digest, kubectl's is. (The
    // kubectl in PATH may be a vendor's build, with no upstream checksum at all.)
    let bins = tempfile::tempdir().unwrap();
    let scheduler = bins.path().join("kube-scheduler");
    std::fs::copy(&apiserver, &scheduler).unwrap();
    let kubectl = bins.path().join("kubectl");
    std::fs::copy(&apiserver, &kubectl).unwrap();
    let kubectl_version = "v1.37.2".to_string();

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

    // Versions are read from the binaries (not run); OS/arch come from their headers.
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

/// A file with the version string a Kubernetes build embeds (`-X .../version.gitVersion=...`).
fn fake_binary(dir: &Path, name: &str, version: &str) -> PathBuf {
    let data = std::fs::read(kube_apiserver()).unwrap();
    // Replace each embedded v1.37.2 (client-go's and component-base's, NUL-delimited and side by
    // side) with `version`.
    let from = b"v1.37.2\0";
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut rest = &data[..];
    let mut replaced = 0;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        let delimited = at > 0 && rest[at - 1] == 0 || at == 0 && out.last() == Some(&0);
        out.extend_from_slice(&rest[..at]);
        if delimited {
            out.extend_from_slice(version.as_bytes());
            out.push(0);
            replaced += 1;
        } else {
            out.extend_from_slice(from);
        }
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    assert!(replaced > 0, "kube-apiserver embeds its version");
    let data = out;
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    path
}

#[test]
fn a_bare_name_in_the_current_directory_is_read_not_run_and_renamed_files_take_name() {
    let dir = tempfile::tempdir().unwrap();
    // Not executable, as after `curl -LO`: the version still comes from the file itself.
    let file = fake_binary(dir.path(), "kubeadm", "v1.37.2");
    let digest = coreutils_sum("sha256sum", &file);
    let platform = host_platform();
    let files = HashMap::from([(format!("/release/v1.37.2/bin/{platform}/kubeadm.sha256"), digest.clone())]);
    let server = https_server(files);
    let out = run(verify_bin()
        .current_dir(dir.path())
        .env("PATH", "/nonexistent")
        .args(["kubeadm", "--base-url", &server.base, "-o", "json"])
        .env("SSL_CERT_FILE", &server.ca_file));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = &json_reports(&out)[0];
    assert_eq!(report["version"], "v1.37.2");
    assert_eq!(report["verdict"], "OK");
    assert_eq!(report["path"], "kubeadm", "the file it hashed is the one in the current directory");

    // Renamed: the checksum is looked up under --name.
    std::fs::rename(&file, dir.path().join("kubeadm.1.37")).unwrap();
    let out = run(verify_bin()
        .current_dir(dir.path())
        .args(["kubeadm.1.37", "--name", "kubeadm", "--base-url", &server.base])
        .env("SSL_CERT_FILE", &server.ca_file));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("kubeadm  v1.37.2"), "{}", stdout(&out));
    let out = run(verify_bin().args(["a", "b", "--name", "kubeadm"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--name needs exactly one binary"), "{}", stderr(&out));
}

#[test]
fn a_vendor_build_is_a_finding_with_a_sentence_not_a_404() {
    let dir = tempfile::tempdir().unwrap();
    let file = fake_binary(dir.path(), "kubectl", "v1.32.4-dispatcher");
    let server = https_server(HashMap::new());
    let out = run(verify_bin().arg(&file).args(["--base-url", &server.base]).env("SSL_CERT_FILE", &server.ca_file));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("VENDOR-BUILD"), "{text}");
    assert!(text.contains("vendor build") && text.contains("no upstream checksum exists"), "{text}");
    assert!(server.requests.lock().unwrap().is_empty(), "nothing is fetched for a vendor build");
}

#[test]
fn download_verifies_before_writing_and_leaves_nothing_on_a_mismatch() {
    let platform = host_platform();
    let source = tempfile::tempdir().unwrap();
    let binary = fake_binary(source.path(), "kubelet", "v1.37.2");
    let bytes = std::fs::read(&binary).unwrap();
    let good = coreutils_sum("sha256sum", &binary);
    let small = source.path().join("small");
    std::fs::write(&small, "\0v1.37.4\0 a small kubelet").unwrap();
    let small_digest = coreutils_sum("sha256sum", &small);
    let files = HashMap::from([
        (format!("/release/v1.37.2/bin/{platform}/kubelet"), String::from_utf8_lossy(&bytes).into_owned()),
        (format!("/release/v1.37.2/bin/{platform}/kubelet.sha256"), "ab".repeat(32)),
        (format!("/release/v1.37.3/bin/{platform}/kubelet"), String::new()),
        (format!("/release/v1.37.3/bin/{platform}/kubelet.sha256"), good),
        (format!("/release/v1.37.4/bin/{platform}/kubelet"), "\0v1.37.4\0 a small kubelet".to_string()),
        (format!("/release/v1.37.4/bin/{platform}/kubelet.sha256"), small_digest.clone()),
    ]);
    let server = https_server(files);
    let work = tempfile::tempdir().unwrap();
    let download = |version: &str| {
        run(verify_bin()
            .current_dir(work.path())
            .args(["--download", "kubelet", "--version", version, "--base-url", &server.base])
            .env("SSL_CERT_FILE", &server.ca_file))
    };
    let out = download("v1.37.2");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("MISMATCH"), "{}", stdout(&out));
    assert!(stdout(&out).contains("nothing was written"), "{}", stdout(&out));
    assert!(!work.path().join("kubelet").exists(), "no unverified file is left");
    let out = download("v1.37.3");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("empty file"), "{}", stderr(&out));
    assert!(!work.path().join("kubelet").exists(), "no empty file is left");
    let out = download("v1.37.4");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = work.path().join("kubelet");
    assert_eq!(std::fs::read(&written).unwrap(), b"\0v1.37.4\0 a small kubelet");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&written).unwrap().permissions().mode() & 0o777, 0o755);
    assert!(stderr(&out).contains("written (verified before writing)"), "{}", stderr(&out));
    // Not replaced without --overwrite.
    let out = download("v1.37.4");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(verify_bin().args(["--download", "kubelet"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--download needs --version"), "{}", stderr(&out));
}

/// Issue 25: `--node` with dl.k8s.io's bare `kubelet.sha256` applied it to the kubelet and every
/// control-plane component, and called three genuine binaries MISMATCH. A checksum that names no
/// file is one binary's: for several it is an error naming the fix, and a genuine binary checked
/// against it alone is never a MISMATCH. (The same on nodes: verify-bin's unit tests
/// `node_verdicts::a_bare_checksum_vouches_for_one_binary_on_a_node_...`.)
#[test]
fn a_bare_checksum_vouches_for_one_binary_and_a_genuine_one_is_never_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let apiserver = kube_apiserver();
    let digest = coreutils_sum("sha256sum", &apiserver);
    let bare = dir.path().join("kube-apiserver.sha256");
    std::fs::write(&bare, &digest).unwrap();
    let scheduler = dir.path().join("kube-scheduler");
    std::fs::copy(&apiserver, &scheduler).unwrap();

    // Locally: two binaries, or the default set, against one bare digest: exit 2, nothing judged.
    for args in [vec![apiserver.clone(), scheduler.clone()], vec![]] {
        let out = run(verify_bin().args(&args).arg("--checksum-file").arg(&bare));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("vouches for exactly one binary"), "{}", stderr(&out));
        assert!(stderr(&out).contains("sha256sum-style file"), "the hint names the fix: {}", stderr(&out));
        assert!(!stdout(&out).contains("MISMATCH"), "{}", stdout(&out));
    }
    let out = run(verify_bin().arg(&apiserver).arg("--checksum-file").arg(&bare));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("OK"), "{}", stdout(&out));

    // A file that names each binary is not bare: several binaries may use it.
    let named = dir.path().join("SHA256SUMS");
    std::fs::write(&named, format!("{digest}  kube-apiserver\n{digest}  kube-scheduler\n")).unwrap();
    let out = run(verify_bin().arg(&apiserver).arg(&scheduler).arg("--checksum-file").arg(&named));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Issue 25: `--version v1.36.0` on a file that is v1.37.2 said OK without a word. Another release
/// than asked is a finding (exit 1) with a sentence, whatever the checksum's source; the right
/// version is not. (On a node, against the kubelet's release the Node reports: verify-bin's unit
/// test `node_verdicts::a_version_other_than_the_nodes_kubelet_is_a_finding_with_a_sentence`.)
#[test]
fn a_version_other_than_the_files_is_a_finding_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let file = fake_binary(dir.path(), "kubeadm", "v1.37.2");
    let digest = coreutils_sum("sha256sum", &file);
    let sums = dir.path().join("kubeadm.sha256");
    std::fs::write(&sums, &digest).unwrap();
    let platform = host_platform();

    let out = run(verify_bin().arg(&file).arg("--checksum-file").arg(&sums).args(["--version", "v1.36.0"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let first: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first, ["kubeadm", "v1.36.0", platform.as_str(), "WRONG-VERSION"], "{text}");
    assert!(text.contains("the file is v1.37.2, not v1.36.0 as --version says"), "{text}");
    let out =
        run(verify_bin().arg(&file).arg("--checksum-file").arg(&sums).args(["--version", "v1.37.2", "-o", "json"]));
    assert_eq!(out.status.code(), Some(0), "the right version is not a finding: {}", stderr(&out));
    let report = &json_reports(&out)[0];
    assert_eq!((report["verdict"].as_str(), report["embeddedVersion"].as_str()), (Some("OK"), Some("v1.37.2")));
    assert!(report.get("note").is_none(), "{report}");

    // Published checksums: v1.36.0's does not match a v1.37.2 file, which is not tampering.
    let files = HashMap::from([
        (format!("/release/v1.36.0/bin/{platform}/kubeadm.sha256"), "ab".repeat(32)),
        (format!("/release/v1.37.2/bin/{platform}/kubeadm.sha256"), digest.clone()),
    ]);
    let server = https_server(files);
    let published = |version: &str| {
        run(verify_bin()
            .arg(&file)
            .args(["--base-url", &server.base, "--version", version])
            .env("SSL_CERT_FILE", &server.ca_file))
    };
    let out = published("v1.36.0");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("WRONG-VERSION") && !stdout(&out).contains("MISMATCH"), "{}", stdout(&out));
    assert!(stdout(&out).contains("run without --version"), "{}", stdout(&out));
    let out = published("v1.37.2");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `--node` reaches the API server through kubectl's connection flags (`KubeArgs`, as every
/// plugin): `--kubeconfig` names the cluster whose nodes are listed, `--as`/`--as-group` are the
/// identity the server judges, `--context` and `-n` must exist; it ran kubectl before, and had
/// neither `--kubeconfig` nor `--as`. Without `--node` they are refused, naming them. (The
/// verdicts on a node's binaries: verify-bin's unit tests `node_verdicts::*`; the real hashing
/// pod: the node tier.)
#[test]
fn node_checks_reach_the_cluster_the_connection_flags_name() {
    let admin = harden_tests::cluster().admin_kubeconfig().to_str().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let zeros = "0".repeat(64);
    let verify = |args: &[&str]| {
        let mut command = verify_bin();
        harden_tests::fixtures::without_kubeconfig(&mut command, home.path());
        run(command.args(["--node", "no-such-node", "kubelet", "--checksum", &zeros]).args(args))
    };
    // No kubeconfig anywhere: nothing to reach, and the error says so.
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no kubeconfig found"), "{}", stderr(&out));

    let out = verify(&["--kubeconfig", &admin]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("node no-such-node does not exist"), "the server's node list: {}", stderr(&out));

    let out = verify(&["--kubeconfig", &admin, "--as", "someone-without-rights"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("User \"someone-without-rights\" cannot list resource \"nodes\""), "{err}");
    assert!(err.contains("listing nodes: forbidden") && err.contains("hint:"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
    // The same user in a group that may: the groups reach the server too.
    let out = verify(&["--kubeconfig", &admin, "--as", "someone-without-rights", "--as-group", "system:masters"]);
    assert!(stderr(&out).contains("node no-such-node does not exist"), "{}", stderr(&out));

    let out = verify(&["--kubeconfig", &admin, "--context", "missing"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("context \"missing\" is not in the kubeconfig"), "{}", stderr(&out));

    let out = verify(&["--kubeconfig", &admin, "-n", "no-such-namespace"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-namespace"), "{}", stderr(&out));
    let out = verify(&["--kubeconfig", &admin, "-n", "a,b"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("one namespace"), "{}", stderr(&out));

    let out = run(verify_bin().args(["kubectl", "--as", "bob", "--kubeconfig", "/k"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--kubeconfig, --as only apply with --node or --all-nodes"), "{}", stderr(&out));
}
