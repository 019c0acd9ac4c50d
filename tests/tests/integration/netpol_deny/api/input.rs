//! What the NetworkPolicy engine reads, through the real plugin binaries (netpol-deny and
//! block-metadata): every object of `-f` files, folding that never merges owners, objects of kinds
//! the engine does not model making every verdict incomplete (from files, and live: the cluster
//! tier's real CRDs on a control plane of their own), objects whose type is not certain and objects
//! the API server refuses getting no verdict (each case sent to the real API server too), and the
//! budgets of size and depth checked before anything is parsed.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use harden_tests::fixtures::{g04_example, offline};
use harden_tests::{ControlPlane, cluster, plugin_command, run, stderr, stdout};
use serde_json::Value;

fn netpol(args: &[&str]) -> Output {
    offline("netpol-deny", args)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn pod(ns: &str, name: &str, labels: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {labels}}}\n\
         spec: {{containers: [{{name: c, image: busybox, ports: [{{containerPort: 80}}]}}]}}\n"
    )
}

/// The seed's g04 scenario with both policies, as one file.
fn g04() -> String {
    let root = g04_example();
    ["g04.yaml", "default-deny-ingress.yaml", "backend-ingress.yaml"]
        .iter()
        .map(|f| format!("---\n{}", std::fs::read_to_string(root.join(f)).unwrap()))
        .collect()
}

/// A kind that decides traffic and that the engine does not model (Cilium's cluster-wide policy).
const UNMODELLED: &str = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: deny-all}\n\
                          spec: {endpointSelector: {}, ingressDeny: [{fromEntities: [all]}]}\n";

/// The cluster tier's kind, which the engine models: denies ingress from every namespace.
const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: deny-all}\n\
                   spec: {priority: 10, subject: {namespaces: {}}, ingress: [{name: deny, action: Deny, from: [{namespaces: {}}]}]}\n";

/// Issue 25: with -f and no -n, kube-system pods were dropped from the matrix.
#[test]
fn f_without_n_means_every_pod_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "pods.yaml",
        &(pod("kube-system", "dns", "{k8s-app: kube-dns}") + &pod("shop", "web", "{app: web}")),
    );
    let out = netpol(&["matrix", "-f", &file, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let names: Vec<String> = json(&out)["pods"].as_array().unwrap().iter().map(|p| p["name"].to_string()).collect();
    assert_eq!(names, ["\"kube-system/dns\"", "\"shop/web\""]);
    // -n narrows, as given; -A leaves kube-system out, as it does live.
    let out = netpol(&["matrix", "-f", &file, "-n", "shop", "-o", "json"]);
    assert_eq!(json(&out)["pods"].as_array().unwrap().len(), 1);
    let out = netpol(&["matrix", "-f", &file, "-A", "-o", "json"]);
    assert_eq!(json(&out)["pods"][0]["name"], "shop/web");
    assert_eq!(json(&out)["pods"].as_array().unwrap().len(), 1);
}

/// Issue 25: hostNetwork pods of two DaemonSets were folded into one "(+1 alike)" row with no owner.
#[test]
fn folding_never_merges_pods_of_different_owners() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::new();
    for (owner, pod) in
        [("agent-a", "agent-a-1"), ("agent-a", "agent-a-2"), ("agent-b", "agent-b-1"), ("agent-b", "agent-b-2")]
    {
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\n  namespace: nodes\n  labels: {{tier: node}}\n\
             \x20 ownerReferences: [{{apiVersion: apps/v1, kind: DaemonSet, name: {owner}, uid: u-{owner}, controller: true}}]\n\
             spec: {{hostNetwork: true, containers: [{{name: c, image: busybox}}]}}\n"
        ));
    }
    // Pods without an owner that no policy tells apart still fold, as documented.
    yaml.push_str(&pod("nodes", "loose-1", "{tier: loose}"));
    yaml.push_str(&pod("nodes", "loose-2", "{tier: loose}"));
    let file = write(dir.path(), "daemonsets.yaml", &yaml);
    let out = netpol(&["matrix", "-f", &file, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    let rows: Vec<(String, Value)> = doc["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["owner"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            ("nodes/agent-a (2 pods)".to_string(), Value::from("DaemonSet/agent-a")),
            ("nodes/agent-b (2 pods)".to_string(), Value::from("DaemonSet/agent-b")),
            ("nodes/loose-1 (+1 alike)".to_string(), Value::Null),
        ]
    );
    let out = netpol(&["who-can-reach", "nodes/loose-1", "-f", &file, "-o", "json"]);
    let doc = json(&out);
    let sources: Vec<&str> = doc["sources"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(sources.contains(&"nodes/agent-a (2 pods)") && sources.contains(&"nodes/agent-b (2 pods)"), "{sources:?}");
}

/// Issue 25: an AdminNetworkPolicy in the files was skipped with a warning and the verdict exited 0
/// as if it did not exist. The cluster tier is modelled now (issue 28); a kind the engine does not
/// model makes every verdict command say it is incomplete and exit 2; the same files without it
/// give a complete answer.
#[test]
fn unmodelled_kinds_in_files_make_every_verdict_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let complete = write(dir.path(), "g04.yaml", &g04());
    let with_anp = write(dir.path(), "g04-cilium.yaml", &format!("{}---\n{UNMODELLED}", g04()));
    let with_tier = write(dir.path(), "g04-anp.yaml", &format!("{}---\n{ANP}", g04()));
    let calico = write(
        dir.path(),
        "calico.yaml",
        "apiVersion: crd.projectcalico.org/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: deny-all}\nspec: {selector: all(), types: [Ingress]}\n",
    );
    let policy = write(
        dir.path(),
        "allow.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all, namespace: g04}\nspec: {podSelector: {}, ingress: [{}]}\n",
    );
    let pair = ["--from", "g04/frontend", "--to", "g04/backend", "--port", "3000"];
    let commands: Vec<Vec<&str>> = vec![
        [&["can-reach"][..], &pair, &["-o", "json"]].concat(),
        vec!["matrix", "--port", "3000", "-o", "json"],
        vec!["who-can-reach", "g04/backend", "-o", "json"],
        vec!["reachable-from", "g04/frontend", "-o", "json"],
        vec!["diff", "--apply", &policy, "--port", "3000", "-o", "json"],
    ];
    for command in &commands {
        let (name, rest) = command.split_first().unwrap();
        let with_file = |file: &str| {
            let mut args = vec![*name, "-f", file];
            args.extend_from_slice(rest);
            netpol(&args)
        };
        let out = with_file(&complete);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{command:?}: {}", stderr(&out));
        assert_eq!(json(&out)["complete"], true, "{command:?}");
        assert_eq!(json(&out)["unmodelled"], serde_json::json!([]), "{command:?}");
        let out = with_file(&with_anp);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {}", stderr(&out));
        let doc = json(&out);
        assert_eq!(doc["complete"], false, "{command:?}");
        assert_eq!(doc["unmodelled"][0]["kind"], "CiliumClusterwideNetworkPolicy", "{command:?}");
        assert_eq!(doc["unmodelled"][0]["object"], "deny-all", "{command:?}");
        assert!(stderr(&out).contains("the answer is incomplete"), "{command:?}: {}", stderr(&out));
        // The cluster tier decides, and the answer is complete.
        let out = with_file(&with_tier);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{command:?}: {}", stderr(&out));
        assert_eq!(json(&out)["complete"], true, "{command:?}");
    }
    let out = netpol(&[&["can-reach", "-f", &with_tier][..], &pair].concat());
    assert_eq!(out.status.code(), Some(1), "the AdminNetworkPolicy denies: {}", stdout(&out));
    assert!(stdout(&out).starts_with("denied: g04/frontend -> g04/backend"), "{}", stdout(&out));
    assert!(stdout(&out).contains("adminnetworkpolicy/deny-all"), "{}", stdout(&out));
    // can-reach's verdict word and JSON: no "allowed" while something unmodelled may deny it.
    let out = netpol(&[&["can-reach", "-f", &complete, "-f", &calico][..], &pair].concat());
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.starts_with("INCOMPLETE: 1 object(s) of kinds the engine does not model"), "{text}");
    assert!(text.contains("GlobalNetworkPolicy deny-all (crd.projectcalico.org/v1)"), "{text}");
    assert!(text.contains("unknown (the NetworkPolicies allow it): g04/frontend -> g04/backend"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("allowed:")), "{text}");
    let out = netpol(&[&["can-reach", "-f", &with_anp, "-o", "json"][..], &pair].concat());
    let doc = json(&out);
    assert_eq!((doc["allowed"].clone(), doc["networkPoliciesAllow"].clone()), (Value::Null, Value::Bool(true)));
    // The table and the diff's text say it first.
    let out = netpol(&["matrix", "-f", &with_anp, "--port", "3000"]);
    assert!(stdout(&out).starts_with("INCOMPLETE: "), "{}", stdout(&out));
    let out = netpol(&["diff", "-f", &complete, "--apply", &with_anp, "--port", "3000"]);
    assert_eq!(out.status.code(), Some(2), "an --apply file with an unmodelled kind: {}", stderr(&out));
    assert!(stdout(&out).starts_with("INCOMPLETE: "), "{}", stdout(&out));
}

/// Issue 32: a Calico NetworkPolicyList whose items lack apiVersion was read as Kubernetes
/// NetworkPolicies, and its Deny rule became "allowed from every peer".
#[test]
fn objects_whose_type_is_not_certain_are_refused_never_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let pods =
        write(dir.path(), "pods.yaml", &(pod("shop", "web", "{app: web}") + &pod("shop", "client", "{app: client}")));
    let items = "items:\n- metadata: {name: deny-web, namespace: shop}\n  \
                 spec: {selector: app == 'web', types: [Ingress], ingress: [{action: Deny, source: {selector: all()}}]}\n";
    let typed = write(
        dir.path(),
        "calico.yaml",
        &format!("apiVersion: projectcalico.org/v3\nkind: NetworkPolicyList\n{items}"),
    );
    let untyped = write(dir.path(), "calico-no-version.yaml", &format!("kind: NetworkPolicyList\n{items}"));
    let plain = write(
        dir.path(),
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- {kind: NetworkPolicy, metadata: {name: x, namespace: shop}, spec: {podSelector: {}}}\n",
    );
    let ask = |file: &str| netpol(&["can-reach", "-f", &pods, "-f", file, "--from", "shop/client", "--to", "shop/web"]);
    let out = ask(&typed);
    assert_eq!(out.status.code(), Some(2), "Calico's policy is not modelled: {}", stdout(&out));
    assert!(stdout(&out).contains("NetworkPolicy shop/deny-web (projectcalico.org/v3)"), "{}", stdout(&out));
    assert!(!stdout(&out).starts_with("allowed"), "{}", stdout(&out));
    let out = ask(&untyped);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "no verdict: {}", stdout(&out));
    assert!(stderr(&out).contains("NetworkPolicyList: apiVersion: Required value"), "{}", stderr(&out));
    let out = ask(&plain);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("items[0]: NetworkPolicy \"x\": apiVersion: Required value"), "{}", stderr(&out));
}

/// Issue 32: `diff --apply` of an empty file, a FIFO or a file of another kind answered "no
/// connection changes", exit 0.
#[test]
fn diff_apply_of_nothing_the_engine_reads_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let before = write(dir.path(), "g04.yaml", &g04());
    let empty = write(dir.path(), "empty.yaml", "");
    let configmap =
        write(dir.path(), "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n");
    let fifo = dir.path().join("fifo.yaml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for apply in [empty.as_str(), configmap.as_str(), fifo.to_str().unwrap()] {
        let out = netpol(&["diff", "-f", &before, "--apply", apply, "--port", "3000"]);
        assert_eq!(out.status.code(), Some(2), "{apply}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("the --apply files hold no Namespace, Pod, workload or NetworkPolicy"),
            "{}",
            stderr(&out)
        );
        assert!(!stdout(&out).contains("no connection"), "{}", stdout(&out));
    }
    // A real change is still a diff.
    let deny = write(
        dir.path(),
        "deny.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-egress, namespace: g04}\nspec: {podSelector: {}, policyTypes: [Egress]}\n",
    );
    let out = netpol(&["diff", "-f", &before, "--apply", &deny, "--port", "3000"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// Each case: an object the API server refuses, and the field the error must name.
const REFUSED: [(&str, &str); 9] = [
    (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"\", namespace: NS}\nspec: {containers: [{name: c, image: busybox}]}\n",
        "metadata.name: Required value",
    ),
    (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: Web_1, namespace: NS}\nspec: {containers: [{name: c, image: busybox}]}\n",
        "metadata.name: Invalid value: \"Web_1\"",
    ),
    (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: NS}\nspec: {containers: []}\n",
        "spec.containers: Required value",
    ),
    (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: NS}\nspec: {containers: [{name: c, image: busybox, ports: [{name: web, containerPort: 80}, {name: web, containerPort: 81}]}]}\n",
        "spec.containers[0].ports[1].name: Duplicate value",
    ),
    (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: NS}\nspec: {containers: [{name: c, image: busybox}, {name: c, image: busybox}]}\n",
        "spec.containers[1].name: Duplicate value",
    ),
    (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: NS}\nspec: {containers: [{name: c}]}\n",
        "spec.containers[0].image: Required value",
    ),
    (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: NS}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}\n",
        "spec.policyTypes: Invalid value",
    ),
    (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, namespace: NS}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c, image: busybox}]}}}\n",
        "spec.template.metadata.labels: Invalid value",
    ),
    (
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a.b, namespace: NS}\nspec: {selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, image: busybox}]}}}\n",
        "metadata.name: Invalid value: \"a.b\"",
    ),
];

/// Objects the API server takes, close to the refused ones: the engine must take them too.
const TAKEN: [&str; 4] = [
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web-0.a, namespace: NS, labels: {app: web}}\nspec: {containers: [{name: c, image: busybox, ports: [{name: web, containerPort: 80}]}, {name: d, image: busybox, ports: [{name: web, containerPort: 81}]}]}\n",
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: NS}\nspec: {podSelector: {}, policyTypes: [Ingress, Ingress]}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, namespace: NS}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web, version: \"1\"}}, spec: {containers: [{name: c, image: busybox}]}}}\n",
    "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: NS}\nspec: {schedule: \"@daily\", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}\n",
];

/// Issue 32: files with objects the API server refuses got a verdict with exit 0. Each case is
/// refused by the engine with its field named, and by the real API server (a server-side dry
/// run); each object it takes, the engine takes.
#[tokio::test]
async fn objects_the_api_server_refuses_get_no_verdict() {
    let ns = cluster().namespace("netpol-valid").await;
    let dir = tempfile::tempdir().unwrap();
    let client = write(dir.path(), "client.yaml", &pod(&ns, "client", "{app: client}"));
    for (i, (object, field)) in REFUSED.iter().enumerate() {
        let object = object.replace("NS", &ns);
        let file = write(dir.path(), &format!("refused-{i}.yaml"), &object);
        let out = netpol(&["matrix", "-f", &client, "-f", &file]);
        assert_eq!(out.status.code(), Some(2), "{object}");
        assert!(stdout(&out).is_empty(), "no verdict: {}", stdout(&out));
        assert!(stderr(&out).contains(field), "{object}\n=> {}", stderr(&out));
        let server = run(cluster().kubectl().args(["create", "--dry-run=server", "-f", &file]));
        assert!(!server.status.success(), "the API server refuses it too: {object}");
    }
    for (i, object) in TAKEN.iter().enumerate() {
        let object = object.replace("NS", &ns);
        let file = write(dir.path(), &format!("taken-{i}.yaml"), &object);
        let server = run(cluster().kubectl().args(["create", "--dry-run=server", "-f", &file]));
        assert!(server.status.success(), "the API server takes it: {object}{}", stderr(&server));
        let out = netpol(&["matrix", "-f", &client, "-f", &file]);
        assert_eq!(out.status.code(), Some(0), "{object}\n=> {}", stderr(&out));
    }
}

/// Issue 32: three files whose sum exceeds the 256 MiB budget were read before being refused, and
/// 488 KiB of nested flow mappings took 105 s before the parser refused them. Both are refused
/// before anything is parsed, with what was over the budget.
#[test]
fn budgets_are_checked_before_reading_and_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..3 {
        // Sparse: 90 MiB each that take no disk; read and parsed, their NUL bytes would be a syntax error.
        let path = dir.path().join(format!("big-{i}.yaml"));
        std::fs::File::create(&path).unwrap().set_len(90 << 20).unwrap();
        files.push(path.display().to_string());
    }
    let args: Vec<&str> = ["matrix"].into_iter().chain(files.iter().flat_map(|f| ["-f", f.as_str()])).collect();
    let out = netpol(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the -f files are too large: 270 MiB together, more than 256 MiB; nothing was read"),
        "{}",
        stderr(&out)
    );
    let nested =
        write(dir.path(), "nested.yaml", &format!("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "{a: ".repeat(5000)));
    let out = netpol(&["matrix", "-f", &nested]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nested.yaml: line 3: collections nest more than 100 deep; refused before parsing"),
        "{}",
        stderr(&out)
    );
    let out = offline("block-metadata", &["status", "-f", &nested]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("refused before parsing"), "{}", stderr(&out));
}

/// Issue 25 for block-metadata: the status of files with a kind the engine does not model is incomplete
/// (exit 2, `complete: false`), not a finding or a pass; without it, the same files' finding.
#[test]
fn block_metadata_status_from_files_is_incomplete_with_unmodelled_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let pods = write(
        dir.path(),
        "pods.yaml",
        &(pod("a12", "web", "{app: web}") + &pod("kube-system", "agent", "{app: agent}")),
    );
    let anp = write(dir.path(), "cilium.yaml", UNMODELLED);
    let out = offline("block-metadata", &["status", "-f", &pods, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "an unprotected pod: {}", stderr(&out));
    let doc = json(&out);
    assert_eq!((doc["complete"].clone(), doc["namespaces"].as_array().unwrap().len()), (Value::Bool(true), 1));
    assert!(stderr(&out).contains("kube-system is left out"), "{}", stderr(&out));
    let out = offline("block-metadata", &["status", "-f", &pods, "-f", &anp, "-o", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["complete"], false);
    assert_eq!(doc["unmodelled"][0]["kind"], "CiliumClusterwideNetworkPolicy");
    let out = offline("block-metadata", &["status", "-f", &pods, "-f", &anp]);
    assert!(stdout(&out).starts_with("INCOMPLETE: 1 object(s)"), "{}", stdout(&out));
}

/// Issues 25 and 28, live: with the cluster tier's real CRDs (sigs.k8s.io/network-policy-api) and one
/// object of each kind, every verdict is complete (the engine reads and models them from the API
/// server); a kind the engine does not model (a CRD of Cilium's cluster-wide policy here) makes
/// every verdict incomplete, its CRD alone does not. On a control plane of its own: a cluster-wide
/// policy would change every other test's answer.
#[test]
fn live_cluster_tier_objects_are_modelled_and_other_kinds_make_every_verdict_incomplete() {
    let plane = ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let kubectl =
        |args: &[&str]| run(Command::new("kubectl").env("KUBECONFIG", &kubeconfig).stdin(Stdio::null()).args(args));
    let plugin = |name: &str, args: &[&str]| run(plugin_command(name).env("KUBECONFIG", &kubeconfig).args(args));
    let dir = tempfile::tempdir().unwrap();
    let objects = write(
        dir.path(),
        "shop.yaml",
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n{}{}",
            pod("shop", "web", "{app: web}"),
            pod("shop", "client", "{app: client}")
        ),
    );
    assert!(kubectl(&["apply", "-f", &objects]).status.success());
    let verdicts = |expected: Option<i32>, unmodelled: Option<&str>| {
        let allow = write(
            dir.path(),
            "allow.yaml",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
        );
        let runs = [
            ("netpol-deny", vec!["can-reach", "--from", "shop/client", "--to", "shop/web", "-o", "json"]),
            ("netpol-deny", vec!["matrix", "-n", "shop", "-o", "json"]),
            ("netpol-deny", vec!["who-can-reach", "shop/web", "-o", "json"]),
            ("netpol-deny", vec!["reachable-from", "shop/client", "-n", "shop", "-o", "json"]),
            ("netpol-deny", vec!["diff", "-n", "shop", "--apply", allow.as_str(), "-o", "json"]),
            ("block-metadata", vec!["status", "-n", "shop", "-o", "json"]),
        ];
        for (name, args) in runs {
            let out = plugin(name, &args);
            let doc = json(&out);
            match unmodelled {
                None => {
                    assert!(matches!(out.status.code(), Some(0 | 1)), "{args:?}: {}", stderr(&out));
                    assert_eq!(doc["complete"], true, "{args:?}");
                }
                Some(kind) => {
                    assert_eq!(out.status.code(), expected, "{args:?}: {}", stderr(&out));
                    assert_eq!(doc["complete"], false, "{args:?}");
                    assert_eq!(doc["unmodelled"][0]["kind"], kind, "{args:?}");
                    assert_eq!(doc["unmodelled"][0]["source"], "the cluster", "{args:?}");
                }
            }
        }
    };
    verdicts(None, None);
    harden_tests::install_cluster_tier_crds_into(&kubeconfig);
    verdicts(None, None);
    let objects = [
        ("AdminNetworkPolicy", "adminnetworkpolicy/deny-all", ANP.to_string()),
        (
            "BaselineAdminNetworkPolicy",
            "baselineadminnetworkpolicy/default",
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n\
             spec: {subject: {namespaces: {}}, ingress: [{name: deny, action: Deny, from: [{namespaces: {}}]}]}\n"
                .to_string(),
        ),
        (
            "ClusterNetworkPolicy",
            "clusternetworkpolicy/admin-tier",
            "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: admin-tier}\n\
             spec: {tier: Admin, priority: 10, subject: {namespaces: {}}}\n"
                .to_string(),
        ),
    ];
    for (kind, resource, yaml) in objects {
        let file = write(dir.path(), "tier.yaml", &yaml);
        let created = kubectl(&["create", "-f", &file]);
        assert!(created.status.success(), "{kind}: {}", stderr(&created));
        verdicts(None, None);
        let out = plugin("netpol-deny", &["can-reach", "--from", "shop/client", "--to", "shop/web"]);
        assert!(!stdout(&out).starts_with("INCOMPLETE"), "{kind}: {}", stdout(&out));
        assert!(kubectl(&["delete", resource]).status.success());
    }
    // The AdminNetworkPolicy read from the API server decides: denied, and named.
    let file = write(dir.path(), "anp.yaml", ANP);
    assert!(kubectl(&["create", "-f", &file]).status.success());
    let out = plugin("netpol-deny", &["can-reach", "--from", "shop/client", "--to", "shop/web"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("denied: shop/client -> shop/web"), "{}", stdout(&out));
    assert!(stdout(&out).contains("adminnetworkpolicy/deny-all"), "{}", stdout(&out));
    assert!(kubectl(&["delete", "adminnetworkpolicy/deny-all"]).status.success());

    let crd = write(
        dir.path(),
        "cilium-crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
         metadata: {name: ciliumclusterwidenetworkpolicies.cilium.io}\n\
         spec:\n  group: cilium.io\n  scope: Cluster\n\
         \x20 names: {kind: CiliumClusterwideNetworkPolicy, plural: ciliumclusterwidenetworkpolicies, singular: ciliumclusterwidenetworkpolicy, listKind: CiliumClusterwideNetworkPolicyList}\n\
         \x20 versions:\n  - name: v2\n    served: true\n    storage: true\n\
         \x20   schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n",
    );
    assert!(kubectl(&["apply", "-f", &crd]).status.success());
    assert!(kubectl(&["wait", "--for=condition=Established", "--timeout=60s", "-f", &crd]).status.success());
    verdicts(None, None);
    let file = write(dir.path(), "cilium.yaml", UNMODELLED);
    let created = kubectl(&["create", "-f", &file]);
    assert!(created.status.success(), "{}", stderr(&created));
    verdicts(Some(2), Some("CiliumClusterwideNetworkPolicy"));
    let out = plugin("netpol-deny", &["can-reach", "--from", "shop/client", "--to", "shop/web"]);
    assert!(stdout(&out).starts_with("INCOMPLETE: "), "{}", stdout(&out));
    assert!(!stdout(&out).lines().any(|l| l.starts_with("allowed:")), "{}", stdout(&out));
    plane.kill();
}
