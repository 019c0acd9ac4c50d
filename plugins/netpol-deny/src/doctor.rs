//! `doctor`: is NetworkPolicy enforced here at all? Many clusters silently do not enforce it
//! (flannel alone, some k3s and kindnet set-ups), and then every "denied" of the engine is wide
//! open. The doctor creates a canary in a namespace of its own (a server pod, a client pod),
//! connects before and after a default-deny ingress policy, and removes the namespace, whatever
//! happened. It also says how the enforcer answers a denied connection: it drops it (the attempt
//! times out) or rejects it (refused at once although the server listens, with an ICMP error or a
//! TCP reset), which is what a probe elsewhere has to tell from a pod with nothing listening.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use harden_kube::pods::{Until, Wait, wait_for};

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::output::{eline, line};
use harden_cli::progress::Spinner;
use harden_kube::MANAGED_BY_LABEL;
use harden_kube::flags::KubeArgs;
use harden_kube::list::list_all_metadata;
use k8s_openapi::api::core::v1::{Container, Namespace, Node, Pod, PodSpec};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

use crate::PLUGIN;
use harden_kube::probe::{Blocked, Destination, Observed, Prober};

const DOCTOR_EXAMPLES: &str = "Examples:\n  \
    kubectl netpol-deny doctor\n  \
    # where images come from a mirror\n  \
    kubectl netpol-deny doctor --image registry.example.com/library/busybox:1.36\n  \
    KUBE_HARDEN_IMAGE_REPOSITORY=registry.example.com kubectl netpol-deny doctor\n\n\
    It creates namespace netpol-doctor-XXXXX (two busybox pods and a default-deny ingress policy), which it\n\
    deletes at the end; the pods also stop on their own after 10 minutes. A pod that cannot pull its image\n\
    fails the run at once, naming the image. It reports whether the enforcer drops or rejects a denied\n\
    connection. Exit 0 enforced, 1 NOT enforced, 2 error or inconclusive.";

#[derive(Args)]
#[command(after_help = DOCTOR_EXAMPLES)]
pub struct DoctorCmd {
    /// The canary's image: needs sh, nc and httpd [default: busybox:1.36, under
    /// $KUBE_HARDEN_IMAGE_REPOSITORY when that is set].
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
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

/// Best effort: a reader who may not list kube-system's pods or the nodes gets no CNI name. Only
/// names and annotations are needed, so only metadata is listed, in pages.
async fn cni(client: &kube::Client) -> Option<&'static str> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let names: Vec<String> = list_all_metadata(&pods, &ListParams::default(), "pods in namespace kube-system")
        .await
        .map(|items| items.into_iter().filter_map(|p| p.metadata.name).collect())
        .unwrap_or_default();
    let nodes: Api<Node> = Api::all(client.clone());
    let annotations: Vec<String> = list_all_metadata(&nodes, &ListParams::default(), "nodes")
        .await
        .map(|items| items.into_iter().flat_map(|n| n.metadata.annotations.unwrap_or_default().into_keys()).collect())
        .unwrap_or_default();
    detect_cni(&names, &annotations)
}

/// What the canary's image needs, for the hint of a pull failure.
const IMAGE_NEEDS: &str = "it needs sh, nc and httpd, as busybox has";

/// How the enforcer answered a denied connection, for the report.
pub fn enforcer_answer(observed: &Observed, after: Duration) -> String {
    match observed {
        Observed::Blocked(Blocked::TimedOut) => {
            format!("it drops a denied connection: the attempt timed out (after {}s)", after.as_secs().max(1))
        }
        Observed::Blocked(Blocked::Rejected(evidence)) => format!(
            "it rejects a denied connection: {evidence}; so elsewhere a refused connection is judged by what \
             listens at the destination (`kubectl netpol-deny probe`)"
        ),
        other => format!("it was not blocked: {}", other.word()),
    }
}

impl harden_cli::command::Command for DoctorCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    fn validate(&self) -> harden_cli::Result<()> {
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl DoctorCmd {
    async fn execute(self) -> Result<Outcome> {
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
        let image = harden_cli::images::choose(self.image.as_deref(), harden_cli::images::BUSYBOX);
        let result = match image {
            Ok(image) => self.canary(&client, &namespace, &image).await,
            Err(e) => Err(e),
        };
        let cleanup = namespaces.delete(&namespace, &DeleteParams::default()).await;
        match &cleanup {
            Ok(_) => eline(format!("namespace/{namespace} deleted")),
            Err(e) => eline(format!(
                "error: could not delete namespace {namespace} ({e}); delete it with: kubectl delete namespace {namespace}"
            )),
        }
        let detected = cni(&client).await;
        let answer = result?;
        let cni = detected.map(|c| format!(" (CNI: {c})")).unwrap_or_default();
        if let Some(answer) = answer {
            line(format!("enforced: a default-deny policy blocked the canary's traffic{cni}"));
            line(format!("How it answers: {answer}"));
            Ok(Outcome::Good)
        } else {
            line(format!("NOT enforced: a default-deny policy did not block traffic{cni}"));
            line(
                "Policies here are documentation only: install an enforcing network plugin (Calico, Cilium, kube-router, Antrea, ...).",
            );
            Ok(Outcome::Finding)
        }
    }

    /// How the default-deny policy blocked the canary (`None`: it did not).
    async fn canary(&self, client: &kube::Client, namespace: &str, image: &str) -> Result<Option<String>> {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let server = canary_pod(namespace, "server", image, &format!("exec httpd -f -p {PORT}"));
        let client_pod = canary_pod(namespace, "client", image, "exec sleep 600");
        for pod in [&server, &client_pod] {
            pods.create(&PostParams::default(), pod)
                .await
                .map_err(|e| harden_kube::error::from_kube(e, format!("creating the canary pods in {namespace}")))?;
        }
        eline(format!("pod/server and pod/client created in namespace {namespace} (image {image})"));
        let wait = Wait {
            until: Until::Running,
            timeout: self.timeout,
            pull_hint: harden_cli::images::pull_hint(IMAGE_NEEDS),
            timeout_flag: Some("--timeout"),
        };
        let ready = wait_for(&pods, &["server", "client"], &wait).await?;
        let ip: std::net::IpAddr = ready[0]
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref()?.parse().ok())
            .ok_or_else(|| Error::other("the canary server has no IP"))?;
        let timeout = Duration::from_secs(2);
        // The canary's server listens by construction: no listener is ever started by the probe.
        let prober = Prober::new(client.clone(), timeout, false);
        let (server, client_pod) = (&ready[0], &ready[1]);
        // The server may need a moment to listen: a few tries before calling it inconclusive.
        let mut before = Observed::NotProbed("not tried".into());
        for _ in 0..10 {
            before = prober.probe(client_pod, Destination::Pod(server, ip), PORT).await;
            if before == Observed::Connected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match before {
            Observed::Connected => eline("before the policy: the client connects to the server"),
            Observed::Blocked(_) | Observed::NothingListening(_) => {
                return Err(Error::other(format!(
                    "inconclusive: the canary client could not connect to its server even without any policy: {}{}",
                    before.word(),
                    before.detail().map(|d| format!(": {d}")).unwrap_or_default()
                ))
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
            let observed = prober.probe(client_pod, Destination::Pod(server, ip), PORT).await;
            match observed {
                Observed::Blocked(_) => {
                    spinner.finish(format!("after the policy: blocked ({:.1}s)", started.elapsed().as_secs_f64()));
                    // A timeout may be a rejection whose ICMP error the kernel rate-limited: only
                    // three timeouts, spaced beyond the limit's one a second, say the enforcer drops.
                    let mut answer = observed;
                    for _ in 0..2 {
                        if !matches!(answer, Observed::Blocked(Blocked::TimedOut)) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                        answer = prober.probe(client_pod, Destination::Pod(server, ip), PORT).await;
                    }
                    return match answer {
                        Observed::Blocked(_) => Ok(Some(enforcer_answer(&answer, timeout))),
                        other => Err(Error::other(format!(
                            "inconclusive: blocked once, then {}: is the enforcer still syncing? run the doctor again",
                            other.word()
                        ))),
                    };
                }
                Observed::NotProbed(why) => return Err(Error::other(format!("inconclusive: {why}"))),
                Observed::Connected | Observed::NothingListening(_) if started.elapsed() >= self.settle => {
                    spinner.finish(format!("after the policy: still {} ({:?} later)", observed.word(), self.settle));
                    return Ok(None);
                }
                Observed::Connected | Observed::NothingListening(_) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
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

    #[test]
    fn the_enforcers_answer_is_named_drop_or_reject() {
        let dropped = enforcer_answer(&Observed::Blocked(Blocked::TimedOut), Duration::from_secs(2));
        assert_eq!(dropped, "it drops a denied connection: the attempt timed out (after 2s)");
        let rejected = enforcer_answer(
            &Observed::Blocked(Blocked::Rejected("refused although a socket listens on 8080".into())),
            Duration::from_secs(2),
        );
        assert!(
            rejected.starts_with("it rejects a denied connection: refused although a socket listens"),
            "{rejected}"
        );
    }
}
