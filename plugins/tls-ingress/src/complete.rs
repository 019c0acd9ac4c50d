//! `kubectl_complete-tls_ingress`: kubectl (>= 1.26) runs this to complete `kubectl tls-ingress ...`; it asks
//! the plugin itself (`kubectl-tls_ingress __complete ...`).

fn main() -> std::process::ExitCode {
    harden_cli::complete::shim("kubectl-tls_ingress")
}
