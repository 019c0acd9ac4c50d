//! `cargo xtask dist`: release archives, `SHA256SUMS` and rendered krew manifests.
//!
//! For each plugin and each platform that can be built here (the host, plus every krew platform whose
//! Rust target is installed), it builds the plugin, packs `kubectl-<name>_<version>_<os>_<arch>.tar.gz`
//! (`.zip` for Windows) holding the binary and LICENSE, and writes `SHA256SUMS`. It then renders
//! `krew-manifests/<name>.yaml` into `<out>/krew/<name>.yaml` with each platform's `uri` (from the URL
//! template) and `sha256` (of the archive in `<out>`).
//!
//! Archives are deterministic and rendering reads nothing but the archives in `<out>`, so a release
//! whose archives were built on several machines is rendered by copying them into one directory and
//! running `cargo xtask dist --render-only --out DIR`; the result is the same wherever it runs.

mod archive;
mod manifest;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail, ensure};
use clap::Parser;

pub use archive::{Entry, Format};
pub use manifest::{Artifact, render, render_url};

/// Where release assets are downloaded from, unless `--url-template` says otherwise.
pub const DEFAULT_URL_TEMPLATE: &str = "{repository}/releases/download/{tag}/{archive}";

#[derive(Parser, Debug)]
#[command(name = "cargo xtask dist", about = "Build release archives, SHA256SUMS and rendered krew manifests")]
struct Args {
    /// Directory for archives, SHA256SUMS and krew/<plugin>.yaml [default: <target dir>/dist]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Cargo profile to build with (`dev` is much faster than the LTO `release`, for trying this out)
    #[arg(long, default_value = "release")]
    profile: String,
    /// Rust target triple to build (repeatable) [default: the host and every installed krew target]
    #[arg(long = "target", value_name = "TRIPLE")]
    targets: Vec<String>,
    /// Cargo target directory for the build [default: CARGO_TARGET_DIR, else target/]
    #[arg(long, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// Pack host binaries already built in DIR (e.g. target/debug) instead of building
    #[arg(long, value_name = "DIR", conflicts_with_all = ["targets", "render_only"])]
    prebuilt: Option<PathBuf>,
    /// Download URL of an archive; placeholders {repository} {name} {version} {tag} {os} {arch} {archive}
    #[arg(long, value_name = "TEMPLATE", default_value = DEFAULT_URL_TEMPLATE)]
    url_template: String,
    /// Only this plugin (repeatable), e.g. `netpol-deny` [default: all]
    #[arg(long = "plugin", value_name = "NAME")]
    plugins: Vec<String>,
    /// Build nothing: render manifests and SHA256SUMS from the archives already in --out
    #[arg(long)]
    render_only: bool,
    /// Also write the rendered manifests to krew-manifests/ (needs archives for every platform)
    #[arg(long)]
    update_manifests: bool,
}

/// A Rust target triple and the krew platform it builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub triple: &'static str,
    pub os: &'static str,
    pub arch: &'static str,
}

/// Triples for each krew platform, preferred first (static musl binaries run on any Linux).
pub const TARGETS: &[Target] = &[
    Target { triple: "x86_64-unknown-linux-musl", os: "linux", arch: "amd64" },
    Target { triple: "x86_64-unknown-linux-gnu", os: "linux", arch: "amd64" },
    Target { triple: "aarch64-unknown-linux-musl", os: "linux", arch: "arm64" },
    Target { triple: "aarch64-unknown-linux-gnu", os: "linux", arch: "arm64" },
    Target { triple: "x86_64-apple-darwin", os: "darwin", arch: "amd64" },
    Target { triple: "aarch64-apple-darwin", os: "darwin", arch: "arm64" },
    Target { triple: "x86_64-pc-windows-msvc", os: "windows", arch: "amd64" },
    Target { triple: "x86_64-pc-windows-gnu", os: "windows", arch: "amd64" },
];

/// A plugin of the workspace, from `cargo metadata`.
#[derive(Debug, Clone)]
pub struct Plugin {
    /// `netpol-deny`: the krew name and manifest file name.
    pub name: String,
    pub package: String,
    /// `kubectl-netpol_deny`: the executable (without `.exe`).
    pub bin: String,
    pub version: String,
    pub repository: String,
}

/// The archive file name of a plugin for a platform.
pub fn archive_name(plugin: &str, version: &str, os: &str, arch: &str) -> String {
    format!("kubectl-{plugin}_{version}_{os}_{arch}.{}", format_for(os).extension())
}

pub fn format_for(os: &str) -> Format {
    if os == "windows" { Format::Zip } else { Format::TarGz }
}

fn executable_name(bin: &str, os: &str) -> String {
    if os == "windows" { format!("{bin}.exe") } else { bin.to_string() }
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let args = match Args::try_parse_from(std::iter::once("cargo xtask dist".to_string()).chain(args.iter().cloned())) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            e.print()?;
            return Ok(());
        }
        Err(e) => {
            e.print()?;
            std::process::exit(2);
        }
    };
    let root = crate::repo_root();
    let metadata = Metadata::load(&root)?;
    let plugins = select_plugins(metadata.plugins(&root)?, &args.plugins)?;
    let target_dir = args.target_dir.clone().map(absolute).unwrap_or_else(|| metadata.target_directory.clone());
    let out = args.out.clone().map(absolute).unwrap_or_else(|| target_dir.join("dist"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    if !args.render_only {
        let builds = if let Some(dir) = &args.prebuilt {
            vec![(host_target()?, absolute(dir.clone()))]
        } else {
            build(&plugins, &args, &target_dir)?
        };
        ensure!(!builds.is_empty(), "nothing was built");
        for (target, bin_dir) in &builds {
            for plugin in &plugins {
                let path = pack_plugin(&root, plugin, target.os, target.arch, bin_dir, &out)?;
                eprintln!("dist: packed {}", path.display());
            }
        }
    }

    let rendered = render_all(&root, &plugins, &args.url_template, &out, args.update_manifests)?;
    let sums = write_sha256sums(&out)?;
    eprintln!("dist: wrote {} and {} manifests in {}", sums.display(), rendered, out.join("krew").display());
    println!("{}", out.display());
    Ok(())
}

fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

fn select_plugins(all: Vec<Plugin>, wanted: &[String]) -> anyhow::Result<Vec<Plugin>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    wanted
        .iter()
        .map(|name| {
            all.iter().find(|p| &p.name == name).cloned().ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
                anyhow!("no plugin named {name:?}; the plugins are: {}", known.join(", "))
            })
        })
        .collect()
}

/// Packs one plugin's binary from `bin_dir` with LICENSE into `out`, returning the archive's path.
pub fn pack_plugin(
    root: &Path,
    plugin: &Plugin,
    os: &str,
    arch: &str,
    bin_dir: &Path,
    out: &Path,
) -> anyhow::Result<PathBuf> {
    let executable = executable_name(&plugin.bin, os);
    let binary = bin_dir.join(&executable);
    ensure!(binary.is_file(), "{} was not built (looked for {})", plugin.package, binary.display());
    let license = root.join("LICENSE");
    ensure!(license.is_file(), "{} is missing: the archives must carry the license", license.display());
    // kubectl (>= 1.26) completes `kubectl <plugin> ...` by running kubectl_complete-<plugin>.
    let completer = executable_name(&plugin.bin.replacen("kubectl-", "kubectl_complete-", 1), os);
    let completer_path = bin_dir.join(&completer);
    ensure!(completer_path.is_file(), "{} was not built (looked for {})", completer, completer_path.display());
    let entries = [
        Entry { name: executable, source: binary, executable: true },
        Entry { name: completer, source: completer_path, executable: true },
        Entry { name: "LICENSE".into(), source: license, executable: false },
    ];
    let dest = out.join(archive_name(&plugin.name, &plugin.version, os, arch));
    archive::pack(format_for(os), &entries, &dest)?;
    Ok(dest)
}

/// Renders every plugin's manifest from the archives in `out`, returning how many were written.
fn render_all(root: &Path, plugins: &[Plugin], template: &str, out: &Path, update: bool) -> anyhow::Result<usize> {
    let krew_dir = out.join("krew");
    std::fs::create_dir_all(&krew_dir).with_context(|| format!("creating {}", krew_dir.display()))?;
    for plugin in plugins {
        let source_path = root.join("krew-manifests").join(format!("{}.yaml", plugin.name));
        let source =
            std::fs::read_to_string(&source_path).with_context(|| format!("reading {}", source_path.display()))?;
        let rendered = render_plugin(plugin, &source, template, out)
            .with_context(|| format!("rendering {}", source_path.display()))?;
        if update && rendered.missing.is_empty() {
            std::fs::write(&source_path, &rendered.text)
                .with_context(|| format!("writing {}", source_path.display()))?;
        } else if update {
            bail!(
                "not updating {}: no archive for {} in {} (build them there, copy them in, then run with --render-only)",
                source_path.display(),
                rendered.missing.join(", "),
                out.display()
            );
        } else if !rendered.missing.is_empty() {
            eprintln!(
                "dist: {}: left out platforms without an archive here: {}",
                plugin.name,
                rendered.missing.join(", ")
            );
        }
        let dest = krew_dir.join(format!("{}.yaml", plugin.name));
        std::fs::write(&dest, &rendered.text).with_context(|| format!("writing {}", dest.display()))?;
    }
    Ok(plugins.len())
}

/// A rendered manifest and the platforms it had to leave out for want of an archive.
pub struct Rendered {
    pub text: String,
    pub missing: Vec<String>,
}

/// Renders one plugin's source manifest from the archives found in `out`.
pub fn render_plugin(plugin: &Plugin, source: &str, template: &str, out: &Path) -> anyhow::Result<Rendered> {
    let tag = format!("v{}", plugin.version);
    let mut artifacts = Vec::new();
    let mut missing = Vec::new();
    for platform in manifest::platforms(source)? {
        let expected_bin = executable_name(&plugin.bin, &platform.os);
        ensure!(
            platform.bin == expected_bin,
            "the {}/{} platform has bin {:?}, but the archive holds {expected_bin:?}",
            platform.os,
            platform.arch,
            platform.bin
        );
        let name = archive_name(&plugin.name, &plugin.version, &platform.os, &platform.arch);
        let path = out.join(&name);
        if !path.is_file() {
            missing.push(format!("{}/{}", platform.os, platform.arch));
            artifacts.push(None);
            continue;
        }
        let vars = [
            ("repository", plugin.repository.as_str()),
            ("name", plugin.name.as_str()),
            ("version", plugin.version.as_str()),
            ("tag", tag.as_str()),
            ("os", platform.os.as_str()),
            ("arch", platform.arch.as_str()),
            ("archive", name.as_str()),
        ];
        artifacts.push(Some(Artifact { uri: render_url(template, &vars)?, sha256: archive::sha256_file(&path)? }));
    }
    let text = render(source, &tag, &artifacts)?;
    Ok(Rendered { text, missing })
}

/// Writes `SHA256SUMS` for every archive in `out` (all plugins, versions and platforms there).
fn write_sha256sums(out: &Path) -> anyhow::Result<PathBuf> {
    let mut sums = Vec::new();
    for entry in std::fs::read_dir(out).with_context(|| format!("listing {}", out.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if name.starts_with("kubectl-") && (name.ends_with(".tar.gz") || name.ends_with(".zip")) && path.is_file() {
            sums.push((name.to_string(), archive::sha256_file(&path)?));
        }
    }
    let dest = out.join("SHA256SUMS");
    std::fs::write(&dest, archive::sha256sums(&sums)).with_context(|| format!("writing {}", dest.display()))?;
    Ok(dest)
}

/// Builds every plugin for each target, returning the targets built and where their binaries are.
fn build(plugins: &[Plugin], args: &Args, target_dir: &Path) -> anyhow::Result<Vec<(Target, PathBuf)>> {
    let host = host_target()?;
    let explicit = !args.targets.is_empty();
    let targets: Vec<Target> = if explicit {
        args.targets
            .iter()
            .map(|t| {
                TARGETS.iter().copied().find(|k| k.triple == t).ok_or_else(|| {
                    let known: Vec<&str> = TARGETS.iter().map(|k| k.triple).collect();
                    anyhow!("{t} is not a target krew can install; use one of {}", known.join(", "))
                })
            })
            .collect::<anyhow::Result<_>>()?
    } else {
        auto_targets(host)?
    };
    let profile_dir = match args.profile.as_str() {
        "dev" | "test" => "debug",
        "release" | "bench" => "release",
        other => other,
    };
    let mut built = Vec::new();
    for target in targets {
        let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        command
            .current_dir(crate::repo_root())
            .args(["build", "--locked", "--bins", "--profile", &args.profile, "--target", target.triple])
            .arg("--target-dir")
            .arg(target_dir);
        for plugin in plugins {
            command.args(["--package", &plugin.package]);
        }
        match crate::check(&mut command) {
            Ok(()) => built.push((target, target_dir.join(target.triple).join(profile_dir))),
            // A cross target whose std is installed may still lack a linker: build what we can.
            Err(e) if !explicit && target != host => eprintln!("dist: skipping {}: {e:#}", target.triple),
            Err(e) => return Err(e),
        }
    }
    Ok(built)
}

/// The host's target, and each other krew platform whose Rust standard library is installed.
fn auto_targets(host: Target) -> anyhow::Result<Vec<Target>> {
    let installed = installed_targets()?;
    let mut chosen: Vec<Target> = Vec::new();
    for target in TARGETS {
        if chosen.iter().any(|c| c.os == target.os && c.arch == target.arch) {
            continue;
        }
        let is_host_platform = target.os == host.os && target.arch == host.arch;
        if installed.iter().any(|t| t == target.triple) {
            chosen.push(*target);
        } else if is_host_platform && target.triple == host.triple {
            chosen.push(host);
        }
    }
    Ok(chosen)
}

fn installed_targets() -> anyhow::Result<Vec<String>> {
    let output = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    ensure!(output.status.success(), "rustc --print sysroot failed");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let rustlib = sysroot.join("lib/rustlib");
    Ok(TARGETS.iter().filter(|t| rustlib.join(t.triple).join("lib").is_dir()).map(|t| t.triple.to_string()).collect())
}

fn host_target() -> anyhow::Result<Target> {
    let output = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let triple = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or_else(|| anyhow!("rustc -vV did not name the host"))?;
    TARGETS
        .iter()
        .copied()
        .find(|t| t.triple == triple)
        .ok_or_else(|| anyhow!("the host {triple} is not a platform krew installs plugins on"))
}

/// The parts of `cargo metadata` dist needs.
#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    target_directory: PathBuf,
}

#[derive(serde::Deserialize)]
struct Package {
    name: String,
    version: String,
    manifest_path: PathBuf,
    repository: Option<String>,
    targets: Vec<TargetInfo>,
}

#[derive(serde::Deserialize)]
struct TargetInfo {
    name: String,
    kind: Vec<String>,
}

impl Metadata {
    fn load(root: &Path) -> anyhow::Result<Metadata> {
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .context("running cargo metadata")?;
        ensure!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).context("reading cargo metadata")
    }

    /// The packages under plugins/ whose binary is a kubectl plugin, sorted by name.
    fn plugins(&self, root: &Path) -> anyhow::Result<Vec<Plugin>> {
        let plugins_dir = root.join("plugins");
        let mut plugins = Vec::new();
        for package in &self.packages {
            if !package.manifest_path.starts_with(&plugins_dir) {
                continue;
            }
            let Some(name) = package.name.strip_prefix("kubectl-") else { continue };
            let bin = format!("kubectl-{}", name.replace('-', "_"));
            ensure!(
                package.targets.iter().any(|t| t.name == bin && t.kind.iter().any(|k| k == "bin")),
                "package {} has no binary named {bin}, which is what kubectl runs for `kubectl {name}`",
                package.name
            );
            let repository = package.repository.clone().ok_or_else(|| {
                anyhow!("package {} has no `repository`, which the default URL template uses", package.name)
            })?;
            plugins.push(Plugin {
                name: name.to_string(),
                package: package.name.clone(),
                bin,
                version: package.version.clone(),
                repository: repository.trim_end_matches('/').to_string(),
            });
        }
        plugins.sort_by(|a, b| a.name.cmp(&b.name));
        ensure!(!plugins.is_empty(), "no kubectl-* packages found under {}", plugins_dir.display());
        Ok(plugins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_follow_the_release_convention() {
        assert_eq!(
            archive_name("netpol-deny", "0.1.0", "linux", "amd64"),
            "kubectl-netpol-deny_0.1.0_linux_amd64.tar.gz"
        );
        assert_eq!(
            archive_name("verify-bin", "1.2.3", "windows", "amd64"),
            "kubectl-verify-bin_1.2.3_windows_amd64.zip"
        );
        assert_eq!(
            archive_name("verify-bin", "1.2.3", "darwin", "arm64"),
            "kubectl-verify-bin_1.2.3_darwin_arm64.tar.gz"
        );
    }

    #[test]
    fn every_krew_platform_we_ship_has_a_target() {
        for (os, arch) in
            [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")]
        {
            assert!(TARGETS.iter().any(|t| t.os == os && t.arch == arch), "{os}/{arch}");
        }
    }

    #[test]
    fn the_workspace_plugins_are_found_with_their_binaries() {
        let root = crate::repo_root();
        let plugins = Metadata::load(&root).unwrap().plugins(&root).unwrap();
        let names: Vec<(&str, &str)> = plugins.iter().map(|p| (p.name.as_str(), p.bin.as_str())).collect();
        assert_eq!(
            names,
            [
                ("block-metadata", "kubectl-block_metadata"),
                ("cis-bench", "kubectl-cis_bench"),
                ("cks-practice", "kubectl-cks_practice"),
                ("dash-user", "kubectl-dash_user"),
                ("netpol-deny", "kubectl-netpol_deny"),
                ("tls-ingress", "kubectl-tls_ingress"),
                ("verify-bin", "kubectl-verify_bin"),
            ]
        );
        assert!(plugins.iter().all(|p| p.repository.starts_with("https://")));
    }

    #[test]
    fn an_unknown_plugin_is_named_with_the_known_ones() {
        let root = crate::repo_root();
        let all = Metadata::load(&root).unwrap().plugins(&root).unwrap();
        let error = select_plugins(all, &["nope".into()]).unwrap_err().to_string();
        assert!(error.contains("\"nope\"") && error.contains("netpol-deny"), "{error}");
    }

    /// Packing then rendering from the archives alone (`--render-only`) gives the same manifest, and a
    /// second pack of the same binary gives the same archive.
    #[test]
    fn rendered_manifests_are_reproducible_from_the_archives() {
        let root = crate::repo_root();
        let dir = tempfile::tempdir().unwrap();
        let bin_dir = dir.path().join("bin");
        std::fs::create_dir(&bin_dir).unwrap();
        std::fs::write(bin_dir.join("kubectl-netpol_deny"), b"not really a binary").unwrap();
        std::fs::write(bin_dir.join("kubectl_complete-netpol_deny"), b"not really a completer").unwrap();
        let plugin = Plugin {
            name: "netpol-deny".into(),
            package: "kubectl-netpol-deny".into(),
            bin: "kubectl-netpol_deny".into(),
            version: "9.8.7".into(),
            repository: "https://example.test/r".into(),
        };
        let source = std::fs::read_to_string(root.join("krew-manifests/netpol-deny.yaml")).unwrap();
        let out_a = dir.path().join("a");
        let out_b = dir.path().join("b");
        for out in [&out_a, &out_b] {
            std::fs::create_dir(out).unwrap();
            pack_plugin(&root, &plugin, "linux", "amd64", &bin_dir, out).unwrap();
        }
        let name = "kubectl-netpol-deny_9.8.7_linux_amd64.tar.gz";
        assert_eq!(std::fs::read(out_a.join(name)).unwrap(), std::fs::read(out_b.join(name)).unwrap());
        let a = render_plugin(&plugin, &source, DEFAULT_URL_TEMPLATE, &out_a).unwrap();
        let b = render_plugin(&plugin, &source, DEFAULT_URL_TEMPLATE, &out_b).unwrap();
        assert_eq!(a.text, b.text);
        assert!(a.text.contains("version: v9.8.7"));
        assert!(a.text.contains(&format!("uri: https://example.test/r/releases/download/v9.8.7/{name}")), "{}", a.text);
        let sha = archive::sha256_file(&out_a.join(name)).unwrap();
        assert!(a.text.contains(&format!("sha256: \"{sha}\"")));
        assert_eq!(a.missing, ["linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"]);
    }

    /// The release step: with an archive for every platform, `--update-manifests` writes complete
    /// manifests back to krew-manifests/; with one missing it refuses and leaves the file alone.
    #[test]
    fn update_manifests_needs_every_platform_and_writes_them_all() {
        let real_root = crate::repo_root();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("krew-manifests")).unwrap();
        let source_path = root.path().join("krew-manifests/verify-bin.yaml");
        let source = std::fs::read_to_string(real_root.join("krew-manifests/verify-bin.yaml")).unwrap();
        std::fs::write(&source_path, &source).unwrap();
        std::fs::copy(real_root.join("LICENSE"), root.path().join("LICENSE")).unwrap();
        let bin_dir = root.path().join("bin");
        std::fs::create_dir(&bin_dir).unwrap();
        std::fs::write(bin_dir.join("kubectl-verify_bin"), b"unix").unwrap();
        std::fs::write(bin_dir.join("kubectl-verify_bin.exe"), b"windows").unwrap();
        std::fs::write(bin_dir.join("kubectl_complete-verify_bin"), b"unix").unwrap();
        std::fs::write(bin_dir.join("kubectl_complete-verify_bin.exe"), b"windows").unwrap();
        let plugin = Plugin {
            name: "verify-bin".into(),
            package: "kubectl-verify-bin".into(),
            bin: "kubectl-verify_bin".into(),
            version: "0.1.0".into(),
            repository: "https://example.test/r".into(),
        };
        let out = root.path().join("dist");
        std::fs::create_dir(&out).unwrap();
        let platforms =
            [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")];
        for (os, arch) in &platforms[1..] {
            pack_plugin(root.path(), &plugin, os, arch, &bin_dir, &out).unwrap();
        }
        let plugins = [plugin.clone()];
        let error = render_all(root.path(), &plugins, DEFAULT_URL_TEMPLATE, &out, true).unwrap_err();
        assert!(error.to_string().contains("no archive for linux/amd64"), "{error:#}");
        assert_eq!(std::fs::read_to_string(&source_path).unwrap(), source);

        pack_plugin(root.path(), &plugin, "linux", "amd64", &bin_dir, &out).unwrap();
        render_all(root.path(), &plugins, DEFAULT_URL_TEMPLATE, &out, true).unwrap();
        let updated = std::fs::read_to_string(&source_path).unwrap();
        assert_eq!(updated, std::fs::read_to_string(out.join("krew/verify-bin.yaml")).unwrap());
        assert!(!updated.contains(&"0".repeat(64)), "every placeholder is replaced:\n{updated}");
        for (os, arch) in platforms {
            let name = archive_name("verify-bin", "0.1.0", os, arch);
            let sha = archive::sha256_file(&out.join(&name)).unwrap();
            assert!(updated.contains(&format!(
                "uri: https://example.test/r/releases/download/v0.1.0/{name}\n      sha256: \"{sha}\"\n"
            )));
        }
        // Rendering the updated manifest again changes nothing.
        render_all(root.path(), &plugins, DEFAULT_URL_TEMPLATE, &out, true).unwrap();
        assert_eq!(std::fs::read_to_string(&source_path).unwrap(), updated);
    }
}
