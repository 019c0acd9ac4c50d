//! Which IngressClass an Ingress gets, and the warnings that explain the seed's failure
//! ("the Ingress never gets an address") before it happens.

use k8s_openapi::api::networking::v1::IngressClass;
use kube::ResourceExt;

pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// How to install a controller when there is none.
pub const INSTALL_CONTROLLER: &str = "kubectl apply -f https://raw.githubusercontent.com/kubernetes/ingress-nginx/\
controller-v1.12.1/deploy/static/provider/cloud/deploy.yaml";

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
                 address; install a controller, e.g. `{INSTALL_CONTROLLER}`",
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
             address; install one, e.g. `{INSTALL_CONTROLLER}`, then re-run"
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
        assert!(warnings[0].contains("kubectl apply -f https://raw.githubusercontent.com/kubernetes/ingress-nginx/"));
        let (_, warnings) = resolve(None, Some(&[class("a", false)]));
        assert!(warnings[0].contains("no IngressClass is marked as the default (the cluster has a)"), "{warnings:?}");
        let (_, warnings) = resolve(None, Some(&[class("a", true), class("b", true)]));
        assert!(warnings[0].contains("several"), "{warnings:?}");
        assert_eq!(resolve(None, None), (None, vec![]));
    }
}
