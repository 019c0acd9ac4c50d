//! verify-bin's one command: its flags checked together, then the binaries named (or found in
//! PATH), a download, or the binaries running on the nodes verified, and the reports written and
//! judged. `main.rs` holds only the flags and the dispatch, as every plugin's does.

use std::path::PathBuf;

use harden_cli::error::{Error, ExitStyle, Outcome, Result};
use harden_cli::files::Existing;
use harden_cli::format::Format;
use harden_cli::progress::Spinner;

use crate::node::Nodes;
use crate::verify::{Options, Source};
use crate::{Cli, checksum, cluster, download, fetch, header, locate, node, report, verify};

/// A FILE is checked synchronously inside `run`; `--node` awaits the API server.
impl harden_cli::command::Command for Cli {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        validate(self)
    }

    async fn run(self) -> Result<Outcome> {
        run(self).await
    }
}

fn platform_word(value: Option<String>, flag: &str) -> Result<Option<String>> {
    match value {
        Some(v) if v.is_empty() || !v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) => {
            Err(Error::invalid(format!("{flag} {v:?} is not a Go-style name")).with_hint(format!(
                "use names as dl.k8s.io does, e.g. {flag} {}",
                if flag == "--os" { "linux" } else { "amd64" }
            )))
        }
        other => Ok(other),
    }
}

fn options(cli: &Cli) -> Result<Options> {
    let version = cli.version.as_deref().map(checksum::normalize_version).transpose()?;
    let os = platform_word(cli.os.clone(), "--os")?;
    let arch = platform_word(cli.arch.clone(), "--arch")?;
    let base = checksum::normalize_base_url(&cli.base_url)?;
    let source = if let Some(hex) = &cli.checksum {
        let (hex, found) = checksum::parse_hex(hex, "--checksum")?;
        Source::Given { hex, algorithm: verify::check_algorithm(found, cli.algorithm, "--checksum")? }
    } else if let Some(path) = &cli.checksum_file {
        let what = format!("--checksum-file {}", path.display());
        let text = harden_cli::files::read_text(path, &what, harden_cli::files::limits::CHECKSUMS).map_err(|e| {
            if e.hint.is_none() { e.with_hint("give the .sha256/.sha512 file or a sha256sum-style list") } else { e }
        })?;
        Source::File { text, name: path.display().to_string() }
    } else {
        let cert_file = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()).map(PathBuf::from);
        let roots = fetch::root_certs(cert_file.as_deref())?;
        Source::Published { base, fetcher: fetch::Fetcher::new(roots, cli.timeout) }
    };
    one_binary_per_unnamed_checksum(cli, &source)?;
    Ok(Options { version, os, arch, algorithm: cli.algorithm, source })
}

/// A checksum that names no file (`--checksum`, or dl.k8s.io's bare `NAME.sha256` in
/// `--checksum-file`) vouches for the one binary it was published for: applied to several, it would
/// call every other one a MISMATCH. So it needs exactly one binary named.
fn one_binary_per_unnamed_checksum(cli: &Cli, source: &Source) -> Result<()> {
    let Some(unnamed) = source.unnamed() else { return Ok(()) };
    if cli.binaries.len() == 1 {
        return Ok(());
    }
    let on_nodes = !cli.nodes.is_empty() || cli.all_nodes;
    let checked = match cli.binaries.as_slice() {
        [] if on_nodes => format!("every component running on the node ({})", node::COMPONENTS.join(", ")),
        [] => format!("kubectl and every platform binary in PATH ({})", locate::DEFAULT_NAMES[1..].join(", ")),
        several => format!("{} binaries ({})", several.len(), several.join(", ")),
    };
    // The file's own name says which binary it is for, as dl.k8s.io names them (kubelet.sha256).
    let file = cli.checksum_file.as_ref().and_then(|f| f.file_name()).and_then(|f| f.to_str());
    let binary = file
        .and_then(|f| f.strip_suffix(".sha256").or_else(|| f.strip_suffix(".sha512")))
        .filter(|b| published_name(b, "NAME").is_ok())
        .unwrap_or("kubelet");
    let source = match file {
        Some(file) => format!("--checksum-file {file}"),
        None => "--checksum HEX".to_string(),
    };
    let example = if on_nodes {
        format!("kubectl verify-bin --node NODE {binary} {source}")
    } else {
        format!("kubectl verify-bin ./{binary} {source}")
    };
    let what = if cli.checksum_file.is_some() {
        "holds one checksum that names no file (as dl.k8s.io's NAME.sha256 files do)"
    } else {
        "is one checksum that names no file"
    };
    Err(Error::invalid(format!(
        "{unnamed} {what}, so it vouches for exactly one binary, but {checked} would be checked against it"
    ))
    .with_hint(format!(
        "name the one binary it belongs to (`{example}`), or give a sha256sum-style file with a line per binary \
         (`<hex>  kubelet`), or drop it to fetch each binary's published checksum"
    )))
}

/// A file name as dl.k8s.io publishes binaries: lower-case letters, digits and dashes.
fn published_name(name: &str, flag: &str) -> Result<String> {
    let bare = name.strip_suffix(".exe").unwrap_or(name);
    if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(Error::invalid(format!("{flag} {name:?} is not the name of a published binary"))
            .with_hint(format!("e.g. {flag} kubectl, kubeadm or kubelet")));
    }
    Ok(bare.to_string())
}

fn download(cli: &Cli, name: &str, options: &Options) -> Result<Outcome> {
    let name = published_name(name, "--download")?;
    let version = options.version.as_deref().ok_or_else(|| {
        Error::invalid("--download needs --version").with_hint(format!("e.g. --download {name} --version v1.31.2"))
    })?;
    let host = header::Platform::host();
    let platform =
        header::Platform { os: options.os.clone().unwrap_or(host.os), arch: options.arch.clone().unwrap_or(host.arch) };
    let dir = std::env::current_dir().map_err(|e| Error::other(format!("the current directory: {e}")))?;
    let existing = if cli.overwrite { Existing::Replace } else { Existing::Refuse };
    let request =
        download::Request { name: &name, version, platform, algorithm: options.algorithm, dir: &dir, existing };
    let spinner = Spinner::start(format!("downloading {name} {version}"));
    let result = download::run(&request, &options.source);
    drop(spinner);
    let (report, written) = result?;
    let reports = [report];
    print_reports(cli.output, &reports)?;
    if let Some(path) = written {
        harden_cli::output::eline(format!("{} written (verified before writing)", path.display()));
    }
    report::outcome(&reports)
}

fn print_reports(format: Format, reports: &[verify::Report]) -> Result<()> {
    harden_cli::report::write(&report::document(reports), format, |_| Ok(report::text(reports)))?;
    if format == Format::Text {
        for r in reports.iter().filter(|r| r.failure.is_some()) {
            harden_cli::output::eline(format!("error: {}", report::error_line(r)));
        }
    }
    Ok(())
}

/// The flags together, before any file is read or any binary hashed.
fn validate(cli: &Cli) -> Result<()> {
    // Checked here as well: in this parser clap's `requires = "download"` let a lone --overwrite through.
    if cli.overwrite && cli.download.is_none() {
        return Err(Error::invalid("--overwrite only applies with --download").with_hint("drop --overwrite"));
    }
    let on_nodes = !cli.nodes.is_empty() || cli.all_nodes;
    // A FILE and --download never contact the cluster: a --context given with them would be ignored.
    if !on_nodes {
        let mut given = cli.kube.given();
        if cli.image.is_some() {
            given.insert(0, "--image");
        }
        if !given.is_empty() {
            let verb = if given.len() == 1 { "applies" } else { "apply" };
            return Err(Error::invalid(format!("{} only {verb} with --node or --all-nodes", given.join(", ")))
                .with_hint("a FILE is checked where it lies, without the cluster; add --node NODE to check a node's"));
        }
    }
    cli.kube
        .single_namespace()
        .map_err(|e| e.with_hint("the hashing pods are made in one namespace: give -n NS once"))?;
    Ok(())
}

async fn run(cli: Cli) -> Result<Outcome> {
    let options = options(&cli)?;
    if let Some(name) = &cli.download {
        return download(&cli, name, &options);
    }
    if !cli.nodes.is_empty() || cli.all_nodes {
        let image = harden_cli::images::choose(cli.image.as_deref(), harden_cli::images::BUSYBOX)?;
        let cluster = cluster::ApiNodes::connect(&cli.kube, image).await?;
        let reports = on_nodes(&cli, &options, &cluster).await?;
        print_reports(cli.output, &reports)?;
        return report::outcome(&reports);
    }
    let path_var = std::env::var_os("PATH");
    let targets: Vec<verify::Located> = if cli.binaries.is_empty() {
        let kubectl_path = std::env::var_os("KUBECTL_PATH");
        locate::defaults(kubectl_path.as_deref(), path_var.as_deref())
            .into_iter()
            .map(|t| t.map_err(|e| ("kubectl".to_string(), e)))
            .collect()
    } else {
        cli.binaries.iter().map(|arg| locate::resolve(arg, path_var.as_deref()).map_err(|e| (arg.clone(), e))).collect()
    };
    let targets = match &cli.name {
        None => targets,
        Some(_) if cli.binaries.len() != 1 => {
            return Err(Error::invalid("--name needs exactly one binary to check")
                .with_hint("e.g. kubectl verify-bin ./kubectl.1.32 --name kubectl"));
        }
        Some(name) => {
            let name = published_name(name, "--name")?;
            targets.into_iter().map(|t| t.map(|target| locate::Target { name: name.clone(), ..target })).collect()
        }
    };

    let spinner = Spinner::start(format!("verifying {} binaries", targets.len()));
    let reports = verify::verify_all(targets, &options);
    drop(spinner);

    print_reports(cli.output, &reports)?;
    report::outcome(&reports)
}

/// The reports of `--node`/`--all-nodes`, the nodes read and hashed through `cluster`.
async fn on_nodes(cli: &Cli, options: &Options, cluster: &impl Nodes) -> Result<Vec<verify::Report>> {
    let names = cli.binaries.iter().map(|n| published_name(n, "NAME")).collect::<Result<Vec<_>>>()?;
    let request = node::NodeRequest { nodes: cli.nodes.clone(), all_nodes: cli.all_nodes, names };
    let reports = node::verify_nodes(cluster, &request, options).await?;
    if reports.is_empty() {
        return Err(Error::not_found("none of the components runs as a process on the nodes asked for")
            .with_hint("name them: kubectl verify-bin --node NODE kubelet"));
    }
    Ok(reports)
}

#[cfg(test)]
mod node_verdicts;

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::hash::Algorithm;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kubectl-verify_bin").chain(args.iter().copied()))
    }

    #[test]
    fn version_is_the_release_and_v_is_the_plugin() {
        let cli = parse(&["kubeadm", "--version", "1.31.2"]).unwrap();
        assert_eq!(options(&cli).unwrap().version.as_deref(), Some("v1.31.2"));
        assert_eq!(parse(&["-V"]).unwrap_err().kind(), clap::error::ErrorKind::DisplayVersion);
    }

    #[test]
    fn bad_input_is_refused_before_any_work() {
        assert_eq!(parse(&["--algorithm", "md5"]).unwrap_err().exit_code(), 2);
        assert!(parse(&["x", "--checksum", "a", "--checksum-file", "f"]).is_err());
        let hex = "ab".repeat(32);
        let two = parse(&["a", "b", "--checksum", &hex]).unwrap();
        assert!(options(&two).err().unwrap().message.contains("exactly one binary"));
        let none = parse(&["--checksum", &hex]).unwrap();
        assert!(options(&none).err().unwrap().message.contains("exactly one binary"));
        let wrong = parse(&["a", "--checksum", &hex, "--algorithm", "sha512"]).unwrap();
        assert!(options(&wrong).err().unwrap().message.contains("but --algorithm is sha512"));
        let http = parse(&["a", "--base-url", "http://dl.k8s.io/release"]).unwrap();
        assert!(options(&http).err().unwrap().message.contains("plain-http"));
        let os = parse(&["a", "--os", "Linux/../x"]).unwrap();
        assert!(options(&os).err().unwrap().message.contains("--os"));
        let dir = parse(&["a", "--checksum-file", "/"]).unwrap();
        assert!(options(&dir).err().unwrap().message.contains("is a directory"));
    }

    /// Issue 25: a bare digest (dl.k8s.io's kubelet.sha256) was applied to every binary checked,
    /// calling each genuine binary but one a MISMATCH.
    #[test]
    fn a_bare_checksum_file_needs_exactly_one_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("kubelet.sha256");
        std::fs::write(&bare, "ab".repeat(32)).unwrap();
        let named = dir.path().join("SHA256SUMS");
        std::fs::write(&named, format!("{}  kubelet\n{}  kube-apiserver\n", "ab".repeat(32), "cd".repeat(32))).unwrap();
        let (bare, named) = (bare.to_str().unwrap(), named.to_str().unwrap());
        for args in [
            vec!["--node", "n1", "--checksum-file", bare],
            vec!["--all-nodes", "--checksum-file", bare],
            vec!["--checksum-file", bare],
            vec!["kubelet", "kubeadm", "--checksum-file", bare],
            vec!["--node", "n1", "kubelet", "kube-proxy", "--checksum-file", bare],
        ] {
            let err = options(&parse(&args).unwrap()).err().unwrap_or_else(|| panic!("{args:?} was accepted"));
            assert_eq!(err.kind, harden_cli::ErrorKind::InvalidInput, "exit 2: {args:?}");
            assert!(err.message.contains("vouches for exactly one binary"), "{args:?}: {err}");
            assert!(err.hint.as_deref().unwrap().contains("sha256sum-style file"), "the fix is named: {err:?}");
        }
        let on_node = options(&parse(&["--node", "n1", "--checksum-file", bare]).unwrap()).err().unwrap();
        assert!(on_node.message.contains("kube-apiserver, kube-controller-manager"), "{on_node}");
        // One binary named, or a file that names each binary: accepted.
        for args in [
            vec!["--node", "n1", "kubelet", "--checksum-file", bare],
            vec!["./kubelet", "--checksum-file", bare],
            vec!["--node", "n1", "--checksum-file", named],
            vec!["kubelet", "kube-apiserver", "--checksum-file", named],
        ] {
            assert!(options(&parse(&args).unwrap()).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn checksum_length_picks_the_algorithm() {
        let cli = parse(&["a", "--checksum", &"AB".repeat(64)]).unwrap();
        match options(&cli).unwrap().source {
            Source::Given { hex, algorithm } => {
                assert_eq!(algorithm, Algorithm::Sha512);
                assert_eq!(hex, "ab".repeat(64));
            }
            _ => panic!("expected a given checksum"),
        }
    }
}
