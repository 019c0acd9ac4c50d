//! `explain ID REPORT`: one check, everything a person needs to act on it: what it audits, the
//! command kube-bench ran and the value it saw, what was expected, the remediation, and where to
//! change it (the file or flag, on which node); and, before the remediation, when that advice does
//! not apply to the cluster's version (it names a removed feature).

use std::fmt::Write;

use harden_cli::error::{Error, Result};
use serde::Serialize;

use crate::render::fix_of;
use harden_kube_bench::model::{Report, Status};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explained {
    pub id: String,
    pub text: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub status: Status,
    pub audit: String,
    pub expected_result: String,
    pub actual_value: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub remediation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_aside: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub false_positive: Option<String>,
    /// Why the remediation does not apply to the cluster's version (a removed feature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

/// Every occurrence of check `id` (one per target and node it ran on).
pub fn find(report: &Report, id: &str) -> Result<Vec<Explained>> {
    let found: Vec<Explained> = report
        .checks()
        .filter(|c| c.check.id == id)
        .map(|c| {
            let fix = fix_of(c.check);
            Explained {
                id: c.check.id.clone(),
                text: c.check.text.clone(),
                target: c.target.kind.clone(),
                node: c.target.node.clone(),
                status: c.check.status,
                audit: c.check.audit.clone(),
                expected_result: c.check.expected_result.clone(),
                actual_value: c.check.actual_value.clone(),
                reason: c.check.reason.clone(),
                remediation: c.check.remediation.clone(),
                file: fix.file,
                flag: fix.flag,
                set_aside: c.check.set_aside().map(str::to_string),
                false_positive: c.check.false_positive.clone(),
                not_applicable: c.check.not_applicable.clone(),
            }
        })
        .collect();
    if found.is_empty() {
        let mut near: Vec<&str> = report
            .checks()
            .map(|c| c.check.id.as_str())
            .filter(|other| id.rsplit_once('.').is_some_and(|(section, _)| other.starts_with(section)))
            .collect();
        near.dedup();
        near.truncate(12);
        return Err(Error::not_found(format!("check {id} is not in the report")).with_hint(if near.is_empty() {
            "give a check number from the report, e.g. 1.2.5".to_string()
        } else {
            format!("checks of that section: {}", near.join(", "))
        }));
    }
    Ok(found)
}

fn block(out: &mut String, label: &str, text: &str) {
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    if text.contains('\n') {
        let _ = writeln!(out, "  {label}:");
        for line in text.lines() {
            let _ = writeln!(out, "      {line}");
        }
    } else {
        let _ = writeln!(out, "  {label}: {text}");
    }
}

pub fn text(found: &[Explained]) -> String {
    let mut out = String::new();
    for (i, e) in found.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let on = e.node.as_ref().map(|n| format!(" on {n}")).unwrap_or_default();
        let _ = writeln!(out, "{} {} [{}{on}] {}", e.status, e.id, e.target, e.text);
        block(&mut out, "audit (what kube-bench ran)", &e.audit);
        block(&mut out, "expected", &e.expected_result);
        block(&mut out, "saw", if e.actual_value.is_empty() { "(nothing)" } else { &e.actual_value });
        block(&mut out, "audit did not run", &e.reason);
        if let Some(why) = &e.set_aside {
            block(&mut out, "not counted", why);
        }
        if let Some(why) = &e.false_positive {
            block(&mut out, "likely a false positive", why);
        }
        if let Some(why) = &e.not_applicable {
            block(&mut out, "advice", why);
        }
        let place = e.node.as_ref().map(|n| format!(" on node {n}")).unwrap_or_default();
        match (&e.file, &e.flag) {
            (Some(file), Some(flag)) => block(&mut out, "change", &format!("{flag} in {file}{place}")),
            (Some(file), None) => block(&mut out, "change", &format!("{file}{place}")),
            (None, Some(flag)) => block(&mut out, "change", &format!("the {flag} flag{place}")),
            (None, None) => {}
        }
        block(&mut out, "remediation", &e.remediation);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_explained_per_node_with_where_to_change_it() {
        let mut report = harden_kube_bench::testing::sample();
        for target in &mut report.targets {
            target.node = Some("cp-1".into());
            for check in target.sections.iter_mut().flat_map(|s| s.checks.iter_mut()) {
                if check.id == "1.2.10" {
                    check.audit = "/bin/ps -ef | grep kube-apiserver | grep -v grep".into();
                    check.actual_value = "kube-apiserver --enable-admission-plugins=AlwaysAdmit".into();
                    check.expected_result = "'--enable-admission-plugins' does not have 'AlwaysAdmit'".into();
                    check.remediation = "Edit the API server pod specification file \
                        /etc/kubernetes/manifests/kube-apiserver.yaml on the control plane node and set \
                        --enable-admission-plugins without AlwaysAdmit."
                        .into();
                }
            }
        }
        let found = find(&report, "1.2.10").unwrap();
        let shown = text(&found);
        assert!(shown.starts_with("FAIL 1.2.10 [master on cp-1]"), "{shown}");
        assert!(shown.contains("  saw: kube-apiserver --enable-admission-plugins=AlwaysAdmit\n"), "{shown}");
        assert!(
            shown.contains(
                "  change: --enable-admission-plugins in /etc/kubernetes/manifests/kube-apiserver.yaml on node cp-1\n"
            ),
            "{shown}"
        );
        assert!(!shown.contains("advice:"), "current advice is not marked: {shown}");
        let err = find(&report, "1.2.99").unwrap_err();
        assert!(err.message.contains("1.2.99 is not in the report"), "{err}");
        assert!(err.hint.as_deref().unwrap().contains("1.2.10"), "{err:?}");
    }

    /// Issue 25: `explain 1.2.16` of cis-1.6 on a v1.37 cluster repeated "enable PodSecurityPolicy".
    #[test]
    fn advice_for_a_removed_feature_says_it_does_not_apply() {
        let mut report = harden_kube_bench::testing::sample();
        report.kubernetes_version = Some("v1.37.2".into());
        for check in report.targets.iter_mut().flat_map(|t| t.sections.iter_mut()).flat_map(|s| s.checks.iter_mut()) {
            if check.id == "1.2.10" {
                check.text = "Ensure that the admission control plugin PodSecurityPolicy is set (Automated)".into();
                check.remediation = "Follow the documentation and create Pod Security Policy objects as per your \
                    environment. Then, edit the API server pod specification file and set the --enable-admission-plugins \
                    parameter to a value that includes PodSecurityPolicy"
                    .into();
            }
        }
        harden_kube_bench::removed::mark(&mut report);
        let shown = text(&find(&report, "1.2.10").unwrap());
        let advice = shown.find("  advice: does not apply to this cluster (Kubernetes v1.37.2)").expect(&shown);
        assert!(shown.contains("PodSecurityPolicy was removed in Kubernetes 1.25"), "{shown}");
        assert!(advice < shown.find("  remediation:").unwrap(), "said before the advice: {shown}");
        // Without the cluster's version, the sentence still comes with the advice.
        report.kubernetes_version = None;
        harden_kube_bench::removed::mark(&mut report);
        let shown = text(&find(&report, "1.2.10").unwrap());
        assert!(shown.contains("advice: does not apply to Kubernetes 1.25 and newer"), "{shown}");
    }
}
