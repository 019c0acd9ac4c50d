//! Pure builders of the kube-bench Jobs, equivalent to upstream's `job-master.yaml` and
//! `job-node.yaml`: hostPID, the same read-only hostPath mounts, control-plane node affinity and
//! tolerations for the master targets, and a pinned image instead of `latest`.

use std::collections::BTreeMap;
use std::time::Duration;

use harden_cli::error::{Error, Result};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, HostPathVolumeSource, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PodSpec, PodTemplateSpec, Toleration, Volume, VolumeMount,
};
use kube::api::ObjectMeta;

/// The image `run` uses unless `--image` is given: the release the tests build and parse.
pub const DEFAULT_IMAGE: &str = "docker.io/aquasec/kube-bench:v0.15.6";
pub const CONTAINER: &str = "kube-bench";
pub const RUN_LABEL: &str = "cis-bench.kube-harden.io/run";
pub const ROLE_LABEL: &str = "cis-bench.kube-harden.io/role";
pub const NODE_ANNOTATION: &str = "cis-bench.kube-harden.io/node";
pub const TARGETS_ANNOTATION: &str = "cis-bench.kube-harden.io/targets";

/// kube-bench's targets. The control-plane ones run on a control-plane node; `node` on every node.
pub const TARGETS: [&str; 6] = ["master", "controlplane", "etcd", "policies", "node", "managedservices"];

/// Which of upstream's two Job manifests a Job follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Node,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Node => "node",
        }
    }
}

/// One Job to create: its name, the targets it runs, and the node it is pinned to (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub name: String,
    pub role: Role,
    pub targets: Vec<String>,
    pub node: Option<String>,
}

/// What every Job of one run shares.
#[derive(Debug, Clone)]
pub struct Options {
    pub namespace: String,
    pub image: String,
    pub benchmark: Option<String>,
    pub timeout: Duration,
    pub keep: bool,
    /// A short random id that names this run's Jobs and labels them.
    pub run_id: String,
}

/// Checks the targets (given with the caller's `flag`): known names, no repeats.
pub fn validate_targets(targets: &[String], flag: &str) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::invalid(format!("{flag} is empty")).with_hint(format!("use some of {}", TARGETS.join(", "))));
    }
    for (i, t) in targets.iter().enumerate() {
        if !TARGETS.contains(&t.as_str()) {
            return Err(Error::invalid(format!("unknown target {t:?} in {flag}"))
                .with_hint(format!("kube-bench's targets are {}", TARGETS.join(", "))));
        }
        if targets[..i].contains(t) {
            return Err(Error::invalid(format!("target {t:?} is given twice in {flag}")));
        }
    }
    Ok(())
}

/// Checks a benchmark name (`cis-1.10`, `eks-1.5.0`, ...) given with the caller's `flag`: it becomes
/// an argument of kube-bench.
pub fn validate_benchmark(benchmark: &str, flag: &str) -> Result<()> {
    let ok = !benchmark.is_empty()
        && benchmark.len() <= 64
        && benchmark.starts_with(|c: char| c.is_ascii_alphanumeric())
        && benchmark.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("{flag} {benchmark:?} is not a benchmark name"))
            .with_hint("use a name such as cis-1.10, cis-1.9, eks-1.5.0 or gke-1.6.0 (kube-bench's cfg/ directories)"))
    }
}

/// Checks kube-bench's image (given with the caller's `flag`): a reference with a tag or digest
/// other than `latest`, so a run is repeatable.
pub fn validate_image(image: &str, flag: &str) -> Result<()> {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return Err(Error::invalid(format!("{flag} {image:?} is not an image reference")));
    }
    let pinned =
        image.contains("@sha256:") || last.split_once(':').is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest");
    if !pinned {
        return Err(Error::invalid(format!("{flag} {image} has no pinned tag"))
            .with_hint(format!("give a version tag or digest, e.g. {DEFAULT_IMAGE}; `latest` changes under you")));
    }
    Ok(())
}

/// Lower-case letters, digits and dashes, at most `max` long, not ending in a dash.
fn dns_part(text: &str, max: usize) -> String {
    let mut out: String =
        text.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(max).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The label that marks control-plane nodes (kubeadm and most installers); the older `master`
/// label is deprecated and not looked at.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// A node as the plan needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    pub control_plane: bool,
}

/// Splits the targets over Jobs: with `--node` one Job on that node; otherwise one Job per
/// control-plane node for the control-plane targets and, for `node`, one Job per node. Every Job
/// is pinned to its node by name.
pub fn plan(targets: &[String], pinned: Option<&str>, nodes: &[NodeInfo], run_id: &str) -> Vec<Plan> {
    let (node_targets, master_targets): (Vec<String>, Vec<String>) = targets.iter().cloned().partition(|t| t == "node");
    if let Some(node) = pinned {
        let role = if master_targets.is_empty() { Role::Node } else { Role::Master };
        return vec![Plan {
            name: format!("kube-bench-{}-{}-{run_id}", role.as_str(), dns_part(node, 30)),
            role,
            targets: targets.to_vec(),
            node: Some(node.to_string()),
        }];
    }
    let mut plans = Vec::new();
    if !master_targets.is_empty() {
        for (i, node) in nodes.iter().filter(|n| n.control_plane).enumerate() {
            plans.push(Plan {
                name: format!("kube-bench-master-{}-{run_id}-{i}", dns_part(&node.name, 30)),
                role: Role::Master,
                targets: master_targets.clone(),
                node: Some(node.name.clone()),
            });
        }
    }
    if !node_targets.is_empty() {
        for (i, node) in nodes.iter().enumerate() {
            plans.push(Plan {
                name: format!("kube-bench-node-{}-{run_id}-{i}", dns_part(&node.name, 30)),
                role: Role::Node,
                targets: node_targets.clone(),
                node: Some(node.name.clone()),
            });
        }
    }
    plans
}

/// Upstream's volumes: (name, host path, mount path). The last two only in job-master.yaml.
const VOLUMES: [(&str, &str, &str); 14] = [
    ("var-lib-cni", "/var/lib/cni", "/var/lib/cni"),
    ("var-lib-etcd", "/var/lib/etcd", "/var/lib/etcd"),
    ("var-lib-kubelet", "/var/lib/kubelet", "/var/lib/kubelet"),
    ("var-lib-kube-scheduler", "/var/lib/kube-scheduler", "/var/lib/kube-scheduler"),
    ("var-lib-kube-controller-manager", "/var/lib/kube-controller-manager", "/var/lib/kube-controller-manager"),
    ("etc-systemd", "/etc/systemd", "/etc/systemd"),
    ("lib-systemd", "/lib/systemd", "/lib/systemd/"),
    ("srv-kubernetes", "/srv/kubernetes", "/srv/kubernetes/"),
    ("etc-kubernetes", "/etc/kubernetes", "/etc/kubernetes"),
    // kube-bench finds kubectl/kubelet here to detect the Kubernetes version.
    ("usr-bin", "/usr/bin", "/usr/local/mount-from-host/bin"),
    ("etc-cni-netd", "/etc/cni/net.d/", "/etc/cni/net.d/"),
    ("opt-cni-bin", "/opt/cni/bin/", "/opt/cni/bin/"),
    ("etc-passwd", "/etc/passwd", "/etc/passwd"),
    ("etc-group", "/etc/group", "/etc/group"),
];

fn toleration(key: Option<&str>) -> Toleration {
    Toleration {
        key: key.map(str::to_string),
        operator: Some("Exists".into()),
        effect: key.map(|_| "NoSchedule".to_string()),
        ..Default::default()
    }
}

fn exists(key: &str) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(vec![NodeSelectorRequirement {
            key: key.into(),
            operator: "Exists".into(),
            values: None,
        }]),
        ..Default::default()
    }
}

/// The kube-bench command line: JSON with totals, so the log is one document we can parse.
pub fn command(plan: &Plan, options: &Options) -> Vec<String> {
    let mut command =
        vec!["kube-bench".to_string(), "run".into(), "--targets".into(), plan.targets.join(","), "--json".into()];
    if let Some(benchmark) = &options.benchmark {
        command.push("--benchmark".into());
        command.push(benchmark.clone());
    }
    command
}

pub fn build(plan: &Plan, options: &Options) -> Job {
    let volumes = match plan.role {
        Role::Master => &VOLUMES[..],
        Role::Node => &VOLUMES[..12],
    };
    let affinity = match (&plan.node, plan.role) {
        // Pinned by name, the way DaemonSets pin their Pods, so the scheduler still checks the node.
        (Some(node), _) => Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_fields: Some(vec![NodeSelectorRequirement {
                            key: "metadata.name".into(),
                            operator: "In".into(),
                            values: Some(vec![node.clone()]),
                        }]),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        // Not planned any more (every Job is pinned), but kept total: control-plane nodes only.
        (None, Role::Master) => Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![exists(CONTROL_PLANE_LABEL)],
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        (None, Role::Node) => None,
    };
    let tolerations = match (&plan.node, plan.role) {
        (None, Role::Master) => vec![toleration(Some(CONTROL_PLANE_LABEL))],
        // A Job pinned to one node must run there whatever its taints, like a DaemonSet's Pod.
        (Some(_), _) => vec![toleration(None)],
        (None, Role::Node) => vec![],
    };
    let labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "kube-bench".to_string()),
        (RUN_LABEL.to_string(), options.run_id.clone()),
        (ROLE_LABEL.to_string(), plan.role.as_str().to_string()),
    ]);
    let mut annotations = BTreeMap::from([(TARGETS_ANNOTATION.to_string(), plan.targets.join(","))]);
    if let Some(node) = &plan.node {
        annotations.insert(NODE_ANNOTATION.to_string(), node.clone());
    }
    let container = Container {
        name: CONTAINER.into(),
        image: Some(options.image.clone()),
        command: Some(command(plan, options)),
        volume_mounts: Some(
            volumes
                .iter()
                .map(|(name, _, mount)| VolumeMount {
                    name: name.to_string(),
                    mount_path: mount.to_string(),
                    read_only: Some(true),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let pod = PodSpec {
        host_pid: Some(true),
        affinity,
        tolerations: (!tolerations.is_empty()).then_some(tolerations),
        containers: vec![container],
        restart_policy: Some("Never".into()),
        volumes: Some(
            volumes
                .iter()
                .map(|(name, host, _)| Volume {
                    name: name.to_string(),
                    host_path: Some(HostPathVolumeSource { path: host.to_string(), type_: None }),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(plan.name.clone()),
            namespace: Some(options.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(JobSpec {
            // One attempt: a second run on the same node gives the same answer.
            backoff_limit: Some(0),
            // The Job fails by itself if it cannot finish in time, even if this command is killed.
            active_deadline_seconds: Some(options.timeout.as_secs().max(1) as i64),
            // A Job left behind by an interrupted run cleans itself up; --keep keeps it for good.
            ttl_seconds_after_finished: (!options.keep).then_some(3600),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            namespace: "bench".into(),
            image: DEFAULT_IMAGE.into(),
            benchmark: Some("cis-1.10".into()),
            timeout: Duration::from_secs(600),
            keep: false,
            run_id: "abc12".into(),
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn node_selector_terms(pod: &PodSpec) -> &[NodeSelectorTerm] {
        &pod.affinity
            .as_ref()
            .unwrap()
            .node_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()
            .node_selector_terms
    }

    fn nodes(list: &[(&str, bool)]) -> Vec<NodeInfo> {
        list.iter()
            .map(|(name, control_plane)| NodeInfo { name: name.to_string(), control_plane: *control_plane })
            .collect()
    }

    #[test]
    fn targets_split_into_a_master_job_per_control_plane_node_and_one_job_per_node() {
        let all = nodes(&[("cp-1", true), ("w-1", false), ("Big.Node_2", false)]);
        let plans = plan(&strings(&["master", "etcd", "node"]), None, &all, "abc12");
        assert_eq!(plans.len(), 4);
        assert_eq!(
            plans[0],
            Plan {
                name: "kube-bench-master-cp-1-abc12-0".into(),
                role: Role::Master,
                targets: strings(&["master", "etcd"]),
                node: Some("cp-1".into())
            }
        );
        assert_eq!(plans[1].name, "kube-bench-node-cp-1-abc12-0");
        assert_eq!(plans[2].name, "kube-bench-node-w-1-abc12-1");
        assert_eq!(plans[3].name, "kube-bench-node-big-node-2-abc12-2");
        assert_eq!(plans[3].node.as_deref(), Some("Big.Node_2"));
        let pinned = plan(&strings(&["master", "node"]), Some("cp-1"), &[], "abc12");
        assert_eq!(pinned.len(), 1);
        assert_eq!(pinned[0].targets, strings(&["master", "node"]));
        assert!(pinned.iter().all(|p| p.name.len() <= 63));
    }

    #[test]
    fn master_job_matches_upstream_job_master() {
        let plans = plan(&strings(&["master"]), None, &nodes(&[("cp-1", true), ("w-1", false)]), "abc12");
        assert_eq!(plans.len(), 1, "{plans:?}");
        let job = build(&plans[0], &options());
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.active_deadline_seconds, Some(600));
        assert_eq!(spec.ttl_seconds_after_finished, Some(3600));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.host_pid, Some(true));
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some(DEFAULT_IMAGE));
        assert_eq!(
            c.command.as_ref().unwrap(),
            &strings(&["kube-bench", "run", "--targets", "master", "--json", "--benchmark", "cis-1.10"])
        );
        let mounts = c.volume_mounts.as_ref().unwrap();
        assert_eq!(mounts.len(), 14);
        assert!(mounts.iter().all(|m| m.read_only == Some(true)));
        assert!(mounts.iter().any(|m| m.name == "usr-bin" && m.mount_path == "/usr/local/mount-from-host/bin"));
        let field = &node_selector_terms(pod)[0].match_fields.as_ref().unwrap()[0];
        assert_eq!((field.key.as_str(), field.values.as_ref().unwrap()[0].as_str()), ("metadata.name", "cp-1"));
        // Pinned to its node, it tolerates that node's taints (the control-plane NoSchedule one included).
        assert_eq!(pod.tolerations.as_ref().unwrap()[0].operator.as_deref(), Some("Exists"));
        assert!(!serde_json::to_string(&job).unwrap().contains("node-role.kubernetes.io/master"));
    }

    #[test]
    fn node_jobs_are_pinned_by_name_and_tolerate_the_nodes_taints() {
        let plans = plan(&strings(&["node"]), None, &nodes(&[("w-1", false)]), "abc12");
        let mut opts = options();
        opts.keep = true;
        opts.benchmark = None;
        let job = build(&plans[0], &opts);
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.ttl_seconds_after_finished, None, "--keep keeps the Job");
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.volumes.as_ref().unwrap().len(), 12, "job-node.yaml has no /etc/passwd and /etc/group");
        let field = &node_selector_terms(pod)[0].match_fields.as_ref().unwrap()[0];
        assert_eq!((field.key.as_str(), field.values.as_ref().unwrap()[0].as_str()), ("metadata.name", "w-1"));
        assert_eq!(pod.tolerations.as_ref().unwrap()[0].operator.as_deref(), Some("Exists"));
        assert_eq!(pod.containers[0].command.as_ref().unwrap().last().unwrap(), "--json");
        assert_eq!(job.metadata.annotations.as_ref().unwrap()[NODE_ANNOTATION], "w-1");
    }

    #[test]
    fn flags_are_validated() {
        assert!(validate_targets(&strings(&["master", "node"]), "--targets").is_ok());
        assert!(
            validate_targets(&strings(&["mastr"]), "--targets")
                .unwrap_err()
                .to_string()
                .contains("kube-bench's targets are")
        );
        assert!(validate_targets(&strings(&["node", "node"]), "--targets").is_err());
        assert!(validate_benchmark("cis-1.10", "--benchmark").is_ok());
        assert!(validate_benchmark("cis 1.10; rm", "--benchmark").is_err());
        assert!(validate_image(DEFAULT_IMAGE, "--image").is_ok());
        assert!(validate_image("registry:5000/kube-bench@sha256:abcd", "--image").is_ok());
        assert!(validate_image("registry:5000/aquasec/kube-bench", "--image").is_err());
        assert!(validate_image("aquasec/kube-bench:latest", "--image").is_err());
    }
}
