//! Paged lists against the real API server (shared/kube's `list` module, through which every
//! plugin lists): several pages give what one page gives, and a continue token that expired for
//! real (etcd compacted between two pages) restarts the list rather than failing or mixing
//! snapshots.

use harden_kube::list::{PAGE_SIZE, Pager};
use harden_kube::sources::{list_namespaces, read_objects};
use harden_tests::cluster;
use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplate};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, ListParams, PostParams};
use netpol::{Endpoint, PortQuery};

async fn create_pods_and_policies(client: &kube::Client, ns: &str, pods: usize, policies: usize) {
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), ns);
    for i in 0..pods {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("pod-{i}"), "labels": {"app": format!("app-{}", i % 2)}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "ports": [{"containerPort": 8080 + i as i32, "name": "web"}]}]}
        }))
        .unwrap();
        pod_api.create(&PostParams::default(), &pod).await.unwrap();
    }
    let policy_api: Api<NetworkPolicy> = Api::namespaced(client.clone(), ns);
    for i in 0..policies {
        let policy: NetworkPolicy = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("policy-{i}")},
            "spec": {"podSelector": {"matchLabels": {"app": format!("app-{}", i % 2)}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "app-0"}}}],
                                  "ports": [{"port": 8080 + i as i32}]}]}
        }))
        .unwrap();
        policy_api.create(&PostParams::default(), &policy).await.unwrap();
    }
}

fn only(namespaces: Vec<Namespace>, mine: &[String]) -> Vec<Namespace> {
    namespaces.into_iter().filter(|n| n.metadata.name.as_ref().is_some_and(|n| mine.contains(n))).collect()
}

#[tokio::test]
async fn several_pages_give_the_same_objects_and_answers_as_one_page() {
    let cluster = cluster();
    let client = cluster.admin_client().await;
    let mut mine = Vec::new();
    for _ in 0..3 {
        let ns = cluster.namespace("paging").await;
        create_pods_and_policies(&client, &ns, 5, 3).await;
        mine.push(ns);
    }
    mine.sort();

    // The pages are real: 5 pods at 2 a page are 3 requests, each with a continue token but the last.
    let api: Api<Pod> = Api::namespaced(client.clone(), &mine[0]);
    let mut pager = Pager::objects(&api, &ListParams::default(), 2, "pods");
    let mut sizes = Vec::new();
    while let Some(page) = pager.next().await.unwrap() {
        assert!(!page.restarted);
        sizes.push(page.items.len());
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(pager.requests(), 3);

    // Namespaces at 2 a page (the cluster has dozens: many pages) and in one request.
    let paged = only(list_namespaces(&client, 2).await.unwrap(), &mine);
    let whole = only(list_namespaces(&client, 0).await.unwrap(), &mine);
    assert_eq!(format!("{paged:?}"), format!("{whole:?}"));
    assert_eq!(paged.len(), 3);

    // The engine's input, read one list per namespace (3 of many namespaces) and from one
    // cluster-wide list filtered (3 of 3 listed), at 2 a page and in one page: the same objects
    // in the same order, so the same answers.
    let mut inputs = Vec::new();
    for listed in [list_namespaces(&client, 0).await.unwrap(), whole.clone()] {
        for page_size in [0, 2, PAGE_SIZE] {
            let objects = read_objects(&client, listed.clone(), Some(&mine), page_size, &mine[0]).await.unwrap();
            assert_eq!(objects.pods.len(), 15);
            assert_eq!(objects.policies.len(), 9);
            let cluster = netpol::Cluster::build(&objects).unwrap();
            let from = cluster.find_pod(&mine[1], "pod-1").unwrap();
            let to = cluster.find_pod(&mine[1], "pod-2").unwrap();
            let verdict = cluster.check(Endpoint::Pod(from), Endpoint::Pod(to), &PortQuery::tcp(8082));
            inputs.push((format!("{:?}", (&objects.pods, &objects.policies)), format!("{verdict:?}")));
        }
    }
    assert!(inputs.iter().all(|i| *i == inputs[0]), "the pages changed the input or the answer");
    // The answer is a real one: pod-1 (app-1) is not allowed by policy-2 (from app-0 only).
    assert!(inputs[0].1.contains("allowed: false"), "{}", inputs[0].1);
}

#[tokio::test]
async fn a_continue_token_expired_by_etcd_compaction_restarts_the_list() {
    let cluster = cluster();
    let client = cluster.admin_client().await;
    let ns = cluster.namespace("paging-expired").await;
    // PodTemplates: the kind the test API server does not cache (see tests/src/controlplane.rs),
    // so its pages come from etcd as on a server without watch-cache snapshots; the pager is the
    // same for every kind.
    let api: Api<PodTemplate> = Api::namespaced(client.clone(), &ns);
    for i in 0..5 {
        let template: PodTemplate = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("template-{i}")},
            "template": {"spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
        }))
        .unwrap();
        api.create(&PostParams::default(), &template).await.unwrap();
    }

    // A raw list's first page and its token, to show the expiry is real.
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    let token = first.metadata.continue_.clone().expect("a continue token");

    let mut pager = Pager::objects(&api, &ListParams::default(), 2, "podtemplates");
    let mut names: Vec<String> = Vec::new();
    let page = pager.next().await.unwrap().unwrap();
    names.extend(page.items.into_iter().filter_map(|p| p.metadata.name));
    assert_eq!(names, ["template-0", "template-1"]);

    // A write after the lists began (a template deleted), then etcd compacted up to it: the
    // lists' revision is gone.
    api.delete("template-1", &Default::default()).await.unwrap();
    let compacted = cluster.compact_etcd();
    assert!(compacted > 0);
    match api.list(&ListParams::default().limit(2).continue_token(&token)).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 410, "{status:?}");
            assert!(status.message.contains("too old"), "{}", status.message);
        }
        Err(other) => panic!("the continue token failed otherwise: {other}"),
        Ok(list) => panic!("the continue token did not expire: {:?}", list.metadata),
    }

    // The pager starts over from the first page, of the new snapshot: template-1 is gone, and
    // nothing of the first snapshot is kept ...
    let page = pager.next().await.unwrap().unwrap();
    assert!(page.restarted, "the pager did not say it restarted");
    names.clear();
    names.extend(page.items.into_iter().filter_map(|p| p.metadata.name));
    while let Some(page) = pager.next().await.unwrap() {
        assert!(!page.restarted);
        names.extend(page.items.into_iter().filter_map(|p| p.metadata.name));
    }
    assert_eq!(names, ["template-0", "template-2", "template-3", "template-4"]);
    assert_eq!(pager.restarts(), 1);
    assert_eq!(pager.requests(), 4, "first page, the expired continue, then two pages");

    // ... and the same through `kept`, which every list of the suite uses: a token expired
    // between its pages cannot be forced from outside it, so this checks it reads the whole list.
    let kept = Pager::objects(&api, &ListParams::default(), 2, "podtemplates")
        .kept(|t: PodTemplate| t.metadata.name)
        .await
        .unwrap();
    assert_eq!(kept, names);
}
