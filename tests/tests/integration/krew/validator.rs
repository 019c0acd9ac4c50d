//! What krew's own validator (`validate-krew-manifest`, built from `sigs.k8s.io/krew` by
//! `tests/tools/build-krew.sh`) does not check, checked here: unknown fields, `files` entries, the
//! line lengths krew-index asks for, and the archives (checksum, `bin` and a LICENSE among the
//! installed files after the `files` operations). [`krew_validator`] runs krew's.
//!
//! Every rule reports a [`Violation`] naming the [`Rule`], so tests can show that a broken manifest
//! is rejected for the right reason.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// File names krew-index accepts as the license (compared case-insensitively).
const LICENSE_FILES: &[&str] =
    &["license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying", "copying.txt"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// The file is YAML with the manifest's fields and no unknown ones (krew ignores unknown fields).
    Schema,
    /// Lines of shortDescription (70), description and caveats (80) stay short, as krew-index asks.
    LineLength,
    /// `files` is non-empty and every entry has `from` and `to`.
    Files,
    /// The archive's SHA-256 is the manifest's.
    ArchiveChecksum,
    /// `bin` is among the files the `files` operations install.
    BinInArchive,
    /// A LICENSE (or alike) is among the installed files.
    LicenseInArchive,
}

#[derive(Debug, Clone)]
pub struct Violation {
    pub rule: Rule,
    pub message: String,
}

/// One line per violation, for test failure messages.
pub fn describe(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("{:?}: {}\n", v.rule, v.message)).collect()
}

/// Finds the archive of a platform of the manifest being validated (None: not available).
pub type ArchiveLookup<'a> = &'a dyn Fn(&Platform) -> Option<PathBuf>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Every field krew knows is declared, so that `deny_unknown_fields` finds the others.
#[allow(dead_code)]
pub struct Manifest {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Spec,
}

#[derive(Debug, Default, Deserialize)]
// Every field krew knows is declared, so that `deny_unknown_fields` finds the others.
#[allow(dead_code)]
pub struct Metadata {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub homepage: String,
    #[serde(default)]
    pub short_description: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub caveats: String,
    #[serde(default)]
    pub platforms: Vec<Platform>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Platform {
    pub selector: Option<Selector>,
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub bin: String,
    #[serde(default)]
    pub files: Vec<FileOperation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Every field krew knows is declared, so that `deny_unknown_fields` finds the others.
#[allow(dead_code)]
pub struct Selector {
    pub match_labels: Option<BTreeMap<String, String>>,
    pub match_expressions: Option<Vec<Requirement>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
// Every field krew knows is declared, so that `deny_unknown_fields` finds the others.
#[allow(dead_code)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOperation {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// Runs krew's `validate-krew-manifest -skip-install` on the manifest file at `path` (its name
/// must be `<plugin>.yaml`, as krew requires); `Err` is krew's message.
pub fn krew_validator(path: &Path) -> Result<(), String> {
    let krew = harden_tests::krew_dir().join("validate-krew-manifest");
    let output = std::process::Command::new(&krew)
        .args(["-skip-install", "-manifest"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", krew.display()));
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let fatal = stderr.lines().find(|l| l.starts_with('F')).map(|l| l.split_once("] ").map_or(l, |(_, m)| m));
    Err(fatal.unwrap_or(&stderr).to_string())
}

/// Checks a manifest's text for what krew's validator does not. With `archive_for`, the archive of
/// each platform (None: not available) is checked too.
pub fn validate(text: &str, archive_for: Option<ArchiveLookup>) -> Vec<Violation> {
    let mut v = Violations::default();
    let manifest: Manifest = match serde_yaml::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            v.add(Rule::Schema, format!("not a plugin manifest: {e}"));
            return v.0;
        }
    };
    line_lengths(&manifest.spec, &mut v);
    for (i, p) in manifest.spec.platforms.iter().enumerate() {
        if p.files.is_empty() {
            v.add(Rule::Files, format!("spec.platforms[{i}].files is empty"));
        }
        for (j, f) in p.files.iter().enumerate() {
            if f.from.is_empty() || f.to.is_empty() {
                v.add(Rule::Files, format!("spec.platforms[{i}].files[{j}] needs both from and to"));
            }
        }
    }
    if let Some(archive_for) = archive_for {
        for (i, platform) in manifest.spec.platforms.iter().enumerate() {
            match archive_for(platform) {
                Some(path) => archive_rules(i, platform, &path, &mut v),
                None => v.add(Rule::ArchiveChecksum, format!("spec.platforms[{i}]: no archive to check")),
            }
        }
    }
    v.0
}

#[derive(Default)]
struct Violations(Vec<Violation>);

impl Violations {
    fn add(&mut self, rule: Rule, message: impl Into<String>) {
        self.0.push(Violation { rule, message: message.into() });
    }
}

/// krew-index's line-length limits; a line may exceed them only if it is one word (like a URL).
fn line_lengths(spec: &Spec, v: &mut Violations) {
    for (field, text, max) in [
        ("shortDescription", &spec.short_description, 70),
        ("description", &spec.description, 80),
        ("caveats", &spec.caveats, 80),
    ] {
        for line in text.lines() {
            if line.chars().count() > max && line.trim().contains(' ') {
                v.add(Rule::LineLength, format!("a line of spec.{field} is longer than {max} characters: {line:?}"));
            }
        }
    }
}

/// The regular files of an archive, by path, with their executable bit.
pub fn archive_files(path: &Path) -> Result<Vec<(String, bool)>, String> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| format!("opening {name}: {e}"))?;
    let mut files = Vec::new();
    if name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("reading {name}: {e}"))?;
        for i in 0..zip.len() {
            let entry = zip.by_index(i).map_err(|e| format!("reading {name}: {e}"))?;
            if entry.is_file() {
                let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
                files.push((entry.name().map_err(|e| e.to_string())?.trim_start_matches("./").to_string(), executable));
            }
        }
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in tar.entries().map_err(|e| format!("reading {name}: {e}"))? {
            let entry = entry.map_err(|e| format!("reading {name}: {e}"))?;
            if entry.header().entry_type().is_file() {
                let path = entry.path().map_err(|e| format!("reading {name}: {e}"))?;
                let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
                files.push((path.display().to_string().trim_start_matches("./").to_string(), executable));
            }
        }
    } else {
        return Err(format!("{name}: krew unpacks .tar.gz and .zip archives"));
    }
    Ok(files)
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Applies the `files` operations (krew: each `from` is a glob in the unpacked archive, moved into
/// the directory `to`, or renamed to `to` when it is a file path) and returns the installed paths.
pub fn installed_files(files: &[FileOperation], archive: &[(String, bool)]) -> Vec<String> {
    let mut installed = Vec::new();
    for op in files {
        let from = op.from.trim_start_matches("./").trim_end_matches('/');
        let to = op.to.trim_start_matches("./");
        for (path, _) in archive {
            let matched_prefix = if glob_match(from, path) {
                Some(path.rsplit_once('/').map_or("", |(dir, _)| dir))
            } else if path.starts_with(&format!("{from}/")) {
                // A directory moves with everything under it.
                Some(from.rsplit_once('/').map_or("", |(dir, _)| dir))
            } else {
                None
            };
            let Some(prefix) = matched_prefix else { continue };
            let relative = path.strip_prefix(prefix).unwrap_or(path).trim_start_matches('/');
            let into_dir = to == "." || to.is_empty() || to.ends_with('/') || !glob_is_literal(from) || path != from;
            let dest = if into_dir {
                let dir = to.trim_end_matches('/').trim_start_matches('.');
                if dir.is_empty() { relative.to_string() } else { format!("{dir}/{relative}") }
            } else {
                to.to_string()
            };
            installed.push(dest);
        }
    }
    installed
}

fn glob_is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '['])
}

/// `filepath.Match` for `*` and `?` within path segments.
fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    pattern.len() == path.len() && pattern.iter().zip(&path).all(|(p, s)| segment_match(p.as_bytes(), s.as_bytes()))
}

fn segment_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => segment_match(&p[1..], s) || (!s.is_empty() && segment_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => segment_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => segment_match(&p[1..], &s[1..]),
        _ => false,
    }
}

fn archive_rules(i: usize, platform: &Platform, path: &Path, v: &mut Violations) {
    match sha256_file(path) {
        Ok(sum) if sum == platform.sha256 => {}
        Ok(sum) => v.add(
            Rule::ArchiveChecksum,
            format!("spec.platforms[{i}].sha256 is {} but {} has {sum}", platform.sha256, path.display()),
        ),
        Err(e) => v.add(Rule::ArchiveChecksum, e),
    }
    let files = match archive_files(path) {
        Ok(files) => files,
        Err(e) => {
            v.add(Rule::BinInArchive, e);
            return;
        }
    };
    let installed = installed_files(&platform.files, &files);
    let bin = platform.bin.trim_start_matches("./");
    if !installed.iter().any(|f| f == bin) {
        v.add(
            Rule::BinInArchive,
            format!(
                "spec.platforms[{i}].bin {bin:?} is not among the installed files {installed:?} of {}",
                path.display()
            ),
        );
    }
    let has_license = installed.iter().any(|f| {
        let base = f.rsplit('/').next().unwrap_or(f).to_ascii_lowercase();
        LICENSE_FILES.contains(&base.as_str())
    });
    if !has_license {
        v.add(
            Rule::LicenseInArchive,
            format!("spec.platforms[{i}] installs no LICENSE (or alike) file from {}: {installed:?}", path.display()),
        );
    }
}

#[cfg(test)]
mod self_tests {
    use super::*;

    #[test]
    fn globs_and_file_operations() {
        assert!(glob_match("kubectl-*", "kubectl-x"));
        assert!(!glob_match("kubectl-*", "dir/kubectl-x"));
        assert!(glob_match("*/LICENSE", "dir/LICENSE"));
        let archive = vec![("dir/kubectl-x".to_string(), true), ("dir/LICENSE".to_string(), false)];
        let ops = |pairs: &[(&str, &str)]| -> Vec<FileOperation> {
            pairs.iter().map(|(f, t)| FileOperation { from: f.to_string(), to: t.to_string() }).collect()
        };
        assert_eq!(installed_files(&ops(&[("dir/*", ".")]), &archive), ["kubectl-x", "LICENSE"]);
        assert_eq!(installed_files(&ops(&[("dir/kubectl-x", "renamed")]), &archive), ["renamed"]);
        assert_eq!(installed_files(&ops(&[("dir", "sub")]), &archive), ["sub/dir/kubectl-x", "sub/dir/LICENSE"]);
        assert!(installed_files(&ops(&[("kubectl-x", ".")]), &archive).is_empty());
    }
}
