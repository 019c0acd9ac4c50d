//! Pure builders of the two objects `create` makes: the `kubernetes.io/tls` Secret and the Ingress.

use std::collections::BTreeMap;

use clap::ValueEnum;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    IngressTLS, ServiceBackendPort,
};
use kube::api::ObjectMeta;

use crate::input::{Backend, Port};
use harden_tls::cert::Material;

pub const TLS_TYPE: &str = "kubernetes.io/tls";
pub const TLS_CRT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";
/// Records where the certificate in a Secret came from, so `rotate` only regenerates its own.
pub const ORIGIN_ANNOTATION: &str = "tls-ingress.kube-harden.io/certificate";
pub const ORIGIN_GENERATED: &str = "self-signed";
pub const ORIGIN_PROVIDED: &str = "provided";

/// kubernetes.io/ingress pathType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PathType {
    #[value(name = "Prefix")]
    Prefix,
    #[value(name = "Exact")]
    Exact,
    #[value(name = "ImplementationSpecific")]
    ImplementationSpecific,
}

impl PathType {
    fn api_name(self) -> &'static str {
        match self {
            PathType::Prefix => "Prefix",
            PathType::Exact => "Exact",
            PathType::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// Everything the Ingress is made from, already validated.
#[derive(Debug, Clone)]
pub struct IngressSpecInput {
    pub name: String,
    pub namespace: String,
    pub hosts: Vec<String>,
    pub backend: Backend,
    pub path: String,
    pub path_type: PathType,
    pub secret: String,
    pub class: Option<String>,
}

fn meta(name: &str, namespace: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: Some(namespace.into()), ..Default::default() }
}

/// The TLS Secret holding `material`; `generated` says whether we made the certificate.
pub fn secret(name: &str, namespace: &str, material: &Material, generated: bool) -> Secret {
    let mut metadata = meta(name, namespace);
    let origin = if generated { ORIGIN_GENERATED } else { ORIGIN_PROVIDED };
    metadata.annotations = Some(BTreeMap::from([(ORIGIN_ANNOTATION.to_string(), origin.to_string())]));
    Secret {
        metadata,
        type_: Some(TLS_TYPE.into()),
        data: Some(BTreeMap::from([
            (TLS_CRT.to_string(), ByteString(material.cert_pem.as_bytes().to_vec())),
            (TLS_KEY.to_string(), ByteString(material.key_pem.as_bytes().to_vec())),
        ])),
        ..Default::default()
    }
}

/// The Ingress: one TLS entry for all hosts, and one rule per host to the backend.
pub fn ingress(input: &IngressSpecInput) -> Ingress {
    let port = match &input.backend.port {
        Port::Number(n) => ServiceBackendPort { number: Some(*n), name: None },
        Port::Name(n) => ServiceBackendPort { number: None, name: Some(n.clone()) },
    };
    let backend = IngressBackend {
        service: Some(IngressServiceBackend { name: input.backend.service.clone(), port: Some(port) }),
        resource: None,
    };
    let rules = input
        .hosts
        .iter()
        .map(|host| IngressRule {
            host: Some(host.clone()),
            http: Some(HTTPIngressRuleValue {
                paths: vec![HTTPIngressPath {
                    path: Some(input.path.clone()),
                    path_type: input.path_type.api_name().into(),
                    backend: backend.clone(),
                }],
            }),
        })
        .collect();
    Ingress {
        metadata: meta(&input.name, &input.namespace),
        spec: Some(IngressSpec {
            ingress_class_name: input.class.clone(),
            tls: Some(vec![IngressTLS { hosts: Some(input.hosts.clone()), secret_name: Some(input.secret.clone()) }]),
            rules: Some(rules),
            default_backend: None,
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t75() -> IngressSpecInput {
        IngressSpecInput {
            name: "accounting-ingress".into(),
            namespace: "t75".into(),
            hosts: vec!["accounting.internal.acme.com".into(), "*.acme.com".into()],
            backend: Backend { service: "accounting-service".into(), port: Port::Number(80) },
            path: "/".into(),
            path_type: PathType::Prefix,
            secret: "accounting-secret".into(),
            class: Some("nginx".into()),
        }
    }

    #[test]
    fn ingress_has_tls_for_all_hosts_and_a_rule_per_host() {
        let value = serde_json::to_value(ingress(&t75())).unwrap();
        let spec = &value["spec"];
        assert_eq!(spec["ingressClassName"], "nginx");
        assert_eq!(spec["tls"][0]["secretName"], "accounting-secret");
        assert_eq!(spec["tls"][0]["hosts"], serde_json::json!(["accounting.internal.acme.com", "*.acme.com"]));
        assert_eq!(spec["rules"].as_array().unwrap().len(), 2);
        let path = &spec["rules"][1]["http"]["paths"][0];
        assert_eq!(spec["rules"][1]["host"], "*.acme.com");
        assert_eq!(path["path"], "/");
        assert_eq!(path["pathType"], "Prefix");
        assert_eq!(
            path["backend"]["service"],
            serde_json::json!({"name": "accounting-service", "port": {"number": 80}})
        );
        assert_eq!(value["metadata"]["namespace"], "t75");
    }

    #[test]
    fn named_ports_and_no_class() {
        let mut input = t75();
        input.backend.port = Port::Name("http".into());
        input.class = None;
        let value = serde_json::to_value(ingress(&input)).unwrap();
        assert!(value["spec"].get("ingressClassName").is_none());
        assert_eq!(value["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["name"], "http");
    }

    #[test]
    fn secret_is_tls_typed_with_both_keys_and_origin() {
        let material = Material { cert_pem: "CERT".into(), key_pem: "KEY".into() };
        let value = serde_json::to_value(secret("accounting-secret", "t75", &material, true)).unwrap();
        assert_eq!(value["type"], "kubernetes.io/tls");
        assert_eq!(value["data"]["tls.crt"], "Q0VSVA==");
        assert_eq!(value["data"]["tls.key"], "S0VZ");
        assert_eq!(value["metadata"]["annotations"][ORIGIN_ANNOTATION], "self-signed");
        let value = serde_json::to_value(secret("s", "t75", &material, false)).unwrap();
        assert_eq!(value["metadata"]["annotations"][ORIGIN_ANNOTATION], "provided");
    }
}
