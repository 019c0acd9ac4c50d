//! `kubectl dash-user` against the real API server: the created user's rights as the real RBAC
//! authorizer sees them (SubjectAccessReview), its printed token authenticating as the
//! ServiceAccount, admin refused without confirmation, delete/prune removing exactly our objects,
//! the auditor on v2 and v7 dashboard manifests, and bad input.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use base64::Engine;
use harden_tests::fixtures::without_kubeconfig;
use harden_tests::{cluster, plugin_command, plugin_path, repo_root, run, stderr, stdout};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

const PLUGIN: &str = "dash-user";
const MANAGED: &str = "app.kubernetes.io/managed-by=kubectl-dash-user";

fn dash(args: &[&str]) -> Output {
    run(cluster().plugin(PLUGIN).args(args))
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// A client that authenticates with nothing but `token`.
async fn token_client(token: &str) -> kube::Client {
    let c = cluster();
    let ca = base64::engine::general_purpose::STANDARD.encode(c.ca_pem());
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {{server: \"{}\", certificate-authority-data: {ca}}}\n\
         users:\n- name: t\n  user: {{token: \"{token}\"}}\ncontexts:\n- name: t\n  context: {{cluster: t, user: t}}\ncurrent-context: t\n",
        c.server()
    );
    let kubeconfig = Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: Some(PodSpec {
            containers: vec![Container { name: "app".into(), image: Some("nginx".into()), ..Default::default() }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The token's identity, its right to list pods, and its lack of right to delete one.
async fn assert_token_is_the_read_only_user(token: &str, ns: &str, name: &str) {
    let client = token_client(token).await;
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .expect("the token authenticates");
    let user = review.status.unwrap().user_info.unwrap();
    assert_eq!(user.username.as_deref(), Some(format!("system:serviceaccount:{ns}:{name}").as_str()));

    let admin_pods: Api<Pod> = Api::namespaced(cluster().admin_client().await, ns);
    let _ = admin_pods.create(&PostParams::default(), &pod("victim")).await;
    let pods: Api<Pod> = Api::namespaced(client, ns);
    let listed = pods.list(&ListParams::default()).await.expect("the token may list pods");
    assert!(listed.items.iter().any(|p| p.metadata.name.as_deref() == Some("victim")));
    let err = pods.delete("victim", &DeleteParams::default()).await.expect_err("the token must not delete a pod");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 403), "{err}");
    assert!(admin_pods.get_opt("victim").await.unwrap().is_some());
}

#[tokio::test]
async fn create_developer_then_check_shows_list_allowed_and_delete_and_secrets_denied() {
    let c = cluster();
    let ns = c.namespace("dash").await;
    let out = dash(&["create", "developer", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("serviceaccount/developer created"), "{text}");
    assert!(
        text.contains(&format!("clusterrole.rbac.authorization.k8s.io/dash-user:{ns}:developer created")),
        "{text}"
    );
    assert!(text.contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/dash-user:{ns}:developer created")));

    // The stored role was built from discovery: explicit resources, no Secrets, no exec.
    let role = Api::<ClusterRole>::all(c.admin_client().await).get(&format!("dash-user:{ns}:developer")).await.unwrap();
    let rules = role.rules.unwrap();
    let resources: Vec<String> = rules.iter().flat_map(|r| r.resources.clone().unwrap_or_default()).collect();
    for expected in ["pods", "deployments", "pods/log", "customresourcedefinitions"] {
        assert!(resources.iter().any(|r| r == expected), "{expected} missing from {resources:?}");
    }
    for banned in ["secrets", "*", "pods/exec", "nodes/proxy", "serviceaccounts/token"] {
        assert!(!resources.iter().any(|r| r == banned), "{banned} granted: {resources:?}");
    }

    let out = dash(&["check", "developer", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(0), "no dangerous right: {}", stdout(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["user"], format!("system:serviceaccount:{ns}:developer"));
    assert_eq!(doc["dangerousAllowed"], 0);
    let allowed = |scope: &str, resource: &str, verb: &str| {
        doc["answers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["scope"] == scope && a["resource"] == resource && a["verb"] == verb)
            .unwrap_or_else(|| panic!("no answer for {verb} {resource} in {scope}"))["allowed"]
            .as_bool()
            .unwrap()
    };
    for scope in ["cluster-wide", ns.as_str()] {
        assert!(allowed(scope, "pods", "list"), "list pods in {scope}");
        assert!(allowed(scope, "pods", "watch"));
        assert!(allowed(scope, "deployments", "list"));
        for (resource, verb) in [
            ("secrets", "get"),
            ("secrets", "list"),
            ("secrets", "watch"),
            ("pods/exec", "create"),
            ("pods/exec", "get"),
            ("pods/attach", "create"),
            ("pods/portforward", "create"),
            ("serviceaccounts/token", "create"),
            ("roles", "escalate"),
            ("roles", "bind"),
            ("pods", "create"),
            ("deployments", "create"),
            ("jobs", "create"),
            ("*", "*"),
        ] {
            assert!(!allowed(scope, resource, verb), "{verb} {resource} in {scope}");
        }
    }
    assert!(allowed("cluster-wide", "nodes", "list"));
    for (resource, verb) in [("nodes/proxy", "get"), ("users", "impersonate"), ("clusterroles", "bind")] {
        assert!(!allowed("cluster-wide", resource, verb), "{verb} {resource}");
    }

    let out = dash(&["check", "developer", "-n", &ns, "-o", "yaml"]);
    assert_eq!(code(&out), Some(0));
    let yaml: Value = serde_yaml::from_str(&stdout(&out)).unwrap();
    assert_eq!(yaml["answers"], doc["answers"], "yaml and json say the same");

    let out = dash(&["check", "developer", "-n", &ns]);
    let table = stdout(&out);
    let row = |scope: &str, verb: &str, resource: &str| -> String {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().take(3).eq([scope, verb, resource]))
            .unwrap_or_else(|| panic!("no {scope} {verb} {resource} row:\n{table}"));
        line.split_whitespace().nth(3).unwrap().to_string()
    };
    assert_eq!(row("cluster-wide", "list", "pods"), "yes", "{table}");
    assert_eq!(row("cluster-wide", "get", "secrets"), "no", "{table}");
    assert_eq!(row(&ns, "create", "pods/exec"), "no", "{table}");
    assert!(table.contains("No dangerous right is allowed"), "{table}");

    let out = dash(&["list", "-o", "json"]);
    let users: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let me = users.as_array().unwrap().iter().find(|u| u["namespace"] == ns.as_str()).expect("listed");
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str(), me["scope"].as_str()),
        (Some("developer"), Some("read-only"), Some("cluster"))
    );
}

#[tokio::test]
async fn the_printed_token_authenticates_as_the_service_account() {
    let c = cluster();
    let ns = c.namespace("dash").await;
    let out = dash(&["create", "viewer", "-n", &ns, "--duration", "30m"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("Token for serviceaccount")).unwrap_or_else(|| panic!("{text}"));
    assert!(lines[at].contains("valid 30m"), "{text}");
    let token = lines[at + 1].trim();
    assert!(text.contains(&format!("kubectl -n {ns} port-forward svc/")), "login help: {text}");
    assert_token_is_the_read_only_user(token, &ns, "viewer").await;

    // `token` gives a fresh token alone on stdout; so does `create -o token` on a second run.
    let out = dash(&["token", "viewer", "-n", &ns]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let fresh = stdout(&out);
    assert_eq!(fresh.lines().count(), 1, "only the token on stdout: {fresh}");
    assert_ne!(fresh.trim(), token);
    assert!(stderr(&out).contains("port-forward"));
    assert_token_is_the_read_only_user(fresh.trim(), &ns, "viewer").await;

    let out = dash(&["create", "viewer", "-n", &ns, "-o", "token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    assert!(stderr(&out).contains("serviceaccount/viewer unchanged"), "{}", stderr(&out));
    assert_token_is_the_read_only_user(stdout(&out).trim(), &ns, "viewer").await;
}

#[tokio::test]
async fn admin_without_yes_and_without_a_terminal_refuses_and_changes_nothing() {
    let c = cluster();
    let ns = c.namespace("dash").await;
    let out = dash(&["create", "boss", "-n", &ns, "--role", "admin"]);
    assert_eq!(code(&out), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refusing without confirmation") && err.contains("cluster-admin") && err.contains("--yes"),
        "{err}"
    );
    let client = c.admin_client().await;
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("boss").await.unwrap().is_none());
    let binding = format!("dash-user:{ns}:boss");
    assert!(Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&binding).await.unwrap().is_none());

    // An existing ClusterRole that allows everything is cluster-admin by another name.
    let everything = format!("{ns}-everything");
    let role = ClusterRole {
        metadata: ObjectMeta { name: Some(everything.clone()), ..Default::default() },
        rules: Some(vec![k8s_openapi::api::rbac::v1::PolicyRule {
            api_groups: Some(vec!["*".into()]),
            resources: Some(vec!["*".into()]),
            verbs: vec!["*".into()],
            ..Default::default()
        }]),
        aggregation_rule: None,
    };
    Api::<ClusterRole>::all(client.clone()).create(&PostParams::default(), &role).await.unwrap();
    let out = dash(&["create", "boss", "-n", &ns, "--role", &everything]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("which allows everything") && stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("boss").await.unwrap().is_none());

    let out = dash(&["create", "boss", "-n", &ns, "--role", "admin", "--yes", "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let stored = Api::<ClusterRoleBinding>::all(client).get(&binding).await.unwrap();
    assert_eq!(stored.role_ref.name, "cluster-admin");

    // check is a verdict: an admin has every right an attacker looks for.
    let out = dash(&["check", "boss", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("dangerous right(s) allowed: get secrets (cluster-wide)"), "{text}");
    assert!(text.contains("* *.* (cluster-wide)"), "{text}");
}

#[tokio::test]
async fn delete_removes_exactly_what_was_created_and_a_new_scope_prunes_the_old_one() {
    let c = cluster();
    let ns = c.namespace("dash").await;
    let team_a = c.namespace("team").await;
    let team_b = c.namespace("team").await;
    let client = c.admin_client().await;
    let name = format!("dash-user:{ns}:dev");

    assert_eq!(code(&dash(&["create", "dev", "-n", &ns, "--no-token"])), Some(0));
    assert!(Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&name).await.unwrap().is_some());

    // Narrowing the user to two namespaces removes its cluster-wide grant.
    let scope = format!("{team_a},{team_b}");
    let out = dash(&["create", "dev", "-n", &ns, "--namespaces", &scope, "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("pruned"), "{}", stdout(&out));
    assert!(Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&name).await.unwrap().is_none());
    assert!(Api::<ClusterRole>::all(client.clone()).get_opt(&name).await.unwrap().is_none());
    for team in [&team_a, &team_b] {
        assert!(Api::<Role>::namespaced(client.clone(), team).get_opt(&name).await.unwrap().is_some());
        assert!(Api::<RoleBinding>::namespaced(client.clone(), team).get_opt(&name).await.unwrap().is_some());
    }
    let out = dash(&["check", "dev", "-n", &ns, "-o", "json"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let answer = |scope: &str, verb: &str| {
        doc["answers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["scope"] == scope && a["resource"] == "pods" && a["verb"] == verb)
            .unwrap()["allowed"]
            .clone()
    };
    assert_eq!(answer(&team_a, "list"), true);
    assert_eq!(answer("cluster-wide", "list"), false);

    // Objects we did not create stay: a look-alike RoleBinding without our label, another SA.
    let foreign = RoleBinding {
        metadata: ObjectMeta {
            name: Some(format!("{name}-foreign")),
            labels: Some(BTreeMap::from([("dash-user.kube-harden.io/name".to_string(), "dev".to_string())])),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "view".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "dev".into(),
            namespace: Some(ns.clone()),
            api_group: None,
        }]),
    };
    Api::<RoleBinding>::namespaced(client.clone(), &team_a).create(&PostParams::default(), &foreign).await.unwrap();
    let other = ServiceAccount {
        metadata: ObjectMeta { name: Some("other".into()), ..Default::default() },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), &ns).create(&PostParams::default(), &other).await.unwrap();

    // The look-alike names the account: deleting the account would leave it pointing at nothing
    // (ready for the next account of that name), so delete refuses and changes nothing.
    let foreign_name = format!("{name}-foreign");
    let out = dash(&["delete", "dev", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("rolebinding.rbac.authorization.k8s.io/{foreign_name} in namespace {team_a}"))
            && err.contains("nothing was deleted")
            && err.contains("--prune-bindings"),
        "{err}"
    );
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("dev").await.unwrap().is_some());
    assert!(Api::<Role>::namespaced(client.clone(), &team_a).get_opt(&name).await.unwrap().is_some());

    let out = dash(&["delete", "dev", "-n", &ns, "--prune-bindings"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "the foreign binding, 2 rolebindings, 2 roles, 1 serviceaccount: {lines:?}");
    let unique: std::collections::BTreeSet<&&str> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len(), "no line twice: {lines:?}");
    assert!(lines.iter().all(|l| l.contains(" in namespace ")), "every line names its namespace: {lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "rolebinding.rbac.authorization.k8s.io/{foreign_name} deleted in namespace {team_a}"
        ))
    );
    for team in [&team_a, &team_b] {
        assert!(text.contains(&format!("role.rbac.authorization.k8s.io/{name} deleted in namespace {team}")), "{text}");
    }
    assert_eq!(
        lines.last(),
        Some(&format!("serviceaccount/dev deleted in namespace {ns}").as_str()),
        "access goes first"
    );
    for team in [&team_a, &team_b] {
        assert!(Api::<Role>::namespaced(client.clone(), team).get_opt(&name).await.unwrap().is_none());
        assert!(Api::<RoleBinding>::namespaced(client.clone(), team).get_opt(&name).await.unwrap().is_none());
    }
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("dev").await.unwrap().is_none());
    let gone = Api::<RoleBinding>::namespaced(client.clone(), &team_a).get_opt(&foreign_name).await.unwrap();
    assert!(gone.is_none(), "the binding that only named the deleted account is gone");
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("other").await.unwrap().is_some());

    // A ServiceAccount we did not create is left in place, with a clear error.
    let out = dash(&["delete", "other", "-n", &ns]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("not created by kubectl-dash-user"), "{}", stderr(&out));
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("other").await.unwrap().is_some());
    let out = dash(&["delete", "dev", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "deleting twice finds nothing");

    // Nothing of ours is left anywhere for this user.
    let selector = ListParams::default().labels(&format!("{MANAGED},dash-user.kube-harden.io/namespace={ns}"));
    assert!(Api::<RoleBinding>::all(client.clone()).list(&selector).await.unwrap().items.is_empty());
    assert!(Api::<ClusterRoleBinding>::all(client).list(&selector).await.unwrap().items.is_empty());
}

/// Applies a fixture (`v2-insecure.yaml` of the dashboard's, or `headlamp/default.yaml`) to `ns`
/// with the real kubectl.
fn apply_fixture(file: &str, ns: &str) {
    let path =
        if file.contains('/') { format!("tests/fixtures/{file}") } else { format!("tests/fixtures/dashboard/{file}") };
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap().replace("__NS__", ns);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file.replace('/', "-"));
    std::fs::write(&path, text).unwrap();
    let out = run(cluster().kubectl().args(["apply", "-n", ns, "-f"]).arg(&path));
    assert!(out.status.success(), "applying {file}: {}", stderr(&out));
}

#[tokio::test]
async fn audit_reports_each_finding_of_an_insecure_v2_install() {
    let ns = cluster().namespace("dashv2").await;
    apply_fixture("v2-insecure.yaml", &ns);
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("Dashboard v2 in namespace {ns}")), "{text}");
    for expected in [
        "--enable-skip-login",
        "--enable-insecure-login",
        "--insecure-port=9090",
        "--auto-generate-certificates",
        "NodePort Service exposes the dashboard",
        &format!("ServiceAccount {ns}/admin-user is bound to cluster-admin"),
        &format!(
            "ServiceAccount {ns}/developer-user is bound to ClusterRole {ns}-cluster-developer which can read every Secret"
        ),
        "secret/admin-user-token",
        "archived in January 2026",
    ] {
        assert!(text.contains(expected), "{expected:?} not reported:\n{text}");
    }

    let out = dash(&["audit", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let checks: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap()).collect();
    for check in ["enable-skip-login", "enable-insecure-login", "insecure-port", "no-tls", "exposed-service"] {
        assert!(checks.contains(&check), "{check} missing: {checks:?}");
    }
    for check in ["cluster-admin-binding", "reads-all-secrets", "long-lived-token"] {
        assert!(checks.contains(&check), "{check} missing: {checks:?}");
    }

    // -A finds it too, as one of possibly several dashboards.
    let out = dash(&["audit", "-A", "-o", "json"]);
    assert_eq!(code(&out), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report["namespaces"].as_array().unwrap().iter().any(|n| n == ns.as_str()));
}

#[tokio::test]
async fn audit_reports_a_v7_chart_with_a_node_port_http_kong_proxy() {
    let ns = cluster().namespace("dashv7").await;
    apply_fixture("v7-nodeport-http.yaml", &ns);
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("Dashboard v7 (Helm chart) in namespace {ns}")), "{text}");
    for part in [
        "kubernetes-dashboard-api (api)",
        "kubernetes-dashboard-auth (auth)",
        "kubernetes-dashboard-web (web)",
        "kubernetes-dashboard-kong (kong)",
    ] {
        assert!(text.contains(part), "{part} not found:\n{text}");
    }
    assert!(text.contains("service/kubernetes-dashboard-kong-proxy"), "{text}");
    assert!(text.contains("NodePort Service exposes the dashboard"), "{text}");
    assert!(text.contains("plain HTTP on port 80 (target 8000, node port 3"), "{text}");
    assert!(text.contains("kong.proxy.http.enabled=false"), "{text}");
}

#[tokio::test]
async fn audit_of_hardened_installs_exits_0() {
    for file in ["v7-hardened.yaml", "v2-hardened.yaml"] {
        let ns = cluster().namespace("dashok").await;
        apply_fixture(file, &ns);
        let out = dash(&["audit", "-n", &ns]);
        assert_eq!(code(&out), Some(0), "{file}: {}", stdout(&out));
        assert!(stdout(&out).contains("No findings."), "{}", stdout(&out));
        assert!(
            stdout(&out).contains("Notice: Kubernetes Dashboard found"),
            "a notice, not a finding: {}",
            stdout(&out)
        );
    }
}

#[test]
fn bad_input_gives_clear_errors_and_exit_2() {
    // Checked before any cluster is contacted: no kubeconfig at all.
    let home = tempfile::tempdir().unwrap();
    let offline = |args: &[&str]| run(without_kubeconfig(&mut plugin_command(PLUGIN), home.path()).args(args));
    let out = offline(&["create", "Dev_User"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("invalid name \"Dev_User\""), "{}", stderr(&out));
    let out = offline(&["create", "dev", "--duration", "-1h"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("negative"), "{}", stderr(&out));
    let out = offline(&["create", "dev", "--duration", "5m"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("at least 10m"), "{}", stderr(&out));
    let out = offline(&["create"]);
    assert_eq!(code(&out), Some(2), "no terminal: NAME is required");
    assert!(stderr(&out).contains("NAME"), "{}", stderr(&out));
    let out = offline(&["create", "dev", "--namespaces", "Team_A"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("invalid namespace \"Team_A\""), "{}", stderr(&out));

    // admin with a client dry run needs no cluster and shows the binding it would make.
    let out = offline(&["create", "boss", "--role", "admin", "--dry-run=client", "-o", "yaml"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("name: cluster-admin") && text.contains("kind: ClusterRoleBinding"), "{text}");
    assert!(text.contains("app.kubernetes.io/managed-by: kubectl-dash-user"), "{text}");
}

#[tokio::test]
async fn unknown_cluster_role_is_a_clear_error() {
    let ns = cluster().namespace("dash").await;
    let out = dash(&["create", "dev", "-n", &ns, "--role", "no-such-role"]);
    assert_eq!(code(&out), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("ClusterRole \"no-such-role\" does not exist") && err.contains("kubectl get clusterroles"),
        "{err}"
    );
    // Issue 32: a namespace that does not exist is invalid input (exit 2), for actions as for verdicts.
    let out = dash(&["create", "dev", "-n", "no-such-namespace"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("namespace \"no-such-namespace\" does not exist"), "{}", stderr(&out));
    let out = dash(&["audit", "-n", "no-such-namespace"]);
    assert_eq!(code(&out), Some(2), "an audit of nothing is an error, not a clean verdict");
    assert!(stderr(&out).contains("namespace \"no-such-namespace\" does not exist"), "{}", stderr(&out));
    let out = dash(&["check", "nobody", "-n", &ns]);
    assert_eq!(code(&out), Some(2), "check is a verdict: an error is 2");
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

/// The plugin in a pseudo-terminal (util-linux `script`), so that it asks its questions.
struct Terminal {
    child: Child,
    input: Option<ChildStdin>,
    output: Receiver<Vec<u8>>,
    seen: String,
}

impl Terminal {
    fn start(args: &[&str]) -> Self {
        let line = format!("{} {}", plugin_path(PLUGIN).display(), args.join(" "));
        let mut child = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("KUBECONFIG", cluster().admin_kubeconfig())
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("util-linux `script` runs the wizard in a pseudo-terminal; install util-linux");
        let mut stdout = child.stdout.take().unwrap();
        let (sender, output) = channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let input = child.stdin.take();
        Self { child, input, output, seen: String::new() }
    }

    /// Waits until the terminal shows `text`, then types `keys`.
    fn answer(&mut self, text: &str, keys: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes).replace('\r', "")),
                Err(_) => panic!("the terminal never showed {text:?}; it showed:\n{}", self.seen),
            }
        }
        let input = self.input.as_mut().unwrap();
        input.write_all(keys.as_bytes()).unwrap();
        input.flush().unwrap();
    }

    /// Waits for the plugin to exit; returns its exit code and everything the terminal showed.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        drop(self.input.take());
        while let Ok(bytes) = self.output.recv_timeout(Duration::from_secs(5)) {
            self.seen.push_str(&String::from_utf8_lossy(&bytes).replace('\r', ""));
        }
        eprintln!("-- terminal (exit {:?})\n{}", status.code(), self.seen);
        (status.code(), self.seen)
    }
}

const DOWN: &str = "\x1b[B";

#[tokio::test]
async fn without_a_name_a_terminal_gets_a_wizard_for_name_role_scope_and_duration() {
    let c = cluster();
    let ns = c.namespace("dash").await;
    let team = c.namespace("team").await;
    let mut terminal = Terminal::start(&["create", "-n", &ns]);
    terminal.answer("Name of the dashboard user", "wiz\r");
    terminal.answer("Role", "\r");
    terminal.answer("Scope", &format!("{DOWN}\r"));
    terminal.answer("Namespaces", &format!("{team}\r"));
    terminal.answer("Token valid for", "\r");
    let (code, screen) = terminal.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains(&format!("rolebinding.rbac.authorization.k8s.io/dash-user:{ns}:wiz created")), "{screen}");
    assert!(screen.contains("Token for serviceaccount") && screen.contains("valid 1h"), "{screen}");
    let client = c.admin_client().await;
    let name = format!("dash-user:{ns}:wiz");
    assert!(Api::<RoleBinding>::namespaced(client.clone(), &team).get_opt(&name).await.unwrap().is_some());
    assert!(Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&name).await.unwrap().is_none());

    // Picking admin in the wizard asks for confirmation; answering no changes nothing.
    let mut terminal = Terminal::start(&["create", "-n", &ns]);
    terminal.answer("Name of the dashboard user", "boss\r");
    terminal.answer("Role", &format!("{DOWN}\r"));
    terminal.answer("Scope", "\r");
    terminal.answer("Token valid for", "\r");
    terminal.answer("cluster-admin", "n");
    let (code, screen) = terminal.finish();
    assert_eq!(code, Some(1), "{screen}");
    assert!(screen.contains("cancelled; nothing was changed"), "{screen}");
    assert!(Api::<ServiceAccount>::namespaced(client, &ns).get_opt("boss").await.unwrap().is_none());
}

#[tokio::test]
async fn server_dry_run_validates_everything_and_stores_nothing() {
    let c = cluster();
    let ns = c.namespace("dash").await;
    let out = dash(&["create", "dry", "-n", &ns, "--dry-run=server"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("serviceaccount/dry created in namespace {ns} (server dry run)")), "{text}");
    assert!(text.contains(&format!(
        "clusterrolebinding.rbac.authorization.k8s.io/dash-user:{ns}:dry created (server dry run)"
    )));
    assert!(!text.contains("Token for"), "no token in a dry run: {text}");
    let client = c.admin_client().await;
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("dry").await.unwrap().is_none());
    assert!(Api::<ClusterRole>::all(client).get_opt(&format!("dash-user:{ns}:dry")).await.unwrap().is_none());
}

/// The plugin with no kubeconfig at all (and a HOME without one): it must not try to connect.
fn offline(home: &std::path::Path, args: &[&str]) -> Output {
    run(without_kubeconfig(&mut plugin_command(PLUGIN), home).args(args))
}

/// The (group, resource, verb) atoms of the rules of the objects of kind `kind` in a JSON List.
fn rule_atoms(list: &Value, kind: &str) -> std::collections::BTreeSet<(String, String, String)> {
    let mut atoms = std::collections::BTreeSet::new();
    for item in list["items"].as_array().unwrap().iter().filter(|i| i["kind"] == kind) {
        for rule in item["rules"].as_array().unwrap() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        atoms.insert((
                            g.as_str().unwrap().into(),
                            r.as_str().unwrap().into(),
                            v.as_str().unwrap().into(),
                        ));
                    }
                }
            }
        }
    }
    atoms
}

#[tokio::test]
async fn offline_yaml_needs_no_cluster_applies_on_a_real_server_and_grants_no_secrets() {
    let c = cluster();
    let ns = c.namespace("offline").await;
    let home = tempfile::tempdir().unwrap();
    let out = offline(home.path(), &["create", "developer-user", "-n", &ns, "--dry-run=client", "-o", "yaml"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("built from the built-in resources of Kubernetes 1.37"), "{err}");
    assert!(err.contains("no cluster was contacted"), "{err}");
    let yaml = stdout(&out);
    assert!(yaml.contains("dash-user.kube-harden.io/resources-from: built-in Kubernetes 1.37"), "{yaml}");

    // The real API server accepts it as it is (server-side dry run: validated, nothing stored).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let applied = run(c.kubectl().args(["apply", "--dry-run=server", "-f"]).arg(&file));
    assert!(applied.status.success(), "{}", stderr(&applied));
    let applied = stdout(&applied);
    assert!(applied.contains("serviceaccount/developer-user created (server dry run)"), "{applied}");
    assert!(applied.contains(&format!("clusterrole.rbac.authorization.k8s.io/dash-user:{ns}:developer-user created")));

    // No Secrets, tokens or actions in it.
    let docs: Vec<Value> =
        serde_yaml::Deserializer::from_str(&yaml).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect();
    let list = serde_json::json!({ "items": docs });
    let atoms = rule_atoms(&list, "ClusterRole");
    assert!(atoms.len() > 200, "{}", atoms.len());
    for (_, resource, verb) in &atoms {
        assert!(["get", "list", "watch"].contains(&verb.as_str()), "{verb} {resource}");
        for banned in
            ["secrets", "serviceaccounts/token", "pods/exec", "pods/attach", "pods/portforward", "nodes/proxy", "*"]
        {
            assert_ne!(resource, banned);
        }
    }
    // Applied for real, the account may read pods and not Secrets.
    let applied = run(c.kubectl().args(["apply", "-f"]).arg(&file));
    assert!(applied.status.success(), "{}", stderr(&applied));
    let out = dash(&["check", "developer-user", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let answer = |resource: &str, verb: &str| {
        doc["answers"].as_array().unwrap().iter().any(|a| {
            a["scope"] == "cluster-wide" && a["resource"] == resource && a["verb"] == verb && a["allowed"] == true
        })
    };
    assert!(answer("pods", "list") && !answer("secrets", "get") && !answer("secrets", "list"));
}

/// The built-in list (k8s-openapi's v1_37) is what the test API server (v1.37) serves, for every
/// built-in group: the offline role and the one built from live discovery grant the same.
#[tokio::test]
async fn the_offline_role_matches_live_discovery_for_built_in_groups() {
    let ns = cluster().namespace("builtin").await;
    let home = tempfile::tempdir().unwrap();
    let out = offline(home.path(), &["create", "x", "-n", &ns, "--dry-run=client", "-o", "json"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let builtin = rule_atoms(&serde_json::from_str(&stdout(&out)).unwrap(), "ClusterRole");
    let out = dash(&["create", "x", "-n", &ns, "--dry-run=server", "-o", "json"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("built from the cluster's discovery"), "{}", stderr(&out));
    let discovered = rule_atoms(&serde_json::from_str(&stdout(&out)).unwrap(), "ClusterRole");
    let groups: std::collections::BTreeSet<&String> = builtin.iter().map(|(g, _, _)| g).collect();
    // Other tests may add CustomResourceDefinitions: only built-in groups are compared.
    let served: std::collections::BTreeSet<_> =
        discovered.iter().filter(|(g, _, _)| groups.contains(g)).cloned().collect();
    let missing: Vec<_> = served.difference(&builtin).collect();
    let extra: Vec<_> = builtin.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "served but not built in: {missing:?}\nbuilt in but not served: {extra:?}"
    );
}

/// The seed's developer-user: an account bound by hand to cluster-developer (get/list/watch on
/// everything, so every Secret). Taking it over moves it to the least-privilege role and prunes the
/// old binding; then Secrets are denied and audit has nothing to say; delete leaves no binding.
#[tokio::test]
async fn the_seeds_developer_user_is_taken_over_and_its_read_all_binding_pruned() {
    let c = cluster();
    let ns = c.namespace("kubernetes-dashboard").await;
    let client = c.admin_client().await;
    let cluster_developer = format!("{ns}-cluster-developer");
    let seed: Vec<Value> = vec![
        serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "developer-user", "namespace": ns}}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": cluster_developer},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                      {"nonResourceURLs": ["*"], "verbs": ["get", "list", "watch"]}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": format!("{ns}-developer-user")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_developer},
            "subjects": [{"kind": "ServiceAccount", "name": "developer-user", "namespace": ns}]}),
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed.json");
    std::fs::write(
        &file,
        serde_json::to_string(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": seed})).unwrap(),
    )
    .unwrap();
    assert!(run(c.kubectl().args(["apply", "-f"]).arg(&file)).status.success());
    let binding = format!("clusterrolebinding.rbac.authorization.k8s.io/{ns}-developer-user");

    let secrets = |client: kube::Client, ns: String| async move {
        let review: k8s_openapi::api::authorization::v1::SubjectAccessReview = serde_json::from_value(serde_json::json!({
            "spec": {"user": format!("system:serviceaccount:{ns}:developer-user"),
                     "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
                     "resourceAttributes": {"verb": "list", "resource": "secrets", "namespace": "kube-system"}}
        }))
        .unwrap();
        let answer = Api::<k8s_openapi::api::authorization::v1::SubjectAccessReview>::all(client)
            .create(&PostParams::default(), &review)
            .await
            .unwrap();
        answer.status.unwrap().allowed
    };
    assert!(secrets(client.clone(), ns.clone()).await, "the seed's binding reads every Secret");
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(1));
    assert!(
        stdout(&out)
            .contains(&format!("ServiceAccount {ns}/developer-user is bound to ClusterRole {cluster_developer}"))
    );
    let out = dash(&["check", "developer-user", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "the verdict names the Secrets: {}", stdout(&out));

    // Not ours: refused. Ours with --overwrite, but the old binding grants more: refused, nothing changed.
    let out = dash(&["create", "developer-user", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let out = dash(&["create", "developer-user", "-n", &ns, "--overwrite", "--no-token"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&binding) && err.contains("--prune-bindings") && err.contains("nothing was changed"), "{err}");
    assert!(secrets(client.clone(), ns.clone()).await);

    let out = dash(&["create", "developer-user", "-n", &ns, "--overwrite", "--prune-bindings", "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("serviceaccount/developer-user configured in namespace {ns}")), "{text}");
    assert!(text.contains(&format!("{binding} deleted")), "{text}");
    assert!(!secrets(client.clone(), ns.clone()).await, "Secrets are denied now");
    let out = dash(&["check", "developer-user", "-n", &ns]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains("developer-user"), "{}", stdout(&out));

    // delete never leaves a binding naming the deleted account.
    let out = dash(&["delete", "developer-user", "-n", &ns]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let names_it = |subjects: &Option<Vec<Subject>>| {
        subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount" && s.name == "developer-user" && s.namespace.as_deref() == Some(ns.as_str())
        })
    };
    let crbs = Api::<ClusterRoleBinding>::all(client.clone()).list(&ListParams::default()).await.unwrap();
    assert!(!crbs.items.iter().any(|b| names_it(&b.subjects)));
    let rbs = Api::<RoleBinding>::all(client).list(&ListParams::default()).await.unwrap();
    assert!(!rbs.items.iter().any(|b| names_it(&b.subjects)));
}

#[tokio::test]
async fn a_headlamp_user_gets_headlamps_login_and_n_says_what_it_scopes() {
    let c = cluster();
    let ns = c.namespace("headlamp").await;
    apply_fixture("headlamp/default.yaml", &ns);
    let out = dash(&["create", "viewer", "-n", &ns, "--duration", "30m"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("To log in to Headlamp"), "{text}");
    assert!(text.contains(&format!("kubectl -n {ns} port-forward svc/headlamp 8080:80")), "{text}");
    assert!(text.contains("then open http://localhost:8080/"), "{text}");
    let err = stderr(&out);
    assert!(err.contains(&format!("-n {ns} is where the ServiceAccount lives")), "{err}");
    assert!(err.contains(&format!("add --namespaces {ns}")), "{err}");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("Token for serviceaccount")).unwrap();
    assert_token_is_the_read_only_user(lines[at + 1].trim(), &ns, "viewer").await;

    let out = dash(&["token", "viewer", "-n", &ns, "-o", "text"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("kubectl -n {ns} port-forward svc/headlamp 8080:80")));
    // --ui says which UI's login to print.
    let out = dash(&["token", "viewer", "-n", &ns, "-o", "text", "--ui", "dashboard"]);
    assert!(stdout(&out).contains("To log in to the Kubernetes Dashboard"), "{}", stdout(&out));
    // A flag that does nothing is an error.
    let out = dash(&["check", "viewer", "-n", &ns, "--ui", "headlamp"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn audit_reports_headlamps_risks_from_its_chart_output() {
    let ns = cluster().namespace("hl-default").await;
    apply_fixture("headlamp/default.yaml", &ns);
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("Headlamp in namespace {ns}: headlamp (headlamp)")), "{text}");
    assert!(text.contains(&format!("Headlamp's own ServiceAccount {ns}/headlamp")), "{text}");
    assert!(text.contains("clusterRoleBinding.create=false"), "{text}");
    assert!(!text.contains("archived"), "{text}");

    let ns = cluster().namespace("hl-insecure").await;
    apply_fixture("headlamp/insecure.yaml", &ns);
    let out = dash(&["audit", "-n", &ns, "-o", "yaml"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let report: Value = serde_yaml::from_str(&stdout(&out)).unwrap();
    let checks: Vec<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap()).collect();
    for check in [
        "exposed-service",
        "plain-http",
        "ingress-without-tls",
        "headlamp-chart-admin",
        "unsafe-use-service-account-token",
        "insecure-ssl",
        "oidc-skip-tls-verify",
        "oidc-insecure-issuer",
        "oidc-secret-in-spec",
        "long-session",
    ] {
        assert!(checks.contains(&check), "{check} missing: {checks:?}");
    }
    assert!(!stdout(&out).contains("not-a-secret-anymore"), "the audit never prints a secret");

    let ns = cluster().namespace("hl-hardened").await;
    apply_fixture("headlamp/hardened.yaml", &ns);
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("No findings."), "{}", stdout(&out));
}

/// Applies `items` (JSON objects) with the real kubectl, as admin.
fn kubectl_apply(items: Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.json");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&file, serde_json::to_string(&list).unwrap()).unwrap();
    let out = run(cluster().kubectl().args(["apply", "-f"]).arg(&file));
    assert!(out.status.success(), "kubectl apply: {}", stderr(&out));
}

fn cluster_role_json(name: &str, rules: Value) -> Value {
    serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
        "rules": rules})
}

fn cluster_binding_json(name: &str, role: &str, subjects: Value) -> Value {
    serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
}

fn role_binding_json(ns: &str, name: &str, role: &str, subjects: Value) -> Value {
    serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects})
}

fn user_subject(name: &str) -> Value {
    serde_json::json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name})
}

/// What the real authorizer says the ServiceAccount `ns/name` may do (its user name and groups).
async fn account_may(ns: &str, name: &str, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    use k8s_openapi::api::authorization::v1::SubjectAccessReview;
    let mut attributes = match resource.split_once('/') {
        Some((resource, subresource)) => {
            serde_json::json!({"verb": verb, "resource": resource, "subresource": subresource})
        }
        None => serde_json::json!({"verb": verb, "resource": resource}),
    };
    if let Some(namespace) = namespace {
        attributes["namespace"] = namespace.into();
    }
    let review: SubjectAccessReview = serde_json::from_value(serde_json::json!({
        "spec": {"user": format!("system:serviceaccount:{ns}:{name}"),
                 "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
                 "resourceAttributes": attributes}
    }))
    .unwrap();
    let answer = Api::<SubjectAccessReview>::all(cluster().admin_client().await)
        .create(&PostParams::default(), &review)
        .await
        .unwrap();
    answer.status.unwrap().allowed
}

/// The command a refusal's hint gives (`... kubectl dash-user ARGS`), run exactly as printed.
fn follow_hint(refused: &Output) -> Output {
    let err = stderr(refused);
    let line = err
        .lines()
        .find(|l| l.contains("hint:") && l.contains("kubectl dash-user "))
        .unwrap_or_else(|| panic!("no command in the hint:\n{err}"));
    let command = &line[line.find("kubectl dash-user ").unwrap() + "kubectl dash-user ".len()..];
    // The words as a POSIX shell reads them (the plugin quotes with single quotes only).
    let mut words = Vec::new();
    let (mut word, mut quoted, mut any) = (String::new(), false, false);
    for c in command.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    dash(&args)
}

/// Issue 25: the seed's developer-user (an account made by hand, bound to a role that reads every
/// Secret) needs both --overwrite and --prune-bindings; the first refusal names both, and its
/// command succeeds. Also --role admin on an account made by hand: --yes and --overwrite at once.
#[tokio::test]
async fn a_refusals_hint_names_every_flag_needed_and_following_it_succeeds() {
    let c = cluster();
    let ns = c.namespace("hint").await;
    let client = c.admin_client().await;
    let reads_all = format!("{ns}-reads-all");
    kubectl_apply(vec![
        serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "developer-user", "namespace": ns}}),
        serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "boss", "namespace": ns}}),
        cluster_role_json(
            &reads_all,
            serde_json::json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]),
        ),
        cluster_binding_json(
            &format!("{ns}-developer-user"),
            &reads_all,
            serde_json::json!([{"kind": "ServiceAccount", "name": "developer-user", "namespace": ns}]),
        ),
    ]);
    let out = dash(&["create", "developer-user", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(
        err.contains(&format!("serviceaccount/developer-user in namespace {ns} exists and was not created")),
        "{err}"
    );
    assert!(err.contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{ns}-developer-user")), "{err}");
    assert!(err.contains("re-run with --overwrite --prune-bindings"), "{err}");
    let out = follow_hint(&out);
    assert_eq!(code(&out), Some(0), "the hint's command: {}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{ns}-developer-user deleted"))
    );
    assert!(!account_may(&ns, "developer-user", "get", "secrets", None).await);
    assert!(account_may(&ns, "developer-user", "list", "pods", None).await);

    let out = dash(&["create", "boss", "-n", &ns, "--role", "admin", "--no-token"]);
    assert_eq!(code(&out), Some(2), "a confirmation is missing input: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("refusing without confirmation") && err.contains("cluster-admin"), "{err}");
    assert!(err.contains("re-run with --yes --overwrite"), "{err}");
    assert!(
        Api::<ClusterRoleBinding>::all(client.clone())
            .get_opt(&format!("dash-user:{ns}:boss"))
            .await
            .unwrap()
            .is_none()
    );
    let out = follow_hint(&out);
    assert_eq!(code(&out), Some(0), "the hint's command: {}", stderr(&out));
    assert!(account_may(&ns, "boss", "delete", "nodes", None).await);
}

/// Issue 32: `--namespaces ''` is an empty list, not every namespace.
#[tokio::test]
async fn an_empty_namespace_list_is_refused_and_creates_nothing() {
    let c = cluster();
    let ns = c.namespace("emptyns").await;
    let client = c.admin_client().await;
    for list in ["", ",", "a,", ",a", "a,,b"] {
        let out = dash(&["create", "dev", "-n", &ns, "--namespaces", list, "--no-token"]);
        assert_eq!(code(&out), Some(2), "--namespaces {list:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--namespaces"), "{}", stderr(&out));
    }
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("dev").await.unwrap().is_none());
    assert!(Api::<ClusterRoleBinding>::all(client).get_opt(&format!("dash-user:{ns}:dev")).await.unwrap().is_none());
    assert!(!account_may(&ns, "dev", "list", "pods", None).await);
}

/// Issue 25: a dashboard published on its node (hostPort) or running on the node's network is a
/// finding; the same installs on a ClusterIP Service are not.
#[tokio::test]
async fn audit_reports_a_ui_on_its_nodes_ports_and_not_one_behind_a_clusterip_service() {
    let ns = cluster().namespace("hostport").await;
    apply_fixture("v2-hostport.yaml", &ns);
    let out = dash(&["audit", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let host: Vec<&Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["check"] == "host-port").collect();
    assert_eq!(host.len(), 1, "{report:#}");
    assert_eq!(host[0]["object"], "deployment/kubernetes-dashboard");
    assert_eq!(host[0]["severity"], "high");

    let ns = cluster().namespace("hostnet").await;
    apply_fixture("headlamp/hostnetwork.yaml", &ns);
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("host-network") && text.contains("hostNetwork: true"), "{text}");
    assert!(!text.contains("host-port"), "a host-network pod's ports are reported once: {text}");

    for file in ["v2-hardened.yaml", "headlamp/hardened.yaml"] {
        let ns = cluster().namespace("clusterip").await;
        apply_fixture(file, &ns);
        let out = dash(&["audit", "-n", &ns]);
        assert_eq!(code(&out), Some(0), "{file}: {}", stdout(&out));
        assert!(!stdout(&out).contains("host-"), "{file}: {}", stdout(&out));
    }
}

/// Issue 25: nodes/proxy (the kubelet's API: exec into any pod of the node) in a role bound to a
/// UI's own account or to a user this plugin made, and the other nodes/* subresources; a role that
/// reads nodes, and the plugin's own read-only role (which reads nodes/status), are not findings.
#[tokio::test]
async fn audit_reports_nodes_proxy_for_a_uis_account_and_a_dash_user_user() {
    let c = cluster();
    let ns = c.namespace("nodesproxy").await;
    apply_fixture("headlamp/hardened.yaml", &ns);
    let out = dash(&["create", "dev", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let out = dash(&["audit", "-n", &ns]);
    assert_eq!(code(&out), Some(0), "the plugin's own read-only user: {}", stdout(&out));

    let kubelet = format!("{ns}-kubelet-api");
    let metrics = format!("{ns}-kubelet-metrics");
    let nodes = format!("{ns}-nodes-reader");
    kubectl_apply(vec![
        cluster_role_json(
            &kubelet,
            serde_json::json!([{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}]),
        ),
        cluster_role_json(
            &metrics,
            serde_json::json!([{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]}]),
        ),
        cluster_role_json(
            &nodes,
            serde_json::json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]),
        ),
        cluster_binding_json(
            &format!("{ns}-ui-kubelet"),
            &kubelet,
            serde_json::json!([{"kind": "ServiceAccount", "name": "headlamp", "namespace": ns}]),
        ),
        cluster_binding_json(
            &format!("{ns}-dev-kubelet"),
            &kubelet,
            serde_json::json!([user_subject(&format!("system:serviceaccount:{ns}:dev"))]),
        ),
        cluster_binding_json(
            &format!("{ns}-dev-metrics"),
            &metrics,
            serde_json::json!([{"kind": "ServiceAccount", "name": "dev", "namespace": ns}]),
        ),
        cluster_binding_json(
            &format!("{ns}-dev-nodes"),
            &nodes,
            serde_json::json!([{"kind": "ServiceAccount", "name": "dev", "namespace": ns}]),
        ),
    ]);
    let out = dash(&["audit", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut got: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["check"].as_str().unwrap().to_string(), f["object"].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    let crb = |name: &str| format!("clusterrolebinding.rbac.authorization.k8s.io/{ns}-{name}");
    assert_eq!(
        got,
        [
            ("node-subresources".to_string(), crb("dev-metrics")),
            ("nodes-proxy".to_string(), crb("dev-kubelet")),
            ("nodes-proxy".to_string(), crb("ui-kubelet")),
        ],
        "{report:#}"
    );
    // The authorizer agrees: get nodes/proxy is allowed to the user through its other spelling.
    assert!(account_may(&ns, "dev", "get", "nodes/proxy", None).await);
}

/// Issue 25: the Headlamp chart's own ClusterRoleBinding (clusterRoleBinding.create: true, the
/// default) is named as the chart's, with the helm command that turns it off, also when the
/// release renamed its objects (nameOverride) and mirrored its image.
#[tokio::test]
async fn audit_names_the_headlamp_charts_default_cluster_admin_binding() {
    let ns = cluster().namespace("hlchart").await;
    apply_fixture("headlamp/renamed.yaml", &ns);
    let out = dash(&["audit", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["dashboards"][0]["deployment"], "headlamp-ui", "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["check"], "headlamp-chart-admin");
    assert_eq!(findings[0]["object"], format!("clusterrolebinding.rbac.authorization.k8s.io/{ns}-headlamp-ui-admin"));
    assert!(
        findings[0]["fix"].as_str().unwrap().contains(&format!(
            "helm upgrade headlamp headlamp/headlamp -n {ns} --reuse-values --set clusterRoleBinding.create=false"
        )),
        "{report:#}"
    );
    // Without -n, the renamed Headlamp is found as the installed UI.
    let out = dash(&["audit", "-A", "-o", "json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "headlamp-chart-admin" && f["namespace"] == ns.as_str())
    );
}

/// Issue 32: a binding that names the account as the User `system:serviceaccount:NS:NAME` is the
/// account's: create names it and refuses (then prunes it when told), check asks where it grants,
/// audit reports it, delete does not leave it behind. Another account's spelling is not counted.
#[tokio::test]
async fn rights_granted_to_the_accounts_user_name_are_the_accounts() {
    let c = cluster();
    let ns = c.namespace("spelling").await;
    let prod = c.namespace("prod").await;
    let client = c.admin_client().await;
    let as_user = format!("{ns}-dev-as-user");
    let other = format!("{ns}-other-spellings");
    kubectl_apply(vec![
        cluster_binding_json(
            &as_user,
            "cluster-admin",
            serde_json::json!([user_subject(&format!("system:serviceaccount:{ns}:ops"))]),
        ),
        // Not ops: another account of the namespace, ops of another namespace, another namespace's group.
        cluster_binding_json(
            &other,
            "cluster-admin",
            serde_json::json!([
                user_subject(&format!("system:serviceaccount:{ns}:opsx")),
                user_subject(&format!("system:serviceaccount:{prod}:ops")),
                user_subject("ops"),
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": format!("system:serviceaccounts:{prod}")},
            ]),
        ),
    ]);
    assert!(account_may(&ns, "ops", "get", "secrets", None).await, "the authorizer sees it");

    // audit: each account of the namespace spelled as a User is reported as itself (opsx is one
    // too); the accounts of another namespace, the plain user ops and another namespace's group are not.
    let out = dash(&["audit", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let found: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["object"].as_str().unwrap(), f["message"].as_str().unwrap()))
        .collect();
    assert_eq!(found.len(), 2, "{report:#}");
    let message_of = |binding: &str| {
        let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{binding}");
        found.iter().find(|(o, _)| *o == object).map(|(_, m)| m.to_string()).unwrap_or_else(|| panic!("{report:#}"))
    };
    assert!(
        message_of(&as_user).starts_with(&format!("ServiceAccount {ns}/ops (as User system:serviceaccount:{ns}:ops)"))
    );
    assert!(
        message_of(&other).starts_with(&format!("ServiceAccount {ns}/opsx (as User system:serviceaccount:{ns}:opsx)"))
    );
    assert!(!stdout(&out).contains(&prod), "{report:#}");

    // create: named and refused, nothing changed; the hint's command prunes it.
    let out = dash(&["create", "ops", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(1), "a read-only user that is cluster-admin: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{as_user}")), "{err}");
    assert!(err.contains(&format!("(as User system:serviceaccount:{ns}:ops)")), "{err}");
    assert!(!err.contains(&other), "{err}");
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("ops").await.unwrap().is_none());
    let out = follow_hint(&out);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{as_user} deleted")),
        "{}",
        stdout(&out)
    );
    assert!(!account_may(&ns, "ops", "get", "secrets", None).await);
    assert!(
        Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&other).await.unwrap().is_some(),
        "not ops's: left alone"
    );

    // check: a RoleBinding in another namespace, spelled as the User, is asked about. (The test
    // API server runs no controller-manager, so the aggregated `admin` role is empty: a role of our own.)
    let secrets = format!("{ns}-secrets-reader");
    kubectl_apply(vec![
        cluster_role_json(
            &secrets,
            serde_json::json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]),
        ),
        role_binding_json(
            &prod,
            "dev-admin",
            &secrets,
            serde_json::json!([user_subject(&format!("system:serviceaccount:{ns}:ops"))]),
        ),
        role_binding_json(
            &prod,
            "opsx-admin",
            &secrets,
            serde_json::json!([user_subject(&format!("system:serviceaccount:{ns}:opsx"))]),
        ),
    ]);
    let out = dash(&["check", "ops", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(1), "Secrets in {prod}: {}", stdout(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        doc["answers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["scope"] == prod.as_str() && a["resource"] == "secrets" && a["allowed"] == true),
        "{doc:#}"
    );
    // opsx has no such binding: its check asks nothing about prod and finds nothing dangerous.
    kubectl_apply(vec![
        serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "devy", "namespace": ns}}),
    ]);
    let out = dash(&["check", "devy", "-n", &ns, "-o", "json"]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
    assert!(!stdout(&out).contains(&prod), "{}", stdout(&out));

    // delete: the RoleBinding naming the account as a User is named, and left only when refused.
    let out = dash(&["delete", "ops", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("rolebinding.rbac.authorization.k8s.io/dev-admin in namespace {prod}")), "{err}");
    assert!(!err.contains("opsx-admin"), "{err}");
    assert!(err.contains("nothing was deleted"), "{err}");
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("ops").await.unwrap().is_some());
    let out = follow_hint(&out);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("rolebinding.rbac.authorization.k8s.io/dev-admin deleted in namespace {prod}"))
    );
    assert!(!account_may(&ns, "ops", "get", "secrets", Some(&prod)).await, "the next account named ops gets nothing");
    assert!(Api::<RoleBinding>::namespaced(client.clone(), &prod).get_opt("opsx-admin").await.unwrap().is_some());
}

/// A user that may write RBAC objects but does not hold cluster-admin's rights (impersonated with
/// --as): create refuses what the API server's escalation check would refuse.
fn limited_identity(ns: &str) -> String {
    let user = format!("{ns}-limited");
    let role = format!("{ns}-rbac-writer");
    kubectl_apply(vec![
        cluster_role_json(
            &role,
            serde_json::json!([
                {"apiGroups": ["rbac.authorization.k8s.io"],
                 "resources": ["clusterroles", "clusterrolebindings", "roles", "rolebindings"],
                 "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                {"apiGroups": [""], "resources": ["serviceaccounts", "namespaces"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list"]},
            ]),
        ),
        cluster_binding_json(&role, &role, serde_json::json!([user_subject(&user)])),
    ]);
    user
}

/// Issue 32: create (all-or-nothing) refused by the RBAC escalation check must not have deleted
/// the user's existing binding first.
#[tokio::test]
async fn a_create_refused_by_the_escalation_check_keeps_the_users_binding() {
    let c = cluster();
    let ns = c.namespace("escalate").await;
    let client = c.admin_client().await;
    let out = dash(&["create", "dev", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let binding = format!("dash-user:{ns}:dev");
    let limited = limited_identity(&ns);

    let out = dash(&["create", "dev", "-n", &ns, "--role", "admin", "--yes", "--no-token", "--as", &limited]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing was changed") && err.contains("escalation"), "{err}");
    assert!(!stdout(&out).contains("deleted"), "{}", stdout(&out));
    let kept = Api::<ClusterRoleBinding>::all(client.clone()).get(&binding).await.unwrap();
    assert_eq!(kept.role_ref.name, binding, "the user keeps its read-only role");
    assert!(account_may(&ns, "dev", "list", "pods", None).await);

    // A read-only role the caller cannot grant (it does not read pods itself): refused the same way.
    let out = dash(&["create", "dev2", "-n", &ns, "--no-token", "--as", &limited]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("nothing was changed"), "{}", stderr(&out));
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("dev2").await.unwrap().is_none());
}

/// Issue 32: a create refused by the exam lock must not have removed the user's RoleBinding.
#[tokio::test]
async fn a_create_refused_by_the_exam_lock_keeps_the_users_role_binding() {
    let c = cluster();
    let ns = c.namespace("lockuser").await;
    let team = c.namespace("lockteam").await;
    let client = c.admin_client().await;
    let out = dash(&["create", "dev", "-n", &ns, "--namespaces", &team, "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let binding = format!("dash-user:{ns}:dev");
    let locks = c.locking_namespaces();
    locks.add(&team);
    let locked = run(c.kubectl().args(["label", "namespace", &team, "kube-harden.io/locked-by=kubectl-cks-practice"]));
    assert!(locked.status.success(), "{}", stderr(&locked));

    // The role changes (a roleRef cannot: the binding would be deleted and made again).
    let out = dash(&["create", "dev", "-n", &ns, "--namespaces", &team, "--role", "view", "--no-token"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("namespace {team} is locked")) && err.contains("nothing was changed"), "{err}");
    let kept = Api::<RoleBinding>::namespaced(client.clone(), &team).get(&binding).await.unwrap();
    assert_eq!((kept.role_ref.kind.as_str(), kept.role_ref.name.as_str()), ("Role", binding.as_str()));

    // delete is refused too, before deleting anything.
    let out = dash(&["delete", "dev", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    assert!(Api::<RoleBinding>::namespaced(client.clone(), &team).get_opt(&binding).await.unwrap().is_some());
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("dev").await.unwrap().is_some());
}

/// A ValidatingAdmissionPolicy that refuses, except in a dry run, `operation` on the objects
/// `resources` named `names` (so the preflight's dry runs pass and the real write fails, as a
/// write can fail after every check: a conflict, a webhook, a quota). `extra` narrows it further
/// (a CEL condition on `object`). Active once it refuses the canary name even in a dry run.
struct Refusal {
    name: String,
}

impl Refusal {
    fn install(
        name: &str,
        operation: &str,
        group: &str,
        resource: &str,
        names: &[&str],
        extra: &str,
        canary: &Value,
    ) -> Self {
        let canary_name = canary["metadata"]["name"].as_str().unwrap().to_string();
        // Only in the canary's namespace (for namespaced resources): other tests running alongside
        // have accounts named `dev` too, and their deletes must not be refused.
        let namespaces = match canary["metadata"]["namespace"].as_str() {
            Some(ns) => serde_json::json!({"matchLabels": {"kubernetes.io/metadata.name": ns}}),
            None => serde_json::json!({}),
        };
        let mut all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        all.push(canary_name.clone());
        let expression = format!(
            "(request.dryRun == true && request.name != '{canary_name}') || (request.name != '{canary_name}' && ({extra}))"
        );
        kubectl_apply(vec![
            serde_json::json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": name},
                "spec": {"failurePolicy": "Fail",
                         "matchConstraints": {"namespaceSelector": namespaces,
                             "resourceRules": [{"apiGroups": [group], "apiVersions": ["v1"],
                             "operations": [operation], "resources": [resource], "resourceNames": all}]},
                         "validations": [{"expression": expression, "message": "refused by the test's admission policy"}]}}),
            serde_json::json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": name},
                "spec": {"policyName": name, "validationActions": ["Deny"]}}),
        ]);
        // The canary: refused even as a dry run once the policy is in force.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("canary.json");
        std::fs::write(&file, serde_json::to_string(canary).unwrap()).unwrap();
        if operation == "DELETE" {
            kubectl_apply(vec![canary.clone()]);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = if operation == "DELETE" {
                run(cluster().kubectl().args(["delete", "--dry-run=server", "-f"]).arg(&file))
            } else {
                run(cluster().kubectl().args(["create", "--dry-run=server", "-f"]).arg(&file))
            };
            if stderr(&out).contains("refused by the test's admission policy") {
                break;
            }
            assert!(Instant::now() < deadline, "the admission policy never took effect: {}", stderr(&out));
            std::thread::sleep(Duration::from_millis(200));
        }
        Self { name: name.to_string() }
    }
}

impl Drop for Refusal {
    fn drop(&mut self) {
        let _ = run(cluster().kubectl().args([
            "delete",
            "validatingadmissionpolicybinding,validatingadmissionpolicy",
            &self.name,
            "--ignore-not-found",
        ]));
    }
}

/// Issue 32: delete checks what it can before deleting anything (here: rights, with an identity
/// that may delete bindings and roles but not the account), and when a delete still fails
/// part-way (refused at the API server after every check passed) it reports each object it had
/// already deleted.
#[tokio::test]
async fn delete_checks_first_and_reports_what_it_deleted_when_it_fails_part_way() {
    let c = cluster();
    let ns = c.namespace("delpart").await;
    let client = c.admin_client().await;
    let out = dash(&["create", "dev", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let binding = format!("dash-user:{ns}:dev");

    // May delete RBAC objects but not ServiceAccounts: refused before the first delete.
    let user = format!("{ns}-rbac-only");
    kubectl_apply(vec![
        cluster_role_json(
            &user,
            serde_json::json!([
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["*"], "verbs": ["get", "list", "delete"]},
                {"apiGroups": [""], "resources": ["serviceaccounts", "namespaces"], "verbs": ["get", "list"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]},
            ]),
        ),
        cluster_binding_json(&user, &user, serde_json::json!([user_subject(&user)])),
    ]);
    let out = dash(&["delete", "dev", "-n", &ns, "--as", &user]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("nothing was changed"), "{}", stderr(&out));
    assert!(Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&binding).await.unwrap().is_some());

    // The ServiceAccount's real delete refused by admission after every check passed.
    let canary = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "canary", "namespace": ns}});
    let _refusal =
        Refusal::install(&format!("{ns}-no-sa-delete"), "DELETE", "", "serviceaccounts", &["dev"], "false", &canary);
    let out = dash(&["delete", "dev", "-n", &ns]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{binding} deleted")), "{text}");
    assert!(text.contains(&format!("clusterrole.rbac.authorization.k8s.io/{binding} deleted")), "{text}");
    let err = stderr(&out);
    assert!(err.contains("refused by the test's admission policy"), "{err}");
    assert!(
        err.contains(&format!("already done: clusterrolebinding.rbac.authorization.k8s.io/{binding} deleted")),
        "{err}"
    );
    assert!(Api::<ClusterRoleBinding>::all(client.clone()).get_opt(&binding).await.unwrap().is_none());
}

/// Issue 32: when the write that replaces a user's binding (its role changed) fails after every
/// check passed, the old binding is created again and both are reported.
#[tokio::test]
async fn a_replaced_binding_is_restored_when_its_replacement_fails() {
    let c = cluster();
    let ns = c.namespace("restore").await;
    let client = c.admin_client().await;
    let out = dash(&["create", "dev", "-n", &ns, "--no-token"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let binding = format!("dash-user:{ns}:dev");
    let canary = cluster_binding_json(&format!("{ns}-canary"), "view", serde_json::json!([user_subject("nobody")]));
    let _refusal = Refusal::install(
        &format!("{ns}-no-admin-binding"),
        "CREATE",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        &[&binding],
        "object.roleRef.name != 'cluster-admin'",
        &canary,
    );
    let out = dash(&["create", "dev", "-n", &ns, "--role", "admin", "--yes", "--no-token"]);
    assert_eq!(code(&out), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{binding} deleted (its role changed)"))
    );
    let err = stderr(&out);
    assert!(err.contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{binding} restored")), "{err}");
    let restored = Api::<ClusterRoleBinding>::all(client.clone()).get(&binding).await.unwrap();
    assert_eq!(restored.role_ref.name, binding, "the read-only role is back");
    assert!(account_may(&ns, "dev", "list", "pods", None).await);
    assert!(!account_may(&ns, "dev", "get", "secrets", None).await);
}

/// Issue 32: a binding whose role changes is deleted and made again (a roleRef cannot change). A
/// signal between the delete and the new binding's write ended the process and left the account
/// without its binding. Through a proxy that signals the plugin exactly when a chosen request
/// arrives: with the delete in flight and with each request after it, the account keeps a binding
/// (the deleted one restored, or the new one made), the run says what it did, and it exits with the
/// signal's status.
#[tokio::test]
async fn a_signal_while_a_binding_is_replaced_never_leaves_the_account_without_it() {
    use harden_tests::proxy::{Action, Proxy, Trigger};
    let c = cluster();
    let client = c.admin_client().await;
    let proxy = Proxy::start(c.admin_kubeconfig());
    // The real delete (#0 is the preflight's server dry run), and the first request after it (the
    // Applier's read of the ServiceAccount, before its first write).
    let points: [(&str, &str, usize); 2] = [("DELETE", "/rolebindings/", 1), ("GET", "/serviceaccounts/", 3)];
    for (method, path, nth) in points {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let ns = c.namespace("sig-user").await;
            let team = c.namespace("sig-team").await;
            let out = dash(&["create", "dev", "-n", &ns, "--namespaces", &team, "--no-token"]);
            assert_eq!(code(&out), Some(0), "{}", stderr(&out));
            let binding = format!("dash-user:{ns}:dev");
            proxy.arm(Some(Trigger { method: method.into(), path: path.into(), nth, action: Action::Signal(signal) }));
            let child = plugin_command(PLUGIN)
                .env("KUBECONFIG", proxy.kubeconfig())
                .args(["create", "dev", "-n", &ns, "--namespaces", &team, "--role", "view", "--no-token"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            proxy.set_pid(child.id());
            let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
            let requests = proxy.requests();
            assert!(proxy.fired(), "{method} {path} #{nth} never came: {requests:?}");
            eprintln!(
                "-- {method} {path} #{nth}, signal {signal}: {:?}\n{}{}{requests:#?}",
                out.status,
                stdout(&out),
                stderr(&out)
            );
            let kept = Api::<RoleBinding>::namespaced(client.clone(), &team).get_opt(&binding).await.unwrap();
            let kept = kept.unwrap_or_else(|| panic!("{method} {path} #{nth}: the binding is gone: {requests:?}"));
            assert_eq!(code(&out), Some(128 + signal), "{method} {path} #{nth}: {}", stderr(&out));
            let role = (kept.role_ref.kind.as_str(), kept.role_ref.name.as_str());
            if role == ("Role", binding.as_str()) {
                let said = stderr(&out);
                assert!(said.contains("restored") || said.contains("nothing was changed"), "said: {said}");
            } else {
                assert_eq!(role, ("ClusterRole", "view"), "{method} {path} #{nth}");
            }
        }
    }
}
