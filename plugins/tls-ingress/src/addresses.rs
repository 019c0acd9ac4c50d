//! Where a controller publishes an Ingress: the addresses in its status.

use k8s_openapi::api::networking::v1::Ingress;

/// An address of the Ingress: an IP or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Ip(String),
    Hostname(String),
}

pub fn addresses(ingress: &Ingress) -> Vec<Address> {
    let entries = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default();
    entries
        .into_iter()
        .filter_map(|e| match (e.ip, e.hostname) {
            (Some(ip), _) if !ip.is_empty() => Some(Address::Ip(ip)),
            (_, Some(host)) if !host.is_empty() => Some(Address::Hostname(host)),
            _ => None,
        })
        .collect()
}
