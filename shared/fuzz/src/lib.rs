//! What every fuzz target shares (a dev-dependency only): the seeds, read from directories of the
//! repository (`tests/fixtures/fuzz/...` and fixtures the tests already keep), the mutations
//! proptest draws for them (bytes replaced, inserted or deleted, and the end cut off), and YAML
//! nested to a chosen depth ([`nested_yaml`]) for the parsers' depth budgets.

use std::path::Path;

use proptest::prelude::*;

/// The files of `dirs` (relative to the repository root) that `keep` accepts, sorted, as bytes.
/// Panics when there are fewer than `at_least`: a missing corpus must not make a target pass.
#[allow(clippy::unwrap_used, reason = "the tests' corpus: an unreadable seed fails the test")]
pub fn corpus(dirs: &[&str], keep: impl Fn(&Path) -> bool, at_least: usize) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut seeds = Vec::new();
    for dir in dirs {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("the fuzz corpus {dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| keep(p))
            .collect();
        paths.sort();
        seeds.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(seeds.len() >= at_least, "the fuzz corpus in {dirs:?} has {} seeds", seeds.len());
    seeds
}

/// Up to `max` edits: (position, byte, operation).
pub fn edits(max: usize) -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..max)
}

/// Replace (0), insert (1) or delete (2) a byte at a position, then maybe cut the end.
pub fn mutate(seed: &[u8], edits: &[(usize, u8, u8)], cut: Option<usize>) -> Vec<u8> {
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

/// YAML nested as deep as `choices` is long, one collection per choice, outermost first: flow
/// mappings and sequences (`{k: ...}`, `[...]`), block mappings (`k:` and an indented value) and
/// compact block sequences (`- ...`; blocks only outside flow collections), around a scalar that
/// holds brackets where they are not syntax (quoted, or a block scalar `|`). Returns the text and
/// how many collections it nests: what a depth check must count at least.
pub fn nested_yaml(choices: &[u8]) -> (String, usize) {
    fn node(choices: &[u8], indent: usize, in_flow: bool, out: &mut String) -> usize {
        let Some((&choice, rest)) = choices.split_first() else {
            out.push_str(match (in_flow, indent % 3) {
                (true, 0) | (false, 0) => "'[{[{'",
                (true, 1) | (false, 1) => "\"}]}]\"",
                (true, _) => "x",
                (false, _) => "|\n",
            });
            if !in_flow && indent % 3 == 2 {
                out.push_str(&" ".repeat(indent + 2));
                out.push_str("{{[[ not nesting\n");
            }
            return 0;
        };
        let kinds = if in_flow { 2 } else { 4 };
        1 + match choice % kinds {
            0 => {
                out.push_str("{k: ");
                let depth = node(rest, indent, true, out);
                out.push('}');
                depth
            }
            1 => {
                out.push('[');
                let depth = node(rest, indent, true, out);
                out.push(']');
                depth
            }
            2 => {
                out.push_str("k:\n");
                out.push_str(&" ".repeat(indent + 2));
                node(rest, indent + 2, false, out)
            }
            _ => {
                out.push_str("- ");
                node(rest, indent + 2, false, out)
            }
        }
    }
    let mut text = String::new();
    let depth = node(choices, 0, false, &mut text);
    text.push('\n');
    (text, depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_replace_insert_delete_and_cut() {
        assert_eq!(mutate(b"abc", &[(1, b'X', 0)], None), b"aXc");
        assert_eq!(mutate(b"abc", &[(1, b'X', 1)], None), b"aXbc");
        assert_eq!(mutate(b"abc", &[(1, b'X', 2)], None), b"ac");
        assert_eq!(mutate(b"abc", &[], Some(2)), b"ab");
        assert_eq!(mutate(b"", &[(5, b'X', 2), (5, b'Y', 1)], Some(9)), b"Y");
    }

    #[test]
    fn nested_yaml_nests_one_collection_per_choice() {
        assert_eq!(nested_yaml(&[]), ("'[{[{'\n".to_string(), 0));
        assert_eq!(nested_yaml(&[0, 1]), ("{k: ['[{[{']}\n".to_string(), 2));
        assert_eq!(nested_yaml(&[2, 3, 2]), ("k:\n  - k:\n      '[{[{'\n".to_string(), 3));
        assert_eq!(nested_yaml(&[2]), ("k:\n  |\n    {{[[ not nesting\n\n".to_string(), 1));
    }
}
