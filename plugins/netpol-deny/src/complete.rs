//! `kubectl_complete-netpol_deny`: kubectl (>= 1.26) runs this to complete `kubectl netpol-deny ...`; it asks
//! the plugin itself (`kubectl-netpol_deny __complete ...`).

fn main() -> std::process::ExitCode {
    harden_cli::complete::shim("kubectl-netpol_deny")
}
