//! What `status` found, in the shape every auditing command of the suite reports in
//! ([`harden_cli::report`]): one finding per pod and cause that lets it reach a metadata endpoint,
//! and one per real connection attempt that reached one. The exit code is computed from these.

use harden_cli::report::Risk;

use super::document::{Finding, Reach, Report};

/// The findings of a report: the engine's answer per pod (its endpoints and ports merged, one
/// finding per cause), then each probe whose packet reached an endpoint. A pod that reaches the
/// metadata service can read the node's cloud credentials: every one is `high`.
pub fn of(report: &Report) -> Vec<Finding> {
    let mut findings = Vec::new();
    for namespace in &report.namespaces {
        // Merged by pod and cause: a pod's reaches are found together (pods, then endpoints, then
        // ports), so only the entries of the current pod are searched: a handful, even with 50,000 pods.
        let mut merged: Vec<(&Reach, Vec<String>, Vec<u16>)> = Vec::new();
        let mut pod_start = 0;
        for reach in &namespace.reachable {
            if merged.last().is_some_and(|(last, _, _)| last.pod != reach.pod) {
                pod_start = merged.len();
            }
            let same = merged[pod_start..].iter().position(|(first, _, _)| {
                first.reason == reach.reason
                    && first.cluster_rule == reach.cluster_rule
                    && first.allowed_by == reach.allowed_by
            });
            let at = match same {
                Some(offset) => pod_start + offset,
                None => {
                    merged.push((reach, Vec::new(), Vec::new()));
                    merged.len() - 1
                }
            };
            let (_, endpoints, ports) = &mut merged[at];
            let endpoint = reach.endpoint.to_string();
            if !endpoints.contains(&endpoint) {
                endpoints.push(endpoint);
            }
            if !ports.contains(&reach.port) {
                ports.push(reach.port);
            }
        }
        for (reach, endpoints, ports) in merged {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            let (cause, fix) = cause_and_fix(reach, &namespace.name);
            findings.push(Finding {
                severity: Risk::High,
                check: "metadata-reachable".into(),
                namespace: namespace.name.clone(),
                object: format!("pod/{}", reach.pod),
                message: format!("can reach {} on {}/TCP: {cause}", endpoints.join(","), ports.join(",")),
                fix,
            });
        }
    }
    for probe in report.probes.iter().filter(|p| p.reached == Some(true)) {
        let source = if probe.helper { "a helper pod this run started (as any new pod there)" } else { "it" };
        let expected = match probe.expected {
            "blocked" => ", although the policies block it",
            "unknown" => ", and the policies alone do not decide it",
            _ => "",
        };
        findings.push(Finding {
            severity: Risk::High,
            check: "metadata-reached".into(),
            namespace: probe.namespace.clone(),
            object: format!("pod/{}", probe.pod),
            message: format!(
                "a TCP connection from {source} reached {}{expected} ({})",
                std::net::SocketAddr::new(probe.endpoint, probe.port),
                probe.observed
            ),
            fix: if probe.expected == "blocked" {
                "check that NetworkPolicies are enforced: kubectl netpol-deny doctor".into()
            } else {
                format!("kubectl block-metadata apply -n {}", probe.namespace)
            },
        });
    }
    findings
}

/// Why the pod reaches the endpoints, and what closes it.
fn cause_and_fix(reach: &Reach, namespace: &str) -> (String, String) {
    match reach.reason {
        "hostNetwork" => (
            "it uses the node's network, where NetworkPolicies do not apply".into(),
            "run it without hostNetwork, or block the endpoint on the node itself".into(),
        ),
        "notIsolated" => {
            ("no NetworkPolicy restricts its egress".into(), format!("kubectl block-metadata apply -n {namespace}"))
        }
        "allowedByClusterTier" => {
            let rule = reach.cluster_rule.clone().unwrap_or_default();
            (format!("the cluster tier accepts it ({rule})"), format!("change or remove that rule: {rule}"))
        }
        _ => {
            let rules: Vec<String> = reach
                .allowed_by
                .iter()
                .map(|r| format!("networkpolicy/{} egress[{}] ({}, {})", r.policy, r.rule, r.peer, r.port))
                .collect();
            (
                format!("allowed by {}", rules.join("; ")),
                "narrow those rules (an ipBlock's except, or only the destinations the pods need), or block the \
                 endpoints above every namespace's policies: kubectl block-metadata apply --cluster-wide"
                    .into(),
            )
        }
    }
}
