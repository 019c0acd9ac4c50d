//! Kubeconfig loading under random input: seeds from the corpus (`tests/fixtures/fuzz/kubeconfig`),
//! mutated by byte edits and cuts, YAML-shaped noise and deep nesting, must give a kubeconfig or an
//! error, never a panic; whatever loads goes on through the checks of the files it names and the
//! choice of context, as `connect` does. Bounded by proptest's case count;
//! `PROPTEST_CASES=100000 cargo test -p harden-kube fuzz` runs it longer.

use kube::config::KubeConfigOptions;
use proptest::prelude::*;

use crate::client::{check_credential_files, parse_kubeconfig};

fn corpus() -> Vec<Vec<u8>> {
    harden_fuzz::corpus(&["tests/fixtures/fuzz/kubeconfig"], |_| true, 5)
}

/// What `connect` does with the bytes of a kubeconfig before it talks to anyone.
fn load(bytes: Vec<u8>) {
    let dir = std::path::Path::new("/nonexistent/kube");
    let Ok(kubeconfig) = parse_kubeconfig(bytes, "fuzz", Some(dir)) else { return };
    let merged = kubeconfig.clone().merge(kubeconfig.clone());
    for context in kubeconfig.contexts.iter().map(|c| Some(c.name.clone())).chain([None]) {
        let options = KubeConfigOptions { context, ..Default::default() };
        let _ = check_credential_files(&kubeconfig, &options);
    }
    drop(merged);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_kubeconfigs_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in harden_fuzz::edits(12),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let corpus = corpus();
        load(harden_fuzz::mutate(&corpus[seed.index(corpus.len())], &edits, cut));
    }

    #[test]
    fn yaml_shaped_noise_never_panics(lines in prop::collection::vec(prop_oneof![
        "(apiVersion|kind|clusters|users|contexts|current-context|name|cluster|user|context|server|token|tokenFile|exec|command|certificate-authority|client-key|namespace): ?[a-zA-Z0-9/.:{}\\[\\]-]{0,12}",
        " {1,6}- ?[a-z-]{0,8}: ?[a-z0-9./]{0,8}",
        "---",
        "(<<|&a|\\*a|!!str|!!binary|\\?) ?[a-z]{0,4}",
        "",
    ], 0..30)) {
        load(lines.join("\n").into_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Nesting far deeper than any kubeconfig, in flow and block style, and UTF-16 of both byte
    /// orders: refused (the parser's depth budget) or read, never a stack overflow.
    #[test]
    fn deep_nesting_and_other_encodings_never_panic(depth in 1usize..20_000, style in 0u8..4) {
        let text = match style {
            0 => format!("clusters: {}{}", "[".repeat(depth), "]".repeat(depth)),
            1 => format!("users: {}{}", "{a: ".repeat(depth), "}".repeat(depth)),
            2 => (0..depth.min(2_000)).map(|i| format!("{}- a:\n", " ".repeat(i * 2))).collect(),
            _ => format!("contexts: {}x", "- ".repeat(depth)),
        };
        load(text.clone().into_bytes());
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        load(utf16);
        let mut odd = vec![0xfe, 0xff, 0x00];
        odd.extend(text.bytes().take(64));
        load(odd);
    }
}
