//! What the node runs and needs: the machine's requirements, and the programs and images the
//! project's scripts build (or find in the cache).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cgroups::CGROUP_ROOT;
use crate::controlplane::BoxError;

/// What the node runs, built or found in the cache by the project's scripts.
#[derive(Clone, Debug)]
pub struct Parts {
    pub bin_dir: PathBuf,
    pub kube_router: PathBuf,
    /// Traefik, the Ingress and Gateway API controller the tls-ingress tests start.
    pub traefik: PathBuf,
    pub images: PathBuf,
}

/// Why this machine cannot run the node, naming what is missing; `None` when it can.
pub fn missing_requirements() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(
            "the node tier needs root (network, mount and PID namespaces, iptables, cgroups): run as root, \
             or `cargo xtask test --no-node` to run everything else"
                .into(),
        );
    }
    let probe = Command::new("unshare")
        .args(["--net", "--mount", "--pid", "--fork", "--", "true"])
        .stdin(Stdio::null())
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Some(format!(
                "the node tier needs network, mount and PID namespaces, and `unshare --net --mount --pid` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Err(e) => return Some(format!("the node tier needs `unshare` (util-linux): {e}")),
    }
    if !Path::new(CGROUP_ROOT).join("memory").is_dir() && !Path::new(CGROUP_ROOT).join("cgroup.controllers").is_file() {
        return Some(format!("the node tier needs cgroups mounted at {CGROUP_ROOT}"));
    }
    None
}

pub(super) fn script(relative: &str) -> PathBuf {
    crate::repo_root().join("tests").join(relative)
}

/// Runs a build script, stderr shown, and returns the last line it printed.
pub(super) fn run_script(relative: &str, args: &[&str]) -> Result<String, BoxError> {
    let path = script(relative);
    let output = Command::new("bash").arg(&path).args(args).stderr(Stdio::inherit()).output()?;
    if !output.status.success() {
        return Err(format!("{} failed ({})", path.display(), output.status).into());
    }
    let text = String::from_utf8(output.stdout)?;
    Ok(text.lines().last().unwrap_or_default().trim().to_string())
}

/// Installs the Debian packages and builds (or finds cached) every program and image of the node.
pub fn prepare() -> Result<Parts, BoxError> {
    // One preparation at a time in this process: the scripts build into shared cache directories.
    static PREPARING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = PREPARING.lock().unwrap_or_else(|e| e.into_inner());
    run_script("node/install-packages.sh", &[])?;
    let bin_dir = PathBuf::from(run_script("controlplane/build.sh", &["--node"])?);
    let kube_router = PathBuf::from(run_script("tools/build-kube-router.sh", &[])?);
    let traefik = PathBuf::from(run_script("tools/build-traefik.sh", &[])?);
    let images = PathBuf::from(run_script("node/build-images.sh", &[])?);
    Ok(Parts { bin_dir, kube_router, traefik, images })
}

pub(super) fn image_named(images: &Path, short: &str) -> String {
    fs::read_to_string(images.join("images"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(&format!("kube-harden.local/{short}:")))
        .unwrap_or_default()
        .to_string()
}
