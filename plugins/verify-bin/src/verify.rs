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
    Error,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub name: String,
    pub path: PathBuf,
    pub version: Option<String>,
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
            // The file is scanned for its version only when --version does not give it.
            let embedded = match &options.version {
                Some(_) => None,
                None => version::embedded(&target.path)?,
            };
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
    report.verdict = if actual == expected { Verdict::Ok } else { Verdict::Mismatch };
    report.actual = Some(actual);
    Ok(())
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
