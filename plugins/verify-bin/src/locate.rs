//! Which files to check: the paths or names given, or by default the `kubectl` that invoked us
//! and the Kubernetes platform binaries found in PATH.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use harden_cli::error::{Error, Result};

/// Checked when no binaries are named (kubectl first; the rest only when present).
pub const DEFAULT_NAMES: [&str; 7] =
    ["kubectl", "kubeadm", "kubelet", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The file name, which is also the name of its published checksum file.
    pub name: String,
    pub path: PathBuf,
}

impl Target {
    pub fn from_path(path: PathBuf) -> Target {
        let name =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        Target { name, path }
    }
}

fn is_executable_file(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The first executable called `name` in the directories of `path_var`.
pub fn find_in_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let candidates: Vec<String> = if cfg!(windows) && !name.ends_with(".exe") {
        vec![name.into(), format!("{name}.exe")]
    } else {
        vec![name.into()]
    };
    std::env::split_paths(path_var?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| candidates.iter().map(move |c| dir.join(c)))
        .find(|p| is_executable_file(p))
}

/// An argument is a path when it has a directory part or names an existing file here (as after
/// `curl -LO .../kubeadm`); otherwise a name looked up in PATH.
pub fn resolve(arg: &str, path_var: Option<&OsStr>) -> Result<Target> {
    if arg.is_empty() {
        return Err(Error::invalid("an empty binary name was given"));
    }
    let as_path = Path::new(arg);
    if arg.contains('/') || arg.contains(std::path::MAIN_SEPARATOR) || as_path.exists() {
        return Ok(Target::from_path(as_path.to_path_buf()));
    }
    match find_in_path(arg, path_var) {
        Some(path) => Ok(Target { name: arg.to_string(), path }),
        None => Err(Error::not_found(format!("{arg}: no such file here, and no executable of that name in PATH"))
            .with_hint(format!("give the path of the binary, e.g. ./{arg} or /usr/local/bin/{arg}"))),
    }
}

/// The default set: kubectl from `kubectl_path` (kubectl's KUBECTL_PATH) or PATH, then the other
/// platform binaries that PATH has. A missing kubectl is reported; the others are optional.
pub fn defaults(kubectl_path: Option<&OsStr>, path_var: Option<&OsStr>) -> Vec<Result<Target>> {
    let mut targets = Vec::new();
    let kubectl = match kubectl_path.filter(|p| !p.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => find_in_path("kubectl", path_var),
    };
    targets.push(kubectl.map(|path| Target { name: "kubectl".into(), path }).ok_or_else(|| {
        Error::not_found("kubectl: not found (KUBECTL_PATH is unset and PATH has no kubectl)")
            .with_hint("name the binaries to check, e.g. `kubectl verify-bin /usr/local/bin/kubectl`")
    }));
    for name in &DEFAULT_NAMES[1..] {
        if let Some(path) = find_in_path(name, path_var) {
            targets.push(Ok(Target { name: name.to_string(), path }));
        }
    }
    targets
}

#[cfg(test)]
#[cfg(unix)] // apart from `test`, so that clippy sees a test module (allow-unwrap-in-tests)
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn executable(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"\x7fELF").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn defaults_take_kubectl_from_kubectl_path_and_the_rest_from_path() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let kubectl_elsewhere = executable(a.path(), "kubectl-1.31");
        executable(b.path(), "kubectl");
        let kubeadm = executable(b.path(), "kubeadm");
        let apiserver = executable(a.path(), "kube-apiserver");
        // Not executable: skipped.
        std::fs::write(b.path().join("kubelet"), b"x").unwrap();
        let path_var = std::env::join_paths([a.path(), b.path()]).unwrap();

        let found: Vec<Target> =
            defaults(Some(kubectl_elsewhere.as_os_str()), Some(&path_var)).into_iter().map(Result::unwrap).collect();
        assert_eq!(found[0], Target { name: "kubectl".into(), path: kubectl_elsewhere });
        assert_eq!(found[1], Target { name: "kubeadm".into(), path: kubeadm });
        assert_eq!(found[2], Target { name: "kube-apiserver".into(), path: apiserver });
        assert_eq!(found.len(), 3);

        let from_path = defaults(None, Some(&path_var));
        assert_eq!(from_path[0].as_ref().unwrap().path, b.path().join("kubectl"));
        let none = defaults(None, Some(OsStr::new("")));
        assert!(none[0].as_ref().unwrap_err().message.contains("kubectl: not found"));
        assert_eq!(none.len(), 1);
    }

    #[test]
    fn arguments_are_paths_or_names_in_path() {
        let dir = tempfile::tempdir().unwrap();
        let kubeadm = executable(dir.path(), "kubeadm");
        let path_var = dir.path().as_os_str().to_owned();
        assert_eq!(
            resolve("kubeadm", Some(&path_var)).unwrap(),
            Target { name: "kubeadm".into(), path: kubeadm.clone() }
        );
        let direct = resolve(kubeadm.to_str().unwrap(), None).unwrap();
        assert_eq!(direct.name, "kubeadm");
        // A path that does not exist is still a path: hashing reports it missing.
        assert_eq!(resolve("./nope/kubelet", None).unwrap().name, "kubelet");
        let err = resolve("kube-nothing", Some(&path_var)).unwrap_err();
        assert!(err.message.contains("no executable of that name in PATH"), "{err}");
    }
}
