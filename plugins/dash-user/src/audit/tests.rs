//! The checks on the manifests the integration tests apply, and the rendering.

use super::*;
use harden_cli::report::Risk;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};

use super::exposure::kong_plain_ports;
use super::flags::flags;
use super::flags::{flag_on, flag_value};
use super::nodes::node_subresources;
use super::snapshot::TokenSecret;
use crate::components::{HELM_CHART_LABEL, image_name};
use serde::Deserialize;

/// Loads a fixture the integration tests also apply, with its namespace filled in.
fn fixture(file: &str, namespace: &str) -> Snapshot {
    let path = format!("{}/../../tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).replace("__NS__", namespace);
    let mut snap = Snapshot::default();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(doc).unwrap();
        if value.is_null() {
            continue;
        }
        let mut value = value;
        if value["metadata"]["namespace"].is_null()
            && !["ClusterRole", "ClusterRoleBinding"].contains(&value["kind"].as_str().unwrap())
        {
            value["metadata"]["namespace"] = namespace.into();
        }
        match value["kind"].as_str().unwrap() {
            "Deployment" => snap.deployments.push(serde_json::from_value(value).unwrap()),
            "Service" => snap.services.push(serde_json::from_value(value).unwrap()),
            "Ingress" => snap.ingresses.push(serde_json::from_value(value).unwrap()),
            "ClusterRoleBinding" => snap.cluster_role_bindings.push(serde_json::from_value(value).unwrap()),
            "RoleBinding" => snap.role_bindings.push(serde_json::from_value(value).unwrap()),
            "ClusterRole" => snap.cluster_roles.push(serde_json::from_value(value).unwrap()),
            "Secret" if value["type"] == "kubernetes.io/service-account-token" => {
                snap.token_secrets.push(TokenSecret {
                    namespace: namespace.into(),
                    name: value["metadata"]["name"].as_str().unwrap().into(),
                    service_account: value["metadata"]["annotations"]["kubernetes.io/service-account.name"]
                        .as_str()
                        .unwrap()
                        .into(),
                })
            }
            _ => {}
        }
    }
    snap
}

fn checks(report: &Report) -> BTreeSet<(String, String)> {
    report.findings.iter().map(|f| (f.check.clone(), f.object.clone())).collect()
}

fn here(ns: &str) -> Where {
    Where::Namespaces(vec![ns.into()])
}

#[test]
fn v2_with_skip_login_and_the_seeds_admin_user_is_reported() {
    let report = audit(&fixture("dashboard/v2-insecure.yaml", "dash"), &here("dash"));
    assert_eq!(
        report.dashboards.iter().map(|f| f.component).collect::<Vec<_>>(),
        [Component::Dashboard, Component::MetricsScraper]
    );
    let got = checks(&report);
    for (check, object) in [
        ("enable-skip-login", "deployment/kubernetes-dashboard"),
        ("enable-insecure-login", "deployment/kubernetes-dashboard"),
        ("insecure-port", "deployment/kubernetes-dashboard"),
        ("no-tls", "deployment/kubernetes-dashboard"),
        ("exposed-service", "service/kubernetes-dashboard"),
        ("cluster-admin-binding", "clusterrolebinding.rbac.authorization.k8s.io/dash-admin-user"),
        ("reads-all-secrets", "clusterrolebinding.rbac.authorization.k8s.io/dash-developer-user"),
        ("nodes-proxy", "clusterrolebinding.rbac.authorization.k8s.io/dash-developer-user"),
        ("long-lived-token", "secret/admin-user-token"),
    ] {
        assert!(got.contains(&(check.to_string(), object.to_string())), "missing {check} on {object}: {got:#?}");
    }
    assert_eq!(report.findings.len(), 9, "{got:#?}");
    let proxy = report.findings.iter().find(|f| f.check == "nodes-proxy").unwrap();
    assert!(proxy.message.contains("every nodes/* subresource, nodes/proxy included"), "{}", proxy.message);
    assert_eq!(proxy.severity, Risk::High);
    let text = render(&report, Format::Text).unwrap();
    assert!(text.contains("Dashboard v2 in namespace dash"), "{text}");
    assert!(text.contains("--enable-skip-login"), "{text}");
}

#[test]
fn v7_with_a_node_port_http_kong_proxy_is_reported() {
    let report = audit(&fixture("dashboard/v7-nodeport-http.yaml", "dash"), &here("dash"));
    let components: BTreeSet<Component> = report.dashboards.iter().map(|f| f.component).collect();
    assert_eq!(
        components,
        BTreeSet::from([Component::Api, Component::Auth, Component::Web, Component::MetricsScraper, Component::Kong])
    );
    let got = checks(&report);
    assert!(got.contains(&("exposed-service".into(), "service/kubernetes-dashboard-kong-proxy".into())), "{got:#?}");
    assert!(got.contains(&("kong-proxy-http".into(), "service/kubernetes-dashboard-kong-proxy".into())), "{got:#?}");
    assert_eq!(report.findings.len(), 2, "{got:#?}");
    let http = report.findings.iter().find(|f| f.check == "kong-proxy-http").unwrap();
    assert_eq!(http.severity, Risk::High);
    assert!(http.message.contains("port 80 (target 8000"), "{}", http.message);
}

#[test]
fn hardened_installs_have_no_findings() {
    let report = audit(&fixture("dashboard/v7-hardened.yaml", "dash"), &here("dash"));
    assert_eq!(report.dashboards.len(), 5);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    let report = audit(&fixture("dashboard/v2-hardened.yaml", "dash"), &here("dash"));
    assert_eq!(report.dashboards.len(), 2);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(render(&report, Format::Text).unwrap().contains("No findings."));
}

#[test]
fn other_namespaces_are_not_reported_and_all_namespaces_finds_them() {
    let snap = fixture("dashboard/v2-insecure.yaml", "dash");
    let report = audit(&snap, &here("elsewhere"));
    assert!(report.dashboards.is_empty() && report.findings.is_empty(), "{report:#?}");
    let report = audit(&snap, &Where::All);
    assert_eq!(report.namespaces, ["dash"]);
    assert_eq!(report.findings.len(), 9);
}

fn found_headlamp(report: &Report, ns: &str) {
    assert_eq!(
        report.dashboards,
        [Found { namespace: ns.into(), deployment: "headlamp".into(), component: Component::Headlamp }]
    );
    assert!(report.notices.is_empty(), "Headlamp is not archived: {:?}", report.notices);
}

#[test]
fn the_headlamp_charts_defaults_give_its_own_account_cluster_admin() {
    let report = audit(&fixture("headlamp/default.yaml", "hl"), &here("hl"));
    found_headlamp(&report, "hl");
    let got = checks(&report);
    assert_eq!(
        got,
        BTreeSet::from([(
            "headlamp-chart-admin".to_string(),
            "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin".to_string()
        )]),
        "{:#?}",
        report.findings
    );
    let finding = &report.findings[0];
    assert_eq!(finding.severity, Risk::Medium, "Headlamp forwards users' tokens by default");
    assert!(finding.message.contains("Headlamp's own ServiceAccount hl/headlamp"), "{}", finding.message);
    assert!(
        finding.message.contains("default clusterRoleBinding.create=true (release headlamp)"),
        "{}",
        finding.message
    );
    assert!(
        finding.fix.contains(
            "helm upgrade headlamp headlamp/headlamp -n hl --reuse-values --set clusterRoleBinding.create=false"
        ),
        "{}",
        finding.fix
    );
    let text = render(&report, Format::Text).unwrap();
    assert!(text.contains("Headlamp in namespace hl: headlamp (headlamp)"), "{text}");
    assert!(!text.contains("archived"), "{text}");
}

#[test]
fn a_risky_headlamp_install_reports_each_of_its_flags_and_its_exposure() {
    let report = audit(&fixture("headlamp/insecure.yaml", "hl"), &here("hl"));
    found_headlamp(&report, "hl");
    let got = checks(&report);
    let crb = "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin";
    let expected = [
        ("exposed-service", "service/headlamp"),
        ("plain-http", "service/headlamp"),
        ("ingress-without-tls", "ingress.networking.k8s.io/headlamp"),
        ("headlamp-chart-admin", crb),
        ("unsafe-use-service-account-token", "deployment/headlamp"),
        ("insecure-ssl", "deployment/headlamp"),
        ("oidc-skip-tls-verify", "deployment/headlamp"),
        ("oidc-insecure-issuer", "deployment/headlamp"),
        ("oidc-secret-in-spec", "deployment/headlamp"),
        ("long-session", "deployment/headlamp"),
    ];
    for (check, object) in expected {
        assert!(got.contains(&(check.to_string(), object.to_string())), "missing {check} on {object}: {got:#?}");
    }
    assert_eq!(report.findings.len(), expected.len(), "{got:#?}");
    let admin = report.findings.iter().find(|f| f.check == "headlamp-chart-admin").unwrap();
    assert_eq!(admin.severity, Risk::High, "every visitor acts as the account");
    assert!(admin.message.contains("every visitor of Headlamp gets it"), "{}", admin.message);
    let http = report.findings.iter().find(|f| f.check == "plain-http").unwrap();
    assert!(http.message.contains("node port 31466"), "{}", http.message);
    let issuer = report.findings.iter().find(|f| f.check == "oidc-insecure-issuer").unwrap();
    assert!(issuer.message.contains("http://dex.example.com:5556"), "{}", issuer.message);
    assert!(!report.findings.iter().any(|f| f.message.contains("not-a-secret-anymore")), "secrets are not shown");
    assert!(!got.iter().any(|(c, _)| c == "cluster-admin-binding"), "the UI's own account is reported once");
}

#[test]
fn a_hardened_headlamp_install_has_no_findings() {
    let report = audit(&fixture("headlamp/hardened.yaml", "hl"), &here("hl"));
    found_headlamp(&report, "hl");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[test]
fn a_dashboard_is_noticed_as_archived_without_it_being_a_finding() {
    let report = audit(&fixture("dashboard/v7-hardened.yaml", "dash"), &here("dash"));
    assert!(report.findings.is_empty());
    assert_eq!(report.notices.len(), 1);
    assert!(report.notices[0].contains("archived in January 2026"), "{:?}", report.notices);
    let text = render(&report, Format::Text).unwrap();
    assert!(text.contains("Notice: Kubernetes Dashboard found in namespace(s) dash"), "{text}");
    let yaml = render(&report, Format::Yaml).unwrap();
    let back: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back["notices"][0], report.notices[0]);
}

#[test]
fn a_dashboard_published_on_its_nodes_port_is_reported_and_a_clusterip_one_is_not() {
    let report = audit(&fixture("dashboard/v2-hostport.yaml", "dash"), &here("dash"));
    let got = checks(&report);
    assert_eq!(got, BTreeSet::from([("host-port".to_string(), "deployment/kubernetes-dashboard".to_string())]));
    let finding = &report.findings[0];
    assert_eq!(finding.severity, Risk::High);
    assert!(
        finding.message.contains("publishes port 8443 on port 8443 of its node's own addresses"),
        "{}",
        finding.message
    );
    // The same install without hostPort: a containerPort alone is not on the node.
    let report = audit(&fixture("dashboard/v2-hardened.yaml", "dash"), &here("dash"));
    assert!(report.findings.iter().all(|f| !f.check.starts_with("host-")), "{:#?}", report.findings);
}

#[test]
fn headlamp_on_the_nodes_network_is_reported_once() {
    let mut snap = fixture("headlamp/hostnetwork.yaml", "hl");
    // The API server sets hostPort to the containerPort of a host-network pod.
    let pod = snap.deployments[0].spec.template.spec.as_mut().unwrap();
    pod.containers[0].ports.as_mut().unwrap()[0].host_port = Some(4466);
    let report = audit(&snap, &here("hl"));
    let got = checks(&report);
    assert_eq!(got, BTreeSet::from([("host-network".to_string(), "deployment/headlamp".to_string())]));
    assert!(report.findings[0].message.contains("(ports 4466)"), "{}", report.findings[0].message);
    assert!(report.findings[0].message.contains("NetworkPolicies do not apply"));
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
        rules: Some(rules),
        aggregation_rule: None,
    }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(subjects),
    }
}

fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
    Subject { kind: kind.into(), name: name.into(), namespace: namespace.map(str::to_string), api_group: None }
}

#[test]
fn nodes_proxy_is_flagged_for_a_uis_account_and_a_user_however_it_is_granted() {
    for resources in [&["nodes/proxy"][..], &["nodes/*"], &["*/proxy"], &["nodes", "nodes/proxy"]] {
        let mut snap = fixture("headlamp/hardened.yaml", "hl");
        snap.cluster_roles.push(cluster_role("kubelet-api", vec![rule(&[""], resources, &["get"])]));
        snap.cluster_role_bindings.push(binding(
            "hl-ui-kubelet",
            "kubelet-api",
            vec![subject("ServiceAccount", "headlamp", Some("hl"))],
        ));
        snap.cluster_role_bindings.push(binding(
            "hl-dev-kubelet",
            "kubelet-api",
            vec![subject("User", "system:serviceaccount:hl:developer", None)],
        ));
        let report = audit(&snap, &here("hl"));
        let got = checks(&report);
        for object in ["hl-ui-kubelet", "hl-dev-kubelet"] {
            let object = format!("clusterrolebinding.rbac.authorization.k8s.io/{object}");
            assert!(got.contains(&("nodes-proxy".to_string(), object.clone())), "{resources:?}: {got:#?}");
        }
        assert_eq!(report.findings.len(), 2, "{resources:?}: {got:#?}");
        let dev = report.findings.iter().find(|f| f.object.ends_with("hl-dev-kubelet")).unwrap();
        assert!(
            dev.message.contains("ServiceAccount hl/developer (as User system:serviceaccount:hl:developer)"),
            "{}",
            dev.message
        );
    }
}

#[test]
fn other_node_subresources_are_a_medium_finding_and_nodes_alone_or_pods_proxy_are_none() {
    let mut snap = fixture("headlamp/hardened.yaml", "hl");
    snap.cluster_roles.push(cluster_role("metrics", vec![rule(&[""], &["nodes/metrics", "nodes/stats"], &["get"])]));
    snap.cluster_roles.push(cluster_role(
        "plain",
        vec![rule(&[""], &["nodes", "pods/log"], &["get", "list"]), rule(&["apps"], &["deployments/scale"], &["get"])],
    ));
    snap.cluster_role_bindings.push(binding(
        "hl-metrics",
        "metrics",
        vec![subject("ServiceAccount", "viewer", Some("hl"))],
    ));
    snap.cluster_role_bindings.push(binding(
        "hl-plain",
        "plain",
        vec![subject("ServiceAccount", "reader", Some("hl"))],
    ));
    // Another namespace's account, in any spelling, is not this namespace's.
    snap.cluster_roles.push(cluster_role("kubelet-api", vec![rule(&[""], &["nodes/proxy"], &["get"])]));
    snap.cluster_role_bindings.push(binding(
        "elsewhere",
        "kubelet-api",
        vec![
            subject("User", "system:serviceaccount:other:headlamp", None),
            subject("ServiceAccount", "headlamp", Some("other")),
        ],
    ));
    let report = audit(&snap, &here("hl"));
    let got = checks(&report);
    assert_eq!(
        got,
        BTreeSet::from([(
            "node-subresources".to_string(),
            "clusterrolebinding.rbac.authorization.k8s.io/hl-metrics".to_string()
        )]),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.findings[0].severity, Risk::Medium);
    assert!(
        report.findings[0].message.contains("get nodes/metrics, get nodes/stats"),
        "{}",
        report.findings[0].message
    );
}

#[test]
fn rights_spelled_as_the_accounts_user_name_or_its_groups_are_counted() {
    let mut snap = fixture("headlamp/hardened.yaml", "hl");
    snap.cluster_role_bindings.push(binding(
        "as-user",
        "cluster-admin",
        vec![subject("User", "system:serviceaccount:hl:developer", None)],
    ));
    snap.cluster_role_bindings.push(binding(
        "everyone",
        "cluster-admin",
        vec![subject("Group", "system:authenticated", None)],
    ));
    snap.cluster_role_bindings.push(binding(
        "not-here",
        "cluster-admin",
        vec![
            subject("User", "system:serviceaccount:other:developer", None),
            subject("Group", "system:serviceaccounts:other", None),
        ],
    ));
    let report = audit(&snap, &here("hl"));
    let got = checks(&report);
    let crb =
        |n: &str| ("cluster-admin-binding".to_string(), format!("clusterrolebinding.rbac.authorization.k8s.io/{n}"));
    assert_eq!(got, BTreeSet::from([crb("as-user"), crb("everyone")]), "{:#?}", report.findings);
    // Headlamp's own account spelled as a User is its own account: reported as such, once.
    let mut snap = fixture("headlamp/hardened.yaml", "hl");
    snap.cluster_role_bindings.push(binding(
        "hl-own",
        "cluster-admin",
        vec![subject("User", "system:serviceaccount:hl:headlamp", None)],
    ));
    let report = audit(&snap, &here("hl"));
    assert_eq!(
        checks(&report),
        BTreeSet::from([(
            "ui-account-admin".to_string(),
            "clusterrolebinding.rbac.authorization.k8s.io/hl-own".to_string()
        )])
    );
}

#[test]
fn the_headlamp_charts_binding_is_named_when_the_chart_was_renamed_and_its_image_mirrored() {
    let report = audit(&fixture("headlamp/renamed.yaml", "hl"), &here("hl"));
    assert_eq!(
        report.dashboards,
        [Found { namespace: "hl".into(), deployment: "headlamp-ui".into(), component: Component::Headlamp }]
    );
    let got = checks(&report);
    assert_eq!(
        got,
        BTreeSet::from([(
            "headlamp-chart-admin".to_string(),
            "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-ui-admin".to_string()
        )]),
        "{:#?}",
        report.findings
    );
    assert!(report.findings[0].message.contains("ServiceAccount hl/headlamp-ui"), "{}", report.findings[0].message);
}

#[test]
fn the_charts_binding_left_without_its_deployment_is_still_reported() {
    let mut snap = fixture("headlamp/default.yaml", "hl");
    snap.deployments.clear();
    let report = audit(&snap, &Where::All);
    let got = checks(&report);
    assert_eq!(
        got,
        BTreeSet::from([(
            "headlamp-chart-admin".to_string(),
            "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin".to_string()
        )]),
        "{:#?}",
        report.findings
    );
    assert!(report.findings[0].message.contains("no Headlamp Deployment found here uses that account"));
    // Not in the namespaces audited: not reported there.
    assert!(audit(&snap, &here("elsewhere")).findings.is_empty());
    // The chart's binding to a narrow role is not cluster-admin.
    let mut snap = fixture("headlamp/default.yaml", "hl");
    snap.cluster_role_bindings[0].role_ref.name = "view".into();
    snap.cluster_roles.push(cluster_role("view", vec![rule(&[""], &["pods"], &["get"])]));
    assert!(audit(&snap, &here("hl")).findings.is_empty(), "{:#?}", audit(&snap, &here("hl")).findings);
    // A binding that only looks like the chart's (no chart label) is not the chart's.
    let mut snap = fixture("headlamp/default.yaml", "hl");
    snap.cluster_role_bindings[0].metadata.labels.as_mut().unwrap().remove(HELM_CHART_LABEL);
    let report = audit(&snap, &here("hl"));
    assert_eq!(
        checks(&report),
        BTreeSet::from([(
            "ui-account-admin".to_string(),
            "clusterrolebinding.rbac.authorization.k8s.io/hl-headlamp-admin".to_string()
        )])
    );
}

#[test]
fn node_subresources_are_read_from_every_way_rbac_names_them() {
    let subs = node_subresources(&[rule(&["*"], &["*"], &["get", "list"])]);
    assert_eq!(subs.keys().collect::<Vec<_>>(), ["*"]);
    let subs = node_subresources(&[
        rule(&["apps"], &["nodes/proxy"], &["get"]),
        rule(&[""], &["nodes", "pods/proxy"], &["*"]),
    ]);
    assert!(subs.is_empty(), "{subs:?}");
    let subs = node_subresources(&[rule(&[""], &["nodes/log", "*/proxy"], &["get"])]);
    assert_eq!(subs.keys().collect::<Vec<_>>(), ["log", "proxy"]);
    // dash-user's own read-only role reads nodes/status (the node itself): not a finding; writing it is.
    assert!(node_subresources(&[rule(&[""], &["nodes/status"], &["get", "list", "watch"])]).is_empty());
    let subs = node_subresources(&[rule(&[""], &["nodes/status"], &["get", "patch"])]);
    assert_eq!(subs["status"], BTreeSet::from(["patch".to_string()]));
}

fn container(args: &[&str]) -> Container {
    Container { name: "c".into(), args: Some(args.iter().map(|a| a.to_string()).collect()), ..Default::default() }
}

#[test]
fn flags_parse_like_pflag() {
    let c =
        container(&["--enable-skip-login=false", "--insecure-port", "9090", "--auto-generate-certificates", "--x=1"]);
    let parsed = flags(&c);
    assert!(!flag_on(&parsed, "enable-skip-login"));
    assert_eq!(flag_value(&parsed, "insecure-port"), Some("9090"));
    assert!(flag_on(&parsed, "auto-generate-certificates"));
    let c = container(&["--enable-skip-login", "--enable-skip-login=false"]);
    assert!(!flag_on(&flags(&c), "enable-skip-login"), "the last one wins");
    let c = container(&["--insecure-port=0"]);
    let found = Found { namespace: "d".into(), deployment: "x".into(), component: Component::Api };
    let mut out = Vec::new();
    container_findings(&found, &c, &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn kong_listen_ports_without_ssl_are_plain_http() {
    let mut c = container(&[]);
    c.env = Some(vec![k8s_openapi::api::core::v1::EnvVar {
        name: "KONG_PROXY_LISTEN".into(),
        value: Some("0.0.0.0:8000, [::]:8000, 0.0.0.0:8443 http2 ssl, [::]:8443 http2 ssl".into()),
        ..Default::default()
    }]);
    assert_eq!(kong_plain_ports(&c), [8000]);
}

#[test]
fn images_are_recognised_with_registries_tags_and_digests() {
    assert_eq!(image_name("docker.io/kubernetesui/dashboard-api:1.10.1").1, "dashboard-api");
    assert_eq!(image_name("localhost:5000/kubernetesui/dashboard@sha256:abc").1, "dashboard");
    assert_eq!(image_name("kong:3.8").1, "kong");
}

#[test]
fn the_worst_findings_come_first_in_every_form() {
    let report = audit(&fixture("headlamp/insecure.yaml", "hl"), &here("hl"));
    let severities: Vec<Risk> = report.findings.iter().map(|f| f.severity).collect();
    assert!(severities.contains(&Risk::High) && severities.contains(&Risk::Medium), "{severities:?}");
    let first_medium = severities.iter().position(|s| *s == Risk::Medium).unwrap();
    assert!(severities[first_medium..].iter().all(|s| *s == Risk::Medium), "high after medium: {severities:?}");
    let json: serde_json::Value = serde_json::from_str(&render(&report, Format::Json).unwrap()).unwrap();
    assert_eq!(json["findings"][0]["severity"], "high");
    let table = render(&report, Format::Text).unwrap();
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("high ") || l.starts_with("medium ")).collect();
    assert!(rows.first().is_some_and(|r| r.starts_with("high ")), "{table}");
    assert_eq!(report::verdict(&report.findings), Outcome::Finding);
}

/// The report as `audit` prints it in `format`.
pub fn render(report: &Report, format: Format) -> Result<String> {
    harden_cli::report::render(report, format, |r| Ok(super::render::text(r)))
}
