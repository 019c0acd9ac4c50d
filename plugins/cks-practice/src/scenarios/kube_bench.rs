//! Scenario 8: kube-bench reports a FAIL on a node, for the permissions of one of the kubelet's files
//! (4.1.5, its kubeconfig `/etc/kubernetes/kubelet.conf`, or 4.1.9, its configuration
//! `/var/lib/kubelet/config.yaml`, picked by the seed). Fix it on the node and verify it with
//! kube-bench. Graded by running kube-bench's own Job on that node (the same Job, parser and choice of
//! benchmark as `kubectl cis-bench run`: the one written for the cluster's version, whose 4.1.5 and
//! 4.1.9 ask for 600 or stricter from cis-1.7 on; `start --benchmark` names another): the check must
//! PASS, the file must still be owned by root, and the node must stay Ready.
//!
//! `start` makes the finding: a short-lived pod on the node (host path of the file's directory)
//! widens the file's mode with `chmod go+r` and says what it was; the run's record keeps the old
//! mode. `reset` puts the old mode back only if the file still has the mode the run gave it, so a
//! fix the candidate made is never undone, and nothing is ever widened by reset.

use std::time::Duration;

use harden_cli::{Error, ErrorKind, Result, output};
use harden_kube::client::Kube;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use serde_json::json;

use crate::grade::Check;
use crate::nodes::ready;
use crate::scenario::{Card, Context, Id, Kept, Need, NodeBench, Plan, Scenario, StartFlags, Step, build, sh};
use crate::seed::Rng;

/// How long the helper pod and the kube-bench Job may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(180);
const BENCH_TIMEOUT: Duration = Duration::from_secs(300);

/// One of the kubelet's files kube-bench checks, where kubeadm puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// The permissions check.
    pub id: &'static str,
    /// The ownership check of the same file.
    pub owner_id: &'static str,
    pub dir: &'static str,
    pub file: &'static str,
    pub what: &'static str,
}

impl Control {
    pub fn path(&self) -> String {
        format!("{}/{}", self.dir, self.file)
    }
}

pub const CONTROLS: [Control; 2] = [
    Control {
        id: "4.1.5",
        owner_id: "4.1.6",
        dir: "/etc/kubernetes",
        file: "kubelet.conf",
        what: "the kubelet's kubeconfig (--kubeconfig)",
    },
    Control {
        id: "4.1.9",
        owner_id: "4.1.10",
        dir: "/var/lib/kubelet",
        file: "config.yaml",
        what: "the kubelet's configuration file (--config)",
    },
];

/// The seed's control and the run's namespace.
pub fn draw(seed: u64) -> (Control, String) {
    let mut rng = Rng::new(seed, "kube-bench");
    let ns = rng.namespace();
    (CONTROLS[rng.below(CONTROLS.len() as u64) as usize], ns)
}

/// The scenario, as `scenarios::ALL` registers it.
pub struct KubeBench;

/// The record's keys of the file's mode before the run, and of the one the run set.
const ORIGINAL_MODE: &str = "originalMode";
const SET_MODE: &str = "setMode";

const CARD: Card = Card {
    mock_exam: false,
    keeps: &[ORIGINAL_MODE, SET_MODE],
    ..Card::new("kube-bench", "CIS: fix a kube-bench finding on the node", 15, &[Need::Api, Need::NodeAccess])
};

impl Scenario for KubeBench {
    fn card(&self) -> &'static Card {
        &CARD
    }

    fn plan(&self, ctx: &Context<'_>) -> Result<Plan> {
        plan(ctx)
    }

    fn check<'a>(
        &'a self,
        client: &'a kube::Client,
        plan: &'a Plan,
        _address: Option<&'a str>,
    ) -> Step<'a, Vec<Check>> {
        Box::pin(async move {
            match &plan.bench {
                Some(bench) => check(client, plan, bench).await,
                None => Err(Error::invalid("the run record of a kube-bench run lacks its node")
                    .with_hint("it was edited: reset the run and start it again")),
            }
        })
    }

    /// kube-bench's Job and the helper pod that changes the node's file.
    fn creates_pods(&self) -> bool {
        true
    }

    /// `--image` is kube-bench's, chosen as `start` chooses it.
    fn pods_image(&self) -> Option<&'static str> {
        None
    }

    fn validate_node_flags(&self, flags: &StartFlags<'_>) -> Result<()> {
        if let Some(image) = flags.image {
            harden_cli::images::validate(image)?;
            harden_kube_bench::job::validate_image(image, "--image")?;
        }
        if let Some(benchmark) = flags.benchmark {
            harden_kube_bench::job::validate_benchmark(benchmark, "--benchmark")?;
        }
        Ok(())
    }

    /// The node (`--node`, else [`pick_node`]'s), kube-bench's image (`--image`, else its default)
    /// and the benchmark (`--benchmark`, else the one `kubectl cis-bench run` chooses).
    fn node<'a>(&'a self, kube: &'a Kube, flags: &'a StartFlags<'a>) -> Step<'a, Option<NodeBench>> {
        Box::pin(async move {
            let mut bench = default_bench(kube, flags.node, flags.benchmark).await?;
            if let Some(image) = flags.image {
                bench.image = image.to_string();
            }
            Ok(Some(bench))
        })
    }

    /// Makes the finding on the node; the record keeps the file's old and new modes.
    fn set_up<'a>(&'a self, client: &'a kube::Client, plan: &'a Plan) -> Step<'a, Kept> {
        Box::pin(async move {
            let bench = plan.bench.as_ref().ok_or_else(|| Error::other("a kube-bench run without its node (a bug)"))?;
            let (old, new) = break_file(client, plan, bench).await?;
            Ok(Kept::from([(ORIGINAL_MODE.to_string(), old), (SET_MODE.to_string(), new)]))
        })
    }

    fn setting_up(&self) -> &'static str {
        "making kube-bench's finding on the node"
    }

    /// Puts the file's mode back, unless the candidate changed it since.
    fn tear_down<'a>(&'a self, client: &'a kube::Client, plan: &'a Plan, kept: &'a Kept) -> Step<'a, ()> {
        Box::pin(async move {
            match (&plan.bench, kept.get(ORIGINAL_MODE), kept.get(SET_MODE)) {
                (Some(bench), Some(old), Some(set)) => restore_file(client, plan, bench, old, set).await,
                _ => Ok(()),
            }
        })
    }
}

/// The node for scenario 8: `wanted` if it is Ready, else the first Ready node by name, workers
/// before control-plane nodes (kube-bench's node checks are the workers').
fn pick_node(nodes: &[Node], wanted: Option<&str>) -> Result<String> {
    let name = |n: &Node| n.metadata.name.clone().unwrap_or_default();
    if let Some(wanted) = wanted {
        return match nodes.iter().find(|n| name(n) == wanted) {
            Some(n) if ready(n) => Ok(wanted.to_string()),
            Some(_) => Err(Error::invalid(format!("node {wanted} is not Ready: kube-bench's Job cannot run there"))),
            None => {
                let names: Vec<String> = nodes.iter().map(name).take(10).collect();
                Err(Error::not_found(format!("node {wanted} does not exist"))
                    .with_hint(format!("nodes: {}", if names.is_empty() { "none".into() } else { names.join(", ") })))
            }
        };
    }
    let mut candidates: Vec<(bool, String)> = nodes
        .iter()
        .filter(|n| ready(n))
        .map(|n| {
            let control_plane =
                n.metadata.labels.as_ref().is_some_and(|l| l.contains_key(harden_kube_bench::job::CONTROL_PLANE_LABEL));
            (control_plane, name(n))
        })
        .collect();
    candidates.sort();
    candidates.into_iter().next().map(|(_, name)| name).ok_or_else(node_access_error)
}

/// Scenario 8 on a cluster without a Ready node.
fn node_access_error() -> Error {
    Error::new(
        harden_cli::ErrorKind::Other,
        "scenario 8 (kube-bench) needs node access: a Ready node that runs kube-bench's Job, and a shell on it \
         to fix the file kube-bench reports; this cluster has no Ready node",
    )
    .with_hint("`kubectl cks-practice list --runnable` leaves it out on such a cluster")
}

/// Scenario 8 on `node` (default: [`pick_node`]'s), with kube-bench's default image and the benchmark
/// `kubectl cis-bench run` would choose for the cluster's version (or `benchmark`, checked against it);
/// says which on stderr.
async fn default_bench(kube: &Kube, node: Option<&str>, benchmark: Option<&str>) -> Result<NodeBench> {
    let nodes: Vec<Node> =
        harden_kube::list::list_all(&Api::all(kube.client.clone()), &ListParams::default(), "nodes").await?;
    let node = pick_node(&nodes, node)?;
    let (choice, _) =
        harden_kube_bench::run::choose_benchmark(&kube.client, benchmark, "--benchmark", Some("--benchmark")).await?;
    harden_kube_bench::run::tell(&choice);
    let image = harden_cli::images::default_image(harden_kube_bench::job::DEFAULT_IMAGE)?;
    Ok(NodeBench { node, image, benchmark: choice.benchmark })
}

pub fn plan(ctx: &Context<'_>) -> Result<Plan> {
    let bench =
        ctx.bench.ok_or_else(|| Error::other("the kube-bench scenario was planned without its node (a bug)"))?;
    let (control, ns) = draw(ctx.seed);
    let mut plan = Plan::new(Id(&KubeBench), ctx);
    let node = &bench.node;
    let path = control.path();
    plan.namespaces = vec![ns.clone()];
    // kube-bench's Job (hostPID, host paths) and the helper pod are privileged: the run's namespace
    // admits them whatever the cluster's default Pod Security level is.
    plan.objects = vec![build::namespace(&ns, json!({"pod-security.kubernetes.io/enforce": "privileged"}))];
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("node", node.clone());
    plan.names.insert("check", control.id.to_string());
    plan.names.insert("file", path.clone());
    plan.names.insert("benchmark", bench.benchmark.clone());
    plan.task = format!(
        "kube-bench ({}) reports check {} as FAIL on node {node}: the permissions of {path},\n{}.\n\
         Fix it on the node (ssh {node}), then verify it by running kube-bench's check again.\n\
         The file must stay in place and owned by root, and the node must stay Ready.\n\
         Namespace {ns} is yours for running kube-bench's Job.",
        bench.benchmark, control.id, control.what
    );
    plan.read = vec![
        "https://www.cisecurity.org/benchmark/kubernetes (section 4.1, worker node configuration files)",
        "https://github.com/aquasecurity/kube-bench/blob/main/docs/running.md",
        "https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/",
    ];
    plan.skeleton = format!(
        "ssh {node}\nsudo stat -c %a {path}\nsudo chmod ??? {path}\nsudo kube-bench run --targets node --check {}\n",
        control.id
    );
    let (nsq, nodeq, image, benchmark) = (sh(&ns), sh(node), sh(&bench.image), sh(&bench.benchmark));
    plan.plugin_steps = vec![
        format!(
            "kubectl cis-bench run --targets node --node {nodeq} -n {nsq} --image {image} --benchmark {benchmark} --section 4.1 -o json --output-file bench.json    # find"
        ),
        format!("kubectl cis-bench explain {} bench.json    # what it audits and what to change", control.id),
        format!("ssh {nodeq} sudo chmod 600 {path}    # fix (no plugin changes a node's files)"),
        format!(
            "kubectl cis-bench run --targets node --node {nodeq} -n {nsq} --image {image} --benchmark {benchmark} --section 4.1 --status FAIL    # verify: {} is gone",
            control.id
        ),
    ];
    plan.manual = format!(
        "ssh {nodeq}\nsudo stat -c 'permissions=%a owner=%U:%G' {path}\nsudo chmod 600 {path}\n\
         sudo kube-bench run --targets node --benchmark {benchmark} --check {}\n\
         # or, from your shell, kube-bench's Job on that node:\n\
         # kubectl apply -n {nsq} -f https://raw.githubusercontent.com/aquasecurity/kube-bench/main/job-node.yaml\n\
         # (with nodeName: {node}), then kubectl logs -n {nsq} job/kube-bench\n",
        control.id
    );
    Ok(plan)
}

/// A mode as `stat -c %a` prints it: three or four octal digits.
pub fn valid_mode(mode: &str) -> bool {
    (3..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b))
}

/// The helper's script that makes the finding: refuses a link (chmod would follow it) or a missing
/// file, widens the mode by group and other read, and prints `old=MODE new=MODE`.
pub fn break_script(control: &Control) -> String {
    let file = format!("/host/{}", control.file);
    format!(
        "f={file}; if [ -L \"$f\" ]; then echo \"{} is a symbolic link\"; exit 3; fi; \
         if [ ! -f \"$f\" ]; then echo \"{} does not exist\"; exit 3; fi; \
         old=$(stat -c %a \"$f\"); chmod go+r \"$f\" && echo \"old=$old new=$(stat -c %a \"$f\")\"",
        control.path(),
        control.path()
    )
}

/// The helper's script that puts `old` back if the file still has mode `set`; prints `restored`,
/// or `left=MODE` when the file was changed since (or `missing`).
pub fn restore_script(control: &Control, old: &str, set: &str) -> Result<String> {
    if !valid_mode(old) || !valid_mode(set) {
        return Err(Error::invalid(format!("the run record's modes {old:?} and {set:?} are not octal modes"))
            .with_hint("it was edited: put the file's mode back by hand on the node"));
    }
    let file = format!("/host/{}", control.file);
    Ok(format!(
        "f={file}; if [ -L \"$f\" ] || [ ! -f \"$f\" ]; then echo missing; exit 0; fi; \
         cur=$(stat -c %a \"$f\"); if [ \"$cur\" = {set} ]; then chmod {old} \"$f\" && echo restored; else echo \"left=$cur\"; fi"
    ))
}

/// `old=600 new=644` as the pair of modes.
pub fn parse_changed(log: &str) -> Option<(String, String)> {
    let line = log.lines().rev().find(|l| l.starts_with("old="))?;
    let mut parts = line.split_whitespace();
    let old = parts.next()?.strip_prefix("old=")?.to_string();
    let new = parts.next()?.strip_prefix("new=")?.to_string();
    (valid_mode(&old) && valid_mode(&new)).then_some((old, new))
}

/// The pod that runs `script` on the node, with the file's directory at /host.
fn helper_pod(name: &str, namespace: &str, bench: &NodeBench, control: &Control, script: &str) -> Result<Pod> {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": crate::PLUGIN}},
        "spec": {
            "nodeName": bench.node,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "chmod", "image": bench.image, "command": ["/bin/sh", "-c", script],
                            "volumeMounts": [{"name": "dir", "mountPath": "/host"}]}],
            "volumes": [{"name": "dir", "hostPath": {"path": control.dir, "type": "Directory"}}]
        }
    });
    serde_json::from_value(pod).map_err(|e| Error::other(format!("building the helper pod (a bug): {e}")))
}

/// Runs `script` in a helper pod on the node, waits for it to finish, and returns its log. The pod
/// is deleted afterwards, whatever happened.
async fn on_node(
    client: &kube::Client,
    namespace: &str,
    bench: &NodeBench,
    control: &Control,
    script: &str,
) -> Result<String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let name = format!("cks-kube-bench-{}", harden_cli::id::short());
    let pod = helper_pod(&name, namespace, bench, control, script)?;
    let params = PostParams { field_manager: Some(crate::PLUGIN.into()), ..Default::default() };
    api.create(&params, &pod)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("creating pod {name} in {namespace}")))?;
    output::eline(format!("pod/{name} created in namespace {namespace} (on node {}, {})", bench.node, control.dir));
    let result = wait_log(&api, &name).await;
    match api.delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await {
        Ok(_) => output::eline(format!("pod/{name} deleted from namespace {namespace}")),
        Err(e) if harden_kube::error::status_code(&e) == Some(404) => {}
        Err(e) => output::eline(format!("warning: deleting pod {name} in {namespace}: {e}")),
    }
    result
}

async fn wait_log(api: &Api<Pod>, name: &str) -> Result<String> {
    use harden_kube::pods::{Until, Wait, wait_for};
    let wait = Wait {
        until: Until::Finished,
        timeout: HELPER_TIMEOUT,
        pull_hint: harden_cli::images::pull_hint("it needs sh, stat and chmod"),
        timeout_flag: None,
    };
    let pod = wait_for(api, &[name], &wait).await?.remove(0);
    let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
    let log = api
        .logs(name, &LogParams::default())
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("reading the log of pod {name}")))?;
    if phase == "Failed" {
        return Err(Error::other(format!("the pod on the node failed: {}", log.trim())));
    }
    Ok(log)
}

/// Makes the finding; returns the file's old and new modes.
pub async fn break_file(client: &kube::Client, plan: &Plan, bench: &NodeBench) -> Result<(String, String)> {
    let (control, _) = draw(plan.seed);
    let log = on_node(client, &plan.namespaces[0], bench, &control, &break_script(&control)).await?;
    let (old, new) = parse_changed(&log).ok_or_else(|| {
        Error::other(format!("the pod on node {} did not change {}: {}", bench.node, control.path(), log.trim()))
    })?;
    output::eline(format!(
        "{} on node {}: mode {old} -> {new} (reset puts {old} back unless you changed it)",
        control.path(),
        bench.node
    ));
    Ok((old, new))
}

/// Puts the old mode back if the file still has the one the run set.
pub async fn restore_file(client: &kube::Client, plan: &Plan, bench: &NodeBench, old: &str, set: &str) -> Result<()> {
    let (control, _) = draw(plan.seed);
    let script = restore_script(&control, old, set)?;
    let log = on_node(client, &plan.namespaces[0], bench, &control, &script).await?;
    let said = log.trim();
    if said == "restored" {
        output::line(format!("{} on node {}: mode {old} put back", control.path(), bench.node));
    } else if let Some(cur) = said.strip_prefix("left=") {
        output::line(format!("{} on node {}: mode {cur} left as it is (you changed it)", control.path(), bench.node));
    } else {
        output::line(format!("{} on node {}: {said}; nothing put back", control.path(), bench.node));
    }
    Ok(())
}

pub async fn check(client: &kube::Client, plan: &Plan, bench: &NodeBench) -> Result<Vec<Check>> {
    use harden_kube_bench::model::Status;
    let (control, _) = draw(plan.seed);
    let request = harden_kube_bench::run::Request {
        targets: vec!["node".into()],
        node: Some(bench.node.clone()),
        options: harden_kube_bench::job::Options {
            namespace: plan.namespaces[0].clone(),
            image: bench.image.clone(),
            benchmark: Some(bench.benchmark.clone()),
            timeout: BENCH_TIMEOUT,
            keep: false,
            run_id: harden_cli::id::short(),
        },
        dry_run: harden_kube::flags::DryRun::None,
        relabel: false,
        field_manager: crate::PLUGIN,
        benchmark_from: "the practice run",
        // cks-practice's check has none of cis-bench's flags: its hints name none.
        flags: harden_kube_bench::run::Flags::default(),
    };
    let report = match harden_kube_bench::run::run(Some(client.clone()), &request).await? {
        harden_kube_bench::run::Ran::Done { report, .. } => report,
        harden_kube_bench::run::Ran::DryRun => return Err(Error::other("kube-bench ran as a dry run (a bug)")),
    };
    let find = |id: &str| report.checks().find(|c| c.check.id == id).map(|c| c.check.clone());
    let mut checks = Vec::new();
    let path = control.path();
    let permissions = find(control.id).ok_or_else(|| {
        Error::new(
            ErrorKind::Other,
            format!("kube-bench's report of node {} has no check {} ({})", bench.node, control.id, bench.benchmark),
        )
        .with_hint(
            "the benchmark numbers its checks differently: reset and start the run again without --benchmark, which \
             picks the one for the cluster's version",
        )
    })?;
    let seen = |c: &harden_kube_bench::model::Check| {
        let actual = c.actual_value.trim();
        if actual.is_empty() { String::new() } else { format!(" (kube-bench saw {actual:?})") }
    };
    checks.push(Check::new(
        format!("kube-bench {} on node {}: {path} has permissions 600 or stricter", control.id, bench.node),
        permissions.status == Status::Pass,
        format!("kube-bench reports {}{}", permissions.status.as_str(), seen(&permissions)),
    ));
    if let Some(owner) = find(control.owner_id) {
        checks.push(Check::new(
            format!("kube-bench {} on node {}: {path} is owned by root:root", control.owner_id, bench.node),
            owner.status == Status::Pass,
            format!("kube-bench reports {}{}", owner.status.as_str(), seen(&owner)),
        ));
    }
    let node = Api::<Node>::all(client.clone())
        .get_opt(&bench.node)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("reading node {}", bench.node)))?;
    let ready = node
        .as_ref()
        .and_then(|n| n.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").cloned());
    checks.push(match (node, ready) {
        (None, _) => Check::new(format!("node {} is Ready", bench.node), false, "the node is gone"),
        (Some(_), None) => {
            Check::new(format!("node {} is Ready", bench.node), false, "the node reports no Ready condition")
        }
        (Some(_), Some(c)) => Check::new(
            format!("node {} is Ready", bench.node),
            c.status == "True",
            format!("Ready={}{}", c.status, c.message.map(|m| format!(": {m}")).unwrap_or_default()),
        ),
    });
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn bench() -> NodeBench {
        NodeBench { node: "worker-1".into(), image: "busybox:1.36".into(), benchmark: "cis-1.12".into() }
    }

    #[test]
    fn seeds_pick_both_controls_and_name_them_in_the_task() {
        let bench = bench();
        let mut seen = Vec::new();
        for seed in 0..40 {
            let plan = plan(&Context { seed, dir: Path::new("/tmp/x"), bench: Some(&bench), variant: None }).unwrap();
            let control = CONTROLS.iter().find(|c| plan.names["check"] == c.id).unwrap();
            assert!(plan.task.contains(&control.path()) && plan.task.contains("worker-1"), "{}", plan.task);
            assert!(plan.manual.contains(&format!("chmod 600 {}", control.path())), "{}", plan.manual);
            assert_eq!(plan.objects[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged");
            if !seen.contains(&control.id) {
                seen.push(control.id);
            }
        }
        assert_eq!(seen.len(), 2, "both files are drawn: {seen:?}");
        // The node test's two seeds: one each.
        assert_ne!(draw(1).0, draw(2).0);
        assert!(plan(&Context { seed: 1, dir: Path::new("/tmp/x"), bench: None, variant: None }).is_err());
    }

    #[test]
    fn the_helper_reports_the_modes_and_reset_only_restores_its_own_change() {
        assert_eq!(parse_changed("old=600 new=644\n"), Some(("600".into(), "644".into())));
        assert_eq!(parse_changed("/etc/kubernetes/kubelet.conf does not exist\n"), None);
        assert_eq!(parse_changed("old=6x0 new=644\n"), None);
        let script = break_script(&CONTROLS[0]);
        assert!(script.contains("-L") && script.contains("chmod go+r"), "{script}");
        let restore = restore_script(&CONTROLS[1], "600", "644").unwrap();
        assert!(restore.contains("= 644 ]; then chmod 600"), "{restore}");
        // The record is the cluster's: a mode that is not one is never put into a script.
        assert!(restore_script(&CONTROLS[1], "600; rm -rf /", "644").is_err());
        assert!(restore_script(&CONTROLS[1], "600", "").is_err());
        assert!(valid_mode("0600") && !valid_mode("60") && !valid_mode("800"));
    }
}
