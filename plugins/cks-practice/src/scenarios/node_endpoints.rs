//! Scenario 10: a node endpoint closed (the curriculum's "protect node endpoints"). Pods of a
//! namespace must not reach the node components (kubelet 10250 and its read-only 10255, etcd
//! 2379-2380, kube-scheduler 10259, kube-controller-manager 10257) on any address of any node, and
//! must still reach the API server (the `kubernetes` Service's endpoints) and DNS.
//!
//! Graded by what a pod can reach. Where the cluster shows that it enforces NetworkPolicy (a probe
//! from the task's pod to a canary pod that a deny-all policy of the run isolates is blocked), real
//! connection attempts from that pod (the shared prober) decide each node port and the API server:
//! connected is reached, blocked is not. A refusal by the node (a TCP reset: nothing listens
//! there, or an enforcer that resets) is never taken as blocked: the prober says it cannot tell,
//! and the engine decides that port, said in the reason. Where NetworkPolicy is not shown to be
//! enforced (or the pod does not run, or cannot probe), the engine decides, over every component
//! port and every node address, and the check's text says which was used.

use std::net::IpAddr;
use std::time::Duration;

use harden_cli::{Error, Result};
use harden_kube::probe::{Destination, Observed, Prober};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use netpol::{Cluster, Endpoint, Protocol};
use serde_json::json;

use crate::grade::{self, Check};
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build};
use crate::seed::Rng;

/// The node components the task closes, with their ports (TCP).
pub const COMPONENTS: [(u16, &str); 6] = [
    (10250, "kubelet"),
    (10255, "kubelet read-only"),
    (2379, "etcd client"),
    (2380, "etcd peer"),
    (10259, "kube-scheduler"),
    (10257, "kube-controller-manager"),
];

/// How long one connection attempt of the real probes may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The scenario, as `scenarios::ALL` registers it.
pub struct NodeEndpoints;

const CARD: Card = Card::new(
    "node-endpoints",
    "NetworkPolicy: no pod reaches the kubelet, etcd, scheduler or controller manager on the nodes",
    10,
    &[Need::Api],
);

impl Scenario for NodeEndpoints {
    fn card(&self) -> &'static Card {
        &CARD
    }

    fn plan(&self, ctx: &Context<'_>) -> Result<Plan> {
        Ok(plan(ctx))
    }

    fn check<'a>(
        &'a self,
        client: &'a kube::Client,
        plan: &'a Plan,
        _address: Option<&'a str>,
    ) -> Step<'a, Vec<Check>> {
        Box::pin(check(client, plan))
    }
}

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "node-endpoints");
    let mut plan = Plan::new(Id(&NodeEndpoints), ctx);
    let ns = rng.namespace();
    let mut canary_ns = rng.namespace();
    while canary_ns == ns {
        canary_ns = rng.namespace();
    }
    let app = rng.word();
    let worker = rng.fresh_word(&[app]);
    let (app_port, worker_port, canary_port) = (rng.port(&[53]), rng.port(&[53]), rng.port(&[53]));
    let policy = format!("node-endpoints-{}", rng.word());
    plan.namespaces = vec![ns.clone(), canary_ns.clone()];
    plan.objects = vec![
        build::namespace(&ns, json!({})),
        build::namespace(&canary_ns, json!({})),
        build::pod(&ns, app, json!({"app": app}), app_port),
        build::pod(&ns, worker, json!({"app": worker, "tier": "batch"}), worker_port),
        build::pod(&canary_ns, "canary", json!({"app": "canary"}), canary_port),
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "canary-deny-ingress", "namespace": canary_ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}
        }),
    ];
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("networkpolicy", policy.clone());
    plan.names.insert("pod", app.to_string());
    plan.names.insert("canaryNamespace", canary_ns.clone());
    plan.task = format!(
        "Pods in namespace {ns} ({app}, {worker}) can reach the components on the nodes' addresses.\n\
         Create a NetworkPolicy named {policy} in namespace {ns} so that no pod of the namespace (including pods\n\
         created later) reaches the kubelet (TCP 10250, read-only 10255), etcd (TCP 2379-2380), kube-scheduler\n\
         (TCP 10259) or kube-controller-manager (TCP 10257) on any IP address of any node (kubectl get nodes -o wide).\n\
         The pods must still reach the API server at the endpoints of the kubernetes Service in namespace default\n\
         (where it publishes none: the control-plane nodes' addresses on TCP 6443), DNS (UDP and TCP 53 to the\n\
         cluster DNS pods), and the pods of every namespace on every other port.\n\
         Namespace {canary_ns} is the checker's: leave it as it is."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource (ipBlock, except)",
        "https://kubernetes.io/docs/reference/networking/ports-and-protocols/",
    ];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {ns}\nspec:\n  \
         podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        \
         except: [???]          # every node address, /32\n  - to:\n    - ipBlock: {{cidr: ???}}   # the API server's endpoint\n    \
         ports: [{{protocol: TCP, port: ???}}]\n"
    );
    plan.plugin_steps = vec![format!("kubectl block-metadata endpoints close -n {ns} --name {policy}")];
    plan.manual = format!(
        "# The nodes' IPv4 addresses, and the API server's endpoints (the kubernetes Service's; where it\n\
         # publishes none, the control-plane nodes' addresses on 6443).\n\
         NODE_IPS=$(kubectl get nodes -o jsonpath='{{range .items[*].status.addresses[*]}}{{.address}}{{\"\\n\"}}{{end}}' \\\n  \
         | grep -E '^[0-9.]+$' | sort -u || true)\n\
         API_IPS=$(kubectl -n default get endpointslices -l kubernetes.io/service-name=kubernetes \\\n  \
         -o jsonpath='{{range .items[*].endpoints[*].addresses[*]}}{{@}}{{\"\\n\"}}{{end}}' | grep -E '^[0-9.]+$' | sort -u || true)\n\
         API_PORT=$(kubectl -n default get endpointslices -l kubernetes.io/service-name=kubernetes \\\n  \
         -o jsonpath='{{range .items[*].ports[*]}}{{.port}}{{\"\\n\"}}{{end}}' | sort -u | head -n1)\n\
         if [ -z \"$API_IPS\" ]; then\n  \
         API_IPS=$(kubectl get nodes -l node-role.kubernetes.io/control-plane \\\n    \
         -o jsonpath='{{range .items[*].status.addresses[*]}}{{.address}}{{\"\\n\"}}{{end}}' | grep -E '^[0-9.]+$' | sort -u || true)\n  \
         API_PORT=6443\n\
         fi\n\
         {{\n\
         printf 'apiVersion: networking.k8s.io/v1\\nkind: NetworkPolicy\\nmetadata:\\n  name: {policy}\\n  namespace: {ns}\\n'\n\
         printf 'spec:\\n  podSelector: {{}}\\n  policyTypes:\\n  - Egress\\n  egress:\\n'\n\
         printf '  - to:\\n    - ipBlock:\\n        cidr: 0.0.0.0/0\\n        except:\\n'\n\
         for ip in $NODE_IPS; do printf '        - %s/32\\n' \"$ip\"; done\n\
         printf '  - to:\\n'\n\
         for ip in $API_IPS; do printf '    - ipBlock:\\n        cidr: %s/32\\n' \"$ip\"; done\n\
         printf '    ports:\\n    - protocol: TCP\\n      port: %s\\n' \"$API_PORT\"\n\
         }} | kubectl apply -f -\n\
         kubectl -n {ns} get networkpolicy {policy} -o yaml\n"
    );
    plan.verify = format!(
        "# from {ns}/{app}, every node address: the kubelet and etcd NO ANSWER, the API server REACHED\n\
         # (timeout ends a connection that stays open: exit 143 is connected)\n\
         for ip in $(kubectl get nodes -o jsonpath='{{range .items[*].status.addresses[*]}}{{.address}}{{\"\\n\"}}{{end}}' \\\n  \
         | grep -E '^[0-9.]+$' | sort -u); do\n  \
         for port in 10250 2379 6443; do\n    \
         kubectl -n {ns} exec {app} -- timeout 3 nc -w 2 \"$ip\" \"$port\" </dev/null >/dev/null 2>&1 && rc=0 || rc=$?\n    \
         case $rc in 0|143) echo \"{ns}/{app} -> $ip:$port REACHED\";; *) echo \"{ns}/{app} -> $ip:$port NO ANSWER\";; esac\n  \
         done\n\
         done\n\
         # DNS: the name resolves\n\
         kubectl -n {ns} exec {app} -- nslookup kubernetes.default.svc.cluster.local >/dev/null 2>&1 \\\n  \
         && echo \"{ns}/{app} DNS RESOLVES\" || echo \"{ns}/{app} DNS FAILS\"\n"
    );
    plan
}

/// The nodes' IP addresses (every address of `status.addresses` that is one), by node; an error
/// where there is no node with an address (nothing to grade: "nothing reachable" would be a lie).
async fn node_addresses(client: &kube::Client) -> Result<(Vec<IpAddr>, Vec<IpAddr>)> {
    let nodes: Vec<Node> =
        harden_kube::list::list_all(&Api::all(client.clone()), &ListParams::default(), "nodes").await?;
    let (mut all, mut control) = (Vec::new(), Vec::new());
    for node in &nodes {
        let control_plane = node
            .metadata
            .labels
            .iter()
            .flatten()
            .any(|(k, _)| k == "node-role.kubernetes.io/control-plane" || k == "node-role.kubernetes.io/master");
        let addresses = node.status.iter().flat_map(|s| s.addresses.iter().flatten());
        for ip in addresses.filter_map(|a| a.address.parse::<IpAddr>().ok()) {
            all.push(ip);
            if control_plane {
                control.push(ip);
            }
        }
    }
    all.sort();
    all.dedup();
    control.sort();
    control.dedup();
    if all.is_empty() {
        return Err(Error::invalid(
            "the cluster has no node with an IP address in status.addresses: there are no node endpoints to grade",
        )
        .with_hint("practise this scenario on a cluster with nodes (kubectl get nodes -o wide)"));
    }
    Ok((all, control))
}

/// The API server's endpoints: the `kubernetes` Service's EndpointSlices; where it publishes none,
/// the control-plane nodes' addresses on 6443 (as the task says, and `endpoints close` does).
async fn api_endpoints(client: &kube::Client, control: &[IpAddr]) -> Result<Vec<(IpAddr, u16)>> {
    let params = ListParams::default().labels("kubernetes.io/service-name=kubernetes");
    let slices: Vec<EndpointSlice> = harden_kube::list::list_all(
        &Api::namespaced(client.clone(), "default"),
        &params,
        "endpointslices in namespace default",
    )
    .await?;
    let mut found = Vec::new();
    for slice in &slices {
        let ports: Vec<u16> =
            slice.ports.iter().flatten().filter_map(|p| p.port).filter_map(|p| u16::try_from(p).ok()).collect();
        for endpoint in slice.endpoints.iter().flatten() {
            for address in endpoint.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()) {
                found.extend(ports.iter().map(|p| (address, *p)));
            }
        }
    }
    if found.is_empty() {
        found = control.iter().map(|ip| (*ip, 6443)).collect();
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The port classes of [`grade::port_classes`] split at the component ports, without them: asking
/// about these is asking about every port but the component ports.
pub fn ports_but_components(cluster: &Cluster) -> Vec<(u16, Protocol)> {
    let mut ports = grade::port_classes(cluster);
    for (port, _) in COMPONENTS {
        for protocol in [Protocol::Tcp, Protocol::Udp, Protocol::Sctp] {
            ports.push((port, protocol));
            if let Some(next) = port.checked_add(1) {
                ports.push((next, protocol));
            }
        }
    }
    ports.sort_by_key(|&(port, protocol)| (protocol, port));
    ports.dedup();
    ports.retain(|&(port, protocol)| !(protocol == Protocol::Tcp && COMPONENTS.iter().any(|(p, _)| *p == port)));
    ports
}

/// A passed check on a few named ports says so (the shared reason speaks of every port).
fn on_ports(check: Check, what: String) -> Check {
    if !check.passed {
        return check;
    }
    Check::new(check.check, true, format!("as the task says: {what}"))
}

fn component_ports() -> Vec<(u16, Protocol)> {
    COMPONENTS.iter().map(|&(port, _)| (port, Protocol::Tcp)).collect()
}

fn component(port: u16) -> &'static str {
    COMPONENTS.iter().find(|(p, _)| *p == port).map_or("", |(_, name)| name)
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - no policy, a policy for some pods only, or a pod created later left out: a node port is reached;
/// - only the kubelet's 10250 closed (etcd, the read-only port, the scheduler or controller manager
///   left open), or a policy for the wrong node address: a component port is reached;
/// - the API server cut too (every node address excepted, nothing allowing its endpoint back);
/// - all egress denied: DNS and the pods of other namespaces are not reached;
/// - a `podSelector`/`namespaceSelector` peer in place of `0.0.0.0/0`: node ports may stay open or
///   the pods of other namespaces are cut off.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = &plan.namespaces[0];
    let elsewhere = "namespace-created-later";
    let (nodes, control) = node_addresses(client).await?;
    let api = api_endpoints(client, &control).await?;
    let extra = [
        grade::imagined(None, &[(ns, "pod-created-later", &[("cks-practice-probe", "later")], "10.244.250.101")]),
        grade::imagined_dns(),
        grade::imagined(Some((elsewhere, &[])), &[(elsewhere, "any-pod", &[], "10.244.250.102")]),
    ]
    .concat();
    let cluster = grade::traffic_model(client, &plan.namespaces, &extra).await?;
    grade::starting_pods(&cluster, &plan.objects)?;
    let probed = probes(client, plan, &cluster).await?;
    let components = component_ports();
    let other_ports = ports_but_components(&cluster);
    let dns = cluster.find_pod(grade::DNS_POD.0, grade::DNS_POD.1).map(Endpoint::Pod).ok();
    // The canary is isolated by the run's own policy: not among the pods the task keeps reachable.
    let canary_ns = cluster.namespace(&plan.namespaces[1]);
    let others: Vec<Endpoint> = grade::pods_of(&cluster, None)
        .into_iter()
        .filter(|&p| grade::has_address(&cluster, p) && Some(cluster.pods[p.index()].namespace) != canary_ns)
        .filter(|&p| Some(Endpoint::Pod(p)) != dns)
        .map(Endpoint::Pod)
        .collect();
    let mut checks = Vec::new();
    for source in grade::pods_of(&cluster, Some(ns)) {
        let from = Endpoint::Pod(source);
        let name = grade::endpoint(&cluster, from);
        let real = probed.as_ref().filter(|p| p.source == name);
        let how = match (&probed, real) {
            (_, Some(_)) => "real packets".to_string(),
            (Some(p), None) => format!("the engine: packets were sent from {} only", p.source),
            (None, None) => "the engine".to_string(),
        };
        let pairs: Vec<(Endpoint, Endpoint)> = nodes.iter().map(|&ip| (from, Endpoint::Ip(ip))).collect();
        let check = format!(
            "{name} reaches no kubelet (10250, 10255), etcd (2379-2380), scheduler (10259) or controller-manager \
             (10257) port on any node address ({how})"
        );
        let engine = on_ports(
            grade::behaviour(&cluster, &components, check.clone(), &pairs, &|_, _, _, _| false),
            format!("denied to {} node address(es) on each component port", nodes.len()),
        );
        checks.push(match real {
            Some(p) => p.closed_check(check, &cluster, from, &nodes),
            None => engine,
        });
        let pairs: Vec<(Endpoint, Endpoint)> = api.iter().map(|&(ip, _)| (from, Endpoint::Ip(ip))).collect();
        let shown: Vec<String> = api.iter().map(|(ip, port)| format!("{ip}:{port}")).collect();
        let check = format!("{name} reaches the API server at {} ({how})", shown.join(", "));
        let want = |_: Endpoint, to: Endpoint, port: u16, protocol: Protocol| {
            protocol == Protocol::Tcp && api.iter().any(|&(ip, p)| Endpoint::Ip(ip) == to && p == port)
        };
        checks.push(match real {
            Some(p) => p.api_check(check, &cluster, from, &api),
            None => {
                let api_ports: Vec<(u16, Protocol)> = api.iter().map(|&(_, p)| (p, Protocol::Tcp)).collect();
                if api.is_empty() {
                    Check::new(check, false, "the cluster names no API server endpoint and no control-plane node")
                } else {
                    on_ports(grade::behaviour(&cluster, &api_ports, check, &pairs, &want), "allowed".to_string())
                }
            }
        });
        if let Some(dns) = dns {
            let check = format!("{name} reaches the cluster DNS pods on 53/UDP and 53/TCP (the engine)");
            checks.push(on_ports(
                grade::behaviour(
                    &cluster,
                    &[(53, Protocol::Udp), (53, Protocol::Tcp)],
                    check,
                    &[(from, dns)],
                    &|_, _, _, _| true,
                ),
                "allowed on both".to_string(),
            ));
        }
        let pairs: Vec<(Endpoint, Endpoint)> = others.iter().map(|&o| (from, o)).collect();
        let check = format!("{name} still reaches the pods of every namespace on every other port (the engine)");
        checks.push(grade::behaviour(&cluster, &other_ports, check, &pairs, &|_, _, _, _| true));
    }
    Ok(checks)
}

/// The real probes from the task's first pod, where the cluster was shown to enforce NetworkPolicy.
struct Probed {
    /// `ns/name` of the pod the packets came from.
    source: String,
    /// Why the probes count: the canary's blocked packet.
    evidence: String,
    /// Node address and port, and what the attempt showed.
    nodes: Vec<(IpAddr, u16, Observed)>,
    api: Vec<(IpAddr, u16, Observed)>,
}

impl Probed {
    /// The engine's verdict of one pair, for a probe that could not tell.
    fn engine(cluster: &Cluster, from: Endpoint, ip: IpAddr, port: u16) -> (bool, String) {
        let verdict = cluster.check_resolved(from, Endpoint::Ip(ip), port, Protocol::Tcp);
        (verdict.allowed, grade::explain(cluster, &verdict))
    }

    fn closed_check(&self, check: String, cluster: &Cluster, from: Endpoint, nodes: &[IpAddr]) -> Check {
        let mut seen = Vec::new();
        for (ip, port, observed) in &self.nodes {
            let what = format!("{ip}:{port} ({})", component(*port));
            match observed {
                Observed::Connected => {
                    let (allowed, why) = Self::engine(cluster, from, *ip, *port);
                    let policies = if allowed {
                        format!("the policies allow it: {why}")
                    } else {
                        format!(
                            "although the policies deny it ({why}): this cluster does not enforce them on this traffic \
                             (traffic to a pod's own node is left alone by some network plugins)"
                        )
                    };
                    return Check::new(check, false, format!("{} connected to {what}: {policies}", self.source));
                }
                Observed::Blocked(_) => seen.push(format!("{what} {}", observed.word())),
                other => {
                    let (allowed, why) = Self::engine(cluster, from, *ip, *port);
                    let detail = other.detail().unwrap_or_default();
                    if allowed {
                        return Check::new(
                            check,
                            false,
                            format!(
                                "the packet to {what} could not tell ({}: {detail}), and the engine says it is allowed: {why}",
                                other.word()
                            ),
                        );
                    }
                    seen.push(format!("{what} {}, denied by the engine", other.word()));
                }
            }
        }
        let addresses: Vec<String> = nodes.iter().map(ToString::to_string).collect();
        Check::new(
            check,
            true,
            format!(
                "from {}, to {}: {} ({}{})",
                self.source,
                addresses.join(", "),
                seen.join(", "),
                self.evidence,
                if seen.iter().any(|s| s.ends_with("denied by the engine")) {
                    "; where the node refused, which says nothing of policy, the engine decided"
                } else {
                    ""
                }
            ),
        )
    }

    fn api_check(&self, check: String, cluster: &Cluster, from: Endpoint, api: &[(IpAddr, u16)]) -> Check {
        if api.is_empty() {
            return Check::new(check, false, "the cluster names no API server endpoint and no control-plane node");
        }
        let mut seen = Vec::new();
        for (ip, port, observed) in &self.api {
            match observed {
                Observed::Connected => seen.push(format!("{ip}:{port} connected")),
                Observed::Blocked(_) => {
                    let (_, why) = Self::engine(cluster, from, *ip, *port);
                    return Check::new(
                        check,
                        false,
                        format!("{} to {ip}:{port}: {} ({why})", self.source, observed.word()),
                    );
                }
                other => {
                    let (allowed, why) = Self::engine(cluster, from, *ip, *port);
                    if !allowed {
                        return Check::new(
                            check,
                            false,
                            format!(
                                "{} to {ip}:{port}: {}, and the engine says it is denied: {why}",
                                self.source,
                                other.word()
                            ),
                        );
                    }
                    seen.push(format!("{ip}:{port} {}, allowed by the engine", other.word()));
                }
            }
        }
        Check::new(check, true, format!("from {}: {} ({})", self.source, seen.join(", "), self.evidence))
    }
}

/// Real probes from the task's first pod, when it runs, can probe, and the cluster is shown to
/// enforce NetworkPolicy (the canary, isolated by the run's deny-all ingress policy, is blocked);
/// `None` otherwise (the engine grades), said on stderr with why.
async fn probes(client: &kube::Client, plan: &Plan, cluster: &Cluster) -> Result<Option<Probed>> {
    let (ns, canary_ns) = (&plan.namespaces[0], &plan.namespaces[1]);
    let app = plan.names["pod"].as_str();
    let source = format!("{ns}/{app}");
    let running =
        |pod: &Pod| pod.status.as_ref().is_some_and(|s| s.phase.as_deref() == Some("Running") && s.pod_ip.is_some());
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let canaries: Api<Pod> = Api::namespaced(client.clone(), canary_ns);
    let (Some(pod), Some(canary)) = (
        pods.get_opt(app).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading pod {source}")))?,
        canaries
            .get_opt("canary")
            .await
            .map_err(|e| harden_kube::error::from_kube(e, format!("reading pod {canary_ns}/canary")))?,
    ) else {
        return Ok(None);
    };
    let without = |why: String| {
        harden_cli::output::warn(format!("graded with the engine, not real packets: {why}"));
        Ok(None)
    };
    if !running(&pod) || !running(&canary) {
        return without(format!("{source} or {canary_ns}/canary does not run"));
    }
    let prober = Prober::new(client.clone(), PROBE_TIMEOUT, false);
    if let Err(why) = prober.can_probe_from(&pod).await {
        return without(why);
    }
    let canary_ip: IpAddr =
        match canary.status.as_ref().and_then(|s| s.pod_ip.as_deref()).and_then(|ip| ip.parse().ok()) {
            Some(ip) => ip,
            None => return without(format!("{canary_ns}/canary has no address")),
        };
    let canary_port = canary
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.ports.as_ref()?.first())
        .and_then(|p| u16::try_from(p.container_port).ok())
        .unwrap_or(80);
    let from = cluster.find_pod(ns, app).map(Endpoint::Pod).ok();
    let to = cluster.find_pod(canary_ns, "canary").map(Endpoint::Pod).ok();
    if let (Some(from), Some(to)) = (from, to)
        && cluster.check_resolved(from, to, canary_port, Protocol::Tcp).allowed
    {
        return without(format!("{canary_ns}/canary is not isolated any more (its policy was changed)"));
    }
    let observed = prober.probe(&pod, Destination::Pod(&canary, canary_ip), canary_port).await;
    let evidence = match &observed {
        Observed::Blocked(_) => format!(
            "NetworkPolicy is enforced here: the packet to {canary_ns}/canary, which the policies deny, was {}",
            observed.word()
        ),
        Observed::Connected | Observed::NothingListening(_) => {
            return without(format!(
                "NetworkPolicy is not enforced here: {canary_ns}/canary, isolated by a deny-all policy, was reached"
            ));
        }
        Observed::NotProbed(why) => return without(format!("the canary could not be probed: {why}")),
    };
    let (nodes, control) = node_addresses(client).await?;
    let api = api_endpoints(client, &control).await?;
    let mut probed = Probed { source, evidence, nodes: Vec::new(), api: Vec::new() };
    for &ip in &nodes {
        for (port, _) in COMPONENTS {
            probed.nodes.push((ip, port, prober.probe(&pod, Destination::Address(ip), port).await));
        }
    }
    for &(ip, port) in &api {
        probed.api.push((ip, port, prober.probe(&pod, Destination::Address(ip), port).await));
    }
    Ok(Some(probed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_plan_has_a_canary_the_run_isolates_and_the_solutions_name_the_policy() {
        let plan = plan(&Context { seed: 7, dir: Path::new("/tmp/x"), bench: None, variant: None });
        assert_eq!(plan.namespaces.len(), 2);
        assert_ne!(plan.namespaces[0], plan.namespaces[1]);
        let policy = plan.objects.iter().find(|o| o["kind"] == "NetworkPolicy").unwrap();
        assert_eq!(policy["metadata"]["namespace"], plan.namespaces[1].as_str());
        assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
        let name = &plan.names["networkpolicy"];
        assert!(plan.plugin_steps[0].contains(&format!("endpoints close -n {} --name {name}", plan.namespaces[0])));
        assert!(plan.manual.contains(&format!("name: {name}")), "{}", plan.manual);
        assert!(plan.verify.contains("nc -w 2"), "{}", plan.verify);
    }

    #[test]
    fn every_port_but_the_components_has_a_representative() {
        let mut objects = netpol::Objects::new("a");
        objects.add_yaml(&grade::imagined(None, &[("a", "web", &[], "10.9.0.1")]), "test").unwrap();
        let cluster = Cluster::build(&objects).unwrap();
        let ports = ports_but_components(&cluster);
        for (port, _) in COMPONENTS {
            assert!(!ports.contains(&(port, Protocol::Tcp)), "{port}");
            if !COMPONENTS.iter().any(|(p, _)| *p == port + 1) {
                assert!(ports.contains(&(port + 1, Protocol::Tcp)), "{port}");
            }
            assert!(ports.contains(&(port, Protocol::Udp)), "{port}");
        }
        assert!(ports.contains(&(1, Protocol::Tcp)) && ports.contains(&(1, Protocol::Sctp)), "{ports:?}");
    }
}
