//! Real packets: a TCP connection attempt run inside a pod (`kubectl exec` of `nc -z`), so that
//! what the policies say can be checked against what the network does. Exec changes nothing in
//! the pod (an ephemeral container would stay in its spec until the pod is replaced); the price
//! is that the container needs `sh` and `nc`, and one that has not is "not probed", with why.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};

/// What one attempt showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Connected,
    Blocked,
    NotProbed(String),
}

impl Observed {
    pub fn word(&self) -> &'static str {
        match self {
            Observed::Connected => "connected",
            Observed::Blocked => "blocked",
            Observed::NotProbed(_) => "not probed",
        }
    }
}

/// The shell line run in the source pod: exit 127 says the container cannot probe.
pub fn probe_script(ip: &str, port: u16, timeout: Duration) -> String {
    // `nc -z` is not in every nc (Debian's busybox lacks it): connect with stdin at EOF instead.
    // `-w` bounds the connect; a server that keeps the connection open is ended by `timeout`,
    // whose 124 (GNU) or 143 (busybox, SIGTERM) then means it did connect.
    let seconds = timeout.as_secs().max(1);
    format!(
        "command -v nc >/dev/null 2>&1 || exit 127; \
         if command -v timeout >/dev/null 2>&1; then timeout {grace} nc -w {seconds} {ip} {port} </dev/null >/dev/null 2>&1; \
         else nc -w {seconds} {ip} {port} </dev/null >/dev/null 2>&1; fi; \
         rc=$?; if [ $rc -eq 124 ] || [ $rc -eq 143 ]; then exit 0; fi; exit $rc",
        grace = seconds + 2
    )
}

/// Runs the connection attempt from `pod` (its first container) to `ip:port`.
pub async fn attempt(client: &kube::Client, pod: &Pod, ip: &str, port: u16, timeout: Duration) -> Observed {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let Some(container) = pod.spec.as_ref().and_then(|s| s.containers.first()).map(|c| c.name.clone()) else {
        return Observed::NotProbed("the pod has no container".into());
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    // The API wants one stream at least: stderr, drained, which also carries why sh could not run.
    let params = AttachParams::default().container(container).stdin(false).stdout(false).stderr(true);
    let script = probe_script(ip, port, timeout);
    let run = async {
        let mut process = api.exec(&name, ["sh", "-c", script.as_str()], &params).await?;
        let drain = process.stderr().map(|mut stderr| {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut sink).await;
            })
        });
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        if let Some(drain) = drain {
            let _ = drain.await;
        }
        process.join().await.map_err(|e| kube::Error::Service(e.into()))?;
        Ok::<_, kube::Error>(status)
    };
    // The exec's own round trips get some slack beyond the attempt's timeout.
    let outcome = match tokio::time::timeout(timeout + Duration::from_secs(10), run).await {
        Err(_) => return Observed::NotProbed(format!("kubectl exec into {namespace}/{name} did not finish")),
        Ok(Err(e)) => return Observed::NotProbed(format!("cannot exec into {namespace}/{name}: {e}")),
        Ok(Ok(status)) => status,
    };
    match exit_code(outcome.as_ref()) {
        Some(0) => Observed::Connected,
        Some(127) => Observed::NotProbed(format!("{namespace}/{name} has no nc (the probe runs `nc -z` in the pod)")),
        Some(126) => Observed::NotProbed(format!("{namespace}/{name} cannot run sh")),
        Some(_) => Observed::Blocked,
        None => Observed::NotProbed(format!("exec into {namespace}/{name} gave no exit status")),
    }
}

/// The exit code in an exec's final status (`Success`, or `NonZeroExitCode` with an `ExitCode`
/// cause).
fn exit_code(status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> Option<i32> {
    let status = status?;
    if status.status.as_deref() == Some("Success") {
        return Some(0);
    }
    status
        .details
        .as_ref()?
        .causes
        .as_ref()?
        .iter()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

    #[test]
    fn the_script_needs_nc_and_bounds_the_attempt() {
        let script = probe_script("10.0.0.43", 3000, Duration::from_millis(500));
        assert!(script.starts_with("command -v nc >/dev/null 2>&1 || exit 127;"), "{script}");
        assert!(script.contains("timeout 3 nc -w 1 10.0.0.43 3000 </dev/null"), "{script}");
        assert!(probe_script("fd00::1", 80, Duration::from_secs(3)).contains("nc -w 3 fd00::1 80"));
    }

    #[test]
    fn exec_statuses_become_exit_codes() {
        let success = Status { status: Some("Success".into()), ..Default::default() };
        assert_eq!(exit_code(Some(&success)), Some(0));
        let failed = |code: &str| Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some(code.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(exit_code(Some(&failed("1"))), Some(1));
        assert_eq!(exit_code(Some(&failed("127"))), Some(127));
        assert_eq!(exit_code(None), None);
    }
}
