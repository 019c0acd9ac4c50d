//! The checksum-file and binary-header parsers under random input: seeds from the corpus
//! (`tests/fixtures/fuzz/checksums`), mutated by byte edits and cuts, give an answer or an error,
//! never a panic; a digest picked is always hex of a known length. Bounded by proptest's case count
//! (`PROPTEST_CASES` raises it).

use proptest::prelude::*;

use crate::{checksum, header};

fn corpus() -> Vec<Vec<u8>> {
    harden_fuzz::corpus(&["tests/fixtures/fuzz/checksums"], |_| true, 4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn mutated_checksum_files_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in harden_fuzz::edits(10),
        cut in proptest::option::of(any::<usize>()),
        name in prop_oneof!["kubectl", "kubeadm", "kubelet", "we\\\\ird\nname", "\\PC{0,8}"],
    ) {
        let corpus = corpus();
        let text = String::from_utf8_lossy(&harden_fuzz::mutate(&corpus[seed.index(corpus.len())], &edits, cut)).into_owned();
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
