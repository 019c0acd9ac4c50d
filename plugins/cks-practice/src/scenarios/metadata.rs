//! Scenario 3: Pods of a namespace must not reach the cloud metadata endpoint; their other egress keeps
//! working (the seed's a12). Graded with the engine for every pod, and for a pod created later.

use std::net::IpAddr;

use harden_cli::Result;
use netpol::Endpoint;
use serde_json::json;

use crate::grade::{self, Check, Family};
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build};
use crate::seed::Rng;

pub const METADATA: &str = "169.254.169.254";

/// The scenario, as `scenarios::ALL` registers it.
pub struct BlockMetadata;

const CARD: Card =
    Card::new("block-metadata", "NetworkPolicy: no pod reaches the cloud metadata endpoint", 8, &[Need::Api]);

impl Scenario for BlockMetadata {
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
    let mut rng = Rng::new(ctx.seed, "block-metadata");
    let mut plan = Plan::new(Id(&BlockMetadata), ctx);
    let ns = rng.namespace();
    let app = rng.word();
    let worker = rng.fresh_word(&[app]);
    let policy = format!("deny-metadata-{}", rng.word());
    let (app_port, worker_port) = (rng.port(&[]), rng.port(&[]));
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![
        build::namespace(&ns, json!({})),
        build::pod(&ns, app, json!({"app": app}), app_port),
        build::pod(&ns, worker, json!({"app": worker, "tier": "batch"}), worker_port),
    ];
    plan.verify = [
        format!(
            "# the endpoint: NO ANSWER (where there is a metadata service, it answers without the policy)\n\
             kubectl -n {ns} exec {app} -- timeout 2 wget -qO- http://{METADATA}/ >/dev/null 2>&1 \\\n  \
             && echo \"{ns}/{app} -> {METADATA}:80 REACHED\" || echo \"{ns}/{app} -> {METADATA}:80 NO ANSWER\"\n\
             # pod-to-pod egress kept: REACHED\n"
        ),
        build::try_http((&ns, app), (&ns, worker), worker_port),
    ]
    .concat();
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("networkpolicy", policy.clone());
    plan.task = format!(
        "Pods in namespace {ns} must not be able to reach the cloud metadata endpoint {METADATA}.\n\
         Create a NetworkPolicy named {policy} in namespace {ns} that blocks egress to {METADATA} for every pod of\n\
         the namespace (including pods created later). All other IPv4 egress traffic (to every other address, to\n\
         pods of every namespace and to DNS, on every port) must keep working."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource (ipBlock, except)",
    ];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {ns}\nspec:\n  \
         podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: ???        # everything...\n        \
         except: [???]     # ...but the metadata endpoint\n"
    );
    // Only the endpoint the task names (the default blocks every cloud's, 100.100.100.200 among them).
    plan.plugin_steps = vec![format!("kubectl block-metadata apply -n {ns} --name {policy} --cloud aws")];
    plan.manual = format!(
        "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes:\n  - Egress\n  egress:\n  - to:\n    - ipBlock:\n        \
         cidr: 0.0.0.0/0\n        except:\n        - {METADATA}/32\nEOF\n"
    );
    plan
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - no policy, a policy for some pods only, or a pod created later left out: the endpoint is reached;
/// - the endpoint blocked on some ports or protocols only (`ports: [80]` in a deny-by-except rule);
/// - all egress denied, or egress allowed to only some ports (`ports: [80, 443]`): other traffic stops;
/// - `except` also naming the pods' or private ranges, or only `namespaceSelector` peers: pod-to-pod
///   egress or addresses stop;
/// - DNS to the cluster's CoreDNS pods not allowed.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = &plan.namespaces[0];
    let elsewhere = "namespace-created-later";
    let extra = [
        grade::imagined(None, &[(ns, "pod-created-later", &[("cks-practice-probe", "later")], "10.244.250.31")]),
        grade::imagined(Some((elsewhere, &[])), &[(elsewhere, "any-pod", &[], "10.244.250.32")]),
        grade::imagined_dns(),
    ]
    .concat();
    let cluster = grade::traffic_model(client, &plan.namespaces, &extra).await?;
    grade::starting_pods(&cluster, &plan.objects)?;
    let ports = grade::port_classes(&cluster);
    let metadata: IpAddr = METADATA.parse().expect("address");
    let addresses = grade::address_classes(&cluster, Family::V4, &[metadata]);
    let others: Vec<Endpoint> = grade::pods_of(&cluster, None)
        .into_iter()
        .filter(|&p| grade::has_address(&cluster, p))
        .map(Endpoint::Pod)
        .collect();
    let mut checks = Vec::new();
    for source in grade::pods_of(&cluster, Some(ns)) {
        let from = Endpoint::Pod(source);
        let name = grade::endpoint(&cluster, from);
        let check = format!("{name} cannot reach {METADATA} on any port");
        checks.push(grade::behaviour(&cluster, &ports, check, &[(from, Endpoint::Ip(metadata))], &|_, _, _, _| false));
        let mut pairs: Vec<(Endpoint, Endpoint)> =
            addresses.iter().filter(|&&a| a != metadata).map(|&a| (from, Endpoint::Ip(a))).collect();
        pairs.extend(others.iter().map(|&o| (from, o)));
        let check =
            format!("{name} still reaches every other IPv4 address, the pods of every namespace and DNS, on any port");
        checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &|_, _, _, _| true));
    }
    Ok(checks)
}
