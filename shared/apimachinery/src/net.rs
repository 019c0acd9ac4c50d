//! IP addresses and CIDRs as the pinned API server (v1.37, `StrictIPCIDRValidation` on) validates a
//! NetworkPolicy's `ipBlock`: Go's parser first (no surrounding spaces, no zone), then the strict
//! rules: no leading zeros in the address or the prefix length, no IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`), and no bits set beyond the prefix length.

use std::net::IpAddr;

use ipnet::IpNet;

/// Why a CIDR is refused: the API server's message for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct CidrError {
    pub reason: String,
    /// The CIDR the user probably meant (host bits cleared), when that is the only problem.
    pub suggestion: Option<IpNet>,
}

impl CidrError {
    fn new(reason: &str) -> Self {
        CidrError { reason: reason.to_string(), suggestion: None }
    }
}

/// Parses `text` as the API server parses `ipBlock.cidr` and `ipBlock.except` entries.
pub fn parse_cidr(text: &str) -> Result<IpNet, CidrError> {
    let invalid = || CidrError::new("must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
    let (addr, prefix) = text.split_once('/').ok_or_else(invalid)?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return Err(invalid());
    }
    let ip = parse_ip_sloppy(addr).ok_or_else(invalid)?;
    let max = if ip.is_ipv4() && !addr.contains(':') { 32 } else { 128 };
    let length: u8 = prefix.parse().map_err(|_| invalid())?;
    if length > max {
        return Err(invalid());
    }
    let leading_zero = |part: &str| part.len() > 1 && part.starts_with('0');
    if leading_zero(prefix) || (!addr.contains(':') && addr.split('.').any(leading_zero)) {
        return Err(CidrError::new("must not have leading 0s in IP or prefix length"));
    }
    let ip = match addr.parse::<IpAddr>() {
        Ok(ip) => ip,
        // Go's sloppy parser took it, the strict one does not: an embedded IPv4 part with leading zeros.
        Err(_) => return Err(CidrError::new("must not have leading 0s in IP or prefix length")),
    };
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return Err(CidrError::new("must not have an IPv4-mapped IPv6 address"));
    }
    let net = IpNet::new(ip, length).map_err(|_| invalid())?;
    if net.trunc() != net {
        return Err(CidrError {
            reason: "must not have bits set beyond the prefix length".into(),
            suggestion: Some(net.trunc()),
        });
    }
    Ok(net)
}

/// Go's `ParseIPSloppy`: IPv4 octets may have leading zeros (read as decimal); IPv6 as usual. Spaces,
/// zones and anything else are refused.
fn parse_ip_sloppy(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        if text.contains('%') {
            return None;
        }
        // The embedded IPv4 part of an IPv6 address may also carry leading zeros in Go.
        if let Some((head, tail)) = text.rsplit_once(':')
            && tail.contains('.')
        {
            let v4 = sloppy_v4(tail)?;
            return format!("{head}:{v4}").parse().ok();
        }
        return text.parse().ok();
    }
    sloppy_v4(text).map(IpAddr::V4)
}

fn sloppy_v4(text: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(&parts) {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    Some(octets.into())
}

/// Parses a CIDR, or a single address as its host CIDR (`/32`, `/128`), for flags: what comes back
/// is in canonical form and is accepted by the API server.
pub fn parse_cidr_or_ip(text: &str) -> Result<IpNet, CidrError> {
    if text.contains('/') {
        return parse_cidr(text);
    }
    let bits = if text.contains(':') { 128 } else { 32 };
    parse_cidr(&format!("{text}/{bits}")).map_err(|e| CidrError {
        reason: e.reason.replace(
            "CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "IP address or CIDR (e.g. 10.9.8.7, 10.9.8.0/24 or 2001:db8::/64)",
        ),
        suggestion: None,
    })
}

/// Parses one address for flags that name an endpoint (`--to-ip`): strict, as for CIDRs.
pub fn parse_ip(text: &str) -> Result<IpAddr, CidrError> {
    let bits = if text.contains(':') { 128 } else { 32 };
    parse_cidr(&format!("{text}/{bits}")).map(|net| net.addr()).map_err(|e| CidrError {
        reason: e
            .reason
            .replace("CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)", "IP address (e.g. 10.9.8.7 or 2001:db8::7)"),
        suggestion: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_api_server_accepts() {
        for ok in ["10.0.0.0/8", "0.0.0.0/0", "169.254.169.254/32", "fd00::/8", "::/0", "FD00::/8", "2001:db8::1/128"] {
            assert!(parse_cidr(ok).is_ok(), "{ok}");
        }
        assert_eq!(parse_cidr("FD00::/8").unwrap().to_string(), "fd00::/8");
    }

    /// Each refused by kube-apiserver v1.37.2 for a NetworkPolicy ipBlock (checked live in the tests).
    #[test]
    fn what_the_api_server_refuses_and_why() {
        let cases = [
            ("10.0.0.1/8", "bits set beyond the prefix length"),
            ("010.0.0.0/8", "leading 0s"),
            ("10.0.0.0/08", "leading 0s"),
            (" 10.0.0.0/8", "valid CIDR"),
            ("10.0.0.0/8 ", "valid CIDR"),
            ("::ffff:10.0.0.0/104", "IPv4-mapped"),
            ("::ffff:169.254.169.254/128", "IPv4-mapped"),
            ("10.0.0.0/33", "valid CIDR"),
            ("10.0.0.0", "valid CIDR"),
            ("fe80::1%eth0/128", "valid CIDR"),
            ("banana/8", "valid CIDR"),
            ("10.0.0.0/", "valid CIDR"),
            ("10.0.0.0/+8", "valid CIDR"),
        ];
        for (text, reason) in cases {
            let err = parse_cidr(text).unwrap_err();
            assert!(err.reason.contains(reason), "{text:?}: {err}");
        }
        assert_eq!(parse_cidr("10.0.0.1/8").unwrap_err().suggestion.unwrap().to_string(), "10.0.0.0/8");
    }

    #[test]
    fn single_addresses() {
        assert_eq!(parse_ip("10.0.0.7").unwrap().to_string(), "10.0.0.7");
        assert!(parse_ip("::ffff:10.0.0.7").is_err());
        assert!(parse_ip("010.0.0.7").is_err());
        assert!(parse_ip("10.0.0.0/8").is_err());
    }
}
