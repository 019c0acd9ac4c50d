//! The pods the plugins create, against the real API server (the tests play the kubelet): every one
//! takes `--image`, its default moves under `KUBE_HARDEN_IMAGE_REPOSITORY`, a flag that does not
//! apply is refused, and a pod whose image cannot be pulled ends the command at once, with the image
//! named, instead of at its timeout.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use harden_tests::{cluster, kubelet_cannot_pull, run, stderr, stdout};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use serde_json::Value;

/// Far below every command's own timeout: the failure must come from the pod's status.
const AT_ONCE: Duration = Duration::from_secs(30);

const MIRROR: &str = "mirror.kube-harden.local:5000/cache";

fn spawn(command: &mut Command) -> std::process::Child {
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

async fn finish(child: std::process::Child) -> Output {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    eprintln!("-- exit {:?}\n-- stdout\n{}-- stderr\n{}", out.status.code(), stdout(&out), stderr(&out));
    out
}

fn image_of(pod: &Pod) -> String {
    pod.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

/// A Node object (no kubelet behind it) for the pods pinned to a node.
async fn node(client: &kube::Client, name: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = Node { metadata: ObjectMeta { name: Some(name.into()), ..Default::default() }, ..Default::default() };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating node {name}: {e}"),
    }
}

/// The doctor's canary with `--image`: its pods use it, and a pull failure ends the run at once
/// (not after --timeout, 2 minutes by default) naming the image and both ways to choose another;
/// the canary namespace is deleted.
#[tokio::test]
async fn doctor_pods_take_the_image_and_a_pull_failure_is_reported_at_once() {
    let client = cluster().admin_client().await;
    let image = "registry.kube-harden.local/tools/busybox:1.36";
    let started = Instant::now();
    let child = spawn(cluster().plugin("netpol-deny").args(["doctor", "--image", image]));
    let pods = kubelet_cannot_pull(&client, None, "netpol-doctor=server", image, "ErrImagePull").await;
    let out = finish(child).await;
    assert!(started.elapsed() < AT_ONCE, "reported after {:?}", started.elapsed());
    assert_eq!(image_of(&pods[0]), image, "--image is the canary's image");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "pod {}/server cannot pull image {image} (container canary): ErrImagePull",
            pods[0].metadata.namespace.as_deref().unwrap()
        )),
        "{err}"
    );
    assert!(err.contains("--image") && err.contains("KUBE_HARDEN_IMAGE_REPOSITORY"), "{err}");
    assert!(!err.contains("raise --timeout"), "{err}");
    assert!(err.contains("deleted"), "the canary namespace is removed: {err}");
}

/// Without --image, the canary's default image moves under KUBE_HARDEN_IMAGE_REPOSITORY, path and tag
/// kept; a bad value of the setting is refused before anything is created.
#[tokio::test]
async fn doctor_default_image_moves_under_the_repository_setting() {
    let client = cluster().admin_client().await;
    let child = spawn(cluster().plugin("netpol-deny").args(["doctor"]).env("KUBE_HARDEN_IMAGE_REPOSITORY", MIRROR));
    // Found by its image: the canary's default, moved under the mirror.
    let expected = format!("{MIRROR}/library/busybox:1.36");
    kubelet_cannot_pull(&client, None, "netpol-doctor=server", &expected, "ImagePullBackOff").await;
    let out = finish(child).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("cannot pull image {expected}")), "{}", stderr(&out));

    let out = run(cluster().plugin("netpol-deny").args(["doctor"]).env("KUBE_HARDEN_IMAGE_REPOSITORY", "https://x"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KUBE_HARDEN_IMAGE_REPOSITORY=\"https://x\" is not a registry"), "{}", stderr(&out));
}

/// `block-metadata status --probe` in a namespace without a pod to probe from starts a helper pod
/// of `--image` (restricted, the plugin's label only), reports its pull failure at once with the
/// image named, and deletes it; `--image` without `--probe` is refused.
#[tokio::test]
async fn block_metadata_probe_helper_takes_the_image_and_is_removed() {
    let client = cluster().admin_client().await;
    let ns = cluster().namespace("bm-helper").await;
    let image = "registry.kube-harden.local/tools/busybox:1.36";
    let started = Instant::now();
    let child = spawn(cluster().plugin("block-metadata").args(["status", "-n", &ns, "--probe", "--image", image]));
    let selector = "app.kubernetes.io/managed-by=kubectl-block-metadata";
    let pods = kubelet_cannot_pull(&client, Some(&ns), selector, image, "ErrImagePull").await;
    let out = finish(child).await;
    assert!(started.elapsed() < AT_ONCE, "reported after {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2));
    let pod = &pods[0];
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels.len(), 1, "no workload's labels: {labels:?}");
    assert_eq!(pod.spec.as_ref().unwrap().security_context.as_ref().unwrap().run_as_non_root, Some(true));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot pull image {image} (container probe): ErrImagePull")), "{err}");
    assert!(err.contains(&format!("pod/{} deleted", pod.metadata.name.as_deref().unwrap())), "{err}");
    let left = Api::<Pod>::namespaced(client.clone(), &ns).list(&ListParams::default()).await.unwrap().items;
    assert!(left.is_empty(), "the helper is gone: {left:?}");

    // The default image under the setting.
    let child = spawn(
        cluster()
            .plugin("block-metadata")
            .args(["status", "-n", &ns, "--probe"])
            .env("KUBE_HARDEN_IMAGE_REPOSITORY", MIRROR),
    );
    let expected = format!("{MIRROR}/library/busybox:1.36");
    kubelet_cannot_pull(&client, Some(&ns), selector, &expected, "ErrImagePull").await;
    let out = finish(child).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("cannot pull image {expected}")), "{}", stderr(&out));

    let out = run(cluster().plugin("block-metadata").args(["status", "-n", &ns, "--image", image]));
    assert_eq!(out.status.code(), Some(2), "--image without --probe does not apply");
    assert!(stderr(&out).contains("--probe"), "{}", stderr(&out));
}

/// `verify-bin --node`: the hashing pod takes `--image`, a pull failure is known at once (it used to
/// wait 120 s in `kubectl wait`), the pod is deleted afterwards (by uid, through the API), and
/// `--image` without `--node` is refused.
#[tokio::test]
async fn verify_bin_node_pod_takes_the_image_and_reports_a_pull_failure_at_once() {
    let client = cluster().admin_client().await;
    let ns = cluster().namespace("vb-image").await;
    node(&client, "vb-image-node").await;
    let image = "registry.kube-harden.local/tools/busybox:1.36";
    let started = Instant::now();
    let child = spawn(cluster().plugin("verify-bin").args([
        "--node",
        "vb-image-node",
        "kubelet",
        "-n",
        &ns,
        "--image",
        image,
        "--checksum",
        &"0".repeat(64),
        "--version",
        "v1.37.2",
    ]));
    kubelet_cannot_pull(
        &client,
        Some(&ns),
        "app.kubernetes.io/managed-by=kubectl-verify-bin",
        image,
        "ImagePullBackOff",
    )
    .await;
    let out = finish(child).await;
    assert!(started.elapsed() < AT_ONCE, "reported after {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot pull image {image} (container hash): ImagePullBackOff")), "{err}");
    assert!(err.contains("KUBE_HARDEN_IMAGE_REPOSITORY"), "{err}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let selector = ListParams::default().labels("app.kubernetes.io/managed-by=kubectl-verify-bin");
    let left = pods.list(&selector).await.unwrap();
    assert!(
        left.items.iter().all(|p| p.metadata.deletion_timestamp.is_some()),
        "the hashing pod is deleted: {:?}",
        left.items.iter().map(|p| &p.metadata.name).collect::<Vec<_>>()
    );

    let out = run(cluster().plugin("verify-bin").args(["--image", image, "/bin/sh"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--image only applies with --node or --all-nodes"), "{}", stderr(&out));
}

/// `verify-bin --node` as a user who may make the hashing pod but not delete it: the delete is
/// refused, and verify-bin says so with the command that removes the pod it made (the pod is left,
/// not lost silently).
#[tokio::test]
async fn verify_bin_says_how_to_delete_a_hashing_pod_it_could_not() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    let client = cluster().admin_client().await;
    let ns = cluster().namespace("vb-nodelete").await;
    node(&client, "vb-nodelete-node").await;
    let user = format!("vb-nodelete-{}", std::process::id());
    let subjects = serde_json::json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]);
    let nodes: ClusterRole = serde_json::from_value(serde_json::json!({"metadata": {"name": user},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]}))
    .unwrap();
    Api::<ClusterRole>::all(client.clone()).create(&PostParams::default(), &nodes).await.unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({"metadata": {"name": user},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user}, "subjects": subjects}))
    .unwrap();
    Api::<ClusterRoleBinding>::all(client.clone()).create(&PostParams::default(), &binding).await.unwrap();
    let pods: Role = serde_json::from_value(serde_json::json!({"metadata": {"name": "hashing-no-delete"},
        "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["create", "get", "list", "watch"]}]}))
    .unwrap();
    Api::<Role>::namespaced(client.clone(), &ns).create(&PostParams::default(), &pods).await.unwrap();
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({"metadata": {"name": "hashing-no-delete"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "hashing-no-delete"},
        "subjects": subjects}))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &ns).create(&PostParams::default(), &binding).await.unwrap();

    let image = "registry.kube-harden.local/tools/busybox:1.36";
    let child = spawn(cluster().plugin("verify-bin").args([
        "--node",
        "vb-nodelete-node",
        "kubelet",
        "-n",
        &ns,
        "--as",
        &user,
        "--image",
        image,
        "--checksum",
        &"0".repeat(64),
        "--version",
        "v1.37.2",
    ]));
    let made = kubelet_cannot_pull(
        &client,
        Some(&ns),
        "app.kubernetes.io/managed-by=kubectl-verify-bin",
        image,
        "ErrImagePull",
    )
    .await;
    let out = finish(child).await;
    assert_eq!(out.status.code(), Some(2));
    let name = made[0].metadata.name.clone().unwrap();
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot pull image {image}")), "the wait's error: {err}");
    assert!(err.contains(&format!("deleting pod {ns}/{name}: forbidden")), "{err}");
    assert!(err.contains(&format!("delete it with: kubectl delete pod {name} -n {ns}")), "{err}");
    let left: Api<Pod> = Api::namespaced(client.clone(), &ns);
    assert!(left.get_opt(&name).await.unwrap().is_some(), "the pod is still there, as said");
}

/// cis-bench: `--image` is the Job's, the default moves under the setting (a client dry run prints
/// the Job without a cluster).
#[test]
fn cis_bench_job_takes_the_image_and_the_setting() {
    let job_image = |out: &Output| {
        let job: Value = serde_yaml::from_str(&stdout(out)).unwrap();
        job["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap().to_string()
    };
    let dry = ["run", "--dry-run", "-n", "bench", "--node", "n1", "--targets", "node", "--benchmark", "cis-1.12"];
    let out = run(harden_tests::plugin_command("cis-bench").args(dry).env("KUBE_HARDEN_IMAGE_REPOSITORY", MIRROR));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let image = job_image(&out);
    assert!(image.starts_with(&format!("{MIRROR}/aquasec/kube-bench:v")), "{image}");
    let out = run(harden_tests::plugin_command("cis-bench").args(dry).args(["--image", "r.local/kb:v1"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(job_image(&out), "r.local/kb:v1");
}

/// cks-practice: `--image` is the scenario pods' (and scenario 6's Dashboard's), refused where the
/// scenario creates no pods.
#[tokio::test]
async fn cks_practice_scenario_pods_take_the_image() {
    let image = "registry.kube-harden.local/e2e/agnhost:2.53";
    let out =
        run(cluster().plugin("cks-practice").args(["start", "default-deny", "--seed", "424242", "--image", image]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let client = cluster().admin_client().await;
    let pods = Api::<Pod>::all(client)
        .list(&ListParams::default().labels("cks-practice.kube-harden.io/run=default-deny-424242"))
        .await
        .unwrap()
        .items;
    assert!(!pods.is_empty());
    assert!(pods.iter().all(|p| image_of(p) == image), "{:?}", pods.iter().map(image_of).collect::<Vec<_>>());
    let out = run(cluster().plugin("cks-practice").args(["reset", "--run", "default-deny-424242"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run(cluster().plugin("cks-practice").args(["start", "tampered-binary", "--seed", "1", "--image", image]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--image does not apply to tampered-binary: it creates no pods"), "{}", stderr(&out));
}

/// `can-reach --no-listener` without `--probe`, and `probe -o yaml` naming the kinds, are checked by
/// the parser and the node tier; here: a flag that does not apply is refused.
#[test]
fn probe_flags_that_do_not_apply_are_refused() {
    let out = run(harden_tests::plugin_command("netpol-deny").args([
        "can-reach",
        "--from",
        "a/b",
        "--to",
        "a/c",
        "--no-listener",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--probe"), "{}", stderr(&out));
}
