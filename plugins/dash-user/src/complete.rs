//! `kubectl_complete-dash_user`: kubectl (>= 1.26) runs this to complete `kubectl dash-user ...`; it asks
//! the plugin itself (`kubectl-dash_user __complete ...`).

fn main() -> std::process::ExitCode {
    harden_cli::complete::shim("kubectl-dash_user")
}
