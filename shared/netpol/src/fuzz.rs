//! The loader under random input: seeds from the corpus (`tests/fixtures/fuzz/objects`, and the
//! seed's g04 manifests), mutated by byte edits and cuts, must give an answer or an error, never a
//! panic, and whatever loads must build and answer a matrix. Bounded by proptest's case count, so
//! CI runs it in seconds; `PROPTEST_CASES=100000 cargo test -p harden-netpol fuzz` runs it longer.

use std::path::Path;

use proptest::prelude::*;

use super::*;

fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut seeds = Vec::new();
    for dir in ["tests/fixtures/fuzz/objects", "examples/g04"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        seeds.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(seeds.len() >= 4, "the fuzz corpus is missing");
    seeds
}

/// Replace (0), insert (1) or delete (2) a byte at a position, then maybe cut the end.
fn mutate(seed: &[u8], edits: &[(usize, u8, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(at, byte, op) in edits {
        let at = if bytes.is_empty() { 0 } else { at % bytes.len() };
        match op % 3 {
            0 if !bytes.is_empty() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if !bytes.is_empty() => {
                bytes.remove(at);
            }
            _ => {}
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn mutated_manifests_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let corpus = corpus();
        let bytes = mutate(&corpus[seed.index(corpus.len())], &edits, cut);
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
