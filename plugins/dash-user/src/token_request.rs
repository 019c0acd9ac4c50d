//! Short-lived tokens from the TokenRequest API: the lifetimes allowed (a working day without
//! `--allow-long-lived`, never more than 30 days), how a lifetime reads, the manual step, and the
//! request itself (saying so when the API server issued a shorter token).

use std::time::Duration;

use harden_cli::error::{Error, Result};
use harden_cli::output::warn;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::{Api, PostParams};

/// The API server refuses shorter tokens.
pub const MIN_DURATION: Duration = Duration::from_secs(600);
/// The longest token issued without `--allow-long-lived`: a dashboard login is a working day.
pub const LONG_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The longest token ever asked for, even with `--allow-long-lived`.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
pub const DEFAULT_DURATION: &str = "1h";

/// Accepts `-1h` as a value (so that it is reported as negative rather than as an unknown flag).
pub fn duration_arg(text: &str) -> std::result::Result<Duration, String> {
    let duration = harden_cli::duration::parse_max(text, MAX_DURATION)?;
    check_duration(duration)?;
    Ok(duration)
}

/// Refuses a token longer than a day unless the user said they want a long-lived one.
pub fn check_lifetime(duration: Duration, allow_long_lived: bool) -> Result<()> {
    if duration > LONG_DURATION && !allow_long_lived {
        return Err(Error::invalid(format!(
            "a token valid for {} is not short-lived: the maximum without --allow-long-lived is {}",
            human(duration),
            human(LONG_DURATION)
        ))
        .with_hint("ask for a new token when it expires, or pass --allow-long-lived (at most 30d)"));
    }
    Ok(())
}

pub fn check_duration(duration: Duration) -> std::result::Result<(), String> {
    if duration < MIN_DURATION {
        return Err(format!(
            "token duration {} is too short: the API server issues tokens for at least 10m",
            human(duration)
        ));
    }
    Ok(())
}

/// `1h`, `1h30m`, `45m`, `2d`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (d, h, m, s) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// A duration as kubectl's `--duration` (Go's time.ParseDuration) reads it: no days.
pub fn kubectl_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// The seed's `kubectl create token` line for a manual step.
pub fn manual_step(name: &str, namespace: &str, duration: Duration) -> String {
    format!("kubectl create token {name} -n {namespace} --duration={}", kubectl_duration(duration))
}

/// A token and when it expires.
pub struct Token {
    pub token: String,
    pub expires: Option<String>,
}

/// Asks the TokenRequest API for a token of `namespace/name` valid for `duration`, and says so
/// when the API server issued a shorter one (its `--service-account-max-token-expiration`).
pub async fn request(client: &Client, namespace: &str, name: &str, duration: Duration) -> Result<Token> {
    if duration > LONG_DURATION {
        warn(format!("a token valid for {} is long-lived; prefer an hour and ask for a new one", human(duration)));
    }
    let asked_at = k8s_openapi::jiff::Timestamp::now();
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(duration.as_secs() as i64), ..Default::default() }),
        ..Default::default()
    };
    let answer = api.create_token_request(name, &PostParams::default(), &request).await.map_err(|e| {
        let err = harden_kube::error::from_kube(e, format!("requesting a token for serviceaccount {namespace}/{name}"));
        if err.kind == harden_cli::error::ErrorKind::NotFound {
            err.with_hint(format!("create the user first: kubectl dash-user create {name} -n {namespace}"))
        } else {
            err
        }
    })?;
    let status = answer.status.unwrap_or_default();
    let token = status.token.filter(|t| !t.is_empty()).ok_or_else(|| {
        Error::other(format!("the API server answered the TokenRequest for {namespace}/{name} without a token"))
    })?;
    if let Some(expires) = &status.expiration_timestamp {
        let issued = Duration::from_secs(expires.0.as_second().saturating_sub(asked_at.as_second()).max(0) as u64);
        if issued + Duration::from_secs(60) < duration {
            warn(format!(
                "the API server shortened the token: asked for {}, it is valid for {} (until {}); the server's \
                 --service-account-max-token-expiration is lower",
                human(duration),
                human(issued),
                expires.0
            ));
        }
    }
    Ok(Token { token, expires: status.expiration_timestamp.map(|t| t.0.to_string()) })
}
