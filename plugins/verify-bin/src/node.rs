//! `--node NODE` / `--all-nodes`: the binaries that actually run on the nodes. A short-lived pod
//! on each node (hostPID, so it sees the node's processes; read-only; it removes nothing because
//! it writes nothing) hashes `/proc/<pid>/exe` of the kubelet and of the control-plane components
//! running there, and the file each was started from, then exits; verify-bin reads its log and
//! deletes it. The platform comes from the Node object (`status.nodeInfo`). Each binary is checked
//! against its own release: the version string it embeds (read by the pod, as `verify-bin FILE`
//! reads a file's, without running it), else the kubelet's version the Node reports. Components
//! run different releases while a cluster is upgraded (the control plane first): one version for
//! all would call the genuine binaries of the other release a MISMATCH.
//!
//! The cluster is reached through [`Nodes`]: the API server with kubectl's connection flags in
//! production ([`crate::cluster`]), an in-memory cluster in the tests, so that every verdict here
//! is tested without a kubelet.

use harden_cli::error::{Error, Result};
use serde_json::{Value, json};

use crate::checksum::{self, checksum_url};
use crate::hash::Algorithm;
use crate::verify::{Options, Report, Source, Verdict, check_algorithm};

/// The components looked for when no NAME is given (those not running on a node are skipped).
pub const COMPONENTS: [&str; 5] =
    ["kubelet", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"];

pub struct NodeRequest {
    pub nodes: Vec<String>,
    pub all_nodes: bool,
    pub names: Vec<String>,
}

/// What a node says it runs (its Node object's `status.nodeInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub kubelet_version: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
}

/// What `--node` needs of a cluster.
pub trait Nodes {
    /// Every node, with what it says it runs.
    async fn list(&self) -> Result<Vec<NodeInfo>>;
    /// Runs [`script`] in a hashing pod ([`pod`]) on `node`, and gives its log.
    async fn hash(&self, node: &str, script: &str) -> Result<String>;
}

/// The shell script of the pod: per name, `NAME PID RUNNING-SHA256 FILE-SHA256 PATH`, or `NAME -`.
pub fn script(names: &[String]) -> String {
    let mut script = String::from("set -u\n");
    for name in names {
        // /proc/PID/comm holds at most 15 characters (kube-controller-manager is "kube-controller").
        let comm: String = name.chars().take(15).collect();
        script.push_str(&format!(
            "pid=''; for d in /proc/[0-9]*; do [ \"$(cat $d/comm 2>/dev/null)\" = '{comm}' ] && pid=${{d#/proc/}} && break; done\n\
             if [ -n \"$pid\" ]; then exe=$(readlink /proc/$pid/exe); run=$(sha256sum /proc/$pid/exe | cut -d' ' -f1); \
             file=$(sha256sum \"/proc/$pid/root$exe\" 2>/dev/null | cut -d' ' -f1); echo \"{name} $pid $run ${{file:--}} $exe\"; \
             ({VERSION_STRINGS}) < /proc/$pid/exe | while read n v; do echo \"version {name} $n $v\"; done; \
             else echo '{name} -'; fi\n"
        ));
    }
    script
}

/// The two commonest NUL-delimited `vX.Y.Z[-suffix]` strings of standard input with their counts,
/// as [`crate::version::embedded`] reads a file's (newlines are kept out of the way first).
pub const VERSION_STRINGS: &str = "tr '\\n\\000' '\\001\\n' | grep -xE 'v[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}([-+][0-9A-Za-z.+-]+)?' \
     | sort | uniq -c | sort -rn | head -n 2";

/// One line of the pod's log.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    pub name: String,
    pub running: String,
    /// The digest of the file the process was started from, as it is on disk now (`None`: gone).
    pub file: Option<String>,
    pub path: String,
    /// The release the running binary embeds: the commonest version string, if no other is as common.
    pub version: Option<String>,
}

pub fn parse_log(log: &str) -> Vec<Seen> {
    let mut seen: Vec<Seen> = log
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [name, _pid, running, file, path, ..] if running.len() == 64 => Some(Seen {
                    name: name.to_string(),
                    running: running.to_string(),
                    file: (file.len() == 64).then(|| file.to_string()),
                    path: path.to_string(),
                    version: None,
                }),
                _ => None,
            }
        })
        .collect();
    for one in &mut seen {
        let counted: Vec<(usize, &str)> = log
            .lines()
            .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["version", name, count, version] if *name == one.name => Some((count.parse().ok()?, *version)),
                _ => None,
            })
            .collect();
        one.version = match counted.as_slice() {
            [(_, only)] => Some(only.to_string()),
            [(first, best), (second, _), ..] if first > second => Some(best.to_string()),
            _ => None,
        };
    }
    seen
}

/// The hashing pod: hostPID to see the node's processes, privileged to read their executables.
pub fn pod(name: &str, node: &str, image: &str, script: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubectl-verify-bin"}},
        "spec": {
            "nodeName": node,
            "hostPID": true,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 300,
            "terminationGracePeriodSeconds": 0,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "hash",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", script],
                "securityContext": {"privileged": true, "readOnlyRootFilesystem": true},
            }],
        },
    })
}

/// The reports for every node asked for.
pub async fn verify_nodes(cluster: &impl Nodes, request: &NodeRequest, options: &Options) -> Result<Vec<Report>> {
    let items = cluster.list().await?;
    let known: Vec<&str> = items.iter().map(|n| n.name.as_str()).collect();
    let wanted: Vec<String> =
        if request.all_nodes { known.iter().map(|s| s.to_string()).collect() } else { request.nodes.clone() };
    for node in &wanted {
        if !known.contains(&node.as_str()) {
            return Err(Error::not_found(format!("node {node} does not exist"))
                .with_hint(format!("nodes: {}", known.iter().take(10).copied().collect::<Vec<_>>().join(", "))));
        }
    }
    let names: Vec<String> = if request.names.is_empty() {
        COMPONENTS.iter().map(|s| s.to_string()).collect()
    } else {
        request.names.clone()
    };
    let builds = wanted
        .iter()
        .map(|node| {
            let info = items.iter().find(|n| n.name == *node);
            let reported = info.and_then(|i| i.kubelet_version.clone());
            let version = options.version.clone().or_else(|| reported.clone()).ok_or_else(|| {
                Error::other(format!("node {node} reports no kubelet version")).with_hint("pass --version")
            })?;
            let os = options.os.clone().or_else(|| info.and_then(|i| i.os.clone()));
            let arch = options.arch.clone().or_else(|| info.and_then(|i| i.arch.clone()));
            Ok(Build { node: node.clone(), reported, version, os, arch })
        })
        .collect::<Result<Vec<_>>>()?;
    one_build_per_unnamed_checksum(&builds, &names, options)?;
    let mut reports = Vec::new();
    for build in &builds {
        let (node, os, arch) = (&build.node, build.os.clone(), build.arch.clone());
        let seen = parse_log(&cluster.hash(node, &script(&names)).await?);
        for name in &names {
            let Some(seen) = seen.iter().find(|s| &s.name == name) else {
                if !request.names.is_empty() {
                    let mut report = Report::remote(name.clone(), format!("{node}:(not running)"));
                    report.fail_with(Error::not_found(format!("{name} is not running on node {node}")));
                    reports.push(report);
                }
                continue;
            };
            let release = Release::of(name, seen, build, options);
            let mut report = judge(node, seen, &release, os.as_deref(), arch.as_deref(), options);
            report.embedded_version = release.found.clone();
            if let Some(why) = release.note(build) {
                report.note = Some(match report.note.take() {
                    Some(note) => format!("{note}; {why}"),
                    None => why,
                });
            }
            reports.push(report);
        }
    }
    Ok(reports)
}

/// The release one running binary is checked against, and what says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The version whose checksum applies: --version, else `found`, else the node's kubelet's.
    pub version: String,
    /// The binary's own release: for the kubelet, as the Node reports it, else its embedded
    /// version string; for the other components their embedded version string.
    pub found: Option<String>,
    /// Who says `found`, for sentences.
    pub whose: &'static str,
    name: String,
}

impl Release {
    pub fn of(name: &str, seen: &Seen, build: &Build, options: &Options) -> Release {
        let (found, whose) = match (name, &build.reported, &seen.version) {
            ("kubelet", Some(reported), _) => (Some(reported.clone()), "the node's kubelet"),
            (_, _, Some(embedded)) => (Some(embedded.clone()), "the version string in the running binary"),
            _ => (None, "the running binary"),
        };
        let version = options.version.clone().or_else(|| found.clone()).unwrap_or_else(|| build.version.clone());
        Release { version, found, whose, name: name.to_string() }
    }

    /// `--version` naming another release than the binary's own.
    fn other_release(&self, options: &Options) -> Option<(String, String)> {
        match (&options.version, &self.found) {
            (Some(asked), Some(found)) if asked != found => Some((asked.clone(), found.clone())),
            _ => None,
        }
    }

    /// What the user should know about the version checked against.
    fn note(&self, build: &Build) -> Option<String> {
        let kubelet = build.reported.as_deref()?;
        if self.name == "kubelet" {
            return None;
        }
        match &self.found {
            None => Some(format!(
                "{} carries no version string: checked against the node's kubelet's version {kubelet}",
                self.name
            )),
            Some(found) if found != kubelet => {
                Some(format!("{} is {found}, the node's kubelet {kubelet} (an upgrade in progress?)", self.name))
            }
            Some(_) => None,
        }
    }
}

/// What a node runs, as its Node object (or the flags) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub node: String,
    /// The kubelet's version as the node reports it (`status.nodeInfo.kubeletVersion`).
    pub reported: Option<String>,
    /// The version checked against: --version, else the reported one.
    pub version: String,
    pub os: Option<String>,
    pub arch: Option<String>,
}

/// A checksum that names no file is one binary's: the nodes checked against it must run the same
/// build of it (one version, OS and architecture), or all but one would be called a MISMATCH.
pub fn one_build_per_unnamed_checksum(builds: &[Build], names: &[String], options: &Options) -> Result<()> {
    let Some(unnamed) = options.source.unnamed() else { return Ok(()) };
    let shown = |b: &Build| {
        format!(
            "{} {} {}/{}",
            b.node,
            b.reported.as_deref().unwrap_or(&b.version),
            b.os.as_deref().unwrap_or("-"),
            b.arch.as_deref().unwrap_or("-")
        )
    };
    let mut distinct: Vec<&Build> = Vec::new();
    for build in builds {
        let same = |other: &&Build| {
            other.reported == build.reported
                && other.version == build.version
                && other.os == build.os
                && other.arch == build.arch
        };
        if !distinct.iter().any(same) {
            distinct.push(build);
        }
    }
    if distinct.len() <= 1 {
        return Ok(());
    }
    let name = names.first().map_or("the binary", String::as_str);
    Err(Error::invalid(format!(
        "{unnamed} is one checksum that names no file, so it vouches for one build of {name}, but the nodes run \
         different ones ({})",
        distinct.iter().map(|b| shown(b)).collect::<Vec<_>>().join("; ")
    ))
    .with_hint("check the nodes of each build separately (--node NODE,...), or drop it to fetch each node's published checksum"))
}

fn judge(
    node: &str,
    seen: &Seen,
    release: &Release,
    os: Option<&str>,
    arch: Option<&str>,
    options: &Options,
) -> Report {
    let version = release.version.as_str();
    let other_release = release.other_release(options);
    let mut report = Report::remote(seen.name.clone(), format!("{node}:{}", seen.path));
    report.version = Some(version.to_string());
    report.os = os.map(str::to_string);
    report.arch = arch.map(str::to_string);
    report.actual = Some(seen.running.clone());
    if let Some(suffix) = checksum::vendor_suffix(version) {
        report.verdict = Verdict::Vendor;
        report.note = Some(format!("vendor build ({version}, \"{suffix}\"): no upstream checksum exists"));
        return report;
    }
    let expected = match (&options.source, os, arch) {
        (Source::Given { hex, algorithm }, _, _) => Ok((hex.clone(), *algorithm, "--checksum".to_string())),
        (Source::File { text, name }, _, _) => {
            checksum::pick(text, &seen.name, name).map(|(hex, algorithm)| (hex, algorithm, name.clone()))
        }
        (Source::Published { base, fetcher }, Some(os), Some(arch)) => {
            let url = checksum_url(base, version, os, arch, &seen.name, Algorithm::Sha256);
            fetcher
                .get(&url)
                .and_then(|body| checksum::pick(&body, &seen.name, &url))
                .and_then(|(hex, found)| Ok((hex, check_algorithm(found, Some(Algorithm::Sha256), &url)?, url.clone())))
        }
        (Source::Published { .. }, _, _) => Err(Error::other(format!("node {node} reports no OS or architecture"))),
    };
    match expected {
        Err(e) => report.fail_with(e),
        Ok((hex, algorithm, source)) => {
            if algorithm != Algorithm::Sha256 {
                report.fail_with(Error::invalid("the node's binaries are hashed with sha256; give a sha256 checksum"));
                return report;
            }
            report.algorithm = Some(algorithm);
            report.source = Some(source);
            let published = matches!(options.source, Source::Published { .. });
            (report.verdict, report.note) =
                crate::verify::judge(hex == seen.running, published, other_release.as_ref(), release.whose);
            report.expected = Some(hex);
            if seen.file.as_deref() != Some(seen.running.as_str()) {
                let changed = match &seen.file {
                    Some(_) => format!("the file {} on the node differs from the binary running", seen.path),
                    None => format!("the file {} the process was started from is gone", seen.path),
                };
                report.note = Some(match report.note.take() {
                    Some(note) => format!("{changed}; {note}"),
                    None => changed,
                });
                if report.verdict == Verdict::Ok {
                    report.verdict = Verdict::Mismatch;
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_gives_running_and_file_digests() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let log = format!(
            "kubelet 812 {a} {a} /usr/bin/kubelet\nkube-apiserver -\nkube-scheduler 9 {a} - /old/kube-scheduler\nx 1 {b} {a} /x\n"
        );
        let seen = parse_log(&log);
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[0],
            Seen {
                name: "kubelet".into(),
                running: a.clone(),
                file: Some(a.clone()),
                path: "/usr/bin/kubelet".into(),
                version: None
            }
        );
        assert_eq!(seen[1].file, None);
        assert_eq!(seen[2].running, b);
    }

    #[test]
    fn the_commonest_version_string_is_the_binarys_and_a_tie_is_none() {
        let a = "a".repeat(64);
        let log = format!(
            "kubelet 1 {a} {a} /k\nversion kubelet 3 v1.37.2\nversion kubelet 1 v0.31.0\n\
             kube-apiserver 2 {a} {a} /a\nversion kube-apiserver 2 v1.37.3\nversion kube-apiserver 2 v1.2.0\n\
             kube-proxy 3 {a} {a} /p\nversion kube-proxy 1 v1.37.1-eks.2\n"
        );
        let versions: Vec<Option<String>> = parse_log(&log).into_iter().map(|s| s.version).collect();
        assert_eq!(versions, [Some("v1.37.2".to_string()), None, Some("v1.37.1-eks.2".to_string())]);
    }

    /// The pod's version reading, run by this machine's shell on a file with the strings a
    /// Kubernetes build embeds among others (busybox has the same tools).
    #[test]
    fn the_pods_version_reading_finds_the_embedded_release() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kube-apiserver");
        let mut data = b"\x7fELF\0\0junk\nv1.37.3\n\0v1.37.3\0go1.26\0".to_vec();
        for _ in 0..2 {
            data.extend_from_slice(b"xx\0v1.37.3\0yy\0v0.31.0\0v1.37\0v1.37.3-\0");
        }
        std::fs::write(&file, data).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("({VERSION_STRINGS}) < \"$1\""))
            .arg("sh")
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines, [vec!["3", "v1.37.3"], vec!["2", "v0.31.0"]], "{text}");
    }

    /// Issue 26/25: a control plane upgraded before the kubelet: each binary against its own release.
    #[test]
    fn each_component_is_checked_against_its_own_release() {
        let options = |version: Option<&str>| Options {
            version: version.map(str::to_string),
            os: None,
            arch: None,
            algorithm: None,
            source: Source::Given { hex: "a".repeat(64), algorithm: Algorithm::Sha256 },
        };
        let (asked, options) = (options(Some("v1.36.0")), options(None));
        let build = Build {
            node: "n1".into(),
            reported: Some("v1.37.2".into()),
            version: "v1.37.2".into(),
            os: None,
            arch: None,
        };
        let seen = |name: &str, version: Option<&str>| Seen {
            name: name.into(),
            running: "a".repeat(64),
            file: None,
            path: "/x".into(),
            version: version.map(str::to_string),
        };
        let apiserver = Release::of("kube-apiserver", &seen("kube-apiserver", Some("v1.37.3")), &build, &options);
        assert_eq!(apiserver.version, "v1.37.3");
        assert!(apiserver.note(&build).unwrap().contains("kube-apiserver is v1.37.3, the node's kubelet v1.37.2"));
        let kubelet = Release::of("kubelet", &seen("kubelet", Some("v9.9.9")), &build, &options);
        assert_eq!(
            (kubelet.version.as_str(), kubelet.note(&build)),
            ("v1.37.2", None),
            "the Node's word for its kubelet"
        );
        let bare = Release::of("kube-proxy", &seen("kube-proxy", None), &build, &options);
        assert_eq!(bare.version, "v1.37.2");
        assert!(bare.note(&build).unwrap().contains("carries no version string"));
        let apiserver = Release::of("kube-apiserver", &seen("kube-apiserver", Some("v1.37.3")), &build, &asked);
        assert_eq!(apiserver.version, "v1.36.0");
        assert_eq!(apiserver.other_release(&asked), Some(("v1.36.0".into(), "v1.37.3".into())));
    }

    #[test]
    fn the_script_matches_comm_names_cut_to_15_characters() {
        let script = script(&["kube-controller-manager".to_string()]);
        assert!(script.contains("= 'kube-controller' ]"), "{script}");
        assert!(script.contains("echo 'kube-controller-manager -'"), "{script}");
    }
}
