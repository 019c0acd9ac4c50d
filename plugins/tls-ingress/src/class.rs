//! Which IngressClass an Ingress gets, and the warnings that explain the seed's failure
//! ("the Ingress never gets an address") before it happens, and the classes the cluster has.

use harden_cli::output::warn;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::api::{Api, DynamicObject, ListParams};
use kube::{Client, ResourceExt};

use crate::gateway;

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

/// What `create` does when neither `--class` nor `--gateway`/`--gateway-class` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// An Ingress (the seed's path) of this class (`None`: no class, with a warning), a line saying
    /// which class and why, and warnings.
    Ingress { class: Option<String>, said: Option<String>, warnings: Vec<String> },
    /// The cluster has no IngressClass but has these GatewayClasses: no controller would serve an
    /// Ingress, and a Gateway is other objects; the user chooses, nothing is chosen for them.
    Ask(Vec<GatewayClassInfo>),
}

/// The seed's Ingress, of the cluster's default class, and never silently another path: a
/// GatewayClass is only mentioned, and where it is the only kind of class the cluster has, the
/// choice is the user's ([`Choice::Ask`]). `None` lists mean the cluster could not be asked.
pub fn choose(ingress_classes: Option<&[IngressClass]>, gateway_classes: Option<&[GatewayClassInfo]>) -> Choice {
    let gateways = gateway_classes.unwrap_or_default();
    if ingress_classes.is_some_and(<[IngressClass]>::is_empty) && !gateways.is_empty() {
        return Choice::Ask(gateways.to_vec());
    }
    let names: Vec<&str> = gateways.iter().map(|c| c.name.as_str()).collect();
    let also = match names.as_slice() {
        [] => String::new(),
        [one] => format!("the cluster also has GatewayClass {one}: --gateway-class {one} serves a Gateway instead"),
        several => format!(
            "the cluster also has GatewayClasses {}: --gateway-class NAME serves a Gateway instead",
            several.join(", ")
        ),
    };
    let (class, mut warnings) = resolve(None, ingress_classes);
    let said = match &class {
        Some(one) if also.is_empty() => Some(format!("using IngressClass {one} (the cluster's default)")),
        Some(one) => Some(format!("using IngressClass {one} (the cluster's default); {also}")),
        None => {
            if !also.is_empty() {
                warnings.push(also);
            } else if ingress_classes.is_some_and(<[IngressClass]>::is_empty) && gateway_classes.is_some() {
                // resolve() already said there is no IngressClass, with the install hint.
                if let Some(last) = warnings.last_mut() {
                    *last = last.replace("no IngressClass exists", "no IngressClass and no GatewayClass exist");
                }
            }
            None
        }
    };
    Choice::Ingress { class, said, warnings }
}

fn existing(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!(" (the cluster has {})", names.join(", ")) }
}

/// The cluster's IngressClasses, or `None` if we may not list them.
pub async fn list_classes(client: &Client) -> Option<Vec<IngressClass>> {
    let api: Api<IngressClass> = Api::all(client.clone());
    match harden_kube::list::list_all(&api, &ListParams::default(), "IngressClasses").await {
        Ok(items) => Some(items),
        Err(e) => {
            warn(format!("{}; the class is not checked", e.message));
            None
        }
    }
}

/// The cluster's GatewayClasses with their Accepted condition; `Some(empty)` when the Gateway API
/// CRDs are not installed, `None` when we may not list them.
pub async fn list_gateway_classes(client: &Client) -> Option<Vec<GatewayClassInfo>> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &gateway::gateway_class_resource());
    match harden_kube::list::list_all(&api, &ListParams::default(), "GatewayClasses").await {
        Ok(items) => Some(
            items
                .iter()
                .map(|c| {
                    let conditions = c.data.get("status").and_then(|s| s.get("conditions"));
                    let accepted = gateway::condition(conditions, "Accepted");
                    GatewayClassInfo {
                        name: c.name_any(),
                        accepted: accepted.as_ref().is_some_and(|a| a.status == "True"),
                        why_not: match accepted {
                            Some(a) if a.status == "True" => None,
                            Some(a) => Some(format!("{}: {}", a.reason, a.message)),
                            None => Some("no controller has looked at it".into()),
                        },
                    }
                })
                .collect(),
        ),
        Err(e) if e.kind == harden_cli::ErrorKind::NotFound => Some(Vec::new()),
        Err(e) => {
            warn(e.message);
            None
        }
    }
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

    fn ingress(choice: Choice) -> (Option<String>, Option<String>, Vec<String>) {
        match choice {
            Choice::Ingress { class, said, warnings } => (class, said, warnings),
            Choice::Ask(classes) => panic!("asked, with {classes:?}"),
        }
    }

    /// Issue 25: with an IngressClass (not the default) and an accepted GatewayClass, `create`
    /// took the Gateway path without being asked. The Ingress is the path; the Gateway is named.
    #[test]
    fn the_ingress_is_the_path_and_a_gateway_class_is_only_mentioned() {
        let (chosen, said, _) = ingress(choose(Some(&[class("nginx", true)]), Some(&[gateway_class("traefik", true)])));
        assert_eq!(chosen.as_deref(), Some("nginx"));
        assert!(said.unwrap().contains("--gateway-class traefik serves a Gateway instead"));
        let (chosen, said, warnings) =
            ingress(choose(Some(&[class("nginx", false)]), Some(&[gateway_class("eg", true)])));
        assert_eq!((chosen, said), (None, None), "no default class: an Ingress without one, not a Gateway");
        assert!(warnings.iter().any(|w| w.contains("no IngressClass is marked as the default")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("--gateway-class eg")), "{warnings:?}");
        let (_, _, warnings) = ingress(choose(Some(&[]), Some(&[])));
        assert!(warnings[0].contains("no IngressClass and no GatewayClass exist"), "{warnings:?}");
        assert!(
            warnings[0].contains("Envoy Gateway") && warnings[0].contains("ingress-nginx was retired"),
            "{warnings:?}"
        );
        let (chosen, _, _) = ingress(choose(None, Some(&[gateway_class("eg", true)])));
        assert_eq!(chosen, None, "IngressClasses that cannot be listed are not an empty list");
    }

    /// Issue 25: where no IngressClass exists but a GatewayClass does (accepted or not), the
    /// choice is the user's.
    #[test]
    fn only_gateway_classes_means_asking() {
        let classes = [gateway_class("eg", true), gateway_class("old", false)];
        assert_eq!(choose(Some(&[]), Some(&classes)), Choice::Ask(classes.to_vec()));
        assert_eq!(choose(Some(&[]), Some(&classes[1..])), Choice::Ask(classes[1..].to_vec()));
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
