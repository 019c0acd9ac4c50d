//! kube-bench's known false positives, marked with the reason instead of reported as plain FAILs.
//! They still count as FAILs (a run where kube-bench saw no files must not pass); accept them with
//! `--baseline` once checked by hand.
//!
//! kube-bench audits by running commands on the node (`ps -ef | grep kube-apiserver`, `stat
//! /var/lib/kubelet/config.yaml`) and comparing what they print. Two layouts defeat that without
//! anything being wrong: the component runs but not as the process kube-bench greps for (k3s and
//! RKE2 run the whole control plane inside one `k3s server`/`rke2` process; managed clusters run
//! none on the nodes), and the file is elsewhere than the default path (a kubelet started with
//! `--config` pointing to another file, k3s's `/var/lib/rancher/...`). A FAIL is set aside only when
//! kube-bench's own output shows such a miss, and the reason says what to check by hand.

use crate::model::{Report, Status};

/// Marks the FAILs that kube-bench's output shows to be one of the known misses.
pub fn mark(report: &mut Report) {
    for target in &mut report.targets {
        for check in target.sections.iter_mut().flat_map(|s| s.checks.iter_mut()) {
            if check.status != Status::Fail || check.false_positive.is_some() {
                continue;
            }
            check.false_positive = reason(&check.audit, &check.actual_value, &check.reason);
        }
    }
}

fn reason(audit: &str, actual: &str, why_not: &str) -> Option<String> {
    let seen = format!("{actual}\n{why_not}");
    if seen.contains("No such file or directory") || seen.contains("cannot stat") {
        let path = missing_path(&seen).unwrap_or("the file");
        return Some(format!(
            "kube-bench did not find {path} at its default path; the component may read it from another path \
             (e.g. the kubelet's --config, or k3s/RKE2 under /var/lib/rancher): check the path it runs with and \
             re-check that file by hand"
        ));
    }
    // `if test -e FILE; then stat ...; fi` prints nothing when FILE is not there.
    if let Some(rest) = audit.split("test -e ").nth(1)
        && actual.trim().is_empty()
        && why_not.trim().is_empty()
    {
        let path = rest.split([' ', ';', '\'', '"']).next().unwrap_or("the file");
        return Some(format!(
            "{path} is not there, so kube-bench saw nothing to check; the component may use another file (e.g. the \
             kubelet's --config, k3s/RKE2 under /var/lib/rancher): find the one it runs with and check it by hand"
        ));
    }
    let greps_a_process = audit.contains("ps -ef") || audit.contains("pgrep") || audit.contains("/proc/");
    if greps_a_process && actual.trim().is_empty() && why_not.trim().is_empty() {
        return Some(
            "kube-bench found no process to audit (k3s and RKE2 run the control plane inside one k3s/rke2 \
             process; managed clusters run none on the nodes): check the component's flags where it really runs"
                .to_string(),
        );
    }
    None
}

/// The path in a `stat: cannot stat '/x/y': No such file or directory` line.
fn missing_path(text: &str) -> Option<&str> {
    let line = text.lines().find(|l| l.contains("No such file or directory") || l.contains("cannot stat"))?;
    let start = line.find('/')?;
    let rest = &line[start..];
    let end = rest.find(|c: char| c == '\'' || c == '"' || c == ':' || c.is_whitespace()).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Check;

    fn check(audit: &str, actual: &str, reason: &str) -> Check {
        Check {
            audit: audit.into(),
            actual_value: actual.into(),
            reason: reason.into(),
            ..Check::new("4.1.1", "x", Status::Fail, true)
        }
    }

    #[test]
    fn a_missing_default_path_is_a_false_positive_naming_the_path() {
        let why = reason(
            "/bin/sh -c 'if test -e /etc/systemd/system/kubelet.service.d/10-kubeadm.conf; then stat -c %a ...'",
            "stat: cannot stat '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf': No such file or directory",
            "",
        )
        .unwrap();
        assert!(why.contains("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf at its default path"), "{why}");
    }

    #[test]
    fn no_process_found_is_a_false_positive_but_a_wrong_flag_is_not() {
        assert!(reason("/bin/ps -ef | grep kube-apiserver | grep -v grep", "", "").unwrap().contains("k3s"));
        assert_eq!(
            reason("/bin/ps -ef | grep kube-apiserver | grep -v grep", "kube-apiserver --anonymous-auth=true", ""),
            None
        );
        assert_eq!(reason("cat /etc/kubernetes/manifests/kube-apiserver.yaml", "", ""), None);
    }

    #[test]
    fn a_guarded_stat_that_printed_nothing_names_the_missing_file() {
        let audit = "/bin/sh -c 'if test -e /etc/systemd/system/kubelet.service.d/10-kubeadm.conf; then stat -c \
                     permissions=%a /etc/systemd/system/kubelet.service.d/10-kubeadm.conf; fi'";
        let why = reason(audit, "", "").unwrap();
        assert!(why.starts_with("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf is not there"), "{why}");
        assert_eq!(reason(audit, "permissions=644", ""), None, "a file that is there and wrong is a real FAIL");
    }

    #[test]
    fn only_fails_are_marked() {
        let mut report = crate::testing::sample();
        let missing = "stat: cannot stat '/var/lib/kubelet/config.yaml': No such file or directory";
        for target in &mut report.targets {
            for c in target.sections.iter_mut().flat_map(|s| s.checks.iter_mut()) {
                *c = Check { status: c.status, ..check("stat /var/lib/kubelet/config.yaml", missing, "") };
            }
        }
        mark(&mut report);
        for located in report.checks() {
            assert_eq!(located.check.false_positive.is_some(), located.check.status == Status::Fail);
        }
    }
}
