//! A krew manifest validator with krew-index's rules: the structural checks of krew's
//! `pkg/index/validation` (`ValidatePlugin`), the platform checks of its `validate-krew-manifest`
//! (supported os/arch pairs, no overlapping selectors, a LICENSE among the installed files) and the
//! archive checks its install step performs (checksum, `bin` present after the `files` operations).
//!
//! Every rule reports a [`Violation`] naming the [`Rule`], so tests can show that a broken manifest
//! is rejected for the right reason.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";

/// The `<os, arch>` pairs krew installs plugins on (validate-krew-manifest's `allPlatforms`).
pub const SUPPORTED_PLATFORMS: &[(&str, &str)] = &[
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

/// File names krew-index accepts as the license (compared case-insensitively).
const LICENSE_FILES: &[&str] =
    &["license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying", "copying.txt"];

/// Windows device names a plugin may not be called.
const WINDOWS_FORBIDDEN: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// The file is YAML with the manifest's fields and no unknown ones.
    Schema,
    ApiVersion,
    Kind,
    /// `metadata.name` matches `^[\w-]+$`, is no Windows device name, and follows krew-index's
    /// naming (lowercase words separated by dashes).
    NamePattern,
    /// The file is `<metadata.name>.yaml`.
    FileName,
    /// `spec.version` is semver with a leading `v`.
    Version,
    /// `spec.shortDescription` is set and one line.
    ShortDescription,
    /// Lines of shortDescription (70), description and caveats (80) stay short, as krew-index asks.
    LineLength,
    /// At least one platform.
    Platforms,
    Uri,
    Sha256,
    Bin,
    /// `files` is non-empty and every entry has `from` and `to`.
    Files,
    /// A selector is set, is not empty, and uses only the `os` and `arch` keys.
    Selector,
    /// The selector matches one of the supported `<os, arch>` pairs.
    SupportedPlatform,
    /// No supported pair is matched by two platforms.
    Overlap,
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
pub struct Selector {
    pub match_labels: Option<BTreeMap<String, String>>,
    pub match_expressions: Option<Vec<Requirement>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl Selector {
    /// Whether the selector selects `os`/`arch`, as `metav1.LabelSelectorAsSelector(...).Matches`.
    fn matches(&self, os: &str, arch: &str) -> bool {
        let value = |key: &str| match key {
            "os" => Some(os),
            "arch" => Some(arch),
            _ => None,
        };
        let labels_ok =
            self.match_labels.iter().flatten().all(|(k, v)| value(k).is_some_and(|actual| actual == v.as_str()));
        let expressions_ok = self.match_expressions.iter().flatten().all(|r| {
            let actual = value(&r.key);
            match r.operator.as_str() {
                "In" => actual.is_some_and(|a| r.values.iter().any(|v| v == a)),
                "NotIn" => actual.is_none_or(|a| r.values.iter().all(|v| v != a)),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            }
        });
        labels_ok && expressions_ok
    }
}

/// Validates a manifest file's text under its file name (`netpol-deny.yaml`). With `archive_for`,
/// the archive of each platform (None: not available) is checked too.
pub fn validate(file_name: &str, text: &str, archive_for: Option<ArchiveLookup>) -> Vec<Violation> {
    let mut v = Violations::default();
    let manifest: Manifest = match serde_yaml::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            v.add(Rule::Schema, format!("not a plugin manifest: {e}"));
            return v.0;
        }
    };
    let valid_selectors = structural(&manifest, &mut v);
    file_name_rule(file_name, &manifest, &mut v);
    line_lengths(&manifest.spec, &mut v);
    platform_pairs(&manifest.spec.platforms, &valid_selectors, &mut v);
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

/// krew's `ValidatePlugin` and `validatePlatform`, except that every rule is checked rather than the
/// first failure returned. Returns, per platform, whether its selector is valid.
fn structural(m: &Manifest, v: &mut Violations) -> Vec<bool> {
    if m.api_version != API_VERSION {
        v.add(Rule::ApiVersion, format!("apiVersion is {:?}, krew supports {API_VERSION:?}", m.api_version));
    }
    if m.kind != "Plugin" {
        v.add(Rule::Kind, format!("kind is {:?}, must be \"Plugin\"", m.kind));
    }
    let name = &m.metadata.name;
    let safe = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !safe || WINDOWS_FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name)) {
        v.add(
            Rule::NamePattern,
            format!("plugin name {name:?} is not allowed: must match ^[\\w-]+$ and not be a Windows device name"),
        );
    } else if !name.split('-').all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    {
        v.add(Rule::NamePattern, format!("plugin name {name:?} must be lowercase words separated by dashes"));
    }
    if m.spec.short_description.trim().is_empty() {
        v.add(Rule::ShortDescription, "spec.shortDescription is empty");
    } else if m.spec.short_description.trim_end().contains('\n') {
        v.add(Rule::ShortDescription, "spec.shortDescription must be a single line");
    }
    if !is_semver_with_v(&m.spec.version) {
        v.add(Rule::Version, format!("spec.version {:?} is not semver with a leading v (like v1.2.3)", m.spec.version));
    }
    if m.spec.platforms.is_empty() {
        v.add(Rule::Platforms, "spec.platforms is empty");
    }
    let mut valid_selectors = Vec::new();
    for (i, p) in m.spec.platforms.iter().enumerate() {
        if p.uri.is_empty() {
            v.add(Rule::Uri, format!("spec.platforms[{i}].uri has to be set"));
        }
        if !(p.sha256.len() == 64 && p.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))) {
            v.add(Rule::Sha256, format!("spec.platforms[{i}].sha256 {:?} must match ^[a-f0-9]{{64}}$", p.sha256));
        }
        if p.bin.is_empty() {
            v.add(Rule::Bin, format!("spec.platforms[{i}].bin has to be set"));
        }
        if p.files.is_empty() {
            v.add(Rule::Files, format!("spec.platforms[{i}].files is empty"));
        }
        for (j, f) in p.files.iter().enumerate() {
            if f.from.is_empty() || f.to.is_empty() {
                v.add(Rule::Files, format!("spec.platforms[{i}].files[{j}] needs both from and to"));
            }
        }
        let before = v.0.len();
        selector_rule(i, p.selector.as_ref(), v);
        valid_selectors.push(v.0.len() == before);
    }
    valid_selectors
}

fn selector_rule(i: usize, selector: Option<&Selector>, v: &mut Violations) {
    let Some(s) = selector else {
        v.add(Rule::Selector, format!("spec.platforms[{i}].selector is missing"));
        return;
    };
    if s.match_labels.is_none() && s.match_expressions.as_ref().is_none_or(Vec::is_empty) {
        v.add(Rule::Selector, format!("spec.platforms[{i}].selector is empty"));
    }
    if s.match_labels.as_ref().is_some_and(BTreeMap::is_empty) {
        v.add(Rule::Selector, format!("spec.platforms[{i}].selector.matchLabels is specified but empty"));
    }
    if s.match_expressions.as_ref().is_some_and(Vec::is_empty) {
        v.add(Rule::Selector, format!("spec.platforms[{i}].selector.matchExpressions is specified but empty"));
    }
    let keys =
        s.match_labels.iter().flatten().map(|(k, _)| k).chain(s.match_expressions.iter().flatten().map(|r| &r.key));
    for key in keys {
        if key != "os" && key != "arch" {
            v.add(
                Rule::Selector,
                format!("spec.platforms[{i}].selector uses key {key:?}; only os and arch are supported"),
            );
        }
    }
    for r in s.match_expressions.iter().flatten() {
        let ok = match r.operator.as_str() {
            "In" | "NotIn" => !r.values.is_empty(),
            "Exists" | "DoesNotExist" => r.values.is_empty(),
            _ => false,
        };
        if !ok {
            v.add(Rule::Selector, format!("spec.platforms[{i}].selector has an invalid requirement {r:?}"));
        }
    }
}

fn file_name_rule(file_name: &str, m: &Manifest, v: &mut Violations) {
    match file_name.strip_suffix(".yaml") {
        None => v.add(Rule::FileName, format!("{file_name}: krew manifests end in .yaml")),
        Some(stem) if stem != m.metadata.name => v.add(
            Rule::FileName,
            format!("{file_name} holds plugin {:?}; the file must be named after it", m.metadata.name),
        ),
        Some(_) => {}
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

/// validate-krew-manifest's `findAnyMatchingPlatform` and `isOverlappingPlatformSelectors`, on the
/// platforms whose selectors are valid (krew stops at an invalid one before these checks).
fn platform_pairs(platforms: &[Platform], valid: &[bool], v: &mut Violations) {
    let selector = |i: usize| platforms[i].selector.as_ref().filter(|_| valid[i]);
    for i in 0..platforms.len() {
        let Some(selector) = selector(i) else { continue };
        if !SUPPORTED_PLATFORMS.iter().any(|(os, arch)| selector.matches(os, arch)) {
            v.add(Rule::SupportedPlatform, format!("spec.platforms[{i}]'s selector matches no supported os/arch pair"));
        }
    }
    for (os, arch) in SUPPORTED_PLATFORMS {
        let matching: Vec<usize> =
            (0..platforms.len()).filter(|&i| selector(i).is_some_and(|s| s.matches(os, arch))).collect();
        if matching.len() > 1 {
            v.add(Rule::Overlap, format!("spec.platforms {matching:?} all select {os}/{arch}"));
        }
    }
}

fn is_semver_with_v(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else { return false };
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            p.split('.').all(|id| ident(id) && (!id.chars().all(|c| c.is_ascii_digit()) || numeric(id)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
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
    fn semver() {
        for ok in ["v0.1.0", "v1.2.3", "v1.0.0-rc.1", "v1.0.0-alpha-1+build.5", "v10.20.30"] {
            assert!(is_semver_with_v(ok), "{ok}");
        }
        for bad in ["0.1.0", "v1.2", "v1.2.3.4", "v01.2.3", "v1.2.3-", "v1.2.3-01", "vx.y.z", "V1.2.3", ""] {
            assert!(!is_semver_with_v(bad), "{bad}");
        }
    }

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
