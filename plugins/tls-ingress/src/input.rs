//! Checking what the user typed before anything is built: host names, `SERVICE:PORT`, object names
//! and paths, with messages that say what is wrong and what would be accepted.

use std::net::IpAddr;

use apimachinery::validation::is_dns_label as dns_label;
use harden_cli::Error;

/// A Service port in an Ingress backend: a number or the name of a port of the Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Port {
    Number(i32),
    Name(String),
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Name(n) => f.write_str(n),
        }
    }
}

/// A Service's ports: (name, number).
pub type Ports = Vec<(Option<String>, i32)>;

/// A backend Service and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub service: String,
    pub port: Port,
}

/// A DNS-1123 subdomain whose labels are at most 63 characters each (a host name; stricter than
/// the API's object-name rule, which does not limit labels).
pub fn dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(dns_label)
}

/// Checks an Ingress host: a lower-case DNS name, optionally with a `*.` wildcard first label.
pub fn host(text: &str) -> Result<String, Error> {
    let bad = |why: String| {
        let hint = match suggest_host(text) {
            Some(near) => format!("did you mean --host {near}?"),
            None => "give a DNS name such as accounting.internal.acme.com or *.apps.acme.com".to_string(),
        };
        Error::invalid(format!("invalid host {text:?}: {why}")).with_hint(hint)
    };
    if text.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if text.parse::<IpAddr>().is_ok() {
        return Err(bad("Ingress hosts must be DNS names, not IP addresses".into()));
    }
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad(format!("host names must be lower case ({:?})", text.to_ascii_lowercase())));
    }
    let name = text.strip_prefix("*.").unwrap_or(text);
    if name.contains('*') {
        return Err(bad("a wildcard may only be the whole first label, as in *.acme.com".into()));
    }
    if !name.contains('.') && text.starts_with("*.") {
        return Err(bad("a wildcard needs at least two labels after it".into()));
    }
    if !dns_subdomain(name) {
        return Err(bad("labels must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-', \
             separated by single dots"
            .into()));
    }
    Ok(text.to_string())
}

/// A valid host name close to what was typed: without a scheme, port or path, lower case, with
/// `_` as `-` and empty labels dropped; `None` when nothing valid is left.
pub fn suggest_host(text: &str) -> Option<String> {
    let mut rest = text.trim();
    if let Some((_, after)) = rest.split_once("://") {
        rest = after;
    }
    rest = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if let Some((name, port)) = rest.rsplit_once(':')
        && port.chars().all(|c| c.is_ascii_digit())
    {
        rest = name;
    }
    let lowered = rest.to_ascii_lowercase().replace('_', "-");
    let (wildcard, name) = match lowered.strip_prefix("*.") {
        Some(name) => ("*.", name.to_string()),
        None => ("", lowered.clone()),
    };
    let labels: Vec<&str> = name.split('.').map(|l| l.trim_matches('-')).filter(|l| !l.is_empty()).collect();
    let candidate = format!("{wildcard}{}", labels.join("."));
    (candidate != text && host_is_valid(&candidate)).then_some(candidate)
}

fn host_is_valid(name: &str) -> bool {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    !bare.is_empty()
        && bare.parse::<IpAddr>().is_err()
        && !bare.contains('*')
        && (!name.starts_with("*.") || bare.contains('.'))
        && dns_subdomain(bare)
}

/// Checks a list of hosts (comma-separated values allowed) and drops duplicates, keeping order.
pub fn hosts(values: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for value in values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|v| !v.is_empty()) {
        let checked = host(value)?;
        if !out.contains(&checked) {
            out.push(checked);
        }
    }
    Ok(out)
}

/// Parses `--service SERVICE:PORT` (port a number or a named port).
pub fn backend(text: &str) -> Result<Backend, Error> {
    let Some((service, port)) = text.rsplit_once(':') else {
        return Err(Error::invalid(format!("--service {text:?} has no port"))
            .with_hint(format!("give SERVICE:PORT, e.g. --service {text}:80 (or a named port, {text}:http)")));
    };
    service_name(service)?;
    Ok(Backend { service: service.to_string(), port: port_value(port)? })
}

/// Checks a Service name (a DNS-1035 label).
pub fn service_name(service: &str) -> Result<(), Error> {
    if !dns_label(service) || !service.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(Error::invalid(format!("invalid service name {service:?}"))
            .with_hint("Service names are lower-case letters, digits and '-', starting with a letter"));
    }
    Ok(())
}

/// A port number 1-65535 or an IANA service name (a named port of the Service).
pub fn port_value(port: &str) -> Result<Port, Error> {
    if let Ok(number) = port.parse::<i64>() {
        return if (1..=65535).contains(&number) {
            Ok(Port::Number(number as i32))
        } else {
            Err(Error::invalid(format!("service port {number} is out of range"))
                .with_hint("use a port from 1 to 65535"))
        };
    }
    if !apimachinery::validation::is_port_name(port) {
        return Err(Error::invalid(format!("invalid service port {port:?}"))
            .with_hint("give a number (80) or the name of a port of the Service (http)"));
    }
    Ok(Port::Name(port.to_string()))
}

/// Checks the name of an object we create.
pub fn object_name(kind: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || !dns_subdomain(name) {
        return Err(Error::invalid(format!("invalid {kind} name {name:?}")).with_hint(
            "names are lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

/// Checks an HTTP path of a rule.
pub fn path(path: &str) -> Result<(), Error> {
    if !path.starts_with('/') {
        return Err(Error::invalid(format!("invalid --path {path:?}: it must start with '/'")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_hosts_pass() {
        for good in ["accounting.internal.acme.com", "*.apps.acme.com", "localhost", "a-1.b2.io"] {
            assert_eq!(host(good).unwrap(), good);
        }
    }

    #[test]
    fn bad_hosts_say_why() {
        let cases = [
            ("", "empty"),
            ("10.0.0.1", "not IP addresses"),
            ("Accounting.acme.com", "lower case (\"accounting.acme.com\")"),
            ("a.*.acme.com", "whole first label"),
            ("*", "wildcard"),
            ("*.com", "two labels"),
            ("under_score.acme.com", "labels must be"),
            ("-x.acme.com", "labels must be"),
            ("a..b", "labels must be"),
            ("https://acme.com", "labels must be"),
        ];
        for (text, why) in cases {
            let err = host(text).unwrap_err();
            assert!(err.message.contains(why), "{text}: {err}");
            assert!(err.message.contains(&format!("{text:?}")), "{err}");
        }
    }

    #[test]
    fn host_hints_suggest_a_valid_name() {
        let hint = |text: &str| host(text).unwrap_err().hint.unwrap_or_default();
        assert_eq!(hint("https://accounting.internal.acme.com/"), "did you mean --host accounting.internal.acme.com?");
        assert_eq!(hint("Accounting.acme.com"), "did you mean --host accounting.acme.com?");
        assert_eq!(hint("under_score.acme.com"), "did you mean --host under-score.acme.com?");
        assert_eq!(hint("a..b"), "did you mean --host a.b?");
        assert_eq!(hint("acme.com:443"), "did you mean --host acme.com?");
        assert!(hint("10.0.0.1").starts_with("give a DNS name"), "no name to suggest for an IP");
        assert!(hint("*").starts_with("give a DNS name"));
    }

    #[test]
    fn hosts_split_on_commas_and_drop_duplicates() {
        let list = hosts(&["a.acme.com,b.acme.com".into(), "a.acme.com".into()]).unwrap();
        assert_eq!(list, ["a.acme.com", "b.acme.com"]);
    }

    #[test]
    fn service_needs_a_port() {
        let err = backend("accounting-service").unwrap_err();
        assert!(err.message.contains("has no port"), "{err}");
        assert!(err.to_string().contains("accounting-service:80"), "{err}");
        assert_eq!(err.exit_code(harden_cli::error::ExitStyle::Action), 2);
    }

    #[test]
    fn service_ports_are_numbers_or_names() {
        assert_eq!(
            backend("accounting-service:80").unwrap(),
            Backend { service: "accounting-service".into(), port: Port::Number(80) }
        );
        assert_eq!(backend("web:https").unwrap().port, Port::Name("https".into()));
        assert!(backend("web:0").unwrap_err().message.contains("out of range"));
        assert!(backend("web:70000").is_err());
        assert!(backend("web:").is_err());
        assert!(backend("web:http_s").is_err());
        assert!(backend("Web:80").unwrap_err().message.contains("invalid service name"));
        assert!(backend("9web:80").is_err());
    }

    #[test]
    fn names_and_paths() {
        assert!(object_name("Ingress", "accounting-ingress").is_ok());
        assert!(object_name("Secret", "Bad_Name").is_err());
        assert!(path("/api").is_ok());
        assert!(path("api").is_err());
    }
}
