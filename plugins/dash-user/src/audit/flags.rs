//! Checks of the Kubernetes Dashboard's own flags (skip-login, insecure ports, settings and CSRF
//! switches, token TTL): the flags its containers are started with.

use harden_cli::report::Risk;
use k8s_openapi::api::core::v1::Container;

use super::found::{Finding, Found};
use crate::components::Component;

/// Flags the dashboard takes a value for as a separate argument (`--insecure-port 9090`).
pub const VALUE_FLAGS: [&str; 6] =
    ["insecure-port", "tls-cert-file", "tls-key-file", "insecure-bind-address", "namespace", "default-cert-dir"];

/// `--name[=value]` flags of a container, from its command and args, in order.
pub fn flags(container: &Container) -> Vec<(String, Option<String>)> {
    let words: Vec<&String> = container.command.iter().flatten().chain(container.args.iter().flatten()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].trim();
        i += 1;
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-').filter(|f| f.len() > 1)) else {
            continue;
        };
        match flag.split_once('=') {
            Some((name, value)) => out.push((name.to_string(), Some(value.to_string()))),
            None if VALUE_FLAGS.contains(&flag) && i < words.len() && !words[i].starts_with('-') => {
                out.push((flag.to_string(), Some(words[i].to_string())));
                i += 1;
            }
            None => out.push((flag.to_string(), None)),
        }
    }
    out
}

pub fn flag_on(flags: &[(String, Option<String>)], name: &str) -> bool {
    // The last occurrence wins, as with pflag.
    flags.iter().rev().find(|(n, _)| n == name).is_some_and(|(_, v)| {
        v.as_deref().is_none_or(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "t" | "yes"))
    })
}

pub fn flag_value<'a>(flags: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    flags.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
}

/// The boolean flags that weaken a dashboard: (flag, check id, severity, why, fix).
pub const BAD_BOOL_FLAGS: [(&str, Risk, &str); 5] = [
    (
        "enable-skip-login",
        Risk::High,
        "shows a Skip button on the login page: anyone who reaches the dashboard acts with its own ServiceAccount's rights",
    ),
    (
        "enable-insecure-login",
        Risk::High,
        "allows logging in over plain HTTP, so bearer tokens cross the network unencrypted",
    ),
    ("disable-settings-authorizer", Risk::Medium, "lets any user change the dashboard's global settings"),
    ("disable-csrf-protection", Risk::Medium, "turns off CSRF protection of the dashboard's API"),
    (
        "apiserver-skip-tls-verify",
        Risk::High,
        "does not verify the API server's certificate, so its traffic (and the users' tokens) can be intercepted",
    ),
];

pub fn container_findings(found: &Found, container: &Container, out: &mut Vec<Finding>) {
    let flags = flags(container);
    let object = format!("deployment/{}", found.deployment);
    let cname = &container.name;
    let finding = |severity, check: &str, message: String, fix: String| Finding {
        severity,
        check: check.into(),
        namespace: found.namespace.clone(),
        object: object.clone(),
        message,
        fix,
    };
    for (flag, severity, why) in BAD_BOOL_FLAGS {
        if flag_on(&flags, flag) {
            out.push(finding(
                severity,
                flag,
                format!("container {cname} has --{flag}: it {why}"),
                format!("remove --{flag} from the container's args"),
            ));
        }
    }
    if let Some(port) = flag_value(&flags, "insecure-port")
        && port.trim() != "0"
    {
        out.push(finding(
            Risk::Medium,
            "insecure-port",
            format!("container {cname} has --insecure-port={port}: it serves the dashboard over plain HTTP"),
            "remove --insecure-port (or set it to 0) and serve HTTPS only".into(),
        ));
    }
    if found.component == Component::Dashboard
        && !flag_on(&flags, "auto-generate-certificates")
        && (flag_value(&flags, "tls-cert-file").is_none() || flag_value(&flags, "tls-key-file").is_none())
    {
        out.push(finding(
            Risk::Medium,
            "no-tls",
            format!(
                "container {cname} has neither --auto-generate-certificates nor --tls-cert-file/--tls-key-file: \
                 the dashboard has no TLS certificate and serves plain HTTP"
            ),
            "add --auto-generate-certificates, or mount a certificate and pass --tls-cert-file and --tls-key-file"
                .into(),
        ));
    }
}
