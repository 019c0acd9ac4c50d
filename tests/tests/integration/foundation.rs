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

/// `-v 6` / `--v=6` as kubectl: each request the plugin makes, with its status and time, on stderr.
#[tokio::test]
async fn verbosity_6_logs_every_request_like_kubectl() {
    let cluster = harden_tests::cluster();
    let ns = cluster.namespace("verbose").await;
    for flag in [["--v=6"].as_slice(), ["-v", "6"].as_slice()] {
        let out = harden_tests::run(cluster.plugin("netpol-deny").args(["list", "-n", &ns]).args(flag));
        assert_eq!(out.status.code(), Some(0), "{}", harden_tests::stderr(&out));
        let err = harden_tests::stderr(&out);
        let request = format!("GET /apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies");
        assert!(err.lines().any(|l| l.contains(&request) && l.contains(" 200 OK in ")), "{flag:?}: {err}");
    }
    let quiet = harden_tests::run(cluster.plugin("netpol-deny").args(["list", "-n", &ns]));
    assert!(!harden_tests::stderr(&quiet).contains("GET "), "{}", harden_tests::stderr(&quiet));
}

/// A kubeconfig with `proxy-url` goes through that proxy (here an HTTP CONNECT proxy of the test's
/// own, which records the tunnel it was asked for), as kubectl does.
#[tokio::test]
async fn a_kubeconfig_proxy_url_is_used() {
    use std::io::{BufRead, BufReader, Write};
    let cluster = harden_tests::cluster();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                log.lock().unwrap().push(first.trim().to_string());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let Ok(upstream) = std::net::TcpStream::connect(&target) else { return };
                let mut client = stream;
                client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap();
                let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
                let mut client_read = client.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_read, &mut up_write);
                });
                let _ = std::io::copy(&mut up_read, &mut client);
            });
        }
    });
    let original = std::fs::read_to_string(cluster.admin_kubeconfig()).unwrap();
    let mut config: serde_yaml::Value = serde_yaml::from_str(&original).unwrap();
    config["clusters"][0]["cluster"]["proxy-url"] = serde_yaml::Value::String(proxy.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&config).unwrap()).unwrap();
    let out = harden_tests::run(cluster.plugin("netpol-deny").args(["list", "-n", "default"]).env("KUBECONFIG", &path));
    assert_eq!(out.status.code(), Some(0), "{}", harden_tests::stderr(&out));
    let host = cluster.server().trim_start_matches("https://").to_string();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|l| l == &format!("CONNECT {host} HTTP/1.1")), "the proxy saw {seen:?}");
}
