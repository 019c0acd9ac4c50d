//! The common apply path against the real API server: create, unchanged, dry-run, Forbidden,
//! and leaving objects we do not manage alone.

use harden_cli::error::ErrorKind;
use harden_kube::MANAGED_BY_LABEL;
use harden_kube::apply::{Action, Applier, Object};
use harden_kube::flags::{ApplyArgs, DryRun};
use harden_tests::cluster;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use kube::api::{Api, ObjectMeta, PostParams};

fn deny_all(namespace: &str, name: &str, types: &[&str]) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some(namespace.into()), ..Default::default() },
        spec: Some(NetworkPolicySpec {
            policy_types: Some(types.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        }),
    }
}

fn applier(client: kube::Client, args: ApplyArgs) -> Applier {
    Applier::new("kubectl-foundation-test", args, Some(client))
}

#[tokio::test]
async fn server_side_apply_creates_then_is_unchanged_then_dry_run_changes_nothing() {
    let cluster = cluster();
    let ns = cluster.namespace("foundation").await;
    let client = cluster.admin_client().await;
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);

    let object = || Object::from_typed(&deny_all(&ns, "default-deny", &["Ingress"])).unwrap();
    let first = applier(client.clone(), ApplyArgs::default()).run(vec![object()]).await.unwrap();
    assert_eq!(first[0].action, Action::Created);
    assert_eq!(first[0].name, "networkpolicy.networking.k8s.io/default-deny");

    let stored = api.get("default-deny").await.unwrap();
    assert_eq!(stored.metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL], "kubectl-foundation-test");
    assert_eq!(stored.spec.as_ref().unwrap().policy_types.as_deref(), Some(&["Ingress".to_string()][..]));
    let fields = stored.metadata.managed_fields.as_ref().unwrap();
    assert!(fields.iter().any(|f| f.manager.as_deref() == Some("kubectl-foundation-test") && f.operation.as_deref() == Some("Apply")));

    let again = applier(client.clone(), ApplyArgs::default()).run(vec![object()]).await.unwrap();
    assert_eq!(again[0].action, Action::Unchanged);
    assert_eq!(api.get("default-deny").await.unwrap().metadata.resource_version, stored.metadata.resource_version);

    let changed = Object::from_typed(&deny_all(&ns, "default-deny", &["Ingress", "Egress"])).unwrap();
    let args = ApplyArgs { dry_run: DryRun::Server, ..Default::default() };
    let dry = applier(client.clone(), args).run(vec![changed]).await.unwrap();
    assert_eq!(dry[0].action, Action::Configured);
    let types = dry[0].object.data["spec"]["policyTypes"].as_array().unwrap().len();
    assert_eq!(types, 2, "the server's dry-run answer shows the change");
    let after = api.get("default-deny").await.unwrap();
    assert_eq!(after.metadata.resource_version, stored.metadata.resource_version, "dry run stored nothing");
    assert_eq!(after.spec.unwrap().policy_types.unwrap(), ["Ingress"]);

    let created_dry = Object::from_typed(&deny_all(&ns, "never-stored", &["Egress"])).unwrap();
    let args = ApplyArgs { dry_run: DryRun::Server, ..Default::default() };
    applier(client.clone(), args).run(vec![created_dry]).await.unwrap();
    assert!(api.get_opt("never-stored").await.unwrap().is_none());
}

#[tokio::test]
async fn server_rejects_an_invalid_object_with_its_own_message() {
    let cluster = cluster();
    let ns = cluster.namespace("foundation").await;
    let client = cluster.admin_client().await;
    let bad = Object::from_typed(&deny_all(&ns, "bad", &["Sideways"])).unwrap();
    let err = applier(client, ApplyArgs::default()).run(vec![bad]).await.unwrap_err();
    assert!(err.message.contains("Sideways"), "{err}");
    assert!(err.message.contains("networkpolicy.networking.k8s.io/bad in namespace"), "{err}");
}

#[tokio::test]
async fn non_admin_gets_a_clear_forbidden_error() {
    let cluster = cluster();
    let ns = cluster.namespace("foundation").await;
    let client = cluster.user_client().await;
    let object = Object::from_typed(&deny_all(&ns, "default-deny", &["Ingress"])).unwrap();
    let err = applier(client, ApplyArgs::default()).run(vec![object]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden);
    let text = err.to_string();
    assert!(text.contains("User \"dev\""), "{text}");
    assert!(text.contains("networkpolicies"), "{text}");
    assert!(text.contains(&ns), "{text}");
    assert!(text.contains("hint:"), "{text}");
}

#[tokio::test]
async fn objects_we_do_not_manage_are_not_overwritten_without_overwrite() {
    let cluster = cluster();
    let ns = cluster.namespace("foundation").await;
    let client = cluster.admin_client().await;
    let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), &ns);
    api.create(&PostParams::default(), &deny_all(&ns, "theirs", &["Egress"])).await.unwrap();
    let before = api.get("theirs").await.unwrap();

    let ours = || Object::from_typed(&deny_all(&ns, "theirs", &["Ingress"])).unwrap();
    let err = applier(client.clone(), ApplyArgs::default()).run(vec![ours()]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.to_string().contains("--overwrite"), "{err}");
    assert_eq!(api.get("theirs").await.unwrap().metadata.resource_version, before.metadata.resource_version);

    let args = ApplyArgs { overwrite: true, force_conflicts: true, ..Default::default() };
    let done = applier(client, args).run(vec![ours()]).await.unwrap();
    assert_eq!(done[0].action, Action::Configured);
    let after = api.get("theirs").await.unwrap();
    assert!(after.spec.unwrap().policy_types.unwrap().contains(&"Ingress".to_string()));
}
