//! The images of the pods the suite creates, and the one setting that moves every default image to
//! another registry, for clusters that pull from a mirror or have no internet at all.
//!
//! Every command that creates a pod takes `--image`; without it the command's default image is used,
//! rewritten under `KUBE_HARDEN_IMAGE_REPOSITORY` when that is set (as kubeadm's `imageRepository`
//! does for the control plane). The rewrite keeps the image's path and tag and replaces only its
//! registry, with Docker Hub's implicit `library/` written out, which is the layout `crane copy`,
//! `skopeo sync` and pull-through caches give a mirror:
//!
//! | default image | with `KUBE_HARDEN_IMAGE_REPOSITORY=registry.local:5000/mirror` |
//! |---|---|
//! | `busybox:1.36` | `registry.local:5000/mirror/library/busybox:1.36` |
//! | `docker.io/aquasec/kube-bench:v0.12.0` | `registry.local:5000/mirror/aquasec/kube-bench:v0.12.0` |
//! | `registry.k8s.io/e2e-test-images/agnhost:2.53` | `registry.local:5000/mirror/e2e-test-images/agnhost:2.53` |
//!
//! An image given with `--image` is used exactly as given: the setting only moves defaults.

use crate::error::{Error, Result};

/// The setting that moves every default image under another registry (and path).
pub const REPOSITORY_ENV: &str = "KUBE_HARDEN_IMAGE_REPOSITORY";

/// The suite's general-purpose image (sh, nc, httpd, sha256sum, sleep): the doctor's canary, probe
/// helpers, verify-bin's hashing pod.
pub const BUSYBOX: &str = "busybox:1.36";

/// Docker Hub, the registry of references without one.
const DOCKER_HUB: &str = "docker.io";

/// The registry of `reference` and the rest (path, tag, digest), as container runtimes read it: the
/// first path component is a registry when it has a `.` or a `:` or is `localhost`, else the
/// reference is on Docker Hub, where a single-component name lives under `library/`.
pub fn split(reference: &str) -> (String, String) {
    match reference.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            let rest = if first == DOCKER_HUB && !rest.contains('/') { format!("library/{rest}") } else { rest.into() };
            (first.to_string(), rest)
        }
        Some(_) => (DOCKER_HUB.to_string(), reference.to_string()),
        None => (DOCKER_HUB.to_string(), format!("library/{reference}")),
    }
}

/// `reference` under `repository`: its registry replaced, its path and tag kept.
pub fn under(repository: &str, reference: &str) -> String {
    let (_, rest) = split(reference);
    format!("{}/{rest}", repository.trim_end_matches('/'))
}

/// Checks a value of [`REPOSITORY_ENV`]: a registry host (with an optional port) and an optional
/// path, without a scheme, a tag or a digest.
pub fn validate_repository(repository: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::invalid(format!("{REPOSITORY_ENV}={repository:?} is not a registry and path: {why}"))
            .with_hint(format!("e.g. {REPOSITORY_ENV}=registry.example.com:5000/mirror (no https://, no tag)"))
    };
    if repository.contains("://") {
        return Err(bad("it has a scheme"));
    }
    let mut parts = repository.trim_end_matches('/').split('/');
    let host = parts.next().unwrap_or_default();
    let host_ok = |h: &str| {
        let (name, port) = h.split_once(':').unwrap_or((h, ""));
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && port.chars().all(|c| c.is_ascii_digit())
            && (port.is_empty() != h.contains(':'))
    };
    if !host_ok(host) {
        return Err(bad("the registry is not a host name with an optional port"));
    }
    for part in parts {
        let ok = !part.is_empty()
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && part.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(bad("a path component is not lower-case letters, digits, '.', '_' or '-' (a tag or digest?)"));
        }
    }
    Ok(())
}

/// A command's default image as pods should use it: `reference`, moved under the setting's
/// repository when it is set (`repository`: its value, `None` when unset or empty).
pub fn default_from(reference: &str, repository: Option<&str>) -> Result<String> {
    match repository.map(str::trim).filter(|r| !r.is_empty()) {
        Some(repository) => {
            validate_repository(repository)?;
            Ok(under(repository, reference))
        }
        None => Ok(reference.to_string()),
    }
}

/// [`default_from`] with the setting read from the environment.
pub fn default_image(reference: &str) -> Result<String> {
    default_from(reference, std::env::var(REPOSITORY_ENV).ok().as_deref())
}

/// The image for a pod: `given` (from `--image`) exactly as given, else the default moved under the
/// setting's repository.
pub fn choose(given: Option<&str>, default: &str) -> Result<String> {
    match given {
        Some(image) => {
            validate(image)?;
            Ok(image.to_string())
        }
        None => default_image(default),
    }
}

/// Checks `--image`: one reference, without spaces.
pub fn validate(image: &str) -> Result<()> {
    if image.trim().is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(format!("--image {image:?} is not an image reference"))
            .with_hint(format!("e.g. --image {BUSYBOX}, or registry.example.com/library/{BUSYBOX}")));
    }
    Ok(())
}

/// The hint of a pod that cannot pull its image: both ways to choose another.
pub fn pull_hint(needs: &str) -> String {
    format!(
        "give an image the nodes can pull with --image ({needs}), or set {REPOSITORY_ENV} to a registry that \
         mirrors the default images"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_as_runtimes_read_them() {
        assert_eq!(split("busybox:1.36"), ("docker.io".into(), "library/busybox:1.36".into()));
        assert_eq!(
            split("kubernetesui/dashboard:v2.7.0"),
            ("docker.io".into(), "kubernetesui/dashboard:v2.7.0".into())
        );
        assert_eq!(split("docker.io/busybox:1.36"), ("docker.io".into(), "library/busybox:1.36".into()));
        assert_eq!(
            split("registry.k8s.io/e2e-test-images/agnhost:2.53"),
            ("registry.k8s.io".into(), "e2e-test-images/agnhost:2.53".into())
        );
        assert_eq!(split("localhost/x@sha256:ab"), ("localhost".into(), "x@sha256:ab".into()));
        assert_eq!(split("registry:5000/x:1"), ("registry:5000".into(), "x:1".into()));
    }

    #[test]
    fn the_setting_moves_default_images_and_keeps_their_paths() {
        let mirror = Some("registry.local:5000/mirror");
        assert_eq!(default_from(BUSYBOX, mirror).unwrap(), "registry.local:5000/mirror/library/busybox:1.36");
        assert_eq!(
            default_from("docker.io/aquasec/kube-bench:v0.12.0", mirror).unwrap(),
            "registry.local:5000/mirror/aquasec/kube-bench:v0.12.0"
        );
        assert_eq!(
            default_from("registry.k8s.io/e2e-test-images/agnhost:2.53", Some("mirror.example.com/")).unwrap(),
            "mirror.example.com/e2e-test-images/agnhost:2.53"
        );
        assert_eq!(default_from(BUSYBOX, None).unwrap(), BUSYBOX);
        assert_eq!(default_from(BUSYBOX, Some("  ")).unwrap(), BUSYBOX, "empty is unset");
    }

    #[test]
    fn a_bad_setting_is_refused_with_an_example() {
        for bad in
            ["https://registry.local", "registry.local/Mirror", "registry.local/mirror:1.0", "reg istry", ":5000"]
        {
            let err = default_from(BUSYBOX, Some(bad)).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::InvalidInput, "{bad}");
            assert!(err.message.contains(REPOSITORY_ENV), "{bad}: {err}");
        }
        for good in ["localhost:5000", "registry.local", "r.example.com/a/b-c_d.e"] {
            assert!(validate_repository(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_given_image_is_used_as_given() {
        // The setting only moves defaults; --image names exactly what the user wants.
        assert_eq!(choose(Some("my.registry/tools/busybox:1"), BUSYBOX).unwrap(), "my.registry/tools/busybox:1");
        assert!(choose(Some("two words"), BUSYBOX).is_err());
        assert!(choose(Some(""), BUSYBOX).is_err());
    }
}
