//! Where block-metadata's probes run from: a Running pod of the namespace that has sh and nc, or a
//! short-lived helper pod this run creates (and always deletes) where there is none.

/// How long a helper pod may take to run.
pub const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The helper pod of a namespace without a pod to probe from: the plugin's label only (no workload's
/// labels, so no Service sends it traffic and only namespace-wide policies select it), restricted
/// Pod Security, gone on its own after 10 minutes.
pub fn helper_pod(namespace: &str, name: &str, image: &str) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {harden_kube::MANAGED_BY_LABEL: crate::PLUGIN}},
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 600,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65534, "runAsGroup": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "probe", "image": image, "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", "exec sleep 600"],
                            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                                "capabilities": {"drop": ["ALL"]}}}]
        }
    }))
    .expect("the helper pod is a valid Pod")
}

/// A pod of the namespace to probe from: Running, not hostNetwork, with sh and nc.
pub async fn probing_pod(
    prober: &harden_kube::probe::Prober,
    client: &kube::Client,
    name: &str,
) -> harden_cli::Result<Option<k8s_openapi::api::core::v1::Pod>> {
    use k8s_openapi::api::core::v1::Pod;
    let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), name);
    let candidates = harden_kube::list::Pager::objects(
        &api,
        &Default::default(),
        harden_kube::list::PAGE_SIZE,
        format!("pods in namespace {name}"),
    )
    .kept(|p: Pod| {
        let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            && !p.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
        running.then_some(p)
    })
    .await?;
    // A few tries: a namespace of distroless pods should not cost an exec per pod.
    for pod in candidates.into_iter().take(3) {
        if prober.can_probe_from(&pod).await.is_ok() {
            return Ok(Some(pod));
        }
    }
    Ok(None)
}

/// Deletes a helper pod this run created, saying so.
pub async fn delete_helper(api: &kube::Api<k8s_openapi::api::core::v1::Pod>, namespace: &str, name: &str) {
    let params = kube::api::DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    match api.delete(name, &params).await {
        Ok(_) => harden_cli::output::eline(format!("pod/{name} deleted from namespace {namespace}")),
        Err(e) => harden_cli::output::eline(format!(
            "error: could not delete pod {name} in namespace {namespace} ({e}); delete it with: kubectl delete pod {name} -n {namespace}"
        )),
    }
}

/// Creates the helper pod `name` and waits until it runs. A failure, or SIGINT/SIGTERM while
/// waiting (call it inside a [`harden_cli::interrupt::Critical`] section), deletes it again.
pub async fn start_helper(
    api: &kube::Api<k8s_openapi::api::core::v1::Pod>,
    namespace: &str,
    name: &str,
    image: &str,
) -> harden_cli::Result<k8s_openapi::api::core::v1::Pod> {
    use harden_kube::pods::{Until, Wait, wait_for};
    let params = kube::api::PostParams { field_manager: Some(crate::PLUGIN.into()), ..Default::default() };
    api.create(&params, &helper_pod(namespace, name, image)).await.map_err(|e| {
        harden_kube::error::from_kube(e, format!("creating the probe's helper pod in namespace {namespace}"))
    })?;
    harden_cli::output::eline(format!(
        "pod/{name} created in namespace {namespace} (image {image}; no pod there has sh and nc to probe from)"
    ));
    let wait = Wait {
        until: Until::Running,
        timeout: HELPER_TIMEOUT,
        pull_hint: harden_cli::images::pull_hint("it needs sh and nc, as busybox has"),
        timeout_flag: None,
    };
    let signalled = async {
        while !harden_cli::interrupt::requested() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let names = [name];
    let ran = tokio::select! {
        ran = wait_for(api, &names, &wait) => ran,
        () = signalled => Err(harden_cli::Error::other(format!(
            "interrupted by {}", harden_cli::interrupt::received_name().unwrap_or("a signal")
        ))),
    };
    match ran {
        Ok(mut pods) => Ok(pods.remove(0)),
        Err(e) => {
            delete_helper(api, namespace, name).await;
            Err(e)
        }
    }
}
