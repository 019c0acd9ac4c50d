//! The certificate and key parsers under random input: seeds from the corpus
//! (`tests/fixtures/fuzz/pem`, `tests/fixtures/tls`), mutated by byte edits and cuts, give an
//! answer or an error, never a panic. Bounded by proptest's case count (`PROPTEST_CASES` raises it).

use std::path::Path;

use proptest::prelude::*;
use time::OffsetDateTime;

use crate::cert;

fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut seeds = Vec::new();
    for dir in ["tests/fixtures/fuzz/pem", "tests/fixtures/tls"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "crt" || e == "key"))
            .collect();
        paths.sort();
        seeds.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(seeds.len() >= 6, "the fuzz corpus is missing");
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
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_pem_never_panics(
        cert_seed in any::<prop::sample::Index>(),
        key_seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let corpus = corpus();
        let cert_pem = mutate(&corpus[cert_seed.index(corpus.len())], &edits, cut);
        let key_pem = &corpus[key_seed.index(corpus.len())];
        let _ = cert::parse_chain(&cert_pem);
        let _ = cert::parse_key(&cert_pem);
        let hosts = ["accounting.internal.acme.com".to_string()];
        let _ = cert::problems(&cert_pem, key_pem, &hosts, OffsetDateTime::now_utc());
        let _ = cert::problems(key_pem, &cert_pem, &hosts, OffsetDateTime::now_utc());
    }

    /// Base64 bodies that decode to random DER: the certificate and key decoders see junk, not just bad PEM.
    #[test]
    fn random_der_in_pem_never_panics(der in prop::collection::vec(any::<u8>(), 0..600), label in 0usize..4) {
        use base64::Engine as _;
        let label = ["CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"][label];
        let body = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
        let _ = cert::parse_chain(pem.as_bytes());
        let _ = cert::parse_key(pem.as_bytes());
    }
}
