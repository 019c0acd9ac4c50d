//! Scenario 1: Default-deny in a namespace (the seed's g04), in the two forms the exam asks it: variant
//! `ingress`, every pod of the namespace, including pods created later, takes no ingress from anywhere
//! and egress is left alone; variant `egress`, the other way round (no egress at all, DNS included;
//! ingress left alone).

use harden_cli::Result;
use netpol::Endpoint;
use serde_json::json;

use crate::grade::{self, Check, Family};
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build, sh};
use crate::seed::Rng;

/// The variants: which direction the task denies (the other one must stay open).
pub const VARIANTS: [&str; 2] = ["ingress", "egress"];

/// Whether the plan is the egress variant.
fn egress(plan: &Plan) -> bool {
    plan.variant == Some("egress")
}

/// The scenario, as `scenarios::ALL` registers it.
pub struct DefaultDeny;

const CARD: Card = Card {
    variants: &VARIANTS,
    ..Card::new("default-deny", "NetworkPolicy: default-deny ingress or egress in a namespace", 6, &[Need::Api])
};

impl Scenario for DefaultDeny {
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
    let mut rng = Rng::new(ctx.seed, "default-deny");
    let mut plan = Plan::new(Id(&DefaultDeny), ctx);
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
    let (denied, open, direction, of) =
        if egress(&plan) { ("egress", "Ingress", "Egress", "from") } else { ("ingress", "Egress", "Ingress", "to") };
    plan.names.insert("variant", denied.to_string());
    let also = if egress(&plan) { ", DNS included" } else { "" };
    plan.task = format!(
        "Namespace {ns} runs pods web-{web} and api-{api}.\n\
         Create a NetworkPolicy named {policy} in namespace {ns} that denies all {denied} traffic{also} {of} every pod in\n\
         the namespace, including pods created later. {open} traffic must not be restricted."
    );
    plan.read = vec![if egress(&plan) {
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-egress-traffic"
    } else {
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic"
    }];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {ns}\nspec:\n  \
         podSelector: ???      # which pods: all of them\n  policyTypes: [???]    # only the direction the task names\n"
    );
    plan.plugin_steps = vec![format!("kubectl netpol-deny apply -n {ns} --{denied} --name {policy}")];
    plan.manual = format!(
        "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes:\n  - {direction}\nEOF\n\
         kubectl -n {} get networkpolicy {policy} -o yaml\n",
        sh(&ns)
    );
    let (web_pod, api_pod) = (format!("web-{web}"), format!("api-{api}"));
    plan.verify = if egress(&plan) {
        [
            "# from the namespace's pods to another namespace and to each other: NO ANSWER (egress denied)\n"
                .to_string(),
            build::try_http((&ns, &web_pod), (&client_ns, "client"), 8080),
            build::try_http((&ns, &web_pod), (&ns, &api_pod), api_port),
            "# ingress untouched, from another namespace: REACHED\n".to_string(),
            build::try_http((&client_ns, "client"), (&ns, &web_pod), web_port),
            build::try_http((&client_ns, "client"), (&ns, &api_pod), api_port),
        ]
        .concat()
    } else {
        [
            "# from another namespace: NO ANSWER to both (ingress denied)\n".to_string(),
            build::try_http((&client_ns, "client"), (&ns, &web_pod), web_port),
            build::try_http((&client_ns, "client"), (&ns, &api_pod), api_port),
            "# from the namespace's own pod: NO ANSWER (ingress denied)\n".to_string(),
            build::try_http((&ns, &web_pod), (&ns, &api_pod), api_port),
            "# egress untouched: REACHED\n".to_string(),
            build::try_http((&ns, &web_pod), (&client_ns, "client"), 8080),
        ]
        .concat()
    };
    plan
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - no policy, or one that selects only some pods (`podSelector: {matchLabels: ...}`): a pod, or a pod
///   created later, takes ingress;
/// - a policy with an ingress rule (`ingress: [{}]`, a `from` that lets some pods or addresses in, a rule
///   opening some ports): some pod, address or port gets in;
/// - a policy that also isolates egress (`policyTypes: [Ingress, Egress]`), or that restricts egress to
///   one address and port (DNS only): some address, pod or port is no longer reachable;
/// - an egress rule limited to IPv4 (`ipBlock: 0.0.0.0/0`): IPv6 egress is restricted.
///
/// Variant `egress`, the same the other way round:
/// - the ingress answer (`policyTypes: [Ingress]`): egress is open, and ingress is denied;
/// - both directions (`policyTypes: [Ingress, Egress]`): ingress is denied;
/// - an egress exception for DNS (`ports: [{port: 53}]`) or for some pods or addresses: they are
///   reached;
/// - a policy that selects only some pods: a pod, or a pod created later, has egress.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = &plan.namespaces[0];
    let elsewhere = "namespace-created-later";
    let extra = [
        grade::imagined(None, &[(ns, "pod-created-later", &[("cks-practice-probe", "later")], "10.244.250.11")]),
        grade::imagined(Some((elsewhere, &[])), &[(elsewhere, "any-pod", &[], "10.244.250.12")]),
        grade::imagined_dns(),
    ]
    .concat();
    let cluster = grade::traffic_model(client, &plan.namespaces, &extra).await?;
    grade::starting_pods(&cluster, &plan.objects)?;
    let ports = grade::port_classes(&cluster);
    let addresses: Vec<Endpoint> =
        grade::address_classes(&cluster, Family::Both, &[]).into_iter().map(Endpoint::Ip).collect();
    let all = grade::pods_of(&cluster, None);
    let mine = grade::pods_of(&cluster, Some(ns));
    if egress(plan) {
        return Ok(check_egress(&cluster, &ports, &addresses, &all, &mine));
    }
    let mut checks = Vec::new();
    for &to in &mine {
        let to = Endpoint::Pod(to);
        let mut pairs: Vec<(Endpoint, Endpoint)> = all.iter().map(|&p| (Endpoint::Pod(p), to)).collect();
        pairs.extend(addresses.iter().map(|&a| (a, to)));
        let check = format!(
            "no ingress reaches {} (from any pod of any namespace or any address, on any port)",
            grade::endpoint(&cluster, to)
        );
        checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &|_, _, _, _| false));
    }
    let others: Vec<Endpoint> = all
        .iter()
        .filter(|&&p| !mine.contains(&p) && grade::has_address(&cluster, p))
        .map(|&p| Endpoint::Pod(p))
        .collect();
    for &from in &mine {
        let from = Endpoint::Pod(from);
        let mut pairs: Vec<(Endpoint, Endpoint)> = addresses.iter().map(|&a| (from, a)).collect();
        pairs.extend(others.iter().map(|&o| (from, o)));
        let check = format!(
            "egress stays open: {} reaches every IPv4 and IPv6 address, pods of other namespaces and DNS, on any port",
            grade::endpoint(&cluster, from)
        );
        checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &|_, _, _, _| true));
    }
    Ok(checks)
}

/// Variant `egress`: no egress from the namespace's pods to anything (pods of any namespace, DNS,
/// any address, any port); ingress to them from everywhere else stays open.
fn check_egress(
    cluster: &netpol::Cluster,
    ports: &[(u16, netpol::Protocol)],
    addresses: &[Endpoint],
    all: &[netpol::PodId],
    mine: &[netpol::PodId],
) -> Vec<Check> {
    let reachable: Vec<Endpoint> =
        all.iter().filter(|&&p| grade::has_address(cluster, p)).map(|&p| Endpoint::Pod(p)).collect();
    let outside: Vec<Endpoint> = all.iter().filter(|&&p| !mine.contains(&p)).map(|&p| Endpoint::Pod(p)).collect();
    let mut checks = Vec::new();
    for &from in mine {
        let from = Endpoint::Pod(from);
        let mut pairs: Vec<(Endpoint, Endpoint)> = addresses.iter().map(|&a| (from, a)).collect();
        pairs.extend(reachable.iter().map(|&to| (from, to)));
        let check = format!(
            "no egress leaves {} (to any pod of any namespace, DNS or any address, on any port)",
            grade::endpoint(cluster, from)
        );
        checks.push(grade::behaviour(cluster, ports, check, &pairs, &|_, _, _, _| false));
    }
    for &to in mine {
        let to = Endpoint::Pod(to);
        let mut pairs: Vec<(Endpoint, Endpoint)> = outside.iter().map(|&p| (p, to)).collect();
        pairs.extend(addresses.iter().map(|&a| (a, to)));
        let check = format!(
            "ingress stays open: {} is reached from every pod of other namespaces and every IPv4 and IPv6 address, \
             on any port",
            grade::endpoint(cluster, to)
        );
        checks.push(grade::behaviour(cluster, ports, check, &pairs, &|_, _, _, _| true));
    }
    checks
}
