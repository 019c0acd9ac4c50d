//! `kubectl verify-bin`: checks Kubernetes platform binaries (kubectl, kubeadm, kubelet, the
//! control-plane components) against their published sha256/sha512 checksums.
//!
//! A verdict command: exit 0 when every binary matches, 1 on any mismatch, 2 on an error.

mod check;
mod checksum;
mod child;
mod cluster;
mod download;
mod fetch;
#[cfg(test)]
mod fuzz;
mod hash;
mod header;
mod locate;
mod node;
mod report;
mod verify;
mod version;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser};
use harden_cli::command::{Dispatch, Validated};
use harden_cli::format::{self, Format};
use harden_kube::flags::KubeArgs;

use crate::checksum::DEFAULT_BASE_URL;
use crate::hash::Algorithm;

pub const PLUGIN: &str = "kubectl-verify-bin";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl verify-bin",
    bin_name = "kubectl verify-bin",
    version,
    // --version is the release to check against; the plugin's own version is -V/--plugin-version.
    disable_version_flag = true,
    mut_arg("namespaces", |a| a.help("With --node/--all-nodes: the namespace of the hashing pods (default: the context's)")),
    about = "Verify Kubernetes platform binaries against their published checksums",
    long_about = "Verify Kubernetes platform binaries against their published checksums.\n\n\
        The OS and architecture come from each binary's header, the version from --version, else the version \
        string embedded in the binary (read, not run), else by asking the binary, and the expected checksum from --checksum, --checksum-file, or \
        {base-url}/{version}/bin/{os}/{arch}/{name}.{sha256|sha512} over HTTPS.\n\n\
        Exit status: 0 all OK, 1 any MISMATCH or vendor build (no upstream checksum exists), 2 an error.",
    after_help = "Examples:\n  \
        kubectl verify-bin                                   # kubectl and the platform binaries in PATH\n  \
        kubectl verify-bin ./kubeadm --version v1.31.2\n  \
        kubectl verify-bin ./kubeadm --checksum-file kubeadm.sha256\n  \
        kubectl verify-bin ./kubectl.1.32 --name kubectl\n  \
        kubectl verify-bin --download kubectl --version v1.31.2 --os linux --arch arm64\n  \
        kubectl verify-bin --node worker-1 kubelet           # the kubelet running there\n  \
        kubectl verify-bin /usr/bin/kubelet --algorithm sha512 -o json"
)]
struct Cli {
    /// Binaries to check: paths, or names looked up in PATH (default: the kubectl that runs this
    /// plugin, and kubeadm, kubelet, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy if found).
    #[arg(value_name = "PATH|NAME")]
    binaries: Vec<String>,

    /// Release to check against, e.g. v1.31.2 (default: ask the binary, which runs it).
    #[arg(long, value_name = "VERSION")]
    version: Option<String>,

    /// OS of the published binary (default: from the binary's header).
    #[arg(long, value_name = "OS")]
    os: Option<String>,

    /// Architecture of the published binary, e.g. amd64, arm64 (default: from the binary's header).
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,

    /// Digest to compare (default: sha256, or what the length of a given checksum says).
    #[arg(long, value_enum, value_name = "ALGORITHM")]
    algorithm: Option<Algorithm>,

    /// The expected checksum in hex (for a single binary).
    #[arg(long, value_name = "HEX", conflicts_with = "checksum_file")]
    checksum: Option<String>,

    /// A file with the expected checksum: bare hex as dl.k8s.io serves it, or `sha256sum`-style
    /// lines (the line of each binary's file name is used).
    #[arg(long, value_name = "FILE")]
    checksum_file: Option<PathBuf>,

    /// Where releases are published; must be https. Extra CAs are read from SSL_CERT_FILE.
    #[arg(long, value_name = "URL", default_value = DEFAULT_BASE_URL)]
    base_url: String,

    /// Time allowed for each checksum download, e.g. 30s, 2m.
    #[arg(long, value_name = "DURATION", value_parser = harden_cli::duration::parse_wait, default_value = "30s")]
    timeout: Duration,

    /// The published name of a renamed file (e.g. kubectl for ./kubectl.1.32), for its checksum.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// Download this binary (kubectl, kubeadm, kubelet, ...) of --version from --base-url into the
    /// current directory, verified before the file is written.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["binaries", "name", "checksum", "checksum_file"])]
    download: Option<String>,

    /// Verify the binaries running on this node (repeat or comma-separate): kubelet and the control-plane
    /// components found there, or the NAMEs given; hashed by a short-lived hostPID pod created through
    /// the API server (the connection flags below).
    #[arg(long = "node", value_name = "NODE", value_delimiter = ',', conflicts_with_all = ["download", "name"])]
    nodes: Vec<String>,

    /// Like --node, for every node.
    #[arg(long, conflicts_with_all = ["nodes", "download", "name"])]
    all_nodes: bool,

    /// With --node/--all-nodes: the hashing pod's image (needs sh and sha256sum) [default:
    /// busybox:1.36, under $KUBE_HARDEN_IMAGE_REPOSITORY when that is set].
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,

    /// With --download: replace an existing regular file of that name.
    #[arg(long, requires = "download")]
    overwrite: bool,

    /// Output format: text (one line per binary), json or yaml.
    #[arg(short = 'o', long = "output", default_value = "text", value_name = "FORMAT", value_parser = format::TEXT_JSON_YAML)]
    output: Format,

    /// Print the plugin's version.
    #[arg(short = 'V', long = "plugin-version", action = ArgAction::Version)]
    plugin_version: Option<bool>,

    // With --node/--all-nodes: how to reach the cluster (a FILE is checked without one).
    #[command(flatten)]
    kube: KubeArgs,
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-verify_bin")
}

/// verify-bin has no subcommands: its command line is the one command.
impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        Validated::of(self)
    }
}
