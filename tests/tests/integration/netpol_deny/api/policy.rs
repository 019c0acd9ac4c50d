//! `kubectl netpol-deny apply` and `allow` against the real API server: the server accepts what
//! they build, re-running changes nothing, `-o yaml` output re-applies with `kubectl apply -f -`,
//! and bad input fails with exit 2 before anything is sent.

use std::io::Write;
use std::process::{Output, Stdio};

use harden_kube::MANAGED_BY_LABEL;
use harden_tests::fixtures::{g04_allow, g04_example, network_policies, policy_names};
use harden_tests::{cluster, plugin_command, run, stderr, stdout};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

const PLUGIN: &str = "netpol-deny";

fn netpol(args: &[&str]) -> Output {
    run(cluster().plugin(PLUGIN).args(args))
}

async fn label_namespace(ns: &str, labels: serde_json::Value) {
    let api: Api<Namespace> = Api::all(cluster().admin_client().await);
    api.patch(ns, &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": labels}}))).await.unwrap();
}

#[tokio::test]
async fn the_seed_g04_policies_are_two_commands_and_rerunning_changes_nothing() {
    let ns = cluster().namespace("g04").await;
    label_namespace(&ns, json!({"app": "orion"})).await;
    let allow = g04_allow(&ns);

    let out = netpol(&["apply", "-n", &ns, "--ingress"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("networkpolicy.networking.k8s.io/default-deny-ingress created in namespace {ns}\n")
    );
    assert!(!stderr(&out).contains("resolve names"), "no DNS warning when egress stays open");
    let out = netpol(&allow);
    assert_eq!(out.status.code(), Some(0));
    let name = "allow-to-tier-backend-from-ns-app-orion-pod-tier-frontend-tcp-3000";
    assert_eq!(stdout(&out), format!("networkpolicy.networking.k8s.io/{name} created in namespace {ns}\n"));

    let stored = network_policies(&ns).await;
    assert_eq!(policy_names(&stored), [name, "default-deny-ingress"]);
    for p in &stored {
        assert_eq!(p.metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL], "kubectl-netpol-deny");
    }
    let spec = serde_json::to_value(stored[0].spec.as_ref().unwrap()).unwrap();
    assert_eq!(
        spec,
        json!({
            "podSelector": {"matchLabels": {"tier": "backend"}},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"app": "orion"}}, "podSelector": {"matchLabels": {"tier": "frontend"}}}],
                "ports": [{"port": 3000, "protocol": "TCP"}],
            }],
        })
    );
    let deny = serde_json::to_value(stored[1].spec.as_ref().unwrap()).unwrap();
    assert_eq!(deny, json!({"podSelector": {}, "policyTypes": ["Ingress"]}));

    let versions: Vec<_> = stored.iter().map(|p| p.metadata.resource_version.clone()).collect();
    let out = netpol(&["apply", "-n", &ns, "--ingress"]);
    assert_eq!(
        stdout(&out),
        format!("networkpolicy.networking.k8s.io/default-deny-ingress unchanged in namespace {ns}\n")
    );
    let out = netpol(&allow);
    assert_eq!(stdout(&out), format!("networkpolicy.networking.k8s.io/{name} unchanged in namespace {ns}\n"));
    let after: Vec<_> = network_policies(&ns).await.iter().map(|p| p.metadata.resource_version.clone()).collect();
    assert_eq!(after, versions, "re-running wrote nothing");
}

#[tokio::test]
async fn offline_yaml_reapplies_with_real_kubectl() {
    let ns = cluster().namespace("offline").await;
    let mut texts = Vec::new();
    for args in [
        vec!["apply", "-n", &ns, "--egress", "--allow-dns"],
        vec![
            "allow",
            "-n",
            &ns,
            "--to",
            "app=web",
            "--from-cidr",
            "10.0.0.0/8,fd00::/8",
            "--except",
            "10.9.0.0/16",
            "--port",
            "8000-8080,http/TCP,53/UDP",
        ],
        vec![
            "allow",
            "-n",
            &ns,
            "--egress",
            "--from",
            "app=web",
            "--to-namespace",
            "env in (prod,staging)",
            "--to-pod",
            "!legacy",
            "--port",
            "5432",
        ],
    ] {
        // No kubeconfig at all: a client dry run must not need a cluster.
        let out = run(plugin_command(PLUGIN).args(&args).args(["-o", "yaml", "--dry-run=client"]));
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        texts.push(stdout(&out));
    }
    let yaml = texts.join("---\n");
    let mut child = cluster()
        .kubectl()
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kubectl apply failed: {}\n{yaml}", stderr(&out));
    assert_eq!(stdout(&out).lines().filter(|l| l.ends_with(" created")).count(), 4, "{}", stdout(&out));

    let stored = network_policies(&ns).await;
    assert_eq!(
        policy_names(&stored),
        [
            "allow-egress-to-kube-dns",
            "allow-from-app-web-to-ns-env-in-prod-staging-pod-no-legacy-tcp-5432",
            "allow-to-app-web-from-cidr-10.0.0.0-8-except-10.9.0.0-16-cidr-fd00-8-tcp-8000-8080-tcp-http-udp-53",
            "default-deny-egress",
        ]
    );
    let web = serde_json::to_value(stored[2].spec.as_ref().unwrap()).unwrap();
    assert_eq!(web["ingress"][0]["from"][0]["ipBlock"], json!({"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}));
    assert_eq!(web["ingress"][0]["ports"][0], json!({"port": 8000, "endPort": 8080, "protocol": "TCP"}));
    assert_eq!(web["ingress"][0]["ports"][1], json!({"port": "http", "protocol": "TCP"}));
}

#[tokio::test]
async fn denying_egress_without_dns_warns_and_with_dns_adds_the_dns_policy_everywhere() {
    let a = cluster().namespace("egress-a").await;
    let b = cluster().namespace("egress-b").await;
    let both = format!("{a},{b}");
    let out = netpol(&["apply", "-n", &both, "--egress"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("Warning: denying egress without --allow-dns"), "{}", stderr(&out));
    assert!(stderr(&out).contains(&a) && stderr(&out).contains(&b));

    let out = netpol(&["apply", "-n", &a, "-n", &b, "--egress", "--allow-dns"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("Warning"), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches("default-deny-egress unchanged").count(), 2, "{}", stdout(&out));
    assert_eq!(stdout(&out).matches("allow-egress-to-kube-dns created").count(), 2, "{}", stdout(&out));
    for ns in [&a, &b] {
        assert_eq!(policy_names(&network_policies(ns).await), ["allow-egress-to-kube-dns", "default-deny-egress"]);
    }
}

#[tokio::test]
// The guard is held on purpose across awaits: each test has a runtime and a thread of its own, and
// no other test may lock a namespace until this one is done.
#[allow(clippy::await_holding_lock)]
async fn namespace_selector_and_all_namespaces_pick_namespaces_from_the_cluster() {
    let a = cluster().namespace("sel-a").await;
    let b = cluster().namespace("sel-b").await;
    let c = cluster().namespace("sel-c").await;
    label_namespace(&a, json!({"netpol-sel-test": "yes"})).await;
    label_namespace(&b, json!({"netpol-sel-test": "yes"})).await;
    let out = netpol(&["apply", "--namespace-selector", "netpol-sel-test=yes", "--name", "deny-everything"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(policy_names(&network_policies(&a).await), ["deny-everything"]);
    assert_eq!(policy_names(&network_policies(&b).await), ["deny-everything"]);
    assert!(network_policies(&c).await.is_empty());
    let spec = network_policies(&a).await[0].spec.clone().unwrap();
    assert_eq!(spec.policy_types.unwrap(), ["Ingress", "Egress"], "neither flag denies both directions");

    // -A skips kube-system unless it is named; a server dry run stores nothing.
    // A name of its own, so that the dry run never meets the policies of tests running alongside.
    let probe = ["--ingress", "--name", "all-namespaces-probe", "--dry-run=server", "-o", "json"];
    let _no_locks = cluster().writing_to_all_namespaces();
    let out = netpol(&[&["apply", "-A"][..], &probe].concat());
    assert_eq!(out.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let namespaces: Vec<&str> =
        list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["namespace"].as_str().unwrap()).collect();
    assert!(namespaces.contains(&c.as_str()) && namespaces.contains(&"default"), "{namespaces:?}");
    assert!(!namespaces.contains(&"kube-system"), "{namespaces:?}");
    assert!(network_policies(&c).await.is_empty(), "a server dry run stores nothing");
    let out = netpol(&[&["apply", "-A", "-n", "kube-system"][..], &probe].concat());
    assert!(
        stdout(&out).contains("\"namespace\": \"kube-system\""),
        "exit {:?}\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    assert!(network_policies("kube-system").await.is_empty());

    let out = netpol(&["apply", "--namespace-selector", "netpol-sel-test=nobody", "--dry-run=server"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no namespace matches the selector netpol-sel-test=nobody"), "{}", stderr(&out));
}

#[tokio::test]
async fn policies_we_did_not_create_are_left_alone() {
    let ns = cluster().namespace("theirs").await;
    let api: Api<NetworkPolicy> = Api::namespaced(cluster().admin_client().await, &ns);
    let theirs: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "default-deny-ingress"},
        "spec": {"podSelector": {"matchLabels": {"only": "these"}}, "policyTypes": ["Ingress"]},
    }))
    .unwrap();
    api.create(&PostParams::default(), &theirs).await.unwrap();
    let out = netpol(&["apply", "-n", &ns, "--ingress"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not created by kubectl-netpol-deny"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--overwrite"), "{}", stderr(&out));
    let stored = api.get("default-deny-ingress").await.unwrap();
    assert_eq!(stored.spec.unwrap().pod_selector.unwrap().match_labels.unwrap()["only"], "these");
}

#[tokio::test]
async fn the_server_accepts_an_egress_allow_to_cidrs_and_a_missing_namespace_is_a_clear_error() {
    let ns = cluster().namespace("egress-cidr").await;
    let out = netpol(&[
        "allow",
        "-n",
        &ns,
        "--egress",
        "--from",
        "",
        "--to-cidr",
        "0.0.0.0/0",
        "--to-cidr",
        "::/0",
        "--except",
        "169.254.169.254/32,fd00:ec2::254/128",
        "--name",
        "no-metadata",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stored = network_policies(&ns).await;
    let spec = serde_json::to_value(stored[0].spec.as_ref().unwrap()).unwrap();
    assert_eq!(
        spec["egress"][0]["to"],
        json!([
            {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}},
            {"ipBlock": {"cidr": "::/0", "except": ["fd00:ec2::254/128"]}},
        ])
    );
    assert_eq!(spec["podSelector"], json!({}));

    let out = netpol(&["allow", "-n", "no-such-namespace-here", "--to", "a=b"]);
    assert_eq!(out.status.code(), Some(2), "a namespace that does not exist is invalid input (issue 32)");
    assert!(stderr(&out).contains("no-such-namespace-here"), "{}", stderr(&out));
}

#[test]
fn bad_input_exits_2_before_contacting_anything() {
    let cases: [(&[&str], &str); 8] = [
        (&["allow", "-n", "x", "--to", "tier=back end"], "invalid label selector"),
        (&["allow", "-n", "x", "--to", "a=b", "--from-namespace", "env in (a"], "--from-namespace"),
        (&["allow", "-n", "x", "--to", "a=b", "--from-cidr", "10.0.0.0/40"], "invalid --from-cidr"),
        (&["allow", "-n", "x", "--to", "a=b", "--from-cidr", "10.0.0.0/8", "--except", "172.16.0.0/12"], "--except"),
        (&["allow", "-n", "x", "--to", "a=b", "--port", "0"], "invalid --port"),
        (&["allow", "-n", "x", "--to", "a=b", "--port", "80/ICMP"], "TCP, UDP or SCTP"),
        (&["allow", "-n", "x"], "missing required --to"),
        (&["apply", "-n", "x", "--namespace-selector", "=x"], "invalid label selector"),
    ];
    for (args, expected) in cases {
        // Pointing at a server that does not exist proves nothing was sent: the error is about the input.
        let out = run(plugin_command(PLUGIN).args(args).env("KUBECONFIG", "/nonexistent"));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    let out = run(plugin_command(PLUGIN).args(["allow", "-n", "a", "-n", "b", "--to", "x=y", "--dry-run"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("one namespace"), "{}", stderr(&out));
}

/// The spec (and namespace) of a policy printed by a command or stored in a file.
fn spec_of(yaml: &str) -> (serde_json::Value, serde_json::Value) {
    let value: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
    (value["metadata"]["namespace"].clone(), value["spec"].clone())
}

#[test]
fn the_shipped_g04_example_is_what_apply_and_allow_print() {
    let dir = g04_example();
    let cases: [(&str, &[&str]); 2] = [
        ("default-deny-ingress.yaml", &["apply", "-n", "g04", "--ingress"]),
        ("backend-ingress.yaml", &g04_allow("g04")),
    ];
    for (file, args) in cases {
        let shipped = std::fs::read_to_string(dir.join(file)).unwrap();
        let out = run(plugin_command(PLUGIN).args(args).args(["--dry-run", "-o", "yaml"]));
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(spec_of(&stdout(&out)), spec_of(&shipped), "{file}");
    }
}

#[tokio::test]
async fn live_g04_scenario_frontend_reaches_backend_and_other_does_not() {
    let ns = cluster().namespace("g04").await;
    let other_ns = cluster().namespace("g04-other").await;
    label_namespace(&ns, json!({"app": "orion"})).await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(cluster().admin_client().await, &ns);
    let others: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(cluster().admin_client().await, &other_ns);
    let pod = |name: &str, tier: &str, port: Option<i32>| {
        let ports = port.map(|p| json!([{"containerPort": p}])).unwrap_or(json!([]));
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"tier": tier}},
            "spec": {"containers": [{"name": "c", "image": "alpine", "ports": ports}]}}))
        .unwrap()
    };
    pods.create(&PostParams::default(), &pod("backend", "backend", Some(3000))).await.unwrap();
    pods.create(&PostParams::default(), &pod("frontend", "frontend", None)).await.unwrap();
    others.create(&PostParams::default(), &pod("other", "outside", None)).await.unwrap();

    let reach = |from: String| {
        let to = format!("{ns}/backend");
        run(cluster().plugin(PLUGIN).args(["can-reach", "--from", &from, "--to", &to, "--port", "3000"]))
    };
    assert_eq!(reach(format!("{other_ns}/other")).status.code(), Some(0), "before any policy all is allowed");

    assert_eq!(netpol(&["apply", "-n", &ns, "--ingress"]).status.code(), Some(0));
    let allow = g04_allow(&ns);
    assert_eq!(netpol(&allow).status.code(), Some(0));

    let out = reach(format!("{ns}/frontend"));
    assert_eq!(out.status.code(), Some(0), "frontend -> backend:3000 is allowed");
    assert!(
        stdout(&out).contains("allow-to-tier-backend-from-ns-app-orion-pod-tier-frontend-tcp-3000"),
        "{}",
        stdout(&out)
    );
    let out = reach(format!("{other_ns}/other"));
    assert_eq!(out.status.code(), Some(1), "other -> backend is denied");
    assert!(stdout(&out).contains("default-deny-ingress"), "{}", stdout(&out));
}

/// Issue 21's silent widening: a flag of the other direction was dropped and `ingress: [{}]` written.
#[test]
fn allow_from_without_egress_is_refused_not_widened() {
    let out = run(plugin_command(PLUGIN).args([
        "allow",
        "-n",
        "g04",
        "--from",
        "tier=frontend",
        "--to",
        "tier=backend",
        "--dry-run",
        "-o",
        "yaml",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "", "nothing is printed to apply");
    assert!(stderr(&out).contains("--from does not apply to an ingress rule"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean --from-pod"), "{}", stderr(&out));
}

/// Issue 21's silent widening: `--to-cidr` without `--egress` allowed every source on the port.
#[test]
fn allow_to_cidr_without_egress_is_refused_not_widened() {
    let out = run(plugin_command(PLUGIN).args([
        "allow",
        "-n",
        "g04",
        "--to",
        "tier=backend",
        "--to-cidr",
        "10.0.0.0/8",
        "--port",
        "3000",
        "--dry-run",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("--to-cidr does not apply"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean --from-cidr"), "{}", stderr(&out));
}

/// `list` names every policy and which this plugin made; `delete` removes only those.
#[tokio::test]
async fn list_and_delete_touch_only_what_the_plugin_made() {
    let ns = cluster().namespace("manage").await;
    let api: Api<NetworkPolicy> = Api::namespaced(cluster().admin_client().await, &ns);
    let foreign: NetworkPolicy =
        serde_json::from_value(json!({"metadata": {"name": "theirs"}, "spec": {"podSelector": {}}})).unwrap();
    api.create(&PostParams::default(), &foreign).await.unwrap();
    assert_eq!(netpol(&["apply", "-n", &ns, "--ingress"]).status.code(), Some(0));

    let out = netpol(&["list", "-n", &ns, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let managed: Vec<(String, bool)> = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["managed"].as_bool().unwrap()))
        .collect();
    assert_eq!(managed, [("default-deny-ingress".to_string(), true), ("theirs".to_string(), false)]);

    let refused = netpol(&["delete", "theirs", "-n", &ns]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stdout(&refused).contains("theirs refused"), "{}", stdout(&refused));
    let out = netpol(&["delete", "--all-managed", "-n", &ns]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("networkpolicy.networking.k8s.io/default-deny-ingress deleted in namespace {ns}\n")
    );
    assert_eq!(policy_names(&network_policies(&ns).await), ["theirs"]);
}

/// `diff` against the live cluster: what a default-deny would cut, before it is applied.
#[tokio::test]
async fn diff_says_what_a_change_would_cut() {
    let ns = cluster().namespace("diff").await;
    let pods = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(cluster().admin_client().await, &ns);
    for (name, tier) in [("web", "frontend"), ("api", "backend")] {
        let pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"tier": tier}},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]},
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deny.yaml");
    std::fs::write(
        &file,
        format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: {ns}}}\nspec: {{podSelector: {{}}}}\n"),
    )
    .unwrap();
    let out = run(cluster().plugin(PLUGIN).args(["diff", "-n", &ns, "--port", "8080", "--apply"]).arg(&file));
    assert_eq!(out.status.code(), Some(1), "changes are a finding: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("- {ns}/web -> {ns}/api on 8080/TCP")), "{text}");
    assert!(text.contains("2 connection(s) removed, 0 added"), "{text}");
    assert!(network_policies(&ns).await.is_empty(), "diff changes nothing");
}
