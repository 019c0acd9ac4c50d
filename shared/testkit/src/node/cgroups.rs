//! The node's cgroups: the kubelet's live under a cgroup root of this node's own in every
//! hierarchy (cgroupfs is not namespaced here), created before the node starts and removed after it
//! stops or, after a crash, by the next start.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::controlplane::BoxError;

/// Every cgroup the kubelet makes lives under `/<CGROUP_PREFIX><unique>` in each hierarchy.
pub(super) const CGROUP_PREFIX: &str = "kube-harden-node-";
pub(super) const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, name=systemd, unified).
pub(super) fn cgroup_hierarchies() -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    if root.join("cgroup.controllers").is_file() {
        return vec![root.to_path_buf()];
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Removes a cgroup and its children (rmdir, deepest first); errors when one is still in use.
fn remove_cgroup_tree(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(path)?.filter_map(|e| e.ok()) {
        if entry.file_type()?.is_dir() {
            remove_cgroup_tree(&entry.path())?;
        }
    }
    fs::remove_dir(path)
}

/// Removes this node's cgroups in every hierarchy, retrying while the killed processes finish exiting.
pub(super) fn remove_cgroups(cgroup: &str, limit: Duration) -> Result<(), BoxError> {
    let start = Instant::now();
    loop {
        let mut left = Vec::new();
        for hierarchy in cgroup_hierarchies() {
            let path = hierarchy.join(cgroup);
            if let Err(e) = remove_cgroup_tree(&path) {
                left.push(format!("{}: {e}", path.display()));
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!("cgroups of the node left behind: {}", left.join(", ")).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether any process is in this cgroup or below it.
fn cgroup_in_use(path: &Path) -> bool {
    fs::read_to_string(path.join("cgroup.procs")).is_ok_and(|procs| !procs.trim().is_empty())
        || fs::read_dir(path)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .any(|e| e.file_type().is_ok_and(|t| t.is_dir()) && cgroup_in_use(&e.path()))
}

/// Removes the cgroups of earlier nodes that crashed. A running node's PID 1 is in its cgroup root
/// (see [`join_cgroups`]), so its tree is in use and stays, empty QoS cgroups of its kubelet included.
pub(super) fn remove_stale_cgroups() {
    for hierarchy in cgroup_hierarchies() {
        for entry in fs::read_dir(&hierarchy).into_iter().flatten().filter_map(|e| e.ok()) {
            if entry.file_name().to_string_lossy().starts_with(CGROUP_PREFIX) && !cgroup_in_use(&entry.path()) {
                let _ = remove_cgroup_tree(&entry.path());
            }
        }
    }
}

/// Moves the node's PID 1 into its cgroup root in every hierarchy: every process it starts inherits
/// it, and the tree is in use for as long as the node lives.
pub(super) fn join_cgroups(cgroup: &str, pid: u32) -> Result<(), BoxError> {
    for hierarchy in cgroup_hierarchies() {
        let procs = hierarchy.join(cgroup).join("cgroup.procs");
        fs::write(&procs, pid.to_string()).map_err(|e| format!("moving the node into {}: {e}", procs.display()))?;
    }
    Ok(())
}

/// Creates this node's cgroup root in every hierarchy: the kubelet requires it to exist.
pub(super) fn create_cgroups(cgroup: &str) -> Result<(), BoxError> {
    for hierarchy in cgroup_hierarchies() {
        let path = hierarchy.join(cgroup);
        fs::create_dir_all(&path).map_err(|e| format!("creating cgroup {}: {e}", path.display()))?;
        // A v1 cpuset cgroup starts with no CPUs and no memory nodes, and no task can join it.
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(value) = fs::read_to_string(hierarchy.join(file)) {
                fs::write(path.join(file), value.trim())
                    .map_err(|e| format!("writing {}: {e}", path.join(file).display()))?;
            }
        }
    }
    Ok(())
}
