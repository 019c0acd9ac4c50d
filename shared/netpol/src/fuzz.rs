//! The loader under random input: seeds from the corpus (`tests/fixtures/fuzz/objects`, the
//! seed's g04 manifests, and the network-policy API's own examples), mutated by byte edits and
//! cuts, must give an answer or an error, never a panic, and whatever loads must build and answer
//! a matrix, its decisions and a verdict. YAML nested to random depths (flow and block
//! collections, brackets in scalars) must be measured at least as deep as it is, refused before
//! parsing past the budget, and parsed below it. Bounded by proptest's case count, so CI runs it in
//! seconds; `PROPTEST_CASES=100000 cargo test -p harden-netpol fuzz` runs it longer.

use proptest::prelude::*;

use super::*;

fn corpus() -> Vec<Vec<u8>> {
    const UPSTREAM: &str = "shared/netpol/testdata/network-policy-api-v0.3.0";
    harden_fuzz::corpus(
        &[
            "tests/fixtures/fuzz/objects",
            "examples/g04",
            &format!("{UPSTREAM}/crdtest/valid"),
            &format!("{UPSTREAM}/conformance/admin_tier"),
            &format!("{UPSTREAM}/conformance/api_integration"),
            &format!("{UPSTREAM}/user-story-examples"),
        ],
        |_| true,
        4,
    )
}

fn load(text: &str) {
    let mut objects = Objects::new("default");
    if objects.add_yaml(text, "fuzz").is_err() {
        return;
    }
    if let Ok(cluster) = Cluster::build(&objects) {
        let groups: Vec<GroupId> = cluster.group_ids().collect();
        for port in ["80", "53/UDP", "http"] {
            let m = cluster.matrix(&groups, &PortQuery::parse(port).unwrap());
            if !groups.is_empty() {
                let _ = m.decision(&cluster, 0, groups.len() - 1);
            }
        }
        let mut pods = cluster.pod_ids();
        if let (Some(from), Some(to)) = (pods.next(), pods.last()) {
            let _ = cluster.check(Endpoint::Pod(from), Endpoint::Pod(to), &PortQuery::tcp(80));
        }
    }
}

/// A list as `kubectl get -o yaml` writes it, of synthetic pods and policies, with what a cut
/// must not take for the list's structure: block scalars holding `- ` and `#` lines, comments.
fn kubectl_list(seed: u64) -> String {
    let typed = crate::synth::generate_typed(crate::synth::Shape {
        pods: 12,
        policies: 4,
        namespaces: 3,
        seed,
        owners: seed.is_multiple_of(2),
    });
    let mut items: Vec<serde_json::Value> = Vec::new();
    for (i, pod) in typed.pods.iter().enumerate() {
        let mut value = serde_json::to_value(pod).unwrap();
        value["apiVersion"] = "v1".into();
        value["kind"] = "Pod".into();
        if i % 3 == 0 {
            value["metadata"]["annotations"] =
                serde_json::json!({"note": "first\n- not an item\n# not a comment\nitems:\n"});
        }
        items.push(value);
    }
    for policy in &typed.policies {
        let mut value = serde_json::to_value(policy).unwrap();
        value["apiVersion"] = "networking.k8s.io/v1".into();
        value["kind"] = "NetworkPolicy".into();
        items.push(value);
    }
    let list =
        serde_json::json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}});
    serde_yaml::to_string(&list)
        .unwrap()
        .replace("\n- apiVersion: networking", "\n# policies\n- apiVersion: networking")
}

fn value_depth(value: &serde_yaml::Value) -> usize {
    match value {
        serde_yaml::Value::Mapping(map) => 1 + map.values().map(value_depth).max().unwrap_or(0),
        serde_yaml::Value::Sequence(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    /// A list cut into its items must read exactly as the whole document: the same objects, or
    /// the same error.
    #[test]
    fn cut_lists_read_as_the_whole_document(
        seed in 0u64..6,
        edits in harden_fuzz::edits(6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let text = kubectl_list(seed);
        let bytes = harden_fuzz::mutate(text.as_bytes(), &edits, cut);
        let text = String::from_utf8_lossy(&bytes);
        let mut cut_read = Objects::new("default");
        let cut_result = cut_read.add_yaml(&text, "fuzz");
        let mut whole_read = Objects::new("default");
        let whole_result = match crate::scan::depth(&text, crate::scan::MAX_DEPTH) {
            found if found.depth > crate::scan::MAX_DEPTH => whole_read.add_yaml(&text, "fuzz"),
            _ => whole_read.add_whole(&text, "fuzz"),
        };
        prop_assert_eq!(cut_result.map_err(|e| e.to_string()), whole_result.map_err(|e| e.to_string()));
        prop_assert_eq!(format!("{cut_read:?}"), format!("{whole_read:?}"));
    }

    #[test]
    fn nesting_is_measured_at_least_as_deep_as_it_is(choices in prop::collection::vec(any::<u8>(), 0..160)) {
        let (text, depth) = harden_fuzz::nested_yaml(&choices);
        let measured = crate::scan::depth(&text, usize::MAX).depth;
        prop_assert!(measured >= depth, "measured {measured} < {depth}:\n{text}");
        let mut objects = Objects::new("default");
        match objects.add_yaml(&text, "fuzz") {
            Err(Error::TooDeep { .. }) => prop_assert!(measured > crate::scan::MAX_DEPTH),
            // Within the budget, the text is what the generator says: valid YAML this deep.
            Err(e) => prop_assert!(false, "{e}:\n{text}"),
            Ok(()) => {
                prop_assert!(depth <= crate::scan::MAX_DEPTH);
                let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
                prop_assert_eq!(value_depth(&value), depth);
            }
        }
    }

    #[test]
    fn mutated_manifests_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in harden_fuzz::edits(12),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let corpus = corpus();
        let bytes = harden_fuzz::mutate(&corpus[seed.index(corpus.len())], &edits, cut);
        load(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn yaml_shaped_noise_never_panics(lines in prop::collection::vec(prop_oneof![
        "(apiVersion|kind|name|namespace|labels|podSelector|ingress|egress|from|to|ports|port|ipBlock|cidr|except): ?[a-zA-Z0-9/.:{}\\[\\]-]{0,12}",
        " {1,6}- ?[a-z]{0,6}: ?[a-z0-9]{0,6}",
        "---",
        "(<<|&a|\\*a|!!str|\\?) ?[a-z]{0,4}",
        "",
    ], 0..30)) {
        load(&lines.join("\n"));
    }
}
