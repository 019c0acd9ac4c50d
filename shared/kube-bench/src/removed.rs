//! Checks whose advice names what Kubernetes has removed: an older benchmark (given with
//! `--benchmark`, or read from a saved report) asks to enable PodSecurityPolicy or set
//! `--insecure-port=0`, which a newer cluster no longer has. Such a check is marked with a sentence
//! saying that its advice does not apply, and why: for the cluster's version when the report says it
//! (`run` records it), else for every version since the removal. The check keeps kube-bench's status
//! and still counts: the sentence says why following it is impossible, and the fix is a benchmark
//! for the cluster's version.

use crate::benchmark::ServerVersion;
use crate::model::{Check, Report};

/// A feature a check may name, the Kubernetes 1.x minor that removed it, and what that means now.
pub struct Feature {
    pub name: &'static str,
    pub removed: u32,
    pub instead: &'static str,
    /// How a check names it: in its title, or (`advice`) as the only thing its remediation offers.
    pub title: &'static str,
    pub advice: Option<&'static str>,
}

/// Ordered so that a title naming two features (SecurityContextDeny "if PodSecurityPolicy is not
/// used") is matched by the one removed last.
pub const FEATURES: [Feature; 6] = [
    Feature {
        name: "the SecurityContextDeny admission plugin",
        removed: 30,
        instead: "Pod Security admission replaces it",
        title: "SecurityContextDeny",
        advice: None,
    },
    Feature {
        name: "PodSecurityPolicy",
        removed: 25,
        instead: "Pod Security admission replaces it",
        title: "PodSecurityPolicy",
        advice: Some("Create a PSP"),
    },
    Feature {
        name: "the kube-apiserver flag --insecure-port",
        removed: 24,
        instead: "the API server serves only over TLS",
        title: "--insecure-port",
        advice: None,
    },
    Feature {
        name: "the kube-apiserver flag --insecure-bind-address",
        removed: 24,
        instead: "the API server serves only over TLS",
        title: "--insecure-bind-address",
        advice: None,
    },
    Feature {
        name: "the kube-apiserver flag --kubelet-https",
        removed: 22,
        instead: "the API server always reaches kubelets over HTTPS",
        title: "--kubelet-https",
        advice: None,
    },
    Feature {
        name: "the kube-apiserver flag --basic-auth-file",
        removed: 19,
        instead: "basic authentication went with it",
        title: "--basic-auth-file",
        advice: None,
    },
];

/// The features of [`FEATURES`] (by title) whose advice the generic benchmarks' checks give, as
/// kube-bench v0.15.6's `cfg/` has them; the later benchmarks name none.
const NAMED_BY: [(&str, &[&str]); 7] = [
    (
        "cis-1.5",
        &[
            "--basic-auth-file",
            "--kubelet-https",
            "SecurityContextDeny",
            "PodSecurityPolicy",
            "--insecure-bind-address",
            "--insecure-port",
        ],
    ),
    (
        "cis-1.6",
        &[
            "--basic-auth-file",
            "--kubelet-https",
            "SecurityContextDeny",
            "PodSecurityPolicy",
            "--insecure-bind-address",
            "--insecure-port",
        ],
    ),
    (
        "cis-1.20",
        &["--kubelet-https", "SecurityContextDeny", "PodSecurityPolicy", "--insecure-bind-address", "--insecure-port"],
    ),
    ("cis-1.23", &["--kubelet-https", "SecurityContextDeny"]),
    ("cis-1.24", &["SecurityContextDeny"]),
    ("cis-1.7", &["SecurityContextDeny"]),
    ("cis-1.8", &["SecurityContextDeny"]),
];

/// The removed features whose advice `benchmark`'s checks give and a cluster at Kubernetes 1.`minor`
/// no longer has.
pub fn named_by(benchmark: &str, minor: u32) -> Vec<&'static Feature> {
    let titles = NAMED_BY.iter().find(|(name, _)| *name == benchmark).map_or(&[][..], |(_, titles)| *titles);
    FEATURES.iter().filter(|f| titles.contains(&f.title) && f.removed <= minor).collect()
}

/// The removed feature a check's advice depends on, if any.
pub fn feature_of(check: &Check) -> Option<&'static Feature> {
    FEATURES.iter().find(|f| {
        check.text.contains(f.title)
            || f.advice.is_some_and(|advice| check.remediation.trim_start().starts_with(advice))
    })
}

/// Why the check's advice does not apply to a cluster at `version` (unknown: `None`), or `None`
/// when it does.
pub fn not_applicable(check: &Check, version: Option<&ServerVersion>) -> Option<String> {
    let feature = feature_of(check)?;
    match version {
        Some(v) if v.major == 1 && v.minor < feature.removed => None,
        Some(v) => Some(format!(
            "does not apply to this cluster (Kubernetes {}): {} was removed in Kubernetes 1.{} ({}); grade with a \
             benchmark for the cluster's version",
            v.git, feature.name, feature.removed, feature.instead
        )),
        None => Some(format!(
            "does not apply to Kubernetes 1.{} and newer: {} was removed in 1.{} ({}); the report does not say the \
             cluster's version",
            feature.removed, feature.name, feature.removed, feature.instead
        )),
    }
}

/// Marks every check of the report for the cluster version it records (again, if it changed).
pub fn mark(report: &mut Report) {
    let version = report.kubernetes_version.as_deref().and_then(ServerVersion::parse);
    for target in &mut report.targets {
        for check in target.sections.iter_mut().flat_map(|s| s.checks.iter_mut()) {
            check.not_applicable = not_applicable(check, version.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    fn check(text: &str, remediation: &str) -> Check {
        Check { remediation: remediation.into(), ..Check::new("1.2.16", text, Status::Fail, true) }
    }

    #[test]
    fn advice_naming_removed_features_does_not_apply_after_their_removal() {
        let psp = check("Ensure that the admission control plugin PodSecurityPolicy is set (Automated)", "");
        let v137 = ServerVersion::parse("v1.37.2").unwrap();
        let why = not_applicable(&psp, Some(&v137)).unwrap();
        assert!(why.starts_with("does not apply to this cluster (Kubernetes v1.37.2)"), "{why}");
        assert!(why.contains("PodSecurityPolicy was removed in Kubernetes 1.25"), "{why}");
        assert_eq!(not_applicable(&psp, ServerVersion::parse("v1.24.9").as_ref()), None, "1.24 still had it");
        let unknown = not_applicable(&psp, None).unwrap();
        assert!(unknown.starts_with("does not apply to Kubernetes 1.25 and newer"), "{unknown}");

        let deny = check(
            "Ensure that the admission control plugin SecurityContextDeny is set if PodSecurityPolicy is not used (Manual)",
            "",
        );
        assert!(
            not_applicable(&deny, Some(&v137))
                .unwrap()
                .contains("SecurityContextDeny admission plugin was removed in Kubernetes 1.30")
        );
        assert_eq!(not_applicable(&deny, ServerVersion::parse("v1.27.0").as_ref()), None);
        let hostpid = check(
            "Minimize the admission of containers wishing to share the host process ID namespace (Manual)",
            "Create a PSP as described in the Kubernetes documentation, ensuring that the\n.spec.hostPID field is omitted",
        );
        assert!(not_applicable(&hostpid, Some(&v137)).unwrap().contains("PodSecurityPolicy"));
        assert!(
            not_applicable(&check("Ensure that the --insecure-port argument is set to 0 (Automated)", ""), Some(&v137))
                .is_some()
        );
    }

    #[test]
    fn current_advice_is_left_alone() {
        let v137 = ServerVersion::parse("v1.37.2").unwrap();
        // cis-1.10's 5.2.8 mentions PSP among the ways, and Pod Security admission: it applies.
        let drop_caps = check(
            "Minimize the admission of containers with capabilities assigned (Manual)",
            "Review the use of capabilites in applications running on your cluster. Where a namespace\ncontains \
             applicaions which do not require any Linux capabities to operate consider adding\na PSP which forbids",
        );
        assert_eq!(not_applicable(&drop_caps, Some(&v137)), None);
        assert_eq!(
            not_applicable(&check("Ensure that the --anonymous-auth argument is set to false (Manual)", ""), None),
            None
        );
    }
}
