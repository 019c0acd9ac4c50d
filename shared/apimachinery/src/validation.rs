//! The API server's rules for names (`k8s.io/apimachinery/pkg/util/validation`), in one place so
//! that every plugin rejects the same inputs the API would reject, before anything is sent.
//!
//! The `is_*` functions answer whether a name is valid and leave the wording to the caller; the
//! `*_errors` functions return the API server's own reasons, for messages that name the field.

/// A DNS-1123 label: 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit.
pub fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len()) && is_label_part(name)
}

/// A DNS-1123 subdomain (what most object names must be): at most 253 characters, dot-separated
/// parts of lower-case letters, digits and '-', each starting and ending with a letter or digit.
/// Like the API server, this does not limit the length of a single part.
pub fn is_dns_subdomain(name: &str) -> bool {
    (1..=253).contains(&name.len()) && name.split('.').all(is_label_part)
}

/// An IANA_SVC_NAME (a named container or Service port): 1-15 lower-case letters, digits and
/// dashes, at least one letter, no dash at either end and no two dashes in a row.
pub fn is_port_name(name: &str) -> bool {
    name.len() <= 15 && is_dns_label(name) && !name.contains("--") && name.bytes().any(|b| b.is_ascii_lowercase())
}

/// The longest label value and the longest name part of a label key.
pub const LABEL_VALUE_MAX: usize = 63;

const QUALIFIED_NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start \
     and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')";

/// Why `key` is not a label key (`IsQualifiedName`): an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit.
/// Empty when it is valid.
pub fn label_key_errors(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.contains('/') {
        errors.push(format!(
            "a qualified name {QUALIFIED_NAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
        return errors;
    }
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errors.push("prefix part must be non-empty".to_string());
        } else if !is_dns_subdomain(prefix) {
            errors.push(format!(
                "prefix part {}",
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', \
                 and must start and end with an alphanumeric character (e.g. 'example.com')"
            ));
        }
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else {
        if name.len() > LABEL_VALUE_MAX {
            errors.push(format!("name part must be no more than {LABEL_VALUE_MAX} characters"));
        }
        if !is_qualified_name_part(name) {
            errors.push(format!("name part {QUALIFIED_NAME_RULE}"));
        }
    }
    errors
}

/// Why `value` is not a label value (`IsValidLabelValue`): empty, or at most 63 letters, digits,
/// '-', '_' and '.', starting and ending with a letter or digit. Empty when it is valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errors.push(format!("must be no more than {LABEL_VALUE_MAX} characters"));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errors.push(format!("a valid label {QUALIFIED_NAME_RULE}"));
    }
    errors
}

fn is_qualified_name_part(text: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    text.bytes().all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
        && text.bytes().next().is_some_and(alnum)
        && text.bytes().last().is_some_and(alnum)
}

fn is_label_part(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !part.starts_with('-')
        && !part.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "web", "web-1", "1abc", &"a".repeat(63)] {
            assert!(is_dns_label(ok), "{ok:?}");
        }
        for bad in ["", "-a", "a-", "Web", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }

    #[test]
    fn subdomains() {
        for ok in ["a", "a.b", "example.com", "x-1.y-2", &"a".repeat(253), &format!("{}.b", "a".repeat(100))] {
            assert!(is_dns_subdomain(ok), "{ok:?}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "-a.b", "a-.b", "A.b", "a/b", &"a".repeat(254)] {
            assert!(!is_dns_subdomain(bad), "{bad:?}");
        }
    }

    #[test]
    fn label_keys_and_values() {
        for ok in ["tier", "app.kubernetes.io/name", "Tier_1", "a", "example.com/X.y-z", &"k".repeat(63)] {
            assert!(label_key_errors(ok).is_empty(), "{ok:?}");
        }
        for bad in ["", "/x", "a/", "-a", "a-", "Example.com/x", "a/b/c", "a b", &"k".repeat(64), "ü"] {
            assert!(!label_key_errors(bad).is_empty(), "{bad:?}");
        }
        for ok in ["", "backend", "v1.2_3", "A", &"v".repeat(63)] {
            assert!(label_value_errors(ok).is_empty(), "{ok:?}");
        }
        for bad in ["-x", "x-", "a b", "a/b", &"v".repeat(64), "é"] {
            assert!(!label_value_errors(bad).is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn port_names() {
        for ok in ["http", "web-8080", "a", "h2c", &"a".repeat(15)] {
            assert!(is_port_name(ok), "{ok:?}");
        }
        for bad in ["", "8080", "-http", "http-", "we--b", "HTTP", "h_t", &"a".repeat(16)] {
            assert!(!is_port_name(bad), "{bad:?}");
        }
    }
}
