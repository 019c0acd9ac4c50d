//! `status`: which pods can still reach a metadata endpoint on TCP 80 or 443, and which policy rule
//! lets them, answered by the shared reachability engine ([`netpol`]) from the live cluster
//! or from `-f` files. [`evaluate`] is pure; the rest loads objects and prints.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use harden_cli::error::{Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube::flags::KubeArgs;
use harden_kube::namespaces::SKIPPED_BY_ALL;
use harden_kube::sources::{SourceArgs, Wanted, load};
use netpol::{Cluster, Direction, GroupId, PodId, Protocol};

use crate::engine_errors::engine_error;
use crate::presets::{Endpoint, EndpointArgs, chosen_endpoints};

mod document;
mod findings;

use document::{EndpointInfo, NamespaceReport, Probed, Reach, Report, RuleInfo};

/// The ports metadata services answer on.
const PORTS: [u16; 2] = [80, 443];

const STATUSCMD_EXAMPLES: &str = "Examples:\n  # which pods of a12 can still reach 169.254.169.254 (exit 1 if any)\n  kubectl block-metadata status -n a12\n  # and real connection attempts (a helper pod from a mirror where a12 has no pod with nc)\n  kubectl block-metadata status -n a12 --probe --image registry.example.com/library/busybox:1.36\n  # offline, from manifests\n  kubectl block-metadata status -f manifests/ -R -o json";

#[derive(Args)]
#[command(after_help = STATUSCMD_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace except kube-system (name it with -n as well to include it)")))]
pub struct StatusCmd {
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,

    #[command(flatten)]
    endpoints: EndpointArgs,

    /// Read Namespaces, Pods, workloads and NetworkPolicies from files or directories instead of the
    /// cluster (repeat; '-' is standard input). Without -n, every namespace in them but kube-system.
    #[arg(short = 'f', long = "filename", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    files: Vec<PathBuf>,

    /// With -f: also read the directories' subdirectories, as kubectl's -R.
    #[arg(short = 'R', long)]
    recursive: bool,

    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    output: Format,

    /// Also try for real: from one Running pod of each namespace, a TCP connection attempt (exec
    /// `nc` in the pod) to each endpoint on 80 and 443; where no pod there has sh and nc, from a
    /// short-lived helper pod (see --image). Live cluster only.
    #[arg(long, conflicts_with = "files")]
    probe: bool,

    /// With --probe: how long one attempt may take, e.g. 1s.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = harden_cli::duration::parse_wait, requires = "probe")]
    timeout: std::time::Duration,

    /// With --probe: the image of the helper pod started in a namespace without a pod to probe from
    /// (needs sh and nc) [default: busybox:1.36, under $KUBE_HARDEN_IMAGE_REPOSITORY when set].
    #[arg(long, value_name = "IMAGE", requires = "probe")]
    image: Option<String>,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for StatusCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl StatusCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let endpoints = chosen_endpoints(&self.endpoints);
        let source = SourceArgs {
            files: self.files.clone(),
            recursive: self.recursive,
            all_namespaces: self.all_namespaces.all,
        };
        let mut loaded = load(kube, &source, Wanted::Scope, engine_error).await?;
        if loaded.live.is_none() && kube.namespaces.is_empty() && !self.all_namespaces.all {
            // As -A does live: cloud agents in kube-system (the AWS VPC CNI, CSI drivers) need the
            // metadata service.
            let before = loaded.namespaces.len();
            loaded.namespaces.retain(|n| !SKIPPED_BY_ALL.contains(&n.as_str()));
            if loaded.namespaces.len() < before {
                harden_cli::output::warn(
                    "kube-system is left out (cloud agents there need the metadata service); name it with -n to check it",
                );
            }
        }
        let mut report = evaluate(&loaded.cluster, &loaded.namespaces, &endpoints);
        if self.probe
            && let Some(live) = &loaded.live
        {
            let image = harden_cli::images::choose(self.image.as_deref(), harden_cli::images::BUSYBOX)?;
            report.probes = probe(&live.client, &loaded, &endpoints, self.timeout, &image).await?;
            report.reachable |= report.probes.iter().any(|p| p.reached == Some(true));
            report.findings = findings::of(&report);
        }
        if loaded.live.is_none() && report.namespaces.iter().all(|n| n.pods == 0) {
            // Offline, no pods means the wrong files: "nothing reaches the endpoints" would be a lie.
            return Err(harden_cli::Error::invalid(format!(
                "the -f files hold no pods (or workloads) in {}: there is nothing to check",
                loaded.namespaces.join(", ")
            ))
            .with_hint(
                "give the files of the pods and policies to check, e.g. kubectl get pods,networkpolicies -A -o yaml",
            ));
        }
        harden_cli::report::write(&report, self.output, |report| Ok(table(report)))?;
        if !report.complete {
            harden_kube::sources::warn_incomplete(&loaded.cluster.unmodelled);
            return Ok(Outcome::Incomplete);
        }
        Ok(harden_cli::report::verdict(&report.findings))
    }
}

/// From one Running, non-hostNetwork pod of each namespace (or a helper pod of `image` where there is
/// none with sh and nc) to each endpoint on 80 and 443.
async fn probe(
    client: &kube::Client,
    loaded: &harden_kube::sources::Loaded,
    endpoints: &[Endpoint],
    timeout: std::time::Duration,
    image: &str,
) -> Result<Vec<Probed>> {
    use harden_kube::pods::{Until, Wait, wait_for};
    use harden_kube::probe::{Destination, Observed, Prober};
    use k8s_openapi::api::core::v1::Pod;
    let prober = Prober::new(client.clone(), timeout, false);
    let mut out = Vec::new();
    for name in &loaded.namespaces {
        let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), name);
        let (pod, helper) = match crate::helper::probing_pod(&prober, client, name).await? {
            Some(pod) => (pod, None),
            None => {
                let helper = format!("block-metadata-probe-{}", harden_cli::id::short());
                let params = kube::api::PostParams { field_manager: Some(crate::PLUGIN.into()), ..Default::default() };
                api.create(&params, &crate::helper::helper_pod(name, &helper, image)).await.map_err(|e| {
                    harden_kube::error::from_kube(e, format!("creating the probe's helper pod in namespace {name}"))
                })?;
                harden_cli::output::eline(format!(
                    "pod/{helper} created in namespace {name} (image {image}; no pod there has sh and nc to probe from)"
                ));
                let wait = Wait {
                    until: Until::Running,
                    timeout: crate::helper::HELPER_TIMEOUT,
                    pull_hint: harden_cli::images::pull_hint("it needs sh and nc, as busybox has"),
                    timeout_flag: None,
                };
                let ran = wait_for(&api, &[helper.as_str()], &wait).await;
                match ran {
                    Ok(mut pods) => (pods.remove(0), Some(helper)),
                    Err(e) => {
                        crate::helper::delete_helper(&api, name, &helper).await;
                        return Err(e);
                    }
                }
            }
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        // The helper is not among the loaded objects: the engine's answer for it needs a cluster with it.
        let with_helper;
        let cluster = if helper.is_some() {
            let mut objects = loaded.objects.clone();
            objects.add_yaml(&serde_json::to_string(&pod)?, "the probe's helper pod").map_err(engine_error)?;
            with_helper = Cluster::build(&objects).map_err(engine_error)?;
            &with_helper
        } else {
            &loaded.cluster
        };
        let id = cluster.find_pod(name, &pod_name).ok();
        for endpoint in endpoints {
            let address = endpoint.net.addr();
            for port in PORTS {
                let expected =
                    id.is_some_and(|id| matches!(why_reachable(cluster, id, address, port), Met::Reaches(_)));
                let expected_word = match (cluster.complete(), expected) {
                    (false, _) => "unknown",
                    (true, true) => "reachable",
                    (true, false) => "blocked",
                };
                let observed = prober.probe(&pod, Destination::Address(address), port).await;
                let reason = match (&observed, observed.differs(expected)) {
                    (Observed::NotProbed(_), _) => observed.detail().map(str::to_string),
                    _ if !cluster.complete() => {
                        Some("objects the engine does not model decide too: nothing to compare with".to_string())
                    }
                    (Observed::Connected | Observed::NothingListening(_), true) => Some(format!(
                        "{} although the policies block it: is NetworkPolicy enforced? (kubectl netpol-deny doctor)",
                        if observed == Observed::Connected { "connected" } else { "the packet arrived" }
                    )),
                    (Observed::Blocked(_), true) => Some(format!(
                        "{} although the policies allow it: nothing answers there (no cloud?), or something else \
                         blocks it{}",
                        observed.word(),
                        observed.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                    )),
                    _ => observed.detail().map(str::to_string),
                };
                out.push(Probed {
                    namespace: name.clone(),
                    pod: pod_name.clone(),
                    helper: helper.is_some(),
                    endpoint: address,
                    port,
                    expected: expected_word,
                    observed: observed.kind(),
                    reached: observed.reached(),
                    blocked: match &observed {
                        Observed::Blocked(harden_kube::probe::Blocked::TimedOut) => Some("timed out"),
                        Observed::Blocked(_) => Some("rejected"),
                        _ => None,
                    },
                    reason,
                });
            }
        }
        if let Some(helper) = helper {
            crate::helper::delete_helper(&api, name, &helper).await;
        }
    }
    Ok(out)
}

/// Checks every pod of the namespaces against every endpoint on TCP 80 and 443. Pods the engine
/// grouped together share one evaluation.
pub fn evaluate(cluster: &Cluster, namespaces: &[String], endpoints: &[Endpoint]) -> Report {
    let mut per_group: HashMap<(GroupId, IpAddr, u16), Met> = HashMap::new();
    let mut reports = Vec::new();
    let mut pods_of: Vec<Vec<PodId>> = vec![Vec::new(); cluster.namespaces.len()];
    for pod in cluster.pod_ids() {
        pods_of[cluster.pods[pod].namespace.index()].push(pod);
    }
    for name in namespaces {
        let pods: &[PodId] = cluster.namespace(name).map_or(&[], |ns| &pods_of[ns.index()]);
        let mut reachable = Vec::new();
        let mut protected_by: Vec<String> = Vec::new();
        for &pod in pods {
            for endpoint in endpoints {
                let address = endpoint.net.addr();
                for port in PORTS {
                    let key = (cluster.pods[pod].group, address, port);
                    match per_group.entry(key).or_insert_with(|| why_reachable(cluster, pod, address, port)) {
                        Met::Reaches((reason, allowed_by, cluster_rule)) => reachable.push(Reach {
                            pod: cluster.pods[pod].name.clone(),
                            endpoint: address,
                            port,
                            protocol: Protocol::Tcp,
                            reason,
                            cluster_rule: cluster_rule.clone(),
                            allowed_by: allowed_by.clone(),
                        }),
                        Met::Blocked(by) => {
                            for by in by.iter() {
                                if !protected_by.contains(by) {
                                    protected_by.push(by.clone());
                                }
                            }
                        }
                    }
                }
            }
        }
        reports.push(NamespaceReport { name: name.clone(), pods: pods.len(), reachable, protected_by });
    }
    let mut report = Report {
        reachable: reports.iter().any(|r| !r.reachable.is_empty()),
        complete: cluster.complete(),
        unmodelled: harden_kube::sources::unmodelled_json(&cluster.unmodelled),
        endpoints: endpoints
            .iter()
            .map(|e| EndpointInfo { address: e.net.addr(), source: e.source.clone(), description: e.what.to_string() })
            .collect(),
        ports: PORTS.iter().map(|p| format!("{p}/TCP")).collect(),
        namespaces: reports,
        probes: Vec::new(),
        findings: Vec::new(),
    };
    report.findings = findings::of(&report);
    report
}

/// Why a pod reaches an address: the [`Reach::reason`], the NetworkPolicy rules and the cluster-tier rule.
type Why = (&'static str, Vec<RuleInfo>, Option<String>);

/// What one pod (for its whole group) meets towards one address and port.
enum Met {
    Reaches(Why),
    /// Blocked, by these (a cluster-tier rule, or the isolating NetworkPolicies).
    Blocked(Vec<String>),
}

/// Whether the pod reaches the address, and why (or what blocks it).
fn why_reachable(cluster: &Cluster, pod: PodId, address: IpAddr, port: u16) -> Met {
    let verdict =
        cluster.check_resolved(netpol::Endpoint::Pod(pod), netpol::Endpoint::Ip(address), port, Protocol::Tcp);
    // A cluster tier (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy) decided
    // the pod's egress: its rule is the reason, whatever the NetworkPolicies say.
    let tier_rule = match &verdict.egress.tiers.path.decision {
        netpol::Decision::Admin { rule } | netpol::Decision::Baseline { rule } => Some(cluster.tier_rule_text(rule)),
        _ => None,
    };
    if !verdict.allowed {
        let by = match tier_rule {
            Some(rule) => vec![rule],
            None => verdict
                .egress
                .isolated_by
                .iter()
                .map(|&p| format!("networkpolicy/{}", cluster.policies[p].name))
                .collect(),
        };
        return Met::Blocked(by);
    }
    if let Some(rule) = tier_rule {
        return Met::Reaches(("allowedByClusterTier", Vec::new(), Some(rule)));
    }
    if cluster.pods[pod].host_network {
        return Met::Reaches(("hostNetwork", Vec::new(), None));
    }
    if verdict.egress.isolated_by.is_empty() {
        return Met::Reaches(("notIsolated", Vec::new(), None));
    }
    let rules = verdict
        .egress
        .allowed_by
        .iter()
        .map(|r| {
            let policy = &cluster.policies[r.policy];
            let rule = &policy.rules(Direction::Egress)[r.rule];
            RuleInfo {
                policy: policy.name.clone(),
                rule: r.rule,
                peer: r.peer.map_or("any destination".to_string(), |i| rule.peers[i].to_string()),
                port: r.port.map_or("all ports".to_string(), |i| rule.ports[i].to_string()),
            }
        })
        .collect();
    Met::Reaches(("allowedByRule", rules, None))
}

/// One row per namespace, pod and reason, with the endpoints and ports it reaches; namespaces where
/// nothing is reachable get one line saying so.
pub fn table(report: &Report) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for ns in &report.namespaces {
        // Rows by pod and reason, found by key: one pass over the namespace's findings.
        let mut merged: Vec<(String, String, Vec<String>, Vec<String>)> = Vec::new();
        let mut row_of: HashMap<(&str, String), usize> = HashMap::new();
        for reach in &ns.reachable {
            let why = match reach.reason {
                "hostNetwork" => "hostNetwork pod: NetworkPolicies do not apply".to_string(),
                "notIsolated" => "no NetworkPolicy restricts its egress".to_string(),
                "allowedByClusterTier" => reach.cluster_rule.clone().unwrap_or_default(),
                _ => reach
                    .allowed_by
                    .iter()
                    .map(|r| format!("{} egress[{}]: {}, {}", r.policy, r.rule, r.peer, r.port))
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            let endpoint = reach.endpoint.to_string();
            let port = reach.port.to_string();
            match row_of.get(&(reach.pod.as_str(), why.clone())) {
                Some(&row) => {
                    // At most a handful of endpoints and two ports per row.
                    let (_, _, endpoints, ports) = &mut merged[row];
                    if !endpoints.contains(&endpoint) {
                        endpoints.push(endpoint);
                    }
                    if !ports.contains(&port) {
                        ports.push(port);
                    }
                }
                None => {
                    row_of.insert((reach.pod.as_str(), why.clone()), merged.len());
                    merged.push((reach.pod.clone(), why, vec![endpoint], vec![port]));
                }
            }
        }
        for (pod, why, endpoints, ports) in merged {
            rows.push([ns.name.clone(), pod, endpoints.join(","), format!("{}/TCP", ports.join(",")), why]);
        }
    }
    let mut text = String::new();
    if !report.complete {
        let objects: Vec<String> = report
            .unmodelled
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                format!(
                    "{} {} ({})",
                    u["kind"].as_str().unwrap_or(""),
                    u["object"].as_str().unwrap_or(""),
                    u["apiVersion"].as_str().unwrap_or("")
                )
            })
            .collect();
        text.push_str(&format!(
            "INCOMPLETE: {} object(s) of kinds the engine does not model change what traffic is allowed: {}.\n\
             What follows is what the NetworkPolicies alone allow, not what the cluster allows.\n",
            objects.len(),
            objects.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !rows.is_empty() {
        text.push_str(&harden_cli::output::table(&["namespace", "pod", "endpoints", "ports", "allowed by"], rows));
    }
    for ns in &report.namespaces {
        if ns.pods == 0 {
            text.push_str(&format!("namespace {}: no pods to check\n", ns.name));
        } else if ns.reachable.is_empty() {
            let (who, verb) = if report.complete {
                ("none of its", "can reach")
            } else {
                ("the NetworkPolicies let none of its", "reach")
            };
            let by = if ns.protected_by.is_empty() {
                String::new()
            } else {
                format!(" (blocked by {})", ns.protected_by.join("; "))
            };
            text.push_str(&format!(
                "namespace {}: {who} {} pod(s) {verb} the {} metadata endpoint(s) on TCP 80 or 443{by}\n",
                ns.name,
                ns.pods,
                report.endpoints.len()
            ));
        }
    }
    if !report.probes.is_empty() {
        let rows = report.probes.iter().map(|p| {
            [
                format!("{}/{}{}", p.namespace, p.pod, if p.helper { " (helper)" } else { "" }),
                std::net::SocketAddr::new(p.endpoint, p.port).to_string(),
                p.expected.to_string(),
                match p.blocked {
                    Some(how) => format!("{} ({how})", p.observed),
                    None => p.observed.to_string(),
                },
                p.reason.clone().unwrap_or_default(),
            ]
        });
        text.push_str("\nProbes (real TCP connection attempts from a pod of each namespace):\n");
        text.push_str(&harden_cli::output::table(&["from", "to", "expected", "observed", ""], rows));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{DEFAULT_NAME, block_policy};
    use crate::presets::{Cloud, endpoints};
    use serde_json::json;

    fn objects(extra_policies: &[serde_json::Value]) -> netpol::Objects {
        let mut objects = netpol::Objects::new("default");
        let pod = |ns: &str, name: &str, host: bool| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                   "spec": {"hostNetwork": host, "containers": [{"name": "c", "image": "x"}]}})
        };
        for value in
            [pod("a12", "web", false), pod("a12", "api", false), pod("other", "tool", false), pod("a12", "agent", true)]
        {
            objects.add_yaml(&value.to_string(), "test").unwrap();
        }
        for policy in extra_policies {
            objects.add_yaml(&policy.to_string(), "test").unwrap();
        }
        objects
    }

    fn ours(ns: &str) -> serde_json::Value {
        let mut value =
            serde_json::to_value(block_policy(ns, DEFAULT_NAME, &endpoints(&[Cloud::All], false, &[]))).unwrap();
        value["apiVersion"] = json!("networking.k8s.io/v1");
        value["kind"] = json!("NetworkPolicy");
        value
    }

    fn pods_reaching(report: &Report, ns: &str) -> Vec<String> {
        let mut pods: Vec<String> = report
            .namespaces
            .iter()
            .filter(|n| n.name == ns)
            .flat_map(|n| n.reachable.iter().map(|r| r.pod.clone()))
            .collect();
        pods.dedup();
        pods
    }

    #[test]
    fn without_policies_every_pod_reaches_every_endpoint() {
        let cluster = Cluster::build(&objects(&[])).unwrap();
        let eps = endpoints(&[Cloud::Aws], false, &[]);
        let report = evaluate(&cluster, &["a12".into()], &eps);
        assert!(report.reachable);
        let ns = &report.namespaces[0];
        assert_eq!(ns.pods, 3);
        assert_eq!(ns.reachable.len(), 3 * 2 * 2, "3 pods x 2 endpoints x 2 ports");
        let web = ns.reachable.iter().find(|r| r.pod == "web").unwrap();
        assert_eq!(web.reason, "notIsolated");
    }

    #[test]
    fn our_policy_blocks_all_but_host_network_pods() {
        let cluster = Cluster::build(&objects(&[ours("a12")])).unwrap();
        let eps = endpoints(&[Cloud::All], false, &[]);
        let report = evaluate(&cluster, &["a12".into(), "other".into()], &eps);
        assert_eq!(pods_reaching(&report, "a12"), ["agent"], "hostNetwork pods are never selected");
        assert_eq!(report.namespaces[0].reachable[0].reason, "hostNetwork");
        assert_eq!(pods_reaching(&report, "other"), ["tool"]);
        let text = table(&report);
        assert!(text.contains("hostNetwork pod: NetworkPolicies do not apply"), "{text}");
        assert!(text.contains("no NetworkPolicy restricts its egress"), "{text}");
    }

    fn cluster_block(priority: u32) -> serde_json::Value {
        crate::cluster::block_policy(DEFAULT_NAME, &endpoints(&[Cloud::Aws], false, &[]), priority, false, "v1alpha2")
    }

    /// Issue 28: the Admin-tier block protects every namespace even where a NetworkPolicy allows all
    /// egress (a namespace owner cannot widen it), and `status` names it as what protects them; a
    /// hostNetwork pod it does not stop is still reported.
    #[test]
    fn the_cluster_block_protects_namespaces_whose_policies_allow_everything() {
        let allow_all = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-all-egress", "namespace": "a12"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}});
        let cluster = Cluster::build(&objects(&[cluster_block(10), allow_all.clone()])).unwrap();
        let eps = endpoints(&[Cloud::Aws], false, &[]);
        let report = evaluate(&cluster, &["a12".into(), "other".into()], &eps);
        assert!(
            !report.namespaces[0].reachable.iter().any(|r| r.pod != "agent"),
            "{:?}",
            report.namespaces[0].reachable
        );
        assert_eq!(pods_reaching(&report, "other"), Vec::<String>::new());
        for ns in &report.namespaces {
            assert_eq!(ns.protected_by.len(), 1, "{:?}", ns.protected_by);
            assert!(
                ns.protected_by[0]
                    .starts_with("clusternetworkpolicy/block-metadata (Admin tier, priority 10) egress rule 0"),
                "{:?}",
                ns.protected_by
            );
        }
        let text = table(&report);
        assert!(text.contains("namespace other: none of its 1 pod(s) can reach the 2 metadata endpoint(s) on TCP 80 or 443 (blocked by clusternetworkpolicy/block-metadata"), "{text}");

        // Wrong case: an Admin Accept at an earlier priority lets pods through, and is named as the
        // reason; nothing calls the namespace protected by the block.
        let accept = json!({"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": "open-imds"}, "spec": {"tier": "Admin", "priority": 5,
            "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}},
            "egress": [{"name": "imds", "action": "Accept", "to": [{"networks": ["169.254.169.254/32"]}]}]}});
        let cluster = Cluster::build(&objects(&[cluster_block(10), allow_all, accept])).unwrap();
        let report = evaluate(&cluster, &["a12".into(), "other".into()], &eps);
        assert!(report.reachable);
        let tool = report.namespaces[1].reachable.iter().find(|r| r.pod == "tool").unwrap();
        assert_eq!(tool.reason, "allowedByClusterTier");
        assert!(
            tool.cluster_rule
                .as_deref()
                .unwrap()
                .starts_with("clusternetworkpolicy/open-imds (Admin tier, priority 5)")
        );
        let text = table(&report);
        assert!(text.contains("clusternetworkpolicy/open-imds (Admin tier, priority 5)"), "{text}");
        assert!(!text.contains("namespace other: none"), "{text}");
    }

    /// Without the cluster block (a cluster without the CRD has none), a NetworkPolicy allowing all
    /// egress leaves the namespace open: nothing is reported as protecting it.
    #[test]
    fn without_the_cluster_block_nothing_is_called_protected() {
        let allow_all = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-all-egress", "namespace": "a12"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}});
        let cluster = Cluster::build(&objects(&[allow_all])).unwrap();
        let report = evaluate(&cluster, &["a12".into()], &endpoints(&[Cloud::Aws], false, &[]));
        assert_eq!(pods_reaching(&report, "a12"), ["web", "api", "agent"]);
        assert!(report.namespaces[0].protected_by.is_empty(), "{:?}", report.namespaces[0].protected_by);
    }

    #[test]
    fn a_policy_allowing_all_egress_is_named_with_its_rule() {
        let allow_all = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-all-egress", "namespace": "a12"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"], "egress": [{}]}});
        let cluster = Cluster::build(&objects(&[ours("a12"), allow_all])).unwrap();
        let eps = endpoints(&[Cloud::Aws], false, &[]);
        let report = evaluate(&cluster, &["a12".into()], &eps);
        assert_eq!(pods_reaching(&report, "a12"), ["web", "agent"]);
        let web = report.namespaces[0].reachable.iter().find(|r| r.pod == "web").unwrap();
        assert_eq!(web.reason, "allowedByRule");
        assert_eq!(
            web.allowed_by,
            [RuleInfo {
                policy: "allow-all-egress".into(),
                rule: 0,
                peer: "any destination".into(),
                port: "all ports".into()
            }]
        );
        let text = table(&report);
        assert!(text.contains("allow-all-egress egress[0]: any destination, all ports"), "{text}");
        assert!(text.contains("169.254.169.254,fd00:ec2::254"), "{text}");
    }

    /// Issue 32: text output took 71 s for 46,000 unprotected pods (a linear search per finding).
    /// The rows of many pods are what they were: one per pod and reason, endpoints and ports merged.
    #[test]
    fn many_pods_make_one_row_each() {
        let mut objects = netpol::Objects::new("default");
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: big}}\nspec: {{containers: [{{name: c, image: x}}]}}\n"
            ));
        }
        objects.add_yaml(&text, "test").unwrap();
        let cluster = Cluster::build(&objects).unwrap();
        let report = evaluate(&cluster, &["big".into()], &endpoints(&[Cloud::Aws], false, &[]));
        assert_eq!(report.namespaces[0].reachable.len(), 3000 * 2 * 2);
        let text = table(&report);
        assert_eq!(text.lines().count(), 1 + 3000, "a header and one row per pod");
        assert!(text.contains("big        p2999  169.254.169.254,fd00:ec2::254  80,443/TCP"), "{}", &text[..300]);
    }

    #[test]
    fn unmodelled_objects_make_the_report_incomplete_and_say_so() {
        let mut with_anp = objects(&[]);
        with_anp
            .add_yaml(
                "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: n}\nspec: {}\n",
                "anp.yaml",
            )
            .unwrap();
        let cluster = Cluster::build(&with_anp).unwrap();
        let report = evaluate(&cluster, &["a12".into()], &endpoints(&[Cloud::Aws], false, &[]));
        assert!(!report.complete);
        assert_eq!(serde_json::to_value(&report).unwrap()["unmodelled"][0]["kind"], "CiliumNetworkPolicy");
        let text = table(&report);
        assert!(text.starts_with("INCOMPLETE: 1 object(s)"), "{text}");
        let complete =
            evaluate(&Cluster::build(&objects(&[])).unwrap(), &["a12".into()], &endpoints(&[Cloud::Aws], false, &[]));
        assert!(complete.complete);
        assert!(!table(&complete).contains("INCOMPLETE"));
    }

    #[test]
    fn json_is_documented_shape() {
        let cluster = Cluster::build(&objects(&[ours("a12")])).unwrap();
        let report = evaluate(&cluster, &["other".into()], &endpoints(&[Cloud::Alibaba], false, &[]));
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["reachable"], true);
        assert_eq!(value["ports"], json!(["80/TCP", "443/TCP"]));
        assert_eq!(
            value["endpoints"][0],
            json!({"address": "100.100.100.200", "source": "alibaba", "description": "Alibaba Cloud ECS metadata service"})
        );
        assert_eq!(
            value["namespaces"][0]["reachable"][0],
            json!({"pod": "tool", "endpoint": "100.100.100.200", "port": 80, "protocol": "TCP", "reason": "notIsolated", "allowedBy": []})
        );
    }

    /// Issue 26: status reports in the suite's shared shape, and its verdict comes from the findings.
    /// One finding per pod and cause (endpoints and ports merged), each with what closes it.
    #[test]
    fn findings_name_each_pod_its_cause_and_the_fix() {
        let eps = endpoints(&[Cloud::Aws], false, &[]);
        let open = evaluate(&Cluster::build(&objects(&[])).unwrap(), &["a12".into()], &eps);
        let pods: Vec<&str> = open.findings.iter().map(|f| f.object.as_str()).collect();
        assert_eq!(pods, ["pod/web", "pod/api", "pod/agent"], "one per pod, not per endpoint and port");
        let web = &open.findings[0];
        assert_eq!(web.severity, harden_cli::report::Risk::High);
        assert_eq!((web.check.as_str(), web.namespace.as_str()), ("metadata-reachable", "a12"));
        assert_eq!(
            web.message,
            "can reach 169.254.169.254,fd00:ec2::254 on 80,443/TCP: no NetworkPolicy restricts its egress"
        );
        assert_eq!(web.fix, "kubectl block-metadata apply -n a12");
        assert!(open.findings[2].fix.contains("without hostNetwork"), "{:?}", open.findings[2]);
        assert_eq!(harden_cli::report::verdict(&open.findings), Outcome::Finding);

        let allow_web = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "allow-all-egress", "namespace": "a12"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"], "egress": [{}]}});
        let widened = evaluate(&Cluster::build(&objects(&[ours("a12"), allow_web])).unwrap(), &["a12".into()], &eps);
        let web = widened.findings.iter().find(|f| f.object == "pod/web").unwrap();
        assert!(
            web.message.contains("allowed by networkpolicy/allow-all-egress egress[0] (any destination, all ports)"),
            "{web:?}"
        );
        assert!(web.fix.contains("--cluster-wide"), "{web:?}");
        assert!(!widened.findings.iter().any(|f| f.object == "pod/api"), "api is blocked by ours: no finding");
    }

    /// The wrong case: where every pod is blocked there is no finding, and the verdict is good; the
    /// findings say "reachable" exactly when the report does.
    #[test]
    fn a_protected_namespace_has_no_finding_and_findings_agree_with_reachable() {
        let eps = endpoints(&[Cloud::All], false, &[]);
        let cluster = Cluster::build(&objects(&[ours("a12"), ours("other")])).unwrap();
        let other = evaluate(&cluster, &["other".into()], &eps);
        assert!(other.findings.is_empty(), "{:?}", other.findings);
        assert_eq!(harden_cli::report::verdict(&other.findings), Outcome::Good);
        let json = serde_json::to_value(&other).unwrap();
        assert_eq!(json["findings"], json!([]), "always there, empty when nothing reaches");
        for report in [
            other,
            evaluate(&cluster, &["a12".into()], &eps),
            evaluate(&Cluster::build(&objects(&[])).unwrap(), &["other".into()], &eps),
        ] {
            assert_eq!(report.reachable, !report.findings.is_empty());
        }
    }

    /// A probe whose packet reached an endpoint is a finding even where the policies block it (the
    /// wrong answer would be "blocked"); one that was blocked or not made is none.
    #[test]
    fn a_probe_that_reached_is_a_finding_and_a_blocked_one_is_not() {
        let eps = endpoints(&[Cloud::Aws], false, &[]);
        let mut report = evaluate(&Cluster::build(&objects(&[ours("a12")])).unwrap(), &["a12".into()], &eps);
        let engine_findings = report.findings.len();
        let probe = |observed: &'static str, reached: Option<bool>| Probed {
            namespace: "a12".into(),
            pod: "web".into(),
            helper: false,
            endpoint: "169.254.169.254".parse().unwrap(),
            port: 80,
            expected: "blocked",
            observed,
            reached,
            blocked: None,
            reason: None,
        };
        report.probes = vec![probe("blocked", Some(false)), probe("not probed", None)];
        assert_eq!(findings::of(&report).len(), engine_findings);
        report.probes.push(probe("nothing listening", Some(true)));
        let found = findings::of(&report);
        let reached = found.last().unwrap();
        assert_eq!(found.len(), engine_findings + 1);
        assert_eq!(reached.check, "metadata-reached");
        assert_eq!(
            reached.message,
            "a TCP connection from it reached 169.254.169.254:80, although the policies block it (nothing listening)"
        );
        assert_eq!(reached.fix, "check that NetworkPolicies are enforced: kubectl netpol-deny doctor");
    }
}
