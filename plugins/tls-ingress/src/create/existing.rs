//! What the cluster already holds that `create` must keep, take over or refuse: the certificate in
//! our Secret (kept on a re-run), the backend Service (checked, so a typo is not a 503), an Ingress
//! or Gateway someone else made. Apart from the command so that every read that decides the plan
//! before the first write is in one place.

use harden_cli::error::{Error, Result};
use harden_cli::output::warn;
use harden_kube::apply::{Basis, Object, is_managed_by, managed_selector};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressTLS};
use kube::api::{Api, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde_json::Value;
use time::OffsetDateTime;

use crate::PLUGIN;
use crate::build::{self, IngressSpecInput};
use crate::class::{self, list_gateway_classes};
use crate::gateway::{self, GatewaySpec};
use crate::input::{Port, Ports};
use harden_tls::cert::{self, KeyType, Material, Validity};

/// The certificate already in our Secret (`existing`, as read), if re-running `create` should keep
/// it: re-running must leave a working Secret unchanged instead of minting a new certificate each
/// time, and must never replace a certificate the user provided with a self-signed one. Returns it
/// and whether we generated it; `None` means generate a new one.
pub(super) fn reusable(
    existing: Option<Secret>,
    spec: &IngressSpecInput,
    key_type: Option<KeyType>,
    now: OffsetDateTime,
) -> Result<Option<(Material, bool)>> {
    let shown = format!("secret {}/{}", spec.namespace, spec.secret);
    // Secrets that are not ours are refused (or taken over with --overwrite) by the apply path.
    let Some(secret) = existing.filter(|s| is_managed_by(s, PLUGIN)) else { return Ok(None) };
    let generated =
        secret.annotations().get(build::ORIGIN_ANNOTATION).map(String::as_str) == Some(build::ORIGIN_GENERATED);
    let data = secret.data.unwrap_or_default();
    let pem = |key: &str| data.get(key).and_then(|v| String::from_utf8(v.0.clone()).ok()).unwrap_or_default();
    let material = Material { cert_pem: pem(build::TLS_CRT), key_pem: pem(build::TLS_KEY) };
    let rotate = format!("kubectl tls-ingress rotate {} -n {}", spec.name, spec.namespace);

    if !generated {
        let found = cert::problems(material.cert_pem.as_bytes(), material.key_pem.as_bytes(), &spec.hosts, now)
            .unwrap_or_else(|e| vec![e]);
        if !found.is_empty() {
            return Err(Error::conflict(format!(
                "{shown} holds a certificate that was provided with --cert/--key and does not fit: {}; \
                 it is not replaced by a self-signed one",
                found.join("; ")
            ))
            .with_hint(format!(
                "give the new certificate with --cert FILE --key FILE (or `{rotate} --cert FILE --key FILE`)"
            )));
        }
        harden_cli::output::eline(format!("keeping the provided certificate in {shown}"));
        return Ok(Some((material, false)));
    }

    let (Ok(chain), Ok(public_key)) =
        (cert::parse_chain(material.cert_pem.as_bytes()), cert::parse_key(material.key_pem.as_bytes()))
    else {
        return Ok(None);
    };
    let leaf = &chain[0];
    let mut sans = leaf.dns_names.clone();
    let mut wanted = spec.hosts.clone();
    sans.sort();
    wanted.sort();
    let fits = sans == wanted
        && cert::key_problem(&chain, &public_key).is_none()
        && key_type.is_none_or(|wanted| public_key.key_type() == Some(wanted))
        && matches!(cert::validity(leaf, now), Validity::Valid(days) if days >= cert::EXPIRY_WARNING_DAYS);
    if !fits {
        return Ok(None);
    }
    harden_cli::output::eline(format!(
        "keeping the certificate in {shown} (valid until {}); `{rotate}` replaces it",
        cert::date(leaf.not_after)
    ));
    Ok(Some((material, true)))
}

/// Checks that the backend Service exists and has the port; returns its ports (name, number).
/// With `no_check` a problem is a warning.
pub(super) async fn check_backend(client: &Client, spec: &IngressSpecInput, no_check: bool) -> Result<Option<Ports>> {
    let api: Api<Service> = Api::namespaced(client.clone(), &spec.namespace);
    let name = &spec.backend.service;
    let shown = format!("service {}/{name}", spec.namespace);
    let problem: Result<()> = match api.get_opt(name).await {
        Err(e) if harden_kube::error::status_code(&e) == Some(403) => {
            warn(format!("cannot read {shown} (forbidden); the backend is not checked"));
            return Ok(None);
        }
        Err(e) => return Err(harden_kube::error::from_kube(e, format!("reading {shown}"))),
        Ok(None) => {
            let what = format!("services in namespace {}", spec.namespace);
            let others: Vec<String> = harden_kube::list::list_all_metadata(&api, &ListParams::default(), &what)
                .await
                .map(|items| items.iter().map(|s| s.name_any()).collect())
                .unwrap_or_default();
            let hint = match closest(name, &others) {
                Some(near) => format!("did you mean --service {near}:{}?", spec.backend.port),
                None if others.is_empty() => format!("namespace {} has no Services", spec.namespace),
                None => format!("the namespace has {}", others.join(", ")),
            };
            Err(Error::invalid(format!("{shown} does not exist: the route would answer 503")).with_hint(hint))
        }
        Ok(Some(service)) => {
            let ports: Ports =
                service.spec.iter().flat_map(|s| s.ports.iter().flatten()).map(|p| (p.name.clone(), p.port)).collect();
            let found = ports.iter().any(|(n, number)| match &spec.backend.port {
                Port::Number(want) => number == want,
                Port::Name(want) => n.as_deref() == Some(want.as_str()),
            });
            if found {
                return Ok(Some(ports));
            }
            let listed: Vec<String> = ports
                .iter()
                .map(|(n, p)| n.as_ref().map(|n| format!("{p} ({n})")).unwrap_or_else(|| p.to_string()))
                .collect();
            Err(Error::invalid(format!(
                "{shown} has no port {} (its ports: {})",
                spec.backend.port,
                if listed.is_empty() { "none".to_string() } else { listed.join(", ") }
            ))
            .with_hint("give one of its ports in --service SERVICE:PORT"))
        }
    };
    match problem {
        Err(e) if no_check => {
            warn(format!("{} (--no-check: going on)", e.message));
            Ok(None)
        }
        other => other.map(|()| None),
    }
}

/// The name among `names` one typo away from `name` (an edit distance of at most 2).
pub fn closest(name: &str, names: &[String]) -> Option<String> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(row[j + 1]) };
                prev = cur;
            }
        }
        row[b.len()]
    }
    names.iter().map(|n| (distance(name, n), n)).filter(|(d, _)| *d <= 2).min().map(|(_, n)| n.clone())
}

/// With `--overwrite`, an Ingress someone else made (`kubectl create ingress`) is taken over
/// without dropping its rules for other hosts; what is replaced is said. Without it, the apply
/// path refuses it. Returns the Ingress as read: the state the write must still find.
pub(super) async fn take_over_ingress(
    client: &Client,
    spec: &IngressSpecInput,
    ours: &mut Ingress,
    overwrite: bool,
) -> Result<Basis> {
    let basis = Basis::read::<Ingress>(client, Some(&spec.namespace), &spec.name).await?;
    let Some(existing) = basis.typed::<Ingress>()?.filter(|i| !is_managed_by(i, PLUGIN)) else { return Ok(basis) };
    if overwrite {
        for line in merge_ingress(&existing, ours) {
            harden_cli::output::eline(format!("ingress {}/{}: {line}", spec.namespace, spec.name));
        }
    }
    Ok(basis)
}

/// Keeps the rules and TLS entries of `existing` for hosts we do not serve, and says which of its
/// rules and entries ours replace (pure).
pub fn merge_ingress(existing: &Ingress, ours: &mut Ingress) -> Vec<String> {
    let theirs = existing.spec.clone().unwrap_or_default();
    let Some(spec) = ours.spec.as_mut() else { return vec![] };
    let our_hosts: Vec<String> = spec.tls.iter().flatten().flat_map(|t| t.hosts.clone().unwrap_or_default()).collect();
    let mut said = Vec::new();
    let mut kept_rules = Vec::new();
    for rule in theirs.rules.unwrap_or_default() {
        let host = rule.host.clone().unwrap_or_default();
        if our_hosts.contains(&host) {
            let backends: Vec<String> = rule
                .http
                .iter()
                .flat_map(|h| h.paths.iter())
                .filter_map(|p| {
                    let s = p.backend.service.as_ref()?;
                    let port = s.port.as_ref()?;
                    let port = port.number.map(|n| n.to_string()).or_else(|| port.name.clone()).unwrap_or_default();
                    Some(format!("{} -> {}:{port}", p.path.as_deref().unwrap_or("/"), s.name))
                })
                .collect();
            said.push(format!("replacing the rule for {host} ({})", backends.join(", ")));
        } else {
            let shown = if host.is_empty() { "(any host)".to_string() } else { host };
            said.push(format!("keeping the rule for {shown}"));
            kept_rules.push(rule);
        }
    }
    let mut kept_tls = Vec::new();
    for entry in theirs.tls.unwrap_or_default() {
        let hosts = entry.hosts.clone().unwrap_or_default();
        let mine: Vec<&String> = hosts.iter().filter(|h| our_hosts.contains(h)).collect();
        if mine.is_empty() {
            kept_tls.push(entry);
        } else {
            let hosts: Vec<&str> = mine.iter().map(|h| h.as_str()).collect();
            said.push(format!(
                "replacing the TLS entry for {} (secret {})",
                hosts.join(", "),
                entry.secret_name.as_deref().unwrap_or("none")
            ));
            let rest: Vec<String> =
                entry.hosts.unwrap_or_default().into_iter().filter(|h| !our_hosts.contains(h)).collect();
            if !rest.is_empty() {
                kept_tls.push(IngressTLS { hosts: Some(rest), secret_name: entry.secret_name });
            }
        }
    }
    if let Some(default) = theirs.default_backend {
        spec.default_backend.get_or_insert(default);
    }
    if spec.ingress_class_name.is_none() {
        spec.ingress_class_name = theirs.ingress_class_name;
    }
    spec.rules.get_or_insert_with(Vec::new).extend(kept_rules);
    spec.tls.get_or_insert_with(Vec::new).extend(kept_tls);
    said
}

/// The spec of the Gateway to add listeners to, if it exists, and the Gateway as read (the state
/// the write must still find). One we did not make is changed only with `--overwrite`; a
/// listener of another that already takes one of our hosts is refused.
pub(super) async fn existing_gateway(
    client: &Client,
    g: &GatewaySpec,
    overwrite: bool,
) -> Result<(Option<Value>, Basis)> {
    let target = &g.gateway;
    let shown = format!("gateway {}/{}", target.namespace, target.name);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &target.namespace, &gateway::gateway_resource());
    let found = match api.get_opt(&target.name).await {
        Ok(found) => found,
        Err(e) => return Err(harden_kube::error::from_kube(e, format!("reading {shown}"))),
    };
    if found.is_none() && list_gateway_classes(client).await.is_some_and(|c| c.is_empty()) {
        // get_opt reads "no such resource" as "no such object": tell the two apart.
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &gateway::gateway_class_resource());
        if let Err(e) = api.list(&ListParams::default().limit(1)).await
            && harden_kube::error::status_code(&e) == Some(404)
        {
            return Err(Error::not_found("the cluster has no Gateway API CRDs (gateway.networking.k8s.io)")
                .with_hint(format!(
                    "install them with the Gateway API implementation you choose, or serve an Ingress instead (drop --gateway/--gateway-class); {}",
                    class::INSTALL_CONTROLLER
                )));
        }
    }
    let Some(existing) = found else { return Ok((None, Basis::Absent)) };
    if !is_managed_by(&existing, PLUGIN) && !overwrite {
        return Err(Error::conflict(format!(
            "{shown} exists and was not created by {PLUGIN} (it lacks the label {}); it is not rewritten; nothing was changed",
            managed_selector(PLUGIN)
        ))
        .with_hint("re-run with --overwrite to add our listeners to it (its own are kept), or name another --gateway"));
    }
    let spec = existing.data.get("spec").cloned().unwrap_or_default();
    if let (Some(given), Some(theirs)) = (&target.class, spec.get("gatewayClassName").and_then(Value::as_str))
        && given != theirs
    {
        return Err(Error::invalid(format!(
            "{shown} exists with GatewayClass {theirs}; --gateway-class {given} does not apply to it"
        ))
        .with_hint("drop --gateway-class, or name another --gateway"));
    }
    let clashes = gateway::clashes(&spec, &g.listeners());
    if !clashes.is_empty() {
        return Err(Error::conflict(format!("{shown}: {}; nothing was changed", clashes.join("; "))).with_hint(
            "two listeners for one host and port leave it to the implementation which certificate is served: remove that listener, or serve the host through it",
        ));
    }
    Ok((Some(spec), Basis::Read(Box::new(existing))))
}

/// Refuses before changing anything when any object exists and is not ours (unless
/// `--overwrite`), so that a conflict on a later object does not leave a new Secret behind.
pub(super) async fn preflight(client: &Client, objects: &[&Object], overwrite: bool) -> Result<()> {
    if overwrite {
        return Ok(());
    }
    for object in objects {
        let namespace = object.namespace().unwrap_or_default();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &object.resource);
        let name = object.data.name_any();
        let existing = api
            .get_opt(&name)
            .await
            .map_err(|e| harden_kube::error::from_kube(e, format!("reading {}", object.describe())))?;
        if let Some(existing) = existing
            && !is_managed_by(&existing, PLUGIN)
        {
            let what = object.display_name().replacen('/', " ", 1);
            return Err(Error::conflict(format!(
                "{what} in namespace {namespace} already exists and was not created by {PLUGIN} (it lacks the label {}); \
                 nothing was changed",
                managed_selector(PLUGIN)
            ))
            .with_hint("re-run with --overwrite to take it over, or choose another name (--secret for the Secret)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::PathType;
    use crate::input;

    #[test]
    fn typos_suggest_the_nearest_name() {
        let names = vec!["accounting-service".to_string(), "web".to_string()];
        assert_eq!(closest("acounting-service", &names).as_deref(), Some("accounting-service"));
        assert_eq!(closest("shop", &names), None);
    }

    #[test]
    fn taking_over_an_ingress_keeps_its_other_hosts_and_says_what_is_replaced() {
        let spec = |hosts: &[&str], service: &str| IngressSpecInput {
            name: "accounting-ingress".into(),
            namespace: "t75".into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            backend: input::Backend { service: service.into(), port: Port::Number(80) },
            path: "/".into(),
            path_type: PathType::Prefix,
            secret: "accounting-secret".into(),
            class: None,
        };
        let mut theirs = build::ingress(&spec(&["a.acme.com", "b.acme.com"], "old"));
        theirs.spec.as_mut().unwrap().ingress_class_name = Some("nginx".into());
        let mut ours = build::ingress(&spec(&["a.acme.com"], "new"));
        let said = merge_ingress(&theirs, &mut ours);
        assert_eq!(said[0], "replacing the rule for a.acme.com (/ -> old:80)");
        assert_eq!(said[1], "keeping the rule for b.acme.com");
        assert!(said[2].starts_with("replacing the TLS entry for a.acme.com"), "{said:?}");
        let merged = ours.spec.unwrap();
        let hosts: Vec<String> = merged.rules.unwrap().into_iter().filter_map(|r| r.host).collect();
        assert_eq!(hosts, ["a.acme.com", "b.acme.com"]);
        let tls = merged.tls.unwrap();
        assert_eq!(tls[1].hosts.as_deref(), Some(&["b.acme.com".to_string()][..]), "their entry keeps its other host");
        assert_eq!(merged.ingress_class_name.as_deref(), Some("nginx"));
    }
}
