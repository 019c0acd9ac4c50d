//! `endpoints close`: the command that applies the policies [`super::close`] builds, per namespace
//! or cluster-wide, and then asks the engine which namespaces still reach the nodes.

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::flags::KubeArgs;
use netpol::Cluster;

use harden_kube::list::list_all;
use harden_kube::sources::{SourceArgs, Wanted, load};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

use super::close;
use super::inventory::{self, NodeInfo};
use crate::engine_errors::engine_error;

const CLOSECMD_EXAMPLES: &str = "Examples:\n  # keep the pods of a12 off the nodes' kubelet, etcd and other component ports\n  kubectl block-metadata endpoints close -n a12\n  # what it would apply, and the host firewall rules for the nodes\n  kubectl block-metadata endpoints close -n a12 --show-manual";

#[derive(Args)]
#[command(after_help = CLOSECMD_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace except kube-system (name it with -n as well to include it)")))]
pub struct CloseCmd {
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,

    /// Name of the policy.
    #[arg(long, value_name = "NAME", default_value = close::DEFAULT_NAME)]
    name: String,

    /// Apply even where other policies would still let pods reach the nodes' kubelet or etcd ports
    /// (NetworkPolicies add up: this one cannot take away what another allows).
    #[arg(long)]
    force: bool,

    /// One close for every namespace instead: an Admin-tier ClusterNetworkPolicy Deny of the nodes'
    /// component ports (all but the API server's), which no namespace's NetworkPolicy can widen;
    /// every namespace but kube-system (-n kube-system includes it). Needs the cluster tier's CRDs.
    #[arg(long, conflicts_with = "all_namespaces")]
    cluster_wide: bool,

    /// With --cluster-wide: the policy's priority in the Admin tier, 0 (first) to 1000 (last).
    #[arg(long, value_name = "N", requires = "cluster_wide", default_value_t = close::DEFAULT_PRIORITY,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    priority: u32,

    #[command(flatten)]
    apply: harden_kube::flags::ApplyArgs,

    #[command(flatten)]
    manual: harden_kube::manual::ManualArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The ports that must be closed for `close` to have done its job (checked with the engine).
const MUST_CLOSE: [u16; 4] = [10250, 10255, 2379, 2380];

impl CloseCmd {
    /// The flags alone, before the cluster is read (called from the command's `validate`).
    pub fn validate(&self) -> Result<()> {
        crate::build::validate_policy_name(&self.name)?;
        self.manual.validate(&self.apply)?;
        if self.cluster_wide {
            crate::cluster::refuse_namespaces_beside_cluster_wide(
                &self.kube.namespaces,
                "close per namespace: kubectl block-metadata endpoints close -n NAMESPACE",
            )?;
        }
        Ok(())
    }

    pub async fn run(self) -> Result<Outcome> {
        let all = self.all_namespaces.all || self.cluster_wide;
        let mut kube = self.kube.clone();
        if self.cluster_wide {
            kube.namespaces.clear();
        }
        let source = SourceArgs { files: Vec::new(), recursive: false, all_namespaces: all };
        let mut loaded = load(&kube, &source, Wanted::Scope, engine_error).await?;
        if self.cluster_wide && self.kube.namespaces.iter().any(|ns| ns == "kube-system") {
            loaded.namespaces.push("kube-system".into());
        }
        let live = loaded.live.as_ref().ok_or_else(|| Error::other("endpoints close reads a live cluster"))?;
        let client = live.client.clone();
        let listed: Vec<Node> = list_all(&Api::all(client.clone()), &ListParams::default(), "nodes").await?;
        let nodes = inventory::nodes(&listed)?;
        let pod_cidrs: Vec<String> =
            listed.iter().flat_map(|n| n.spec.iter().flat_map(|s| s.pod_cidrs.iter().flatten().cloned())).collect();
        let node_ips: Vec<std::net::IpAddr> =
            nodes.iter().flat_map(|n| n.addresses.iter().map(|a| a.address)).collect();
        if self.cluster_wide {
            return self.run_cluster_wide(&client, &loaded, &nodes, &node_ips, &pod_cidrs).await;
        }
        let api = api_endpoints(&client, &nodes).await?;
        let metadata = crate::presets::endpoints(&[crate::presets::Cloud::All], false, &[]);
        let policies: Vec<k8s_openapi::api::networking::v1::NetworkPolicy> = loaded
            .namespaces
            .iter()
            .map(|ns| close::close_policy(ns, &self.name, &node_ips, &api, &metadata))
            .collect();
        let objects = policies.iter().map(harden_kube::apply::Object::from_typed).collect::<Result<Vec<_>>>()?;
        if self.manual.show_manual {
            let before: Vec<String> = loaded
                .namespaces
                .iter()
                .map(|ns| format!("kubectl get networkpolicy -n {ns}   # first: a policy with egress rules already here adds what it allows to this one"))
                .collect();
            let mut text = harden_kube::manual::steps(&objects, &before, &[])?;
            text.push_str(&close::host_firewall(&nodes, &pod_cidrs));
            harden_cli::output::print(&text);
            return Ok(Outcome::Good);
        }
        let still = still_reaching(&loaded, &policies, &self.name, &node_ips)?;
        if !still.is_empty() {
            let message = format!(
                "pods would still reach the nodes' kubelet or etcd ports after this policy, because other policies allow it (policies add up): {}",
                still.join("; ")
            );
            if !self.force {
                return Err(Error::conflict(format!("refusing to apply: {message}")).with_hint(
                    "narrow or remove those policies (kubectl block-metadata remove deletes this plugin's metadata block, which this policy replaces: it keeps the metadata endpoints closed too), or re-run with --force",
                ));
            }
            harden_cli::output::warn(format!("{message} (applying anyway: --force)"));
        }
        harden_kube::apply::Applier::new(crate::PLUGIN, self.apply, Some(client)).run(objects).await?;
        Ok(Outcome::Good)
    }
}

impl CloseCmd {
    /// `close --cluster-wide`: one Admin-tier ClusterNetworkPolicy, refused where the cluster does not
    /// serve it and where the engine says pods would still reach a kubelet or etcd port (an Admin rule
    /// at an earlier priority accepting it).
    async fn run_cluster_wide(
        self,
        client: &kube::Client,
        loaded: &harden_kube::sources::Loaded,
        nodes: &[NodeInfo],
        node_ips: &[std::net::IpAddr],
        pod_cidrs: &[String],
    ) -> Result<Outcome> {
        use harden_kube::cluster_tier;
        let include_kube_system = self.kube.namespaces.iter().any(|ns| ns == "kube-system");
        let version = if self.manual.show_manual {
            cluster_tier::served_version(client).await?.unwrap_or(cluster_tier::VERSIONS[0])
        } else {
            cluster_tier::require_served(client, "block-metadata", "kubectl block-metadata endpoints close -A").await?
        };
        let policy = close::cluster_policy(&self.name, node_ips, self.priority, include_kube_system, version);
        let object = harden_kube::apply::Object {
            resource: cluster_tier::resource(version),
            namespaced: false,
            data: serde_json::from_value(policy.clone())?,
        };
        if self.manual.show_manual {
            let before =
                ["kubectl get clusternetworkpolicies,adminnetworkpolicies   # first: an Admin-tier Accept or Pass \
                           of the nodes' ports at an earlier priority would let pods through"
                    .to_string()];
            let mut text = harden_kube::manual::steps(&[object], &before, &[])?;
            text.push_str(&close::host_firewall(nodes, pod_cidrs));
            harden_cli::output::print(&text);
            return Ok(Outcome::Good);
        }
        let mut objects = loaded.objects.clone();
        objects.cluster_policies.retain(|p| {
            !(matches!(p.object, netpol::input::ClusterPolicyObject::Cluster { .. }) && p.object.name() == self.name)
        });
        objects.add_yaml(&policy.to_string(), "the close policy").map_err(engine_error)?;
        let still = still_reaching_in(&Cluster::build(&objects).map_err(engine_error)?, &loaded.namespaces, node_ips);
        if !still.is_empty() {
            let message = format!(
                "pods would still reach the nodes' kubelet or etcd ports after this policy: {}",
                still.join("; ")
            );
            if !self.force {
                return Err(Error::conflict(format!("refusing to apply: {message}")).with_hint(
                    "give --priority a lower number than the rules named, change them, or re-run with --force",
                ));
            }
            harden_cli::output::warn(format!("{message} (applying anyway: --force)"));
        }
        harden_kube::apply::Applier::new(crate::PLUGIN, self.apply, Some(client.clone())).run(vec![object]).await?;
        Ok(Outcome::Good)
    }
}

/// The API server's endpoints (the `kubernetes` Service's EndpointSlices in `default`); where the
/// cluster publishes none, the control-plane nodes' addresses on 6443, said on stderr.
async fn api_endpoints(client: &kube::Client, nodes: &[NodeInfo]) -> Result<Vec<(std::net::IpAddr, u16)>> {
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let params = ListParams::default().labels("kubernetes.io/service-name=kubernetes");
    let slices: Vec<EndpointSlice> =
        list_all(&Api::namespaced(client.clone(), "default"), &params, "endpointslices in namespace default").await?;
    let mut found = Vec::new();
    for slice in &slices {
        let ports: Vec<u16> =
            slice.ports.iter().flatten().filter_map(|p| p.port).filter_map(|p| u16::try_from(p).ok()).collect();
        for endpoint in slice.endpoints.iter().flatten() {
            for address in endpoint.addresses.iter().filter_map(|a| a.parse::<std::net::IpAddr>().ok()) {
                found.extend(ports.iter().map(|p| (address, *p)));
            }
        }
    }
    if found.is_empty() {
        found = nodes
            .iter()
            .filter(|n| n.roles.iter().any(|r| r == "control-plane" || r == "master"))
            .flat_map(|n| n.addresses.iter().map(|a| (a.address, 6443)))
            .collect();
        harden_cli::output::warn(format!(
            "the kubernetes Service publishes no endpoints: the API server is taken to be on the control-plane nodes' \
             addresses on 6443 ({})",
            if found.is_empty() {
                "there is none: pods will not reach the API server".to_string()
            } else {
                "allowed".to_string()
            }
        ));
    }
    Ok(found)
}

/// With the policies added (replacing ours of the same name), the pods (not hostNetwork) that the
/// engine says may still reach a node address on a kubelet or etcd port, and why.
fn still_reaching(
    loaded: &harden_kube::sources::Loaded,
    policies: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    name: &str,
    node_ips: &[std::net::IpAddr],
) -> Result<Vec<String>> {
    let mut objects = loaded.objects.clone();
    objects.policies.retain(|p| {
        p.object.metadata.name.as_deref() != Some(name)
            || !loaded.namespaces.iter().any(|ns| Some(ns.as_str()) == p.object.metadata.namespace.as_deref())
    });
    for policy in policies {
        objects.add_yaml(&serde_json::to_string(policy)?, "the close policy").map_err(engine_error)?;
    }
    let cluster = Cluster::build(&objects).map_err(engine_error)?;
    Ok(still_reaching_in(&cluster, &loaded.namespaces, node_ips))
}

/// The pods of `namespaces` (not hostNetwork) that `cluster` lets reach a node address on a kubelet
/// or etcd port, with why; at most five.
fn still_reaching_in(cluster: &Cluster, namespaces: &[String], node_ips: &[std::net::IpAddr]) -> Vec<String> {
    let mut still = Vec::new();
    for pod in cluster.pod_ids() {
        let info = &cluster.pods[pod];
        let namespace = &cluster.namespaces[info.namespace].name;
        if info.host_network || !namespaces.contains(namespace) {
            continue;
        }
        'pod: for ip in node_ips {
            for port in MUST_CLOSE {
                if let Some(why) = inventory::allowed_why(cluster, pod, *ip, port) {
                    still.push(format!(
                        "{namespace}/{} reaches {} ({why})",
                        info.name,
                        std::net::SocketAddr::new(*ip, port)
                    ));
                    break 'pod;
                }
            }
        }
        if still.len() >= 5 {
            break;
        }
    }
    still
}
