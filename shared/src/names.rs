//! The API server's rules for names, in one place so that every plugin rejects the same inputs
//! the API would reject, before anything is sent. Each caller keeps its own error wording; these
//! functions only answer whether a name is valid.

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
    fn port_names() {
        for ok in ["http", "web-8080", "a", "h2c", &"a".repeat(15)] {
            assert!(is_port_name(ok), "{ok:?}");
        }
        for bad in ["", "8080", "-http", "http-", "we--b", "HTTP", "h_t", &"a".repeat(16)] {
            assert!(!is_port_name(bad), "{bad:?}");
        }
    }
}
