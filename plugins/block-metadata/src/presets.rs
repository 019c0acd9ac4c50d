//! The metadata endpoints of each cloud, and choosing them from `--cloud`, `--azure-wire-server`
//! (the flags `apply` and `status` share) and `--block`. Pure: no I/O.

use std::net::IpAddr;

use clap::{Args, ValueEnum};
use harden_cli::error::{Error, Result};
use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Cloud {
    Aws,
    Gcp,
    Azure,
    Alibaba,
    Oracle,
    Openstack,
    Digitalocean,
    /// Every cloud above (not the Azure wire server, which is opt-in).
    All,
}

impl Cloud {
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
            Cloud::Azure => "azure",
            Cloud::Alibaba => "alibaba",
            Cloud::Oracle => "oracle",
            Cloud::Openstack => "openstack",
            Cloud::Digitalocean => "digitalocean",
            Cloud::All => "all",
        }
    }
}

/// One address pods must not reach, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub net: IpNet,
    /// Who serves it: `aws`, `gcp`, ..., or `custom` for `--block`.
    pub source: String,
    pub what: &'static str,
}

/// Each provider's instance metadata addresses (IPv4 and, where the provider has one, IPv6).
const PRESETS: &[(Cloud, &str, &str)] = &[
    (Cloud::Aws, "169.254.169.254", "EC2 instance metadata service (IMDS)"),
    (Cloud::Aws, "fd00:ec2::254", "EC2 instance metadata service (IMDS) over IPv6"),
    (Cloud::Gcp, "169.254.169.254", "Compute Engine metadata server (metadata.google.internal)"),
    (Cloud::Gcp, "fd20:ce::254", "Compute Engine metadata server over IPv6"),
    (Cloud::Azure, "169.254.169.254", "Azure Instance Metadata Service (IMDS)"),
    (Cloud::Alibaba, "100.100.100.200", "Alibaba Cloud ECS metadata service"),
    (Cloud::Oracle, "169.254.169.254", "OCI instance metadata service (IMDS)"),
    (Cloud::Oracle, "fd00:c1::a9fe:a9fe", "OCI instance metadata service (IMDS) over IPv6"),
    (Cloud::Openstack, "169.254.169.254", "OpenStack metadata service"),
    (Cloud::Openstack, "fe80::a9fe:a9fe", "OpenStack metadata service over IPv6 (link-local)"),
    (Cloud::Digitalocean, "169.254.169.254", "DigitalOcean droplet metadata service"),
];

/// Azure's wire server: hands out certificates and VM extension settings, but hosts on Azure also
/// use it for DNS and DHCP, so blocking it is a choice (`--azure-wire-server`), not a default.
pub const AZURE_WIRE_SERVER: &str = "168.63.129.16";

/// The endpoints to block: those of the chosen clouds, the wire server if asked, and `--block`
/// CIDRs. One entry per address (the first source that names it wins), IPv4 before IPv6.
pub fn endpoints(clouds: &[Cloud], wire_server: bool, custom: &[IpNet]) -> Vec<Endpoint> {
    let wanted = |cloud: Cloud| clouds.is_empty() || clouds.contains(&Cloud::All) || clouds.contains(&cloud);
    let mut list: Vec<Endpoint> = PRESETS
        .iter()
        .filter(|(cloud, ..)| wanted(*cloud))
        .map(|(cloud, address, what)| Endpoint {
            net: IpNet::from(address.parse::<IpAddr>().expect("preset addresses are valid")),
            source: cloud.name().to_string(),
            what,
        })
        .collect();
    if wire_server {
        list.push(Endpoint {
            net: IpNet::from(AZURE_WIRE_SERVER.parse::<IpAddr>().expect("valid address")),
            source: "azure".into(),
            what: "Azure wire server",
        });
    }
    list.extend(custom.iter().map(|net| Endpoint { net: *net, source: "custom".into(), what: "--block" }));
    let mut unique: Vec<Endpoint> = Vec::new();
    for endpoint in list {
        if let Some(seen) = unique.iter_mut().find(|e| e.net == endpoint.net) {
            if !seen.source.split(',').any(|s| s == endpoint.source) {
                seen.source = format!("{},{}", seen.source, endpoint.source);
                seen.what = "instance metadata service of several clouds";
            }
        } else {
            unique.push(endpoint);
        }
    }
    unique.sort_by_key(|e| (e.net.addr().is_ipv6(), e.net));
    unique
}

/// `--block`: an IPv4 or IPv6 CIDR or a single address; a prefix of 0 would block everything.
pub fn parse_block(text: &str) -> Result<IpNet> {
    let text = text.trim();
    let bad = |why: String| {
        Error::invalid(format!("invalid --block {text:?}: {why}")).with_hint(
            "give an address or CIDR to keep pods away from, e.g. --block 169.254.170.2 or --block 100.100.100.200/32",
        )
    };
    // Strict, as the API server: an IPv4-mapped address or leading zeros would give YAML it rejects.
    let net = apimachinery::net::parse_cidr_or_ip(text).map_err(|e| match e.suggestion {
        Some(meant) => bad(format!("it has bits set after the prefix length; did you mean {meant}?")),
        None => bad(e.reason),
    })?;
    if net.prefix_len() == 0 {
        return Err(bad("a /0 would block all egress; use `kubectl netpol-deny apply --egress` for that".into()));
    }
    Ok(net)
}

/// Which endpoints: shared by `apply` and `status`.
#[derive(Args, Debug, Clone)]
pub struct EndpointArgs {
    /// Whose metadata endpoints (repeat or comma-separate).
    #[arg(long, value_name = "CLOUD", value_delimiter = ',', default_value = "all")]
    pub cloud: Vec<Cloud>,

    /// Also Azure's wire server 168.63.129.16 (certificates and extension settings; hosts use it for DNS
    /// too, so it is opt-in).
    #[arg(long)]
    pub azure_wire_server: bool,
}

/// The endpoints the shared flags choose.
pub fn chosen_endpoints(args: &EndpointArgs) -> Vec<Endpoint> {
    endpoints(&args.cloud, args.azure_wire_server, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(list: &[Endpoint]) -> Vec<String> {
        list.iter().map(|e| e.net.to_string()).collect()
    }

    #[test]
    fn each_cloud_has_its_own_endpoints() {
        let cases: [(Cloud, &[&str]); 7] = [
            (Cloud::Aws, &["169.254.169.254/32", "fd00:ec2::254/128"]),
            (Cloud::Gcp, &["169.254.169.254/32", "fd20:ce::254/128"]),
            (Cloud::Azure, &["169.254.169.254/32"]),
            (Cloud::Alibaba, &["100.100.100.200/32"]),
            (Cloud::Oracle, &["169.254.169.254/32", "fd00:c1::a9fe:a9fe/128"]),
            (Cloud::Openstack, &["169.254.169.254/32", "fe80::a9fe:a9fe/128"]),
            (Cloud::Digitalocean, &["169.254.169.254/32"]),
        ];
        for (cloud, expected) in cases {
            assert_eq!(addresses(&endpoints(&[cloud], false, &[])), expected, "{cloud:?}");
        }
    }

    #[test]
    fn all_is_the_default_and_merges_shared_addresses() {
        let all = endpoints(&[Cloud::All], false, &[]);
        assert_eq!(endpoints(&[], false, &[]), all);
        assert_eq!(
            addresses(&all),
            [
                "100.100.100.200/32",
                "169.254.169.254/32",
                "fd00:c1::a9fe:a9fe/128",
                "fd00:ec2::254/128",
                "fd20:ce::254/128",
                "fe80::a9fe:a9fe/128"
            ]
        );
        let imds = all.iter().find(|e| e.net.to_string() == "169.254.169.254/32").unwrap();
        assert_eq!(imds.source, "aws,gcp,azure,oracle,openstack,digitalocean");
        assert_eq!(imds.what, "instance metadata service of several clouds");
        assert!(!addresses(&all).contains(&"168.63.129.16/32".to_string()), "the wire server is opt-in");
    }

    #[test]
    fn wire_server_and_custom_blocks_are_added() {
        let custom = [parse_block("169.254.170.2").unwrap(), parse_block("fd00:ec2::23/128").unwrap()];
        let list = endpoints(&[Cloud::Azure], true, &custom);
        assert_eq!(
            addresses(&list),
            ["168.63.129.16/32", "169.254.169.254/32", "169.254.170.2/32", "fd00:ec2::23/128"]
        );
        assert_eq!(list[2].source, "custom");
        let same = endpoints(&[Cloud::Aws], false, &[parse_block("169.254.169.254/32").unwrap()]);
        assert_eq!(same.len(), 2);
        assert_eq!(same[0].source, "aws,custom");
    }

    #[test]
    fn bad_blocks_are_invalid_input() {
        for bad in ["169.254.169.256", "10.0.0.1/8", "0.0.0.0/0", "::/0", "metadata", "1.2.3.4/33", ""] {
            let err = parse_block(bad).unwrap_err();
            assert_eq!(err.kind, harden_cli::error::ErrorKind::InvalidInput, "{bad}");
            assert!(err.message.contains("--block"), "{bad}: {err}");
        }
        assert_eq!(parse_block("fd00:ec2::254").unwrap().to_string(), "fd00:ec2::254/128");
        assert_eq!(parse_block("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
    }
}
