//! The cluster tiers: the upstream conformance cases that can be expressed without a data plane
//! (a table transcribed from sigs.k8s.io/network-policy-api v0.3.0's conformance tests, on their
//! own manifests), the documented user stories, the CRD's own valid and invalid objects, and
//! every rule of SEMANTICS.md's tier section, each with the wrong answer it must not give.

use super::*;

const UPSTREAM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/network-policy-api-v0.3.0");

/// An upstream file, as a document stream that can follow others.
fn upstream(path: &str) -> String {
    format!("---\n{}\n", std::fs::read_to_string(format!("{UPSTREAM}/{path}")).unwrap())
}

const HOUSES: [(&str, &str); 4] = [
    ("gryffindor", "harry-potter"),
    ("slytherin", "draco-malfoy"),
    ("hufflepuff", "cedric-diggory"),
    ("ravenclaw", "luna-lovegood"),
];

/// The conformance suite's base (`conformance/base/manifests.yaml`): a namespace per house with two
/// pods (`<who>-0`, `<who>-1`, as the StatefulSets make them) serving 80/TCP (`web`), 8080/TCP,
/// 53/UDP (`dns`), 5353/UDP, 9003/SCTP and 9005/SCTP.
fn conformance_base() -> String {
    let mut text = String::new();
    for (h, (house, who)) in HOUSES.iter().enumerate() {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: network-policy-conformance-{house}\n  labels: {{conformance-house: {house}}}\n"
        ));
        for i in 0..2 {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {who}-{i}, namespace: network-policy-conformance-{house}, \
                 labels: {{conformance-house: {house}}}}}\nspec:\n  containers:\n  - name: c\n    image: x\n    ports:\n\
                 \x20   - {{containerPort: 80, protocol: TCP, name: web}}\n\
                 \x20   - {{containerPort: 8080}}\n\
                 \x20   - {{containerPort: 53, protocol: UDP, name: dns}}\n\
                 \x20   - {{containerPort: 5353, protocol: UDP}}\n\
                 \x20   - {{containerPort: 9003, protocol: SCTP}}\n\
                 \x20   - {{containerPort: 9005, protocol: SCTP}}\n\
                 status: {{podIP: 10.{h}.0.{i}}}\n"
            ));
        }
    }
    text
}

fn build(yaml: &str) -> Result<Cluster> {
    let mut objects = Objects::default();
    objects.add_yaml(yaml, "test")?;
    Cluster::build(&objects)
}

/// `house/pod` (`slytherin/draco-malfoy-0`), or `namespace/pod` when the namespace is not a house.
fn endpoint(c: &Cluster, name: &str) -> Endpoint {
    let (ns, pod) = name.split_once('/').unwrap();
    let ns = if HOUSES.iter().any(|(h, _)| *h == ns) { format!("network-policy-conformance-{ns}") } else { ns.into() };
    Endpoint::Pod(c.find_pod(&ns, pod).unwrap())
}

fn verdict(c: &Cluster, from: &str, to: &str, port: &str) -> Verdict {
    c.check(endpoint(c, from), endpoint(c, to), &PortQuery::parse(port).unwrap()).unwrap()
}

fn can(c: &Cluster, from: &str, to: &str, port: &str) -> bool {
    let v = verdict(c, from, to, port);
    // The grouped matrix says the same, and is as certain.
    let (Endpoint::Pod(f), Endpoint::Pod(t)) = (v.from, v.to) else { unreachable!() };
    let m = c.matrix(&c.groups_of([f, t]), &PortQuery::parse(port).unwrap());
    let cell = m.pod_cell(c, f, t).unwrap();
    assert_eq!(cell == Cell::Allowed, v.allowed, "{from} -> {to} on {port}: matrix and check disagree");
    if f != t {
        let (row, column) = (m.position(c.pods[f].group).unwrap(), m.position(c.pods[t].group).unwrap());
        assert_eq!(m.certain(row, column), v.certain(), "{from} -> {to} on {port}: certainty differs");
        let decision = m.decision(c, row, column).unwrap();
        assert_eq!(decision.egress.path, v.egress.tiers.path, "{from} -> {to}: the matrix's egress decision");
        assert_eq!(decision.ingress.path, v.ingress.tiers.path, "{from} -> {to}: the matrix's ingress decision");
    }
    v.allowed
}

/// Edits one object of a multi-document YAML text (by name) with `edit` on its `spec`.
fn mutate(yaml: &str, name: &str, edit: impl Fn(&mut serde_yaml::Mapping)) -> String {
    let mut out = String::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let mut value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).unwrap();
        if value["metadata"]["name"].as_str() == Some(name) {
            edit(value["spec"].as_mapping_mut().unwrap());
        }
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&value).unwrap());
    }
    out
}

fn swap_rules(spec: &mut serde_yaml::Mapping, direction: &str, a: usize, b: usize) {
    spec.get_mut(direction).unwrap().as_sequence_mut().unwrap().swap(a, b);
}

fn set_action(spec: &mut serde_yaml::Mapping, direction: &str, rule: usize, action: &str) {
    spec.get_mut(direction).unwrap()[rule]["action"] = action.into();
}

/// Which tier decided a side, as text: `Admin clusternetworkpolicy/x egress[0] Deny`.
fn decided(c: &Cluster, side: &Side) -> String {
    let rule =
        |r: &TierRuleRef| format!("{} {}[{}] {}", c.cluster_policy_name(r.policy), r.direction, r.rule, r.action);
    let passed: Vec<String> = side.tiers.path.passed.iter().map(|r| format!(" after Pass {}", rule(r))).collect();
    let decision = match &side.tiers.path.decision {
        Decision::Admin { rule: r } => format!("Admin {}", rule(r)),
        Decision::Baseline { rule: r } => format!("Baseline {}", rule(r)),
        Decision::NetworkPolicy { allowed_by: Some(r) } => format!("NetworkPolicy {} allows", c.policy_name(r.policy)),
        Decision::NetworkPolicy { allowed_by: None } => "NetworkPolicy isolates, none allows".into(),
        Decision::Default => "Default".into(),
    };
    decision + &passed.concat()
}

type Case = (&'static str, &'static str, &'static str, bool);

fn check_cases(c: &Cluster, what: &str, cases: &[Case]) {
    for &(from, to, port, expected) in cases {
        assert_eq!(can(c, from, to, port), expected, "{what}: {from} -> {to} on {port}");
    }
}

/// conformance/tests/admin-network-policy-standard-integration.go (CNPAdminTierIntegration), on
/// base/api_integration/standard-anp-np-banp.yaml: an Admin Deny beats a NetworkPolicy allow;
/// turned into Pass, the NetworkPolicy decides; without the NetworkPolicy, the Baseline Deny does.
#[test]
fn upstream_integration_admin_networkpolicy_baseline() {
    let manifest = upstream("conformance/api_integration/standard-anp-np-banp.yaml");
    let c = build(&(conformance_base() + &manifest)).unwrap();
    check_cases(
        &c,
        "Should Deny traffic from slytherin to gryffindor / to slytherin from gryffindor respecting admin CNP",
        &[
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80", false),
            ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "8080", false),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80", false),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "8080", false),
        ],
    );
    let v = verdict(&c, "slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80");
    assert_eq!(decided(&c, &v.ingress), "Admin clusternetworkpolicy/pass-example ingress[0] Deny");
    assert!(v.ingress.allowed_by.len() == 1, "the NetworkPolicy allows it, and is not consulted");

    let passing_ingress = mutate(&manifest, "pass-example", |spec| set_action(spec, "ingress", 0, "Pass"));
    let c = build(&(conformance_base() + &passing_ingress)).unwrap();
    check_cases(
        &c,
        "Should support a 'pass-ingress' policy for admin CNP and respect the match for network policy",
        &[
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80", true),
            ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "8080", true),
        ],
    );
    let v = verdict(&c, "slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80");
    assert_eq!(
        decided(&c, &v.ingress),
        "NetworkPolicy network-policy-conformance-gryffindor/allow-gress-from-to-slytherin-to-gryffindor allows \
         after Pass clusternetworkpolicy/pass-example ingress[0] Pass"
    );

    let passing_both = mutate(&passing_ingress, "pass-example", |spec| set_action(spec, "egress", 0, "Pass"));
    let c = build(&(conformance_base() + &passing_both)).unwrap();
    check_cases(
        &c,
        "Should support a 'pass-egress' policy for admin CNP and respect the match for network policy",
        &[
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80", true),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "8080", true),
        ],
    );

    // "delete network policy so that baseline CNP takes effect"
    let without_np: String = serde_yaml::Deserializer::from_str(&passing_both)
        .map(|d| <serde_yaml::Value as serde::Deserialize>::deserialize(d).unwrap())
        .filter(|v| v["kind"].as_str() != Some("NetworkPolicy"))
        .map(|v| format!("---\n{}", serde_yaml::to_string(&v).unwrap()))
        .collect();
    let c = build(&(conformance_base() + &without_np)).unwrap();
    check_cases(
        &c,
        "Should support a 'pass-ingress'/'pass-egress' policy for admin CNP and respect the match for baseline CNP",
        &[
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80", false),
            ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "8080", false),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80", false),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "8080", false),
        ],
    );
    let v = verdict(&c, "gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80");
    assert_eq!(
        decided(&c, &v.egress),
        "Baseline clusternetworkpolicy/default egress[0] Deny after Pass clusternetworkpolicy/pass-example egress[0] Pass"
    );
}

/// admin-network-policy-standard-priority.go (CNPAdminTierPriorityField): priority 50's Deny
/// wins over priority 60's Pass; once that Pass is at priority 40, it wins, and the Baseline
/// Accept decides.
#[test]
fn upstream_priority_field() {
    let manifest = upstream("conformance/admin_tier/standard-priority-field.yaml");
    let deny = [
        ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80", false),
        ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "8080", false),
        ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80", false),
        ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "8080", false),
    ];
    let c = build(&(conformance_base() + &manifest)).unwrap();
    check_cases(&c, "Should Deny traffic ... respecting admin CNP", &deny);
    let v = verdict(&c, "gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80");
    assert_eq!(decided(&c, &v.egress), "Admin clusternetworkpolicy/priority-50-example egress[0] Deny");

    let raised = mutate(&manifest, "old-priority-60-new-priority-40-example", |spec| {
        spec.insert("priority".into(), 40.into());
    });
    let c = build(&(conformance_base() + &raised)).unwrap();
    let allow: Vec<Case> = deny.iter().map(|&(f, t, p, _)| (f, t, p, true)).collect();
    check_cases(&c, "Should respect admin CNP priority field; thus passing ... over to baseline CNP", &allow);
    let v = verdict(&c, "slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80");
    assert_eq!(
        decided(&c, &v.ingress),
        "Baseline clusternetworkpolicy/default ingress[0] Accept after Pass \
         clusternetworkpolicy/old-priority-60-new-priority-40-example ingress[0] Pass"
    );
}

/// admin- and baseline-network-policy-standard-same-priority.go: three policies of one priority
/// whose rules never match the same connection: each applies to its own subject only, and since
/// none could match together, there is no ambiguity to report.
#[test]
fn upstream_same_priority_without_overlap() {
    for fixture in
        ["conformance/admin_tier/standard-same-priority.yaml", "conformance/baseline_tier/standard-same-priority.yaml"]
    {
        let c = build(&(conformance_base() + &upstream(fixture))).unwrap();
        let cases: [Case; 12] = [
            // Should deny traffic in both directions for each same-priority policy
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80", false),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80", false),
            ("hufflepuff/cedric-diggory-0", "gryffindor/harry-potter-0", "80", false),
            ("gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-0", "80", false),
            ("slytherin/draco-malfoy-1", "hufflepuff/cedric-diggory-0", "8080", false),
            ("hufflepuff/cedric-diggory-1", "slytherin/draco-malfoy-0", "8080", false),
            // Should not apply one same-priority policy's rules to another policy's subject
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "8080", true),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "8080", true),
            ("slytherin/draco-malfoy-1", "hufflepuff/cedric-diggory-0", "80", true),
            ("hufflepuff/cedric-diggory-0", "slytherin/draco-malfoy-0", "80", true),
            // Should not affect traffic matching no same-priority policy
            ("ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", "80", true),
            ("gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-0", "80", true),
        ];
        check_cases(&c, fixture, &cases);
        for (from, to, port, _) in cases {
            let v = verdict(&c, from, to, port);
            assert!(v.egress.tiers.ambiguities.is_empty() && v.ingress.tiers.ambiguities.is_empty(), "{from} -> {to}");
            assert!(v.certain());
        }
    }
}

/// admin-network-policy-standard-gress-rules.go (CNPAdminTierGressRules): rules in order, per
/// protocol and port, with the test's reorderings of the rules.
#[test]
fn upstream_gress_rules_in_order() {
    let manifest = upstream("conformance/admin_tier/standard-gress-rules-combined.yaml");
    let c = build(&(conformance_base() + &manifest)).unwrap();
    check_cases(
        &c,
        "Should support an 'allow-gress' policy across different protocols",
        &[
            ("gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", "80", true),
            ("gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-0", "53/UDP", true),
            ("gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", "9003/SCTP", true),
            ("ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", "80", true),
            ("ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-0", "53/UDP", true),
            ("ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-0", "9003/SCTP", true),
        ],
    );
    check_cases(
        &c,
        "Should support an 'allow-gress' policy across different protocols at the specified ports",
        &[
            ("gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", "8080", true),
            ("gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", "80", false),
            ("gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", "5353/UDP", true),
            ("gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", "53/UDP", false),
            ("gryffindor/harry-potter-0", "hufflepuff/cedric-diggory-1", "9003/SCTP", true),
            ("gryffindor/harry-potter-1", "hufflepuff/cedric-diggory-1", "9005/SCTP", false),
            ("hufflepuff/cedric-diggory-0", "gryffindor/harry-potter-1", "80", true),
            ("hufflepuff/cedric-diggory-1", "gryffindor/harry-potter-1", "8080", false),
            ("hufflepuff/cedric-diggory-0", "gryffindor/harry-potter-1", "5353/UDP", true),
            ("hufflepuff/cedric-diggory-1", "gryffindor/harry-potter-1", "53/UDP", false),
            ("hufflepuff/cedric-diggory-0", "gryffindor/harry-potter-1", "9003/SCTP", true),
            ("hufflepuff/cedric-diggory-1", "gryffindor/harry-potter-1", "9005/SCTP", false),
        ],
    );
    // "deny-gress": rules 0 and 1 swapped, so the Deny comes before the Accept.
    let deny_first = mutate(&manifest, "gress-rules", |spec| {
        swap_rules(spec, "egress", 0, 1);
        swap_rules(spec, "ingress", 0, 1);
    });
    let c = build(&(conformance_base() + &deny_first)).unwrap();
    check_cases(
        &c,
        "Should support an 'deny-gress' policy across different protocols",
        &[
            ("gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-1", "80", false),
            ("gryffindor/harry-potter-1", "ravenclaw/luna-lovegood-1", "53/UDP", false),
            ("gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-1", "9003/SCTP", false),
            ("ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-1", "80", false),
            ("ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-1", "53/UDP", false),
            ("ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-1", "9003/SCTP", false),
        ],
    );
    check_cases(
        &c,
        "Should support a 'deny-gress' policy across different protocols at the specified ports",
        &[
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80", false),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "8080", true),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "53/UDP", false),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "5353/UDP", true),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "9003/SCTP", false),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "9005/SCTP", true),
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80", false),
            ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "8080", true),
        ],
    );
    // "pass-gress": then rules 0 and 2 swapped: the Pass comes first, and nothing below decides.
    let pass_first = mutate(&deny_first, "gress-rules", |spec| {
        swap_rules(spec, "egress", 0, 2);
        swap_rules(spec, "ingress", 0, 2);
    });
    let c = build(&(conformance_base() + &pass_first)).unwrap();
    check_cases(
        &c,
        "Should support an 'pass-gress' policy across different protocols",
        &[
            ("gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", "80", true),
            ("gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", "5353/UDP", true),
            ("gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", "9003/SCTP", true),
            ("ravenclaw/luna-lovegood-0", "gryffindor/harry-potter-0", "80", true),
            ("ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-0", "53/UDP", true),
            ("ravenclaw/luna-lovegood-1", "gryffindor/harry-potter-0", "9003/SCTP", true),
        ],
    );
    let v = verdict(&c, "gryffindor/harry-potter-0", "ravenclaw/luna-lovegood-0", "80");
    assert_eq!(decided(&c, &v.egress), "Default after Pass clusternetworkpolicy/gress-rules egress[0] Pass");
    // "pass-gress at the specified ports": then rules 3 and 4 swapped.
    let pass_ports = mutate(&pass_first, "gress-rules", |spec| {
        swap_rules(spec, "egress", 3, 4);
        swap_rules(spec, "ingress", 3, 4);
    });
    let c = build(&(conformance_base() + &pass_ports)).unwrap();
    check_cases(
        &c,
        "Should support a 'pass-gress' policy across different protocols at the specified ports",
        &[
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "80", true),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "8080", true),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "53/UDP", true),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "5353/UDP", true),
            ("gryffindor/harry-potter-0", "slytherin/draco-malfoy-0", "9003/SCTP", true),
            ("gryffindor/harry-potter-1", "slytherin/draco-malfoy-0", "9005/SCTP", true),
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "80", true),
            ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "8080", true),
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "53/UDP", true),
            ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "5353/UDP", true),
            ("slytherin/draco-malfoy-0", "gryffindor/harry-potter-0", "9003/SCTP", true),
            ("slytherin/draco-malfoy-1", "gryffindor/harry-potter-0", "9005/SCTP", true),
        ],
    );
}

/// The API's user stories (site-src/user-stories.md), with the namespaces they name.
fn story_cluster(story: &str, extra: &str) -> Cluster {
    let mut text = String::new();
    for (ns, labels) in
        [("sensitive-ns", ""), ("monitoring-ns", ""), ("kube-system", ""), ("foo-ns-1", ""), ("bar-ns-1", "")]
    {
        text.push_str(&format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}{labels}}}\n"));
    }
    for (ns, pod, labels) in [
        ("sensitive-ns", "vault", "{app: vault}"),
        ("monitoring-ns", "prometheus", "{app: prometheus}"),
        ("kube-system", "coredns", "{app: kube-dns}"),
        ("foo-ns-1", "client", "{app: client}"),
        ("bar-ns-1", "svc-pub", "{app: svc-pub}"),
        ("bar-ns-1", "other", "{app: other}"),
    ] {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: {ns}, labels: {labels}}}\n\
             spec: {{containers: [{{name: c, image: x, ports: [{{name: web-alt, containerPort: 8081}}, {{containerPort: 8080}}]}}]}}\n"
        ));
    }
    build(&(text + &upstream(&format!("user-story-examples/{story}")) + extra)).unwrap()
}

/// The documented user stories: what each example is for, and what it must not do.
#[test]
fn upstream_user_stories() {
    // Story 1: "Deny traffic at a cluster level": sensitive-ns receives from no namespace, even
    // one whose NetworkPolicy allows everything.
    let allow_all = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: all, namespace: sensitive-ns}\n\
                     spec: {podSelector: {}, ingress: [{}]}\n";
    let c = story_cluster("user-story-1.yaml", allow_all);
    assert!(!can(&c, "monitoring-ns/prometheus", "sensitive-ns/vault", "80"));
    assert!(!can(&c, "foo-ns-1/client", "sensitive-ns/vault", "8080"));
    assert!(can(&c, "sensitive-ns/vault", "foo-ns-1/client", "80"), "egress from it is not touched");
    assert!(can(&c, "foo-ns-1/client", "bar-ns-1/other", "80"), "other namespaces are not touched");

    // Story 2: "Allow traffic at a cluster level": monitoring and DNS get through a namespace's
    // default deny.
    let deny_all = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: foo-ns-1}\n\
                    spec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n";
    let c = story_cluster("user-story-2.yaml", deny_all);
    assert!(can(&c, "monitoring-ns/prometheus", "foo-ns-1/client", "9090"));
    assert!(can(&c, "foo-ns-1/client", "kube-system/coredns", "53/UDP"));
    assert!(!can(&c, "foo-ns-1/client", "bar-ns-1/svc-pub", "80"), "the default deny still denies the rest");
    assert!(!can(&c, "bar-ns-1/other", "foo-ns-1/client", "80"));

    // Story 3: "Explicitly Delegate traffic to existing K8s Network Policy": the Pass does not
    // allow by itself; "if no k8s network policies match the delegated traffic, the traffic will be
    // allowed".
    let c = story_cluster("user-story-3.yaml", "");
    for port in ["8080", "web-alt", "53/UDP"] {
        let v = verdict(&c, "foo-ns-1/client", "bar-ns-1/svc-pub", port);
        assert!(v.allowed, "{port}");
        assert_eq!(
            decided(&c, &v.egress),
            "Default after Pass clusternetworkpolicy/pub-svc-delegate-example egress[0] Pass"
        );
    }
    let c = story_cluster("user-story-3.yaml", deny_all);
    let v = verdict(&c, "foo-ns-1/client", "bar-ns-1/svc-pub", "8080");
    assert!(!v.allowed, "passed to a NetworkPolicy that denies: denied");
    assert_eq!(
        decided(&c, &v.egress),
        "NetworkPolicy isolates, none allows after Pass clusternetworkpolicy/pub-svc-delegate-example egress[0] Pass"
    );
    let v = verdict(&c, "foo-ns-1/client", "bar-ns-1/svc-pub", "8081");
    assert_eq!(
        decided(&c, &v.egress),
        "NetworkPolicy isolates, none allows after Pass clusternetworkpolicy/pub-svc-delegate-example egress[0] Pass",
        "8081 is svc-pub's web-alt: passed too"
    );
    let v = verdict(&c, "foo-ns-1/client", "bar-ns-1/other", "8080");
    assert_eq!(decided(&c, &v.egress), "NetworkPolicy isolates, none allows", "not svc-pub: no Pass on the way");

    // Story 5: "Cluster Wide Default Guardrails": every namespace is default-deny for ingress until
    // its own NetworkPolicy allows.
    let c = story_cluster("user-story-5.yaml", "");
    assert!(!can(&c, "foo-ns-1/client", "bar-ns-1/svc-pub", "8080"));
    let allow = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-foo, namespace: bar-ns-1}\n\
                 spec:\n  podSelector: {matchLabels: {app: svc-pub}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: foo-ns-1}}}]}]\n";
    let c = story_cluster("user-story-5.yaml", allow);
    let v = verdict(&c, "foo-ns-1/client", "bar-ns-1/svc-pub", "8080");
    assert!(v.allowed, "the namespace's NetworkPolicy overrides the Baseline Deny");
    assert_eq!(decided(&c, &v.ingress), "NetworkPolicy bar-ns-1/from-foo allows");
    assert!(
        !can(&c, "foo-ns-1/client", "bar-ns-1/other", "8080"),
        "a pod that NetworkPolicy does not select keeps the Baseline Deny"
    );
    assert!(
        !can(&c, "monitoring-ns/prometheus", "bar-ns-1/svc-pub", "8080"),
        "isolated by the NetworkPolicy, not allowed by it"
    );
}

/// pkg/crdtest/testdata: the objects the CRD's schema and CEL rules accept are accepted, those
/// they reject are rejected, naming the field.
#[test]
fn upstream_crd_valid_and_invalid_objects() {
    for entry in std::fs::read_dir(format!("{UPSTREAM}/crdtest/valid")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let c = build(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(c.tiers.policies.len(), 1, "{}", path.display());
    }
    let expected = [
        ("cidr-invalid.yaml", "spec.egress[0].to[0].networks[0]"),
        ("egress-peer-namedport-conflict.experimental.yaml", "namedPorts since there are no namedPorts"),
        ("invalid-ingress-action.yaml", "spec.ingress[0].action: Unsupported value: \"Invalid\""),
        ("port-range-invalid-equal.yaml", "Start port must be less than End port"),
        ("port-range-invalid-greater.yaml", "Start port must be less than End port"),
    ];
    for (file, reason) in expected {
        let err = build(&upstream(&format!("crdtest/invalid/{file}"))).unwrap_err().to_string();
        assert!(err.contains(reason), "{file}: {err}");
    }
    assert_eq!(std::fs::read_dir(format!("{UPSTREAM}/crdtest/invalid")).unwrap().count(), expected.len());
}

/// What else the CRD rejects (schema and CEL), each refused with its field.
#[test]
fn what_the_crd_rejects_gets_no_verdict() {
    let cnp = |spec: &str| {
        format!(
            "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: p}}\nspec:\n{spec}"
        )
    };
    let subject = "  subject: {namespaces: {}}\n";
    let cases = [
        (cnp("  priority: 1\n  subject: {namespaces: {}}\n"), "spec.tier: Required value"),
        (cnp("  tier: admin\n  priority: 1\n  subject: {namespaces: {}}\n"), "Unsupported value: \"admin\""),
        (cnp("  tier: Admin\n  subject: {namespaces: {}}\n"), "spec.priority: Required value"),
        (cnp("  tier: Admin\n  priority: 1001\n  subject: {namespaces: {}}\n"), "between 0 and 1000"),
        (cnp("  tier: Admin\n  priority: -1\n  subject: {namespaces: {}}\n"), "between 0 and 1000"),
        (cnp("  tier: Admin\n  priority: 1\n"), "spec.subject: Required value"),
        (cnp("  tier: Admin\n  priority: 1\n  subject: {}\n"), "spec.subject: Invalid value: 0"),
        (cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}, pods: {podSelector: {}}}\n"), "Too many: 2"),
        (
            cnp("  tier: Admin\n  priority: 1\n  subject: {pods: {namespaceSelector: {}}}\n"),
            "spec.subject.pods.podSelector: Required",
        ),
        (
            cnp(&format!("  tier: Admin\n  priority: 1\n{subject}  ingress: [{{action: Deny}}]\n")),
            "spec.ingress[0].from: Required",
        ),
        (
            cnp(&format!("  tier: Admin\n  priority: 1\n{subject}  ingress: [{{action: Deny, from: []}}]\n")),
            "at least 1 items",
        ),
        (
            cnp(&format!("  tier: Admin\n  priority: 1\n{subject}  ingress: [{{from: [{{namespaces: {{}}}}]}}]\n")),
            "spec.ingress[0].action: Required",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  ingress: [{{action: Allow, from: [{{namespaces: {{}}}}]}}]\n"
            )),
            "Unsupported value: \"Allow\"",
        ),
        (
            cnp(&format!("  tier: Admin\n  priority: 1\n{subject}  ingress: [{{action: Deny, from: [{{}}]}}]\n")),
            "spec.ingress[0].from[0]: Invalid value: 0",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{namespaces: {{}}, networks: [10.0.0.0/8]}}]}}]\n"
            )),
            "Too many: 2",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{networks: [10.0.0.1/8]}}]}}]\n"
            )),
            "Invalid CIDR format provided",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{networks: []}}]}}]\n"
            )),
            "networks: Invalid value: 0",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{networks: [10.0.0.0/8, 10.0.0.0/8]}}]}}]\n"
            )),
            "Duplicate value",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Accept, to: [{{domainNames: [kubernetes]}}]}}]\n"
            )),
            "DomainName pattern",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{namespaces: {{}}}}], protocols: []}}]\n"
            )),
            "protocols: Invalid value: 0",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{namespaces: {{}}}}], protocols: [{{tcp: {{}}}}]}}]\n"
            )),
            "protocols[0].tcp: Invalid value: 0",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{namespaces: {{}}}}], protocols: [{{tcp: {{destinationPort: {{number: 0}}}}}}]}}]\n"
            )),
            "between 1 and 65535",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{namespaces: {{}}}}], protocols: [{{tcp: {{destinationPort: {{number: 80}}}}, udp: {{destinationPort: {{number: 53}}}}}}]}}]\n"
            )),
            "Too many: 2",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  egress: [{{action: Deny, to: [{{namespaces: {{}}}}], protocols: [{{tcp: {{destinationPort: {{number: 80, range: {{start: 1, end: 2}}}}}}}}]}}]\n"
            )),
            "Too many: 2",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n{subject}  ingress: [{{action: Deny, name: {}, from: [{{namespaces: {{}}}}]}}]\n",
                "x".repeat(101)
            )),
            "Too long",
        ),
        (
            cnp(
                "  tier: Admin\n  priority: 1\n  subject: {namespaces: {matchExpressions: [{key: a, operator: Equals, values: [b]}]}}\n",
            ),
            "no implementation can apply it",
        ),
    ];
    for (yaml, reason) in cases {
        let err = build(&yaml).unwrap_err().to_string();
        assert!(err.contains(reason), "{yaml}\n=> {err}");
        assert!(err.starts_with("test: document 1: clusternetworkpolicy p: "), "{err}");
    }
    let too_many_rules = (0..26).map(|_| "{action: Deny, from: [{namespaces: {}}]}").collect::<Vec<_>>().join(", ");
    let err =
        build(&cnp(&format!("  tier: Admin\n  priority: 1\n{subject}  ingress: [{too_many_rules}]\n"))).unwrap_err();
    assert!(err.to_string().contains("spec.ingress: Too many: 26: must have at most 25 items"), "{err}");
    // v1alpha1: 100 rules are fine, the BANP is a singleton named default without Pass.
    let anp_rules = (0..26).map(|_| "{action: Deny, from: [{namespaces: {}}]}").collect::<Vec<_>>().join(", ");
    let anp = format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: a}}\n\
         spec: {{priority: 3, subject: {{namespaces: {{}}}}, ingress: [{anp_rules}]}}\n"
    );
    assert_eq!(build(&anp).unwrap().tiers.policies[0].ingress.len(), 26);
    let banp = |name: &str, action: &str| {
        format!(
            "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {{name: {name}}}\n\
             spec: {{subject: {{namespaces: {{}}}}, ingress: [{{action: {action}, from: [{{namespaces: {{}}}}]}}]}}\n"
        )
    };
    assert!(build(&banp("other", "Deny")).unwrap_err().to_string().contains("metadata.name=\"default\""));
    assert!(build(&banp("default", "Pass")).unwrap_err().to_string().contains("Unsupported value: \"Pass\""));
    assert!(build(&banp("default", "Accept")).unwrap_err().to_string().contains("Unsupported value: \"Accept\""));
    let anp_pod = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\n\
                   spec: {priority: 3, subject: {pods: {podSelector: {}}}}\n";
    assert!(build(anp_pod).unwrap_err().to_string().contains("spec.subject.pods.namespaceSelector: Required"));
    let anp_icmp = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\n\
                    spec: {priority: 3, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {protocol: ICMP, port: 1}}]}]}\n";
    assert!(build(anp_icmp).unwrap_err().to_string().contains("the engine models"));
}

/// Namespaces x and y (labels `ns: x|y`), pods a and b in each (label `app`), serving `web`
/// (80/TCP) and `dns` (53/UDP), with IPs 10.0.{x=1,y=2}.{a=1,b=2}; and `x/node-agent`, a
/// hostNetwork pod labelled `app: a` on its node's address 192.168.1.10.
fn tiered(policies: &str) -> Cluster {
    let mut text = String::new();
    for (n, ns) in ["x", "y"].iter().enumerate() {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{ns: {ns}}}}}\n"
        ));
        for (p, app) in ["a", "b"].iter().enumerate() {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {app}, namespace: {ns}, labels: {{app: {app}}}}}\n\
                 spec: {{containers: [{{name: c, image: x, ports: [{{name: web, containerPort: 80}}, {{name: dns, containerPort: 53, protocol: UDP}}]}}]}}\n\
                 status: {{podIP: 10.0.{}.{}}}\n",
                n + 1,
                p + 1
            ));
        }
    }
    text.push_str(
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: node-agent, namespace: x, labels: {app: a}}\n\
         spec: {hostNetwork: true, containers: [{name: c, image: x}]}\nstatus: {podIP: 192.168.1.10}\n",
    );
    build(&(text + policies)).unwrap()
}

fn cnp(name: &str, tier: &str, priority: u32, subject: &str, rules: &str) -> String {
    format!(
        "---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\n\
         spec:\n  tier: {tier}\n  priority: {priority}\n  subject: {subject}\n{rules}"
    )
}

const ALL_NS: &str = "{namespaces: {}}";
const DENY_ALL_INGRESS: &str = "  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n";

fn np(name: &str, ns: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
    )
}

fn ip(c: &Cluster, from: &str, to: &str, port: &str) -> Verdict {
    c.check(endpoint(c, from), Endpoint::Ip(to.parse().unwrap()), &PortQuery::parse(port).unwrap()).unwrap()
}

#[test]
fn a_lower_priority_accept_does_not_beat_a_higher_priority_deny() {
    let accept = "  ingress: [{action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n";
    let c = tiered(&(cnp("deny", "Admin", 10, ALL_NS, DENY_ALL_INGRESS) + &cnp("accept", "Admin", 20, ALL_NS, accept)));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(!v.allowed && v.certain(), "priority 10's Deny comes first");
    assert_eq!(decided(&c, &v.ingress), "Admin clusternetworkpolicy/deny ingress[0] Deny");
    assert!(!can(&c, "y/a", "x/a", "80"));
    // The other way round, the Accept wins; the Deny still applies to what the Accept leaves.
    let c = tiered(&(cnp("deny", "Admin", 20, ALL_NS, DENY_ALL_INGRESS) + &cnp("accept", "Admin", 10, ALL_NS, accept)));
    assert!(can(&c, "y/a", "x/a", "80"));
    assert!(!can(&c, "x/b", "x/a", "80"));
    // Within one policy, the rules' order decides (all at the policy's priority).
    let ordered = "  ingress:\n  - {action: Deny, from: [{namespaces: {}}]}\n  - {action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}\n";
    let c = tiered(&cnp("one", "Admin", 1, ALL_NS, ordered));
    assert!(!can(&c, "y/a", "x/a", "80"), "the later Accept does not beat the earlier Deny");
    // A Baseline Accept never beats an Admin Deny, whatever the numbers.
    let c =
        tiered(&(cnp("deny", "Admin", 1000, ALL_NS, DENY_ALL_INGRESS) + &cnp("accept", "Baseline", 0, ALL_NS, accept)));
    assert!(!can(&c, "y/a", "x/a", "80"));
}

#[test]
fn an_admin_pass_does_not_allow_by_itself() {
    let pass = "  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n";
    let deny_np = np("deny", "x", "  podSelector: {}\n");
    let c = tiered(&(cnp("pass", "Admin", 1, ALL_NS, pass) + &deny_np));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(!v.allowed, "handed to a NetworkPolicy that denies");
    assert_eq!(
        decided(&c, &v.ingress),
        "NetworkPolicy isolates, none allows after Pass clusternetworkpolicy/pass ingress[0] Pass"
    );
    assert!(!can(&c, "y/a", "x/a", "80"));
    // Handed to a Baseline Deny: denied.
    let c = tiered(&(cnp("pass", "Admin", 1, ALL_NS, pass) + &cnp("base", "Baseline", 1, ALL_NS, DENY_ALL_INGRESS)));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(!v.allowed);
    assert_eq!(
        decided(&c, &v.ingress),
        "Baseline clusternetworkpolicy/base ingress[0] Deny after Pass clusternetworkpolicy/pass ingress[0] Pass"
    );
    assert!(!can(&c, "y/a", "x/a", "80"));
    // Alone, it is the default that allows, and the verdict says so.
    let c = tiered(&cnp("pass", "Admin", 1, ALL_NS, pass));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(v.allowed);
    assert_eq!(decided(&c, &v.ingress), "Default after Pass clusternetworkpolicy/pass ingress[0] Pass");
    // A Pass skips the rest of its tier: the later Admin Deny does not apply.
    let c = tiered(&(cnp("pass", "Admin", 1, ALL_NS, pass) + &cnp("deny", "Admin", 2, ALL_NS, DENY_ALL_INGRESS)));
    assert!(can(&c, "y/a", "x/a", "80"));
    assert!(!can(&c, "x/b", "x/a", "80"), "not passed: the Deny applies");
    // A Baseline Pass skips the rest of the Baseline tier: the default allows.
    let c =
        tiered(&(cnp("bpass", "Baseline", 1, ALL_NS, pass) + &cnp("base", "Baseline", 2, ALL_NS, DENY_ALL_INGRESS)));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert_eq!(decided(&c, &v.ingress), "Default after Pass clusternetworkpolicy/bpass ingress[0] Pass");
    assert!(!can(&c, "x/b", "x/a", "80"));
}

#[test]
fn a_baseline_deny_does_not_block_what_a_network_policy_allows() {
    let allow = np(
        "from-y",
        "x",
        "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]\n",
    );
    let c = tiered(&(cnp("base", "Baseline", 1, ALL_NS, DENY_ALL_INGRESS) + &allow));
    let v = verdict(&c, "y/b", "x/a", "80");
    assert!(v.allowed && v.certain());
    assert_eq!(decided(&c, &v.ingress), "NetworkPolicy x/from-y allows");
    assert!(can(&c, "y/b", "x/a", "80"));
    // The NetworkPolicy isolates x/a: what it does not allow is denied by it, not by the Baseline.
    let v = verdict(&c, "x/b", "x/a", "80");
    assert_eq!(decided(&c, &v.ingress), "NetworkPolicy isolates, none allows");
    // x/b is not isolated by any NetworkPolicy: the Baseline decides.
    let v = verdict(&c, "y/b", "x/b", "80");
    assert_eq!(decided(&c, &v.ingress), "Baseline clusternetworkpolicy/base ingress[0] Deny");
    // Isolation is per direction: a NetworkPolicy for egress only leaves ingress to the Baseline.
    let egress_only = np("out", "x", "  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{}]\n");
    let c = tiered(&(cnp("base", "Baseline", 1, ALL_NS, DENY_ALL_INGRESS) + &egress_only));
    assert!(!can(&c, "y/b", "x/a", "80"));
    let v = verdict(&c, "x/a", "y/b", "80");
    assert_eq!(decided(&c, &v.egress), "NetworkPolicy x/out allows");
    assert_eq!(decided(&c, &v.ingress), "Baseline clusternetworkpolicy/base ingress[0] Deny", "y/b is not isolated");
}

#[test]
fn an_admin_tier_decides_before_network_policy_both_ways() {
    let allow_all = np("all", "x", "  podSelector: {}\n  ingress: [{}]\n");
    let c = tiered(&(cnp("deny", "Admin", 1, ALL_NS, DENY_ALL_INGRESS) + &allow_all));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(!v.allowed, "an Admin Deny beats a NetworkPolicy allow");
    assert_eq!(v.ingress.allowed_by.len(), 1, "the NetworkPolicy's allow is still listed");
    let accept = "  ingress: [{action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n";
    let deny_np = np("deny", "x", "  podSelector: {}\n");
    let c = tiered(&(cnp("accept", "Admin", 1, ALL_NS, accept) + &deny_np));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(v.allowed, "an Admin Accept beats a NetworkPolicy default deny");
    assert!(v.ingress.allowed_by.is_empty() && !v.ingress.denials.is_empty(), "what NetworkPolicy alone would say");
    assert!(!can(&c, "x/b", "x/a", "80"));
}

#[test]
fn an_egress_accept_still_needs_ingress_at_the_destination() {
    let accept_out = "  egress: [{action: Accept, to: [{namespaces: {}}]}]\n";
    let c = tiered(
        &(cnp("out", "Admin", 1, "{namespaces: {matchLabels: {ns: y}}}", accept_out)
            + &np("deny", "x", "  podSelector: {}\n")),
    );
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(v.egress.allowed && !v.ingress.allowed && !v.allowed);
    assert!(!can(&c, "y/a", "x/a", "80"));
}

#[test]
fn host_network_pods_are_neither_subjects_nor_pod_peers_but_their_address_is_a_network() {
    let c = tiered(&cnp("deny", "Admin", 1, "{pods: {podSelector: {matchLabels: {app: a}}}}", DENY_ALL_INGRESS));
    assert!(can(&c, "y/b", "x/node-agent", "80"), "a hostNetwork pod is not a subject");
    assert!(!can(&c, "y/b", "x/a", "80"));
    let from_a = "  ingress: [{action: Deny, from: [{pods: {podSelector: {matchLabels: {app: a}}}}]}]\n";
    let c = tiered(&cnp("deny", "Admin", 1, ALL_NS, from_a));
    assert!(can(&c, "x/node-agent", "y/b", "80"), "a hostNetwork pod is not a pod peer");
    assert!(!can(&c, "x/a", "y/b", "80"));
    let to_nodes = "  egress: [{action: Deny, to: [{networks: [192.168.0.0/16]}]}]\n";
    let c = tiered(&cnp("deny", "Admin", 1, ALL_NS, to_nodes));
    assert!(!can(&c, "y/b", "x/node-agent", "80"), "networks match a hostNetwork pod's address");
    assert!(can(&c, "y/b", "x/a", "80"));
}

#[test]
fn networks_match_pod_addresses_and_addresses_outside_the_cluster() {
    let rules = "  egress:\n  - {action: Deny, to: [{networks: [169.254.169.254/32, 'fd00:ec2::254/128']}]}\n\
                 \x20 - {action: Deny, to: [{networks: [10.0.2.0/24]}], protocols: [{tcp: {destinationPort: {range: {start: 79, end: 81}}}}]}\n";
    let c = tiered(&cnp("metadata", "Admin", 1, ALL_NS, rules));
    let v = ip(&c, "x/a", "169.254.169.254", "80");
    assert!(!v.allowed && v.certain());
    assert_eq!(decided(&c, &v.egress), "Admin clusternetworkpolicy/metadata egress[0] Deny");
    assert!(!ip(&c, "x/a", "fd00:ec2::254", "80").allowed);
    assert!(ip(&c, "x/a", "169.254.169.253", "80").allowed);
    assert!(!can(&c, "x/a", "y/a", "80"), "y's pods are in 10.0.2.0/24");
    assert!(can(&c, "x/a", "y/a", "82") && can(&c, "x/a", "y/a", "53/UDP") && can(&c, "x/a", "x/b", "80"));
    // Ingress peers are pods only: an address outside the cluster matches no ingress rule.
    let c = tiered(&cnp("deny", "Admin", 1, ALL_NS, DENY_ALL_INGRESS));
    let v = c.check(Endpoint::Ip("203.0.113.9".parse().unwrap()), endpoint(&c, "x/a"), &PortQuery::tcp(80)).unwrap();
    assert!(v.allowed);
    assert_eq!(v.ingress.tiers.path.decision, Decision::Default);
    // 0.0.0.0/0 is every IPv4 address, pods' included (the API's own warning).
    let c = tiered(&cnp("all", "Admin", 1, ALL_NS, "  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]\n"));
    assert!(!can(&c, "x/a", "y/b", "80") && !ip(&c, "x/a", "8.8.8.8", "53/UDP").allowed);
    assert!(ip(&c, "x/a", "2001:db8::1", "80").allowed, "not IPv6");
}

#[test]
fn protocols_ports_ranges_and_named_ports() {
    let rules = "  ingress:\n  - {action: Deny, from: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 80}}}, {udp: {destinationPort: {range: {start: 50, end: 60}}}}]}\n\
                 \x20 - {action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}], protocols: [{destinationNamedPort: dns}, {sctp: {destinationPort: {number: 9}}}]}\n";
    let c = tiered(&cnp("p", "Admin", 1, "{namespaces: {matchLabels: {ns: x}}}", rules));
    assert!(!can(&c, "x/b", "x/a", "80") && can(&c, "x/b", "x/a", "81"), "a number is one port");
    assert!(!can(&c, "x/b", "x/a", "80") && can(&c, "x/b", "x/a", "80/UDP"), "of one protocol");
    assert!(!can(&c, "x/b", "x/a", "50/UDP") && !can(&c, "x/b", "x/a", "60/UDP") && can(&c, "x/b", "x/a", "61/UDP"));
    assert!(!can(&c, "y/b", "x/a", "dns"), "a named port resolves on the destination, any protocol");
    assert!(!can(&c, "y/b", "x/a", "9/SCTP") && can(&c, "x/b", "x/a", "9/SCTP"));
    assert!(can(&c, "y/b", "x/a", "53"), "53/TCP is not the dns port (53/UDP)");
    let v = verdict(&c, "y/b", "x/a", "53/UDP");
    let Decision::Admin { rule } = v.ingress.tiers.path.decision else { panic!("{v:?}") };
    assert_eq!((rule.rule, rule.peer, rule.port), (0, Some(0), Some(1)), "the first rule's UDP range matches first");
    // A rule without protocols matches every port and protocol.
    let c = tiered(&cnp("p", "Admin", 1, ALL_NS, DENY_ALL_INGRESS));
    assert!(!can(&c, "x/b", "x/a", "9/SCTP") && !can(&c, "x/b", "x/a", "65535"));
}

/// "If two (or more) policies in the same tier with the same priority could match a connection,
/// then the implementation can apply any of the matching policies": the engine says so, and does
/// not pretend to know which.
#[test]
fn same_priority_overlaps_are_reported_not_decided() {
    let accept = "  ingress: [{action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n";
    let c =
        tiered(&(cnp("a-deny", "Admin", 5, ALL_NS, DENY_ALL_INGRESS) + &cnp("b-accept", "Admin", 5, ALL_NS, accept)));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(v.allowed, "some implementation may apply the Accept: the engine does not say 'denied'");
    assert!(!v.certain(), "and does not say 'allowed' for sure either");
    let side = &v.ingress.tiers;
    assert_eq!(decided(&c, &v.ingress), "Admin clusternetworkpolicy/b-accept ingress[0] Accept");
    let Some(alternative) = &side.alternative else { panic!("{side:?}") };
    assert!(!alternative.allowed);
    assert_eq!(side.ambiguities.len(), 1);
    assert!(side.ambiguities[0].actions_differ && side.ambiguities[0].priority == Some(5));
    let names: Vec<String> = side.ambiguities[0].rules.iter().map(|r| c.cluster_policy_name(r.policy)).collect();
    assert_eq!(names, ["clusternetworkpolicy/a-deny", "clusternetworkpolicy/b-accept"]);
    assert!(can(&c, "y/a", "x/a", "80"), "the matrix agrees, and is as uncertain");
    // Where only one of them matches, there is nothing to choose.
    let v = verdict(&c, "x/b", "x/a", "80");
    assert!(!v.allowed && v.certain() && v.ingress.tiers.ambiguities.is_empty());
    // The same action from both: the verdict is certain, the choice of rule still reported.
    let deny_y = "  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n";
    let c = tiered(&(cnp("a-deny", "Admin", 5, ALL_NS, DENY_ALL_INGRESS) + &cnp("b-deny", "Admin", 5, ALL_NS, deny_y)));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(!v.allowed && v.certain());
    assert_eq!(v.ingress.tiers.ambiguities.len(), 1);
    assert!(!v.ingress.tiers.ambiguities[0].actions_differ);
    // A Pass against a Deny: either NetworkPolicy decides (it allows) or the Deny does.
    let pass = "  ingress: [{action: Pass, from: [{namespaces: {}}]}]\n";
    let allow = np("all", "x", "  podSelector: {}\n  ingress: [{}]\n");
    let c = tiered(
        &(cnp("a-deny", "Admin", 5, ALL_NS, DENY_ALL_INGRESS) + &cnp("b-pass", "Admin", 5, ALL_NS, pass) + &allow),
    );
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(v.allowed && !v.certain());
    assert_eq!(
        decided(&c, &v.ingress),
        "NetworkPolicy x/all allows after Pass clusternetworkpolicy/b-pass ingress[0] Pass"
    );
    assert!(can(&c, "y/a", "x/a", "80"));
}

/// AdminNetworkPolicy is the Admin tier at its priority, BaselineAdminNetworkPolicy the Baseline
/// tier; `Allow` is `Accept`.
#[test]
fn v1alpha1_kinds_are_read_as_cluster_network_policies() {
    let anp = "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: anp}\n\
               spec:\n  priority: 10\n  subject: {namespaces: {matchLabels: {ns: x}}}\n  ingress:\n\
               \x20 - {action: Allow, from: [{pods: {namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {app: a}}}}], ports: [{portNumber: {port: 80}}]}\n\
               \x20 - {action: Pass, from: [{namespaces: {matchLabels: {ns: y}}}], ports: [{namedPort: dns}, {portRange: {protocol: UDP, start: 100, end: 200}}]}\n\
               \x20 - {action: Deny, from: [{namespaces: {}}]}\n";
    let banp = "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n\
                spec:\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n  egress: [{action: Allow, to: [{networks: [10.0.0.0/8]}]}]\n";
    let c = tiered(&(anp.to_string() + banp));
    let kinds: Vec<(ClusterPolicyKind, Tier, Option<u16>)> =
        c.cluster_policy_ids().map(|p| &c.tiers.policies[p.index()]).map(|p| (p.kind, p.tier, p.priority)).collect();
    assert_eq!(
        kinds,
        [
            (ClusterPolicyKind::AdminNetworkPolicy, Tier::Admin, Some(10)),
            (ClusterPolicyKind::BaselineAdminNetworkPolicy, Tier::Baseline, None)
        ]
    );
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(v.allowed);
    assert_eq!(decided(&c, &v.ingress), "Admin adminnetworkpolicy/anp ingress[0] Accept");
    assert!(!can(&c, "y/b", "x/a", "80"), "Deny");
    let v = verdict(&c, "y/b", "x/a", "dns");
    assert_eq!(
        decided(&c, &v.ingress),
        "Baseline baselineadminnetworkpolicy/default ingress[0] Deny after Pass adminnetworkpolicy/anp ingress[1] Pass"
    );
    assert!(!can(&c, "y/b", "x/a", "150/UDP") && !can(&c, "y/b", "y/a", "80"), "the BANP's Deny");
    let v = verdict(&c, "x/a", "y/b", "80");
    assert_eq!(
        decided(&c, &v.egress),
        "Baseline baselineadminnetworkpolicy/default egress[0] Accept",
        "Allow is Accept"
    );
    // An ANP and a ClusterNetworkPolicy of the same priority: either may apply.
    let accept = "  ingress: [{action: Accept, from: [{namespaces: {}}]}]\n";
    let c = tiered(&(anp.to_string() + &cnp("cnp", "Admin", 10, ALL_NS, accept)));
    let v = verdict(&c, "x/b", "x/a", "80");
    assert!(v.allowed && !v.certain());
    assert_eq!(v.ingress.tiers.ambiguities[0].rules.len(), 2);
}

/// The BaselineAdminNetworkPolicy has no priority: against Baseline-tier ClusterNetworkPolicies
/// its order is not defined, so where both match, both outcomes are possible.
#[test]
fn a_baseline_admin_network_policy_has_no_order_against_baseline_cluster_network_policies() {
    let banp = "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n\
                spec:\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n";
    let accept_y = "  ingress: [{action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n";
    let c = tiered(&(banp.to_string() + &cnp("base", "Baseline", 900, ALL_NS, accept_y)));
    let v = verdict(&c, "y/a", "x/a", "80");
    assert!(v.allowed && !v.certain());
    assert_eq!(v.ingress.tiers.ambiguities[0].priority, None);
    assert!(can(&c, "y/a", "x/a", "80"));
    let v = verdict(&c, "x/b", "x/a", "80");
    assert!(!v.allowed && v.certain(), "only the BANP matches");
    assert_eq!(decided(&c, &v.ingress), "Baseline baselineadminnetworkpolicy/default ingress[0] Deny");
}

/// `domainNames` (experimental) is read, and reported by name as not evaluated: the engine cannot
/// know what a name resolves to, so it never says "denied" where an Accept by name may apply.
#[test]
fn domain_names_are_read_and_reported_as_not_evaluated() {
    let rules = "  egress:\n  - {action: Accept, to: [{domainNames: [metadata.google.internal, '*.example.com']}]}\n\
                 \x20 - {action: Deny, to: [{networks: [0.0.0.0/0]}]}\n";
    let c = tiered(&cnp("allowlist", "Admin", 1, ALL_NS, rules));
    let v = ip(&c, "x/a", "169.254.169.254", "80");
    assert!(v.allowed, "metadata.google.internal is 169.254.169.254: not 'blocked'");
    assert!(!v.certain());
    let side = &v.egress.tiers;
    assert_eq!(side.not_evaluated.len(), 1);
    assert_eq!((side.not_evaluated[0].field, side.not_evaluated[0].rule.rule), ("domainNames", 0));
    assert_eq!(side.alternative.as_ref().map(|a| a.allowed), Some(false));
    assert!(can(&c, "x/a", "y/b", "80"), "a pod may be named too (pod and headless Service records)");
    assert!(!c.matrix(&c.groups_of(c.pod_ids()), &PortQuery::tcp(80)).certain(0, 1));
    // Without the names, the same Deny is certain.
    let c = tiered(&cnp("deny", "Admin", 1, ALL_NS, "  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]\n"));
    let v = ip(&c, "x/a", "169.254.169.254", "80");
    assert!(!v.allowed && v.certain() && v.egress.tiers.not_evaluated.is_empty());
}

/// `nodes` (experimental): a hostNetwork pod's address is its node's, so `{}` (every node) matches
/// it; which nodes another selector selects is not known.
#[test]
fn nodes_peers_match_host_network_pods_as_far_as_the_objects_tell() {
    let c = tiered(&cnp("deny", "Admin", 1, ALL_NS, "  egress: [{action: Deny, to: [{nodes: {}}]}]\n"));
    let v = verdict(&c, "y/a", "x/node-agent", "80");
    assert!(!v.allowed && v.certain());
    assert!(can(&c, "y/a", "x/a", "80"), "a pod's address is not a node's");
    let v = ip(&c, "y/a", "192.168.1.99", "80");
    assert!(v.allowed && !v.certain(), "an address outside the pods may be a node's");
    assert_eq!(v.egress.tiers.not_evaluated[0].field, "nodes");
    let c = tiered(&cnp(
        "deny",
        "Admin",
        1,
        ALL_NS,
        "  egress: [{action: Deny, to: [{nodes: {matchLabels: {role: control-plane}}}]}]\n",
    ));
    let v = verdict(&c, "y/a", "x/node-agent", "80");
    assert!(v.allowed && !v.certain(), "which node the pod is on, and its labels, are not known");
    assert!(can(&c, "y/a", "x/node-agent", "80"));
    assert!(verdict(&c, "y/a", "x/a", "80").certain());
}

#[test]
fn a_pod_talking_to_itself_is_not_subject_to_cluster_policies() {
    let c = tiered(&cnp("deny", "Admin", 1, ALL_NS, DENY_ALL_INGRESS));
    let v = verdict(&c, "x/a", "x/a", "80");
    assert!(v.allowed && v.self_traffic && !v.ingress.allowed && v.certain());
}

/// Without cluster policies, every side is decided by NetworkPolicy or the default, as before.
#[test]
fn without_cluster_policies_network_policy_or_the_default_decides() {
    let c = tiered(&np(
        "from-y",
        "x",
        "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]\n",
    ));
    assert!(c.tiers.is_empty() && c.tiers.index.is_none());
    let v = verdict(&c, "y/b", "x/a", "80");
    assert_eq!(decided(&c, &v.ingress), "NetworkPolicy x/from-y allows");
    assert_eq!(decided(&c, &v.egress), "Default");
    let v = verdict(&c, "x/b", "x/a", "80");
    assert_eq!(decided(&c, &v.ingress), "NetworkPolicy isolates, none allows");
    let m = c.matrix(&c.groups_of(c.pod_ids()), &PortQuery::tcp(80));
    assert!(!m.any_uncertain());
}

#[test]
fn cluster_policies_are_read_from_every_version_list_and_the_cluster() {
    let mut objects = Objects::default();
    objects
        .add_yaml(
            "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicyList\nitems:\n\
             - metadata: {name: one}\n  spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, speling: x}\n\
             ---\napiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: one}\n\
             spec: {tier: Baseline, priority: 2, subject: {namespaces: {}}}\n\
             ---\napiVersion: policy.networking.k8s.io/v1\nkind: ClusterNetworkPolicy\nmetadata: {name: future}\n\
             ---\napiVersion: example.com/v1\nkind: AdminNetworkPolicy\nmetadata: {name: other-group}\n",
            "f.yaml",
        )
        .unwrap();
    objects
        .add_cluster_policy_json(
            serde_json::json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy",
                "metadata": {"name": "default", "resourceVersion": "7"},
                "spec": {"subject": {"namespaces": {}}, "egress": [{"action": "Allow", "to": [{"domainNames": ["a.io"], "networks": ["10.0.0.0/8"]}]}]},
                "status": {"conditions": []}}),
            "the cluster",
        )
        .unwrap();
    // A version the engine does not model, and another group's kind of the same name, change
    // traffic too: kept aside so that every answer says it is incomplete.
    assert!(objects.skipped.is_empty(), "{:?}", objects.skipped);
    let unmodelled: Vec<String> = objects.unmodelled.iter().map(ToString::to_string).collect();
    assert_eq!(
        unmodelled,
        [
            "ClusterNetworkPolicy future (policy.networking.k8s.io/v1)",
            "AdminNetworkPolicy other-group (example.com/v1)"
        ]
    );
    let warnings: Vec<String> = objects.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["f.yaml: document 1: items[0]: ClusterNetworkPolicy \"one\": unknown field \"spec.speling\""]
    );
    let c = Cluster::build(&objects).unwrap();
    assert_eq!(objects.cluster_policies.len(), 3, "a list's items are read as the documents are");
    assert_eq!(c.tiers.policies.len(), 2, "the same ClusterNetworkPolicy in two versions is one object");
    let one = c.cluster_policy_ids().find(|&p| c.tiers.policies[p.index()].name == "one").unwrap();
    assert_eq!(c.tiers.policies[one.index()].tier, Tier::Baseline, "the later one");
    let warnings: Vec<&str> = c.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(warnings[0].contains("cluster policy clusternetworkpolicy/one is given twice"), "{warnings:?}");
    assert!(warnings[1].contains("unknown field \"spec.egress[0].to[0].domainNames\""), "{warnings:?}");
}

#[test]
fn rules_are_described_with_their_tier_priority_and_name() {
    let c = tiered(&cnp(
        "deny",
        "Admin",
        7,
        ALL_NS,
        "  ingress: [{name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}]\n",
    ));
    let v = verdict(&c, "y/a", "x/a", "80");
    let Decision::Admin { rule } = &v.ingress.tiers.path.decision else { panic!() };
    assert_eq!(
        c.tier_rule_text(rule),
        "clusternetworkpolicy/deny (Admin tier, priority 7) ingress rule 0 \"no-y\": Deny"
    );
    let peer = &c.tiers.policies[rule.policy.index()].ingress[0].peers[rule.peer.unwrap()];
    assert_eq!(peer.to_string(), "all pods in namespaces ns=y");
}
