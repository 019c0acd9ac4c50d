//! The certificate and key parsers under random input: seeds from the corpus
//! (`tests/fixtures/fuzz/pem`, `tests/fixtures/tls`), mutated by byte edits and cuts, give an
//! answer or an error, never a panic. Bounded by proptest's case count (`PROPTEST_CASES` raises it).

use proptest::prelude::*;
use time::OffsetDateTime;

use harden_tls::cert;

fn corpus() -> Vec<Vec<u8>> {
    let pem = |p: &std::path::Path| p.extension().is_some_and(|e| e == "crt" || e == "key");
    harden_fuzz::corpus(&["tests/fixtures/fuzz/pem", "tests/fixtures/tls"], pem, 6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_pem_never_panics(
        cert_seed in any::<prop::sample::Index>(),
        key_seed in any::<prop::sample::Index>(),
        edits in harden_fuzz::edits(8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let corpus = corpus();
        let cert_pem = harden_fuzz::mutate(&corpus[cert_seed.index(corpus.len())], &edits, cut);
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
