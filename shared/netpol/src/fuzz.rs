//! The loader under random input: seeds from the corpus (`tests/fixtures/fuzz/objects`, the
//! seed's g04 manifests, and the network-policy API's own examples), mutated by byte edits and
//! cuts, must give an answer or an error, never a panic, and whatever loads must build and answer
//! a matrix, its decisions and a verdict. Bounded by proptest's case count, so
//! CI runs it in seconds; `PROPTEST_CASES=100000 cargo test -p harden-netpol fuzz` runs it longer.

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

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
