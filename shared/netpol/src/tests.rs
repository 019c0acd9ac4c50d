//! Every semantic rule of the engine, and the upstream e2e network-policy cases that can be
//! expressed without a data plane. Clusters are written as YAML, as users write them.

use std::net::IpAddr;

use super::*;

/// The e2e tests' cluster: namespaces x, y, z with pods a, b, c each (label `pod: a|b|c`,
/// namespace label `ns: x|y|z`), serving 80 and 81 on TCP, UDP and SCTP, with named ports.
fn e2e_cluster(policies: &str) -> Cluster {
    let mut text = String::new();
    for ns in ["x", "y", "z"] {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{ns: {ns}}}\n"
        ));
        for pod in ["a", "b", "c"] {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: {ns}, labels: {{pod: {pod}}}}}\n\
                 spec:\n  containers:\n  - name: c\n    image: x\n    ports:\n\
                 \x20   - {{name: serve-80-tcp, containerPort: 80}}\n\
                 \x20   - {{name: serve-81-tcp, containerPort: 81}}\n\
                 \x20   - {{name: serve-80-udp, containerPort: 80, protocol: UDP}}\n\
                 \x20   - {{name: serve-81-udp, containerPort: 81, protocol: UDP}}\n\
                 \x20   - {{name: serve-80-sctp, containerPort: 80, protocol: SCTP}}\n"
            ));
        }
    }
    text.push_str(policies);
    let mut objects = Objects::default();
    objects.add_yaml(&text, "test").unwrap();
    Cluster::build(&objects).unwrap()
}

fn files(paths: &[std::path::PathBuf]) -> Objects {
    let mut objects = Objects::default();
    for path in paths {
        objects.add_yaml(&std::fs::read_to_string(path).unwrap(), &path.display().to_string()).unwrap();
    }
    objects
}

fn build(yaml: &str) -> Result<Cluster> {
    let mut objects = Objects::default();
    objects.add_yaml(yaml, "test")?;
    Cluster::build(&objects)
}

fn pod(c: &Cluster, name: &str) -> Endpoint {
    let (ns, name) = name.split_once('/').unwrap();
    Endpoint::Pod(c.find_pod(ns, name).unwrap())
}

fn can(c: &Cluster, from: &str, to: &str, port: &str) -> bool {
    c.check(pod(c, from), pod(c, to), &PortQuery::parse(port).unwrap()).unwrap().allowed
}

/// The e2e truth table for one port: rows from, columns to, over x/a..z/c.
fn table(c: &Cluster, port: &str) -> String {
    let names: Vec<String> =
        ["x", "y", "z"].iter().flat_map(|ns| ["a", "b", "c"].map(|p| format!("{ns}/{p}"))).collect();
    let mut out = String::new();
    for from in &names {
        for to in &names {
            out.push(if can(c, from, to, port) { '.' } else { 'X' });
        }
        out.push('\n');
    }
    // The grouped matrix must say exactly the same.
    let pods: Vec<PodId> = c.pod_ids().collect();
    let m = c.matrix(&c.groups_of(pods.iter().copied()), &PortQuery::parse(port).unwrap());
    let mut grouped = String::new();
    for from in &names {
        for to in &names {
            let (Endpoint::Pod(f), Endpoint::Pod(t)) = (pod(c, from), pod(c, to)) else { unreachable!() };
            grouped.push(m.pod_cell(c, f, t).unwrap().symbol());
        }
        grouped.push('\n');
    }
    assert_eq!(out, grouped, "explained verdicts and the grouped matrix disagree on port {port}");
    out
}

fn rows(rows: &[&str]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

const ALL_OPEN: &str = ".........";

#[test]
fn without_policies_everything_is_reachable() {
    let c = e2e_cluster("");
    assert_eq!(table(&c, "80"), rows(&[ALL_OPEN; 9]));
}

#[test]
fn default_deny_ingress_denies_all_but_self() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\nspec:\n  podSelector: {}\n",
    );
    // Into x only self; everything else is open.
    let expect = rows(&[
        ".XX......",
        "X.X......",
        "XX.......",
        "XXX......",
        "XXX......",
        "XXX......",
        "XXX......",
        "XXX......",
        "XXX......",
    ]);
    assert_eq!(table(&c, "80"), expect);
}

#[test]
fn default_deny_all_denies_both_directions() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\n\
         spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
    );
    let expect = rows(&[
        ".XXXXXXXX",
        "X.XXXXXXX",
        "XX.XXXXXX",
        "XXX......",
        "XXX......",
        "XXX......",
        "XXX......",
        "XXX......",
        "XXX......",
    ]);
    assert_eq!(table(&c, "80"), expect);
}

#[test]
fn policy_types_default_to_ingress_plus_egress_only_with_egress_rules() {
    // Egress rules but no policyTypes: isolates both ways.
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  egress:\n  - to: [{podSelector: {matchLabels: {pod: b}}}]\n",
    );
    assert!(can(&c, "x/a", "x/b", "80"));
    assert!(!can(&c, "x/a", "x/c", "80"), "egress isolated");
    assert!(!can(&c, "x/b", "x/a", "80"), "ingress isolated (no ingress rules)");
    let a = c.find_pod("x", "a").unwrap();
    assert_eq!(c.isolating(a, Direction::Egress).len(), 1);
    assert_eq!(c.isolating(a, Direction::Ingress).len(), 1);

    // Explicit Egress only: ingress rules are ignored, ingress is open.
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\n",
    );
    assert!(can(&c, "x/c", "x/a", "80"));
    assert!(!can(&c, "x/a", "x/b", "80"));
}

#[test]
fn pod_selector_alone_is_the_policy_namespace() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\n",
    );
    assert!(can(&c, "x/b", "x/a", "80"));
    assert!(!can(&c, "y/b", "x/a", "80"), "pod b of another namespace");
    assert!(!can(&c, "x/c", "x/a", "80"));
    assert!(can(&c, "x/c", "x/b", "80"), "x/b is not selected");
}

#[test]
fn namespace_selector_alone_is_every_pod_there() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]\n",
    );
    assert!(can(&c, "y/a", "x/a", "80") && can(&c, "y/c", "x/a", "80"));
    assert!(!can(&c, "x/b", "x/a", "80") && !can(&c, "z/b", "x/a", "80"));
}

#[test]
fn namespace_and_pod_selector_in_one_peer_is_and_in_two_peers_is_or() {
    let and = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {ns: y}}\n      podSelector: {matchLabels: {pod: b}}\n",
    );
    assert!(can(&and, "y/b", "x/a", "80"));
    assert!(!can(&and, "y/c", "x/a", "80") && !can(&and, "x/b", "x/a", "80") && !can(&and, "z/b", "x/a", "80"));
    let or = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {ns: y}}\n    - podSelector: {matchLabels: {pod: b}}\n",
    );
    assert!(can(&or, "y/c", "x/a", "80") && can(&or, "x/b", "x/a", "80"));
    assert!(!can(&or, "z/b", "x/a", "80") && !can(&or, "x/c", "x/a", "80"));
}

#[test]
fn empty_selectors_and_empty_lists_match_everything() {
    // namespaceSelector {} = every pod of every namespace.
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n",
    );
    assert_eq!(table(&c, "80"), rows(&[ALL_OPEN; 9]));
    // podSelector {} = every pod of the policy's namespace only.
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n",
    );
    assert!(can(&c, "x/b", "x/a", "80") && !can(&c, "y/b", "x/a", "80"));
    // An ingress rule without from (or with an empty one) and without ports allows everything.
    for rule in ["{}", "{from: []}", "{from: [], ports: []}"] {
        let c = e2e_cluster(&format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: x}}\n\
             spec:\n  podSelector: {{}}\n  ingress: [{rule}]\n"
        ));
        assert_eq!(table(&c, "81/UDP"), rows(&[ALL_OPEN; 9]), "{rule}");
    }
}

#[test]
fn match_expressions_select_pods_and_namespaces() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {matchExpressions: [{key: pod, operator: In, values: [a, b]}]}\n  ingress:\n  - from:\n\
         \x20   - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [y]}]}\n\
         \x20     podSelector: {matchExpressions: [{key: pod, operator: Exists}]}\n",
    );
    assert!(can(&c, "z/c", "x/a", "80") && can(&c, "x/c", "x/b", "80"));
    assert!(!can(&c, "y/c", "x/a", "80"));
    assert!(can(&c, "y/c", "x/c", "80"), "x/c is not selected (In a,b)");
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: DoesNotExist}]}}]}]\n",
    );
    assert!(!can(&c, "y/a", "x/a", "80"), "every namespace has the label");
}

#[test]
fn namespaces_get_the_metadata_name_label_even_when_only_referenced() {
    let c = build(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: undeclared}\nspec: {containers: [{name: c, image: x}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: target}\nspec: {containers: [{name: c, image: x}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: target}\n\
         spec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: undeclared}}}]}]\n",
    )
    .unwrap();
    let ns = c.namespace("undeclared").unwrap();
    assert!(!c.namespaces[ns].defined);
    assert!(can(&c, "undeclared/p", "target/q", "80"));
    let defined = e2e_cluster("");
    assert_eq!(defined.namespaces[defined.namespace("y").unwrap()].labels["kubernetes.io/metadata.name"], "y");
}

#[test]
fn ports_numbers_ranges_and_protocols() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 81}]\n  - ports: [{port: 2000, endPort: 3000, protocol: TCP}]\n\
         \x20 - ports: [{protocol: UDP, port: 80}]\n  - ports: [{protocol: SCTP}]\n",
    );
    assert!(can(&c, "y/a", "x/a", "81") && !can(&c, "y/a", "x/a", "80"));
    assert!(!can(&c, "y/a", "x/a", "81/UDP"), "UDP is distinct from TCP");
    assert!(can(&c, "y/a", "x/a", "80/UDP"));
    assert!(can(&c, "y/a", "x/a", "2000") && can(&c, "y/a", "x/a", "2500") && can(&c, "y/a", "x/a", "3000"));
    assert!(!can(&c, "y/a", "x/a", "1999") && !can(&c, "y/a", "x/a", "3001"));
    assert!(can(&c, "y/a", "x/a", "9999/SCTP"), "a protocol without a port is every port of it");
    table(&c, "81");
    table(&c, "80/UDP");
    table(&c, "2500");
}

#[test]
fn named_ports_resolve_on_the_destination_pod() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress: [{ports: [{port: serve-81-udp, protocol: UDP}]}]\n",
    );
    assert!(can(&c, "y/a", "x/a", "81/UDP"));
    assert!(can(&c, "y/a", "x/a", "serve-81-udp"), "a named query port resolves to 81/UDP");
    assert!(!can(&c, "y/a", "x/a", "81"), "81/TCP is not named serve-81-udp");
    assert!(!can(&c, "y/a", "x/a", "80/UDP"));
    // The protocol of a rule's named port must match the container port's.
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress: [{ports: [{port: serve-81-udp}]}]\n",
    );
    assert!(!can(&c, "y/a", "x/a", "81/UDP") && !can(&c, "y/a", "x/a", "81"));
    // Egress named ports are resolved on the destination too.
    let c = build(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: src, namespace: n}\nspec: {containers: [{name: c, image: x}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: n}\nspec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: alt, namespace: n}\nspec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 9090}]}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: e, namespace: n}\n\
         spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{ports: [{port: http}]}]\n",
    )
    .unwrap();
    assert!(can(&c, "n/src", "n/web", "8080") && !can(&c, "n/src", "n/web", "9090"));
    assert!(can(&c, "n/src", "n/alt", "9090") && !can(&c, "n/src", "n/alt", "8080"));
    assert!(can(&c, "n/src", "n/web", "http"));
    let err = c.check(pod(&c, "n/web"), pod(&c, "n/src"), &PortQuery::named("http")).unwrap_err();
    assert!(err.to_string().contains("has no container port named http"), "{err}");
    let m = c.matrix(&c.groups_of(c.pod_ids()), &PortQuery::named("http"));
    let src = c.find_pod("n", "src").unwrap();
    let web = c.find_pod("n", "web").unwrap();
    assert_eq!(m.pod_cell(&c, web, src), Some(Cell::NoSuchPort));
    assert_eq!(m.pod_cell(&c, src, web), Some(Cell::Allowed));
}

#[test]
fn multiple_policies_add_up() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\nspec: {podSelector: {}}\n\
         ---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-b, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\n\
         ---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-y, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]\n",
    );
    assert!(can(&c, "x/b", "x/a", "80") && can(&c, "y/c", "x/a", "80"));
    assert!(!can(&c, "x/c", "x/a", "80") && !can(&c, "z/a", "x/a", "80"));
    let v = c.check(pod(&c, "y/b"), pod(&c, "x/a"), &PortQuery::tcp(80)).unwrap();
    let names: Vec<String> = v.ingress.isolated_by.iter().map(|&p| c.policy_name(p)).collect();
    assert_eq!(names, ["x/deny", "x/from-b", "x/from-y"]);
    assert_eq!(v.ingress.allowed_by.len(), 1);
    assert_eq!(c.policy_name(v.ingress.allowed_by[0].policy), "x/from-y");
    assert_eq!(v.ingress.allowed_by[0].peer, Some(0));
    table(&c, "80");
}

#[test]
fn egress_and_ingress_must_both_allow() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: y}}}]}]\n\
         ---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: in, namespace: y}\n\
         spec:\n  podSelector: {matchLabels: {pod: b}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]\n",
    );
    assert!(can(&c, "x/a", "y/a", "80"));
    assert!(!can(&c, "x/a", "y/b", "80"), "egress allows, ingress denies");
    assert!(!can(&c, "x/a", "z/a", "80"), "egress denies");
    let v = c.check(pod(&c, "x/a"), pod(&c, "y/b"), &PortQuery::tcp(80)).unwrap();
    assert!(v.egress.allowed && !v.ingress.allowed && v.ingress.allowed_by.is_empty());
    table(&c, "80");
}

#[test]
fn self_traffic_is_allowed() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\n\
         spec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
    );
    let v = c.check(pod(&c, "x/a"), pod(&c, "x/a"), &PortQuery::tcp(80)).unwrap();
    assert!(v.allowed && v.self_traffic && !v.egress.allowed && !v.ingress.allowed);
}

fn ip_cluster(policy_spec: &str) -> Cluster {
    build(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: client, namespace: n, labels: {{app: client}}}}\nspec: {{containers: [{{name: c, image: x}}]}}\nstatus: {{podIP: 10.0.1.5, podIPs: [{{ip: 10.0.1.5}}, {{ip: 'fd00::15'}}]}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: server, namespace: n, labels: {{app: server}}}}\nspec: {{containers: [{{name: c, image: x}}]}}\nstatus: {{podIP: 10.0.2.7}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: other, namespace: n, labels: {{app: server}}}}\nspec: {{containers: [{{name: c, image: x}}]}}\nstatus: {{podIP: 10.0.3.9}}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: n}}\nspec:\n{policy_spec}"
    ))
    .unwrap()
}

#[test]
fn ip_block_with_except_applies_to_external_addresses_and_pod_ips() {
    let c = ip_cluster(
        "  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress:\n\
         \x20 - to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.3.0/24]}}]\n\
         \x20 - to: [{ipBlock: {cidr: '2001:db8::/32'}}]\n    ports: [{port: 443}]\n",
    );
    let client = pod(&c, "n/client");
    let ip = |s: &str| Endpoint::Ip(s.parse::<IpAddr>().unwrap());
    let q = PortQuery::tcp(80);
    assert!(c.check(client, ip("10.0.200.1"), &q).unwrap().allowed);
    assert!(!c.check(client, ip("10.0.3.1"), &q).unwrap().allowed, "excepted");
    assert!(!c.check(client, ip("10.1.0.1"), &q).unwrap().allowed, "outside the block");
    assert!(c.check(client, ip("2001:db8::1"), &PortQuery::tcp(443)).unwrap().allowed, "IPv6");
    assert!(!c.check(client, ip("2001:db8::1"), &q).unwrap().allowed);
    // Pod IPs: the e2e "egress to a pod IP" case.
    assert!(can(&c, "n/client", "n/server", "80"));
    assert!(!can(&c, "n/client", "n/other", "80"), "pod IP in the except range");
    // Pods with identical labels but IPs on different sides of the block are not grouped.
    assert_ne!(c.pods[c.find_pod("n", "server").unwrap()].group, c.pods[c.find_pod("n", "other").unwrap()].group);
    let m = c.matrix(&c.groups_of(c.pod_ids()), &q);
    let id = |n: &str| c.find_pod("n", n).unwrap();
    assert_eq!(m.pod_cell(&c, id("client"), id("server")), Some(Cell::Allowed));
    assert_eq!(m.pod_cell(&c, id("client"), id("other")), Some(Cell::Denied));
    // The explanation names the rule and the peer.
    let v = c.check(client, ip("10.0.200.1"), &q).unwrap();
    assert_eq!(
        v.egress.allowed_by,
        [RuleRef { policy: PolicyId(0), direction: Direction::Egress, rule: 0, peer: Some(0), port: None }]
    );
    assert!(v.ingress.pod.is_none(), "an external address has no ingress side");
}

#[test]
fn ip_block_ingress_from_a_pod_ip_and_an_ipv6_pod() {
    let c = ip_cluster(
        "  podSelector: {matchLabels: {app: server}}\n  ingress: [{from: [{ipBlock: {cidr: 'fd00::/64'}}]}]\n",
    );
    assert!(can(&c, "n/client", "n/server", "80"), "client's IPv6 address is in the block");
    let external: IpAddr = "10.0.1.5".parse().unwrap();
    assert_eq!(c.endpoint_for_ip(external), pod(&c, "n/client"), "an address of a pod is that pod");
    assert!(
        !c.check(Endpoint::Ip("192.0.2.1".parse().unwrap()), pod(&c, "n/server"), &PortQuery::tcp(80)).unwrap().allowed
    );
}

#[test]
fn host_network_pods_are_not_selected_by_selectors() {
    let c = build(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: host, namespace: n, labels: {app: a}}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: pod, namespace: n, labels: {app: a}}\nspec: {containers: [{name: c, image: x}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: peer, namespace: n, labels: {app: b}}\nspec: {containers: [{name: c, image: x}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\n\
         spec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]\n",
    )
    .unwrap();
    assert!(can(&c, "n/peer", "n/host", "80"), "the hostNetwork pod is not isolated");
    assert!(!can(&c, "n/peer", "n/pod", "80"));
    assert!(can(&c, "n/pod", "n/peer", "80"));
    assert!(!can(&c, "n/host", "n/peer", "80"), "the hostNetwork pod does not match app=a as a peer");
    assert!(c.isolating(c.find_pod("n", "host").unwrap(), Direction::Ingress).is_empty());
}

#[test]
fn g04_before_and_after() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/g04");
    let before = Cluster::build(&files(&[root.join("g04.yaml")])).unwrap();
    assert!(can(&before, "g04/frontend", "g04/backend", "3000"));
    assert!(can(&before, "default/other", "g04/backend", "3000"));
    let after = Cluster::build(&files(&[
        root.join("g04.yaml"),
        root.join("default-deny-ingress.yaml"),
        root.join("backend-ingress.yaml"),
    ]))
    .unwrap();
    let v = after.check(pod(&after, "g04/frontend"), pod(&after, "g04/backend"), &PortQuery::tcp(3000)).unwrap();
    assert!(v.allowed);
    assert_eq!(after.policy_name(v.ingress.allowed_by[0].policy), "g04/backend-ingress");
    let v = after.check(pod(&after, "default/other"), pod(&after, "g04/backend"), &PortQuery::tcp(3000)).unwrap();
    assert!(!v.allowed && v.egress.allowed && v.ingress.allowed_by.is_empty());
    assert_eq!(v.ingress.isolated_by.len(), 2);
    assert!(!can(&after, "g04/frontend", "g04/backend", "80"), "only port 3000 is open");
}

#[test]
fn loader_reads_lists_typed_lists_and_workload_templates() {
    let mut objects = Objects::new("def");
    objects
        .add_yaml(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a, labels: {team: x}}\n\
             - apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web, namespace: a}\n  spec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 80}]}]}}}\n\
             ---\napiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p1, labels: {app: x}}\n  spec: {containers: [{name: c, image: x}]}\n\
             ---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: a}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: {metadata: {labels: {job: n}}, spec: {restartPolicy: Never, containers: [{name: c, image: x}]}}}}}\n\
             ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n---\n",
            "test",
        )
        .unwrap();
    assert_eq!(objects.namespaces.len(), 1);
    assert_eq!(objects.pods.len(), 3);
    let c = Cluster::build(&objects).unwrap();
    let web = c.find_pod("a", "web").unwrap();
    assert_eq!(c.pods[web].owner.as_deref(), Some("Deployment/web"));
    assert_eq!(c.pods[web].named_ports[0].port, 80);
    assert!(c.find_pod("def", "p1").is_ok(), "objects without a namespace go to the default one");
    assert_eq!(c.pods[c.find_pod("a", "nightly").unwrap()].labels["job"], "n");
}

#[test]
fn invalid_objects_and_queries_are_clear_errors() {
    let policy = |spec: &str| {
        build(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: bad, namespace: n}}\nspec:\n{spec}"
        ))
        .unwrap_err()
    };
    let err = policy("  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]\n");
    let text = err.to_string();
    assert!(text.contains("spec.ingress[0].from[0].ipBlock.cidr") && text.contains("n/bad"), "{err}");
    let err =
        policy("  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]}]\n");
    assert!(err.to_string().contains("strict subset"), "{err}");
    let err = policy("  podSelector: {matchExpressions: [{key: a, operator: Equals, values: [b]}]}\n");
    assert!(err.to_string().contains("spec.podSelector.matchExpressions[0].operator"), "{err}");
    let err = policy("  podSelector: {}\n  ingress: [{ports: [{port: 70000}]}]\n");
    assert!(err.to_string().contains("must be between 1 and 65535"), "{err}");
    let err = policy("  podSelector: {}\n  ingress: [{ports: [{port: 80, protocol: ICMP}]}]\n");
    assert!(err.to_string().contains("supported values"), "{err}");
    let err = policy("  podSelector: {}\n  ingress: [{from: [{}]}]\n");
    assert!(err.to_string().contains("must specify a peer"), "{err}");
    for bad in ["0", "65536", "80/ICMP", "", "Http", "a_b", "80/"] {
        assert!(PortQuery::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(PortQuery::parse("53/udp").unwrap(), PortQuery::new(53, Protocol::Udp));
    let c = e2e_cluster("");
    let err = c.find_pod("x", "nope").unwrap_err();
    assert!(err.to_string().contains("x/nope not found"));
    let Error::PodNotFound { known, .. } = err else { panic!("{err}") };
    assert_eq!(known, ["a", "b", "c"]);
}

#[test]
fn grouping_follows_label_sets_and_agrees_with_pairwise_verdicts() {
    let objects = synth::generate(synth::Shape { pods: 240, policies: 60, namespaces: 6, seed: 7, owners: false });
    let c = Cluster::build(&objects).unwrap();
    assert!(c.groups.len() < c.pods.len() / 2, "{} groups for {} pods", c.groups.len(), c.pods.len());
    for port in ["80", "8085", "http", "9090", "53/UDP"] {
        let q = PortQuery::parse(port).unwrap();
        let m = c.matrix(&c.groups_of(c.pod_ids()), &q);
        for from in c.pod_ids().step_by(3) {
            for to in c.pod_ids().step_by(2) {
                let expected = match c.check(Endpoint::Pod(from), Endpoint::Pod(to), &q) {
                    Ok(v) if v.allowed => Cell::Allowed,
                    Ok(_) => Cell::Denied,
                    Err(_) => Cell::NoSuchPort,
                };
                assert_eq!(
                    m.pod_cell(&c, from, to),
                    Some(expected),
                    "{} -> {} on {port}",
                    c.pod_name(from),
                    c.pod_name(to)
                );
            }
        }
    }
}

#[test]
fn e2e_an_ip_in_both_a_cidr_and_an_except_is_allowed_by_another_policy() {
    // "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed"
    let c = ip_cluster(
        "  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress:\n\
         \x20 - to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.3.9/32]}}]\n\
         ---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: q, namespace: n}\nspec:\n\
         \x20 podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 10.0.3.9/32}}]}]\n",
    );
    let v = c.check(pod(&c, "n/client"), pod(&c, "n/other"), &PortQuery::tcp(80)).unwrap();
    assert!(v.allowed);
    assert_eq!(v.egress.allowed_by.len(), 1);
    assert_eq!(c.policy_name(v.egress.allowed_by[0].policy), "n/q");
}

#[test]
fn e2e_egress_allow_all_takes_precedence_and_directions_are_independent() {
    // "should enforce multiple egress policies with egress allow-all policy taking precedence"
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: only-80, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{ports: [{port: 80}]}]\n\
         ---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: all, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{}]\n",
    );
    assert!(can(&c, "x/a", "y/b", "81") && can(&c, "x/a", "y/b", "80/UDP"));
    table(&c, "81");
    // "ingress and egress policies can be controlled independently": deny egress of x/a to x/b only.
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: e, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n\
         \x20 egress: [{to: [{podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [b]}]}}, {namespaceSelector: {matchLabels: {ns: y}}}]}]\n",
    );
    assert!(!can(&c, "x/a", "x/b", "80") && can(&c, "x/a", "x/c", "80") && can(&c, "x/a", "y/b", "80"));
    assert!(can(&c, "x/b", "x/a", "80"), "ingress of x/a is untouched");
    assert!(!can(&c, "x/a", "z/a", "80"));
    table(&c, "80");
}

#[test]
fn e2e_namespace_selector_on_the_default_name_label_and_protocol_only_ports() {
    // "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label"
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]}]\n",
    );
    assert!(can(&c, "y/c", "x/a", "80") && !can(&c, "z/c", "x/a", "80"));
    // "should not allow access by TCP when a policy specifies only UDP"; SCTP is distinct too.
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress: [{ports: [{protocol: UDP, port: 81}]}]\n",
    );
    assert!(can(&c, "y/a", "x/a", "81/UDP"));
    assert!(!can(&c, "y/a", "x/a", "81") && !can(&c, "y/a", "x/a", "81/SCTP"));
    assert!(can(&c, "y/a", "x/a", "serve-81-udp"));
    table(&c, "81/UDP");
    table(&c, "serve-80-sctp");
}

/// Issue 12: input the API server rejects must not get a verdict. Each of these is refused by
/// kube-apiserver v1.37.2 (the integration tests send them to the real one).
#[test]
fn what_the_api_server_rejects_gets_no_verdict() {
    let cases = [
        ("ingress: [{from: [{ipBlock: {cidr: 10.0.0.1/8}}]}]", "bits set beyond the prefix length"),
        ("ingress: [{from: [{ipBlock: {cidr: 010.0.0.0/8}}]}]", "leading 0s"),
        ("ingress: [{from: [{ipBlock: {cidr: ' 10.0.0.0/8'}}]}]", "valid CIDR"),
        ("ingress: [{from: [{ipBlock: {cidr: '::ffff:10.0.0.0/104'}}]}]", "IPv4-mapped"),
        ("ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]", "strict subset"),
        ("ingress: [{ports: [{port: 80, protocol: tcp}]}]", "supported values"),
        ("egress: [{to: [{ipBlock: {cidr: '::ffff:169.254.169.254/128'}}]}]", "IPv4-mapped"),
    ];
    for (rules, reason) in cases {
        let yaml = format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: n}}\n\
             spec:\n  podSelector: {{}}\n  {rules}\n"
        );
        let err = build(&yaml).unwrap_err();
        assert!(err.to_string().contains(reason), "{rules}: {err}");
    }
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n}\n\
               spec: {containers: [{name: c, image: x, ports: [{containerPort: 80, protocol: udp}]}]}\n";
    assert!(build(pod).unwrap_err().to_string().contains("spec.containers[0].ports[0].protocol"));
}

/// Issue 12: the same policy twice is one policy, the later, as `kubectl apply` of both would leave.
#[test]
fn the_same_policy_twice_means_the_later_one() {
    let policy = |port: u16| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: same, namespace: x}}\n\
             spec:\n  podSelector: {{}}\n  ingress: [{{ports: [{{port: {port}}}]}}]\n"
        )
    };
    let c = e2e_cluster(&(policy(80) + &policy(81)));
    assert_eq!(c.policies.len(), 1);
    assert!(!can(&c, "y/a", "x/a", "80"), "the earlier policy's port is not added to the later one's");
    assert!(can(&c, "y/a", "x/a", "81"));
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].message.contains("given twice"), "{}", c.warnings[0]);
}

/// A misspelt field named with its file, object and path, and the port error naming its field.
#[test]
fn a_misspelt_container_port_names_file_object_and_field() {
    let mut objects = Objects::default();
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: pod-a, namespace: helloworld}\n\
                spec: {containers: [{name: c, image: x, ports: [{containerport: 8080}]}]}\n";
    let err = objects.add_yaml(yaml, "app.yaml").and_then(|()| Cluster::build(&objects).map(|_| ())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("app.yaml: document 1: pod helloworld/pod-a: spec.containers[0].ports[0].containerPort"),
        "{text}"
    );
    assert!(text.contains("containerPort?"), "{text}");
    assert!(objects.warnings[0].message.contains("unknown field \"spec.containers[0].ports[0].containerport\""));
}

/// Issue 21: the seed's two denials give different, precise reasons.
#[test]
fn denials_say_why_not_per_policy() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/g04");
    let c = Cluster::build(&files(&[
        root.join("g04.yaml"),
        root.join("default-deny-ingress.yaml"),
        root.join("backend-ingress.yaml"),
    ]))
    .unwrap();
    let reasons = |from: &str, port: u16| -> Vec<String> {
        let v = c.check(pod(&c, from), pod(&c, "g04/backend"), &PortQuery::tcp(port)).unwrap();
        v.ingress
            .denials
            .iter()
            .filter_map(|d| d.nearest.as_ref())
            .flat_map(|n| n.failures.iter().map(ToString::to_string))
            .collect()
    };
    assert_eq!(
        reasons("default/other", 3000),
        ["namespace default lacks app=orion", "pod default/other lacks tier=frontend"]
    );
    assert_eq!(reasons("g04/frontend", 8080), ["allows 3000/TCP, asked 8080/TCP"]);
    let v = c.check(pod(&c, "g04/frontend"), pod(&c, "g04/backend"), &PortQuery::tcp(8080)).unwrap();
    let empty = v.ingress.denials.iter().find(|d| d.nearest.is_none()).unwrap();
    assert_eq!(c.policy_name(empty.policy), "g04/default-deny-ingress");
}

#[test]
fn address_denials_name_the_cidr_or_the_except() {
    let c = build(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: a12}\nspec: {containers: [{name: c, image: x}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress, namespace: a12}\n\
         spec:\n  podSelector: {}\n  policyTypes: [Egress]\n\
         \x20 egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]}]\n",
    )
    .unwrap();
    let app = c.find_pod("a12", "app").unwrap();
    let to = |ip: &str| Endpoint::Ip(ip.parse().unwrap());
    let v = c.check(Endpoint::Pod(app), to("169.254.169.254"), &PortQuery::tcp(80)).unwrap();
    let failure = &v.egress.denials[0].nearest.as_ref().unwrap().failures[0];
    assert_eq!(failure.to_string(), "169.254.169.254 is in the except entry 169.254.169.254/32");
    assert!(c.check(Endpoint::Pod(app), to("10.0.0.1"), &PortQuery::tcp(80)).unwrap().allowed);
}

#[test]
fn host_network_pods_are_named_as_such() {
    let c = build(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: n, labels: {app: a}}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: peer, namespace: n}\nspec: {containers: [{name: c, image: x}]}\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: n}\nspec: {podSelector: {matchLabels: {app: a}}}\n",
    )
    .unwrap();
    let v = c.check(pod(&c, "n/peer"), pod(&c, "n/agent"), &PortQuery::tcp(80)).unwrap();
    assert!(v.allowed);
    assert_eq!(v.ingress.host_network_selected_by.len(), 1, "the policy would select it, were it not hostNetwork");
}

/// The connection set of `from` -> `to` as printed.
fn connection_text(c: &Cluster, from: &str, to: &str) -> String {
    let (Endpoint::Pod(f), Endpoint::Pod(t)) = (pod(c, from), pod(c, to)) else { unreachable!() };
    let groups = c.groups_of(c.pod_ids());
    let m = c.connections(&groups);
    let position = |p: PodId| groups.iter().position(|&g| g == c.pods[p].group).unwrap();
    m.connections(position(f), position(t)).to_string()
}

/// Issue 30: the whole connection set of a pair at once, printed compactly; a pair allowed on one
/// port is never `All`, and an isolated pair is `None`.
#[test]
fn connection_sets_name_every_protocol_and_port_at_once() {
    let c = e2e_cluster("");
    assert_eq!(connection_text(&c, "x/a", "y/b"), "All");
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: one, namespace: x}\n\
         spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: 80}, {port: 443}]\n\
         \x20 - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n    ports: [{port: 53, protocol: UDP}, {port: 1000, endPort: 2000}]\n",
    );
    assert_eq!(connection_text(&c, "z/a", "x/a"), "TCP 80,443");
    assert_eq!(connection_text(&c, "y/c", "x/a"), "TCP 80,443,1000-2000; UDP 53");
    assert_eq!(connection_text(&c, "x/a", "z/a"), "All", "egress is not isolated");
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: x}\n\
         spec: {podSelector: {}, policyTypes: [Ingress]}\n",
    );
    assert_eq!(connection_text(&c, "y/a", "x/b"), "None");
}

/// A whole protocol but one port: `TCP 1-65535 except 22`, and the other protocols' ports stay.
#[test]
fn connection_sets_say_except_when_both_ends_are_in() {
    let c = e2e_cluster(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: no-ssh, namespace: x}\n\
         spec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 1, endPort: 21}, {port: 23, endPort: 65535}, {protocol: UDP}]\n",
    );
    assert_eq!(connection_text(&c, "y/a", "x/a"), "TCP 1-65535 except 22; UDP 1-65535");
    assert!(!can(&c, "y/a", "x/a", "22") && can(&c, "y/a", "x/a", "23") && can(&c, "y/a", "x/a", "65535/UDP"));
}

/// Named ports resolve per destination pod: the same rule gives different sets to pods whose
/// port of that name differs.
#[test]
fn connection_sets_resolve_named_ports_per_destination() {
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: n, labels: {app: web}}\n\
                spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}\n---\n\
                apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: n, labels: {app: web}}\n\
                spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 9090}, {name: dns, containerPort: 53, protocol: UDP}]}]}\n---\n\
                apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: n}\nspec: {containers: [{name: c, image: i}]}\n---\n\
                apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: n}\n\
                spec: {podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: http}, {port: dns, protocol: UDP}]}]}\n";
    let c = build(yaml).unwrap();
    assert_eq!(connection_text(&c, "n/client", "n/a"), "TCP 8080");
    assert_eq!(connection_text(&c, "n/client", "n/b"), "TCP 9090; UDP 53");
}

/// Cluster policies of one priority that disagree on a port: the set holds the port (some
/// evaluation allows it) and says it is uncertain; the other ports stay certain.
#[test]
fn connection_sets_keep_uncertain_ports_marked() {
    let policy = |name: &str, action: &str| {
        format!(
            "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
             spec:\n  tier: Admin\n  priority: 5\n  subject: {{namespaces: {{matchLabels: {{ns: x}}}}}}\n\
             \x20 ingress: [{{name: r, action: {action}, from: [{{namespaces: {{matchLabels: {{ns: y}}}}}}], protocols: [{{tcp: {{destinationPort: {{number: 443}}}}}}]}}]\n"
        )
    };
    let c = e2e_cluster(&(policy("a-deny", "Deny") + &policy("b-accept", "Accept")));
    let text = connection_text(&c, "y/a", "x/a");
    assert_eq!(text, "All (uncertain: TCP 443)");
    let c = e2e_cluster(&policy("a-deny", "Deny"));
    assert_eq!(connection_text(&c, "y/a", "x/a"), "TCP 1-65535 except 443; UDP 1-65535; SCTP 1-65535");
}

/// On synthetic clusters, every interval's first and last port and random ports: the set holds a
/// port exactly when the engine's check allows it.
#[test]
fn connection_sets_agree_with_check_on_synthetic_clusters() {
    for seed in [3, 7] {
        let objects = synth::generate(synth::Shape { pods: 120, policies: 40, namespaces: 4, seed, owners: false });
        let c = Cluster::build(&objects).unwrap();
        let pods: Vec<PodId> = c.pod_ids().collect();
        let groups = c.groups_of(pods.iter().copied());
        let m = c.connections(&groups);
        let intervals = c.port_intervals();
        let mut rng = seed;
        for (p, protocol) in PROTOCOLS.iter().enumerate() {
            let mut ports: Vec<u16> = Vec::new();
            for (i, &start) in intervals[p].iter().enumerate() {
                ports.push(start);
                ports.push(intervals[p].get(i + 1).map_or(65535, |&n| n - 1));
            }
            for _ in 0..20 {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ports.push(1 + (rng >> 33) as u16 % 65535);
            }
            for (i, &f) in pods.iter().enumerate().step_by(7) {
                for &t in pods.iter().skip(i % 5).step_by(5) {
                    if f == t {
                        continue;
                    }
                    let row = groups.iter().position(|&g| g == c.pods[f].group).unwrap();
                    let column = groups.iter().position(|&g| g == c.pods[t].group).unwrap();
                    let set = m.connections(row, column);
                    for &port in &ports {
                        let v = c.check(Endpoint::Pod(f), Endpoint::Pod(t), &PortQuery::new(port, *protocol)).unwrap();
                        assert_eq!(set.allowed.contains(port, *protocol), v.allowed, "{port}/{protocol}: {set}");
                    }
                }
            }
        }
    }
}

/// A pod `web` (app=web, port http=8080) in `shop`, with the given policies, and `extra` objects
/// (namespaces and pods created "later").
fn shop(policies: &str, extra: &str) -> Cluster {
    let yaml = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{team: red}}}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: shop, labels: {{app: web}}}}\n\
         spec: {{containers: [{{name: c, image: i, ports: [{{name: http, containerPort: 8080}}]}}]}}\n\
         status: {{podIP: 10.0.0.5, podIPs: [{{ip: 10.0.0.5}}]}}\n---\n{policies}\n---\n{extra}\n"
    );
    build(&yaml).unwrap()
}

fn later_pod(ns: &str, ns_labels: &str, name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {ns_labels}}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {labels}}}\n\
         spec: {{containers: [{{name: c, image: i}}]}}\n"
    )
}

fn exposure_of(c: &Cluster, pod: &str, direction: Direction) -> Exposure {
    let Endpoint::Pod(p) = self::pod(c, pod) else { unreachable!() };
    c.exposure(p, direction)
}

const WEB_FROM: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: shop}\n\
                        spec:\n  podSelector: {matchLabels: {app: web}}\n  ingress:\n  - from: [FROM]\n    ports: [{port: http}]\n";

/// Issue 30: "any namespace" comes from the rule (`namespaceSelector: {}`), so a namespace created
/// after the analysis is covered: its pod really is allowed once it exists.
#[test]
fn exposure_to_any_namespace_covers_a_namespace_created_later() {
    let policy = WEB_FROM.replace("FROM", "{namespaceSelector: {}}");
    let c = shop(&policy, "");
    let e = exposure_of(&c, "shop/web", Direction::Ingress);
    assert!(!e.open_by_default && e.isolated_by == ["shop/web"]);
    assert_eq!(e.network_policy.len(), 1);
    assert_eq!(e.network_policy[0].peer, Openness::AnyNamespace { pods: None });
    assert_eq!(e.network_policy[0].ports, ["http (8080/TCP)"]);
    assert_eq!(e.network_policy[0].peer.to_string(), "any pod of any namespace");
    let later = shop(&policy, &later_pod("tomorrow", "{x: y}", "client", "{a: b}"));
    assert!(can(&later, "tomorrow/client", "shop/web", "8080"));
    assert!(!can(&later, "tomorrow/client", "shop/web", "80"), "only the named port");
}

/// Namespaces with given labels: a later namespace with them is allowed, one without is not.
#[test]
fn exposure_to_labelled_namespaces_covers_later_ones_and_only_them() {
    let policy = WEB_FROM.replace("FROM", "{namespaceSelector: {matchLabels: {team: blue}}}");
    let c = shop(&policy, "");
    let e = exposure_of(&c, "shop/web", Direction::Ingress);
    assert_eq!(e.network_policy[0].peer, Openness::NamespacesLabelled { namespaces: "team=blue".into(), pods: None });
    let extra = later_pod("blue-2", "{team: blue}", "client", "{a: b}")
        + "---\n"
        + &later_pod("red-2", "{team: red}", "client", "{a: b}");
    let later = shop(&policy, &extra);
    assert!(can(&later, "blue-2/client", "shop/web", "8080"));
    assert!(!can(&later, "red-2/client", "shop/web", "8080"), "a namespace without the labels is not open");
    assert!(!e.network_policy.iter().any(|o| matches!(o.peer, Openness::AnyNamespace { .. } | Openness::Everything)));
}

/// Pods with given labels: in the policy's namespace, and in any namespace.
#[test]
fn exposure_to_labelled_pods_names_where_they_may_be() {
    let policy = WEB_FROM.replace("FROM", "{podSelector: {matchLabels: {role: client}}}, {namespaceSelector: {}, podSelector: {matchLabels: {role: monitor}}}");
    let c = shop(&policy, "");
    let e = exposure_of(&c, "shop/web", Direction::Ingress);
    let peers: Vec<String> = e.network_policy.iter().map(|o| o.peer.to_string()).collect();
    assert_eq!(peers, ["pods role=client of namespace shop", "pods role=monitor of any namespace"]);
    let extra = later_pod("elsewhere", "{x: y}", "mon", "{role: monitor}")
        + "---\n"
        + &later_pod("elsewhere2", "{x: y}", "client", "{role: client}");
    let later = shop(&policy, &extra);
    assert!(can(&later, "elsewhere/mon", "shop/web", "8080"));
    assert!(!can(&later, "elsewhere2/client", "shop/web", "8080"), "role=client only in shop");
}

/// Address ranges outside the cluster, egress: the metadata address is cut out.
#[test]
fn exposure_to_address_ranges_keeps_their_exceptions() {
    let policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out, namespace: shop}\n\
                  spec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]\n";
    let c = shop(policy, "");
    let e = exposure_of(&c, "shop/web", Direction::Egress);
    assert_eq!(
        e.network_policy[0].peer,
        Openness::Addresses { cidr: "0.0.0.0/0".into(), except: vec!["169.254.169.254/32".into()] }
    );
    assert!(e.network_policy[0].ports.is_empty());
    let Endpoint::Pod(web) = pod(&c, "shop/web") else { unreachable!() };
    let to = |ip: &str| {
        c.check(Endpoint::Pod(web), Endpoint::Ip(ip.parse().unwrap()), &PortQuery::tcp(443)).unwrap().allowed
    };
    assert!(to("203.0.113.9") && !to("169.254.169.254"));
    // Ingress is not isolated by it: open to everything, nothing narrows it.
    let ingress = exposure_of(&c, "shop/web", Direction::Ingress);
    assert!(ingress.open_by_default && ingress.wide_open() && ingress.network_policy.is_empty());
}

/// A rule without peers is everything; an Admin-tier Accept from any namespace is listed before
/// the NetworkPolicy (it decides first), and a later namespace's pod is allowed through it even
/// though a default-deny isolates the pod.
#[test]
fn exposure_lists_cluster_tier_rules_in_the_order_they_decide() {
    let everything = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: all-80, namespace: shop}\n\
                      spec: {podSelector: {}, ingress: [{ports: [{port: 80}]}]}\n";
    let e = exposure_of(&shop(everything, ""), "shop/web", Direction::Ingress);
    assert_eq!(
        (e.network_policy[0].peer.clone(), e.network_policy[0].ports.clone()),
        (Openness::Everything, vec!["80/TCP".to_string()])
    );
    let policies = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\n\
                    spec: {podSelector: {}, policyTypes: [Ingress]}\n---\n\
                    apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: monitoring}\n\
                    spec:\n  tier: Admin\n  priority: 3\n  subject: {namespaces: {matchLabels: {team: red}}}\n\
                    \x20 ingress: [{name: scrape, action: Accept, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 9100}}}]}]\n";
    let c = shop(policies, "");
    let e = exposure_of(&c, "shop/web", Direction::Ingress);
    assert_eq!(e.isolated_by, ["shop/deny"]);
    assert!(e.network_policy.is_empty(), "the default-deny opens nothing");
    assert_eq!(e.admin.len(), 1);
    assert_eq!(e.admin[0].action, "Accept");
    assert_eq!(e.admin[0].opening.peer, Openness::AnyNamespace { pods: None });
    assert_eq!(e.admin[0].opening.ports, ["9100/TCP"]);
    assert!(e.admin[0].opening.rule.starts_with("clusternetworkpolicy/monitoring ingress[0]"));
    assert!(!e.wide_open());
    let later = shop(policies, &later_pod("new", "{x: y}", "prom", "{a: b}"));
    assert!(can(&later, "new/prom", "shop/web", "9100"));
    assert!(!can(&later, "new/prom", "shop/web", "8080"));
}

/// The same answer has the same set indices whatever order the groups come in (live and `-f`
/// list objects in different orders).
#[test]
fn connection_sets_are_numbered_the_same_whatever_the_group_order() {
    let objects = synth::generate(synth::Shape { pods: 60, policies: 20, namespaces: 3, seed: 9, owners: false });
    let c = Cluster::build(&objects).unwrap();
    let groups = c.groups_of(c.pod_ids());
    let mut reversed = groups.clone();
    reversed.reverse();
    let (a, b) = (c.connections(&groups), c.connections(&reversed));
    assert!(a.sets.len() > 2, "{:?}", a.sets);
    assert_eq!(a.sets, b.sets);
    let n = groups.len();
    for row in 0..n {
        for column in 0..n {
            assert_eq!(a.cell(row, column), b.cell(n - 1 - row, n - 1 - column));
        }
    }
}

#[test]
fn matrix_words_agree_with_checks_over_every_group_and_over_a_reversed_subset() {
    // More than 64 groups on both sides (rows span several words, the last one partly), cluster
    // policies (uncertain cells), named ports; the columns every group in order (read word by
    // word) and a reversed subset (gathered bit by bit).
    let objects = synth::generate_with_cluster_policies(
        synth::Shape { pods: 600, policies: 150, namespaces: 8, seed: 11, owners: false },
        6,
    );
    let mut objects = objects;
    // Two Admin policies of one priority that disagree: the API leaves their order open.
    let same_priority = |name: &str, action: &str, direction: &str, peer: &str| {
        format!(
            "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
             spec:\n  tier: Admin\n  priority: 3\n  subject: {{namespaces: {{matchLabels: {{env: dev}}}}}}\n  \
             {direction}:\n  - name: r\n    action: {action}\n    {peer}: [{{namespaces: {{matchLabels: {{env: prod}}}}}}]\n"
        )
    };
    objects.add_yaml(&same_priority("tie-accept", "Accept", "egress", "to"), "test").unwrap();
    objects.add_yaml(&same_priority("tie-deny", "Deny", "egress", "to"), "test").unwrap();
    objects.add_yaml(&same_priority("tie-in-accept", "Accept", "ingress", "from"), "test").unwrap();
    objects.add_yaml(&same_priority("tie-in-deny", "Deny", "ingress", "from"), "test").unwrap();
    let c = Cluster::build(&objects).unwrap();
    let mut every: Vec<GroupId> = c.groups_of(c.pod_ids());
    every.sort_unstable();
    assert!(every.len() > 130, "{} groups", every.len());
    let mut subset: Vec<GroupId> = every.iter().copied().filter(|g| g.0 % 3 != 1).collect();
    subset.reverse();
    let mut uncertain = 0;
    for groups in [every, subset] {
        for port in ["80", "http", "53/UDP", "8085"] {
            let q = PortQuery::parse(port).unwrap();
            let m = c.matrix(&groups, &q);
            for (row, &g) in groups.iter().enumerate() {
                for (column, &d) in groups.iter().enumerate().step_by(3) {
                    let (from, to) = (c.groups[g].pods[0], c.groups[d].pods[0]);
                    if from == to {
                        continue;
                    }
                    let (cell, certain) = match c.check(Endpoint::Pod(from), Endpoint::Pod(to), &q) {
                        Ok(v) => (if v.allowed { Cell::Allowed } else { Cell::Denied }, v.certain()),
                        Err(_) => (Cell::NoSuchPort, true),
                    };
                    let what = format!("{} -> {} on {port}", c.pod_name(from), c.pod_name(to));
                    assert_eq!(m.cell(row, column), cell, "{what}");
                    assert_eq!(m.certain(row, column), certain, "{what}: certainty");
                    uncertain += usize::from(!certain);
                }
            }
        }
    }
    assert!(uncertain > 0, "the cluster policies make some cells uncertain");
}
