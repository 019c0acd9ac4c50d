//! `doctor`: is NetworkPolicy enforced here at all? Many clusters silently do not enforce it
//! (flannel alone, some k3s and kindnet set-ups), and then every "denied" of the engine is wide
//! open. The doctor creates a canary in a namespace of its own (a server pod, a client pod),
//! connects before and after a default-deny ingress policy, and removes the namespace, whatever
//! happened.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_cli::output::{eline, line};
use harden_cli::progress::Spinner;
use harden_kube::MANAGED_BY_LABEL;
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::core::v1::{Container, Namespace, Node, Pod, PodSpec};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

use crate::PLUGIN;
use harden_kube::probe::{Observed, attempt};

const DOCTOR_EXAMPLES: &str = "Examples:\n  \
    kubectl netpol-deny doctor\n  \
    # where images come from a mirror\n  \
    kubectl netpol-deny doctor --image registry.example.com/library/busybox:1.36\n\n\
    It creates namespace netpol-doctor-XXXXX (two busybox pods and a default-deny ingress policy), which it\n\
    deletes at the end; the pods also stop on their own after 10 minutes. Exit 0 enforced, 1 NOT enforced,\n\
    2 error or inconclusive.";

#[derive(Args)]
#[command(after_help = DOCTOR_EXAMPLES)]
pub struct DoctorCmd {
    /// The canary's image: needs sh, nc and httpd (busybox has them).
    #[arg(long, value_name = "IMAGE", default_value = "busybox:1.36")]
    image: String,
    /// How long to wait for the canary's pods to run, e.g. 2m.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = harden_cli::duration::parse_wait)]
    timeout: Duration,
    /// How long the policy may take to be enforced after it is created (enforcers sync on events).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = harden_cli::duration::parse_wait)]
    settle: Duration,
    #[command(flatten)]
    pub kube: KubeArgs,
}

const PORT: u16 = 8080;

fn canary_pod(namespace: &str, name: &str, image: &str, command: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.to_string(), PLUGIN.to_string()),
                ("netpol-doctor".to_string(), name.to_string()),
            ])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "canary".into(),
                image: Some(image.into()),
                image_pull_policy: Some("IfNotPresent".into()),
                command: Some(vec!["sh".into(), "-c".into(), command.into()]),
                ..Default::default()
            }],
            restart_policy: Some("Never".into()),
            // Gone on their own even if this process is killed before it cleans up.
            active_deadline_seconds: Some(600),
            termination_grace_period_seconds: Some(0),
            ..Default::default()
        }),
        status: None,
    }
}

/// The CNI, guessed from kube-system's pods and the nodes' annotations.
pub fn detect_cni(pod_names: &[String], node_annotations: &[String]) -> Option<&'static str> {
    const BY_POD: [(&str, &str); 12] = [
        ("cilium", "Cilium"),
        ("calico", "Calico"),
        ("canal", "Canal (Calico policy on flannel)"),
        ("kube-router", "kube-router"),
        ("antrea", "Antrea"),
        ("weave", "Weave Net"),
        ("kube-ovn", "Kube-OVN"),
        ("azure-npm", "Azure Network Policy Manager"),
        ("aws-node", "Amazon VPC CNI"),
        ("kindnet", "kindnet"),
        ("flannel", "flannel (it does not enforce NetworkPolicy by itself)"),
        ("kube-proxy", ""),
    ];
    for (needle, name) in BY_POD {
        if !name.is_empty() && pod_names.iter().any(|p| p.contains(needle)) {
            return Some(name);
        }
    }
    const BY_ANNOTATION: [(&str, &str); 3] = [
        ("projectcalico.org/", "Calico"),
        ("io.cilium.network", "Cilium"),
        ("flannel.alpha.coreos.com/", "flannel (it does not enforce NetworkPolicy by itself)"),
    ];
    BY_ANNOTATION
        .iter()
        .find(|(prefix, _)| node_annotations.iter().any(|a| a.starts_with(prefix)))
        .map(|(_, name)| *name)
}

async fn cni(client: &kube::Client) -> Option<&'static str> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let names: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .map(|l| l.items.into_iter().filter_map(|p| p.metadata.name).collect())
        .unwrap_or_default();
    let nodes: Api<Node> = Api::all(client.clone());
    let annotations: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .map(|l| l.items.into_iter().flat_map(|n| n.metadata.annotations.unwrap_or_default().into_keys()).collect())
        .unwrap_or_default();
    detect_cni(&names, &annotations)
}

/// Waits until both pods run (with their IPs), or says why they will not.
async fn running(pods: &Api<Pod>, names: &[&str], timeout: Duration) -> Result<Vec<Pod>> {
    let started = Instant::now();
    let spinner = Spinner::start("waiting for the canary pods");
    loop {
        let mut ready = Vec::new();
        for name in names {
            let pod =
                pods.get(name).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading pod {name}")))?;
            let status = pod.status.clone().unwrap_or_default();
            for waiting in status.container_statuses.iter().flatten().filter_map(|c| c.state.as_ref()?.waiting.as_ref())
            {
                let reason = waiting.reason.as_deref().unwrap_or("");
                if matches!(reason, "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "CreateContainerError") {
                    return Err(Error::other(format!(
                        "the canary pod {name} cannot start: {reason}: {}",
                        waiting.message.as_deref().unwrap_or("")
                    ))
                    .with_hint("give an image the nodes can pull with --image (it needs sh, nc and httpd)"));
                }
            }
            if status.phase.as_deref() == Some("Running") && status.pod_ip.is_some() {
                ready.push(pod);
            } else if matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")) {
                return Err(Error::other(format!("the canary pod {name} stopped ({:?})", status.phase)));
            }
        }
        if ready.len() == names.len() {
            spinner.finish("canary pods running");
            return Ok(ready);
        }
        if started.elapsed() > timeout {
            return Err(Error::new(ErrorKind::Other, format!("the canary pods did not run within {timeout:?}"))
                .with_hint("is there a schedulable node? raise --timeout for slow image pulls"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl DoctorCmd {
    pub async fn run(self) -> Result<Outcome> {
        let kube = harden_kube::client::connect(&self.kube).await?;
        let client = kube.client;
        let namespace = format!("netpol-doctor-{}", harden_cli::id::short());
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                labels: Some(BTreeMap::from([(MANAGED_BY_LABEL.to_string(), PLUGIN.to_string())])),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .map_err(|e| harden_kube::error::from_kube(e, format!("creating namespace {namespace}")))?;
        eline(format!("namespace/{namespace} created (the canary; deleted at the end)"));
        let result = self.canary(&client, &namespace).await;
        let cleanup = namespaces.delete(&namespace, &DeleteParams::default()).await;
        match &cleanup {
            Ok(_) => eline(format!("namespace/{namespace} deleted")),
            Err(e) => eline(format!(
                "error: could not delete namespace {namespace} ({e}); delete it with: kubectl delete namespace {namespace}"
            )),
        }
        let detected = cni(&client).await;
        let enforced = result?;
        let cni = detected.map(|c| format!(" (CNI: {c})")).unwrap_or_default();
        if enforced {
            line(format!("enforced: a default-deny policy blocked the canary's traffic{cni}"));
            Ok(Outcome::Good)
        } else {
            line(format!("NOT enforced: a default-deny policy did not block traffic{cni}"));
            line(
                "Policies here are documentation only: install an enforcing network plugin (Calico, Cilium, kube-router, Antrea, ...).",
            );
            Ok(Outcome::Finding)
        }
    }

    /// Whether the default-deny policy blocked the canary.
    async fn canary(&self, client: &kube::Client, namespace: &str) -> Result<bool> {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let server = canary_pod(namespace, "server", &self.image, &format!("exec httpd -f -p {PORT}"));
        let client_pod = canary_pod(namespace, "client", &self.image, "exec sleep 600");
        for pod in [&server, &client_pod] {
            pods.create(&PostParams::default(), pod)
                .await
                .map_err(|e| harden_kube::error::from_kube(e, format!("creating the canary pods in {namespace}")))?;
        }
        let ready = running(&pods, &["server", "client"], self.timeout).await?;
        let ip = ready[0].status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default();
        let timeout = Duration::from_secs(2);
        // The server may need a moment to listen: a few tries before calling it inconclusive.
        let mut before = Observed::Blocked;
        for _ in 0..10 {
            before = attempt(client, &ready[1], &ip, PORT, timeout).await;
            if before == Observed::Connected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match before {
            Observed::Connected => eline("before the policy: the client connects to the server"),
            Observed::Blocked => {
                return Err(Error::other(
                    "inconclusive: the canary client could not reach its server even without any policy",
                )
                .with_hint(
                    "a policy elsewhere (admin network policies?) or the pod network itself blocks pod traffic",
                ));
            }
            Observed::NotProbed(why) => return Err(Error::other(format!("inconclusive: {why}"))),
        }
        let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
        let deny = NetworkPolicy {
            metadata: ObjectMeta { name: Some("default-deny-ingress".into()), ..Default::default() },
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into()]),
                ..Default::default()
            }),
        };
        policies
            .create(&PostParams::default(), &deny)
            .await
            .map_err(|e| harden_kube::error::from_kube(e, "creating the canary's default-deny policy"))?;
        let started = Instant::now();
        let spinner = Spinner::start("waiting for the policy to be enforced");
        loop {
            match attempt(client, &ready[1], &ip, PORT, timeout).await {
                Observed::Blocked => {
                    spinner.finish(format!("after the policy: blocked ({:.1}s)", started.elapsed().as_secs_f64()));
                    return Ok(true);
                }
                Observed::NotProbed(why) => return Err(Error::other(format!("inconclusive: {why}"))),
                Observed::Connected if started.elapsed() >= self.settle => {
                    spinner.finish(format!("after the policy: still connects ({:?} later)", self.settle));
                    return Ok(false);
                }
                Observed::Connected => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cni_is_named_from_kube_system_pods_or_node_annotations() {
        let pods = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(detect_cni(&pods(&["kube-proxy-x", "calico-node-abc"]), &[]), Some("Calico"));
        assert!(detect_cni(&pods(&["kube-flannel-ds-1"]), &[]).unwrap().contains("does not enforce"));
        assert_eq!(detect_cni(&pods(&["kube-router-7"]), &[]), Some("kube-router"));
        assert_eq!(detect_cni(&pods(&["kube-proxy-x"]), &[]), None);
        assert_eq!(detect_cni(&[], &["io.cilium.network.ipv4-pod-cidr".into()]), Some("Cilium"));
    }

    #[test]
    fn canary_pods_stop_on_their_own_and_are_ours() {
        let pod = canary_pod("netpol-doctor-abcde", "server", "busybox:1.36", "exec httpd -f -p 8080");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.active_deadline_seconds, Some(600));
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.metadata.labels.unwrap()[MANAGED_BY_LABEL], PLUGIN);
    }
}
