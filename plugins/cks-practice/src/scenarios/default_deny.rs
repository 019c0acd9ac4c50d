//! Scenario 1: Default-deny ingress in a namespace (the seed's g04): every pod of the namespace, including
//! pods created later, takes no ingress from anywhere; egress is left alone.

use harden_cli::Result;
use netpol::{Endpoint, PortQuery};
use serde_json::json;

use crate::grade::{self, Check};
use crate::scenario::{Context, Id, Plan, build, sh};
use crate::seed::Rng;

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "default-deny");
    let mut plan = Plan::new(Id::DefaultDeny, ctx);
    let ns = rng.namespace();
    let mut client_ns = rng.namespace();
    while client_ns == ns {
        client_ns = rng.namespace();
    }
    let web = rng.word();
    let api = rng.fresh_word(&[web]);
    let (web_port, api_port) = (rng.port(&[]), rng.port(&[]));
    let policy = format!("deny-{}", rng.word());
    plan.namespaces = vec![ns.clone(), client_ns.clone()];
    plan.objects = vec![
        build::namespace(&ns, json!({})),
        build::namespace(&client_ns, json!({})),
        build::pod(&ns, &format!("web-{web}"), json!({"app": format!("web-{web}")}), web_port),
        build::pod(&ns, &format!("api-{api}"), json!({"app": format!("api-{api}"), "tier": "api"}), api_port),
        build::pod(&client_ns, "client", json!({"app": "client"}), 8080),
    ];
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("networkpolicy", policy.clone());
    plan.task = format!(
        "Namespace {ns} runs pods web-{web} and api-{api}.\n\
         Create a NetworkPolicy named {policy} in namespace {ns} that denies all ingress traffic to every pod in\n\
         the namespace, including pods created later. Egress traffic must not be restricted."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic",
    ];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {ns}\nspec:\n  \
         podSelector: ???      # which pods: all of them\n  policyTypes: [???]    # only the direction the task names\n"
    );
    plan.plugin_steps = vec![format!("kubectl netpol-deny apply -n {ns} --ingress --name {policy}")];
    plan.manual = format!(
        "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes:\n  - Ingress\nEOF\n\
         kubectl -n {} get networkpolicy {policy} -o yaml\n",
        sh(&ns)
    );
    plan
}

pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let (ns, client_ns) = (&plan.namespaces[0], &plan.namespaces[1]);
    let later = "pod-created-later";
    let cluster = grade::traffic_model(client, &plan.namespaces, &grade::later_pod(ns, later)).await?;
    let mut pods: Vec<(String, u16)> = Vec::new();
    for object in plan.objects.iter().filter(|o| o["kind"] == "Pod" && o["metadata"]["namespace"] == ns.as_str()) {
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let port = object["spec"]["containers"][0]["ports"][0]["containerPort"].as_u64().unwrap_or(80) as u16;
        pods.push((name, port));
    }
    pods.push((later.to_string(), 8080));
    let outside = Endpoint::Pod(grade::pod(&cluster, client_ns, "client")?);
    let mut checks = Vec::new();
    for (i, (name, port)) in pods.iter().enumerate() {
        let to = Endpoint::Pod(grade::pod(&cluster, ns, name)?);
        checks.push(grade::traffic(&cluster, outside, to, &PortQuery::tcp(*port), false)?);
        // From the namespace's next pod: a policy must not leave the namespace's own traffic open.
        let (peer, _) = &pods[(i + 1) % pods.len()];
        if peer != later && name != later {
            let from = Endpoint::Pod(grade::pod(&cluster, ns, peer)?);
            checks.push(grade::traffic(&cluster, from, to, &PortQuery::tcp(*port), false)?);
        }
    }
    let (first, _) = &pods[0];
    let from = Endpoint::Pod(grade::pod(&cluster, ns, first)?);
    let internet = Endpoint::Ip("203.0.113.10".parse().expect("address"));
    let mut egress = grade::traffic(&cluster, from, internet, &PortQuery::tcp(443), true)?;
    egress.check = format!("egress stays open: {}", egress.check);
    checks.push(egress);
    Ok(checks)
}
