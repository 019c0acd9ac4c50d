//! `--download NAME --version V`: fetches a platform binary and its checksum from the release
//! site, verifies the bytes in memory, and only then writes the file (executable, created
//! exclusively, never through a symlink). A mismatch or an empty or failed download leaves no file.

use std::path::{Path, PathBuf};

use harden_cli::error::{Error, Result};
use harden_cli::files::{Existing, write_new};

use crate::checksum::{self, checksum_url};
use crate::hash::{self, Algorithm};
use crate::header::Platform;
use crate::verify::{Report, Source, Verdict, check_algorithm};

/// Larger than any published Kubernetes binary (kubelet and kube-apiserver are about 100 MiB).
const MAX_BINARY: u64 = 512 * 1024 * 1024;

pub struct Request<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub platform: Platform,
    pub algorithm: Option<Algorithm>,
    pub dir: &'a Path,
    pub existing: Existing,
}

/// The report for the downloaded file and, when it matched, where it was written.
pub fn run(request: &Request, source: &Source) -> Result<(Report, Option<PathBuf>)> {
    let Request { name, version, platform, .. } = request;
    let file_name = if platform.os == "windows" { format!("{name}.exe") } else { name.to_string() };
    let (base, fetcher) = match source {
        Source::Published { base, fetcher } => (base, fetcher),
        // --checksum/--checksum-file still need the binary from the release site.
        Source::Given { .. } | Source::File { .. } => {
            return Err(Error::invalid("--download takes the checksum from the release site")
                .with_hint("drop --checksum/--checksum-file, or download the file yourself and verify it"));
        }
    };
    if let Some(suffix) = checksum::vendor_suffix(version) {
        return Err(Error::invalid(format!(
            "{version} is not an upstream release (\"{suffix}\"): dl.k8s.io publishes no such binary"
        )));
    }
    let algorithm = request.algorithm.unwrap_or(Algorithm::Sha256);
    let sum_url = checksum_url(base, version, &platform.os, &platform.arch, &file_name, algorithm);
    let binary_url = sum_url.rsplit_once('.').map(|(url, _)| url.to_string()).unwrap_or_default();
    let (expected, found) = checksum::pick(&fetcher.get(&sum_url)?, &file_name, &sum_url)?;
    let algorithm = check_algorithm(found, Some(algorithm), &sum_url)?;
    let bytes = fetcher.get_binary(&binary_url, MAX_BINARY)?;
    let actual = hash::digest_reader(bytes.as_slice(), algorithm)
        .map_err(|e| Error::other(format!("hashing the download: {e}")))?;
    let mut report = Report::downloaded(file_name.clone(), request.dir.join(&file_name));
    report.version = Some(version.to_string());
    report.os = Some(platform.os.clone());
    report.arch = Some(platform.arch.clone());
    report.algorithm = Some(algorithm);
    report.source = Some(sum_url);
    report.expected = Some(expected.clone());
    report.verdict = if actual == expected { Verdict::Ok } else { Verdict::Mismatch };
    report.actual = Some(actual);
    if report.verdict != Verdict::Ok {
        report.note = Some(format!("the download from {binary_url} does not match its checksum: nothing was written"));
        return Ok((report, None));
    }
    let written = write_new(request.dir, &file_name, &bytes, 0o755, request.existing, "--download")?;
    Ok((report, Some(written)))
}
