//! Scenario 4: A TLS Ingress for a host on a Service (the seed's t75): a TLS Secret whose certificate covers
//! the host in its SANs and matches its key, and an Ingress that routes the host to the Service and
//! terminates TLS with that Secret. Graded on what is stored, whatever the names, and, where a
//! controller admitted the Ingress (or `check --address` says where one listens), on what it serves
//! for the host: a TLS handshake with SNI must get the Secret's certificate.

use harden_cli::Result;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::grade::Check;
use crate::pki;
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build, sh};
use crate::seed::Rng;

/// The scenario, as `scenarios::ALL` registers it.
pub struct TlsIngress;

const CARD: Card = Card {
    probes_address: true,
    ..Card::new("tls-ingress", "Ingress: TLS for a host with a certificate you make", 12, &[Need::Api])
};

impl Scenario for TlsIngress {
    fn card(&self) -> &'static Card {
        &CARD
    }

    fn plan(&self, ctx: &Context<'_>) -> Result<Plan> {
        Ok(plan(ctx))
    }

    fn check<'a>(&'a self, client: &'a kube::Client, plan: &'a Plan, address: Option<&'a str>) -> Step<'a, Vec<Check>> {
        Box::pin(check(client, plan, address))
    }
}

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "tls-ingress");
    let mut plan = Plan::new(Id(&TlsIngress), ctx);
    let ns = rng.namespace();
    let app = rng.word();
    let host = format!("{}.{}.example.com", rng.fresh_word(&[app]), rng.word());
    let port = [80u16, 8080, 8000, 3000][rng.below(4) as usize];
    let target = rng.port(&[]);
    let service = format!("{app}-web");
    let secret = format!("{app}-tls");
    let ingress = format!("{app}-ingress");
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![
        build::namespace(&ns, json!({})),
        build::pod(&ns, &format!("{app}-0"), json!({"app": app}), target),
        build::service(&ns, &service, json!({"app": app}), port, target, "ClusterIP"),
    ];
    for (key, value) in
        [("namespace", &ns), ("host", &host), ("service", &service), ("secret", &secret), ("ingress", &ingress)]
    {
        plan.names.insert(key, value.clone());
    }
    plan.names.insert("port", port.to_string());
    plan.task = format!(
        "Service {service} in namespace {ns} serves a web application on port {port}.\n\
         Make it reachable as https://{host}/ :\n\
         - create a TLS Secret named {secret} in namespace {ns} with a certificate valid for {host} and its private key\n  \
         (a self-signed certificate is fine);\n\
         - create an Ingress named {ingress} in namespace {ns} that routes every path of {host} to {service}:{port}\n  \
         and terminates TLS for {host} with the Secret {secret}."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/concepts/services-networking/ingress/#tls",
        "https://kubernetes.io/docs/reference/kubectl/generated/kubectl_create/kubectl_create_secret_tls/",
    ];
    plan.skeleton = format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout tls.key -out tls.crt -subj ??? -addext ???\n\
         kubectl create secret tls {secret} -n {ns} --cert=??? --key=???\n\
         kubectl create ingress {ingress} -n {ns} --rule='{host}/*=???:???,tls=???'\n"
    );
    plan.plugin_steps = vec![format!(
        "kubectl tls-ingress create {ingress} -n {ns} --host {host} --service {service}:{port} --secret {secret}"
    )];
    plan.manual = format!(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout tls.key -out tls.crt \\\n  -subj \"/CN={host}\" -addext \
         \"subjectAltName=DNS:{host}\"\n\
         openssl x509 -in tls.crt -noout -ext subjectAltName\n\
         kubectl create secret tls {secret} -n {nsq} --cert=tls.crt --key=tls.key\n\
         kubectl create ingress {ingress} -n {nsq} --rule={rule}\n",
        nsq = sh(&ns),
        rule = sh(&format!("{host}/*={service}:{port},tls={secret}")),
    );
    plan
}

fn backend_matches(backend: Option<&IngressServiceBackend>, service: &str, port: u16, port_name: &str) -> bool {
    let Some(b) = backend else { return false };
    b.name == service
        && b.port.as_ref().is_some_and(|p| p.number == Some(i32::from(port)) || p.name.as_deref() == Some(port_name))
}

pub async fn check(client: &kube::Client, plan: &Plan, probe_address: Option<&str>) -> Result<Vec<Check>> {
    let ns = &plan.names["namespace"];
    let (host, service) = (&plan.names["host"], &plan.names["service"]);
    let port: u16 = plan.names["port"].parse().unwrap_or(80);
    let ingresses: Vec<Ingress> = harden_kube::list::list_all(
        &Api::namespaced(client.clone(), ns),
        &ListParams::default(),
        &format!("ingresses in {ns}"),
    )
    .await?;
    let mut checks = Vec::new();

    // The Ingress whose rule for the host sends "/" to the Service.
    let routes = |ing: &Ingress| -> bool {
        ing.spec.iter().flat_map(|s| s.rules.iter().flatten()).any(|rule| {
            rule.host.as_deref() == Some(host.as_str())
                && rule.http.iter().flat_map(|h| h.paths.iter()).any(|p| {
                    p.path.as_deref().unwrap_or("/") == "/"
                        && p.path_type != "Exact"
                        && backend_matches(p.backend.service.as_ref(), service, port, "web")
                })
        })
    };
    let routing: Vec<&Ingress> = ingresses.iter().filter(|i| routes(i)).collect();
    let route_check = format!("an Ingress in {ns} routes every path of {host} to {service}:{port}");
    let Some(ingress) = routing.first() else {
        let seen: Vec<String> = ingresses.iter().filter_map(|i| i.metadata.name.clone()).collect();
        let reason = if seen.is_empty() {
            format!("namespace {ns} has no Ingress")
        } else {
            format!(
                "no rule of {} has host {host} with path / (Prefix) to service {service} port {port}",
                seen.join(", ")
            )
        };
        checks.push(Check::new(route_check, false, reason));
        checks.push(Check::new(format!("it terminates TLS for {host}"), false, "no Ingress routes the host yet"));
        return Ok(checks);
    };
    let name = ingress.metadata.name.clone().unwrap_or_default();
    checks.push(Check::new(route_check, true, format!("Ingress {name} routes {host}/ (Prefix) to {service}:{port}")));
    let tls_secret = ingress
        .spec
        .iter()
        .flat_map(|s| s.tls.iter().flatten())
        .find(|t| t.hosts.iter().flatten().any(|h| h == host))
        .map(|t| t.secret_name.clone());
    let Some(Some(secret_name)) = tls_secret else {
        checks.push(Check::new(
            format!("Ingress {name} terminates TLS for {host}"),
            false,
            format!("its spec.tls has no entry listing host {host} with a secretName"),
        ));
        return Ok(checks);
    };
    checks.push(Check::new(
        format!("Ingress {name} terminates TLS for {host}"),
        true,
        format!("spec.tls lists {host} with Secret {secret_name}"),
    ));
    let secret: Option<Secret> = Api::namespaced(client.clone(), ns)
        .get_opt(&secret_name)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("reading secret {ns}/{secret_name}")))?;
    let data = secret.as_ref().and_then(|s| s.data.clone()).unwrap_or_default();
    let (cert, key) = (data.get("tls.crt").map(|b| b.0.clone()), data.get("tls.key").map(|b| b.0.clone()));
    let secret_check = format!("Secret {secret_name} is a TLS Secret with tls.crt and tls.key");
    let (Some(cert), Some(key)) = (cert, key) else {
        let reason = match &secret {
            None => format!("Secret {ns}/{secret_name} does not exist"),
            Some(_) => format!("Secret {ns}/{secret_name} lacks tls.crt or tls.key"),
        };
        checks.push(Check::new(secret_check, false, reason));
        return Ok(checks);
    };
    let kind = secret.and_then(|s| s.type_).unwrap_or_else(|| "Opaque".into());
    checks.push(Check::new(secret_check, kind == "kubernetes.io/tls", format!("its type is {kind}")));
    checks.extend(pki::grade(&cert, &key, host, time::OffsetDateTime::now_utc()));
    // Where a controller admitted the Ingress (an address in its status), or `check --address` names
    // where one listens: what it really serves for the host.
    let address = match probe_address {
        Some(address) => Some((address.to_string(), Source::Given)),
        None => ingress_address(ingress).map(|a| (a, Source::IngressStatus)),
    };
    if let Some((address, source)) = address {
        checks.push(served(host, &address, source, &cert, &secret_name).await?);
    }
    Ok(checks)
}

/// The first address of the Ingress's load balancer (set by the controller that admitted it).
fn ingress_address(ingress: &Ingress) -> Option<String> {
    let first = ingress.status.as_ref()?.load_balancer.as_ref()?.ingress.as_ref()?.first()?.clone();
    first.ip.or(first.hostname).filter(|a| !a.is_empty())
}

/// Where the probed address comes from: `--address` (the user says the controller listens there),
/// or the Ingress's status (which may lead elsewhere, or nowhere, from the shell `check` runs in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Given,
    IngressStatus,
}

const ADDRESS_HINT: &str = "give where the controller listens: `kubectl cks-practice check --address HOST[:PORT]` \
    (a node's address and the controller's HTTPS NodePort, or `kubectl port-forward` to its Service and \
    --address 127.0.0.1:PORT)";

/// The reason of the served-certificate check. A certificate other than ours is blamed on the
/// controller only when the user named the address; from the Ingress's status, what answered may
/// not be the controller at all, so that is said instead. An address that cannot be reached is not
/// a wrong answer: it says so, and how to give one that can.
fn served_reason(
    verdict: harden_tls::probe::Verdict,
    detail: &str,
    served: Option<&str>,
    source: Source,
    address: &str,
) -> String {
    use harden_tls::probe::Verdict;
    match (&verdict, source) {
        (Verdict::Ours, _) => detail.to_string(),
        (Verdict::Unreachable, Source::IngressStatus) => format!(
            "not probed: the Ingress's address {address} cannot be reached from where check runs ({detail}); \
             {ADDRESS_HINT}"
        ),
        (Verdict::Unreachable, Source::Given) => {
            format!("not probed: {address} cannot be reached from here ({detail}); {ADDRESS_HINT}")
        }
        (Verdict::Another | Verdict::NoTls, Source::IngressStatus) => {
            let answered = match (&verdict, served) {
                (Verdict::Another, Some(served)) => format!("serves another certificate ({served})"),
                (Verdict::Another, None) => "serves a certificate that does not parse".to_string(),
                _ => format!("does not speak TLS ({detail})"),
            };
            format!(
                "what answered at the Ingress's address {address} {answered}; it may not be the Ingress controller \
                 (the address can lead elsewhere from this shell): {ADDRESS_HINT}. If it is the controller, it has \
                 not taken the Secret: check its logs"
            )
        }
        (Verdict::Another | Verdict::NoTls, Source::Given) => detail.to_string(),
    }
}

/// A TLS handshake with SNI for `host` at `address` (port 443 unless given), graded by whether the
/// leaf served is the Secret's certificate: tls-ingress's probe, so both say the same.
async fn served(host: &str, address: &str, source: Source, cert_pem: &[u8], secret: &str) -> Result<Check> {
    use harden_tls::probe::{self, Verdict};
    let address = probe::target(address, 443);
    // The server certificate is the chain's first (as tls-ingress inspect compares it).
    let ours = harden_tls::cert::parse_chain(cert_pem).ok().and_then(|chain| chain.into_iter().next());
    let (target, name) = (address.clone(), probe::sni(host));
    let outcome =
        tokio::task::spawn_blocking(move || probe::handshake(&target, &name, std::time::Duration::from_secs(5)))
            .await
            .map_err(|e| harden_cli::Error::other(format!("the probe of {address} stopped: {e}")))?;
    let result = probe::judge(host, &address, outcome, ours.as_ref().map(|c| c.sha256.as_str()), Some(secret), &[]);
    let detail = match &result.served {
        Some(served) => format!("{} ({served})", result.detail),
        None => result.detail.clone(),
    };
    Ok(Check::new(
        format!("the controller at {address} serves Secret {secret}'s certificate for {host}"),
        result.verdict == Verdict::Ours,
        served_reason(result.verdict, &detail, result.served.as_deref(), source, &address),
    ))
}

#[cfg(test)]
mod tests {
    use harden_tls::probe::Verdict;

    use super::*;

    #[test]
    fn an_address_from_the_ingress_status_is_never_blamed_on_the_controller() {
        let unreachable =
            served_reason(Verdict::Unreachable, "connection refused", None, Source::IngressStatus, "10.1.2.3:443");
        assert!(unreachable.starts_with("not probed") && unreachable.contains("cannot be reached"), "{unreachable}");
        assert!(unreachable.contains("--address HOST[:PORT]"), "how to give one: {unreachable}");
        let judged = "serves another certificate: the controller has not taken secret s: check its logs";
        let other = served_reason(Verdict::Another, judged, Some("CN=proxy"), Source::IngressStatus, "10.1.2.3:443");
        assert!(other.contains("may not be the Ingress controller") && other.contains("CN=proxy"), "{other}");
        assert!(other.contains("--address") && !other.starts_with("serves another certificate: the controller"));
        // The user named the address: what answered there is the controller.
        assert_eq!(served_reason(Verdict::Another, judged, Some("CN=x"), Source::Given, "a:443"), judged);
        assert!(
            served_reason(Verdict::Unreachable, "timed out", None, Source::Given, "a:443").starts_with("not probed")
        );
    }
}
