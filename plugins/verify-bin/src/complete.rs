//! `kubectl_complete-verify_bin`: kubectl (>= 1.26) runs this to complete `kubectl verify-bin ...`; it asks
//! the plugin itself (`kubectl-verify_bin __complete ...`).

fn main() -> std::process::ExitCode {
    harden_cli::complete::shim("kubectl-verify_bin")
}
