//! The checksum-file and binary-header parsers under random input: seeds from the corpus
//! (`tests/fixtures/fuzz/checksums`), mutated by byte edits and cuts, give an answer or an error,
//! never a panic; a digest picked is always hex of a known length. Bounded by proptest's case count
//! (`PROPTEST_CASES` raises it).

use std::path::Path;

use proptest::prelude::*;

use crate::{checksum, header};

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fuzz/checksums");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn mutated_checksum_files_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..10),
        cut in proptest::option::of(any::<usize>()),
        name in prop_oneof!["kubectl", "kubeadm", "kubelet", "we\\\\ird\nname", "\\PC{0,8}"],
    ) {
        let corpus = corpus();
        let text = String::from_utf8_lossy(&mutate(&corpus[seed.index(corpus.len())], &edits, cut)).into_owned();
        if let Ok((hex, algorithm)) = checksum::pick(&text, &name, "fuzz") {
            prop_assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            prop_assert_eq!(Some(algorithm), crate::hash::Algorithm::from_hex_len(hex.len()));
        }
    }

    #[test]
    fn random_bytes_as_a_binary_never_panic(mut data in prop::collection::vec(any::<u8>(), 0..512), magic in 0usize..5) {
        // Start from each format's magic so the header parsers get past the first check.
        let magics: [&[u8]; 5] = [b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"MZ", b""];
        let mut bytes = magics[magic].to_vec();
        bytes.append(&mut data);
        let _ = header::detect(bytes.as_slice());
    }
}
