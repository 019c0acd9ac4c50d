//! One module per scenario: `plan` (pure: the seed's names, the starting state, the task, hints and
//! solution) and `check` (grades the cluster's behaviour against the plan).

pub mod binaries;
pub mod dash_args;
pub mod dash_user;
pub mod default_deny;
pub mod egress_dns;
pub mod frontend_backend;
pub mod kube_bench;
pub mod metadata;
pub mod named_port;
pub mod node_endpoints;
pub mod tls;
pub mod verify_version;

use harden_cli::Result;

use crate::grade::Check;
use crate::scenario::{Id, NodeBench, Plan};

/// Grades the cluster (and the run's files) against the plan.
pub async fn check(
    client: &kube::Client,
    plan: &Plan,
    bench: Option<&NodeBench>,
    probe_address: Option<&str>,
) -> Result<Vec<Check>> {
    if probe_address.is_some() && plan.id != Id::TlsIngress {
        return Err(harden_cli::Error::invalid(format!(
            "--address does not apply to {}: only tls-ingress (4) probes what a controller serves",
            plan.id.name()
        )));
    }
    match plan.id {
        Id::DefaultDeny => default_deny::check(client, plan).await,
        Id::EgressDns => egress_dns::check(client, plan).await,
        Id::NodeEndpoints => node_endpoints::check(client, plan).await,
        Id::NamedPort => named_port::check(client, plan).await,
        Id::VerifyVersion => verify_version::check(plan),
        Id::FrontendToBackend => frontend_backend::check(client, plan).await,
        Id::BlockMetadata => metadata::check(client, plan).await,
        Id::TlsIngress => tls::check(client, plan, probe_address).await,
        Id::DashboardUser => dash_user::check(client, plan).await,
        Id::DashboardArgs => dash_args::check(client, plan).await,
        Id::TamperedBinary => binaries::check(plan),
        Id::KubeBench => match bench {
            Some(bench) => kube_bench::check(client, plan, bench).await,
            None => Err(harden_cli::Error::invalid("the run record of a kube-bench run lacks its node")
                .with_hint("it was edited: reset the run and start it again")),
        },
    }
}
