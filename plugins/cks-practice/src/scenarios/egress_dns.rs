//! Scenario 9: egress default-deny with a DNS exception. Every pod of a namespace, including pods
//! created later, sends nothing but DNS (UDP and TCP 53) to the cluster DNS pods; ingress is left
//! alone.

use harden_cli::Result;
use netpol::{Endpoint, Protocol};
use serde_json::json;

use crate::grade::{self, Check, Family};
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build};
use crate::seed::Rng;

/// The scenario, as `scenarios::ALL` registers it.
pub struct EgressDns;

const CARD: Card =
    Card::new("egress-dns", "NetworkPolicy: default-deny egress, except DNS to the cluster DNS pods", 8, &[Need::Api]);

impl Scenario for EgressDns {
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
    let mut rng = Rng::new(ctx.seed, "egress-dns");
    let mut plan = Plan::new(Id(&EgressDns), ctx);
    let ns = rng.namespace();
    let app = rng.word();
    let job = rng.fresh_word(&[app]);
    let (app_port, job_port) = (rng.port(&[53]), rng.port(&[53]));
    let policy = format!("egress-dns-{}", rng.word());
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![
        build::namespace(&ns, json!({})),
        build::pod(&ns, app, json!({"app": app}), app_port),
        build::pod(&ns, job, json!({"app": job, "tier": "batch"}), job_port),
    ];
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("networkpolicy", policy.clone());
    plan.task = format!(
        "Namespace {ns} runs pods {app} and {job}.\n\
         Create a NetworkPolicy named {policy} in namespace {ns} that denies all egress traffic from every pod of the\n\
         namespace, including pods created later, except DNS: UDP and TCP port 53 to the cluster DNS pods (label\n\
         k8s-app=kube-dns in namespace kube-system) and nowhere else. Ingress traffic must not be restricted."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-egress-traffic",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors",
    ];
    plan.skeleton = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  namespace: {ns}\nspec:\n  \
         podSelector: {{}}\n  policyTypes: [???]\n  egress:\n  - to:\n    - namespaceSelector: ???   # kube-system\n      \
         podSelector: ???         # the DNS pods (one peer: both must match)\n    ports: ???               # 53, both protocols\n"
    );
    plan.plugin_steps = vec![format!("kubectl netpol-deny apply -n {ns} --egress --allow-dns --name {policy}")];
    plan.manual = format!(
        "kubectl apply -f - <<'EOF'\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {policy}\n  \
         namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes:\n  - Egress\n  egress:\n  - to:\n    - namespaceSelector:\n        \
         matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      podSelector:\n        matchLabels:\n          \
         k8s-app: kube-dns\n    ports:\n    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\nEOF\n"
    );
    plan.verify = [
        "# pod to pod: NO ANSWER (egress denied)\n".to_string(),
        build::try_http((&ns, app), (&ns, job), job_port),
        format!(
            "# DNS: the name resolves\nkubectl -n {ns} exec {app} -- nslookup kubernetes.default.svc.cluster.local >/dev/null 2>&1 \\\n  \
             && echo \"{ns}/{app} DNS RESOLVES\" || echo \"{ns}/{app} DNS FAILS\"\n"
        ),
    ]
    .concat();
    plan
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - no policy, or one that selects only some pods: a pod, or a pod created later, sends anywhere;
/// - DNS on UDP only (TCP 53 forgotten): DNS over TCP is denied;
/// - port 53 to everywhere (no `to`), or to every pod of kube-system, or to pods labelled
///   k8s-app=kube-dns in any namespace (`namespaceSelector: {}`), or the two selectors as two peers
///   (the OR trap): 53 reaches more than the cluster DNS;
/// - `ports` left out (all ports to the DNS pods), or another rule opening more: more than DNS goes out;
/// - `policyTypes: [Ingress, Egress]` or an ingress rule: ingress is restricted.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = &plan.namespaces[0];
    let elsewhere = "namespace-created-later";
    let extra = [
        grade::imagined(None, &[(ns, "pod-created-later", &[("cks-practice-probe", "later")], "10.244.250.91")]),
        grade::imagined_dns(),
        grade::imagined(None, &[("kube-system", "other-system-pod", &[("app", "metrics")], "10.244.250.92")]),
        grade::imagined(
            Some((elsewhere, &[])),
            &[(elsewhere, "lookalike-dns", &[("k8s-app", "kube-dns")], "10.244.250.93")],
        ),
    ]
    .concat();
    let cluster = grade::traffic_model(client, &plan.namespaces, &extra).await?;
    grade::starting_pods(&cluster, &plan.objects)?;
    let ports = grade::port_classes(&cluster);
    let addresses: Vec<Endpoint> =
        grade::address_classes(&cluster, Family::Both, &[]).into_iter().map(Endpoint::Ip).collect();
    let all = grade::pods_of(&cluster, None);
    let mine = grade::pods_of(&cluster, Some(ns));
    let dns: Vec<Endpoint> =
        all.iter().filter(|&&p| cluster.pods[p.index()].name == grade::DNS_POD.1).map(|&p| Endpoint::Pod(p)).collect();
    let reachable: Vec<Endpoint> =
        all.iter().filter(|&&p| grade::has_address(&cluster, p)).map(|&p| Endpoint::Pod(p)).collect();
    let mut checks = Vec::new();
    for &from in &mine {
        let from = Endpoint::Pod(from);
        let mut pairs: Vec<(Endpoint, Endpoint)> = addresses.iter().map(|&a| (from, a)).collect();
        pairs.extend(reachable.iter().map(|&p| (from, p)));
        let check = format!(
            "{} sends only DNS (UDP and TCP 53) to the cluster DNS pods, nothing to any other pod, address or port",
            grade::endpoint(&cluster, from)
        );
        let want = |_: Endpoint, to: Endpoint, port: u16, protocol: Protocol| {
            dns.contains(&to) && port == 53 && matches!(protocol, Protocol::Udp | Protocol::Tcp)
        };
        checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &want));
    }
    for &to in &mine {
        let to = Endpoint::Pod(to);
        let mut pairs: Vec<(Endpoint, Endpoint)> = addresses.iter().map(|&a| (a, to)).collect();
        pairs.extend(all.iter().filter(|p| !mine.contains(p)).map(|&p| (Endpoint::Pod(p), to)));
        let check = format!(
            "ingress stays open: {} takes traffic from every address and the pods of other namespaces, on any port",
            grade::endpoint(&cluster, to)
        );
        checks.push(grade::behaviour(&cluster, &ports, check, &pairs, &|_, _, _, _| true));
    }
    Ok(checks)
}
