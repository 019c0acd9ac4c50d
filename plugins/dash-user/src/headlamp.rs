//! Headlamp's server configuration as its container runs it, read the way Headlamp reads it
//! (backend/pkg/config, v0.45): Go `flag` arguments (`-name=value`, `-name value`, `--name`; booleans
//! only as `-name` or `-name=false`), then `HEADLAMP_CONFIG_*` environment variables, a flag given
//! explicitly winning over the variable. `$(VAR)` references in arguments are expanded from the
//! container's literal environment, as the kubelet does; values that come from a Secret or a
//! ConfigMap are known to be set, not what they are (the auditor never reads a Secret).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

/// Headlamp's boolean flags (the others all take a value).
pub const BOOL_FLAGS: [&str; 21] = [
    "version",
    "in-cluster",
    "dev",
    "cache-enabled",
    "no-browser",
    "insecure-ssl",
    "enable-dynamic-clusters",
    "allow-kubeconfig-changes",
    "watch-plugins-changes",
    "enable-helm",
    "enable-cluster-inventory",
    "unsafe-use-service-account-token",
    "oidc-skip-tls-verify",
    "oidc-use-access-token",
    "oidc-use-cookie",
    "oidc-use-pkce",
    "proxy-auth",
    "tracing-enabled",
    "metrics-enabled",
    "use-otlp-http",
    "stdout-trace-enabled",
];

/// Headlamp's default session lifetime (24h), in seconds.
pub const DEFAULT_SESSION_TTL: u64 = 86400;

/// A setting's value as far as the auditor can know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Written in the Deployment (an argument or a literal environment value).
    Known(String),
    /// Set from a Secret or ConfigMap (e.g. `Secret oidc, key clientSecret`): set, content unknown.
    Referenced(String),
}

/// One setting and where it came from (`-tls-cert-path`, `env HEADLAMP_CONFIG_TLS_CERT_PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: Value,
    pub source: String,
    /// Whether the value is written in the Deployment spec itself (not a reference).
    pub literal: bool,
}

/// The settings Headlamp's server runs with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    settings: BTreeMap<String, Setting>,
}

fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The container's environment: literal values, and where the others come from.
fn environment(container: &Container) -> BTreeMap<String, Value> {
    let mut env = BTreeMap::new();
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) => Value::Known(v.clone()),
            (None, Some(from)) => {
                let what = if let Some(secret) = &from.secret_key_ref {
                    format!("Secret {}, key {}", secret.name, secret.key)
                } else if let Some(map) = &from.config_map_key_ref {
                    format!("ConfigMap {}, key {}", map.name, map.key)
                } else {
                    "a field of the pod".to_string()
                };
                Value::Referenced(what)
            }
            (None, None) => Value::Known(String::new()),
        };
        env.insert(var.name.clone(), value);
    }
    env
}

/// Expands `$(VAR)` as the kubelet does (`$$` escapes); a reference to a value from a Secret makes
/// the whole value unknown.
fn expand(text: &str, env: &BTreeMap<String, Value>) -> Value {
    let mut out = String::new();
    let mut rest = text;
    let mut referenced = None;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match env.get(name) {
                Some(Value::Known(v)) => out.push_str(v),
                Some(Value::Referenced(what)) => referenced = Some(what.clone()),
                None => out.push_str(&format!("$({name})")),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    match referenced {
        Some(what) => Value::Referenced(what),
        None => Value::Known(out),
    }
}

impl Config {
    /// Reads the configuration of Headlamp's server container.
    pub fn of(container: &Container) -> Self {
        let env = environment(container);
        let mut settings = BTreeMap::new();
        for (name, value) in &env {
            if let Some(key) = name.strip_prefix("HEADLAMP_CONFIG_") {
                let key = key.to_ascii_lowercase().replace('_', "-");
                let literal = matches!(value, Value::Known(_));
                settings.insert(key, Setting { value: value.clone(), source: format!("env {name}"), literal });
            }
        }
        // The image's entrypoint is the server; a `command` override starts with the binary.
        let words: Vec<&String> = container.command.iter().flatten().chain(container.args.iter().flatten()).collect();
        let mut i = words.iter().position(|w| w.starts_with('-')).unwrap_or(words.len());
        while i < words.len() {
            let word = words[i].as_str();
            i += 1;
            if word == "--" || word == "-" || !word.starts_with('-') {
                break; // Go's flag package stops at the first non-flag.
            }
            let flag = word.strip_prefix("--").unwrap_or_else(|| &word[1..]);
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (flag, None),
            };
            let value = match value {
                Some(v) => v,
                None if BOOL_FLAGS.contains(&name) => "true".to_string(),
                None if i < words.len() => {
                    i += 1;
                    words[i - 1].clone()
                }
                None => continue,
            };
            let value = expand(&value, &env);
            let literal = matches!(value, Value::Known(_));
            settings.insert(name.to_string(), Setting { value, source: format!("-{name}"), literal });
        }
        Self { settings }
    }

    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.settings.get(name)
    }

    /// A boolean setting (false when unset or unknown).
    pub fn on(&self, name: &str) -> bool {
        match self.get(name).map(|s| &s.value) {
            Some(Value::Known(v)) => go_bool(v.trim()).unwrap_or(false),
            _ => false,
        }
    }

    /// Whether a text setting is set to something (known non-empty, or from a reference).
    pub fn is_set(&self, name: &str) -> bool {
        match self.get(name).map(|s| &s.value) {
            Some(Value::Known(v)) => !v.trim().is_empty(),
            Some(Value::Referenced(_)) => true,
            None => false,
        }
    }

    /// A text setting whose value is written in the Deployment.
    pub fn known(&self, name: &str) -> Option<&str> {
        match self.get(name).map(|s| &s.value) {
            Some(Value::Known(v)) => Some(v.as_str()),
            _ => None,
        }
    }

    /// Whether Headlamp serves HTTPS itself (`-tls-cert-path` and `-tls-key-path` both set).
    pub fn serves_tls(&self) -> bool {
        self.is_set("tls-cert-path") && self.is_set("tls-key-path")
    }

    /// `-base-url` (`/headlamp`), or empty.
    pub fn base_url(&self) -> String {
        self.known("base-url").map(|b| b.trim().trim_end_matches('/').to_string()).unwrap_or_default()
    }

    /// The session lifetime in seconds, when written in the Deployment.
    pub fn session_ttl(&self) -> Option<u64> {
        match self.get("session-ttl") {
            None => Some(DEFAULT_SESSION_TTL),
            Some(_) => self.known("session-ttl").and_then(|t| t.trim().parse().ok()),
        }
    }

    /// Where a setting came from, for messages.
    pub fn source(&self, name: &str) -> String {
        self.get(name).map(|s| s.source.clone()).unwrap_or_else(|| format!("-{name}"))
    }

    /// OIDC as Headlamp enables it: client ID, issuer URL and scopes all non-empty.
    pub fn oidc_enabled(&self) -> bool {
        let scopes = match self.get("oidc-scopes") {
            None => true,
            Some(_) => self.is_set("oidc-scopes"),
        };
        self.is_set("oidc-client-id") && self.is_set("oidc-idp-issuer-url") && scopes
    }

    /// The OIDC settings that are given, whether or not OIDC ends up enabled.
    pub fn oidc_given(&self) -> Vec<&'static str> {
        ["oidc-client-id", "oidc-client-secret", "oidc-idp-issuer-url", "oidc-callback-url"]
            .into_iter()
            .filter(|name| self.get(name).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};

    use super::*;

    fn container(args: &[&str], env: &[(&str, &str)]) -> Container {
        Container {
            name: "headlamp".into(),
            args: Some(args.iter().map(|a| a.to_string()).collect()),
            env: Some(
                env.iter()
                    .map(|(n, v)| EnvVar { name: n.to_string(), value: Some(v.to_string()), ..Default::default() })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn the_charts_default_arguments_parse_like_go_flags() {
        let c = container(
            &["-in-cluster", "-in-cluster-context-name=main", "-plugins-dir=/headlamp/plugins", "-session-ttl=86400"],
            &[],
        );
        let config = Config::of(&c);
        assert!(config.on("in-cluster"));
        assert_eq!(config.known("plugins-dir"), Some("/headlamp/plugins"));
        assert_eq!(config.session_ttl(), Some(86400));
        assert!(!config.serves_tls() && !config.oidc_enabled());
    }

    #[test]
    fn values_may_follow_as_the_next_word_and_booleans_never_take_one() {
        let c = container(
            &["--tls-cert-path", "/c/tls.crt", "-tls-key-path=/c/tls.key", "-dev", "stop", "-insecure-ssl"],
            &[],
        );
        let config = Config::of(&c);
        assert!(config.serves_tls());
        assert!(config.on("dev"));
        assert!(!config.on("insecure-ssl"), "Go's flag package stops at the first non-flag word");
        let c = container(&["-proxy-auth=false", "-base-url=/headlamp/"], &[]);
        let config = Config::of(&c);
        assert!(!config.on("proxy-auth"));
        assert_eq!(config.base_url(), "/headlamp");
    }

    #[test]
    fn environment_variables_configure_and_flags_win() {
        let c = container(
            &["-session-ttl=3600"],
            &[("HEADLAMP_CONFIG_SESSION_TTL", "604800"), ("HEADLAMP_CONFIG_OIDC_SKIP_TLS_VERIFY", "true")],
        );
        let config = Config::of(&c);
        assert_eq!(config.session_ttl(), Some(3600));
        assert!(config.on("oidc-skip-tls-verify"));
        assert_eq!(config.source("oidc-skip-tls-verify"), "env HEADLAMP_CONFIG_OIDC_SKIP_TLS_VERIFY");
    }

    #[test]
    fn references_expand_from_literal_env_and_secrets_stay_unknown() {
        let mut c = container(
            &[
                "-oidc-idp-issuer-url=$(OIDC_ISSUER_URL)",
                "-oidc-client-secret=$(OIDC_CLIENT_SECRET)",
                "-oidc-client-id=$(OIDC_CLIENT_ID)",
            ],
            &[("OIDC_ISSUER_URL", "http://dex.example.com"), ("OIDC_CLIENT_ID", "headlamp")],
        );
        c.env.as_mut().unwrap().push(EnvVar {
            name: "OIDC_CLIENT_SECRET".into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "oidc".into(),
                    key: "clientSecret".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let config = Config::of(&c);
        assert_eq!(config.known("oidc-idp-issuer-url"), Some("http://dex.example.com"));
        assert!(config.get("oidc-client-secret").is_some_and(|s| !s.literal));
        assert!(config.get("oidc-client-id").is_some_and(|s| s.literal));
        assert!(config.oidc_enabled(), "the default scopes apply");
        let c = container(&["-oidc-client-id=x", "-oidc-idp-issuer-url=https://i", "-oidc-scopes="], &[]);
        assert!(!Config::of(&c).oidc_enabled(), "empty scopes turn OIDC off");
        assert_eq!(expand("a$$b$(NONE)", &BTreeMap::new()), Value::Known("a$b$(NONE)".into()));
    }
}
