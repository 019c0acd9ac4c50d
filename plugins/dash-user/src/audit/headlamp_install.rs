//! Checks of a Headlamp install: its flags and settings, and the cluster-admin binding its Helm
//! chart gives its own ServiceAccount by default.

use harden_cli::report::Risk;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::ResourceExt;

use super::found::{Finding, Found};
use crate::components::{HEADLAMP_CHART, HELM_CHART_LABEL, headlamp_container, is_chart, service_account};
use crate::headlamp;

/// The Helm release of the Headlamp chart's own ClusterRoleBinding (`clusterRoleBinding.create`,
/// true by default: `{fullname}-admin` to `clusterRoleBinding.clusterRoleName`, cluster-admin by
/// default, for the chart's ServiceAccount), from the labels its template gives it.
pub fn headlamp_chart_binding(binding: &ClusterRoleBinding) -> Option<String> {
    let labels = binding.labels();
    let by_chart = labels.get(HELM_CHART_LABEL).is_some_and(|c| is_chart(c, HEADLAMP_CHART))
        && labels.get("app.kubernetes.io/managed-by").is_some_and(|m| m == "Helm");
    (by_chart && binding.name_any().ends_with("-admin"))
        .then(|| labels.get("app.kubernetes.io/instance").cloned().unwrap_or_else(|| "headlamp".to_string()))
}

/// The `helm upgrade` that turns the chart's binding off.
pub fn headlamp_chart_fix(release: &str, namespace: &str) -> String {
    format!(
        "Headlamp needs no rights of its own (it forwards each user's token): helm upgrade {release} headlamp/headlamp \
         -n {namespace} --reuse-values --set clusterRoleBinding.create=false (or clusterRoleBinding.clusterRoleName set \
         to a narrow role)"
    )
}

/// Headlamp's own flags (and `HEADLAMP_CONFIG_*` variables) that weaken it, as its server reads them.
pub fn headlamp_findings(found: &Found, deployment: &Deployment, out: &mut Vec<Finding>) {
    let Some(container) = headlamp_container(deployment) else { return };
    let config = headlamp::Config::of(&container);
    let account = service_account(deployment);
    let finding = |severity, check: &str, message: String, fix: &str| Finding {
        severity,
        check: check.into(),
        namespace: found.namespace.clone(),
        object: format!("deployment/{}", found.deployment),
        message,
        fix: fix.into(),
    };
    let src = |name: &str| config.source(name);
    if config.on("unsafe-use-service-account-token") {
        out.push(finding(
            Risk::High,
            "unsafe-use-service-account-token",
            format!(
                "{}: every visitor acts as Headlamp's own ServiceAccount {}/{account}, with no login of their own \
                 (Headlamp's documentation: only safe behind an authenticating proxy)",
                src("unsafe-use-service-account-token"),
                found.namespace
            ),
            "remove it (config.unsafeUseServiceAccountToken=false) and let users log in with their own token or OIDC",
        ));
    }
    if config.on("insecure-ssl") {
        out.push(finding(
            Risk::High,
            "insecure-ssl",
            format!(
                "{}: Headlamp accepts any certificate from the API servers it proxies to, so users' tokens can be intercepted",
                src("insecure-ssl")
            ),
            "remove -insecure-ssl and give Headlamp the clusters' CA",
        ));
    }
    if config.on("oidc-skip-tls-verify") {
        out.push(finding(
            Risk::High,
            "oidc-skip-tls-verify",
            format!(
                "{}: Headlamp does not verify the OIDC provider's certificate, so logins and their tokens can be intercepted",
                src("oidc-skip-tls-verify")
            ),
            "remove -oidc-skip-tls-verify; give the provider's CA with -oidc-ca-file if it is private",
        ));
    }
    oidc_findings(&config, &finding, out);
    exposure_findings(&config, &finding, out);
}

/// The OIDC settings: plain-HTTP URLs, a client secret written in the spec, OIDC configured but off.
fn oidc_findings(
    config: &headlamp::Config,
    finding: &impl Fn(Risk, &str, String, &str) -> Finding,
    out: &mut Vec<Finding>,
) {
    let src = |name: &str| config.source(name);
    if let Some(url) =
        config.known("oidc-idp-issuer-url").filter(|u| u.trim().to_ascii_lowercase().starts_with("http://"))
    {
        out.push(finding(
            Risk::High,
            "oidc-insecure-issuer",
            format!("{} is {url}: Headlamp talks to the OIDC provider over plain HTTP", src("oidc-idp-issuer-url")),
            "use the provider's https:// issuer URL",
        ));
    }
    if let Some(url) = config.known("oidc-callback-url").filter(|u| {
        let u = u.trim().to_ascii_lowercase();
        u.starts_with("http://") && !u.starts_with("http://localhost") && !u.starts_with("http://127.0.0.1")
    }) {
        out.push(finding(
            Risk::Medium,
            "oidc-insecure-callback",
            format!("{} is {url}: the login's authorization code comes back over plain HTTP", src("oidc-callback-url")),
            "use an https:// callback URL (Headlamp's URL behind TLS, plus /oidc-callback)",
        ));
    }
    if let Some(setting) = config.get("oidc-client-secret").filter(|s| s.literal && config.is_set("oidc-client-secret"))
    {
        out.push(finding(
            Risk::Medium,
            "oidc-secret-in-spec",
            format!(
                "the OIDC client secret ({}) is written in the Deployment: everyone who may read Deployments, read-only \
                 users included, can read it",
                setting.source
            ),
            "keep it in a Secret: the chart's config.oidc.secret.create=true or config.oidc.externalSecret",
        ));
    }
    let given = config.oidc_given();
    if !given.is_empty() && !config.oidc_enabled() {
        let missing: Vec<&str> = ["oidc-client-id", "oidc-idp-issuer-url", "oidc-scopes"]
            .into_iter()
            .filter(|name| match *name {
                "oidc-scopes" => config.get(name).is_some() && !config.is_set(name),
                _ => !config.is_set(name),
            })
            .collect();
        out.push(finding(
            Risk::Medium,
            "oidc-incomplete",
            format!(
                "OIDC is configured ({}) but off: Headlamp turns it on only when client ID, issuer URL and scopes are \
                 all set, and {} {} missing or empty",
                given.iter().map(|g| format!("-{g}")).collect::<Vec<_>>().join(", "),
                missing.iter().map(|g| format!("-{g}")).collect::<Vec<_>>().join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            ),
            "set the missing OIDC values (config.oidc in the Helm values), or remove the others",
        ));
    }
}

/// Modes that trust or keep more than they should: proxy headers, other origins, kubeconfig
/// changes from the UI, long sessions.
fn exposure_findings(
    config: &headlamp::Config,
    finding: &impl Fn(Risk, &str, String, &str) -> Finding,
    out: &mut Vec<Finding>,
) {
    let src = |name: &str| config.source(name);
    if config.on("proxy-auth") {
        out.push(finding(
            Risk::Medium,
            "proxy-auth",
            format!(
                "{}: Headlamp trusts the identity headers ({}) of every request: anyone who reaches it without going \
                 through the authenticating proxy, or through a proxy that passes client headers on, is whoever they claim",
                src("proxy-auth"),
                config.known("proxy-auth-username-header").unwrap_or("X-Forwarded-User")
            ),
            "make Headlamp reachable only through the proxy (ClusterIP Service, NetworkPolicy) and have the proxy \
             strip client-supplied identity headers; or remove -proxy-auth",
        ));
    }
    if config.on("dev") {
        out.push(finding(
            Risk::Medium,
            "dev-mode",
            format!(
                "{}: Headlamp allows requests from other origins, so a web page a logged-in user opens can use their session",
                src("dev")
            ),
            "remove -dev: it is for developing Headlamp",
        ));
    }
    if config.on("allow-kubeconfig-changes") {
        out.push(finding(
            Risk::Medium,
            "allow-kubeconfig-changes",
            format!(
                "{}: users of the web UI may change the kubeconfig Headlamp's server uses (Headlamp's documentation: \
                 not recommendable when it is deployed as a service)",
                src("allow-kubeconfig-changes")
            ),
            "remove -allow-kubeconfig-changes",
        ));
    }
    match config.session_ttl() {
        Some(ttl) if ttl > headlamp::DEFAULT_SESSION_TTL => out.push(finding(
            Risk::Medium,
            "long-session",
            format!(
                "{} is {ttl}s ({}): a login, and a stolen session cookie, stays valid that long",
                src("session-ttl"),
                crate::token_request::human(std::time::Duration::from_secs(ttl))
            ),
            "keep sessions at most a day: config.sessionTTL=86400 or less",
        )),
        _ => {}
    }
}
