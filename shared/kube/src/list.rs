//! Lists as a large cluster's API server welcomes them: in pages of [`PAGE_SIZE`] (kubectl's
//! `--chunk-size` default), `continue` followed, each page turned into what the caller keeps before
//! the next is read, so the full JSON of a large list is never held at once.
//!
//! A continue token the server no longer honours (410 Gone, "the provided continue parameter is too
//! old", once etcd has compacted the revision the list started at) restarts the list from the
//! first page: what was kept from the earlier pages is dropped, so the result is one consistent
//! snapshot, never pages of two different moments. Restarts are bounded ([`MAX_RESTARTS`]).
//!
//! Why pages rather than kube-rs's streaming lists (`watcher` with `sendInitialEvents`): a
//! watch-list streams objects one by one from the watch cache, but kube-rs 5 surfaces it only as a
//! watcher stream that never ends by itself (the caller must spot the initial-events-end bookmark),
//! and API servers that do not serve it (the feature is gated before 1.34) need the paged list
//! anyway. A page of 500 bounds memory as well (a page of pods is about 1 MB of JSON), with one
//! code path for every server.
//!
//! Every plugin lists through here (see CONTRIBUTING.md), so paging and restarts are one place.

use futures::StreamExt;
use futures::future::BoxFuture;
use harden_cli::{Error, Result};
use kube::api::{Api, ListParams, ObjectList, PartialObjectMeta};
use serde::de::DeserializeOwned;

use crate::engine_pod::EnginePod;
use crate::error::from_kube;

/// Objects per list request, as kubectl's `--chunk-size` default.
pub const PAGE_SIZE: u32 = 500;

/// How many times a list restarts after its continue token expired before it gives up: each
/// restart reads from the first page again, so a server compacting faster than we read never ends.
pub const MAX_RESTARTS: u32 = 3;

/// One page of a list.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The list started over at this page: what earlier pages gave is of another snapshot.
    pub restarted: bool,
}

type Fetch<T> = Box<dyn Fn(ListParams) -> BoxFuture<'static, kube::Result<ObjectList<T>>> + Send + Sync>;

/// Reads a list page by page (see the module docs). A page size of 0 reads it in one request.
pub struct Pager<T: Clone> {
    fetch: Fetch<T>,
    params: ListParams,
    what: String,
    token: Option<String>,
    done: bool,
    restarts: u32,
    requests: u32,
}

impl<K> Pager<K>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    /// A pager over the objects of `api` with the selectors of `params`; `what` names the list in
    /// errors ("pods in all namespaces").
    pub fn objects(api: &Api<K>, params: &ListParams, page_size: u32, what: impl Into<String>) -> Self {
        let api = api.clone();
        let fetch: Fetch<K> = Box::new(move |params| {
            let api = api.clone();
            Box::pin(async move { api.list(&params).await })
        });
        Pager::with(fetch, params, page_size, what.into())
    }
}

impl<K> Pager<PartialObjectMeta<K>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    /// A pager over the metadata of the objects of `api` (`list_metadata`).
    pub fn metadata(api: &Api<K>, params: &ListParams, page_size: u32, what: impl Into<String>) -> Self {
        let api = api.clone();
        let fetch: Fetch<PartialObjectMeta<K>> = Box::new(move |params| {
            let api = api.clone();
            Box::pin(async move { api.list_metadata(&params).await })
        });
        Pager::with(fetch, params, page_size, what.into())
    }
}

impl<T: Clone> Pager<T> {
    fn with(fetch: Fetch<T>, params: &ListParams, page_size: u32, what: String) -> Self {
        let mut params = params.clone();
        params.limit = (page_size > 0).then_some(page_size);
        params.continue_token = None;
        Pager { fetch, params, what, token: None, done: false, restarts: 0, requests: 0 }
    }

    /// The next page, or `None` when the list is complete.
    pub async fn next(&mut self) -> Result<Option<Page<T>>> {
        if self.done {
            return Ok(None);
        }
        let mut restarted = false;
        loop {
            let mut params = self.params.clone();
            params.continue_token = self.token.clone();
            self.requests += 1;
            match (self.fetch)(params).await {
                Ok(list) => {
                    self.token = list.metadata.continue_.filter(|t| !t.is_empty());
                    self.done = self.token.is_none();
                    return Ok(Some(Page { items: list.items, restarted }));
                }
                Err(e) if self.token.is_some() && is_expired(&e) => {
                    if self.restarts >= MAX_RESTARTS {
                        return Err(Error::other(format!(
                            "listing {}: the list expired {} times while it was read (the API server compacted its \
                             storage faster than the pages came)",
                            self.what,
                            self.restarts + 1
                        ))
                        .with_hint("retry; a cluster under heavy write load compacts often"));
                    }
                    tracing::debug!("listing {}: continue token expired; restarting the list", self.what);
                    self.restarts += 1;
                    self.token = None;
                    restarted = true;
                }
                Err(e) => return Err(from_kube(e, format!("listing {}", self.what))),
            }
        }
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// Times the list started over after its continue token expired.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Every item, each turned by `keep` into what the caller holds (`None` drops it) page by
    /// page; one consistent snapshot even when a continue token expires.
    pub async fn kept<U>(mut self, mut keep: impl FnMut(T) -> Option<U>) -> Result<Vec<U>> {
        let mut kept = Vec::new();
        while let Some(page) = self.next().await? {
            if page.restarted {
                kept.clear();
            }
            kept.extend(page.items.into_iter().filter_map(&mut keep));
        }
        Ok(kept)
    }
}

/// Whether an error is the API server refusing an expired continue token (410 Gone, reason
/// Expired; "continue parameter is too old").
pub fn is_expired(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 410)
}

/// Every object of a list, in pages of [`PAGE_SIZE`].
pub async fn list_all<K>(api: &Api<K>, params: &ListParams, what: &str) -> Result<Vec<K>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    Pager::objects(api, params, PAGE_SIZE, what).kept(Some).await
}

/// The metadata of every object of a list, in pages of [`PAGE_SIZE`].
pub async fn list_all_metadata<K>(api: &Api<K>, params: &ListParams, what: &str) -> Result<Vec<PartialObjectMeta<K>>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    Pager::metadata(api, params, PAGE_SIZE, what).kept(Some).await
}

/// Where a namespaced kind is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every namespace: one cluster-wide list.
    All,
    /// These namespaces: one list per namespace, [`CONCURRENT_NAMESPACES`] at once.
    Each(&'a [String]),
    /// These namespaces, from one cluster-wide list filtered here (they are most of the cluster).
    Filtered(&'a [String]),
}

impl<'a> Scope<'a> {
    /// How to read `set` (every namespace when `None`) in a cluster of `cluster_namespaces`: one
    /// cluster-wide list filtered when the set is more than half of the cluster (a list per
    /// namespace then costs more requests than the objects it saves), else a list per namespace.
    pub fn choose(set: Option<&'a [String]>, cluster_namespaces: usize) -> Self {
        match set {
            None => Scope::All,
            Some(set) if set.len() * 2 > cluster_namespaces => Scope::Filtered(set),
            Some(set) => Scope::Each(set),
        }
    }
}

/// A namespaced kind as these lists read it (a kube-rs resource, deserialized, sent between tasks).
pub trait Namespaced:
    kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + 'static
{
}

impl<K> Namespaced for K where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static
{
}

/// Namespaces read at once when a command is about a set of them.
pub const CONCURRENT_NAMESPACES: usize = 4;

/// The objects of kind `K` in `scope`, in pages of `page_size`, each turned by `keep` page by page;
/// with [`Scope::Each`] in the order of the set.
pub async fn in_namespaces<K: Namespaced, T>(
    client: &kube::Client,
    scope: &Scope<'_>,
    page_size: u32,
    plural: &str,
    keep: impl Fn(K) -> Option<T>,
) -> Result<Vec<T>> {
    let pager = |api: Api<K>, what: String| Pager::objects(&api, &ListParams::default(), page_size, what);
    read_scope(client, scope, plural, &pager, keep).await
}

/// The pods of `scope` as the engine reads them ([`EnginePod`]), in pages of `page_size` asked
/// for in protobuf (see [`crate::engine_pod::protobuf`]), each turned by `keep` page by page.
pub async fn engine_pods_in_namespaces<T>(
    client: &kube::Client,
    scope: &Scope<'_>,
    page_size: u32,
    keep: impl Fn(EnginePod) -> Option<T>,
) -> Result<Vec<T>> {
    let pager = |api: Api<EnginePod>, what: String| Pager::engine_pods(&api, page_size, what);
    read_scope(client, scope, "pods", &pager, keep).await
}

impl Pager<EnginePod> {
    /// A pager over the pods of `api`, read by [`crate::engine_pod::list_page`].
    pub fn engine_pods(api: &Api<EnginePod>, page_size: u32, what: impl Into<String>) -> Self {
        let url = api.resource_url().to_string();
        let client = api.clone().into_client();
        let fetch: Fetch<EnginePod> = Box::new(move |params| {
            let (client, url) = (client.clone(), url.clone());
            Box::pin(async move { crate::engine_pod::list_page(&client, &url, &params).await })
        });
        Pager::with(fetch, &ListParams::default(), page_size, what.into())
    }
}

/// What [`in_namespaces`] does for any pager: `pager` makes the pager of one `Api` (all
/// namespaces, or one), named in errors by the string it is given.
async fn read_scope<K: Namespaced, T>(
    client: &kube::Client,
    scope: &Scope<'_>,
    plural: &str,
    pager: &dyn Fn(Api<K>, String) -> Pager<K>,
    keep: impl Fn(K) -> Option<T>,
) -> Result<Vec<T>> {
    let set = match *scope {
        Scope::All => {
            return pager(Api::<K>::all(client.clone()), format!("{plural} in all namespaces")).kept(keep).await;
        }
        Scope::Filtered(set) => {
            return pager(Api::<K>::all(client.clone()), format!("{plural} in all namespaces"))
                .kept(|object: K| {
                    let namespace = object.meta().namespace.as_deref().unwrap_or_default();
                    if set.iter().any(|ns| ns == namespace) { keep(object) } else { None }
                })
                .await;
        }
        Scope::Each(set) => set,
    };
    let keep = &keep;
    let lists = futures::stream::iter(set.iter().map(|ns| async move {
        pager(Api::<K>::namespaced(client.clone(), ns), format!("{plural} in namespace {ns}")).kept(keep).await
    }))
    .buffered(CONCURRENT_NAMESPACES)
    .collect::<Vec<_>>()
    .await;
    let mut all = Vec::new();
    for list in lists {
        all.extend(list?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use kube::api::TypeMeta;
    use kube::core::Status;
    use kube::core::response::StatusSummary;

    /// A scripted answer: a page (items, continue token) or an error's status code.
    type Answer = std::result::Result<(Vec<u32>, Option<&'static str>), u16>;

    /// Answers list requests from a script: each entry is the page for a request, or a 410.
    fn scripted(script: Vec<Answer>) -> (Fetch<u32>, Arc<Mutex<Vec<ListParams>>>) {
        let script = Arc::new(Mutex::new(script.into_iter()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let fetch: Fetch<u32> = Box::new(move |params| {
            log.lock().unwrap().push(params);
            let next = script.lock().unwrap().next().expect("no more requests scripted");
            Box::pin(async move {
                match next {
                    Ok((items, token)) => Ok(ObjectList {
                        types: TypeMeta::default(),
                        metadata: kube::api::ListMeta { continue_: token.map(String::from), ..Default::default() },
                        items,
                    }),
                    Err(code) => Err(kube::Error::Api(Box::new(Status {
                        status: Some(StatusSummary::Failure),
                        code,
                        message: "The provided continue parameter is too old".into(),
                        reason: "Expired".into(),
                        ..Default::default()
                    }))),
                }
            })
        });
        (fetch, seen)
    }

    #[tokio::test]
    async fn an_expired_token_restarts_the_list_and_drops_the_earlier_pages() {
        let (fetch, seen) =
            scripted(vec![Ok((vec![1, 2], Some("a"))), Err(410), Ok((vec![1, 3], Some("b"))), Ok((vec![4], None))]);
        let pager = Pager::with(fetch, &ListParams::default(), 2, "numbers".into());
        // 2 was deleted between the snapshots: it must not survive from the first one.
        assert_eq!(pager.kept(Some).await.unwrap(), [1, 3, 4]);
        let seen = seen.lock().unwrap();
        let tokens: Vec<Option<&str>> = seen.iter().map(|p| p.continue_token.as_deref()).collect();
        assert_eq!(tokens, [None, Some("a"), None, Some("b")]);
        assert!(seen.iter().all(|p| p.limit == Some(2)));
    }

    #[tokio::test]
    async fn restarts_are_bounded_and_other_errors_are_not_retried() {
        let mut script = vec![Ok((vec![1], Some("a")))];
        for _ in 0..=MAX_RESTARTS {
            script.push(Err(410));
            script.push(Ok((vec![1], Some("a"))));
        }
        let (fetch, _) = scripted(script);
        let err = Pager::with(fetch, &ListParams::default(), 1, "numbers".into()).kept(Some).await.unwrap_err();
        assert!(err.message.contains("expired"), "{}", err.message);

        // A 410 on the first page (no token) is the server's own error, not an expiry of ours.
        let (fetch, seen) = scripted(vec![Err(410)]);
        assert!(Pager::with(fetch, &ListParams::default(), 1, "numbers".into()).kept(Some).await.is_err());
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn most_of_the_cluster_is_one_filtered_list() {
        let set: Vec<String> = (0..6).map(|i| i.to_string()).collect();
        assert_eq!(Scope::choose(None, 10), Scope::All);
        assert_eq!(Scope::choose(Some(&set), 10), Scope::Filtered(&set));
        assert_eq!(Scope::choose(Some(&set[..5]), 10), Scope::Each(&set[..5]));
    }
}
