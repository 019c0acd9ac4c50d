//! `kubectl_complete-block_metadata`: kubectl (>= 1.26) runs this to complete `kubectl block-metadata ...`; it asks
//! the plugin itself (`kubectl-block_metadata __complete ...`).

fn main() -> std::process::ExitCode {
    harden_cli::complete::shim("kubectl-block_metadata")
}
