//! Which namespaces a command acts on: `-n NS ...`, `-A` (every namespace but kube-system unless it
//! is named), or `--namespace-selector SEL`, resolved with at most one list request.
//!
//! Namespaces that are being deleted are left out of `-A` and selector matches: the API server
//! refuses new objects in them, and nothing placed there would outlive the namespace anyway.
//!
//! A namespace named with `-n` that does not exist is an error (exit 2, naming it) in every command,
//! checked once when the command connects ([`require_existing`]): a typo must never read as "nothing
//! found" or "0 policies", nor fail later as a write refused with exit 1.

use apimachinery::labels as selector;
use harden_cli::{Error, Result};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams};

use crate::client::Kube;
use crate::error::status_code;

/// Namespaces that `-A` skips unless they are also named with `-n`: changing their traffic rules
/// can break the cluster itself (DNS, CNI, cloud controllers).
pub const SKIPPED_BY_ALL: &[&str] = &["kube-system"];

/// The namespace flags of one command, before they are resolved against the cluster.
#[derive(Debug, Clone, Default)]
pub struct NamespaceScope {
    /// `-n` (repeated or comma-separated).
    pub named: Vec<String>,
    /// `-A`.
    pub all: bool,
    /// `--namespace-selector`.
    pub selector: Option<LabelSelector>,
}

impl NamespaceScope {
    /// Whether the namespaces must be listed from the cluster to know them.
    pub fn needs_listing(&self) -> bool {
        self.all || self.selector.is_some()
    }

    /// Whether resolving needs a cluster connection at all (listing, or the context's namespace).
    pub fn needs_cluster(&self) -> bool {
        self.needs_listing() || self.named.is_empty()
    }

    /// Picks from the listed namespaces: `-A` takes all but [`SKIPPED_BY_ALL`], a selector takes the
    /// matching ones, and named namespaces are always added. Terminating namespaces are skipped
    /// unless named. Sorted, without duplicates.
    pub fn pick(&self, listed: &[Namespace]) -> Vec<String> {
        let mut picked: Vec<String> = listed
            .iter()
            .filter(|ns| ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating"))
            .filter_map(|ns| {
                let name = ns.metadata.name.as_deref()?;
                let chosen = if self.all {
                    !SKIPPED_BY_ALL.contains(&name)
                } else if let Some(sel) = &self.selector {
                    selector::matches(sel, ns.metadata.labels.as_ref().unwrap_or(&Default::default()))
                } else {
                    false
                };
                chosen.then(|| name.to_string())
            })
            .collect();
        picked.extend(self.named.iter().cloned());
        picked.sort();
        picked.dedup();
        picked
    }

    /// The namespaces to act on. `kube` may be `None` only when [`Self::needs_cluster`] is false.
    pub async fn resolve(&self, kube: Option<&Kube>) -> Result<Vec<String>> {
        if !self.needs_cluster() {
            let mut named = self.named.clone();
            named.sort();
            named.dedup();
            return Ok(named);
        }
        let kube = kube
            .ok_or_else(|| Error::invalid("no namespace given and no cluster to ask").with_hint("pass -n NAMESPACE"))?;
        if !self.needs_listing() {
            return Ok(vec![kube.context_namespace.clone()]);
        }
        let api: Api<Namespace> = Api::all(kube.client.clone());
        let listed = crate::list::list_all(&api, &ListParams::default(), "namespaces").await?;
        let picked = self.pick(&listed);
        if picked.is_empty() {
            let what = match &self.selector {
                Some(sel) => format!("no namespace matches the selector {}", selector::display(sel)),
                None => "the cluster has no namespace to act on".to_string(),
            };
            return Err(Error::not_found(what).with_hint("check `kubectl get namespaces --show-labels`"));
        }
        Ok(picked)
    }

    /// Like [`Self::resolve_existing`], from namespaces already listed (no request): `-n` names
    /// (or the context's namespace) missing from `listed` are refused as [`require_existing`] does.
    pub fn resolve_listed(&self, context_namespace: &str, listed: &[Namespace]) -> Result<Vec<String>> {
        let names = if self.needs_listing() {
            let picked = self.pick(listed);
            if picked.is_empty() {
                let what = match &self.selector {
                    Some(sel) => format!("no namespace matches the selector {}", selector::display(sel)),
                    None => "the cluster has no namespace to act on".to_string(),
                };
                return Err(Error::not_found(what).with_hint("check `kubectl get namespaces --show-labels`"));
            }
            picked
        } else if self.named.is_empty() {
            vec![context_namespace.to_string()]
        } else {
            let mut named = self.named.clone();
            named.sort();
            named.dedup();
            named
        };
        let exists = |name: &String| listed.iter().any(|ns| ns.metadata.name.as_ref() == Some(name));
        let missing: Vec<String> = names.iter().filter(|n| !exists(n)).cloned().collect();
        missing_error(missing)?;
        Ok(names)
    }

    /// Like [`Self::resolve`], and every namespace named with `-n` (or the context's) must exist:
    /// for commands that report on namespaces, where a typo must not read as "nothing found".
    pub async fn resolve_existing(&self, kube: &Kube) -> Result<Vec<String>> {
        let names = self.resolve(Some(kube)).await?;
        if self.needs_listing() && self.named.is_empty() {
            return Ok(names);
        }
        require_existing(&kube.client, &names).await?;
        Ok(names)
    }
}

/// Refuses namespaces that do not exist: invalid input (exit 2) naming each of them. A namespace
/// the user may not read (403) is left to the command's own requests, which say what is forbidden.
pub async fn require_existing(client: &kube::Client, names: &[String]) -> Result<()> {
    require_existing_counted(client, names).await.map(|_| ())
}

/// [`require_existing`], and how many namespaces the cluster has when it listed them to check
/// (`None` when it asked about each: one name, or a user who may not list namespaces), so that
/// a caller choosing how to read a set of namespaces need not list them again.
pub async fn require_existing_counted(client: &kube::Client, names: &[String]) -> Result<Option<usize>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut missing = Vec::new();
    if names.len() > 1 {
        // One list (paged) rather than a GET per namespace; a user who may not list namespaces
        // is asked about each, as before.
        match crate::list::Pager::metadata(&api, &ListParams::default(), crate::list::PAGE_SIZE, "namespaces")
            .kept(|ns| ns.metadata.name)
            .await
        {
            Ok(listed) => {
                missing.extend(names.iter().filter(|n| !listed.contains(n)).cloned());
                return missing_error(missing).map(|()| Some(listed.len()));
            }
            Err(e) if e.kind == harden_cli::ErrorKind::Forbidden => {}
            Err(e) => return Err(e),
        }
    }
    for name in names {
        match api.get_opt(name).await {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(name.clone()),
            Err(e) if status_code(&e) == Some(403) => {}
            Err(e) => return Err(crate::error::from_kube(e, format!("reading namespace {name}"))),
        }
    }
    missing_error(missing).map(|()| None)
}

fn missing_error(mut missing: Vec<String>) -> Result<()> {
    missing.sort();
    missing.dedup();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(Error::invalid(format!("namespace {one:?} does not exist"))
            .with_hint("check the name with `kubectl get namespaces`")),
        many => Err(Error::invalid(format!("namespaces {} do not exist", many.join(", ")))
            .with_hint("check the names with `kubectl get namespaces`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NamespaceStatus;
    use kube::api::ObjectMeta;

    fn ns(name: &str, labels: &[(&str, &str)], phase: &str) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            },
            status: Some(NamespaceStatus { phase: Some(phase.into()), ..Default::default() }),
            ..Default::default()
        }
    }

    fn cluster() -> Vec<Namespace> {
        vec![
            ns("default", &[], "Active"),
            ns("kube-system", &[], "Active"),
            ns("shop", &[("team", "a")], "Active"),
            ns("old", &[("team", "a")], "Terminating"),
        ]
    }

    #[test]
    fn all_skips_kube_system_and_terminating_unless_named() {
        let scope = NamespaceScope { all: true, ..Default::default() };
        assert_eq!(scope.pick(&cluster()), ["default", "shop"]);
        let scope = NamespaceScope { all: true, named: vec!["kube-system".into()], ..Default::default() };
        assert_eq!(scope.pick(&cluster()), ["default", "kube-system", "shop"]);
    }

    #[test]
    fn selector_takes_matching_live_namespaces() {
        let scope = NamespaceScope { selector: Some(selector::parse("team=a").unwrap()), ..Default::default() };
        assert_eq!(scope.pick(&cluster()), ["shop"]);
    }

    #[test]
    fn resolve_listed_checks_names_against_the_list() {
        let named = |names: &[&str]| NamespaceScope {
            named: names.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(named(&["shop", "default"]).resolve_listed("ctx", &cluster()).unwrap(), ["default", "shop"]);
        let err = named(&["shop", "typo"]).resolve_listed("ctx", &cluster()).unwrap_err();
        assert!(err.message.contains("\"typo\" does not exist"), "{}", err.message);
        // No -n: the context's namespace, which must exist too.
        assert_eq!(NamespaceScope::default().resolve_listed("shop", &cluster()).unwrap(), ["shop"]);
        assert!(NamespaceScope::default().resolve_listed("gone", &cluster()).is_err());
        let all = NamespaceScope { all: true, named: vec!["typo".into()], ..Default::default() };
        assert!(all.resolve_listed("default", &cluster()).is_err());
        let all = NamespaceScope { all: true, ..Default::default() };
        assert_eq!(all.resolve_listed("default", &cluster()).unwrap(), ["default", "shop"]);
    }

    #[tokio::test]
    async fn named_namespaces_need_no_cluster() {
        let scope = NamespaceScope { named: vec!["b".into(), "a".into(), "b".into()], ..Default::default() };
        assert!(!scope.needs_cluster());
        assert_eq!(scope.resolve(None).await.unwrap(), ["a", "b"]);
        assert!(NamespaceScope::default().needs_cluster());
        assert!(NamespaceScope::default().resolve(None).await.is_err());
    }
}
