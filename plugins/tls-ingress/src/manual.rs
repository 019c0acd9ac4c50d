//! `create --show-manual`: the steps the command replaces, in the seed's own form (`openssl req`,
//! `kubectl create secret tls`, `kubectl create ingress` or the YAML to `kubectl apply -f`), filled
//! with the user's values, so that they can be typed where no plugin is available (the exam).
//!
//! Two changes to the seed's lines, both needed for the result to work: the certificate gets a
//! subjectAltName for every host (clients ignore the CN the seed sets), and the Secret's key is
//! given as `--key=` (the seed's `key=accounting.key` is a typo kubectl rejects).

use std::path::Path;

use harden_cli::shell::word as sh;
use harden_cli::{Error, Result};
use harden_kube::apply::Object;

use crate::build::{self, IngressSpecInput, PathType};
use crate::gateway::GatewaySpec;
use crate::input::Port;
use harden_tls::cert::KeyType;

/// Steps 1 and 2: the certificate and the TLS Secret.
fn secret_steps(
    spec: &IngressSpecInput,
    cert: Option<&Path>,
    key: Option<&Path>,
    key_type: Option<KeyType>,
    days: u32,
) -> String {
    let mut out = String::new();
    let (crt, key) = match (cert, key) {
        (Some(cert), Some(key)) => {
            out.push_str("# 1. Your certificate and key: nothing to generate.\n");
            (cert.display().to_string(), key.display().to_string())
        }
        _ => {
            let (crt, keyfile) = (format!("{}.crt", spec.secret), format!("{}.key", spec.secret));
            let newkey = match key_type.unwrap_or(KeyType::EcdsaP256) {
                KeyType::EcdsaP256 => "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
                KeyType::Rsa2048 => "-newkey rsa:2048",
                KeyType::Rsa4096 => "-newkey rsa:4096",
            };
            let sans: Vec<String> = spec.hosts.iter().map(|h| format!("DNS:{h}")).collect();
            out.push_str(
                "# 1. A self-signed certificate and its key (clients read the hosts from subjectAltName, not the CN)\n",
            );
            out.push_str(&format!(
                // Hosts are validated DNS names: double quotes as in the seed are safe.
                "openssl req -nodes -new -x509 -keyout {keyfile} -out {crt} -subj \"/CN={}\" {newkey} -days {days} \
                 -addext \"subjectAltName={}\"\n",
                spec.hosts[0],
                sans.join(",")
            ));
            (crt, keyfile)
        }
    };
    out.push_str("# 2. The TLS Secret\n");
    out.push_str(&format!(
        "kubectl create secret tls {} --cert={} --key={} -n {}\n",
        spec.secret,
        sh(&crt),
        sh(&key),
        spec.namespace
    ));
    out
}

fn yaml(objects: Vec<Object>) -> Result<String> {
    let objects: Vec<_> = objects.into_iter().map(|o| o.data).collect();
    harden_kube::print::yaml_stream(&objects)
}

/// The Ingress path, as the seed does it.
pub fn ingress_steps(
    spec: &IngressSpecInput,
    cert: Option<&Path>,
    key: Option<&Path>,
    key_type: Option<KeyType>,
    days: u32,
) -> Result<String> {
    let mut out = secret_steps(spec, cert, key, key_type, days);
    let file = format!("{}.yml", spec.name);
    out.push_str(&format!("# 3. The Ingress: save the YAML below as {file}, then\nkubectl apply -f {file}\n"));
    if spec.path_type != PathType::ImplementationSpecific {
        let path = match spec.path_type {
            PathType::Prefix if spec.path.ends_with('/') => format!("{}*", spec.path),
            PathType::Prefix => format!("{}/*", spec.path),
            _ => spec.path.clone(),
        };
        let port = match &spec.backend.port {
            Port::Number(n) => n.to_string(),
            Port::Name(n) => n.clone(),
        };
        let rules: Vec<String> = spec
            .hosts
            .iter()
            .map(|h| {
                let rule = format!("{h}{path}={}:{port},tls={}", spec.backend.service, spec.secret);
                // The seed's double quotes, unless the path holds what the shell expands in them.
                if rule.contains(['"', '$', '`', '\\', '!']) {
                    sh(&format!("--rule={rule}"))
                } else {
                    format!("--rule=\"{rule}\"")
                }
            })
            .collect();
        let class = spec.class.as_ref().map(|c| format!(" --class={c}")).unwrap_or_default();
        out.push_str(&format!(
            "# or, with kubectl alone:\nkubectl create ingress {} {}{class} -n {}\n",
            spec.name,
            rules.join(" "),
            spec.namespace
        ));
    }
    out.push_str(&format!("--- {file}\n"));
    out.push_str(&yaml(vec![Object::from_typed(&build::ingress(spec))?])?);
    Ok(out)
}

/// The Gateway API path: the same Secret, then the Gateway, routes and grant as YAML.
pub fn gateway_steps(
    g: &GatewaySpec,
    cert: Option<&Path>,
    key: Option<&Path>,
    key_type: Option<KeyType>,
    days: u32,
) -> Result<String> {
    let mut out = secret_steps(&g.app, cert, key, key_type, days);
    let file = format!("{}-gateway.yml", g.app.name);
    let objects = g
        .objects(None)
        .map_err(|e| Error::invalid(e).with_hint("give --gateway-class NAME: the manual steps create the Gateway"))?;
    out.push_str(&format!(
        "# 3. The Gateway listener{}, the HTTPRoute{}: save the YAML below as {file}, then\nkubectl apply -f {file}\n",
        if g.reference_grant().is_some() { ", the ReferenceGrant for the Secret" } else { "" },
        if g.redirect { "s (HTTPS, and the redirect from HTTP)" } else { "" }
    ));
    out.push_str(&format!("--- {file}\n"));
    out.push_str(&yaml(objects)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Backend;

    fn t75() -> IngressSpecInput {
        IngressSpecInput {
            name: "accounting-ingress".into(),
            namespace: "t75".into(),
            hosts: vec!["accounting.internal.acme.com".into()],
            backend: Backend { service: "accounting-service".into(), port: Port::Number(80) },
            path: "/".into(),
            path_type: PathType::Prefix,
            secret: "accounting-secret".into(),
            class: None,
        }
    }

    #[test]
    fn the_seeds_steps_with_our_values() {
        let text = ingress_steps(&t75(), None, None, Some(KeyType::Rsa2048), 365).unwrap();
        assert!(
            text.contains(
                "openssl req -nodes -new -x509 -keyout accounting-secret.key -out accounting-secret.crt \
             -subj \"/CN=accounting.internal.acme.com\" -newkey rsa:2048 -days 365 \
             -addext \"subjectAltName=DNS:accounting.internal.acme.com\"\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "kubectl create secret tls accounting-secret --cert=accounting-secret.crt --key=accounting-secret.key -n t75\n"
        ), "{text}");
        assert!(
            text.contains(
                "kubectl create ingress accounting-ingress \
             --rule=\"accounting.internal.acme.com/*=accounting-service:80,tls=accounting-secret\" -n t75\n"
            ),
            "{text}"
        );
        assert!(text.contains("kind: Ingress") && text.contains("secretName: accounting-secret"), "{text}");
        assert!(!text.contains("managed-by"), "the manual YAML is not labelled as ours: {text}");
    }

    #[test]
    fn the_gateway_steps_end_with_its_objects() {
        use crate::gateway::{GatewaySpec, GatewayTarget};
        let g = GatewaySpec {
            app: t75(),
            gateway: GatewayTarget { name: "web".into(), namespace: "gateways".into(), class: Some("traefik".into()) },
            redirect: true,
            port: 80,
        };
        let text = gateway_steps(&g, None, None, None, 30).unwrap();
        assert!(text.contains("kubectl create secret tls accounting-secret"), "{text}");
        assert!(
            text.contains("the ReferenceGrant for the Secret")
                && text.contains("kubectl apply -f accounting-ingress-gateway.yml"),
            "{text}"
        );
        for kind in
            ["kind: ReferenceGrant", "kind: Gateway", "kind: HTTPRoute", "gatewayClassName: traefik", "RequestRedirect"]
        {
            assert!(text.contains(kind), "{kind}: {text}");
        }
        let mut no_class = g.clone();
        no_class.gateway.class = None;
        assert!(gateway_steps(&no_class, None, None, None, 30).unwrap_err().hint.unwrap().contains("--gateway-class"));
    }

    #[test]
    fn provided_files_skip_openssl() {
        let text =
            ingress_steps(&t75(), Some(Path::new("/tmp/my cert.pem")), Some(Path::new("/tmp/k.pem")), None, 1).unwrap();
        assert!(!text.contains("openssl"), "{text}");
        assert!(text.contains("--cert='/tmp/my cert.pem' --key=/tmp/k.pem"), "{text}");
    }
}
