//! Checking one binary: its platform, its version when the checksum must be looked up, the
//! expected digest from the chosen source, the actual digest, and the verdict.

use std::path::PathBuf;

use harden_cli::error::{Error, Result};
use serde::Serialize;

use crate::checksum::{self, checksum_url};
use crate::fetch::Fetcher;
use crate::hash::{self, Algorithm};
use crate::header::{self, Platform};
use crate::locate::Target;
use crate::version;

/// A binary to check, or why the name given could not be found (with that name).
pub type Located = std::result::Result<Target, (String, Error)>;

/// Where the expected checksum comes from.
pub enum Source {
    /// `--checksum HEX` (one binary).
    Given { hex: String, algorithm: Algorithm },
    /// `--checksum-file FILE`: its text and its name for messages.
    File { text: String, name: String },
    /// `{base}/{version}/bin/{os}/{arch}/{name}.{algorithm}`.
    Published { base: String, fetcher: Fetcher },
}

impl Source {
    /// How the source is named in messages when it is one checksum that names no file (`--checksum`,
    /// or a bare digest in `--checksum-file`): such a checksum vouches for exactly one binary.
    pub fn unnamed(&self) -> Option<String> {
        match self {
            Source::Given { .. } => Some("--checksum".into()),
            Source::File { text, name } if checksum::is_bare(text, name) => Some(format!("--checksum-file {name}")),
            _ => None,
        }
    }
}

pub struct Options {
    pub version: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub algorithm: Option<Algorithm>,
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Ok,
    Mismatch,
    /// A vendor's build (gcloud's `-dispatcher`, GKE, k3s): upstream publishes no checksum for it.
    Vendor,
    /// The file says it is another release than `--version`: not the release asked about, whatever
    /// its digest (the note says which it is and whether the checksum matched).
    #[serde(rename = "WRONG-VERSION")]
    WrongVersion,
    Error,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub name: String,
    pub path: PathBuf,
    pub version: Option<String>,
    /// The release the file says it is (the version string its build embeds), when it holds one.
    #[serde(rename = "embeddedVersion", skip_serializing_if = "Option::is_none")]
    pub embedded_version: Option<String>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub algorithm: Option<Algorithm>,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// The URL or file the expected checksum came from (`--checksum` for the flag).
    pub source: Option<String>,
    pub verdict: Verdict,
    /// Why the verdict is what it is, where that needs a sentence (a vendor build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub failure: Option<Error>,
}

impl Report {
    pub fn platform(&self) -> String {
        match (&self.os, &self.arch) {
            (Some(os), Some(arch)) => format!("{os}/{arch}"),
            _ => "-".into(),
        }
    }

    /// A report for a binary that could not even be located.
    pub fn failed(name: String, path: PathBuf, err: Error) -> Report {
        let mut report = Report::new(name, path);
        report.fail(err);
        report
    }

    /// A report for a binary on a node, shown as `node:path`.
    pub fn remote(name: String, shown: String) -> Report {
        Report::new(name, PathBuf::from(shown))
    }

    pub fn fail_with(&mut self, err: Error) {
        self.fail(err);
    }

    /// A report for a binary checked before it is written to `path`.
    pub fn downloaded(name: String, path: PathBuf) -> Report {
        Report::new(name, path)
    }

    fn new(name: String, path: PathBuf) -> Report {
        Report {
            name,
            path,
            version: None,
            embedded_version: None,
            os: None,
            arch: None,
            algorithm: None,
            expected: None,
            actual: None,
            source: None,
            verdict: Verdict::Error,
            note: None,
            error: None,
            failure: None,
        }
    }

    fn fail(&mut self, err: Error) {
        self.verdict = Verdict::Error;
        self.error = Some(err.to_string());
        self.failure = Some(err);
    }
}

/// Refuses a checksum whose length says another algorithm than `--algorithm`.
pub fn check_algorithm(found: Algorithm, wanted: Option<Algorithm>, what: &str) -> Result<Algorithm> {
    match wanted {
        Some(wanted) if wanted != found => Err(Error::invalid(format!(
            "{what} is a {} checksum ({} hex digits) but --algorithm is {}",
            found.name(),
            found.hex_len(),
            wanted.name()
        ))
        .with_hint(format!("drop --algorithm or pass --algorithm {}", found.name()))),
        _ => Ok(found),
    }
}

pub fn verify(target: &Target, options: &Options) -> Report {
    let mut report = Report::new(target.name.clone(), target.path.clone());
    if let Err(err) = run(target, options, &mut report) {
        report.fail(err);
    }
    report
}

fn run(target: &Target, options: &Options, report: &mut Report) -> Result<()> {
    // Fails early, with a clear message, for a missing file or a directory.
    drop(hash::open_regular(&target.path)?);
    let platform = platform(target, options);
    if let Ok(p) = &platform {
        report.os = Some(p.os.clone());
        report.arch = Some(p.arch.clone());
    }
    report.version = options.version.clone();
    // The version the file itself says it is: the release, when --version does not give it and the
    // published checksum is wanted, and a finding when --version names another one. (Not read when
    // neither applies: it is a second pass over the file.)
    let published = matches!(options.source, Source::Published { .. });
    let embedded = if options.version.is_some() || published { version::embedded(&target.path)? } else { None };
    report.embedded_version = embedded.clone();
    let other_release = match (&options.version, &embedded) {
        (Some(asked), Some(found)) if asked != found => Some((asked.clone(), found.clone())),
        _ => None,
    };

    let (expected, algorithm) = match &options.source {
        Source::Given { hex, algorithm } => {
            report.source = Some("--checksum".into());
            (hex.clone(), *algorithm)
        }
        Source::File { text, name } => {
            report.source = Some(name.clone());
            let (hex, found) = checksum::pick(text, &target.name, name)?;
            (hex, check_algorithm(found, options.algorithm, &format!("the checksum in {name}"))?)
        }
        Source::Published { base, fetcher } => {
            let platform = platform?;
            let version = match (&options.version, embedded) {
                (Some(v), _) => v.clone(),
                (None, Some(found)) => found,
                (None, None) if platform == Platform::host() => version::ask(&target.path, &target.name)?,
                (None, None) => {
                    return Err(Error::invalid(format!(
                        "{} holds no version string and is a {platform} binary, which cannot run here ({}) to tell \
                         its version",
                        target.path.display(),
                        Platform::host()
                    ))
                    .with_hint("pass --version vX.Y.Z"));
                }
            };
            report.version = Some(version.clone());
            if let Some(suffix) = checksum::vendor_suffix(&version) {
                report.verdict = Verdict::Vendor;
                report.note = Some(format!(
                    "vendor build ({version}: the \"{suffix}\" suffix is not an upstream release): no upstream \
                     checksum exists; compare with the checksum its vendor publishes (--checksum or --checksum-file)"
                ));
                return Ok(());
            }
            let algorithm = options.algorithm.unwrap_or(Algorithm::Sha256);
            let url = checksum_url(base, &version, &platform.os, &platform.arch, &target.name, algorithm);
            report.source = Some(url.clone());
            let body = fetcher.get(&url)?;
            let (hex, found) = checksum::pick(&body, &target.name, &url)?;
            (hex, check_algorithm(found, Some(algorithm), &url)?)
        }
    };
    report.algorithm = Some(algorithm);
    report.expected = Some(expected.clone());
    let actual = hash::digest_file(&target.path, algorithm)?;
    let matches = actual == expected;
    report.actual = Some(actual);
    (report.verdict, report.note) = judge(matches, published, other_release.as_ref(), "the file");
    Ok(())
}

/// The verdict from whether the digest matched, given whether the checksum was the one published
/// for `--version` (rather than one the user gave, which says nothing about a release), and the
/// release `--version` asked for against the one `whose` ("the file", "the node's kubelet") says
/// it is, when they differ.
pub fn judge(
    matches: bool,
    published: bool,
    other_release: Option<&(String, String)>,
    whose: &str,
) -> (Verdict, Option<String>) {
    let Some((asked, found)) = other_release else {
        return (if matches { Verdict::Ok } else { Verdict::Mismatch }, None);
    };
    match (matches, published) {
        // Byte for byte the published release: the version string read from it was not its own.
        (true, true) => (
            Verdict::Ok,
            Some(format!("the digest is the one published for {asked}, although {whose} says it is {found}")),
        ),
        (true, false) => (
            Verdict::WrongVersion,
            Some(format!(
                "the checksum matches, but {whose} is {found}, not {asked} as --version says: it is the binary the \
                 checksum is for, and that is not the {asked} release"
            )),
        ),
        (false, true) => (
            Verdict::WrongVersion,
            Some(format!(
                "{whose} is {found}, not {asked} as --version says, so it cannot match {asked}'s checksum; run \
                 without --version to check it against the checksum published for {found}"
            )),
        ),
        (false, false) => (
            Verdict::WrongVersion,
            Some(format!(
                "{whose} is {found}, not {asked} as --version says, and the checksum does not match either: check \
                 that the checksum is {found}'s, or that it is the binary you meant"
            )),
        ),
    }
}

/// `--os`/`--arch` win over the header; the header fills in whatever was not given.
fn platform(target: &Target, options: &Options) -> Result<Platform> {
    if let (Some(os), Some(arch)) = (&options.os, &options.arch) {
        return Ok(Platform { os: os.clone(), arch: arch.clone() });
    }
    let detected = header::detect_file(&target.path)?;
    Ok(Platform { os: options.os.clone().unwrap_or(detected.os), arch: options.arch.clone().unwrap_or(detected.arch) })
}

/// Checks every target, a few at a time (hashing is CPU-bound, downloads wait on the network),
/// keeping the order of the input.
pub fn verify_all(targets: Vec<Located>, options: &Options) -> Vec<Report> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4).min(targets.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<std::sync::Mutex<Option<Report>>> = targets.iter().map(|_| Default::default()).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(target) = targets.get(i) else { break };
                    let report = match target {
                        Ok(target) => verify(target, options),
                        Err((name, err)) => Report::failed(name.clone(), PathBuf::from(name), err.clone()),
                    };
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
                }
            });
        }
    });
    slots.iter_mut().filter_map(|slot| slot.get_mut().unwrap_or_else(|e| e.into_inner()).take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(data: &[u8]) -> String {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(data))
    }

    fn options(version: Option<&str>, source: Source) -> Options {
        Options {
            version: version.map(str::to_string),
            os: Some("linux".into()),
            arch: Some("amd64".into()),
            algorithm: None,
            source,
        }
    }

    /// Issue 25: `--version v1.36.0` on a file that is v1.37.2, with its true checksum, said OK.
    #[test]
    fn another_release_than_version_says_is_a_finding_and_the_right_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubelet");
        let data = b"\x7fELF...\0v1.37.2\0\0v1.37.2\0 the rest of a kubelet".to_vec();
        std::fs::write(&path, &data).unwrap();
        let target = Target { name: "kubelet".into(), path: path.clone() };
        let bare = || Source::File { text: sha256(&data), name: "kubelet.sha256".into() };

        let report = verify(&target, &options(Some("v1.36.0"), bare()));
        assert_eq!(report.verdict, Verdict::WrongVersion, "{report:?}");
        assert_eq!(report.version.as_deref(), Some("v1.36.0"));
        assert_eq!(report.embedded_version.as_deref(), Some("v1.37.2"));
        let note = report.note.as_deref().unwrap();
        assert!(note.contains("the file is v1.37.2, not v1.36.0 as --version says"), "{note}");
        assert_eq!(crate::report::outcome(&[report]).unwrap(), harden_cli::Outcome::Finding);

        // The right version, and no version at all: a genuine binary with its bare checksum is OK.
        for version in [Some("v1.37.2"), None] {
            let report = verify(&target, &options(version, bare()));
            assert_eq!(report.verdict, Verdict::Ok, "{version:?}: {report:?}");
            assert_eq!(report.note, None);
        }
        // A tampered file with the right version is a MISMATCH, not a version finding.
        let mut tampered = data.clone();
        *tampered.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &tampered).unwrap();
        let report = verify(&target, &options(Some("v1.37.2"), bare()));
        assert_eq!(report.verdict, Verdict::Mismatch, "{report:?}");
        // A file without a version string cannot disagree with --version.
        std::fs::write(&path, b"no version here").unwrap();
        let given = Source::Given { hex: sha256(b"no version here"), algorithm: Algorithm::Sha256 };
        let report = verify(&target, &options(Some("v1.36.0"), given));
        assert_eq!(report.verdict, Verdict::Ok, "{report:?}");
    }

    #[test]
    fn every_combination_of_digest_source_and_version_has_its_verdict() {
        let other = ("v1.36.0".to_string(), "v1.37.2".to_string());
        assert_eq!(judge(true, false, None, "the file"), (Verdict::Ok, None));
        assert_eq!(judge(false, true, None, "the file"), (Verdict::Mismatch, None));
        // Byte for byte the published release asked for: OK, with a word about the version string.
        let (verdict, note) = judge(true, true, Some(&other), "the file");
        assert_eq!(verdict, Verdict::Ok);
        assert!(note.unwrap().contains("published for v1.36.0"));
        for (matches, published) in [(true, false), (false, true), (false, false)] {
            let (verdict, note) = judge(matches, published, Some(&other), "the node's kubelet");
            assert_eq!(verdict, Verdict::WrongVersion, "{matches} {published}");
            assert!(note.unwrap().contains("the node's kubelet is v1.37.2, not v1.36.0"), "{matches} {published}");
        }
    }
}
