//! Where an expected checksum comes from and how its text is read: release versions, the
//! dl.k8s.io URL layout, bare hex, and `sha256sum`/BSD-style checksum files. All pure.

use harden_cli::error::{Error, Result};

use crate::hash::Algorithm;

pub const DEFAULT_BASE_URL: &str = "https://dl.k8s.io/release";

/// A release version as dl.k8s.io spells it: `v1.26.1`, `v1.31.0-rc.1`. A missing `v` is added.
pub fn normalize_version(text: &str) -> Result<String> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let (core, suffix) = match bare.find(['-', '+']) {
        Some(i) => (&bare[..i], &bare[i..]),
        None => (bare, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.len() != 1 && suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b));
    if !numeric || !suffix_ok {
        return Err(Error::invalid(format!("{text:?} is not a Kubernetes release version"))
            .with_hint("give it as vMAJOR.MINOR.PATCH, e.g. --version v1.31.2"));
    }
    Ok(format!("v{bare}"))
}

/// The part of a version that says it is a vendor's build (`-dispatcher` in gcloud's
/// `v1.32.4-dispatcher`, `-gke.1200`, `+k3s1`, `-eks-...`): anything after MAJOR.MINOR.PATCH but
/// upstream's pre-release tags (`-alpha.N`, `-beta.N`, `-rc.N`), which dl.k8s.io publishes.
pub fn vendor_suffix(version: &str) -> Option<&str> {
    let bare = version.strip_prefix('v').unwrap_or(version);
    let at = bare.find(['-', '+'])?;
    let suffix = &bare[at..];
    let upstream = ["-alpha.", "-beta.", "-rc."]
        .iter()
        .any(|tag| suffix.strip_prefix(tag).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())));
    (!upstream).then_some(suffix)
}

/// Checks that the base URL is HTTPS and drops trailing slashes. Plain http is refused: the
/// checksum is the only thing vouching for the binary, so it must not be open to tampering on the way.
pub fn normalize_base_url(base: &str) -> Result<String> {
    let base = base.trim().trim_end_matches('/');
    let scheme_end = base.find("://").unwrap_or(0);
    let scheme = base[..scheme_end].to_ascii_lowercase();
    let host = &base[(scheme_end + 3).min(base.len())..];
    match scheme.as_str() {
        "https" if !host.is_empty() && !host.starts_with('/') => Ok(base.to_string()),
        "http" => Err(Error::invalid(format!("refusing plain-http --base-url {base}"))
            .with_hint("use an https:// URL; a checksum fetched over http could have been changed on the way")),
        _ => Err(Error::invalid(format!("--base-url {base:?} is not an https:// URL"))
            .with_hint(format!("the default is {DEFAULT_BASE_URL}"))),
    }
}

/// `{base}/{version}/bin/{os}/{arch}/{name}.{sha256|sha512}`, as dl.k8s.io lays out releases.
pub fn checksum_url(base: &str, version: &str, os: &str, arch: &str, name: &str, algorithm: Algorithm) -> String {
    format!(
        "{}/{}/bin/{}/{}/{}.{}",
        base.trim_end_matches('/'),
        encode(version),
        encode(os),
        encode(arch),
        encode(name),
        algorithm.name()
    )
}

/// Percent-encodes a path segment (names are normally plain, but a copied file could be called anything).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~+".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A digest as given by the user or a file: lower-cased, checked to be hex of a known length.
pub fn parse_hex(text: &str, what: &str) -> Result<(String, Algorithm)> {
    let hex = text.trim().to_ascii_lowercase();
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!("{what} is not a hex checksum: {:?}", shorten(text.trim())))
            .with_hint("give 64 hex digits for sha256 or 128 for sha512"));
    }
    let algorithm = Algorithm::from_hex_len(hex.len()).ok_or_else(|| {
        Error::invalid(format!("{what} has {} hex digits; sha256 has 64 and sha512 has 128", hex.len()))
            .with_hint("copy the whole checksum")
    })?;
    Ok((hex, algorithm))
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 { format!("{}...", text.chars().take(40).collect::<String>()) } else { text.into() }
}

/// One line of a checksum file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    hex: String,
    algorithm: Algorithm,
    /// None for a bare digest (dl.k8s.io's `.sha256` files).
    name: Option<String>,
}

fn parse_line(line: &str, source: &str, number: usize) -> Result<Entry> {
    let what = format!("line {number} of {source}");
    // BSD / `shasum --tag`: `SHA256 (kubeadm) = <hex>`.
    if let Some((head, hex)) = line.rsplit_once(") = ")
        && let Some((tag, name)) = head.split_once(" (")
        && matches!(tag.to_ascii_uppercase().as_str(), "SHA256" | "SHA512" | "SHA2-256" | "SHA2-512")
    {
        let (hex, algorithm) = parse_hex(hex, &what)?;
        return Ok(Entry { hex, algorithm, name: Some(name.to_string()) });
    }
    // GNU: `<hex>  name` (text mode) or `<hex> *name` (binary mode); a leading `\` marks an escaped name.
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    // Any Unicode whitespace ends the digest; slice after the whole character (NBSP is 2 bytes).
    let (hex, rest) = match line.char_indices().find(|(_, c)| c.is_whitespace()) {
        Some((i, c)) => (&line[..i], Some(&line[i + c.len_utf8()..])),
        None => (line, None),
    };
    let (hex, algorithm) = parse_hex(hex, &what)?;
    let name = match rest {
        None => None,
        Some(rest) => {
            let rest = rest.trim_end();
            let rest = rest.strip_prefix([' ', '*']).unwrap_or(rest).trim_start();
            if rest.is_empty() {
                None
            } else if escaped {
                Some(rest.replace("\\n", "\n").replace("\\\\", "\\"))
            } else {
                Some(rest.to_string())
            }
        }
    };
    Ok(Entry { hex, algorithm, name })
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn entries(text: &str, source: &str) -> Result<Vec<Entry>> {
    let entries: Vec<Entry> = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| parse_line(line, source, number))
        .collect::<Result<_>>()?;
    if entries.is_empty() {
        return Err(Error::invalid(format!("{source} holds no checksum")));
    }
    Ok(entries)
}

/// Whether a checksum file's text is one digest that names no file (dl.k8s.io's `NAME.sha256`),
/// which can only vouch for the one binary it was published for. A file that cannot be read as
/// checksums at all is not bare (reading it for a binary reports why).
pub fn is_bare(text: &str, source: &str) -> bool {
    matches!(entries(text, source).as_deref(), Ok([only]) if only.name.is_none())
}

/// Picks the checksum for `file_name` out of a checksum file's text: a bare digest, or the
/// `sha256sum`/BSD line whose file name (ignoring directories) is `file_name`. A bare digest is
/// taken as the one given for this binary: the caller makes sure it is checking only one.
pub fn pick(text: &str, file_name: &str, source: &str) -> Result<(String, Algorithm)> {
    let entries = entries(text, source)?;
    let bare: Vec<&Entry> = entries.iter().filter(|e| e.name.is_none()).collect();
    if let [only] = bare.as_slice()
        && entries.len() == 1
    {
        return Ok((only.hex.clone(), only.algorithm));
    }
    if !bare.is_empty() {
        return Err(Error::invalid(format!(
            "{source} mixes bare checksums with named ones, so it is not clear which belongs to {file_name}"
        ))
        .with_hint("use a file with one bare checksum, or `sha256sum`-style lines `<hex>  <name>`"));
    }
    let matching: Vec<&Entry> =
        entries.iter().filter(|e| e.name.as_deref().is_some_and(|n| base_name(n) == file_name)).collect();
    match matching.as_slice() {
        [] => {
            let names: Vec<&str> = entries.iter().filter_map(|e| e.name.as_deref()).take(10).collect();
            Err(Error::not_found(format!("{source} has no checksum for {file_name} (it lists {})", names.join(", ")))
                .with_hint("pass the checksum file of this binary, or --checksum HEX"))
        }
        [first, rest @ ..] => {
            if rest.iter().any(|e| e.hex != first.hex) {
                return Err(Error::invalid(format!(
                    "{source} lists different checksums for {file_name}; cannot tell which one applies"
                ))
                .with_hint("pass --checksum HEX"));
            }
            Ok((first.hex.clone(), first.algorithm))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_builds_are_told_from_upstream_releases() {
        assert_eq!(vendor_suffix("v1.32.4-dispatcher"), Some("-dispatcher"));
        assert_eq!(vendor_suffix("v1.30.2-gke.1587003"), Some("-gke.1587003"));
        assert_eq!(vendor_suffix("v1.31.4+k3s1"), Some("+k3s1"));
        assert_eq!(vendor_suffix("v1.29.3-eks-adc7111"), Some("-eks-adc7111"));
        assert_eq!(vendor_suffix("v1.31.0-rc.1"), None);
        assert_eq!(vendor_suffix("v1.32.0-alpha.3"), None);
        assert_eq!(vendor_suffix("v1.26.1"), None);
        assert_eq!(vendor_suffix("v1.31.0-rc.x"), Some("-rc.x"));
    }

    const A: &str = "9f0c2a1bd1fbd6ed5bcbd9e4a0e6f4d8d2b0b6d7cf3c8f8bd3f0e7a2c9d3b1a0";
    const B: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    /// Issue 12: a line with NBSP or U+3000 after the digest sliced inside a UTF-8 character.
    #[test]
    fn non_ascii_whitespace_after_the_digest_does_not_panic() {
        for sep in ["\u{a0}", "\u{3000}", "\u{2003}"] {
            let line = format!("{A}{sep}kubeadm");
            let entry = parse_line(&line, "f", 1).unwrap();
            assert_eq!(entry.name.as_deref(), Some("kubeadm"));
        }
    }

    #[test]
    fn urls_follow_the_dl_k8s_io_layout() {
        assert_eq!(
            checksum_url(DEFAULT_BASE_URL, "v1.26.1", "linux", "amd64", "kubeadm", Algorithm::Sha256),
            "https://dl.k8s.io/release/v1.26.1/bin/linux/amd64/kubeadm.sha256"
        );
        assert_eq!(
            checksum_url(
                "https://mirror.example/k8s/",
                "v1.31.0-rc.1",
                "windows",
                "arm64",
                "kubectl.exe",
                Algorithm::Sha512
            ),
            "https://mirror.example/k8s/v1.31.0-rc.1/bin/windows/arm64/kubectl.exe.sha512"
        );
        assert_eq!(
            checksum_url("https://h", "v1.0.0", "linux", "amd64", "my tool/x", Algorithm::Sha256),
            "https://h/v1.0.0/bin/linux/amd64/my%20tool%2Fx.sha256"
        );
    }

    #[test]
    fn versions_get_a_v_and_garbage_is_refused() {
        assert_eq!(normalize_version("1.26.1").unwrap(), "v1.26.1");
        assert_eq!(normalize_version("v1.31.0-rc.1").unwrap(), "v1.31.0-rc.1");
        assert_eq!(normalize_version(" v1.32.4-dispatcher ").unwrap(), "v1.32.4-dispatcher");
        for bad in ["", "v1.26", "latest", "v1.26.x", "v1..1", "1.2.3/../../x", "v1.2.3-", "v1.2.3 x"] {
            let err = normalize_version(bad).unwrap_err();
            assert!(err.hint.as_deref().unwrap().contains("--version"), "{bad}: {err}");
        }
    }

    #[test]
    fn base_url_must_be_https() {
        assert_eq!(normalize_base_url("https://dl.k8s.io/release/").unwrap(), "https://dl.k8s.io/release");
        assert_eq!(normalize_base_url("HTTPS://127.0.0.1:8443").unwrap(), "HTTPS://127.0.0.1:8443");
        let err = normalize_base_url("http://dl.k8s.io/release").unwrap_err();
        assert!(err.message.contains("plain-http"), "{err}");
        for bad in ["dl.k8s.io", "ftp://x", "https://", "https:///path"] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hex_is_checked_and_the_length_names_the_algorithm() {
        assert_eq!(parse_hex(&A.to_uppercase(), "--checksum").unwrap(), (A.to_string(), Algorithm::Sha256));
        assert_eq!(parse_hex(&A.repeat(2), "--checksum").unwrap().1, Algorithm::Sha512);
        let err = parse_hex("not-a-checksum", "--checksum").unwrap_err();
        assert!(err.message.contains("is not a hex checksum"), "{err}");
        let err = parse_hex(&A[..40], "--checksum").unwrap_err();
        assert!(err.message.contains("40 hex digits"), "{err}");
    }

    #[test]
    fn a_bare_digest_applies_to_any_name() {
        // dl.k8s.io serves the hex alone, without a newline.
        assert_eq!(pick(A, "kubeadm", "kubeadm.sha256").unwrap().0, A);
        assert_eq!(pick(&format!("{A}\n"), "whatever", "f").unwrap().0, A);
    }

    #[test]
    fn only_a_single_unnamed_digest_is_bare() {
        assert!(is_bare(A, "kubelet.sha256"));
        assert!(is_bare(&format!("# from dl.k8s.io\n{A}\n"), "f"));
        assert!(!is_bare(&format!("{A}  kubelet\n"), "f"), "names its file");
        assert!(!is_bare(&format!("SHA256 (kubelet) = {A}\n"), "f"));
        assert!(!is_bare(&format!("{A}\n{B}\n"), "f"), "two digests: refused by pick, not bare");
        assert!(!is_bare("", "f") && !is_bare("not a checksum", "f"));
    }

    #[test]
    fn sha256sum_lines_are_matched_by_file_name() {
        let text = format!("{B}  kubectl\n{A} *bin/linux/amd64/kubeadm\n\n# comment\n");
        assert_eq!(pick(&text, "kubeadm", "SHA256SUMS").unwrap().0, A);
        assert_eq!(pick(&text, "kubectl", "SHA256SUMS").unwrap().0, B);
        let err = pick(&text, "kubelet", "SHA256SUMS").unwrap_err();
        assert!(err.message.contains("no checksum for kubelet") && err.message.contains("kubectl"), "{err}");
        // `echo "$(cat kubeadm.sha256) kubeadm"` from the docs has a single space.
        assert_eq!(pick(&format!("{A} kubeadm"), "kubeadm", "f").unwrap().0, A);
    }

    #[test]
    fn bsd_tagged_lines_are_understood() {
        let text = format!("SHA512 (kubelet) = {}\nSHA256 (kubeadm) = {A}\n", A.repeat(2));
        assert_eq!(pick(&text, "kubelet", "f").unwrap(), (A.repeat(2), Algorithm::Sha512));
        assert_eq!(pick(&text, "kubeadm", "f").unwrap(), (A.to_string(), Algorithm::Sha256));
    }

    #[test]
    fn ambiguous_or_broken_files_are_refused() {
        assert!(pick(&format!("{A}\n{B}\n"), "x", "f").is_err());
        assert!(pick(&format!("{A}  x\n{B}  dir/x\n"), "x", "f").unwrap_err().message.contains("different"));
        assert_eq!(pick(&format!("{A}  x\n{A}  dir/x\n"), "x", "f").unwrap().0, A);
        assert!(pick("", "x", "f").unwrap_err().message.contains("no checksum"));
        let err = pick(&format!("{A}  x\nnonsense here\n"), "x", "sums.txt").unwrap_err();
        assert!(err.message.contains("line 2 of sums.txt"), "{err}");
    }
}
