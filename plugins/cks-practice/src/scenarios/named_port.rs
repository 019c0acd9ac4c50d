//! Scenario 11: ingress on a named port from labelled namespaces only. The pods to protect have two
//! containers, each serving on a port of its own; the task names the port by the name the pod spec
//! gives it, and the clients by a namespace label that several namespaces carry (and one labelled
//! later will). Graded with the engine over every port, protocol and source, the namespace labelled
//! later and a pod created later among them.

use harden_cli::Result;
use netpol::{Endpoint, Protocol};
use serde_json::{Value, json};

use crate::grade::{self, Check, Family};
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build};
use crate::seed::Rng;

/// A pod of two containers, each serving HTTP (busybox's httpd) on a named port of its own.
fn two_port_pod(
    namespace: &str,
    name: &str,
    labels: Value,
    (web, web_port): (&str, u16),
    (admin, admin_port): (&str, u16),
) -> Value {
    let serve = |port: u16| {
        format!("mkdir -p /tmp/www && echo {name} > /tmp/www/index.html && exec httpd -f -p {port} -h /tmp/www")
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "app", "image": harden_cli::images::BUSYBOX, "command": ["sh", "-c", serve(web_port)],
             "ports": [{"name": web, "containerPort": web_port, "protocol": "TCP"}]},
            {"name": "admin", "image": harden_cli::images::BUSYBOX, "command": ["sh", "-c", serve(admin_port)],
             "ports": [{"name": admin, "containerPort": admin_port, "protocol": "TCP"}]}
        ]}
    })
}

/// The scenario, as `scenarios::ALL` registers it.
pub struct NamedPort;

const CARD: Card = Card::new(
    "named-port",
    "NetworkPolicy: ingress on a named port from the pods of labelled namespaces only",
    10,
    &[Need::Api],
);

impl Scenario for NamedPort {
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
    let mut rng = Rng::new(ctx.seed, "named-port");
    let mut plan = Plan::new(Id(&NamedPort), ctx);
    let mut names: Vec<String> = Vec::new();
    while names.len() < 4 {
        let ns = rng.namespace();
        if !names.contains(&ns) {
            names.push(ns);
        }
    }
    let (api_ns, client_a, client_b, other_ns) = (&names[0], &names[1], &names[2], &names[3]);
    let team = rng.word();
    let other_team = rng.fresh_word(&[team]);
    let app = rng.fresh_word(&[team, other_team]);
    let web = format!("{}-api", rng.word());
    let admin = "admin".to_string();
    let web_port = rng.port(&[]);
    let admin_port = rng.port(&[web_port]);
    let policy = format!("{app}-ingress");
    plan.namespaces = names.clone();
    plan.objects = vec![
        build::namespace(api_ns, json!({})),
        build::namespace(client_a, json!({"team": team})),
        build::namespace(client_b, json!({"team": team})),
        build::namespace(other_ns, json!({"team": other_team})),
        two_port_pod(api_ns, app, json!({"app": app}), (&web, web_port), (&admin, admin_port)),
        // A client of the app's own namespace, which carries no label: let in only by the OR trap.
        build::pod(api_ns, "neighbour", json!({"app": "neighbour", "role": "client"}), 8080),
        build::pod(client_a, "client", json!({"role": "client"}), 8080),
        build::pod(client_a, "batch", json!({"role": "batch"}), 8080),
        build::pod(client_b, "client", json!({"role": "client"}), 8080),
        build::pod(other_ns, "client", json!({"role": "client"}), 8080),
    ];
    plan.names.insert("namespace", api_ns.clone());
    plan.names.insert("networkpolicy", policy.clone());
    plan.names.insert("namespaceLabel", format!("team={team}"));
    plan.names.insert("app", app.to_string());
    plan.names.insert("portName", web.clone());
    plan.names.insert("port", web_port.to_string());
    plan.names.insert("adminPort", admin_port.to_string());
    plan.task = format!(
        "In namespace {api_ns}, pods labelled app={app} serve on the container port named {web} (see the pod spec).\n\
         Create a NetworkPolicy named {policy} in namespace {api_ns} so that only pods labelled role=client in\n\
         namespaces labelled team={team} (today {client_a} and {client_b}, and any namespace labelled so later) can reach\n\
         the app={app} pods, and only on the port named {web}. Every other pod, namespace and address must be denied\n\
         ingress to the app={app} pods, on every port."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicyport (port: a number or a name)",
    ];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {api_ns}\nspec:\n  \
         podSelector: {{matchLabels: {{app: {app}}}}}\n  policyTypes: [Ingress]\n  ingress:\n  - from:\n    \
         - namespaceSelector: ???   # the task's label, not the names\n      podSelector: ???         # the same peer: both must match\n    \
         ports:\n    - {{protocol: TCP, port: ???}}   # the port's name\n"
    );
    plan.plugin_steps = vec![format!(
        "kubectl netpol-deny allow -n {api_ns} --name {policy} --to app={app} --from-namespace team={team} \
         --from-pod role=client --port {web}"
    )];
    plan.manual = format!(
        "kubectl -n {api_ns} get pod {app} -o jsonpath='{{range .spec.containers[*].ports[*]}}{{.name}}={{.containerPort}} {{end}}'; echo\n\
         kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {api_ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: {app}\n  policyTypes:\n  - Ingress\n  \
         ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          team: {team}\n      podSelector:\n        \
         matchLabels:\n          role: client\n    ports:\n    - protocol: TCP\n      port: {web}\nEOF\n"
    );
    plan.verify = [
        format!("# the labelled namespaces' clients on {web} ({web_port}): REACHED\n"),
        build::try_http((client_a, "client"), (api_ns, app), web_port),
        build::try_http((client_b, "client"), (api_ns, app), web_port),
        format!("# the admin port ({admin_port}), the batch pod, the other team's client, the neighbour: NO ANSWER\n"),
        build::try_http((client_a, "client"), (api_ns, app), admin_port),
        build::try_http((client_a, "batch"), (api_ns, app), web_port),
        build::try_http((other_ns, "client"), (api_ns, app), web_port),
        build::try_http((api_ns, "neighbour"), (api_ns, app), web_port),
    ]
    .concat();
    plan
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - the port by the number of another container (the admin port), or both ports: the admin port
///   is open or the named port is closed;
/// - the namespaces by name (`kubernetes.io/metadata.name In [...]`): a namespace labelled later is
///   not let in;
/// - the OR trap (`namespaceSelector` and `podSelector` as two peers): the labelled namespaces'
///   other pods, or role=client pods of every namespace, get in;
/// - all ports opened (no `ports`), or a range, or UDP: another port or protocol is open;
/// - an ipBlock peer, or a `podSelector` missing the app pods: addresses or other pods get in.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let api_ns = &plan.namespaces[0];
    let app = plan.names["app"].as_str();
    let web = plan.names["portName"].as_str();
    let web_port: u16 = plan.names["port"].parse().unwrap_or(0);
    let admin_port: u16 = plan.names["adminPort"].parse().unwrap_or(0);
    let (team_key, team) = plan.names["namespaceLabel"].split_once('=').unwrap_or(("team", ""));
    let (labelled, plain) = ("namespace-labelled-later", "namespace-created-later");
    // A pod created later, as the app's pods: its ports have the same names.
    let later = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {app}-created-later, namespace: {api_ns}, labels: {{app: {app}}}}}\n\
         spec: {{containers: [{{name: app, image: x, ports: [{{name: {web}, containerPort: {web_port}}}]}}, \
         {{name: admin, image: x, ports: [{{name: admin, containerPort: {admin_port}}}]}}]}}\n\
         status: {{phase: Running, podIP: 10.244.250.111}}\n---\n"
    );
    let extra = [
        later,
        grade::imagined(
            Some((labelled, &[(team_key, team)])),
            &[
                (labelled, "client", &[("role", "client")], "10.244.250.112"),
                (labelled, "batch", &[("role", "batch")], "10.244.250.113"),
            ],
        ),
        grade::imagined(Some((plain, &[])), &[(plain, "client", &[("role", "client")], "10.244.250.114")]),
        grade::imagined_dns(),
    ]
    .concat();
    let cluster = grade::traffic_model(client, &plan.namespaces, &extra).await?;
    grade::starting_pods(&cluster, &plan.objects)?;
    let ports = grade::port_classes(&cluster);
    let targets: Vec<Endpoint> = grade::pods_of(&cluster, Some(api_ns))
        .into_iter()
        .filter(|&p| cluster.pods[p.index()].labels.get("app").is_some_and(|v| v == app))
        .map(Endpoint::Pod)
        .collect();
    let admitted = |from: Endpoint| match from {
        Endpoint::Pod(p) => {
            let pod = &cluster.pods[p.index()];
            let ns = &cluster.namespaces[pod.namespace.index()];
            pod.labels.get("role").is_some_and(|r| r == "client") && ns.labels.get(team_key).is_some_and(|t| t == team)
        }
        Endpoint::Ip(_) => false,
    };
    let want = |from: Endpoint, _: Endpoint, p: u16, protocol: Protocol| {
        admitted(from) && p == web_port && protocol == Protocol::Tcp
    };
    let mut checks = Vec::new();
    for source in grade::pods_of(&cluster, None) {
        let from = Endpoint::Pod(source);
        let pairs: Vec<(Endpoint, Endpoint)> = targets.iter().map(|&t| (from, t)).collect();
        let what = if admitted(from) {
            format!("reaches the app={app} pods on the port named {web} ({web_port}/TCP) and on no other port")
        } else {
            format!("reaches no app={app} pod on any port")
        };
        let check = format!("{} {what}", grade::endpoint(&cluster, from));
        checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &want));
    }
    let addresses = grade::address_classes(&cluster, Family::Both, &[]);
    let pairs: Vec<(Endpoint, Endpoint)> =
        addresses.iter().flat_map(|&a| targets.iter().map(move |&t| (Endpoint::Ip(a), t))).collect();
    let check = format!("no address outside the pods reaches an app={app} pod on any port");
    checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &want));
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_port_is_named_in_the_pod_and_two_namespaces_carry_the_label() {
        let plan = plan(&Context { seed: 3, dir: Path::new("/tmp/x"), bench: None, variant: None });
        let web = &plan.names["portName"];
        assert!(apimachinery::validation::is_port_name(web), "{web}");
        let pod = plan.objects.iter().find(|o| o["metadata"]["name"] == plan.names["app"].as_str()).unwrap();
        let ports = &pod["spec"]["containers"];
        assert_eq!(ports[0]["ports"][0]["name"], web.as_str());
        assert_ne!(ports[0]["ports"][0]["containerPort"], ports[1]["ports"][0]["containerPort"]);
        let label = plan.names["namespaceLabel"].split_once('=').unwrap().1.to_string();
        let labelled = plan
            .objects
            .iter()
            .filter(|o| o["kind"] == "Namespace" && o["metadata"]["labels"]["team"] == label.as_str());
        assert_eq!(labelled.count(), 2);
        assert!(plan.manual.contains(&format!("port: {web}")), "{}", plan.manual);
        assert!(plan.plugin_steps[0].contains(&format!("--port {web}")), "{:?}", plan.plugin_steps);
    }
}
