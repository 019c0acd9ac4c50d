//! `kubectl_complete-cis_bench`: kubectl (>= 1.26) runs this to complete `kubectl cis-bench ...`; it asks
//! the plugin itself (`kubectl-cis_bench __complete ...`).

fn main() -> std::process::ExitCode {
    harden_cli::complete::shim("kubectl-cis_bench")
}
