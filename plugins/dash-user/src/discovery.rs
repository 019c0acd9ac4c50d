//! Which resources the cluster serves, from aggregated discovery (two requests: `/api` and
//! `/apis`), flattened into the list the pure role builder takes.

use std::collections::BTreeSet;

use harden_cli::error::Result;
use harden_cli::{output::warn, progress::Spinner};
use kube::Client;
use kube::client::APIGroupDiscoveryList;

use crate::rbac::ApiResource;

/// Every resource and subresource of every version of every group, de-duplicated by group and name.
pub async fn discover(client: &Client) -> Result<Vec<ApiResource>> {
    let spinner = Spinner::start("discovering the API resources the cluster serves");
    let hint = "the read-only role is built from discovery (Kubernetes 1.30+ aggregated discovery); \
                use --role CLUSTERROLE to bind an existing role instead";
    let core = client
        .list_core_api_versions_aggregated()
        .await
        .map_err(|e| harden_kube::error::from_kube(e, "discovering core API resources").with_hint(hint))?;
    let groups = client
        .list_api_groups_aggregated()
        .await
        .map_err(|e| harden_kube::error::from_kube(e, "discovering API groups").with_hint(hint))?;
    spinner.finish("discovered the API resources");
    let (resources, stale) = flatten(&[core, groups]);
    for group in stale {
        warn(format!(
            "API group {group:?} is unavailable (its aggregated API server is down); its resources may be missing"
        ));
    }
    Ok(resources)
}

/// Flattens discovery documents; also returns the groups whose discovery data is stale.
pub fn flatten(lists: &[APIGroupDiscoveryList]) -> (Vec<ApiResource>, Vec<String>) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut stale = BTreeSet::new();
    for list in lists {
        for group in &list.items {
            let group_name = group.metadata.as_ref().and_then(|m| m.name.clone()).unwrap_or_default();
            for version in &group.versions {
                if version.freshness.as_deref() == Some("Stale") {
                    stale.insert(group_name.clone());
                }
                for resource in &version.resources {
                    let Some(name) = resource.resource.clone() else { continue };
                    let namespaced = resource.scope.as_deref() == Some("Namespaced");
                    let mut push = |resource: String, verbs: &[String]| {
                        if seen.insert((group_name.clone(), resource.clone())) {
                            out.push(ApiResource {
                                group: group_name.clone(),
                                resource,
                                namespaced,
                                verbs: verbs.to_vec(),
                            });
                        }
                    };
                    push(name.clone(), &resource.verbs);
                    for sub in &resource.subresources {
                        if let Some(sub_name) = &sub.subresource {
                            push(format!("{name}/{sub_name}"), &sub.verbs);
                        }
                    }
                }
            }
        }
    }
    (out, stale.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_groups_versions_and_subresources_once() {
        let list: APIGroupDiscoveryList = serde_json::from_value(serde_json::json!({
            "apiVersion": "apidiscovery.k8s.io/v2", "kind": "APIGroupDiscoveryList", "metadata": {},
            "items": [{
                "metadata": {"name": "apps"},
                "versions": [
                    {"version": "v1", "resources": [{
                        "resource": "deployments", "scope": "Namespaced", "verbs": ["get", "list", "watch", "create"],
                        "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                        "subresources": [{"subresource": "scale", "verbs": ["get", "update"],
                                          "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}}]
                    }]},
                    {"version": "v1beta1", "freshness": "Stale", "resources": [{
                        "resource": "deployments", "scope": "Namespaced", "verbs": ["get"],
                        "responseKind": {"group": "apps", "version": "v1beta1", "kind": "Deployment"}
                    }]}
                ]
            }]
        }))
        .unwrap();
        let (resources, stale) = flatten(&[list]);
        assert_eq!(resources.len(), 2, "{resources:?}");
        assert_eq!(resources[0].resource, "deployments");
        assert_eq!(resources[0].verbs, ["get", "list", "watch", "create"], "the first version seen wins");
        assert!(resources[0].namespaced);
        assert_eq!(resources[1].resource, "deployments/scale");
        assert_eq!(stale, ["apps"]);
    }
}
