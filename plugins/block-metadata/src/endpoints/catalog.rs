//! The node endpoints the command looks at (the seed's "Protecting Node Metadata and Endpoints"
//! list: the control plane's and the kubelet's ports), the one unauthenticated request that tells
//! whether each serves without credentials, and what an answer means: a finding names the flag or
//! configuration field that closes it and the kube-bench check (CIS Kubernetes Benchmark 1.12, as
//! kube-bench v0.15.6's `cfg/cis-1.12` numbers them) that covers the same setting. Pure.

use serde::Serialize;

/// One component port on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    pub port: u16,
    /// `kube-apiserver`, `kubelet`, ...
    pub name: &'static str,
    /// Where it runs: every node, or control-plane nodes.
    pub role: Role,
    /// The request that says whether it serves without credentials.
    pub check: Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Every node (kubelet, kube-proxy).
    Node,
    /// Control-plane nodes (API server, etcd, scheduler, controller manager).
    ControlPlane,
}

/// An unauthenticated request: over TLS (no client certificate) or plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Https(&'static [&'static str]),
    Http(&'static str),
    /// etcd's client port: `/version` over TLS without a client certificate, else plain HTTP.
    Etcd,
    /// Only whether the port takes connections (etcd's peer port, a NodePort).
    Connect,
}

/// The seed's component ports, in the order they are reported.
pub const COMPONENTS: [Component; 9] = [
    Component {
        port: 6443,
        name: "kube-apiserver",
        role: Role::ControlPlane,
        check: Check::Https(&["/version", "/api"]),
    },
    Component { port: 2379, name: "etcd (client)", role: Role::ControlPlane, check: Check::Etcd },
    Component { port: 2380, name: "etcd (peer)", role: Role::ControlPlane, check: Check::Connect },
    Component { port: 10250, name: "kubelet", role: Role::Node, check: Check::Https(&["/pods"]) },
    Component { port: 10255, name: "kubelet (read-only)", role: Role::Node, check: Check::Http("/pods") },
    Component { port: 10259, name: "kube-scheduler", role: Role::ControlPlane, check: Check::Https(&["/metrics"]) },
    Component {
        port: 10257,
        name: "kube-controller-manager",
        role: Role::ControlPlane,
        check: Check::Https(&["/metrics"]),
    },
    Component { port: 10249, name: "kube-proxy (metrics)", role: Role::Node, check: Check::Http("/metrics") },
    Component { port: 10256, name: "kube-proxy (health)", role: Role::Node, check: Check::Connect },
];

/// The component on `port`, or an unnamed one that is only connected to (a port given with --ports,
/// a NodePort).
pub fn component(port: u16) -> Component {
    COMPONENTS.iter().copied().find(|c| c.port == port).unwrap_or(Component {
        port,
        name: "",
        role: Role::Node,
        check: Check::Connect,
    })
}

/// How bad an open endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Serves what it should not to anyone who can connect.
    Warning,
    /// Hands the node (or the cluster) to anyone who can connect.
    Critical,
}

/// What closes a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fix {
    /// The flag or configuration field, with the value that closes it.
    pub setting: String,
    /// The kube-bench check (cis-1.12) covering the same setting, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_bench: Option<&'static str>,
}

/// What an unauthenticated request showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judged {
    /// `anonymous access`, `authentication required`, ... (one phrase).
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

fn fix(setting: &str, kube_bench: Option<&'static str>) -> Option<Fix> {
    Some(Fix { setting: setting.to_string(), kube_bench })
}

/// Judges the HTTP status of the unauthenticated request to `path` on `component` (`None`: no HTTP
/// answer, with `why`).
pub fn judge(component: &Component, path: &str, status: Option<u16>, why: &str) -> Judged {
    let ok = |access: String| Judged { access, severity: None, fix: None };
    let Some(status) = status else {
        return match component.check {
            Check::Etcd => ok(format!("no answer without a client certificate ({why})")),
            _ => ok(format!("no HTTP answer ({why})")),
        };
    };
    let found =
        |severity, access: &str, fix: Option<Fix>| Judged { access: access.to_string(), severity: Some(severity), fix };
    match (component.port, status) {
        (10250, 200) => found(
            Severity::Critical,
            "anonymous access: /pods served without credentials (and exec, logs)",
            fix(
                "kubelet authentication.anonymous.enabled: false (--anonymous-auth=false) and authorization.mode: Webhook",
                Some("4.2.1"),
            ),
        ),
        (10255, 200) => found(
            Severity::Critical,
            "read-only port: /pods served over plain HTTP to anyone",
            fix("kubelet readOnlyPort: 0 (--read-only-port=0)", Some("4.2.4")),
        ),
        (2379, 200) => found(
            Severity::Critical,
            "etcd served /version without a client certificate: it takes any client",
            fix(
                "etcd --client-cert-auth=true with --trusted-ca-file (and --cert-file/--key-file for TLS)",
                Some("2.2"),
            ),
        ),
        (6443, 200) if path == "/version" => found(
            Severity::Warning,
            "anonymous requests accepted (/version answered without credentials)",
            fix(
                "kube-apiserver --anonymous-auth=false (or an AuthenticationConfiguration allowing anonymous only on /healthz, /readyz, /livez)",
                Some("1.2.1"),
            ),
        ),
        (6443, 200) => found(
            Severity::Critical,
            "anonymous requests authorized beyond public info (/api answered without credentials)",
            fix(
                "kube-apiserver --anonymous-auth=false, and remove RBAC bindings to system:anonymous or system:unauthenticated",
                Some("1.2.1"),
            ),
        ),
        (10259, 200) => found(
            Severity::Warning,
            "/metrics served without credentials",
            fix(
                "kube-scheduler --bind-address=127.0.0.1, and /metrics out of --authorization-always-allow-paths",
                Some("1.4.2"),
            ),
        ),
        (10257, 200) => found(
            Severity::Warning,
            "/metrics served without credentials",
            fix(
                "kube-controller-manager --bind-address=127.0.0.1, and /metrics out of --authorization-always-allow-paths",
                Some("1.3.7"),
            ),
        ),
        (10249, 200) => found(
            Severity::Warning,
            "kube-proxy metrics served to anyone over plain HTTP",
            fix("kube-proxy metricsBindAddress: 127.0.0.1:10249 (--metrics-bind-address)", Some("4.3.1")),
        ),
        (_, 401) => ok(format!("authentication required ({path}: 401)")),
        (_, 403) => ok(format!("anonymous requests reach authorization and are denied ({path}: 403)")),
        (_, other) => ok(format!("{path}: HTTP {other} without credentials")),
    }
}

/// The status code in an HTTP response's status line (`HTTP/1.1 401 Unauthorized`); callers pass
/// the response's first line, so a server that is not HTTP gives none.
pub fn status_code(text: &str) -> Option<u16> {
    text.split("HTTP/").skip(1).find_map(|rest| {
        let mut words = rest.split_whitespace();
        let version = words.next()?;
        if !version.starts_with(['1', '2']) {
            return None;
        }
        let code = words.next()?;
        (code.len() == 3).then(|| code.parse().ok()).flatten()
    })
}

/// Parses `--ports`: numbers and ranges (`10250,2379-2380`), each 1-65535, at most 1024 of them.
pub fn parse_ports(items: &[String]) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for item in items {
        let item = item.trim();
        let (low, high) = item.split_once('-').unwrap_or((item, item));
        let parse = |s: &str| -> Result<u16, String> {
            match s.trim().parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
                _ => Err(format!("invalid port {s:?} in --ports {item:?}: a port is a number from 1 to 65535")),
            }
        };
        let (low, high) = (parse(low)?, parse(high)?);
        if low > high {
            return Err(format!("invalid range {item:?} in --ports: the first port is after the last"));
        }
        for port in low..=high {
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        if ports.len() > 1024 {
            return Err(
                "--ports names more than 1024 ports: each is a real connection attempt per node and namespace".into()
            );
        }
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 29: the kubelet's 200 is critical with its fix and kube-bench ID; 401 and 403 are not findings.
    #[test]
    fn the_kubelet_serving_pods_anonymously_is_critical_and_names_its_fix() {
        let kubelet = component(10250);
        let open = judge(&kubelet, "/pods", Some(200), "");
        assert_eq!(open.severity, Some(Severity::Critical));
        let fix = open.fix.unwrap();
        assert!(fix.setting.contains("authentication.anonymous.enabled: false"), "{}", fix.setting);
        assert_eq!(fix.kube_bench, Some("4.2.1"));
        for status in [401, 403] {
            let closed = judge(&kubelet, "/pods", Some(status), "");
            assert_eq!(closed.severity, None, "{status}");
            assert_eq!(closed.fix, None);
        }
        assert_eq!(judge(&kubelet, "/pods", None, "TLS handshake failed").severity, None);
    }

    #[test]
    fn every_open_component_names_a_setting_and_the_kube_bench_check() {
        let expected = [
            (6443, "/api", "--anonymous-auth=false", "1.2.1", Severity::Critical),
            (6443, "/version", "--anonymous-auth=false", "1.2.1", Severity::Warning),
            (2379, "/version", "--client-cert-auth=true", "2.2", Severity::Critical),
            (10255, "/pods", "readOnlyPort: 0", "4.2.4", Severity::Critical),
            (10259, "/metrics", "--bind-address=127.0.0.1", "1.4.2", Severity::Warning),
            (10257, "/metrics", "--bind-address=127.0.0.1", "1.3.7", Severity::Warning),
            (10249, "/metrics", "metricsBindAddress: 127.0.0.1", "4.3.1", Severity::Warning),
        ];
        for (port, path, setting, id, severity) in expected {
            let judged = judge(&component(port), path, Some(200), "");
            assert_eq!(judged.severity, Some(severity), "{port}");
            let fix = judged.fix.unwrap();
            assert!(fix.setting.contains(setting), "{port}: {}", fix.setting);
            assert_eq!(fix.kube_bench, Some(id), "{port}");
        }
        // A port with no known check is never a finding, whatever it answers.
        assert_eq!(judge(&component(30080), "/", Some(200), "").severity, None);
    }

    #[test]
    fn status_lines_give_their_code_and_nothing_else_does() {
        assert_eq!(status_code("  HTTP/1.1 401 Unauthorized\n  Content-Type: x\n"), Some(401));
        assert_eq!(status_code("wget: server returned error: HTTP/1.1 403 Forbidden"), Some(403));
        assert_eq!(status_code("HTTP/1.0 200 ok\r\n"), Some(200));
        assert_eq!(status_code("HTTP/2 200\n"), Some(200));
        assert_eq!(status_code("wget: TLS error from peer (alert code 116)"), None);
        assert_eq!(status_code("see HTTP/ docs"), None);
    }

    #[test]
    fn ports_are_numbers_and_ranges_within_1_to_65535() {
        assert_eq!(parse_ports(&["10250".into(), "2379-2380".into(), "10250".into()]).unwrap(), [10250, 2379, 2380]);
        for bad in ["0", "65536", "x", "10-5", "-1", "1-70000"] {
            assert!(parse_ports(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(parse_ports(&["1-2000".into()]).unwrap_err().contains("more than 1024"));
    }
}
