//! What stopping a node needs (its PIDs, namespaces and cgroup), kept in `DIR/state` so another
//! process can stop a detached node, and the stopping itself.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use super::cgroups::{CGROUP_PREFIX, remove_cgroups};
use crate::controlplane::BoxError;

/// What `stop` needs, also written to `DIR/state` so a detached node can be stopped by another process.
#[derive(Clone, Debug, Default)]
pub(super) struct State {
    pub(super) unshare_pid: u32,
    pub(super) init_pid: u32,
    pub(super) forwarder_pid: Option<u32>,
    pub(super) pid_ns: String,
    pub(super) net_ns: String,
    pub(super) cgroup: String,
}

impl State {
    pub(super) fn write(&self, path: &Path) -> io::Result<()> {
        fs::write(
            path,
            format!(
                "unshare_pid={}\ninit_pid={}\nforwarder_pid={}\npid_ns={}\nnet_ns={}\ncgroup={}\n",
                self.unshare_pid,
                self.init_pid,
                self.forwarder_pid.map(|p| p.to_string()).unwrap_or_default(),
                self.pid_ns,
                self.net_ns,
                self.cgroup
            ),
        )
    }

    pub(super) fn read(path: &Path) -> Option<Self> {
        let text = fs::read_to_string(path).ok()?;
        let mut state = State::default();
        for line in text.lines() {
            let (key, value) = line.split_once('=')?;
            match key {
                "unshare_pid" => state.unshare_pid = value.parse().ok()?,
                "init_pid" => state.init_pid = value.parse().ok()?,
                "forwarder_pid" => state.forwarder_pid = value.parse().ok(),
                "pid_ns" => state.pid_ns = value.into(),
                "net_ns" => state.net_ns = value.into(),
                "cgroup" => state.cgroup = value.into(),
                _ => {}
            }
        }
        Some(state)
    }
}

/// Removes the directories of earlier test nodes that crashed (their PID 1 is gone): a test node's
/// directory is a TempDir in a static, removed by the atexit stop, which a SIGKILL skips.
pub(super) fn remove_stale_dirs() {
    for entry in fs::read_dir(std::env::temp_dir()).into_iter().flatten().filter_map(|e| e.ok()) {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(CGROUP_PREFIX) {
            continue;
        }
        // A failed start keeps its logs for whoever reads the error.
        if path.join("failed").exists() {
            continue;
        }
        let dead = State::read(&path.join("state"))
            .is_some_and(|s| namespace_of(s.init_pid, "pid").is_none_or(|ns| ns != s.pid_ns));
        if dead {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// `readlink /proc/PID/ns/KIND`, e.g. `pid:[4026532300]`.
pub(super) fn namespace_of(pid: u32, kind: &str) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// Host PIDs of every process in the PID namespace `pid_ns` or the network namespace `net_ns`.
pub(super) fn processes_in(pid_ns: &str, net_ns: &str) -> Vec<u32> {
    let me = std::process::id();
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            namespace_of(pid, "pid").is_some_and(|ns| ns == pid_ns)
                || namespace_of(pid, "net").is_some_and(|ns| ns == net_ns)
        })
        .collect()
}

pub(super) fn kill(pid: u32, signal: libc::c_int) -> bool {
    // SAFETY: kill(2) on a pid we started; a stale pid only yields ESRCH.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// Kills the node (its PID 1, then unshare and the forwarder) and removes its cgroups; an error
/// names whatever is still there.
pub(super) fn stop_state(state: &State) -> Result<(), BoxError> {
    if let Some(pid) = state.forwarder_pid {
        kill(pid, libc::SIGKILL);
    }
    if state.init_pid != 0 {
        // PID 1 of the node's PID namespace: the kernel kills every other process in it.
        kill(state.init_pid, libc::SIGKILL);
    }
    if state.unshare_pid != 0 {
        kill(state.unshare_pid, libc::SIGKILL);
    }
    let limit = Instant::now() + Duration::from_secs(30);
    if !state.pid_ns.is_empty() {
        loop {
            let left = processes_in(&state.pid_ns, &state.net_ns);
            if left.is_empty() {
                break;
            }
            if Instant::now() > limit {
                return Err(format!("processes of the node still running: {left:?}").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if let Some(pid) = state.forwarder_pid
        && Path::new(&format!("/proc/{pid}")).exists()
        && fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    {
        return Err(format!("the API forwarder (pid {pid}) is still running").into());
    }
    if !state.cgroup.is_empty() {
        remove_cgroups(&state.cgroup, Duration::from_secs(30))?;
    }
    Ok(())
}

/// Stops a detached node whose files are in `dir`; returns whether one was recorded there.
pub fn stop_detached(dir: &Path) -> Result<bool, BoxError> {
    let Some(state) = State::read(&dir.join("state")) else { return Ok(false) };
    stop_state(&state)?;
    fs::remove_file(dir.join("state"))?;
    Ok(true)
}
