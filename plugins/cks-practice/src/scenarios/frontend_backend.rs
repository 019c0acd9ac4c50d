//! Scenario 2: Only frontend pods in namespaces labelled `team=X` may reach the backend on port P: the
//! AND-versus-OR trap. One peer with both selectors is an AND; two peers are an OR, which lets the
//! labelled namespace's other pods in (and the check says which peer did).
//!
//! Two variants, as the exam words it: `labelled-namespaces` (the frontends of namespaces labelled
//! `team=X`) and `all-namespaces` (the frontends of every namespace: an empty `namespaceSelector`
//! in the same peer; a `podSelector` alone would mean the backend's own namespace only).

use harden_cli::Result;
use netpol::{Endpoint, Protocol};
use serde_json::json;

use crate::grade::{self, Check, Family};
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build};
use crate::seed::Rng;

/// The variants: which namespaces the frontends may come from.
pub const VARIANTS: [&str; 2] = ["labelled-namespaces", "all-namespaces"];

/// Whether the plan is the variant where the frontends of every namespace are let in.
fn all_namespaces(plan: &Plan) -> bool {
    plan.variant == Some("all-namespaces")
}

/// The scenario, as `scenarios::ALL` registers it.
pub struct FrontendToBackend;

const CARD: Card = Card {
    variants: &VARIANTS,
    ..Card::new(
        "frontend-to-backend",
        "NetworkPolicy: only frontend pods (of labelled namespaces, or of any) reach the backend",
        10,
        &[Need::Api],
    )
};

impl Scenario for FrontendToBackend {
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
    let mut rng = Rng::new(ctx.seed, "frontend-to-backend");
    let mut plan = Plan::new(Id(&FrontendToBackend), ctx);
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
    plan.names.insert("variant", plan.variant.unwrap_or(VARIANTS[0]).to_string());
    let everywhere = all_namespaces(&plan);
    let whose = if everywhere { "in any namespace".to_string() } else { format!("in namespaces labelled team={team}") };
    plan.task = format!(
        "In namespace {backend_ns}, pods labelled app=backend listen on TCP port {port}.\n\
         Create a NetworkPolicy named {policy} in namespace {backend_ns} so that only pods labelled role=frontend\n\
         {whose} can reach the backend pods, and only on TCP port {port}.\n\
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
    let (from_namespace, selector) = if everywhere {
        ("''".to_string(), "{}".to_string())
    } else {
        (format!("team={team}"), format!("\n        matchLabels:\n          team: {team}"))
    };
    plan.plugin_steps = vec![format!(
        "kubectl netpol-deny allow -n {backend_ns} --name {policy} --to app=backend --from-namespace {from_namespace} \
         --from-pod role=frontend --port {port}"
    )];
    plan.manual = format!(
        "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {backend_ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: backend\n  policyTypes:\n  - Ingress\n  \
         ingress:\n  - from:\n    - namespaceSelector: {selector}\n      podSelector:\n        \
         matchLabels:\n          role: frontend\n    ports:\n    - protocol: TCP\n      port: {port}\nEOF\n"
    );
    plan.verify = if everywhere {
        [
            "# the frontends of both namespaces: REACHED\n".to_string(),
            build::try_http((&front_ns, "frontend"), (&backend_ns, "backend"), port),
            build::try_http((&other_ns, "frontend"), (&backend_ns, "backend"), port),
            "# the worker, the backend's neighbour: NO ANSWER\n".to_string(),
            build::try_http((&front_ns, "worker"), (&backend_ns, "backend"), port),
            build::try_http((&backend_ns, "cache"), (&backend_ns, "backend"), port),
        ]
        .concat()
    } else {
        [
            "# the labelled namespace's frontend: REACHED\n".to_string(),
            build::try_http((&front_ns, "frontend"), (&backend_ns, "backend"), port),
            "# its worker, the other namespace's frontend, the backend's neighbour: NO ANSWER\n".to_string(),
            build::try_http((&front_ns, "worker"), (&backend_ns, "backend"), port),
            build::try_http((&other_ns, "frontend"), (&backend_ns, "backend"), port),
            build::try_http((&backend_ns, "cache"), (&backend_ns, "backend"), port),
        ]
        .concat()
    };
    plan
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - the OR trap: `namespaceSelector` and `podSelector` as two peers: the labelled namespace's other
///   pods, or frontend pods of every namespace, get in;
/// - a namespace selector on `kubernetes.io/metadata.name` (or a name) instead of the task's label: a
///   namespace labelled later is not let in;
/// - a second rule (or a rule without `ports`) that opens other ports or protocols to anyone;
/// - the port on UDP, a range of ports, or no port: another port or protocol is open;
/// - a `podSelector` that misses the backend pods, or one created later: other pods reach it;
/// - an ipBlock peer: addresses get in.
///
/// Variant `all-namespaces` also catches:
/// - the labelled-namespaces answer (a `namespaceSelector` with a label): the frontends of other
///   namespaces, and of one created later, are denied;
/// - a `podSelector` alone (no `namespaceSelector`): only the backend namespace's own frontends
///   would get in;
/// - `namespaceSelector: {}` as a peer of its own (the OR trap): every pod of every namespace gets in.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let (backend_ns, front_ns) = (&plan.namespaces[0], &plan.namespaces[1]);
    let port: u16 = plan.names["port"].parse().unwrap_or(80);
    let (team_key, team) = plan.names["namespaceLabel"].split_once('=').unwrap_or(("team", ""));
    let everywhere = all_namespaces(plan);
    let (labelled, plain) = ("namespace-labelled-later", "namespace-created-later");
    let extra = [
        grade::imagined(None, &[(backend_ns, "backend-created-later", &[("app", "backend")], "10.244.250.21")]),
        grade::imagined(None, &[(front_ns, "frontend-created-later", &[("role", "frontend")], "10.244.250.22")]),
        grade::imagined(
            Some((labelled, &[(team_key, team)])),
            &[
                (labelled, "frontend", &[("role", "frontend")], "10.244.250.23"),
                (labelled, "worker", &[("role", "worker")], "10.244.250.24"),
            ],
        ),
        grade::imagined(Some((plain, &[])), &[(plain, "frontend", &[("role", "frontend")], "10.244.250.25")]),
        grade::imagined_dns(),
    ]
    .concat();
    let cluster = grade::traffic_model(client, &plan.namespaces, &extra).await?;
    grade::starting_pods(&cluster, &plan.objects)?;
    let ports = grade::port_classes(&cluster);
    let backends: Vec<Endpoint> = grade::pods_of(&cluster, Some(backend_ns))
        .into_iter()
        .filter(|&p| cluster.pods[p.index()].labels.get("app").is_some_and(|v| v == "backend"))
        .map(Endpoint::Pod)
        .collect();
    let admitted = |from: Endpoint| match from {
        Endpoint::Pod(p) => {
            let pod = &cluster.pods[p.index()];
            let ns = &cluster.namespaces[pod.namespace.index()];
            pod.labels.get("role").is_some_and(|r| r == "frontend")
                && (everywhere || ns.labels.get(team_key).is_some_and(|t| t == team))
        }
        Endpoint::Ip(_) => false,
    };
    let want = |from: Endpoint, _: Endpoint, p: u16, protocol: Protocol| {
        admitted(from) && p == port && protocol == Protocol::Tcp
    };
    let mut checks = Vec::new();
    for source in grade::pods_of(&cluster, None) {
        let from = Endpoint::Pod(source);
        let pairs: Vec<(Endpoint, Endpoint)> = backends.iter().map(|&b| (from, b)).collect();
        let what = if admitted(from) {
            format!("reaches the app=backend pods on {port}/TCP and on no other port")
        } else {
            "reaches no app=backend pod on any port".to_string()
        };
        let check = format!("{} {what}", grade::endpoint(&cluster, from));
        checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &want));
    }
    let addresses = grade::address_classes(&cluster, Family::Both, &[]);
    let pairs: Vec<(Endpoint, Endpoint)> =
        addresses.iter().flat_map(|&a| backends.iter().map(move |&b| (Endpoint::Ip(a), b))).collect();
    let check = "no address outside the pods reaches an app=backend pod on any port".to_string();
    checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &want));
    Ok(checks)
}
