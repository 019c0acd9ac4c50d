//! Words for a POSIX shell: the command lines the suite prints for a person to type or paste
//! (`--show-manual` steps, "re-run with ..." hints). One quoting rule for every plugin.

/// `word` as a POSIX shell reads it back: as it is when every character is inert to the shell,
/// else in single quotes (a `'` inside becomes `'\''`). The empty word is `''`, never nothing, and
/// `*`, `?`, `~`, `$`, spaces and the like are always quoted, wherever they stand.
pub fn word(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::word;

    #[test]
    fn plain_words_stay_as_they_are() {
        for plain in ["developer-user", "accounting-service:80", "--kubeconfig=/tmp/a.conf", "a+b%c@d,e"] {
            assert_eq!(word(plain), plain);
        }
    }

    #[test]
    fn words_the_shell_would_change_are_quoted() {
        assert_eq!(word(""), "''", "an empty word must not vanish from the line");
        assert_eq!(word("*.apps.acme.com"), "'*.apps.acme.com'");
        assert_eq!(word("a*b"), "'a*b'", "a glob in the middle expands too");
        assert_eq!(word("--kubeconfig=/tmp/a b"), "'--kubeconfig=/tmp/a b'");
        assert_eq!(word("~/x"), "'~/x'");
        assert_eq!(word("$HOME"), "'$HOME'");
        assert_eq!(word("it's"), r"'it'\''s'");
    }
}
