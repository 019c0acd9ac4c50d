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
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["user"], format!("system:serviceaccount:{ns}:developer"));
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
        assert!(allowed(scope, "deployments", "watch"));
        assert!(!allowed(scope, "pods", "delete"), "delete pods in {scope}");
        assert!(!allowed(scope, "secrets", "get"), "get secrets in {scope}");
        assert!(!allowed(scope, "secrets", "list"));
        assert!(!allowed(scope, "roles", "create"));
    }
    assert!(allowed("cluster-wide", "nodes", "get"));
    assert!(!allowed("cluster-wide", "nodes", "delete"));

    let out = dash(&["check", "developer", "-n", &ns]);
    let table = stdout(&out);
    let row = |scope: &str, resource: &str| -> Vec<String> {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().take(2).eq([scope, resource]))
            .unwrap_or_else(|| panic!("no {scope} {resource} row:\n{table}"));
        line.split_whitespace().skip(2).map(str::to_string).collect()
    };
    assert_eq!(row("cluster-wide", "pods"), ["yes", "yes", "yes", "no", "no", "no"], "{table}");
    assert_eq!(row("cluster-wide", "secrets"), ["no"; 6], "{table}");

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

    let out = dash(&["delete", "dev", "-n", &ns]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let deleted: Vec<&str> = text.lines().map(|l| l.trim_end_matches(" deleted")).collect();
    assert_eq!(deleted.len(), 5, "2 rolebindings, 2 roles, 1 serviceaccount: {deleted:?}");
    assert_eq!(deleted.last(), Some(&"serviceaccount/dev"), "access goes before the account");
    for team in [&team_a, &team_b] {
        assert!(Api::<Role>::namespaced(client.clone(), team).get_opt(&name).await.unwrap().is_none());
        assert!(Api::<RoleBinding>::namespaced(client.clone(), team).get_opt(&name).await.unwrap().is_none());
    }
    assert!(Api::<ServiceAccount>::namespaced(client.clone(), &ns).get_opt("dev").await.unwrap().is_none());
    let kept =
        Api::<RoleBinding>::namespaced(client.clone(), &team_a).get_opt(&format!("{name}-foreign")).await.unwrap();
    assert!(kept.is_some(), "a RoleBinding we did not create was deleted");
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

/// Applies a dashboard fixture to `ns` with the real kubectl.
fn apply_fixture(file: &str, ns: &str) {
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/dashboard").join(file)).unwrap().replace("__NS__", ns);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
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
    }
}

#[test]
fn bad_input_gives_clear_errors_and_exit_2() {
    // Checked before any cluster is contacted: no kubeconfig at all.
    let home = tempfile::tempdir().unwrap();
    let offline = |args: &[&str]| {
        let mut command = plugin_command(PLUGIN);
        command.env("HOME", home.path()).env("KUBECONFIG", home.path().join("missing"));
        run(command.args(args))
    };
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
    let out = dash(&["create", "dev", "-n", "no-such-namespace"]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("namespace \"no-such-namespace\" does not exist"), "{}", stderr(&out));
    let out = dash(&["audit", "-n", "no-such-namespace"]);
    assert_eq!(code(&out), Some(2), "an audit of nothing is an error, not a clean verdict");
    assert!(stderr(&out).contains("nothing was audited"), "{}", stderr(&out));
    let out = dash(&["check", "nobody", "-n", &ns]);
    assert_eq!(code(&out), Some(1));
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
