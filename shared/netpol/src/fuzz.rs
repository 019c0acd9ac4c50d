//! The loader under random input: seeds from the corpus (`tests/fixtures/fuzz/objects`, and the
//! seed's g04 manifests), mutated by byte edits and cuts, must give an answer or an error, never a
//! panic, and whatever loads must build and answer a matrix. YAML nested to random depths (flow and
//! block collections, brackets in scalars) must be measured at least as deep as it is, refused
//! before parsing past the budget, and parsed below it. Bounded by proptest's case count, so CI
//! runs it in seconds; `PROPTEST_CASES=100000 cargo test -p harden-netpol fuzz` runs it longer.

use proptest::prelude::*;

use super::*;

fn corpus() -> Vec<Vec<u8>> {
    harden_fuzz::corpus(&["tests/fixtures/fuzz/objects", "examples/g04"], |_| true, 4)
}

fn load(text: &str) {
    let mut objects = Objects::new("default");
    if objects.add_yaml(text, "fuzz").is_err() {
        return;
    }
    if let Ok(cluster) = Cluster::build(&objects) {
        let groups: Vec<GroupId> = cluster.group_ids().collect();
        for port in ["80", "53/UDP", "http"] {
            let _ = cluster.matrix(&groups, &PortQuery::parse(port).unwrap());
        }
    }
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
