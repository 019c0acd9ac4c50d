//! `kubectl block-metadata` against the real API server: apply to several namespaces, re-apply
//! unchanged, server dry runs store nothing, the refusal where egress is already restricted,
//! `status` on the seed's a12 example, and `remove` leaving other policies alone.

use std::process::Output;

use harden_kube::MANAGED_BY_LABEL;
use harden_tests::fixtures::{network_policies, policy_names};
use harden_tests::{ControlPlane, cluster, plugin_command, run, stderr, stdout};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, PostParams};
use serde_json::json;

const PLUGIN: &str = "block-metadata";

fn block(args: &[&str]) -> Output {
    run(cluster().plugin(PLUGIN).args(args))
}

async fn create_policy(ns: &str, value: serde_json::Value) {
    let api: Api<NetworkPolicy> = Api::namespaced(cluster().admin_client().await, ns);
    api.create(&PostParams::default(), &serde_json::from_value(value).unwrap()).await.unwrap();
}

async fn create_pod(ns: &str, name: &str) {
    let api: Api<Pod> = Api::namespaced(cluster().admin_client().await, ns);
    let pod = json!({"metadata": {"name": name, "labels": {"app": name}},
                     "spec": {"containers": [{"name": "c", "image": "alpine"}]}});
    api.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
}

#[tokio::test]
async fn apply_to_several_namespaces_then_unchanged_and_server_dry_run_stores_nothing() {
    let a = cluster().namespace("bm-a").await;
    let b = cluster().namespace("bm-b").await;
    let both = format!("{a},{b}");

    let out = block(&["apply", "-n", &both, "--dry-run=server"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!(
            "networkpolicy.networking.k8s.io/block-metadata created in namespace {a} (server dry run)\n\
             networkpolicy.networking.k8s.io/block-metadata created in namespace {b} (server dry run)\n"
        )
    );
    assert!(
        network_policies(&a).await.is_empty() && network_policies(&b).await.is_empty(),
        "a server dry run stores nothing"
    );

    let out = block(&["apply", "-n", &both]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!(
            "networkpolicy.networking.k8s.io/block-metadata created in namespace {a}\n\
             networkpolicy.networking.k8s.io/block-metadata created in namespace {b}\n"
        )
    );
    for ns in [&a, &b] {
        let stored = network_policies(ns).await;
        assert_eq!(policy_names(&stored), ["block-metadata"]);
        assert_eq!(stored[0].metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL], "kubectl-block-metadata");
        let spec = serde_json::to_value(stored[0].spec.as_ref().unwrap()).unwrap();
        assert_eq!(spec["policyTypes"], json!(["Egress"]));
        assert_eq!(spec["egress"][0]["to"][0]["ipBlock"]["cidr"], "0.0.0.0/0");
        assert!(
            spec["egress"][0]["to"][0]["ipBlock"]["except"].as_array().unwrap().contains(&json!("169.254.169.254/32"))
        );
        assert!(
            spec["egress"][0]["to"][1]["ipBlock"]["except"].as_array().unwrap().contains(&json!("fd00:ec2::254/128"))
        );
    }
    let version = network_policies(&a).await[0].metadata.resource_version.clone();

    let out = block(&["apply", "-n", &both]);
    assert_eq!(
        stdout(&out),
        format!(
            "networkpolicy.networking.k8s.io/block-metadata unchanged in namespace {a}\n\
             networkpolicy.networking.k8s.io/block-metadata unchanged in namespace {b}\n"
        )
    );
    assert_eq!(network_policies(&a).await[0].metadata.resource_version, version);

    // A change in a server dry run is reported but not stored.
    let out = block(&["apply", "-n", &a, "--azure-wire-server", "--dry-run=server", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("168.63.129.16/32"), "{}", stdout(&out));
    let stored = serde_json::to_string(&network_policies(&a).await[0].spec).unwrap();
    assert!(!stored.contains("168.63.129.16"), "{stored}");
    assert_eq!(network_policies(&a).await[0].metadata.resource_version, version);
}

#[tokio::test]
async fn seed_a12_status_is_clean_after_apply_and_names_a_policy_that_reopens_egress() {
    let ns = cluster().namespace("a12").await;
    create_pod(&ns, "web").await;

    let out = block(&["status", "-n", &ns]);
    assert_eq!(out.status.code(), Some(1), "before apply the pod reaches the endpoints");
    assert!(stdout(&out).contains("no NetworkPolicy restricts its egress"), "{}", stdout(&out));

    // The finding's fix is a command line of this plugin; followed to the letter, it closes the finding.
    let out = block(&["status", "-n", &ns, "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let fix = report["findings"][0]["fix"].as_str().unwrap().to_string();
    let words: Vec<&str> = fix.split_whitespace().collect();
    assert_eq!(words[..2], ["kubectl", "block-metadata"], "{fix}");
    let out = block(&words[2..]);
    assert_eq!(out.status.code(), Some(0));
    let out = block(&["status", "-n", &ns]);
    assert_eq!(out.status.code(), Some(0), "after apply no pod can reach an endpoint");
    assert!(stdout(&out).contains("none of its 1 pod(s) can reach"), "{}", stdout(&out));

    create_policy(
        &ns,
        json!({"metadata": {"name": "allow-all-egress"},
               "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}}),
    )
    .await;
    let out = block(&["status", "-n", &ns]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("allow-all-egress egress[0]: any destination, all ports"), "{}", stdout(&out));
    let out = block(&["status", "-n", &ns, "-o", "json", "--cloud", "aws"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["reachable"], true);
    let reach = &report["namespaces"][0]["reachable"][0];
    assert_eq!(reach["pod"], "web");
    assert_eq!(reach["allowedBy"][0]["policy"], "allow-all-egress");
    // The shared report shape (issue 26): the finding names the pod and the rule; -o yaml is the same.
    let finding = &report["findings"][0];
    assert_eq!((finding["severity"].as_str(), finding["object"].as_str()), (Some("high"), Some("pod/web")));
    assert!(finding["message"].as_str().unwrap().contains("networkpolicy/allow-all-egress egress[0]"), "{finding}");
    let yaml = block(&["status", "-n", &ns, "-o", "yaml", "--cloud", "aws"]);
    let yaml: serde_json::Value = serde_yaml::from_str(&stdout(&yaml)).unwrap();
    assert_eq!(yaml["findings"], report["findings"]);

    // The same objects offline give the same verdict.
    let dump = run(cluster().kubectl().args(["get", "pods,networkpolicies", "-n", &ns, "-o", "yaml"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a12.yaml");
    std::fs::write(&file, stdout(&dump)).unwrap();
    let out = run(plugin_command(PLUGIN).args(["status", "-n", &ns, "-f"]).arg(&file));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("allow-all-egress"), "{}", stdout(&out));
}

#[tokio::test]
async fn apply_refuses_where_egress_is_already_denied_unless_forced() {
    let ns = cluster().namespace("bm-deny").await;
    let safe = cluster().namespace("bm-safe").await;
    create_policy(
        &ns,
        json!({"metadata": {"name": "default-deny-egress"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}),
    )
    .await;
    let out = block(&["apply", "-n", &format!("{ns},{safe}")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("namespace {ns} (networkpolicy default-deny-egress)")), "{err}");
    assert!(err.contains("`except`") && err.contains("--force"), "{err}");
    assert_eq!(
        policy_names(&network_policies(&ns).await),
        ["default-deny-egress"],
        "nothing added where it would widen egress"
    );
    assert_eq!(policy_names(&network_policies(&safe).await), ["block-metadata"], "the safe namespace got its policy");

    let out = block(&["apply", "-n", &ns, "--force"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(policy_names(&network_policies(&ns).await), ["block-metadata", "default-deny-egress"]);
}

#[tokio::test]
async fn remove_deletes_only_our_policies() {
    let ns = cluster().namespace("bm-remove").await;
    create_policy(
        &ns,
        json!({"metadata": {"name": "theirs"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
    )
    .await;
    assert_eq!(block(&["apply", "-n", &ns, "--name", "no-imds", "--cloud", "aws,gcp"]).status.code(), Some(0));
    assert_eq!(policy_names(&network_policies(&ns).await), ["no-imds", "theirs"]);

    let out = block(&["remove", "-n", &ns, "--dry-run=server"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("\"no-imds\" deleted from namespace"), "{}", stdout(&out));
    assert_eq!(policy_names(&network_policies(&ns).await), ["no-imds", "theirs"]);

    let out = block(&["remove", "-n", &ns]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("networkpolicy.networking.k8s.io \"no-imds\" deleted from namespace {ns}\n"));
    assert_eq!(policy_names(&network_policies(&ns).await), ["theirs"]);

    let out = block(&["remove", "-n", &ns]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("No policies created by kubectl-block-metadata found"), "{}", stderr(&out));
}

#[tokio::test]
// The guard is held on purpose across awaits: each test has a runtime and a thread of its own, and
// no other test may lock a namespace until this one is done.
#[allow(clippy::await_holding_lock)]
async fn all_namespaces_skips_kube_system() {
    let ns = cluster().namespace("bm-all").await;
    let _no_locks = cluster().writing_to_all_namespaces();
    let out = block(&["apply", "-A", "--force", "--name", "all-namespaces-probe", "--dry-run=server", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(&format!("\"namespace\": \"{ns}\"")));
    assert!(!stdout(&out).contains("\"namespace\": \"kube-system\""));
    assert!(network_policies(&ns).await.is_empty());
}

#[test]
fn bad_input_exits_2() {
    let cases: [(&[&str], &str); 5] = [
        (&["apply", "-n", "x", "--block", "169.254.169.256"], "invalid --block"),
        (&["apply", "-n", "x", "--block", "10.0.0.1/8"], "did you mean 10.0.0.0/8"),
        (&["apply", "-n", "x", "--cloud", "ibm"], "invalid value 'ibm'"),
        (&["status", "-n", "x", "--cloud", "aws,nope"], "invalid value 'nope'"),
        (&["apply", "-n", "x", "--name", "Bad_Name"], "invalid --name"),
    ];
    for (args, expected) in cases {
        let out = run(plugin_command(PLUGIN).args(args).env("KUBECONFIG", "/nonexistent"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    // A client dry run needs no cluster and prints the seed's policy (with IPv6 kept open).
    let out = run(plugin_command(PLUGIN).args(["apply", "-n", "a12", "--cloud", "azure", "-o", "yaml", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0));
    let policy: NetworkPolicy = serde_yaml::from_str(&stdout(&out)).unwrap();
    let spec = serde_json::to_value(policy.spec.unwrap()).unwrap();
    assert_eq!(
        spec["egress"][0]["to"],
        json!([{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}, {"ipBlock": {"cidr": "::/0"}}])
    );
    assert!(stderr(&out).contains("check for policies that already restrict egress was skipped"), "{}", stderr(&out));
}

#[tokio::test]
async fn status_all_namespaces_reads_the_cluster_once_and_skips_kube_system() {
    let ns = cluster().namespace("bm-status-all").await;
    create_pod(&ns, "probe").await;
    let out = block(&["status", "-A", "--cloud", "aws", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> =
        report["namespaces"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert!(names.contains(&ns.as_str()) && !names.contains(&"kube-system"), "{names:?}");
    let ours = report["namespaces"].as_array().unwrap().iter().find(|n| n["name"] == ns.as_str()).unwrap();
    assert_eq!(ours["pods"], 1);
    assert_eq!(ours["reachable"].as_array().unwrap().len(), 4, "one pod, two endpoints, two ports");
    assert_eq!(out.status.code(), Some(1), "an unprotected pod means a finding");
}

/// Issue 28, live: `apply --cluster-wide` refuses where the cluster does not serve
/// ClusterNetworkPolicy (no CRD created, and `status` does not call anything protected); with the
/// real CRDs of network-policy-api v0.3.0 every variant is accepted by their schema and CEL rules;
/// an Admin Accept of the endpoint at an earlier priority is a refusal (with --force, a warning);
/// and `status` reads the stored block back: a namespace whose NetworkPolicy allows all egress is
/// protected by it. On a control plane of its own: a cluster-wide policy would change every other
/// test's answer.
#[test]
fn apply_cluster_wide_is_an_admin_deny_no_namespace_policy_widens() {
    let plane = ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let kubectl = |args: &[&str]| {
        run(std::process::Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .stdin(std::process::Stdio::null())
            .args(args))
    };
    let plugin = |args: &[&str]| run(plugin_command(PLUGIN).env("KUBECONFIG", &kubeconfig).args(args));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: [{name: c, image: alpine}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all-egress, namespace: shop}\n\
         spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}\n",
    )
    .unwrap();
    assert!(kubectl(&["apply", "-f", file.to_str().unwrap()]).status.success());

    let refused = plugin(&["apply", "--cluster-wide"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("does not serve ClusterNetworkPolicy"), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("never installs CRDs"), "{}", stderr(&refused));
    assert!(!stdout(&kubectl(&["get", "crd", "-o", "name"])).contains("policy.networking.k8s.io"));
    // Not protected: the namespace's policy allows everything and there is no cluster block.
    let status = plugin(&["status", "-n", "shop", "--cloud", "aws"]);
    assert_eq!(status.status.code(), Some(1), "{}", stdout(&status));
    assert!(!stdout(&status).contains("blocked by"), "{}", stdout(&status));

    harden_tests::install_cluster_tier_crds_into(&kubeconfig);

    let variants: [&[&str]; 4] = [
        &[],
        &["--azure-wire-server", "--block", "192.0.2.0/24", "--block", "2001:db8::1"],
        &["-n", "kube-system", "--priority", "0", "--name", "no-imds"],
        &["--cloud", "openstack", "--priority", "1000"],
    ];
    for variant in variants {
        let mut args = vec!["apply", "--cluster-wide", "--dry-run=server"];
        args.extend_from_slice(variant);
        let out = plugin(&args);
        assert_eq!(out.status.code(), Some(0), "{variant:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("created (server dry run)"), "{variant:?}: {}", stdout(&out));
    }

    // An Admin Accept of 169.254.169.254 at priority 5 would undo a block at 10: refused.
    std::fs::write(
        &file,
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: open-imds}\n\
         spec:\n  tier: Admin\n  priority: 5\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}\n\
         \x20 egress: [{name: imds, action: Accept, to: [{networks: [169.254.169.254/32]}]}]\n",
    )
    .unwrap();
    assert!(kubectl(&["apply", "-f", file.to_str().unwrap()]).status.success());
    let refused = plugin(&["apply", "--cluster-wide", "--cloud", "aws"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("clusternetworkpolicy/open-imds egress[0] (Accept, priority 5)"),
        "{}",
        stderr(&refused)
    );
    assert!(!stdout(&refused).contains("created"), "{}", stdout(&refused));
    // Before it, the block is not undone.
    let first = plugin(&["apply", "--cluster-wide", "--cloud", "aws", "--priority", "4", "--dry-run=server"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let forced = plugin(&["apply", "--cluster-wide", "--cloud", "aws", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(stderr(&forced).contains("would undo the block"), "{}", stderr(&forced));
    assert_eq!(
        stdout(&forced).trim(),
        "clusternetworkpolicy.policy.networking.k8s.io/block-metadata created",
        "{}",
        stderr(&forced)
    );

    // The engine reads the stored block: shop's allow-all NetworkPolicy does not widen it.
    let status = plugin(&["status", "-n", "shop", "--cloud", "aws"]);
    assert_eq!(status.status.code(), Some(0), "{}{}", stdout(&status), stderr(&status));
    assert!(
        stdout(&status).contains(
            "namespace shop: none of its 1 pod(s) can reach the 2 metadata endpoint(s) on TCP 80 or 443 \
             (blocked by clusternetworkpolicy/block-metadata (Admin tier, priority 10) egress rule 0"
        ),
        "{}",
        stdout(&status)
    );
}

/// Issue 29, on the API server: `endpoints` lists the nodes with their roles and addresses, the
/// Services that open node ports, the pods on the node's network, and which node address and
/// port the engine lets each namespace's pods reach; an egress policy allowing only the API server
/// leaves only that. Bad input (an unknown namespace or node, ports out of range, a node without
/// addresses) is a clear error, exit 2. On a control plane of its own: its Node objects would
/// change every other test's node list.
#[test]
fn endpoints_inventory_and_the_engines_answer_per_namespace() {
    let plane = ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let kubectl = |args: &[&str], input: &str| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("objects.yaml");
        std::fs::write(&file, input).unwrap();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-f", file.to_str().unwrap()]);
        run(std::process::Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .stdin(std::process::Stdio::null())
            .args(all))
    };
    let plugin = |args: &[&str]| run(plugin_command(PLUGIN).env("KUBECONFIG", &kubeconfig).args(args));
    let objects = "\
apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---
apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: c, image: alpine}]}\n---
apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: shop, labels: {app: db}}\nspec: {containers: [{name: c, image: alpine}]}\n---
apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: kube-system}\nspec: {hostNetwork: true, containers: [{name: c, image: alpine}]}\n---
apiVersion: v1\nkind: Pod\nmetadata: {name: edge, namespace: shop}\nspec: {containers: [{name: c, image: alpine, ports: [{containerPort: 80, hostPort: 8080}]}]}\n---
apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 30080}]}\n---
apiVersion: v1\nkind: Service\nmetadata: {name: inside, namespace: shop}\nspec: {selector: {app: db}, ports: [{port: 5432}]}\n---
apiVersion: v1\nkind: Node\nmetadata: {name: cp, labels: {node-role.kubernetes.io/control-plane: ''}}
status: {addresses: [{type: InternalIP, address: 10.0.0.10}, {type: Hostname, address: cp}], daemonEndpoints: {kubeletEndpoint: {Port: 10250}}}\n---
apiVersion: v1\nkind: Node\nmetadata: {name: w1}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.11}], daemonEndpoints: {kubeletEndpoint: {Port: 10250}}}\n";
    let out = kubectl(&["create"], objects);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = plugin(&["endpoints", "-n", "shop", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let nodes: Vec<String> = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!("{} {} {}", n["name"].as_str().unwrap(), n["roles"], n["addresses"][0]["address"].as_str().unwrap())
        })
        .collect();
    assert_eq!(nodes, [r#"cp ["control-plane"] 10.0.0.10"#, r#"w1 ["<none>"] 10.0.0.11"#]);
    assert_eq!(report["nodes"][0]["addresses"].as_array().unwrap().len(), 1, "the Hostname is not an address");
    assert_eq!(
        report["services"],
        json!([{"namespace": "shop", "name": "web", "type": "NodePort", "nodePorts": [30080]}])
    );
    let host_pods: Vec<String> = report["hostPods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}/{} {} {}",
                p["namespace"].as_str().unwrap(),
                p["name"].as_str().unwrap(),
                p["hostNetwork"],
                p["hostPorts"]
            )
        })
        .collect();
    assert_eq!(host_pods, ["kube-system/agent true []", "shop/edge false [8080]"]);
    let shop = &report["namespaces"][0];
    assert_eq!((shop["namespace"].as_str(), shop["pods"].as_u64()), (Some("shop"), Some(3)));
    // Nine component ports and the NodePort, on each of two nodes: every one open to every pod.
    let reachable = shop["reachable"].as_array().unwrap();
    assert_eq!(reachable.len(), 2 * 10, "{reachable:?}");
    let kubelet = reachable.iter().find(|r| r["address"] == "10.0.0.10" && r["port"] == 10250).unwrap();
    assert_eq!(kubelet["component"], "kubelet");
    assert_eq!(kubelet["pods"], 3);
    assert_eq!(kubelet["why"], "no NetworkPolicy restricts its egress");
    assert!(reachable.iter().any(|r| r["address"] == "10.0.0.11" && r["port"] == 30080));

    // An egress policy allowing only the API server on the control-plane node.
    let policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api-only, namespace: shop}\n\
                  spec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.0.0.10/32}}], ports: [{port: 6443}]}]}\n";
    assert!(kubectl(&["create"], policy).status.success());
    let out = plugin(&["endpoints", "-n", "shop"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("What the policies")).skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[1].starts_with(
            "shop       cp/10.0.0.10:6443  kube-apiserver  3/3   allowed by networkpolicy/api-only egress[0]"
        ),
        "{text}"
    );
    assert!(text.contains("cp    control-plane  10.0.0.10 (InternalIP)  10250"), "{text}");
    assert!(text.contains("shop/web  NodePort  30080/TCP"), "{text}");

    // Bad input: exit 2, saying what is wrong.
    let cases: [(&[&str], &str); 6] = [
        (&["endpoints", "-n", "nope"], "nope"),
        (&["endpoints", "-n", "shop", "--ports", "0"], "invalid port \"0\""),
        (&["endpoints", "-n", "shop", "--ports", "10250,70000"], "a port is a number from 1 to 65535"),
        (&["endpoints", "-n", "shop", "--node", "w9"], "node \"w9\" not found"),
        (&["endpoints", "-n", "shop", "--timeout", "1s"], "--probe"),
        (&["endpoints", "-n", "shop", "--probe", "--from", "here", "--image", "busybox"], "--from here starts none"),
    ];
    for (args, expected) in cases {
        let out = plugin(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    let lost = "apiVersion: v1\nkind: Node\nmetadata: {name: lost}\n";
    assert!(kubectl(&["create"], lost).status.success());
    let out = plugin(&["endpoints", "-n", "shop"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("node lost has no IP address in status.addresses"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing is reported as reachable or not: {}", stdout(&out));
    // The other nodes can still be checked by name.
    assert_eq!(plugin(&["endpoints", "-n", "shop", "--node", "cp,w1"]).status.code(), Some(0));
}

/// Issue 29, on the API server: `endpoints close` applies one egress policy per namespace through
/// the shared apply path (a client dry run prints it; a server dry run stores nothing), after which
/// the engine says the namespace's pods reach no kubelet or etcd port of any node; it is refused
/// where another policy would still let them (policies add up), this plugin's own metadata block
/// included, unless --force; --show-manual prints the policy and host firewall rules and changes
/// nothing. On a control plane of its own (its Node objects).
#[test]
fn endpoints_close_keeps_pods_off_the_nodes_and_refuses_where_policies_add_up() {
    let plane = ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let kubectl = |args: &[&str], input: Option<&str>| {
        let mut command = std::process::Command::new("kubectl");
        command.env("KUBECONFIG", &kubeconfig).stdin(std::process::Stdio::null()).args(args);
        match input {
            Some(text) => harden_tests::run_with_input(command.args(["-f", "-"]), text),
            None => run(&mut command),
        }
    };
    let plugin = |args: &[&str]| run(plugin_command(PLUGIN).env("KUBECONFIG", &kubeconfig).args(args));
    let objects = "\
apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---
apiVersion: v1\nkind: Namespace\nmetadata: {name: blocked}\n---
apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: c, image: alpine}]}\n---
apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: blocked, labels: {app: web}}\nspec: {containers: [{name: c, image: alpine}]}\n---
apiVersion: v1\nkind: Node\nmetadata: {name: cp, labels: {node-role.kubernetes.io/control-plane: ''}}
status: {addresses: [{type: InternalIP, address: 10.0.0.10}]}\n---
apiVersion: v1\nkind: Node\nmetadata: {name: w1}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.11}]}\n";
    let out = kubectl(&["create"], Some(objects));
    assert!(out.status.success(), "{}", stderr(&out));
    let policies = |ns: &str| stdout(&kubectl(&["get", "networkpolicy", "-n", ns, "-o", "name"], None));

    let out = plugin(&["endpoints", "close", "-n", "shop", "--dry-run=client", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let policy: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let egress = &policy["spec"]["egress"];
    let except = &egress[0]["to"][0]["ipBlock"]["except"];
    assert!(except.as_array().unwrap().contains(&json!("10.0.0.10/32")), "{policy:#}");
    assert!(except.as_array().unwrap().contains(&json!("10.0.0.11/32")), "{policy:#}");
    assert!(except.as_array().unwrap().contains(&json!("169.254.169.254/32")), "{policy:#}");
    let last = egress.as_array().unwrap().last().unwrap();
    assert_eq!(last["ports"], json!([{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]), "{policy:#}");
    assert_eq!(egress.as_array().unwrap().len(), 3, "the API server's endpoints on their port: {policy:#}");
    assert_eq!(policies("shop"), "", "a client dry run changes nothing");
    let out = plugin(&["endpoints", "close", "-n", "shop", "--dry-run=server"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(policies("shop"), "", "a server dry run stores nothing");

    let out = plugin(&["endpoints", "close", "-n", "shop"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(policies("shop").trim(), "networkpolicy.networking.k8s.io/block-node-endpoints");
    let out = plugin(&["endpoints", "-n", "shop", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let reachable: Vec<u64> =
        report["namespaces"][0]["reachable"].as_array().unwrap().iter().map(|r| r["port"].as_u64().unwrap()).collect();
    for port in [10250, 10255, 2379, 2380, 10257, 10259, 10249, 10256] {
        assert!(!reachable.contains(&port), "{port} still reachable: {report:#}");
    }

    // Policies add up: one allowing all egress keeps the nodes open, so close is refused (and
    // changes nothing), with --force applied with a warning.
    let allow_all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all, namespace: shop}\n\
                     spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}\n";
    assert!(kubectl(&["create"], Some(allow_all)).status.success());
    let out = plugin(&["endpoints", "close", "-n", "shop", "--name", "again"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing to apply"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("shop/web reaches 10.0.0.10:10250 (allowed by networkpolicy/allow-all egress[0]"),
        "{}",
        stderr(&out)
    );
    assert!(!policies("shop").contains("again"), "{}", policies("shop"));
    let out = plugin(&["endpoints", "close", "-n", "shop", "--name", "again", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("applying anyway: --force"), "{}", stderr(&out));
    // This plugin's own metadata block allows every address but the metadata endpoints: the same.
    assert_eq!(plugin(&["apply", "-n", "blocked"]).status.code(), Some(0));
    let out = plugin(&["endpoints", "close", "-n", "blocked"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("allowed by networkpolicy/block-metadata egress[0]"), "{}", stderr(&out));
    assert!(stderr(&out).contains("kubectl block-metadata remove"), "{}", stderr(&out));

    let out = plugin(&["endpoints", "close", "-n", "blocked", "--show-manual"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind: NetworkPolicy") && text.contains("kubectl apply -f"), "{text}");
    assert!(text.contains("table inet kube-harden-endpoints"), "{text}");
    assert!(
        text.contains("iptables -A INPUT -p tcp -m multiport --dports 2379,2380,10250 -s 10.0.0.10 -j ACCEPT"),
        "{text}"
    );
    assert!(text.contains("the plugin never changes a node's firewall"), "{text}");
    assert_eq!(
        policies("blocked").trim(),
        "networkpolicy.networking.k8s.io/block-metadata",
        "--show-manual changes nothing"
    );
    let out = plugin(&["endpoints", "close", "-n", "blocked", "--show-manual", "--dry-run=server"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Issue 29: `endpoints close --cluster-wide`, the Admin tier's Deny of the nodes' component ports
/// (all but 6443): refused where the cluster does not serve ClusterNetworkPolicy; with the real CRDs
/// accepted by their schema, after which the engine says no pod reaches a kubelet or etcd port even
/// where a NetworkPolicy allows all egress, while the API server stays reachable; refused where an
/// Admin Accept at an earlier priority would undo it. On a control plane of its own.
#[test]
fn endpoints_close_cluster_wide_is_an_admin_deny_no_namespace_policy_widens() {
    let plane = ControlPlane::start_for_tests().expect("a control plane for this test");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let kubectl = |args: &[&str], input: &str| {
        let mut command = std::process::Command::new("kubectl");
        command.env("KUBECONFIG", &kubeconfig).stdin(std::process::Stdio::null()).args(args);
        harden_tests::run_with_input(command.args(["-f", "-"]), input)
    };
    let plugin = |args: &[&str]| run(plugin_command(PLUGIN).env("KUBECONFIG", &kubeconfig).args(args));
    let objects = "\
apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---
apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: [{name: c, image: alpine}]}\n---
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all, namespace: shop}\n\
spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}\n---
apiVersion: v1\nkind: Node\nmetadata: {name: cp, labels: {node-role.kubernetes.io/control-plane: ''}}
status: {addresses: [{type: InternalIP, address: 10.0.0.10}]}\n";
    assert!(kubectl(&["create"], objects).status.success());
    let out = plugin(&["endpoints", "close", "--cluster-wide"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not serve ClusterNetworkPolicy"), "{}", stderr(&out));
    let out = plugin(&["endpoints", "close", "--cluster-wide", "-n", "shop"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    harden_tests::install_cluster_tier_crds_into(&kubeconfig);
    let out = plugin(&["endpoints", "close", "--cluster-wide", "--dry-run=server"]);
    assert_eq!(out.status.code(), Some(0), "the CRD's schema and rules accept it: {}", stderr(&out));
    // An Admin Accept of every address at an earlier priority would undo it.
    let open = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: open}\n\
                spec: {tier: Admin, priority: 5, subject: {namespaces: {}}, egress: [{name: all, action: Accept, to: [{networks: [0.0.0.0/0]}]}]}\n";
    assert!(kubectl(&["create"], open).status.success());
    let out = plugin(&["endpoints", "close", "--cluster-wide"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("shop/web reaches 10.0.0.10:10250 (clusternetworkpolicy/open (Admin tier, priority 5)"),
        "{}",
        stderr(&out)
    );
    let out = plugin(&["endpoints", "close", "--cluster-wide", "--priority", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = plugin(&["endpoints", "-n", "shop", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let reachable: Vec<u64> =
        report["namespaces"][0]["reachable"].as_array().unwrap().iter().map(|r| r["port"].as_u64().unwrap()).collect();
    assert_eq!(reachable, [6443], "allow-all does not widen the Admin Deny: {report:#}");
}
