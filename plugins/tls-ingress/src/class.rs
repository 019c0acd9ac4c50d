//! Which IngressClass an Ingress gets, and the warnings that explain the seed's failure
//! ("the Ingress never gets an address") before it happens.

use k8s_openapi::api::networking::v1::IngressClass;
use kube::ResourceExt;

pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// What to install when the cluster has no controller: maintained implementations, Gateway API
/// ones first (ingress-nginx, which the seed installs, was retired in March 2026).
pub const INSTALL_CONTROLLER: &str = "install a maintained controller: a Gateway API implementation (Envoy Gateway, \
Istio, Cilium, NGINX Gateway Fabric, Traefik; then use --gateway-class) or an Ingress controller (Traefik, HAProxy \
Ingress, F5 NGINX Ingress Controller); ingress-nginx was retired in March 2026";

/// The classes marked as the cluster default.
pub fn defaults(classes: &[IngressClass]) -> Vec<String> {
    classes
        .iter()
        .filter(|c| c.annotations().get(DEFAULT_CLASS_ANNOTATION).is_some_and(|v| v == "true"))
        .map(|c| c.name_any())
        .collect()
}

/// The class to put into the Ingress, and warnings. `classes` is `None` when the cluster could not
/// be asked (client dry run, or no permission to list IngressClasses).
pub fn resolve(given: Option<&str>, classes: Option<&[IngressClass]>) -> (Option<String>, Vec<String>) {
    let mut warnings = Vec::new();
    let Some(classes) = classes else {
        return (given.map(str::to_owned), warnings);
    };
    let names: Vec<String> = classes.iter().map(|c| c.name_any()).collect();
    if let Some(given) = given {
        if !names.iter().any(|n| n == given) {
            warnings.push(format!(
                "IngressClass {given:?} does not exist{}: no controller will serve this Ingress and it will get no \
                 address; {INSTALL_CONTROLLER}",
                existing(&names)
            ));
        }
        return (Some(given.to_owned()), warnings);
    }
    let defaults = defaults(classes);
    match defaults.as_slice() {
        [one] => return (Some(one.clone()), warnings),
        [] if names.is_empty() => warnings.push(format!(
            "no IngressClass exists, so no ingress controller appears to be installed: the Ingress will get no \
             address; {INSTALL_CONTROLLER}, then re-run"
        )),
        [] => warnings.push(format!(
            "no IngressClass is marked as the default{}: pass --class NAME, or no controller may serve this Ingress",
            existing(&names)
        )),
        several => warnings.push(format!(
            "several IngressClasses are marked as the default ({}): pass --class NAME to pick one",
            several.join(", ")
        )),
    }
    (None, warnings)
}

/// A GatewayClass and whether its controller has accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayClassInfo {
    pub name: String,
    pub accepted: bool,
    /// The Accepted condition's reason and message, when it is not True.
    pub why_not: Option<String>,
}

/// Which path `create` takes when neither `--class` nor `--gateway`/`--gateway-class` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// An Ingress of this class (`None`: no class, with a warning).
    Ingress(Option<String>),
    /// A new Gateway of this GatewayClass.
    Gateway(String),
}

/// Uses what the cluster has: the default IngressClass (the seed's path) when there is one, else
/// the one GatewayClass a controller accepted. Returns the choice, a line saying what was chosen
/// and why, and warnings. `None` lists mean the cluster could not be asked.
pub fn detect(
    ingress_classes: Option<&[IngressClass]>,
    gateway_classes: Option<&[GatewayClassInfo]>,
) -> (Detected, Option<String>, Vec<String>) {
    let accepted: Vec<&GatewayClassInfo> = gateway_classes.into_iter().flatten().filter(|c| c.accepted).collect();
    let ingress_defaults = ingress_classes.map(defaults).unwrap_or_default();
    if let [one] = ingress_defaults.as_slice() {
        let also = if accepted.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = accepted.iter().map(|c| c.name.as_str()).collect();
            format!("; the cluster also has GatewayClass {} (use --gateway-class for a Gateway)", names.join(", "))
        };
        return (
            Detected::Ingress(Some(one.clone())),
            Some(format!("using IngressClass {one} (the cluster's default){also}")),
            vec![],
        );
    }
    if let [one] = accepted.as_slice() {
        return (
            Detected::Gateway(one.name.clone()),
            Some(format!(
                "using GatewayClass {} (Accepted by its controller; no default IngressClass): a Gateway API path; \
                 pass --class for an Ingress instead",
                one.name
            )),
            vec![],
        );
    }
    let (class, mut warnings) = resolve(None, ingress_classes);
    let no_ingress_class = ingress_classes.is_some_and(|c| c.is_empty());
    match accepted.as_slice() {
        [] => {
            if let Some(pending) = gateway_classes.filter(|c| !c.is_empty()) {
                let why: Vec<String> = pending
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.why_not.as_deref().unwrap_or("not accepted")))
                    .collect();
                warnings.push(format!("no GatewayClass is accepted by a controller: {}", why.join(", ")));
            } else if no_ingress_class && gateway_classes.is_some() {
                // resolve() already said there is no IngressClass, with the install hint.
                if let Some(last) = warnings.last_mut() {
                    *last = last.replace("no IngressClass exists", "no IngressClass and no GatewayClass exist");
                }
            }
        }
        several => {
            let names: Vec<&str> = several.iter().map(|c| c.name.as_str()).collect();
            warnings.push(format!(
                "several GatewayClasses are accepted ({}): pass --gateway-class NAME to use one",
                names.join(", ")
            ));
        }
    }
    (Detected::Ingress(class), None, warnings)
}

fn existing(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!(" (the cluster has {})", names.join(", ")) }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use kube::api::ObjectMeta;
    use std::collections::BTreeMap;

    pub fn class(name: &str, default: bool) -> IngressClass {
        let annotations = default.then(|| BTreeMap::from([(DEFAULT_CLASS_ANNOTATION.to_string(), "true".to_string())]));
        IngressClass { metadata: ObjectMeta { name: Some(name.into()), annotations, ..Default::default() }, spec: None }
    }

    fn gateway_class(name: &str, accepted: bool) -> GatewayClassInfo {
        GatewayClassInfo {
            name: name.into(),
            accepted,
            why_not: (!accepted).then(|| "Pending: Waiting for controller".into()),
        }
    }

    #[test]
    fn detection_prefers_the_default_ingress_class_then_an_accepted_gateway_class() {
        let (chosen, said, _) = detect(Some(&[class("nginx", true)]), Some(&[gateway_class("traefik", true)]));
        assert_eq!(chosen, Detected::Ingress(Some("nginx".into())));
        assert!(said.unwrap().contains("also has GatewayClass traefik"));
        let (chosen, said, warnings) =
            detect(Some(&[]), Some(&[gateway_class("eg", true), gateway_class("old", false)]));
        assert_eq!(chosen, Detected::Gateway("eg".into()));
        assert!(said.unwrap().contains("using GatewayClass eg"), "{warnings:?}");
        let (chosen, _, warnings) = detect(Some(&[]), Some(&[gateway_class("old", false)]));
        assert_eq!(chosen, Detected::Ingress(None));
        assert!(warnings.iter().any(|w| w.contains("old (Pending: Waiting for controller)")), "{warnings:?}");
        let (_, _, warnings) = detect(Some(&[]), Some(&[]));
        assert!(warnings[0].contains("no IngressClass and no GatewayClass exist"), "{warnings:?}");
        assert!(
            warnings[0].contains("Envoy Gateway") && warnings[0].contains("ingress-nginx was retired"),
            "{warnings:?}"
        );
        let (_, _, warnings) = detect(Some(&[]), Some(&[gateway_class("a", true), gateway_class("b", true)]));
        assert!(warnings.iter().any(|w| w.contains("several GatewayClasses are accepted (a, b)")), "{warnings:?}");
    }

    #[test]
    fn given_class_wins_and_is_checked() {
        let classes = [class("nginx", true), class("traefik", false)];
        assert_eq!(resolve(Some("traefik"), Some(&classes)), (Some("traefik".into()), vec![]));
        let (class, warnings) = resolve(Some("haproxy"), Some(&classes));
        assert_eq!(class.as_deref(), Some("haproxy"));
        assert!(warnings[0].contains("\"haproxy\" does not exist (the cluster has nginx, traefik)"), "{warnings:?}");
        assert_eq!(resolve(Some("x"), None), (Some("x".into()), vec![]));
    }

    #[test]
    fn the_default_class_is_used() {
        let classes = [class("traefik", false), class("nginx", true)];
        assert_eq!(resolve(None, Some(&classes)), (Some("nginx".into()), vec![]));
    }

    #[test]
    fn no_class_warns_with_the_install_command() {
        let (chosen, warnings) = resolve(None, Some(&[]));
        assert_eq!(chosen, None);
        assert!(warnings[0].contains("no ingress controller appears to be installed"), "{warnings:?}");
        assert!(warnings[0].contains("Envoy Gateway") && !warnings[0].contains("kubectl apply -f"), "{warnings:?}");
        let (_, warnings) = resolve(None, Some(&[class("a", false)]));
        assert!(warnings[0].contains("no IngressClass is marked as the default (the cluster has a)"), "{warnings:?}");
        let (_, warnings) = resolve(None, Some(&[class("a", true), class("b", true)]));
        assert!(warnings[0].contains("several"), "{warnings:?}");
        assert_eq!(resolve(None, None), (None, vec![]));
    }
}
