//! Scenario 2: Only frontend pods in namespaces labelled `team=X` may reach the backend on port P: the
//! AND-versus-OR trap. One peer with both selectors is an AND; two peers are an OR, which lets the
//! labelled namespace's other pods in (and the check says which peer did).

use harden_cli::Result;
use netpol::{Endpoint, PortQuery};
use serde_json::json;

use crate::grade::{self, Check};
use crate::scenario::{Context, Id, Plan, build};
use crate::seed::Rng;

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "frontend-to-backend");
    let mut plan = Plan::new(Id::FrontendToBackend, ctx);
    let mut names: Vec<String> = Vec::new();
    while names.len() < 3 {
        let ns = rng.namespace();
        if !names.contains(&ns) {
            names.push(ns);
        }
    }
    let (backend_ns, front_ns, other_ns) = (names[0].clone(), names[1].clone(), names[2].clone());
    let team = rng.word();
    let other_team = rng.fresh_word(&[team]);
    let port = rng.port(&[]);
    let policy = format!("backend-{}", rng.word());
    plan.namespaces = names.clone();
    plan.objects = vec![
        build::namespace(&backend_ns, json!({})),
        build::namespace(&front_ns, json!({"team": team})),
        build::namespace(&other_ns, json!({"team": other_team})),
        build::pod(&backend_ns, "backend", json!({"app": "backend"}), port),
        build::pod(&backend_ns, "cache", json!({"app": "cache"}), 6379),
        build::pod(&front_ns, "frontend", json!({"role": "frontend"}), 8080),
        build::pod(&front_ns, "worker", json!({"role": "worker"}), 8080),
        build::pod(&other_ns, "frontend", json!({"role": "frontend"}), 8080),
    ];
    plan.names.insert("namespace", backend_ns.clone());
    plan.names.insert("networkpolicy", policy.clone());
    plan.names.insert("namespaceLabel", format!("team={team}"));
    plan.names.insert("port", port.to_string());
    plan.task = format!(
        "In namespace {backend_ns}, pods labelled app=backend listen on TCP port {port}.\n\
         Create a NetworkPolicy named {policy} in namespace {backend_ns} so that only pods labelled role=frontend\n\
         in namespaces labelled team={team} can reach the backend pods, and only on TCP port {port}.\n\
         Every other pod (of any namespace, on any port) must be denied ingress to the backend pods."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors",
    ];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {backend_ns}\nspec:\n  \
         podSelector: {{matchLabels: {{app: backend}}}}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    \
         - ???   # ONE peer with namespaceSelector AND podSelector (two '-' items would be an OR)\n    \
         ports:\n    - {{protocol: TCP, port: ???}}\n"
    );
    plan.plugin_steps = vec![format!(
        "kubectl netpol-deny allow -n {backend_ns} --name {policy} --to app=backend --from-namespace team={team} \
         --from-pod role=frontend --port {port}"
    )];
    plan.manual = format!(
        "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {backend_ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: backend\n  policyTypes:\n  - Ingress\n  \
         ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          team: {team}\n      podSelector:\n        \
         matchLabels:\n          role: frontend\n    ports:\n    - protocol: TCP\n      port: {port}\nEOF\n"
    );
    plan
}

pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let (backend_ns, front_ns, other_ns) = (&plan.namespaces[0], &plan.namespaces[1], &plan.namespaces[2]);
    let port: u16 = plan.names["port"].parse().unwrap_or(80);
    let cluster = grade::traffic_model(client, &plan.namespaces, "").await?;
    let backend = Endpoint::Pod(grade::pod(&cluster, backend_ns, "backend")?);
    let frontend = Endpoint::Pod(grade::pod(&cluster, front_ns, "frontend")?);
    let worker = Endpoint::Pod(grade::pod(&cluster, front_ns, "worker")?);
    let stranger = Endpoint::Pod(grade::pod(&cluster, other_ns, "frontend")?);
    let cache = Endpoint::Pod(grade::pod(&cluster, backend_ns, "cache")?);
    let on = PortQuery::tcp(port);
    let other_port = PortQuery::tcp(if port == 65535 { 1024 } else { port + 1 });
    Ok(vec![
        grade::traffic(&cluster, frontend, backend, &on, true)?,
        grade::traffic(&cluster, worker, backend, &on, false)?,
        grade::traffic(&cluster, stranger, backend, &on, false)?,
        grade::traffic(&cluster, cache, backend, &on, false)?,
        grade::traffic(&cluster, frontend, backend, &other_port, false)?,
    ])
}
