//! `kubectl_complete-cks_practice`: kubectl (>= 1.26) runs this to complete `kubectl cks-practice ...`; it asks
//! the plugin itself (`kubectl-cks_practice __complete ...`).

fn main() -> std::process::ExitCode {
    harden_cli::complete::shim("kubectl-cks_practice")
}
