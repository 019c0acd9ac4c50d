//! krew distribution: the shipped and the rendered manifests pass krew's own validator
//! (`validate-krew-manifest`, built from `sigs.k8s.io/krew`) and our checks of what it does not
//! cover, each kind of broken manifest is rejected for its reason, and a real krew installs every
//! plugin from the archives `cargo xtask dist` packs, after which the real kubectl runs it.

#[path = "krew/validator.rs"]
mod validator;

use std::path::{Path, PathBuf};
use std::process::Command;

use harden_tests::{bin_target_dir, plugin_path, repo_root, run, stderr, stdout};
use serde_yaml::Value;
use validator::{Rule, krew_validator, validate};

/// The platforms every plugin ships for.
const PLATFORMS: [(&str, &str); 5] =
    [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")];

/// Plugins that talk to the cluster, whose manifests must say which permissions they need.
const NEEDS_CLUSTER_PERMISSIONS: [&str; 6] =
    ["netpol-deny", "block-metadata", "tls-ingress", "dash-user", "cis-bench", "cks-practice"];

fn shipped(plugin: &str) -> String {
    let path = repo_root().join("krew-manifests").join(format!("{plugin}.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn rules(violations: &[validator::Violation]) -> Vec<Rule> {
    let mut rules: Vec<Rule> = violations.iter().map(|v| v.rule).collect();
    rules.sort();
    rules.dedup();
    rules
}

// ---------------------------------------------------------------------------------------------
// The shipped manifests

#[test]
fn shipped_manifests_pass_krews_validator_and_ours() {
    for plugin in harden_tests::plugins() {
        let path = repo_root().join("krew-manifests").join(format!("{plugin}.yaml"));
        krew_validator(&path).unwrap_or_else(|e| panic!("{plugin}: krew's validator: {e}"));
        let violations = validate(&shipped(&plugin), None);
        assert!(violations.is_empty(), "{plugin}:\n{}", validator::describe(&violations));
    }
}

#[test]
fn there_is_a_manifest_for_every_plugin_and_nothing_else() {
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("krew-manifests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut expected: Vec<String> = harden_tests::plugins().iter().map(|p| format!("{p}.yaml")).collect();
    expected.sort();
    assert_eq!(files, expected);
}

#[test]
fn shipped_manifests_describe_the_plugin_and_cover_every_platform() {
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let manifest: validator::Manifest = serde_yaml::from_str(&shipped(plugin)).unwrap();
        let spec = &manifest.spec;
        assert_eq!(spec.version, format!("v{}", env!("CARGO_PKG_VERSION")), "{plugin}: version follows the crates");
        assert!(spec.homepage.starts_with("https://"), "{plugin}: homepage");
        assert!(spec.description.contains(&format!("kubectl {plugin} ")), "{plugin}: the description has an example");
        assert!(spec.description.lines().count() >= 4, "{plugin}: the description says what it does");
        if NEEDS_CLUSTER_PERMISSIONS.contains(&plugin) {
            assert!(spec.caveats.to_lowercase().contains("need"), "{plugin}: caveats name permissions");
        }
        let bin = format!("kubectl-{}", plugin.replace('-', "_"));
        let mut covered = Vec::new();
        for platform in &spec.platforms {
            let labels = platform.selector.as_ref().and_then(|s| s.match_labels.clone()).expect("matchLabels");
            let (os, arch) = (labels["os"].as_str(), labels["arch"].as_str());
            let (ext, exe) = if os == "windows" { ("zip", ".exe") } else { ("tar.gz", "") };
            let archive = format!("kubectl-{plugin}_{}_{os}_{arch}.{ext}", env!("CARGO_PKG_VERSION"));
            assert!(platform.uri.ends_with(&format!("/{archive}")), "{plugin} {os}/{arch}: uri {}", platform.uri);
            assert_eq!(platform.bin, format!("{bin}{exe}"), "{plugin} {os}/{arch}");
            covered.push((os.to_string(), arch.to_string()));
        }
        let expected: Vec<(String, String)> = PLATFORMS.iter().map(|(o, a)| (o.to_string(), a.to_string())).collect();
        assert_eq!(covered, expected, "{plugin}: platforms");
    }
}

// ---------------------------------------------------------------------------------------------
// One broken manifest per rule. Each starts from a valid shipped manifest and breaks one thing.

fn base() -> Value {
    serde_yaml::from_str(&shipped("netpol-deny")).unwrap()
}

fn platform(doc: &mut Value, i: usize) -> &mut Value {
    &mut doc["spec"]["platforms"][i]
}

/// Checks `doc` with our rules and returns the rules it breaks.
fn broken(doc: &Value) -> Vec<Rule> {
    rules(&validate(&serde_yaml::to_string(doc).unwrap(), None))
}

/// Runs krew's validator on `doc` written as `file_name` and returns its refusal.
fn krew_refusal(doc: &Value, file_name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, serde_yaml::to_string(doc).unwrap()).unwrap();
    match krew_validator(&path) {
        Ok(()) => panic!("krew's validator accepted a broken {file_name}"),
        Err(message) => message,
    }
}

fn assert_krew_refuses(doc: &Value, needle: &str) {
    let refusal = krew_refusal(doc, "netpol-deny.yaml");
    assert!(refusal.contains(needle), "expected {needle:?} in krew's refusal: {refusal}");
}

#[test]
fn the_unbroken_base_is_valid() {
    assert_eq!(broken(&base()), []);
}

#[test]
fn rejects_unknown_fields_and_non_manifests() {
    let mut doc = base();
    doc["spec"]["shortDesc"] = "typo".into();
    assert_eq!(broken(&doc), [Rule::Schema], "krew itself ignores unknown fields");
    assert_eq!(rules(&validate("- just\n- a list\n", None)), [Rule::Schema]);
}

/// Each of these is krew's to refuse: one broken field each, refused with krew's own words.
#[test]
fn krews_validator_refuses_each_broken_field() {
    type Edit = (&'static str, fn(&mut Value), &'static str);
    let edits: [Edit; 11] = [
        ("apiVersion", |d| d["apiVersion"] = "krew.googlecontainertools.github.com/v1alpha1".into(), "not supported"),
        ("kind", |d| d["kind"] = "Plugins".into(), "only \"Plugin\" is supported"),
        ("version", |d| d["spec"]["version"] = "0.1.0".into(), "not starting with 'v'"),
        ("shortDescription", |d| d["spec"]["shortDescription"] = "".into(), "should have a short description"),
        ("platforms", |d| d["spec"]["platforms"] = Value::Sequence(vec![]), "should have a platform specified"),
        ("uri", |d| _ = d["spec"]["platforms"][1].as_mapping_mut().unwrap().remove("uri"), "URI:"),
        ("sha256", |d| d["spec"]["platforms"][0]["sha256"] = "ABC".into(), "Sha256:ABC"),
        ("bin", |d| d["spec"]["platforms"][2]["bin"] = "".into(), "badly constructed"),
        (
            "selector",
            |d| _ = d["spec"]["platforms"][0].as_mapping_mut().unwrap().remove("selector"),
            "badly constructed",
        ),
        (
            "unsupported",
            |d| d["spec"]["platforms"][0]["selector"]["matchLabels"]["os"] = "plan9".into(),
            "doesn't match any supported platforms",
        ),
        (
            "overlap",
            |d| {
                let copy = d["spec"]["platforms"][0].clone();
                d["spec"]["platforms"].as_sequence_mut().unwrap().push(copy);
            },
            "overlapping selectors",
        ),
    ];
    for (field, edit, needle) in edits {
        let mut doc = base();
        edit(&mut doc);
        let refusal = krew_refusal(&doc, "netpol-deny.yaml");
        assert!(refusal.contains(needle), "{field}: expected {needle:?} in: {refusal}");
    }
    let mut doc = base();
    doc["metadata"]["name"] = "netpol/deny".into();
    assert_krew_refuses(&doc, "is not allowed");
    assert!(krew_refusal(&base(), "netpol.yaml").contains("should be named \"netpol\""));
}

/// The committed manifests once carried `sha256: 000...` unquoted, which YAML reads as the number
/// 0: krew refused all six. Placeholders stay quoted strings.
#[test]
fn an_unquoted_all_zero_sha256_is_a_number_krew_refuses() {
    let text = shipped("netpol-deny").replace(&format!("\"{}\"", "0".repeat(64)), &"0".repeat(64));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("netpol-deny.yaml");
    std::fs::write(&path, text).unwrap();
    let refusal = krew_validator(&path).unwrap_err();
    assert!(refusal.contains("`sha256` value 0 is not valid"), "{refusal}");
}

#[test]
fn rejects_long_lines_unless_they_are_one_word() {
    let mut doc = base();
    doc["spec"]["description"] = format!("{}\n", "word ".repeat(17)).into();
    assert_eq!(broken(&doc), [Rule::LineLength]);
    doc["spec"]["description"] = format!("See:\nhttps://example.com/{}\n", "x".repeat(100)).into();
    assert_eq!(broken(&doc), []);
    let mut doc = base();
    doc["spec"]["shortDescription"] = "a ".repeat(36).trim_end().into();
    assert_eq!(broken(&doc), [Rule::LineLength]);
}

#[test]
fn rejects_missing_or_incomplete_files() {
    let mut doc = base();
    platform(&mut doc, 0).as_mapping_mut().unwrap().remove("files");
    assert_eq!(broken(&doc), [Rule::Files]);
    let mut doc = base();
    platform(&mut doc, 0)["files"][1].as_mapping_mut().unwrap().remove("to");
    assert_eq!(broken(&doc), [Rule::Files]);
    let mut doc = base();
    platform(&mut doc, 0)["files"][0]["from"] = "".into();
    assert_eq!(broken(&doc), [Rule::Files]);
}

#[test]
fn krew_refuses_missing_empty_or_foreign_key_selectors() {
    let selectors = [
        None,
        Some("{}"),
        Some("matchLabels: {}"),
        Some("matchLabels: {os: linux, arch: amd64, libc: musl}"),
        Some("matchExpressions: [{key: os, operator: Equals, values: [linux]}]"),
    ];
    for selector in selectors {
        let mut doc = base();
        match selector {
            None => {
                platform(&mut doc, 0).as_mapping_mut().unwrap().remove("selector");
            }
            Some(s) => platform(&mut doc, 0)["selector"] = serde_yaml::from_str(s).unwrap(),
        }
        let refusal = krew_refusal(&doc, "netpol-deny.yaml");
        assert!(!refusal.is_empty(), "{selector:?}");
    }
}

#[test]
fn krew_accepts_match_expressions_selecting_distinct_platforms() {
    let mut doc = base();
    platform(&mut doc, 0)["selector"] =
        serde_yaml::from_str("matchExpressions: [{key: os, operator: In, values: [linux]}, {key: arch, operator: NotIn, values: [arm64, arm, 386, ppc64le]}]")
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("netpol-deny.yaml");
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
    krew_validator(&path).unwrap();
}

#[test]
fn krew_refuses_selectors_matching_no_supported_platform() {
    for labels in ["{os: linux, arch: riscv64}", "{os: freebsd, arch: amd64}", "{os: Linux, arch: amd64}"] {
        let mut doc = base();
        platform(&mut doc, 0)["selector"]["matchLabels"] = serde_yaml::from_str(labels).unwrap();
        assert_krew_refuses(&doc, "doesn't match any supported platforms");
    }
}

#[test]
fn krew_refuses_duplicate_and_overlapping_platforms() {
    let mut doc = base();
    platform(&mut doc, 1)["selector"]["matchLabels"]["arch"] = "amd64".into();
    assert_krew_refuses(&doc, "overlapping selectors");
    let mut doc = base();
    // os: linux alone also selects linux/amd64 and linux/arm64, which other platforms select.
    platform(&mut doc, 0)["selector"] = serde_yaml::from_str("matchLabels: {os: linux}").unwrap();
    assert_krew_refuses(&doc, "overlapping selectors");
}

// ---------------------------------------------------------------------------------------------
// Archive rules, on small archives made here.

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture { dir: tempfile::tempdir().unwrap() }
    }

    /// A tar.gz with the given (path, content, mode) entries.
    fn tar_gz(&self, name: &str, entries: &[(&str, &str, u32)]) -> PathBuf {
        let path = self.dir.path().join(name);
        let gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, content, mode) in entries {
            let mut header = tar::Header::new_ustar();
            header.set_size(content.len() as u64);
            header.set_mode(*mode);
            tar.append_data(&mut header, name, content.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        path
    }

    fn zip(&self, name: &str, entries: &[(&str, &str)]) -> PathBuf {
        use std::io::Write;
        let path = self.dir.path().join(name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, content) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(content.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The netpol-deny manifest cut down to linux/amd64 (and windows/amd64 with `windows`), pointing at
/// the archives given, validated with them.
fn check_with_archives(linux: &Path, windows: Option<&Path>) -> Vec<Rule> {
    let mut doc = base();
    let mut platforms = Vec::new();
    for (i, archive) in [(0, Some(linux)), (4, windows)] {
        let Some(archive) = archive else { continue };
        let mut p = doc["spec"]["platforms"][i].clone();
        p["sha256"] = sha256_hex(archive).into();
        p["uri"] = format!("https://example.test/{}", archive.file_name().unwrap().to_string_lossy()).into();
        platforms.push(p);
    }
    doc["spec"]["platforms"] = Value::Sequence(platforms);
    let dir = linux.parent().unwrap().to_path_buf();
    let archive_for = move |p: &validator::Platform| Some(dir.join(p.uri.rsplit('/').next().unwrap()));
    rules(&validate(&serde_yaml::to_string(&doc).unwrap(), Some(&archive_for)))
}

#[test]
fn accepts_archives_with_the_bin_and_a_license() {
    let f = Fixture::new();
    let linux = f.tar_gz("l.tar.gz", &[("kubectl-netpol_deny", "#!/bin/sh\n", 0o755), ("LICENSE", "Apache\n", 0o644)]);
    let windows = f.zip("w.zip", &[("kubectl-netpol_deny.exe", "MZ"), ("LICENSE", "Apache\n")]);
    assert_eq!(check_with_archives(&linux, Some(&windows)), []);
}

#[test]
fn rejects_an_archive_whose_checksum_differs() {
    let f = Fixture::new();
    let linux = f.tar_gz("l.tar.gz", &[("kubectl-netpol_deny", "#!/bin/sh\n", 0o755), ("LICENSE", "Apache\n", 0o644)]);
    let mut doc = base();
    doc["spec"]["platforms"] = Value::Sequence(vec![doc["spec"]["platforms"][0].clone()]);
    let archive_for = move |_: &validator::Platform| Some(linux.clone());
    // The shipped manifest's placeholder checksum is not the archive's.
    let found = rules(&validate(&serde_yaml::to_string(&doc).unwrap(), Some(&archive_for)));
    assert_eq!(found, [Rule::ArchiveChecksum]);
}

#[test]
fn rejects_an_archive_without_the_bin() {
    let f = Fixture::new();
    let linux = f.tar_gz("l.tar.gz", &[("kubectl-netpol-deny", "#!/bin/sh\n", 0o755), ("LICENSE", "Apache\n", 0o644)]);
    assert_eq!(check_with_archives(&linux, None), [Rule::BinInArchive]);
    // A bin present in the archive but not moved by the files operations is not installed either.
    let f = Fixture::new();
    let nested =
        f.tar_gz("l.tar.gz", &[("bin/kubectl-netpol_deny", "#!/bin/sh\n", 0o755), ("LICENSE", "Apache\n", 0o644)]);
    assert_eq!(check_with_archives(&nested, None), [Rule::BinInArchive]);
    let f = Fixture::new();
    let linux = f.tar_gz("l.tar.gz", &[("kubectl-netpol_deny", "#!/bin/sh\n", 0o755), ("LICENSE", "Apache\n", 0o644)]);
    let windows = f.zip("w.zip", &[("kubectl-netpol_deny", "MZ"), ("LICENSE", "Apache\n")]);
    assert_eq!(check_with_archives(&linux, Some(&windows)), [Rule::BinInArchive], "windows needs the .exe");
}

#[test]
fn rejects_an_archive_without_a_license() {
    let f = Fixture::new();
    let linux = f.tar_gz("l.tar.gz", &[("kubectl-netpol_deny", "#!/bin/sh\n", 0o755), ("README.md", "hi\n", 0o644)]);
    assert_eq!(check_with_archives(&linux, None), [Rule::LicenseInArchive]);
}

// ---------------------------------------------------------------------------------------------
// The real thing: `cargo xtask dist` archives installed by a real krew, run by the real kubectl.

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} must be on PATH for the krew tests"))
}

/// Builds krew (cached) with tests/tools/build-krew.sh and returns the directory of `kubectl-krew`.
fn krew_dir() -> PathBuf {
    harden_tests::krew_dir()
}

/// The xtask executable `cargo build --bins` made next to the plugins, as `cargo xtask dist` for
/// the plugins of this test.
fn dist() -> Command {
    let path = bin_target_dir().join("xtask");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bins` first (`cargo xtask test` does it)",
        path.display()
    );
    let mut command = Command::new(path);
    command.arg("dist").stdin(std::process::Stdio::null());
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        command.args(["--plugin", plugin]);
    }
    command
}

/// Copies of the plugin binaries without debug info: a debug build is ~200 MB a binary, which would
/// make packing take a minute. Release builds are stripped by the release profile.
fn stripped_plugins(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let source = plugin_path(plugin);
        let completer = bin_target_dir().join(format!("kubectl_complete-{}", plugin.replace('-', "_")));
        for source in [source, completer] {
            let dest = dir.join(source.file_name().unwrap());
            std::fs::copy(&source, &dest).unwrap();
            let output = run(Command::new("strip").arg("--strip-debug").arg(&dest));
            assert!(output.status.success(), "strip (binutils) is needed to shrink the debug binaries");
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn krew_installs_every_plugin_from_the_dist_archives_and_kubectl_runs_it() {
    let krew = krew_dir();
    let kubectl = which("kubectl");
    let kubectl_dir = kubectl.parent().unwrap();
    let git_dir = which("git").parent().unwrap().to_path_buf();
    let work = harden_tests::exec_tempdir();
    let bins = work.path().join("bins");
    stripped_plugins(&bins);

    // Pack the host archives and render the manifests.
    let out = work.path().join("dist");
    let output = run(dist().args(["--prebuilt"]).arg(&bins).arg("--out").arg(&out));
    assert!(output.status.success(), "cargo xtask dist failed");
    let version = env!("CARGO_PKG_VERSION");
    let host = ("linux", "amd64");
    assert_eq!((std::env::consts::OS, std::env::consts::ARCH), ("linux", "x86_64"), "this test packs linux/amd64");
    let archive = |plugin: &str| out.join(format!("kubectl-{plugin}_{version}_{}_{}.tar.gz", host.0, host.1));
    let manifest = |plugin: &str| out.join("krew").join(format!("{plugin}.yaml"));

    // SHA256SUMS lists every archive with its checksum.
    let sums = String::from_utf8(read(&out.join("SHA256SUMS"))).unwrap();
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let line =
            format!("{}  {}", sha256_hex(&archive(plugin)), archive(plugin).file_name().unwrap().to_string_lossy());
        assert!(sums.lines().any(|l| l == line), "SHA256SUMS lacks {line:?}:\n{sums}");
    }
    assert_eq!(sums.lines().count(), harden_tests::plugins().len());

    // The rendered manifests pass every rule, archive rules included, and differ from the shipped
    // ones only in the rendered fields and the platforms not built here.
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let text = String::from_utf8(read(&manifest(plugin))).unwrap();
        let dir = out.clone();
        let archive_for = move |p: &validator::Platform| Some(dir.join(p.uri.rsplit('/').next().unwrap()));
        krew_validator(&manifest(plugin)).unwrap_or_else(|e| panic!("{plugin}: krew's validator: {e}"));
        let violations = validate(&text, Some(&archive_for));
        assert!(violations.is_empty(), "{plugin}:\n{}", validator::describe(&violations));
        let rendered: validator::Manifest = serde_yaml::from_str(&text).unwrap();
        let source: validator::Manifest = serde_yaml::from_str(&shipped(plugin)).unwrap();
        assert_eq!(rendered.spec.platforms.len(), 1, "{plugin}: only the host platform was built");
        assert_eq!(rendered.spec.description, source.spec.description);
        assert_eq!(rendered.spec.caveats, source.spec.caveats);
        assert_eq!(rendered.spec.platforms[0].uri, source.spec.platforms[0].uri, "{plugin}: default URL template");
        assert!(shipped(plugin).starts_with(text.split("  platforms:\n").next().unwrap()), "{plugin}: header kept");
    }

    // Reproducible: packing the same binaries again gives the same bytes, and rendering from the
    // archives alone gives the same manifests.
    let again = work.path().join("again");
    let output = run(dist().args(["--prebuilt"]).arg(&bins).arg("--out").arg(&again));
    assert!(output.status.success());
    let output = run(dist().args(["--render-only", "--out"]).arg(&again));
    assert!(output.status.success());
    assert_eq!(read(&again.join("SHA256SUMS")), read(&out.join("SHA256SUMS")));
    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        assert_eq!(read(&again.join("krew").join(format!("{plugin}.yaml"))), read(&manifest(plugin)), "{plugin}");
    }

    // --update-manifests refuses to write manifests that would lack platforms.
    let before = shipped("netpol-deny");
    let mut update = Command::new(bin_target_dir().join("xtask"));
    update.args(["dist", "--render-only", "--update-manifests", "--plugin", "netpol-deny", "--out"]).arg(&again);
    let output = run(&mut update);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no archive for linux/arm64"), "{}", stderr(&output));
    assert_eq!(shipped("netpol-deny"), before);

    // Install each with the real krew, run it through the real kubectl, uninstall it.
    let krew_root = work.path().join("krew-root");
    let krew_bin = krew_root.join("bin");
    let mut dirs = vec![krew_bin.clone(), krew.clone(), kubectl_dir.to_path_buf(), git_dir];
    dirs.dedup();
    let path = std::env::join_paths(&dirs).unwrap();
    // `krew uninstall` and `list` insist on an initialized index (a git clone); an empty local
    // repository stands in for `kubectl krew update`, which would need github.com.
    let index = krew_root.join("index").join("default");
    std::fs::create_dir_all(&index).unwrap();
    assert!(run(Command::new("git").args(["init", "--quiet"]).arg(&index)).status.success());
    let krew_cmd = |args: &[&str]| {
        let mut command = Command::new(&kubectl);
        command
            .arg("krew")
            .args(args)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", work.path())
            .env("KREW_ROOT", &krew_root)
            .env("KREW_NO_UPGRADE_CHECK", "1")
            .stdin(std::process::Stdio::null());
        command
    };
    let kubectl_cmd = |args: &[&str]| {
        let mut command = Command::new(&kubectl);
        command.args(args).env_clear().env("PATH", &path).env("HOME", work.path()).stdin(std::process::Stdio::null());
        command
    };

    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let manifest_arg = format!("--manifest={}", manifest(plugin).display());
        let archive_arg = format!("--archive={}", archive(plugin).display());
        let output = run(&mut krew_cmd(&["install", &manifest_arg, &archive_arg]));
        assert!(output.status.success(), "kubectl krew install {plugin} failed");
        let said = format!("{}{}", stdout(&output), stderr(&output));
        assert!(said.contains(&format!("Installed plugin: {plugin}")), "{said}");
        let link = krew_bin.join(format!("kubectl-{}", plugin.replace('-', "_")));
        assert!(link.exists(), "krew made no {}", link.display());
        let store = krew_root.join("store").join(plugin).join(format!("v{version}"));
        assert!(store.join("LICENSE").is_file(), "the LICENSE is installed with {plugin}");

        let output = run(&mut kubectl_cmd(&["plugin", "list"]));
        assert!(stdout(&output).contains(&link.display().to_string()), "kubectl plugin list lacks {plugin}");

        let output = run(&mut kubectl_cmd(&[plugin, "--help"]));
        assert!(output.status.success(), "kubectl {plugin} --help failed");
        assert!(stdout(&output).contains("Usage:"), "kubectl {plugin} --help printed no usage");

        let output = run(&mut krew_cmd(&["list"]));
        assert!(output.status.success() && stdout(&output).contains(plugin), "kubectl krew list lacks {plugin}");
    }

    for plugin in harden_tests::plugins() {
        let plugin = plugin.as_str();
        let output = run(&mut krew_cmd(&["uninstall", plugin]));
        assert!(output.status.success(), "kubectl krew uninstall {plugin} failed");
        assert!(!krew_bin.join(format!("kubectl-{}", plugin.replace('-', "_"))).exists());
        assert!(!krew_root.join("store").join(plugin).exists());
        let output = run(&mut kubectl_cmd(&[plugin, "--help"]));
        assert!(!output.status.success(), "kubectl {plugin} still runs after uninstall");
    }
    let output = run(&mut krew_cmd(&["list"]));
    assert!(output.status.success());
    assert!(
        harden_tests::plugins().iter().all(|p| !stdout(&output).contains(p)),
        "krew still lists:\n{}",
        stdout(&output)
    );
}
