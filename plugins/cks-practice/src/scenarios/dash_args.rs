//! Scenario 6: A Dashboard Deployment started with `--enable-skip-login`, `--enable-insecure-login` and
//! `--insecure-port`, exposed by a NodePort Service: make it safe and keep it running. Graded on the
//! Deployment's pod template and on every Service that selects its pods.

use harden_cli::Result;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::grade::Check;
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, sh};
use crate::seed::Rng;

/// The Dashboard's image, before `--image`.
const IMAGE: &str = "kubernetesui/dashboard:v2.7.0";

/// The scenario, as `scenarios::ALL` registers it.
pub struct DashboardArgs;

const CARD: Card = Card {
    mock_exam: false,
    ..Card::new(
        "dashboard-args",
        "Dashboard: remove insecure arguments and the NodePort (outside the current curriculum: GUI left it \
         in 2024)",
        8,
        &[Need::Api],
    )
};

impl Scenario for DashboardArgs {
    fn card(&self) -> &'static Card {
        &CARD
    }

    fn plan(&self, ctx: &Context<'_>) -> Result<Plan> {
        Ok(plan(ctx))
    }

    fn pods_image(&self) -> Option<&'static str> {
        Some(IMAGE)
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
    let mut rng = Rng::new(ctx.seed, "dashboard-args");
    let mut plan = Plan::new(Id(&DashboardArgs), ctx);
    let ns = rng.namespace();
    let name = format!("dashboard-{}", rng.word());
    let insecure = rng.port(&[8443]);
    let node_port = 30000 + rng.below(2768) as u16;
    let labels = json!({"k8s-app": name});
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![
        crate::scenario::build::namespace(&ns, json!({})),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                   "name": "kubernetes-dashboard", "image": IMAGE,
                   "args": ["--auto-generate-certificates", format!("--namespace={ns}"), "--enable-skip-login",
                            "--enable-insecure-login", format!("--insecure-port={insecure}")],
                   "ports": [{"containerPort": 8443, "protocol": "TCP"}, {"containerPort": insecure, "protocol": "TCP"}]}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"type": "NodePort", "selector": labels,
                        "ports": [{"name": "https", "port": 443, "targetPort": 8443, "nodePort": node_port}]}}),
    ];
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("deployment", name.clone());
    plan.names.insert("service", name.clone());
    plan.task = format!(
        "The Kubernetes Dashboard runs as Deployment {name} in namespace {ns}, exposed by Service {name} on NodePort\n\
         {node_port}. Make it safe and keep it running (one replica or more):\n\
         - no login may be skipped, no login may happen over plain HTTP, and it must not serve plain HTTP on any port;\n\
         - it must not be reachable through the nodes' ports (a ClusterIP Service is fine)."
    );
    plan.read = vec![
        "https://github.com/kubernetes/dashboard/blob/master/docs/common/arguments.md",
        "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
    ];
    plan.skeleton = format!(
        "kubectl -n {ns} edit deployment {name}     # remove the three insecure arguments from args:\n\
         kubectl -n {ns} patch service {name} -p '{{\"spec\":{{\"type\":\"???\"}}}}'\n"
    );
    let nsq = sh(&ns);
    let args = format!("[\"--auto-generate-certificates\",\"--namespace={ns}\"]");
    plan.plugin_steps = vec![
        format!("kubectl dash-user audit -n {ns}    # names each insecure argument and the NodePort, with the fix"),
        format!(
            "kubectl -n {ns} patch deployment {name} --type=json -p '[{{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/args\",\"value\":{args}}}]'"
        ),
        format!("kubectl -n {ns} patch service {name} -p '{{\"spec\":{{\"type\":\"ClusterIP\"}}}}'"),
    ];
    plan.manual = format!(
        "kubectl -n {nsq} get deployment {name} -o jsonpath='{{.spec.template.spec.containers[0].args}}'; echo\n\
         kubectl -n {nsq} patch deployment {name} --type=json \\\n  -p '[{{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/args\",\"value\":{args}}}]'\n\
         kubectl -n {nsq} patch service {name} -p '{{\"spec\":{{\"type\":\"ClusterIP\"}}}}'\n\
         kubectl -n {nsq} get service {name}\n"
    );
    plan
}

/// `--flag`, `--flag=value` or `--flag value` in an argument list: the value (`""` when bare).
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let long = format!("--{name}");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == &long {
            Some(args.get(i + 1).filter(|v| !v.starts_with("--")).map_or("", |v| v.as_str()))
        } else {
            a.strip_prefix(&format!("{long}="))
        }
    })
}

fn on(value: Option<&str>) -> bool {
    matches!(value, Some("" | "true" | "True" | "1"))
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - an insecure argument left, in any spelling (`--flag`, `--flag=true`, `--flag value`), in
///   `args` or `command`;
/// - the arguments replaced by ones the Dashboard does not start with, or an image that does not
///   run: its pods of the current template are not Ready (not the spec's `replicas`);
/// - replicas set to 0, or the Deployment deleted;
/// - exposed again another way: `hostPort`, `hostNetwork`, a NodePort or LoadBalancer Service, a
///   Service with `externalIPs`.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = plan.names["namespace"].as_str();
    let name = plan.names["deployment"].as_str();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let deployment = deployments
        .get_opt(name)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("reading deployment {ns}/{name}")))?;
    let running = format!("Deployment {name} still runs the Dashboard: a pod of its current template is Ready");
    let Some(deployment) = deployment else {
        return Ok(vec![Check::new(
            running,
            false,
            format!("Deployment {ns}/{name} was deleted: fix it, do not remove it"),
        )]);
    };
    let spec = deployment.spec.clone();
    let mut checks = vec![ready(client, ns, &deployment, running).await?];
    let pod_spec = spec.template.spec.clone().unwrap_or_default();
    let containers = pod_spec.containers.clone();
    let mut args: Vec<String> = Vec::new();
    for c in &containers {
        args.extend(c.command.clone().unwrap_or_default());
        args.extend(c.args.clone().unwrap_or_default());
    }
    let skip = flag(&args, "enable-skip-login");
    checks.push(Check::new(
        "the login cannot be skipped",
        !on(skip),
        match skip {
            Some(v) if on(Some(v)) => "the container still has --enable-skip-login".to_string(),
            Some(v) => format!("--enable-skip-login={v}"),
            None => "no --enable-skip-login".to_string(),
        },
    ));
    let login = flag(&args, "enable-insecure-login");
    checks.push(Check::new(
        "no login over plain HTTP",
        !on(login),
        if on(login) {
            "the container still has --enable-insecure-login".into()
        } else {
            "no --enable-insecure-login".to_string()
        },
    ));
    let port = flag(&args, "insecure-port");
    let plain = port.is_some_and(|p| p != "0");
    checks.push(Check::new(
        "no plain-HTTP port",
        !plain,
        match port {
            Some(p) if plain => format!("the container still has --insecure-port={p}"),
            Some(_) => "--insecure-port=0 (off)".to_string(),
            None => "no --insecure-port".to_string(),
        },
    ));
    let mut host: Vec<String> = Vec::new();
    if pod_spec.host_network == Some(true) {
        host.push("hostNetwork: true".into());
    }
    for c in containers.iter().chain(pod_spec.init_containers.iter().flatten()) {
        for p in c.ports.iter().flatten() {
            if let Some(host_port) = p.host_port.filter(|&h| h != 0) {
                host.push(format!("container {} has hostPort {host_port} (to {})", c.name, p.container_port));
            }
        }
    }
    checks.push(Check::new(
        "the Dashboard's pods take no port of the node (no hostPort, no hostNetwork)",
        host.is_empty(),
        if host.is_empty() {
            "no hostPort and no hostNetwork in the pod template".to_string()
        } else {
            host.join("; ")
        },
    ));
    let labels = spec.template.metadata.and_then(|m| m.labels).unwrap_or_default();
    let services: Vec<Service> =
        harden_kube::list::list_all(&Api::namespaced(client.clone(), ns), &ListParams::default(), "services").await?;
    let exposed: Vec<String> = services
        .iter()
        .filter_map(|s| {
            let spec = s.spec.clone().unwrap_or_default();
            let selects = spec
                .selector
                .as_ref()
                .is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)));
            let name = s.metadata.name.clone().unwrap_or_default();
            let kind = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
            let external = spec.external_ips.clone().unwrap_or_default();
            if !selects {
                None
            } else if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
                Some(format!("{name} ({kind})"))
            } else if !external.is_empty() {
                Some(format!("{name} (externalIPs {})", external.join(", ")))
            } else {
                None
            }
        })
        .collect();
    checks.push(Check::new(
        "no Service exposes the Dashboard outside the cluster (NodePort, LoadBalancer, externalIPs)",
        exposed.is_empty(),
        if exposed.is_empty() {
            "every Service selecting its pods is ClusterIP, without externalIPs".to_string()
        } else {
            format!("still exposed by {}", exposed.join(", "))
        },
    ));
    Ok(checks)
}

/// Whether a pod of the Deployment's current template is Ready: its current ReplicaSet (the
/// revision the Deployment names) has a ready replica. Old pods still serving during a rollout
/// that never finishes do not count; why the new ones are not Ready is named.
async fn ready(client: &kube::Client, ns: &str, deployment: &Deployment, check: String) -> Result<Check> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let replicas = deployment.spec.replicas.unwrap_or(1);
    if replicas < 1 {
        return Ok(Check::new(check, false, format!("spec.replicas is {replicas}")));
    }
    let status = deployment.status.clone().unwrap_or_default();
    if status.observed_generation.unwrap_or(0) < deployment.metadata.generation.unwrap_or(0) {
        return Ok(Check::new(
            check,
            false,
            "the Deployment controller has not acted on the latest change yet: check again in a moment",
        ));
    }
    let revision_key = "deployment.kubernetes.io/revision";
    let revision = deployment.metadata.annotations.as_ref().and_then(|a| a.get(revision_key)).cloned();
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let sets: Vec<ReplicaSet> =
        harden_kube::list::list_all(&Api::namespaced(client.clone(), ns), &ListParams::default(), "replicasets")
            .await?;
    let current = sets.into_iter().find(|rs| {
        rs.metadata.owner_references.iter().flatten().any(|o| o.uid == uid)
            && revision.is_some()
            && rs.metadata.annotations.as_ref().and_then(|a| a.get(revision_key)) == revision.as_ref()
    });
    let Some(current) = current else {
        return Ok(Check::new(
            check,
            false,
            format!(
                "Deployment {name} has no ReplicaSet of its current template yet (no Deployment controller ran it)"
            ),
        ));
    };
    let ready = current.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    let set = current.metadata.name.clone().unwrap_or_default();
    if ready >= 1 {
        return Ok(Check::new(check, true, format!("{ready} pod(s) of ReplicaSet {set} (the current template) Ready")));
    }
    let hash = current.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash")).cloned().unwrap_or_default();
    let pods: Vec<Pod> = harden_kube::list::list_all(
        &Api::namespaced(client.clone(), ns),
        &ListParams::default().labels(&format!("pod-template-hash={hash}")),
        "pods",
    )
    .await?;
    let why: Vec<String> = pods.iter().filter_map(not_ready_reason).collect();
    let why = if why.is_empty() {
        format!("no pod of ReplicaSet {set} (the current template) is Ready yet: check again in a moment")
    } else {
        format!("no pod of ReplicaSet {set} (the current template) is Ready: {}", why.join("; "))
    };
    Ok(Check::new(check, false, why))
}

/// Why a pod is not Ready, from its containers' states: `CrashLoopBackOff (exit 1: ...)`.
fn not_ready_reason(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.as_ref()?;
    let mut reasons = Vec::new();
    for c in status.container_statuses.iter().flatten() {
        if let Some(waiting) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let mut reason = waiting.reason.clone().unwrap_or_else(|| "waiting".into());
            if let Some(last) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
                reason.push_str(&format!(" (last exit {}", last.exit_code));
                if let Some(message) = last.message.as_deref().filter(|m| !m.is_empty()) {
                    reason.push_str(&format!(": {}", message.trim()));
                }
                reason.push(')');
            }
            reasons.push(format!("{}: {reason}", c.name));
        } else if let Some(terminated) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            reasons.push(format!("{}: terminated (exit {})", c.name, terminated.exit_code));
        } else if !c.ready {
            reasons.push(format!("{}: running, not Ready", c.name));
        }
    }
    if reasons.is_empty() {
        reasons.push(status.phase.clone().unwrap_or_else(|| "Pending".into()));
    }
    Some(format!("pod {name}: {}", reasons.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_in_every_spelling() {
        let args: Vec<String> = ["--enable-skip-login", "--insecure-port", "9090", "--enable-insecure-login=false"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(on(flag(&args, "enable-skip-login")));
        assert_eq!(flag(&args, "insecure-port"), Some("9090"));
        assert!(!on(flag(&args, "enable-insecure-login")));
        assert_eq!(flag(&args, "namespace"), None);
    }
}
