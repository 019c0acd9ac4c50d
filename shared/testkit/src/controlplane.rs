//! Starting etcd and kube-apiserver on free loopback ports, with certificates made by rcgen.
//!
//! For tests the processes are tied to the test binary (they die with it); for
//! `cargo xtask cluster up` they are detached and their pids written next to the kubeconfig.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running control plane and the files to talk to it.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub bin_dir: PathBuf,
    pub server: String,
    /// etcd's client URL (`http://127.0.0.1:PORT`), for tests that act on storage itself.
    pub etcd_url: String,
    pub ca_pem: String,
    pub admin_kubeconfig: PathBuf,
    pub user_kubeconfig: PathBuf,
    pub pids: Vec<u32>,
    // Kept so the temporary directory lives as long as the processes (tests only).
    _temp: Option<tempfile::TempDir>,
}

/// Builds (or finds in the cache) kube-apiserver and etcd; returns their directory.
pub fn build_binaries() -> Result<PathBuf, BoxError> {
    if let Some(dir) = std::env::var_os("KUBE_HARDEN_CONTROLPLANE_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let script = crate::repo_root().join("tests/controlplane/build.sh");
    let output = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", script.display(), output.status).into());
    }
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

pub(crate) fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl ControlPlane {
    /// Starts a control plane in a temporary directory whose processes die with this process.
    pub fn start_for_tests() -> Result<Self, BoxError> {
        let temp = tempfile::Builder::new().prefix("kube-harden-cp-").tempdir()?;
        match Self::start(temp.path(), true) {
            Ok(mut plane) => {
                plane._temp = Some(temp);
                Ok(plane)
            }
            // Keep the logs of a failed start for whoever reads the error.
            Err(e) => Err(format!("{e}\n(logs kept in {})", temp.keep().display()).into()),
        }
    }

    /// Starts a control plane whose files live in `dir`. With `tied`, etcd and kube-apiserver get
    /// SIGKILL when the thread that started them exits (so start it from a thread that lives as long
    /// as the process); without, they run until `stop_detached`.
    pub fn start(dir: &Path, tied: bool) -> Result<Self, BoxError> {
        let bin_dir = build_binaries()?;
        fs::create_dir_all(dir)?;
        let pki = dir.join("pki");
        fs::create_dir_all(&pki)?;

        // A CA for serving and client certificates, and a service-account signing key.
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name = name("kube-harden-test-ca", None);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca_pem = ca_cert.pem();
        let issuer = Issuer::new(ca_params, ca_key);
        fs::write(pki.join("ca.crt"), &ca_pem)?;

        let serving_key = KeyPair::generate()?;
        let mut serving = CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        serving.distinguished_name = name("kube-apiserver", None);
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        fs::write(pki.join("apiserver.crt"), serving.signed_by(&serving_key, &issuer)?.pem())?;
        write_private(&pki.join("apiserver.key"), &serving_key.serialize_pem())?;

        let sa_key = KeyPair::generate()?;
        write_private(&pki.join("sa.key"), &sa_key.serialize_pem())?;
        fs::write(pki.join("sa.pub"), sa_key.public_key_pem())?;

        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let api_port = free_port()?;
        let server = format!("https://127.0.0.1:{api_port}");

        let mut pids = Vec::new();
        let etcd_data = dir.join("etcd");
        let etcd = spawn(
            Command::new(bin_dir.join("etcd"))
                .arg("--name=test")
                .arg(format!("--data-dir={}", etcd_data.display()))
                .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
                .arg(format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
                .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"))
                .arg(format!("--initial-cluster=test=http://127.0.0.1:{peer_port}"))
                .arg("--unsafe-no-fsync=true")
                .arg("--log-level=error"),
            &dir.join("etcd.log"),
            tied,
        )?;
        pids.push(etcd.id());

        let mut apiserver = spawn(
            Command::new(bin_dir.join("kube-apiserver"))
                .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_port}"))
                .arg("--bind-address=127.0.0.1")
                .arg("--advertise-address=127.0.0.1")
                .arg(format!("--secure-port={api_port}"))
                .arg(format!("--tls-cert-file={}", pki.join("apiserver.crt").display()))
                .arg(format!("--tls-private-key-file={}", pki.join("apiserver.key").display()))
                .arg(format!("--client-ca-file={}", pki.join("ca.crt").display()))
                .arg("--authorization-mode=RBAC")
                .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
                .arg(format!("--service-account-key-file={}", pki.join("sa.pub").display()))
                .arg(format!("--service-account-signing-key-file={}", pki.join("sa.key").display()))
                .arg("--service-cluster-ip-range=10.96.0.0/16")
                .arg("--disable-admission-plugins=ServiceAccount")
                .arg("--allow-privileged=true")
                .arg("--endpoint-reconciler-type=none")
                // PodTemplates uncached: their list pages are read from etcd (a cached kind's
                // continue pages come from the watch cache's snapshots, which an etcd compaction
                // made outside the API server does not drop), so a test can expire a continue
                // token for real. Nothing else in the suite reads PodTemplates.
                .arg("--watch-cache-sizes=podtemplates#0")
                .arg("--v=0"),
            &dir.join("kube-apiserver.log"),
            tied,
        )?;
        pids.push(apiserver.id());

        let admin_kubeconfig = dir.join("admin.kubeconfig");
        let user_kubeconfig = dir.join("user.kubeconfig");
        write_user_kubeconfig(&admin_kubeconfig, &server, &ca_pem, &issuer, "admin", Some("system:masters"))?;
        write_user_kubeconfig(&user_kubeconfig, &server, &ca_pem, &issuer, "dev", Some("devs"))?;

        let plane = Self {
            dir: dir.to_path_buf(),
            bin_dir,
            server,
            etcd_url: format!("http://127.0.0.1:{etcd_port}"),
            ca_pem,
            admin_kubeconfig,
            user_kubeconfig,
            pids,
            _temp: None,
        };
        fs::write(dir.join("pids"), plane.pids.iter().map(|p| format!("{p}\n")).collect::<String>())?;
        if let Err(e) = plane.wait_ready(&mut apiserver, Duration::from_secs(90)) {
            let log = fs::read_to_string(dir.join("kube-apiserver.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            plane.kill();
            return Err(format!("{e}\n-- last lines of kube-apiserver.log:\n{}", tail.join("\n")).into());
        }
        // Children are reaped by the OS when tied processes die; forget the handles.
        std::mem::forget(etcd);
        std::mem::forget(apiserver);
        Ok(plane)
    }

    /// Polls /readyz as admin until it answers ok (RBAC bootstrap roles are part of readiness).
    fn wait_ready(&self, apiserver: &mut Child, limit: Duration) -> Result<(), BoxError> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < limit {
            if let Some(status) = apiserver.try_wait()? {
                return Err(format!("kube-apiserver exited ({status})").into());
            }
            let output = Command::new("curl")
                .args(["-sS", "--max-time", "3", "--cacert"])
                .arg(self.dir.join("pki/ca.crt"))
                .arg("--cert")
                .arg(self.dir.join("pki/admin.crt"))
                .arg("--key")
                .arg(self.dir.join("pki/admin.key"))
                .arg(format!("{}/readyz", self.server))
                .output();
            match output {
                Ok(out) if out.status.success() && out.stdout == b"ok" => return Ok(()),
                Ok(out) => {
                    last = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
                }
                Err(e) => return Err(format!("running curl to poll /readyz: {e}").into()),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(format!("kube-apiserver at {} was not ready after {limit:?}: {last}", self.server).into())
    }

    /// Kills etcd and kube-apiserver.
    /// The temporary directory of a control plane from [`ControlPlane::start_for_tests`].
    pub fn temp_dir(&self) -> Option<&Path> {
        self._temp.as_ref().map(|t| t.path())
    }

    pub fn kill(&self) {
        for pid in &self.pids {
            unsafe {
                libc::kill(*pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// Stops a detached control plane started in `dir` and waits until its processes are gone;
/// returns whether one was running. A pid that now belongs to another program is left alone.
pub fn stop_detached(dir: &Path) -> Result<bool, BoxError> {
    let Ok(pids) = fs::read_to_string(dir.join("pids")) else { return Ok(false) };
    let ours = |pid: libc::pid_t| {
        fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| exe.file_name().is_some_and(|n| n == "etcd" || n == "kube-apiserver"))
    };
    let pids: Vec<libc::pid_t> =
        pids.lines().filter_map(|l| l.trim().parse::<libc::pid_t>().ok()).filter(|&pid| ours(pid)).collect();
    let any = !pids.is_empty();
    for (signal, wait) in [(libc::SIGTERM, Duration::from_secs(10)), (libc::SIGKILL, Duration::from_secs(5))] {
        for &pid in &pids {
            // SAFETY: kill(2) with a pid we started (checked above by its executable).
            unsafe { libc::kill(pid, signal) };
        }
        let start = Instant::now();
        while pids.iter().any(|&pid| ours(pid)) && start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let left: Vec<_> = pids.iter().filter(|&&pid| ours(pid)).collect();
    if !left.is_empty() {
        return Err(format!("control-plane processes {left:?} are still running after SIGKILL").into());
    }
    fs::remove_file(dir.join("pids"))?;
    Ok(any)
}

pub(crate) fn name(common: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn
}

pub(crate) fn write_private(path: &Path, pem: &str) -> Result<(), BoxError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(path)?;
    file.write_all(pem.as_bytes())?;
    Ok(())
}

fn write_user_kubeconfig(
    path: &Path,
    server: &str,
    ca_pem: &str,
    issuer: &Issuer<'_, KeyPair>,
    user: &str,
    group: Option<&str>,
) -> Result<(), BoxError> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name(user, group);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer)?.pem();
    let pki = path.parent().expect("dir").join("pki");
    fs::write(pki.join(format!("{user}.crt")), &cert)?;
    write_private(&pki.join(format!("{user}.key")), &key.serialize_pem())?;
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\n\
         users:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
         contexts:\n- name: {user}@test\n  context:\n    cluster: test\n    user: {user}\n    namespace: default\n\
         current-context: {user}@test\n",
        b64(ca_pem),
        b64(&cert),
        b64(&key.serialize_pem()),
    );
    write_private(path, &text)
}

fn spawn(command: &mut Command, log: &Path, tied: bool) -> Result<Child, BoxError> {
    let log_file = fs::File::create(log)?;
    command.stdin(Stdio::null()).stdout(log_file.try_clone()?).stderr(log_file);
    if tied {
        // SAFETY: prctl is async-signal-safe; it runs in the child between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    } else {
        command.process_group(0);
    }
    let program = command.get_program().to_string_lossy().into_owned();
    command.spawn().map_err(|e| format!("starting {program}: {e}").into())
}
