//! Which benchmark grades a cluster: chosen here, from the API server's version, with a table this
//! plugin owns, and always passed to kube-bench as `--benchmark`. Left to itself, kube-bench asks
//! the API server from inside its Pod and, when that fails (no route to the Service, no token),
//! assumes Kubernetes 1.18 and grades with cis-1.6, whose checks ask for PodSecurityPolicy (removed
//! in 1.25): a v1.37 cluster got 32 FAILs, most of them advice that cannot be followed.
//!
//! The table is kube-bench v0.15.6's (`cfg/config.yaml` `version_mapping`, and its platform
//! benchmarks for EKS, GKE, AKS, k3s and RKE2 in `cmd/util.go`). A cluster newer than the table's
//! newest version gets that benchmark with a warning; `--benchmark` always wins, with a warning when
//! it was not written for the cluster's version. Pure: the caller reads the version.

use std::fmt;

use harden_cli::error::{Error, Result};

use crate::removed;

/// The generic CIS Kubernetes Benchmarks: (first minor, last minor, name), for Kubernetes 1.x.
pub const GENERIC: [(u32, u32, &str); 11] = [
    (15, 15, "cis-1.5"),
    (16, 18, "cis-1.6"),
    (19, 21, "cis-1.20"),
    (22, 23, "cis-1.23"),
    (24, 24, "cis-1.24"),
    (25, 25, "cis-1.7"),
    (26, 26, "cis-1.8"),
    (27, 27, "cis-1.9"),
    (28, 28, "cis-1.10"),
    (29, 31, "cis-1.11"),
    (32, 34, "cis-1.12"),
];

/// The benchmarks of managed and packaged distributions, told by the version suffix (EKS
/// `v1.32.4-eks-...`, GKE `-gke.N`, k3s `+k3s1`, RKE2 `+rke2r1`) or, for AKS, by its nodes. As
/// kube-bench picks them: a minor in a row's range takes that row, one between the rows the
/// platform's default; one past every row takes the newest, with a warning.
struct PlatformTable {
    platform: Platform,
    rows: &'static [(u32, u32, &'static str)],
    default: &'static str,
    newest: &'static str,
}

const PLATFORMS: [PlatformTable; 5] = [
    PlatformTable {
        platform: Platform::Eks,
        rows: &[(15, 19, "eks-1.0.1"), (29, 31, "eks-1.7.0"), (32, 34, "eks-1.8.0")],
        default: "eks-1.5.0",
        newest: "eks-1.8.0",
    },
    PlatformTable {
        platform: Platform::Gke,
        rows: &[
            (15, 19, "gke-1.0"),
            (20, 27, "gke-1.2.0"),
            (28, 29, "gke-1.6.0"),
            (30, 30, "gke-1.8.0"),
            (31, 34, "gke-1.9.0"),
        ],
        default: "gke-1.9.0",
        newest: "gke-1.9.0",
    },
    PlatformTable {
        platform: Platform::Aks,
        rows: &[(19, 24, "aks-1.0"), (29, 31, "aks-1.7")],
        default: "aks-1.8",
        newest: "aks-1.8",
    },
    PlatformTable {
        platform: Platform::K3s,
        rows: &[
            (22, 23, "k3s-cis-1.23"),
            (24, 24, "k3s-cis-1.24"),
            (25, 25, "k3s-cis-1.7"),
            (26, 26, "k3s-cis-1.8"),
            (27, 29, "k3s-cis-1.9"),
        ],
        default: "k3s-cis-1.9",
        newest: "k3s-cis-1.9",
    },
    PlatformTable {
        platform: Platform::Rke2,
        rows: &[
            (23, 23, "rke2-cis-1.23"),
            (24, 24, "rke2-cis-1.24"),
            (25, 25, "rke2-cis-1.7"),
            (26, 27, "rke2-cis-1.8"),
        ],
        default: "rke2-cis-1.8",
        newest: "rke2-cis-1.8",
    },
];

/// A distribution with benchmarks of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Eks,
    Gke,
    Aks,
    K3s,
    Rke2,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Eks => "EKS",
            Platform::Gke => "GKE",
            Platform::Aks => "AKS",
            Platform::K3s => "k3s",
            Platform::Rke2 => "RKE2",
        })
    }
}

/// The API server's version: `v1.37.2` and its minor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    pub git: String,
    pub major: u32,
    pub minor: u32,
}

impl ServerVersion {
    /// Reads `gitVersion` (`v1.37.2`, `v1.32.4-eks-7b1e5c9`); `None` when it is not `vMAJOR.MINOR...`.
    pub fn parse(git: &str) -> Option<ServerVersion> {
        let bare = git.trim().strip_prefix('v')?;
        let mut parts = bare.splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor_text: String = parts.next()?.chars().take_while(char::is_ascii_digit).collect();
        let minor = minor_text.parse().ok()?;
        Some(ServerVersion { git: git.trim().to_string(), major, minor })
    }

    /// `1.37`.
    pub fn short(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// The distribution the version's suffix names (as kube-bench reads it: the word after
    /// `vX.Y.Z-` or `+`, without a trailing build number).
    pub fn platform(&self) -> Option<Platform> {
        let bare = self.git.strip_prefix('v')?;
        let at = bare.find(['-', '+'])?;
        let word: String = bare[at + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        // `k3s1` is k3s build 1, `rke2r1` RKE2 revision 1: the digits at the end are not the name.
        let name = word.trim_end_matches(|c: char| c.is_ascii_digit());
        match name {
            "eks" => Some(Platform::Eks),
            "gke" => Some(Platform::Gke),
            "k3s" => Some(Platform::K3s),
            "rke2r" => Some(Platform::Rke2),
            _ => None,
        }
    }
}

/// The benchmark a run uses, and what to tell the user about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub benchmark: String,
    /// Why this one, for stderr: `benchmark cis-1.12 for Kubernetes v1.37.2: ...`.
    pub why: String,
    pub warning: Option<String>,
}

/// The generic benchmark written for `minor`, with its range.
fn generic_for(minor: u32) -> Option<(u32, u32, &'static str)> {
    GENERIC.iter().copied().find(|(first, last, _)| (*first..=*last).contains(&minor))
}

/// The range of Kubernetes versions a generic benchmark of the table was written for.
pub fn written_for(benchmark: &str) -> Option<(u32, u32)> {
    GENERIC.iter().find(|(_, _, name)| *name == benchmark).map(|(first, last, _)| (*first, *last))
}

fn range(first: u32, last: u32) -> String {
    if first == last { format!("1.{first}") } else { format!("1.{first}-1.{last}") }
}

fn newest() -> (u32, u32, &'static str) {
    GENERIC[GENERIC.len() - 1]
}

/// The benchmark for a cluster at `version` (on `platform`, if it is one with its own benchmarks).
pub fn choose(version: &ServerVersion, platform: Option<Platform>) -> Result<Choice> {
    let shown = &version.git;
    if version.major != 1 {
        return Err(unknown(version));
    }
    if let Some(platform) = platform
        && let Some(table) = PLATFORMS.iter().find(|t| t.platform == platform)
    {
        let known = table.rows.iter().map(|(_, last, _)| *last).max().unwrap_or(0);
        let mut warning = None;
        let (benchmark, why) =
            match table.rows.iter().find(|(first, last, _)| (*first..=*last).contains(&version.minor)) {
                Some((first, last, name)) => (*name, format!("{platform}'s benchmark for {}", range(*first, *last))),
                None if version.minor > known => {
                    warning = Some(format!(
                        "Kubernetes {} is newer than the newest version the table knows for {platform} (1.{known}): \
                     what changed since is not checked",
                        version.short()
                    ));
                    (table.newest, format!("the newest benchmark for {platform}"))
                }
                None => (table.default, format!("kube-bench's default benchmark for {platform}")),
            };
        return Ok(Choice {
            benchmark: benchmark.to_string(),
            why: format!("benchmark {benchmark} for Kubernetes {shown} on {platform}: {why}"),
            warning,
        });
    }
    if let Some((first, last, name)) = generic_for(version.minor) {
        return Ok(Choice {
            benchmark: name.to_string(),
            why: format!(
                "benchmark {name} for Kubernetes {shown}: the CIS Kubernetes Benchmark written for {}",
                range(first, last)
            ),
            warning: None,
        });
    }
    let (first, last, name) = newest();
    if version.minor > last {
        return Ok(Choice {
            benchmark: name.to_string(),
            why: format!(
                "benchmark {name} for Kubernetes {shown}: the newest CIS Kubernetes Benchmark, written for {}",
                range(first, last)
            ),
            warning: Some(format!(
                "Kubernetes {} is newer than the newest benchmark ({name}, written for {}): what changed after 1.{last} \
                 is not checked",
                version.short(),
                range(first, last)
            )),
        });
    }
    Err(unknown(version))
}

fn unknown(version: &ServerVersion) -> Error {
    let (first, ..) = GENERIC[0];
    // The caller's hint names its flag (see `run::choose_benchmark`).
    Error::invalid(format!("no benchmark in the table covers Kubernetes {} (it starts at 1.{first})", version.git))
}

/// A benchmark named by the user on a cluster at `version`: it wins, with a warning when the table
/// knows it was written for other versions (and which removed features its checks may name).
/// `from` is the caller's flag that named it ("--benchmark"), or where it came from ("the practice
/// run"); the warning names the flag only in the first case.
pub fn explicit(benchmark: &str, version: Option<&ServerVersion>, platform: Option<Platform>, from: &str) -> Choice {
    let why = format!("benchmark {benchmark} (from {from})");
    let named = if from.starts_with("--") { format!("{from} {benchmark}") } else { format!("benchmark {benchmark}") };
    let Some(version) = version else {
        return Choice { benchmark: benchmark.to_string(), why, warning: None };
    };
    let table = choose(version, platform).ok();
    let chosen = table.as_ref().map(|c| c.benchmark.clone());
    let warning = match written_for(benchmark) {
        // The table's own choice, with what it says (a cluster newer than the table).
        _ if chosen.as_deref() == Some(benchmark) => table.and_then(|c| c.warning),
        Some((first, last)) if version.major != 1 || !(first..=last).contains(&version.minor) => {
            let instead = chosen.map(|c| format!(" (the table picks {c})")).unwrap_or_default();
            let gone: Vec<String> = removed::named_by(benchmark, version.minor)
                .iter()
                .map(|f| format!("{} (removed in 1.{})", f.name, f.removed))
                .collect();
            let gone = if gone.is_empty() {
                String::new()
            } else {
                format!(": its checks ask for what this cluster no longer has: {}", gone.join(", "))
            };
            Some(format!(
                "{named} was written for Kubernetes {}, not this cluster's {}{instead}{gone}",
                range(first, last),
                version.short()
            ))
        }
        Some(_) => None,
        None => Some(format!(
            "{named} is not in the table of benchmarks by version, so whether it fits Kubernetes {} \
             is not checked{}",
            version.short(),
            chosen.map(|c| format!(" (the table picks {c})")).unwrap_or_default()
        )),
    };
    Choice { benchmark: benchmark.to_string(), why, warning }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(git: &str) -> ServerVersion {
        ServerVersion::parse(git).unwrap()
    }

    #[test]
    fn versions_and_platforms_are_read_from_git_version() {
        assert_eq!(v("v1.37.2"), ServerVersion { git: "v1.37.2".into(), major: 1, minor: 37 });
        assert_eq!(v("v1.32.4-eks-7b1e5c9").minor, 32);
        assert_eq!(ServerVersion::parse("1.37.2"), None);
        assert_eq!(ServerVersion::parse("vx.y"), None);
        assert_eq!(v("v1.37.2").platform(), None);
        assert_eq!(v("v1.32.4-eks-7b1e5c9").platform(), Some(Platform::Eks));
        assert_eq!(v("v1.30.2-gke.1587003").platform(), Some(Platform::Gke));
        assert_eq!(v("v1.31.4+k3s1").platform(), Some(Platform::K3s));
        assert_eq!(v("v1.28.5+rke2r1").platform(), Some(Platform::Rke2));
        assert_eq!(v("v1.31.0-rc.1").platform(), None, "an upstream pre-release");
    }

    /// Issue 25: kube-bench graded a v1.37 cluster with cis-1.6 (PodSecurityPolicy); the table gives
    /// the newest benchmark with a warning, and each version its own.
    #[test]
    fn every_version_gets_the_benchmark_written_for_it_and_never_cis_1_6_after_1_18() {
        let choice = choose(&v("v1.37.2"), None).unwrap();
        assert_eq!(choice.benchmark, "cis-1.12");
        assert!(choice.why.contains("newest CIS Kubernetes Benchmark, written for 1.32-1.34"), "{}", choice.why);
        assert!(choice.warning.unwrap().contains("Kubernetes 1.37 is newer than the newest benchmark"));
        for (minor, expected) in
            [(28, "cis-1.10"), (30, "cis-1.11"), (32, "cis-1.12"), (34, "cis-1.12"), (25, "cis-1.7")]
        {
            let choice = choose(&v(&format!("v1.{minor}.0")), None).unwrap();
            assert_eq!(choice.benchmark, expected, "1.{minor}");
            assert_eq!(choice.warning, None, "1.{minor} is in the table");
        }
        for minor in 19..=60 {
            let choice = choose(&v(&format!("v1.{minor}.1")), None).unwrap();
            assert_ne!(choice.benchmark, "cis-1.6", "1.{minor}");
            let (first, last) = written_for(&choice.benchmark).unwrap();
            assert!(first <= minor && (minor <= last || last == newest().1), "1.{minor}: {}", choice.benchmark);
        }
        assert!(choose(&v("v1.14.0"), None).is_err());
        // The library names no flag: `run::choose_benchmark` adds the caller's.
        assert_eq!(choose(&v("v2.0.0"), None).unwrap_err().hint, None);
    }

    #[test]
    fn platforms_get_their_own_benchmarks() {
        let eks = v("v1.33.1-eks-3025e55");
        assert_eq!(choose(&eks, eks.platform()).unwrap().benchmark, "eks-1.8.0");
        assert_eq!(choose(&v("v1.27.1-eks-1"), Some(Platform::Eks)).unwrap().benchmark, "eks-1.5.0");
        let newer = choose(&v("v1.37.0-eks-1"), Some(Platform::Eks)).unwrap();
        assert_eq!(newer.benchmark, "eks-1.8.0", "past the table: the newest, not kube-bench's default");
        assert!(newer.warning.unwrap().contains("newer than the newest version the table knows for EKS (1.34)"));
        assert_eq!(choose(&v("v1.30.2-gke.1"), Some(Platform::Gke)).unwrap().benchmark, "gke-1.8.0");
        assert_eq!(choose(&v("v1.37.2"), Some(Platform::Aks)).unwrap().benchmark, "aks-1.8");
        assert_eq!(choose(&v("v1.29.0+k3s1"), Some(Platform::K3s)).unwrap().benchmark, "k3s-cis-1.9");
        assert!(choose(&eks, eks.platform()).unwrap().why.contains("on EKS"));
    }

    #[test]
    fn an_explicit_benchmark_wins_with_a_warning_when_it_does_not_fit() {
        let cluster = v("v1.37.2");
        let old = explicit("cis-1.6", Some(&cluster), None, "--benchmark");
        assert_eq!(old.benchmark, "cis-1.6");
        let warning = old.warning.unwrap();
        assert!(warning.contains("written for Kubernetes 1.16-1.18, not this cluster's 1.37"), "{warning}");
        assert!(warning.contains("the table picks cis-1.12"), "{warning}");
        assert!(warning.contains("PodSecurityPolicy (removed in 1.25)"), "{warning}");
        let ten = explicit("cis-1.10", Some(&cluster), None, "--benchmark").warning.unwrap();
        assert!(ten.contains("written for Kubernetes 1.28") && !ten.contains("removed"), "{ten}");
        let eight = explicit("cis-1.8", Some(&v("v1.29.0")), None, "--benchmark").warning.unwrap();
        assert!(!eight.contains("removed"), "1.29 still has SecurityContextDeny: {eight}");
        let eight = explicit("cis-1.8", Some(&cluster), None, "--benchmark").warning.unwrap();
        assert!(
            eight.ends_with("no longer has: the SecurityContextDeny admission plugin (removed in 1.30)"),
            "{eight}"
        );
        let own = explicit("cis-1.12", Some(&cluster), None, "--benchmark").warning.unwrap();
        assert!(own.contains("newer than the newest benchmark"), "the table's own choice, and its warning: {own}");
        assert_eq!(explicit("cis-1.11", Some(&v("v1.30.4")), None, "--benchmark").warning, None);
        assert!(
            explicit("eks-1.5.0", Some(&cluster), None, "--benchmark").warning.unwrap().contains("not in the table")
        );
        assert_eq!(explicit("eks-1.8.0", Some(&v("v1.33.1-eks-1")), Some(Platform::Eks), "--benchmark").warning, None);
        assert_eq!(explicit("cis-1.6", None, None, "--benchmark").warning, None, "offline: nothing to compare with");
        // Issue 26: not named by a flag (cks-practice's check), the warning names no flag.
        let practice = explicit("cis-1.6", Some(&cluster), None, "the practice run").warning.unwrap();
        assert!(practice.starts_with("benchmark cis-1.6 was written for Kubernetes 1.16-1.18"), "{practice}");
    }
}
