//! Scenario 3: Pods of a namespace must not reach the cloud metadata endpoint; their other egress keeps
//! working (the seed's a12). Graded with the engine for every pod, and for a pod created later.

use harden_cli::Result;
use netpol::{Endpoint, PortQuery, Protocol};
use serde_json::json;

use crate::grade::{self, Check};
use crate::scenario::{Context, Id, Plan, build};
use crate::seed::Rng;

pub const METADATA: &str = "169.254.169.254";

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "block-metadata");
    let mut plan = Plan::new(Id::BlockMetadata, ctx);
    let ns = rng.namespace();
    let app = rng.word();
    let worker = rng.fresh_word(&[app]);
    let policy = format!("deny-metadata-{}", rng.word());
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![
        build::namespace(&ns, json!({})),
        build::pod(&ns, app, json!({"app": app}), rng.port(&[])),
        build::pod(&ns, worker, json!({"app": worker, "tier": "batch"}), rng.port(&[])),
    ];
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("networkpolicy", policy.clone());
    plan.task = format!(
        "Pods in namespace {ns} must not be able to reach the cloud metadata endpoint {METADATA}.\n\
         Create a NetworkPolicy named {policy} in namespace {ns} that blocks egress to {METADATA} for every pod of\n\
         the namespace (including pods created later). All other egress traffic must keep working."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource (ipBlock, except)",
    ];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {ns}\nspec:\n  \
         podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: ???        # everything...\n        \
         except: [???]     # ...but the metadata endpoint\n"
    );
    plan.plugin_steps = vec![format!("kubectl block-metadata apply -n {ns} --name {policy}")];
    plan.manual = format!(
        "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes:\n  - Egress\n  egress:\n  - to:\n    - ipBlock:\n        \
         cidr: 0.0.0.0/0\n        except:\n        - {METADATA}/32\nEOF\n"
    );
    plan
}

pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = &plan.namespaces[0];
    let later = "pod-created-later";
    let cluster = grade::traffic_model(client, &plan.namespaces, &grade::later_pod(ns, later)).await?;
    let mut names: Vec<String> = plan
        .objects
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    names.push(later.into());
    let metadata = Endpoint::Ip(METADATA.parse().expect("address"));
    let web = Endpoint::Ip("203.0.113.80".parse().expect("address"));
    let dns = Endpoint::Ip("10.96.0.10".parse().expect("address"));
    let mut checks = Vec::new();
    for name in &names {
        let pod = Endpoint::Pod(grade::pod(&cluster, ns, name)?);
        checks.push(grade::traffic(&cluster, pod, metadata, &PortQuery::tcp(80), false)?);
        if name != later {
            checks.push(grade::traffic(&cluster, pod, web, &PortQuery::tcp(443), true)?);
            checks.push(grade::traffic(&cluster, pod, dns, &PortQuery::new(53, Protocol::Udp), true)?);
        }
    }
    Ok(checks)
}
