//! `--wait`: waiting for the Ingress or Gateway to be served, stopping early when no controller
//! ever will, and what to do with the address once there is one. Apart because it runs after the
//! cluster changed and only reads it.

use std::time::Duration;

use harden_cli::error::{Error, ErrorKind, Result};
use harden_cli::progress::Spinner;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DynamicObject};
use kube::{Client, ResourceExt};

use crate::addresses::{Address, addresses};
use crate::build::IngressSpecInput;
use crate::class::{self, list_classes, list_gateway_classes};
use crate::gateway::{self, GatewayTarget};

/// Why no controller will ever give this Ingress an address, if that is already certain: its class
/// does not exist (and none is the default).
async fn ingress_will_never_be_served(client: &Client, spec: &IngressSpecInput) -> Option<String> {
    let classes = list_classes(client).await?;
    match &spec.class {
        Some(class) if !classes.iter().any(|c| c.name_any() == *class) => {
            Some(format!("IngressClass {class} does not exist, so no controller serves it"))
        }
        None if class::defaults(&classes).is_empty() => {
            Some("it has no IngressClass and the cluster has no default class, so no controller serves it".into())
        }
        _ => None,
    }
}

pub(super) async fn wait_for_address(
    client: &Client,
    api: &Api<Ingress>,
    spec: &IngressSpecInput,
    timeout: Duration,
) -> Result<Vec<Address>> {
    let target = format!("ingress {}/{}", spec.namespace, spec.name);
    let spinner = Spinner::start(format!("waiting for {target} to get an address"));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let ingress =
            api.get(&spec.name).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading {target}")))?;
        let found = addresses(&ingress);
        if !found.is_empty() {
            spinner.finish(format!("{target} has an address"));
            return Ok(found);
        }
        if let Some(why) = ingress_will_never_be_served(client, spec).await {
            drop(spinner);
            return Err(Error::new(ErrorKind::Other, format!("{target} will get no address: {why}; not waiting"))
                .with_hint(format!(
                    "pass --class NAME of an installed controller (`kubectl get ingressclass`), or {}",
                    class::INSTALL_CONTROLLER
                )));
        }
        if tokio::time::Instant::now() >= deadline {
            drop(spinner);
            let class = spec.class.as_deref().unwrap_or("(none)");
            return Err(Error::new(
                ErrorKind::Other,
                format!("{target} got no address within {}s (IngressClass {class})", timeout.as_secs()),
            )
            .with_hint(format!(
                "no ingress controller has admitted it: check that a controller for the class runs \
                 (`kubectl get ingressclass`, `kubectl get pods -A`), or {}",
                class::INSTALL_CONTROLLER
            )));
        }
        tokio::time::sleep(Duration::from_millis(500).min(deadline - tokio::time::Instant::now())).await;
    }
}

/// Why no controller will ever program this Gateway, if that is already certain: its
/// GatewayClass does not exist, or its controller refused it.
fn gateway_will_never_be_programmed(class: &str, classes: &[class::GatewayClassInfo]) -> Option<String> {
    match classes.iter().find(|c| c.name == class) {
        None => Some(format!("GatewayClass {class} does not exist, so no controller acts on it")),
        Some(c) if c.accepted => None,
        // A class no controller has looked at yet may still be picked up: keep waiting.
        Some(c) if c.why_not.as_deref().is_none_or(|w| w.starts_with("Pending") || w.starts_with("no controller")) => {
            None
        }
        Some(c) => Some(format!(
            "GatewayClass {class} was not accepted by its controller: {}",
            c.why_not.clone().unwrap_or_default()
        )),
    }
}

pub(super) async fn wait_for_gateway(
    client: &Client,
    target: &GatewayTarget,
    timeout: Duration,
) -> Result<Vec<Address>> {
    let shown = format!("gateway {}/{}", target.namespace, target.name);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &target.namespace, &gateway::gateway_resource());
    let spinner = Spinner::start(format!("waiting for {shown} to be Programmed"));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let found =
            api.get(&target.name).await.map_err(|e| harden_kube::error::from_kube(e, format!("reading {shown}")))?;
        let conditions = found.data.get("status").and_then(|s| s.get("conditions"));
        let value = serde_json::to_value(&found)?;
        if gateway::is_true(conditions, "Programmed") {
            spinner.finish(format!("{shown} is Programmed"));
            return Ok(gateway::gateway_addresses(&value)
                .into_iter()
                .map(|a| if a.parse::<std::net::IpAddr>().is_ok() { Address::Ip(a) } else { Address::Hostname(a) })
                .collect());
        }
        let class = found.data["spec"]["gatewayClassName"].as_str().unwrap_or_default().to_string();
        if let Some(classes) = list_gateway_classes(client).await
            && let Some(why) = gateway_will_never_be_programmed(&class, &classes)
        {
            drop(spinner);
            return Err(Error::new(ErrorKind::Other, format!("{shown} will not be programmed: {why}; not waiting"))
                .with_hint(format!("`kubectl get gatewayclass` lists the classes; {}", class::INSTALL_CONTROLLER)));
        }
        if tokio::time::Instant::now() >= deadline {
            drop(spinner);
            let why = gateway::condition(conditions, "Programmed")
                .map(|c| format!(" (Programmed: {} {}: {})", c.status, c.reason, c.message))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Other,
                format!("{shown} was not Programmed within {}s{why}", timeout.as_secs()),
            )
            .with_hint(format!(
                "check that the controller of GatewayClass {class} runs; `kubectl tls-ingress inspect` shows the listener status"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500).min(deadline - tokio::time::Instant::now())).await;
    }
}

/// What to do with the address: the /etc/hosts lines (IP addresses only) and a curl command.
pub fn address_help(addresses: &[Address], hosts: &[String], cert_file: Option<&std::path::Path>) -> String {
    let mut out = String::new();
    let shown: Vec<&str> = addresses
        .iter()
        .map(|a| match a {
            Address::Ip(ip) => ip.as_str(),
            Address::Hostname(h) => h.as_str(),
        })
        .collect();
    out.push_str(&format!("address: {}\n", shown.join(", ")));
    let exact: Vec<&str> = hosts.iter().filter(|h| !h.starts_with("*.")).map(String::as_str).collect();
    match addresses.first() {
        Some(Address::Ip(ip)) if !exact.is_empty() => {
            out.push_str("add to /etc/hosts (Windows: C:\\Windows\\System32\\drivers\\etc\\hosts):\n");
            out.push_str(&format!("{ip} {}\n", exact.join(" ")));
        }
        Some(Address::Hostname(name)) => {
            out.push_str(&format!("point DNS for {} at {name} (CNAME)\n", hosts.join(", ")));
        }
        _ => {}
    }
    if hosts.iter().any(|h| h.starts_with("*.")) {
        out.push_str("wildcard hosts cannot go into /etc/hosts: add a line per concrete name, or use DNS\n");
    }
    if let (Some(host), Some(Address::Ip(ip))) = (exact.first(), addresses.first()) {
        let ca = cert_file.map(|p| format!("--cacert {}", p.display())).unwrap_or_else(|| "-k".into());
        out.push_str(&format!("test: curl {ca} --resolve {host}:443:{ip} https://{host}/\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_help_gives_the_hosts_line_and_curl() {
        let hosts = vec!["accounting.internal.acme.com".to_string(), "*.acme.com".to_string()];
        let text =
            address_help(&[Address::Ip("10.102.150.36".into())], &hosts, Some(std::path::Path::new("/tmp/c/s.crt")));
        assert!(text.contains("\n10.102.150.36 accounting.internal.acme.com\n"), "{text}");
        assert!(text.contains("wildcard hosts cannot go into /etc/hosts"), "{text}");
        assert!(text.contains("curl --cacert /tmp/c/s.crt --resolve accounting.internal.acme.com:443:10.102.150.36"));
        let text = address_help(&[Address::Hostname("lb.aws.com".into())], &hosts[..1], None);
        assert!(text.contains("CNAME") && !text.contains("/etc/hosts"), "{text}");
    }

    #[test]
    fn gateway_waits_stop_only_when_no_controller_will_act() {
        let info = |accepted: bool, why: Option<&str>| class::GatewayClassInfo {
            name: "eg".into(),
            accepted,
            why_not: why.map(str::to_owned),
        };
        assert!(gateway_will_never_be_programmed("nope", &[info(true, None)]).unwrap().contains("does not exist"));
        assert!(gateway_will_never_be_programmed("eg", &[info(true, None)]).is_none());
        assert!(
            gateway_will_never_be_programmed("eg", &[info(false, Some("Pending: Waiting for controller"))]).is_none()
        );
        let refused = gateway_will_never_be_programmed("eg", &[info(false, Some("InvalidParameters: bad ref"))]);
        assert!(refused.unwrap().contains("not accepted by its controller: InvalidParameters"));
    }
}
