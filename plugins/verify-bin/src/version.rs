//! Which release a binary is. First from the version string the Kubernetes build embeds with
//! `-X .../version.gitVersion=vX.Y.Z` (a NUL-delimited string in its read-only data), read from
//! the file without running it, so a downloaded file that is not executable works too. Only when
//! there is none is the binary asked (`kubectl version --client -o json`, `kubeadm version -o short`,
//! `<component> --version`), which runs a binary that is not verified yet (`--version` avoids that).

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harden_cli::error::{Error, Result};

use crate::checksum::normalize_version;
use crate::child::Failure;

const TIMEOUT: Duration = Duration::from_secs(15);

/// Read this much at a time; versions straddling two reads are found through the overlap.
const CHUNK: usize = 4 << 20;
const LONGEST: usize = 80;

/// The release version embedded in the file at `path`, without running it: the version string
/// that occurs most often as a NUL-delimited `vMAJOR.MINOR.PATCH[-suffix]` (kubectl carries it
/// twice, for client-go and component-base). `None` when there is none, or two different ones
/// are equally common.
pub fn embedded(path: &Path) -> Result<Option<String>> {
    let mut file = crate::hash::open_regular(path)?;
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut buffer = vec![0u8; CHUNK + LONGEST];
    let mut kept = 0;
    loop {
        let read =
            file.read(&mut buffer[kept..]).map_err(|e| Error::other(format!("reading {}: {e}", path.display())))?;
        let end = kept + read;
        let data = &buffer[..end];
        // Only candidates that end inside this read count now; the tail is scanned again next time.
        let limit = if read == 0 { end } else { end.saturating_sub(LONGEST) };
        for at in memchr::memmem::find_iter(data, b"\0v") {
            if at >= limit {
                break;
            }
            if let Some(version) = version_at(&data[at + 1..]) {
                *counts.entry(version).or_default() += 1;
            }
        }
        if read == 0 {
            break;
        }
        buffer.copy_within(limit..end, 0);
        kept = end - limit;
    }
    let best = counts.values().copied().max().unwrap_or(0);
    let mut top = counts.into_iter().filter(|(_, n)| *n == best && best > 0);
    Ok(match (top.next(), top.next()) {
        (Some((version, _)), None) => Some(version),
        _ => None,
    })
}

/// `vX.Y.Z[-suffix]` followed by a NUL at the start of `data`.
fn version_at(data: &[u8]) -> Option<String> {
    let end = memchr::memchr(0, &data[..data.len().min(LONGEST)])?;
    let text = std::str::from_utf8(&data[..end]).ok()?;
    let bare = text.strip_prefix('v')?;
    let core = bare.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    let numeric =
        parts.len() == 3 && parts.iter().all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let suffix = &bare[core.len()..];
    let suffix_ok = suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b));
    (numeric && suffix_ok && suffix.len() != 1).then(|| text.to_string())
}

/// The arguments that make `name` print its version.
pub fn version_args(name: &str) -> &'static [&'static str] {
    match name.strip_suffix(".exe").unwrap_or(name) {
        "kubectl" => &["version", "--client", "-o", "json"],
        "kubeadm" => &["version", "-o", "short"],
        _ => &["--version"],
    }
}

/// Finds the release version in what a binary printed: kubectl's JSON, `v1.31.2`, or
/// `Kubernetes v1.31.2`.
pub fn parse_version_output(output: &str) -> Option<String> {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(output)
        && let Some(version) = json["clientVersion"]["gitVersion"].as_str()
    {
        return normalize_version(version).ok();
    }
    output
        .split(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .filter(|word| word.starts_with('v') && word.as_bytes().get(1).is_some_and(u8::is_ascii_digit))
        .find_map(|word| normalize_version(word).ok())
}

/// Runs the binary at `path` (called `name`) to learn its version, within [`TIMEOUT`].
pub fn ask(path: &Path, name: &str) -> Result<String> {
    let args = version_args(name);
    let shown = format!("{} {}", path.display(), args.join(" "));
    let hint = "pass --version vX.Y.Z";
    let mut command = Command::new(path);
    // The version commands read no config, but make sure a kubeconfig cannot trigger a login plugin.
    command.args(args).env_remove("KUBECONFIG");
    let finished = crate::child::run(command, None, TIMEOUT, 1 << 20).map_err(|failure| match failure {
        Failure::Spawn(e) => Error::other(format!("cannot run `{shown}` to learn its version: {e}")).with_hint(hint),
        Failure::TimedOut { stderr } => {
            Error::other(format!("`{shown}` did not answer within {}s{}", TIMEOUT.as_secs(), said(&stderr)))
                .with_hint(hint)
        }
        Failure::Wait(e) => Error::other(format!("waiting for `{shown}`: {e}")),
    })?;
    let text = String::from_utf8_lossy(&finished.stdout).into_owned();
    if !finished.status.success() {
        return Err(Error::other(format!(
            "`{shown}` failed ({}), so its version is unknown{}",
            finished.status,
            said(&finished.stderr)
        ))
        .with_hint(hint));
    }
    parse_version_output(&text).ok_or_else(|| {
        Error::other(format!(
            "`{shown}` printed no release version ({:?})",
            text.trim().chars().take(80).collect::<String>()
        ))
        .with_hint(hint)
    })
}

/// What a program wrote on stderr, for an error about it: ` (it said: ...)`, its first line.
fn said(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => format!(" (it said: {})", line.chars().take(200).collect::<String>()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_version_is_read_without_running_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kubeadm");
        // As the linker lays out -X strings: padded with NULs, among other data; another module's
        // version inside a path does not count.
        let mut data = b"\x7fELF junk google.golang.org/protobuf@v1.35.1/x.go\0v2.0\0".to_vec();
        data.extend(std::iter::repeat_n(0u8, CHUNK - 3)); // the next one straddles two reads
        data.extend(b"v1.31.2\0\0\0\0v1.31.2\0 more \0v9.9.9\0");
        std::fs::write(&file, &data).unwrap();
        assert_eq!(embedded(&file).unwrap().as_deref(), Some("v1.31.2"));
        std::fs::write(&file, b"\0v1.32.4-dispatcher\0\0v1.32.4-dispatcher\0").unwrap();
        assert_eq!(embedded(&file).unwrap().as_deref(), Some("v1.32.4-dispatcher"));
        std::fs::write(&file, b"\0v1.30.1\0\0v1.31.1\0").unwrap();
        assert_eq!(embedded(&file).unwrap(), None, "two different versions: ambiguous");
        std::fs::write(&file, b"#!/bin/sh\necho v1.2.3\n").unwrap();
        assert_eq!(embedded(&file).unwrap(), None);
    }

    #[test]
    fn each_binary_is_asked_its_own_way() {
        assert_eq!(version_args("kubectl"), ["version", "--client", "-o", "json"]);
        assert_eq!(version_args("kubectl.exe"), ["version", "--client", "-o", "json"]);
        assert_eq!(version_args("kubeadm"), ["version", "-o", "short"]);
        assert_eq!(version_args("kubelet"), ["--version"]);
        assert_eq!(version_args("kube-apiserver"), ["--version"]);
    }

    #[test]
    fn versions_are_found_in_every_output_style() {
        let kubectl = r#"{"clientVersion": {"major": "1", "gitVersion": "v1.31.2", "platform": "linux/amd64"},
                          "kustomizeVersion": "v5.4.2"}"#;
        assert_eq!(parse_version_output(kubectl).as_deref(), Some("v1.31.2"));
        assert_eq!(parse_version_output("v1.26.1\n").as_deref(), Some("v1.26.1"));
        assert_eq!(parse_version_output("Kubernetes v1.37.2\n").as_deref(), Some("v1.37.2"));
        assert_eq!(parse_version_output("Client Version: v1.30.0-rc.1").as_deref(), Some("v1.30.0-rc.1"));
        assert_eq!(parse_version_output("kubelet version unknown"), None);
        assert_eq!(parse_version_output(""), None);
    }

    /// A script written just now can be "text file busy" while another test thread forks; retry that.
    #[cfg(unix)]
    fn ask_settled(path: &Path, name: &str) -> Result<String> {
        for _ in 0..20 {
            match ask(path, name) {
                Err(e) if e.message.contains("busy") => std::thread::sleep(Duration::from_millis(50)),
                other => return other,
            }
        }
        ask(path, name)
    }

    /// Issue 32: a binary that answers and exits, leaving a background process with its stdout,
    /// held verify-bin until that process ended.
    #[cfg(unix)]
    #[test]
    fn a_binary_whose_child_keeps_stdout_open_still_answers_at_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let kubelet = dir.path().join("kubelet");
        std::fs::write(&kubelet, "#!/bin/sh\n(sleep 60) &\necho 'Kubernetes v1.37.2'\n").unwrap();
        std::fs::set_permissions(&kubelet, std::fs::Permissions::from_mode(0o755)).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(ask_settled(&kubelet, "kubelet").unwrap(), "v1.37.2");
        assert!(started.elapsed() < TIMEOUT, "answered in {:?}", started.elapsed());
    }

    #[cfg(unix)]
    #[test]
    fn a_script_binary_is_run_and_a_failing_one_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("kubelet");
        std::fs::write(&ok, "#!/bin/sh\n[ \"$1\" = --version ] && echo 'Kubernetes v1.29.4'\n").unwrap();
        std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(ask_settled(&ok, "kubelet").unwrap(), "v1.29.4");
        let bad = dir.path().join("kube-proxy");
        std::fs::write(&bad, "#!/bin/sh\necho 'unknown flag: --version' >&2\nexit 3\n").unwrap();
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = ask_settled(&bad, "kube-proxy").unwrap_err();
        assert!(err.message.contains("failed") && err.hint.as_deref().unwrap().contains("--version"), "{err}");
        assert!(err.message.ends_with("(it said: unknown flag: --version)"), "what it said is shown: {err}");
    }
}
