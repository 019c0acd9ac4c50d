//! Scenario 6: A Dashboard Deployment started with `--enable-skip-login`, `--enable-insecure-login` and
//! `--insecure-port`, exposed by a NodePort Service: make it safe and keep it running. Graded on the
//! Deployment's pod template and on every Service that selects its pods.

use harden_cli::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::grade::Check;
use crate::scenario::{Context, Id, Plan, sh};
use crate::seed::Rng;

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "dashboard-args");
    let mut plan = Plan::new(Id::DashboardArgs, ctx);
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
                   "name": "kubernetes-dashboard", "image": "kubernetesui/dashboard:v2.7.0",
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

pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = plan.names["namespace"].as_str();
    let name = plan.names["deployment"].as_str();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let deployment = deployments
        .get_opt(name)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("reading deployment {ns}/{name}")))?;
    let running = format!("Deployment {name} still runs the Dashboard (replicas >= 1)");
    let Some(deployment) = deployment else {
        return Ok(vec![Check::new(
            running,
            false,
            format!("Deployment {ns}/{name} was deleted: fix it, do not remove it"),
        )]);
    };
    let spec = deployment.spec.clone();
    let replicas = spec.replicas.unwrap_or(1);
    let mut checks = vec![Check::new(running, replicas >= 1, format!("spec.replicas is {replicas}"))];
    let containers = spec.template.spec.clone().unwrap_or_default().containers;
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
    let labels = spec.template.metadata.and_then(|m| m.labels).unwrap_or_default();
    let services: Vec<Service> = Api::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("listing services in {ns}")))?
        .items;
    let exposed: Vec<String> = services
        .iter()
        .filter(|s| {
            let spec = s.spec.clone().unwrap_or_default();
            let selects = spec
                .selector
                .as_ref()
                .is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)));
            selects && matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"))
        })
        .map(|s| {
            format!(
                "{} ({})",
                s.metadata.name.clone().unwrap_or_default(),
                s.spec.clone().unwrap_or_default().type_.unwrap_or_default()
            )
        })
        .collect();
    checks.push(Check::new(
        "no Service exposes the Dashboard on the nodes' ports",
        exposed.is_empty(),
        if exposed.is_empty() {
            "every Service selecting its pods is ClusterIP".to_string()
        } else {
            format!("still exposed by {}", exposed.join(", "))
        },
    ));
    Ok(checks)
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
