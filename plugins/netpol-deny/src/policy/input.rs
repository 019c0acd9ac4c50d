//! Parsing and validating the values of `apply`/`allow` flags: ports (`3000`, `8000-8080/UDP`,
//! `http`), CIDRs with their `except` entries, and object names. Everything here is pure and every
//! error is invalid input (exit 2) with a hint.

use std::fmt;

use harden_cli::error::{Error, Result};
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A NetworkPolicy port as given with `--port PORT[/PROTO]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortArg {
    pub port: PortValue,
    /// `TCP`, `UDP` or `SCTP`; `TCP` when omitted, as in the API.
    pub protocol: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortValue {
    Number(u16),
    /// `port`..=`end_port` (the API's `endPort`).
    Range(u16, u16),
    /// A container port name, resolved on the destination pod.
    Name(String),
}

impl PortArg {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(format!("invalid --port {text:?}: {why}"))
                .with_hint("give PORT[/PROTO]: a number (3000), a range (8000-8080) or a container port name (http), optionally with /TCP, /UDP or /SCTP")
        };
        let (port, protocol) = match text.trim().split_once('/') {
            Some((port, proto)) => {
                (port.trim(), parse_protocol(proto.trim()).ok_or_else(|| bad("the protocol must be TCP, UDP or SCTP"))?)
            }
            None => (text.trim(), "TCP"),
        };
        if port.is_empty() {
            return Err(bad("the port is empty"));
        }
        let number = |n: &str| match n.parse::<u32>() {
            Ok(n @ 1..=65535) => Ok(n as u16),
            _ => Err(bad("port numbers are 1-65535")),
        };
        let value = if let Some((start, end)) =
            port.split_once('-').filter(|(s, _)| s.chars().all(|c| c.is_ascii_digit()))
        {
            let (start, end) = (number(start)?, number(end)?);
            match start.cmp(&end) {
                std::cmp::Ordering::Less => PortValue::Range(start, end),
                std::cmp::Ordering::Equal => PortValue::Number(start),
                std::cmp::Ordering::Greater => return Err(bad("a range goes from the lower port to the higher one")),
            }
        } else if port.chars().all(|c| c.is_ascii_digit()) {
            PortValue::Number(number(port)?)
        } else {
            validate_port_name(port).map_err(|why| bad(&why))?;
            PortValue::Name(port.to_string())
        };
        Ok(Self { port: value, protocol })
    }

    pub fn to_api(&self) -> NetworkPolicyPort {
        let (port, end_port) = match &self.port {
            PortValue::Number(n) => (IntOrString::Int(i32::from(*n)), None),
            PortValue::Range(start, end) => (IntOrString::Int(i32::from(*start)), Some(i32::from(*end))),
            PortValue::Name(name) => (IntOrString::String(name.clone()), None),
        };
        NetworkPolicyPort { port: Some(port), end_port, protocol: Some(self.protocol.to_string()) }
    }
}

impl fmt::Display for PortArg {
    /// `tcp-3000`, `udp-8000-8080`, `tcp-http`: the form used in policy names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = self.protocol.to_ascii_lowercase();
        match &self.port {
            PortValue::Number(n) => write!(f, "{proto}-{n}"),
            PortValue::Range(start, end) => write!(f, "{proto}-{start}-{end}"),
            PortValue::Name(name) => write!(f, "{proto}-{name}"),
        }
    }
}

fn parse_protocol(text: &str) -> Option<&'static str> {
    match text.to_ascii_uppercase().as_str() {
        "TCP" => Some("TCP"),
        "UDP" => Some("UDP"),
        "SCTP" => Some("SCTP"),
        _ => None,
    }
}

/// The API's rule for container port names (IANA_SVC_NAME): 1-15 lower-case letters, digits and
/// dashes, at least one letter, no dash at either end and no two dashes in a row.
fn validate_port_name(name: &str) -> std::result::Result<(), String> {
    if apimachinery::validation::is_port_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is neither a number, a range, nor a valid port name (1-15 lower-case letters, digits and single dashes, with at least one letter)"
        ))
    }
}

/// Parses a CIDR (`10.0.0.0/8`, `fd00::/8`) or a bare address (a /32 or /128). Host bits must be
/// zero, so that what is stored is what was meant.
pub fn parse_cidr(flag: &str, text: &str) -> Result<IpNet> {
    let text = text.trim();
    let bad = |why: String| {
        Error::invalid(format!("invalid {flag} {text:?}: {why}"))
            .with_hint("give an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or fd00::/8, or a single address")
    };
    // Strict, as the API server: an IPv4-mapped address or leading zeros would give YAML it rejects.
    let net = apimachinery::net::parse_cidr_or_ip(text).map_err(|e| match e.suggestion {
        Some(meant) => bad(format!("it has bits set after the prefix length; did you mean {meant}?")),
        None => bad(e.reason),
    })?;
    Ok(net)
}

/// An ipBlock: a CIDR and the excepted CIDRs inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

/// Assigns each `--except` to every CIDR that strictly contains it (the API rejects an except that
/// is not a strict subset of its cidr); an except inside none of them is an error.
pub fn blocks(cidr_flag: &str, cidrs: &[IpNet], except: &[IpNet]) -> Result<Vec<Block>> {
    if cidrs.is_empty() && !except.is_empty() {
        return Err(Error::invalid(format!("--except needs {cidr_flag}: it removes addresses from a CIDR"))
            .with_hint(format!("add {cidr_flag} CIDR, e.g. {cidr_flag} 0.0.0.0/0 --except {}", except[0])));
    }
    for e in except {
        if !cidrs.iter().any(|c| strictly_contains(c, e)) {
            let given: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
            return Err(Error::invalid(format!(
                "--except {e} is not inside any {cidr_flag} ({}): an except entry must be a smaller part of its CIDR",
                given.join(", ")
            ))
            .with_hint(format!("drop it, or add a {cidr_flag} that contains it")));
        }
    }
    Ok(cidrs
        .iter()
        .map(|c| Block { cidr: *c, except: except.iter().filter(|e| strictly_contains(c, e)).copied().collect() })
        .collect())
}

fn strictly_contains(outer: &IpNet, inner: &IpNet) -> bool {
    outer.contains(inner) && inner.prefix_len() > outer.prefix_len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::validate_name;

    #[test]
    fn ports_numbers_ranges_names_and_protocols() {
        let p = PortArg::parse("3000").unwrap();
        assert_eq!(p, PortArg { port: PortValue::Number(3000), protocol: "TCP" });
        let api = p.to_api();
        assert_eq!(api.port, Some(IntOrString::Int(3000)));
        assert_eq!(api.protocol.as_deref(), Some("TCP"));
        assert_eq!(api.end_port, None);

        let p = PortArg::parse("8000-8080/udp").unwrap();
        assert_eq!(p.port, PortValue::Range(8000, 8080));
        assert_eq!(p.to_api().end_port, Some(8080));
        assert_eq!(p.to_api().protocol.as_deref(), Some("UDP"));
        assert_eq!(p.to_string(), "udp-8000-8080");

        let p = PortArg::parse("http/SCTP").unwrap();
        assert_eq!(p.to_api().port, Some(IntOrString::String("http".into())));
        assert_eq!(p.to_string(), "sctp-http");
        assert_eq!(PortArg::parse("53-53").unwrap().port, PortValue::Number(53));
        assert_eq!(PortArg::parse("dns-tcp").unwrap().port, PortValue::Name("dns-tcp".into()));
    }

    #[test]
    fn bad_ports_are_invalid_input_with_a_hint() {
        for bad in
            ["0", "65536", "80/ICMP", "", "/TCP", "9000-8000", "Http", "a--b", "-x", "verylongportname1", "1-99999"]
        {
            let err = PortArg::parse(bad).unwrap_err();
            assert_eq!(err.kind, harden_cli::error::ErrorKind::InvalidInput, "{bad}");
            assert!(err.message.contains("--port"), "{bad}: {err}");
            assert!(err.hint.is_some(), "{bad}");
        }
    }

    #[test]
    fn cidrs_accept_v4_v6_and_bare_addresses_but_not_host_bits() {
        assert_eq!(parse_cidr("--from-cidr", "10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_cidr("--from-cidr", "fd00::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(parse_cidr("--from-cidr", "169.254.169.254").unwrap().to_string(), "169.254.169.254/32");
        assert_eq!(parse_cidr("--from-cidr", "::1").unwrap().to_string(), "::1/128");
        let err = parse_cidr("--from-cidr", "10.0.0.1/8").unwrap_err();
        assert!(err.message.contains("did you mean 10.0.0.0/8"), "{err}");
        for bad in ["10.0.0.0/33", "300.1.1.1", "banana", "10.0.0.0/", "::ffff:169.254.169.254", "010.0.0.0/8"] {
            assert!(parse_cidr("--to-cidr", bad).unwrap_err().message.contains("--to-cidr"), "{bad}");
        }
    }

    #[test]
    fn excepts_go_to_the_cidrs_that_contain_them() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let b = blocks(
            "--to-cidr",
            &[net("0.0.0.0/0"), net("::/0")],
            &[net("169.254.169.254/32"), net("fd00:ec2::254/128")],
        )
        .unwrap();
        assert_eq!(b[0].except, [net("169.254.169.254/32")]);
        assert_eq!(b[1].except, [net("fd00:ec2::254/128")]);
        assert!(blocks("--to-cidr", &[net("10.0.0.0/8")], &[net("11.0.0.0/24")]).is_err());
        assert!(blocks("--to-cidr", &[net("10.0.0.0/8")], &[net("10.0.0.0/8")]).is_err(), "must be a strict subset");
        let err = blocks("--from-cidr", &[], &[net("10.0.0.0/8")]).unwrap_err();
        assert!(err.message.contains("--except needs --from-cidr"), "{err}");
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        assert!(validate_name("allow-web.v2").is_ok());
        for bad in ["", "Upper", "-x", "a..b", "a_b", &"x".repeat(254)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
