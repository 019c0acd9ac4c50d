//! What the audit reads of the cluster: UI Deployments, Services, Ingresses, RBAC, and token
//! Secrets' metadata (never a token), in the namespaces in scope or all of them.

use std::collections::BTreeSet;

use harden_cli::error::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::components::{UI_NAMESPACES, classify, is_kong};

/// Which namespaces to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    Namespaces(Vec<String>),
    /// Every namespace that has a dashboard Deployment.
    All,
}

/// A legacy, never-expiring ServiceAccount token Secret (metadata only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSecret {
    pub namespace: String,
    pub name: String,
    pub service_account: String,
}

/// What the checks look at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub ingresses: Vec<Ingress>,
    pub token_secrets: Vec<TokenSecret>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_roles: Vec<ClusterRole>,
    /// With `-A`: namespaces that hold dashboard users (ServiceAccounts this plugin made) or are a
    /// dashboard's usual namespace, besides those with a dashboard Deployment: their users' rights
    /// are audited too, so that `-A` sees what `-n NS` sees.
    pub user_namespaces: BTreeSet<String>,
}

pub async fn list<K>(api: Api<K>, what: &str) -> Result<Vec<K>>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    harden_kube::list::list_all(&api, &ListParams::default(), what).await
}

/// Where the namespaced kinds are read: one cluster-wide list with -A; with -n, one list per
/// namespace (a few at once), or one cluster-wide list filtered when the namespaces are most of the
/// cluster's (counted with one metadata list unless `counted` says how many there are; a user who
/// may not list namespaces reads each).
pub async fn placement<'a>(
    client: &Client,
    scope: &'a Where,
    counted: Option<usize>,
) -> Result<harden_kube::list::Scope<'a>> {
    let set = match scope {
        Where::All => return Ok(harden_kube::list::Scope::All),
        Where::Namespaces(set) if set.len() < 2 => return Ok(harden_kube::list::Scope::Each(set)),
        Where::Namespaces(set) => set,
    };
    if let Some(count) = counted {
        return Ok(harden_kube::list::Scope::choose(Some(set), count));
    }
    let namespaces = harden_kube::list::list_all_metadata(
        &Api::<Namespace>::all(client.clone()),
        &ListParams::default(),
        "namespaces",
    )
    .await;
    match namespaces {
        Ok(namespaces) => Ok(harden_kube::list::Scope::choose(Some(set), namespaces.len())),
        Err(e) if e.kind == harden_cli::ErrorKind::Forbidden => Ok(harden_kube::list::Scope::Each(set)),
        Err(e) => Err(e),
    }
}

/// Lists of a namespaced kind where [`placement`] says.
pub async fn namespaced<K>(client: &Client, place: &harden_kube::list::Scope<'_>, plural: &str) -> Result<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    harden_kube::list::in_namespaces(client, place, harden_kube::list::PAGE_SIZE, plural, |mut object: K| {
        object.meta_mut().managed_fields = None;
        Some(object)
    })
    .await
}

/// Reads what the checks need: Deployments and Services of the scope, RBAC, token Secrets' metadata.
pub async fn snapshot(client: &Client, scope: &Where, counted: Option<usize>) -> Result<Snapshot> {
    let place = placement(client, scope, counted).await?;
    let mut snap = Snapshot {
        deployments: namespaced(client, &place, "deployments").await?,
        services: namespaced(client, &place, "services").await?,
        ingresses: namespaced(client, &place, "ingresses").await?,
        ..Default::default()
    };
    snap.cluster_role_bindings = list(Api::all(client.clone()), "clusterrolebindings").await?;
    snap.role_bindings = list(Api::all(client.clone()), "rolebindings").await?;
    snap.cluster_roles = list(Api::all(client.clone()), "clusterroles").await?;
    if *scope == Where::All {
        let managed = ListParams::default().labels(&harden_kube::apply::managed_selector(crate::PLUGIN));
        let accounts = harden_kube::list::list_all_metadata(
            &Api::<k8s_openapi::api::core::v1::ServiceAccount>::all(client.clone()),
            &managed,
            "dashboard users in all namespaces",
        )
        .await?;
        snap.user_namespaces.extend(accounts.iter().filter_map(|a| a.namespace()));
        let existing = harden_kube::list::list_all_metadata(
            &Api::<Namespace>::all(client.clone()),
            &ListParams::default(),
            "namespaces",
        )
        .await?;
        snap.user_namespaces
            .extend(existing.iter().map(|n| n.name_any()).filter(|n| UI_NAMESPACES.contains(&n.as_str())));
    }
    let namespaces: BTreeSet<String> = match scope {
        Where::Namespaces(list) => list.iter().cloned().collect(),
        Where::All => snap
            .deployments
            .iter()
            .filter(|d| classify(d).is_some() || is_kong(d))
            .filter_map(|d| d.namespace())
            .chain(snap.user_namespaces.iter().cloned())
            .collect(),
    };
    // Token secrets are few: one cluster-wide list (field-selected, metadata only) serves any
    // number of namespaces in one request; a user who may read secrets only in some namespaces
    // gets one list per namespace, as one namespace does.
    let tokens = ListParams::default().fields("type=kubernetes.io/service-account-token");
    let all = Api::<Secret>::all(client.clone());
    let cluster_wide = match namespaces.len() {
        0 | 1 => None,
        _ => match harden_kube::list::list_all_metadata(&all, &tokens, "token secrets in all namespaces").await {
            Ok(secrets) => Some(secrets),
            Err(e) if e.kind == harden_cli::ErrorKind::Forbidden => None,
            Err(e) => return Err(e),
        },
    };
    let secrets = match cluster_wide {
        Some(secrets) => secrets,
        None => {
            let mut each = Vec::new();
            for ns in &namespaces {
                let api: Api<Secret> = Api::namespaced(client.clone(), ns);
                each.extend(
                    harden_kube::list::list_all_metadata(&api, &tokens, &format!("token secrets in {ns}")).await?,
                );
            }
            each
        }
    };
    for secret in secrets {
        let Some(ns) = secret.namespace().filter(|ns| namespaces.contains(ns)) else { continue };
        let service_account =
            secret.annotations().get("kubernetes.io/service-account.name").cloned().unwrap_or_else(|| "?".into());
        snap.token_secrets.push(TokenSecret { namespace: ns, name: secret.name_any(), service_account });
    }
    Ok(snap)
}
