//! `kubectl tls-ingress` against the real API server: the seed's t75 example end to end, inspect's
//! verdicts on broken Secrets, ownership of existing Secrets, and the offline dry-run path.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use harden_kube::MANAGED_BY_LABEL;
use harden_tests::{cluster, plugin_command, run, stderr, stdout};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass, IngressClassSpec, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const PLUGIN: &str = "kubectl-tls-ingress";
const HOST: &str = "accounting.internal.acme.com";

fn t75_create(ns: &str) -> Command {
    let mut command = cluster().plugin("tls-ingress");
    command.args([
        "create",
        "accounting-ingress",
        "-n",
        ns,
        "--host",
        HOST,
        "--service",
        "accounting-service:80",
        "--secret",
        "accounting-secret",
    ]);
    command
}

fn inspect(ns: &str) -> Command {
    let mut command = cluster().plugin("tls-ingress");
    command.args(["inspect", "-n", ns]);
    command
}

/// What a controller does when it admits an Ingress: it records its address in the status.
async fn give_address(ns: &str, name: &str, ip: &str) {
    let api: Api<Ingress> = Api::namespaced(cluster().admin_client().await, ns);
    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

/// One IngressClass per test binary, marked as the cluster default, as an ingress-nginx install leaves it.
async fn default_class() {
    let api: Api<IngressClass> = Api::all(cluster().admin_client().await);
    let class = IngressClass {
        metadata: ObjectMeta {
            name: Some("nginx".into()),
            annotations: Some(BTreeMap::from([(
                "ingressclass.kubernetes.io/is-default-class".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(IngressClassSpec { controller: Some("k8s.io/ingress-nginx".into()), parameters: None }),
    };
    match api.create(&PostParams::default(), &class).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("creating the IngressClass: {e}"),
    }
}

struct Pair {
    cert: String,
    key: String,
}

fn self_signed(host: &str, not_before_days: i64, not_after_days: i64) -> Pair {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![host.to_string()]).unwrap();
    // rcgen takes `time` dates; SystemTime converts into them without naming that crate here.
    let at = |days: i64| {
        let offset = std::time::Duration::from_secs(days.unsigned_abs() * 86_400);
        let now = std::time::SystemTime::now();
        if days < 0 { now - offset } else { now + offset }
    };
    params.not_before = at(not_before_days).into();
    params.not_after = at(not_after_days).into();
    let cert = params.self_signed(&key).unwrap();
    Pair { cert: cert.pem(), key: key.serialize_pem() }
}

/// A TLS Secret and an Ingress made by hand (not by the plugin), with a class and an address, so
/// that inspect's verdict depends only on the certificate.
async fn hand_made(ns: &str, name: &str, host: &str, pair: &Pair) {
    let client = cluster().admin_client().await;
    // The backend exists, so that inspect's verdict depends only on the certificate.
    if Api::<Service>::namespaced(client.clone(), ns).get_opt("web").await.unwrap().is_none() {
        service(ns, "web", "http", 80).await;
    }
    let secret = Secret {
        metadata: ObjectMeta { name: Some(format!("{name}-tls")), ..Default::default() },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_string(), ByteString(pair.cert.clone().into_bytes())),
            ("tls.key".to_string(), ByteString(pair.key.clone().into_bytes())),
        ])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns).create(&PostParams::default(), &secret).await.unwrap();
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: "web".into(),
            port: Some(ServiceBackendPort { number: Some(80), name: None }),
        }),
        resource: None,
    };
    let ingress = Ingress {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: Some(IngressSpec {
            ingress_class_name: Some("nginx".into()),
            tls: Some(vec![IngressTLS { hosts: Some(vec![host.into()]), secret_name: Some(format!("{name}-tls")) }]),
            rules: Some(vec![IngressRule {
                host: Some(host.into()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath { path: Some("/".into()), path_type: "Prefix".into(), backend }],
                }),
            }]),
            default_backend: None,
        }),
        status: None,
    };
    Api::<Ingress>::namespaced(client, ns).create(&PostParams::default(), &ingress).await.unwrap();
    give_address(ns, name, "10.0.0.9").await;
}

#[tokio::test]
async fn t75_example_creates_both_objects_is_unchanged_on_rerun_and_inspects_healthy() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("t75").await;
    accounting_service(&ns).await;
    let client = cluster.admin_client().await;

    let first = run(&mut t75_create(&ns));
    assert_eq!(first.status.code(), Some(0));
    let out = stdout(&first);
    assert!(out.contains(&format!("secret/accounting-secret created in namespace {ns}\n")), "{out}");
    assert!(
        out.contains(&format!("ingress.networking.k8s.io/accounting-ingress created in namespace {ns}\n")),
        "{out}"
    );
    assert!(out.contains("certificate: self-signed ECDSA P-256, hosts accounting.internal.acme.com"), "{out}");
    assert!(!out.contains("PRIVATE KEY") && !stderr(&first).contains("PRIVATE KEY"), "the key is never printed");

    let secret = Api::<Secret>::namespaced(client.clone(), &ns).get("accounting-secret").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    assert_eq!(secret.metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL], PLUGIN);
    let data = secret.data.unwrap();
    assert!(String::from_utf8_lossy(&data["tls.crt"].0).starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(String::from_utf8_lossy(&data["tls.key"].0).starts_with("-----BEGIN PRIVATE KEY-----"));

    let ingress = Api::<Ingress>::namespaced(client.clone(), &ns).get("accounting-ingress").await.unwrap();
    let spec = serde_json::to_value(ingress.spec.unwrap()).unwrap();
    assert_eq!(spec["ingressClassName"], "nginx", "the cluster's default class is used");
    assert_eq!(spec["tls"], json!([{"hosts": [HOST], "secretName": "accounting-secret"}]));
    assert_eq!(spec["rules"][0]["host"], HOST);
    assert_eq!(
        spec["rules"][0]["http"]["paths"][0]["backend"]["service"],
        json!({"name": "accounting-service", "port": {"number": 80}})
    );

    let again = run(&mut t75_create(&ns));
    assert_eq!(again.status.code(), Some(0));
    let out = stdout(&again);
    assert!(out.contains(&format!("secret/accounting-secret unchanged in namespace {ns}\n")), "{out}");
    assert!(
        out.contains(&format!("ingress.networking.k8s.io/accounting-ingress unchanged in namespace {ns}\n")),
        "{out}"
    );

    // No controller runs here: until one records an address, inspect reports the seed's failure.
    let pending = run(&mut inspect(&ns));
    assert_eq!(pending.status.code(), Some(1));
    assert!(stdout(&pending).contains("no address"), "{}", stdout(&pending));

    give_address(&ns, "accounting-ingress", "10.102.150.36").await;
    let healthy = run(&mut inspect(&ns));
    assert_eq!(healthy.status.code(), Some(0), "{}", stdout(&healthy));
    let table = stdout(&healthy);
    assert!(table.contains("accounting-ingress") && table.contains("accounting-secret"), "{table}");
    assert!(table.contains("364d") && table.contains("10.102.150.36"), "{table}");
    assert!(!table.contains("FINDINGS"), "{table}");

    let json_out = run(cluster.plugin("tls-ingress").args(["inspect", "accounting-ingress", "-n", &ns, "-o", "json"]));
    assert_eq!(json_out.status.code(), Some(0));
    let report: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert_eq!(report["healthy"], true);
    assert_eq!(report["ingresses"][0]["tls"][0]["certificate"]["self_signed"], true);
    let yaml_out = run(cluster.plugin("tls-ingress").args(["inspect", "accounting-ingress", "-n", &ns, "-o", "yaml"]));
    assert_eq!(yaml_out.status.code(), Some(0));
    let from_yaml: Value = serde_yaml::from_str(&stdout(&yaml_out)).unwrap();
    assert_eq!(from_yaml, report, "-o yaml is the same document as -o json");

    // --wait with an address present prints it and the /etc/hosts line.
    let waited = run(t75_create(&ns).args(["--wait", "--timeout", "20s"]));
    assert_eq!(waited.status.code(), Some(0));
    let out = stdout(&waited);
    assert!(out.contains("address: 10.102.150.36\n"), "{out}");
    assert!(out.contains("\n10.102.150.36 accounting.internal.acme.com\n"), "{out}");

    // rotate puts a new certificate for the same host into the same Secret.
    let before = data["tls.crt"].clone();
    let rotated = run(cluster.plugin("tls-ingress").args(["rotate", "accounting-ingress", "-n", &ns, "--days", "90"]));
    assert_eq!(rotated.status.code(), Some(0));
    assert!(stdout(&rotated).contains("secret/accounting-secret configured"), "{}", stdout(&rotated));
    let after = Api::<Secret>::namespaced(client, &ns).get("accounting-secret").await.unwrap();
    assert_ne!(after.data.unwrap()["tls.crt"], before);
    let healthy = run(&mut inspect(&ns));
    assert_eq!(healthy.status.code(), Some(0));
    assert!(stdout(&healthy).contains("89d"), "{}", stdout(&healthy));
}

#[tokio::test]
async fn inspect_fails_on_a_mismatched_key_and_an_expired_certificate() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-bad").await;

    let good = self_signed("good.acme.com", -1, 200);
    hand_made(&ns, "good", "good.acme.com", &good).await;
    let ok = run(cluster.plugin("tls-ingress").args(["inspect", "good", "-n", &ns]));
    assert_eq!(ok.status.code(), Some(0), "a healthy hand-made Ingress passes");

    let other = self_signed("mixed.acme.com", -1, 200);
    let mixed = Pair { cert: self_signed("mixed.acme.com", -1, 200).cert, key: other.key };
    hand_made(&ns, "mixed", "mixed.acme.com", &mixed).await;
    hand_made(&ns, "old", "old.acme.com", &self_signed("old.acme.com", -400, -3)).await;

    let found = run(&mut inspect(&ns));
    assert_eq!(found.status.code(), Some(1));
    let out = stdout(&found);
    assert!(out.contains("FAIL") && out.contains("secret mixed-tls: the private key"), "{out}");
    assert!(out.contains("does not match the certificate"), "{out}");
    assert!(out.contains("secret old-tls: the certificate expired on"), "{out}");
    assert!(out.contains(&format!("`kubectl tls-ingress rotate old -n {ns} --cert NEW.crt --key NEW.key`")), "{out}");
    assert!(!out.contains("good-tls:"), "{out}");

    let json_out = run(cluster.plugin("tls-ingress").args(["inspect", "old", "-n", &ns, "-o", "json"]));
    assert_eq!(json_out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert_eq!(report["healthy"], false);
    assert_eq!(report["ingresses"][0]["tls"][0]["findings"][0]["severity"], "fail");

    // rotate will not replace a certificate it did not make.
    let refused = run(cluster.plugin("tls-ingress").args(["rotate", "old", "-n", &ns]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("was not generated by kubectl-tls-ingress"), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--cert FILE --key FILE"));

    let missing = run(cluster.plugin("tls-ingress").args(["inspect", "nope", "-n", &ns]));
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("not found"));
}

#[tokio::test]
async fn inspect_names_a_secret_that_lives_in_another_namespace() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-ns").await;
    let elsewhere = cluster.namespace("tls-elsewhere").await;
    let pair = self_signed("shop.acme.com", -1, 100);
    hand_made(&elsewhere, "shop", "shop.acme.com", &pair).await;
    // The same Ingress in `ns`, but its Secret was created in the other namespace only.
    let client = cluster.admin_client().await;
    let mut ingress = Api::<Ingress>::namespaced(client.clone(), &elsewhere).get("shop").await.unwrap();
    ingress.metadata = ObjectMeta { name: Some("shop".into()), ..Default::default() };
    ingress.status = None;
    Api::<Ingress>::namespaced(client, &ns).create(&PostParams::default(), &ingress).await.unwrap();

    let found = run(&mut inspect(&ns));
    assert_eq!(found.status.code(), Some(1));
    let out = stdout(&found);
    assert!(
        out.contains(&format!("secret shop-tls not found in namespace {ns} (namespace {elsewhere} has one")),
        "{out}"
    );
}

#[tokio::test]
async fn an_existing_secret_not_ours_is_not_overwritten_without_overwrite() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-theirs").await;
    accounting_service(&ns).await;
    let client = cluster.admin_client().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let theirs = Secret {
        metadata: ObjectMeta { name: Some("accounting-secret".into()), ..Default::default() },
        string_data: Some(BTreeMap::from([("password".to_string(), "hunter2".to_string())])),
        ..Default::default()
    };
    secrets.create(&PostParams::default(), &theirs).await.unwrap();
    let before = secrets.get("accounting-secret").await.unwrap();

    let refused = run(&mut t75_create(&ns));
    assert_eq!(refused.status.code(), Some(1));
    let err = stderr(&refused);
    assert!(
        err.contains("secret accounting-secret in namespace") && err.contains("not created by kubectl-tls-ingress"),
        "{err}"
    );
    assert!(err.contains("--overwrite"), "{err}");
    let after = secrets.get("accounting-secret").await.unwrap();
    assert_eq!(after.metadata.resource_version, before.metadata.resource_version);
    let ingresses: Api<Ingress> = Api::namespaced(client, &ns);
    assert!(ingresses.get_opt("accounting-ingress").await.unwrap().is_none(), "nothing was created either");

    // The type of a Secret cannot change, so taking over an Opaque Secret needs it deleted first;
    // a kubernetes.io/tls Secret of someone else's is taken over with --overwrite.
    secrets.delete("accounting-secret", &Default::default()).await.unwrap();
    let pair = self_signed(HOST, -1, 100);
    let tls = Secret {
        metadata: ObjectMeta { name: Some("accounting-secret".into()), ..Default::default() },
        type_: Some("kubernetes.io/tls".into()),
        string_data: Some(BTreeMap::from([("tls.crt".to_string(), pair.cert), ("tls.key".to_string(), pair.key)])),
        ..Default::default()
    };
    secrets.create(&PostParams::default(), &tls).await.unwrap();
    assert_eq!(run(&mut t75_create(&ns)).status.code(), Some(1));
    let taken = run(t75_create(&ns).args(["--overwrite", "--force-conflicts"]));
    assert_eq!(taken.status.code(), Some(0));
    assert!(stdout(&taken).contains("secret/accounting-secret configured"), "{}", stdout(&taken));
    let now_ours = secrets.get("accounting-secret").await.unwrap();
    assert_eq!(now_ours.metadata.labels.unwrap()[MANAGED_BY_LABEL], PLUGIN);
}

#[tokio::test]
async fn provided_certificates_are_checked_and_wait_times_out_without_a_controller() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-own").await;
    service(&ns, "web", "http", 80).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = self_signed("own.acme.com", -1, 100);
    std::fs::write(dir.path().join("own.crt"), &pair.cert).unwrap();
    std::fs::write(dir.path().join("own.key"), &pair.key).unwrap();
    let files = |cmd: &mut Command| {
        cmd.arg("--cert").arg(dir.path().join("own.crt")).arg("--key").arg(dir.path().join("own.key"));
    };

    let mut wrong_host = cluster.plugin("tls-ingress");
    wrong_host.args(["create", "own", "-n", &ns, "--host", "other.acme.com", "--service", "web:http"]);
    files(&mut wrong_host);
    let refused = run(&mut wrong_host);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("does not cover other.acme.com: its DNS SANs are own.acme.com"));
    assert!(stderr(&refused).contains("--force"));

    let mut good = cluster.plugin("tls-ingress");
    good.args(["create", "own", "-n", &ns, "--host", "own.acme.com", "--service", "web:http", "--class", "nginx"]);
    good.args(["--wait", "--timeout", "2s"]);
    files(&mut good);
    let timed_out = run(&mut good);
    assert_eq!(timed_out.status.code(), Some(1), "created, but no controller gives an address");
    assert!(stdout(&timed_out).contains("secret/own-tls created"));
    assert!(stdout(&timed_out).contains("certificate: provided, self-signed"), "{}", stdout(&timed_out));
    let err = stderr(&timed_out);
    assert!(err.contains(&format!("ingress {ns}/own got no address within 2s")), "{err}");
    assert!(
        err.contains("Envoy Gateway") && !err.contains("kubectl apply -f https://"),
        "maintained controllers: {err}"
    );

    let client = cluster.admin_client().await;
    let secrets: Api<Secret> = Api::namespaced(client, &ns);
    let secret = secrets.get("own-tls").await.unwrap();
    assert_eq!(secret.data.unwrap()["tls.crt"].0, pair.cert.as_bytes());

    // Re-running without --cert/--key keeps a provided certificate that still fits, and never
    // replaces it with a self-signed one when it does not.
    let again = run(cluster.plugin("tls-ingress").args([
        "create",
        "own",
        "-n",
        &ns,
        "--host",
        "own.acme.com",
        "--service",
        "web:http",
        "--class",
        "nginx",
    ]));
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("secret/own-tls unchanged"), "{}", stdout(&again));
    assert!(stderr(&again).contains("keeping the provided certificate"), "{}", stderr(&again));
    let other_host = run(cluster.plugin("tls-ingress").args([
        "create",
        "own",
        "-n",
        &ns,
        "--host",
        "new.acme.com",
        "--service",
        "web:http",
        "--class",
        "nginx",
    ]));
    assert_eq!(other_host.status.code(), Some(1));
    assert!(stderr(&other_host).contains("does not cover new.acme.com"), "{}", stderr(&other_host));
    assert!(stderr(&other_host).contains("not replaced by a self-signed one"), "{}", stderr(&other_host));
    assert_eq!(secrets.get("own-tls").await.unwrap().data.unwrap()["tls.crt"].0, pair.cert.as_bytes());

    // A provided certificate is only rotated with the next one given; that one is checked too.
    let refused = run(cluster.plugin("tls-ingress").args(["rotate", "own", "-n", &ns]));
    assert_eq!(refused.status.code(), Some(1));
    let next = self_signed("own.acme.com", -1, 300);
    std::fs::write(dir.path().join("next.crt"), &next.cert).unwrap();
    std::fs::write(dir.path().join("next.key"), &pair.key).unwrap();
    let mut mismatched = cluster.plugin("tls-ingress");
    mismatched.args(["rotate", "own", "-n", &ns, "--cert"]).arg(dir.path().join("next.crt"));
    mismatched.arg("--key").arg(dir.path().join("next.key"));
    let refused = run(&mut mismatched);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("does not match the certificate"), "{}", stderr(&refused));
    std::fs::write(dir.path().join("next.key"), &next.key).unwrap();
    let rotated = run(&mut mismatched);
    assert_eq!(rotated.status.code(), Some(0));
    assert!(stdout(&rotated).contains("secret/own-tls configured"), "{}", stdout(&rotated));
    assert!(stdout(&rotated).contains("replaced: sha256"), "{}", stdout(&rotated));
    let secret = secrets.get("own-tls").await.unwrap();
    assert_eq!(secret.data.unwrap()["tls.crt"].0, next.cert.as_bytes());
}

#[tokio::test]
async fn client_dry_run_works_offline_and_its_yaml_applies_with_kubectl() {
    let ns = cluster().namespace("tls-dry").await;
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let output = run(plugin_command("tls-ingress")
        .args(["create", "web", "--host", "web.acme.com,*.apps.acme.com", "--service", "web:8080"])
        .args(["--key-type", "rsa-2048", "--days", "30", "--dry-run=client", "-o", "yaml", "-n"])
        .arg(&ns)
        .arg("--write-cert")
        .arg(&certs));
    assert_eq!(output.status.code(), Some(0));
    let yaml = stdout(&output);
    assert!(yaml.contains("kind: Secret") && yaml.contains("kind: Ingress"), "{yaml}");
    // Issue 32: a dry run writes no file (it wrote a key for a Secret that was never stored).
    assert!(!certs.exists(), "a dry run writes nothing, not even the directory");
    assert!(stderr(&output).contains("(dry run: no file is written)"), "{}", stderr(&output));
    let secret: Secret = serde_yaml::from_str(yaml.split("\n---\n").next().unwrap()).unwrap();
    let key = String::from_utf8(secret.data.unwrap()["tls.key"].0.clone()).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));

    let mut apply = cluster().kubectl();
    apply.args(["apply", "-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = apply.spawn().unwrap();
    child.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    let applied = child.wait_with_output().unwrap();
    assert!(applied.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&applied.stderr));
    let text = String::from_utf8_lossy(&applied.stdout).to_string();
    assert!(
        text.contains("secret/web-tls created") && text.contains("ingress.networking.k8s.io/web created"),
        "{text}"
    );

    let got = run(cluster().kubectl().args(["get", "secret", "web-tls", "-n", &ns, "-o", "jsonpath={.type}"]));
    assert_eq!(stdout(&got), "kubernetes.io/tls");
    // The key kubectl stored is the one the YAML carried.
    let stored =
        run(cluster().kubectl().args(["get", "secret", "web-tls", "-n", &ns, "-o", "jsonpath={.data.tls\\.key}"]));
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD.decode(stdout(&stored).trim()).unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), key);
}

#[test]
fn bad_input_gives_clear_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM at all\n").unwrap();
    let create = || {
        let mut command = plugin_command("tls-ingress");
        command.args(["create", "web", "-n", "t75", "--dry-run=client"]);
        command
    };
    let cases: Vec<(Command, &str)> = vec![
        (
            {
                let mut c = create();
                c.args(["--host", "web.acme.com", "--service", "web:80", "--cert"])
                    .arg(&garbage)
                    .arg("--key")
                    .arg(&garbage);
                c
            },
            "the certificate contains no PEM block",
        ),
        (
            {
                let mut c = create();
                c.args([
                    "--host",
                    "web.acme.com",
                    "--service",
                    "web:80",
                    "--cert",
                    "/nonexistent.crt",
                    "--key",
                    "/x.key",
                ]);
                c
            },
            "cannot read --cert /nonexistent.crt",
        ),
        (
            {
                let mut c = create();
                c.args(["--host", "web_acme..com", "--service", "web:80"]);
                c
            },
            "invalid host \"web_acme..com\"",
        ),
        (
            {
                let mut c = create();
                c.args(["--host", "10.0.0.1", "--service", "web:80"]);
                c
            },
            "not IP addresses",
        ),
        (
            {
                let mut c = create();
                c.args(["--host", "web.acme.com", "--service", "web"]);
                c
            },
            "--service \"web\" has no port",
        ),
        (
            {
                let mut c = plugin_command("tls-ingress");
                c.args(["create", "--dry-run=client"]);
                c
            },
            "missing required --host, --service, -n/--namespace, NAME",
        ),
    ];
    for (mut command, expected) in cases {
        let output = run(&mut command);
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        assert!(stderr(&output).contains(expected), "{command:?}: {}", stderr(&output));
        assert!(stdout(&output).is_empty());
    }
}

/// Runs `command` under `script(1)` so it has a terminal, answering each prompt when it appears.
fn with_terminal(command: &str, answers: &[(&str, &str)]) -> (Option<i32>, String) {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs the wizard in a pseudo-terminal");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut from = 0;
    for (prompt, answer) in answers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = seen.lock().unwrap().clone();
            if let Some(at) = text[from..].find(prompt) {
                from += at + prompt.len();
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no prompt {prompt:?} in:\n{text}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        stdin.write_all(format!("{answer}\r").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = seen.lock().unwrap().replace('\r', "");
    (status.code(), text)
}

#[test]
fn missing_inputs_start_a_wizard_in_a_terminal() {
    let binary = harden_tests::plugin_path("tls-ingress");
    let command = format!("{} create --dry-run=client -o yaml", binary.display());
    let (code, text) = with_terminal(
        &command,
        &[
            ("Host name(s) to serve", "shop.acme.com"),
            ("Backend Service name", "shop-service"),
            ("Service port", "0"),
            ("out of range", "8080"),
            ("Namespace", "t75"),
            ("Ingress name", ""),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    let yaml = &text[text.find("apiVersion: v1").expect("the objects are printed")..];
    assert!(yaml.contains("name: shop-ingress\n  namespace: t75\n"), "the default name is offered: {yaml}");
    assert!(yaml.contains("- host: shop.acme.com"), "{yaml}");
    assert!(yaml.contains("name: shop-service\n            port:\n              number: 8080"), "{yaml}");
}

// ---------------------------------------------------------------------------------------------
// Issue 16: the Gateway API path, what is served for real, and the fixes from a new user's trial.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use kube::api::{ApiResource, DynamicObject};

fn gateway_api(kind: &str, plural: &str, version: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: version.into(),
        api_version: format!("gateway.networking.k8s.io/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn gateways() -> ApiResource {
    gateway_api("Gateway", "gateways", "v1")
}

fn routes() -> ApiResource {
    gateway_api("HTTPRoute", "httproutes", "v1")
}

/// The seed's backend: accounting-service on port 80 (no pods needed: the API server checks nothing more).
async fn accounting_service(ns: &str) {
    service(ns, "accounting-service", "http", 80).await;
}

async fn service(ns: &str, name: &str, port_name: &str, port: i32) {
    let service = Service {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort { name: Some(port_name.into()), port, ..Default::default() }]),
            selector: Some(BTreeMap::from([("app".to_string(), name.to_string())])),
            ..Default::default()
        }),
        status: None,
    };
    let api: Api<Service> = Api::namespaced(cluster().admin_client().await, ns);
    api.create(&PostParams::default(), &service).await.unwrap();
}

/// A GatewayClass, as an implementation's install leaves it (status set by hand: no controller runs here).
async fn gateway_class(name: &str, accepted: bool) {
    cluster().install_gateway_api();
    let api: Api<DynamicObject> =
        Api::all_with(cluster().admin_client().await, &gateway_api("GatewayClass", "gatewayclasses", "v1"));
    let mut class = DynamicObject::new(name, &gateway_api("GatewayClass", "gatewayclasses", "v1"));
    class.data = json!({"spec": {"controllerName": "example.com/gateway-controller"}});
    match api.create(&PostParams::default(), &class).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("creating GatewayClass {name}: {e}"),
    }
    if accepted {
        let status = json!({"status": {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
            "message": "", "lastTransitionTime": "2026-12-01T00:00:00Z", "observedGeneration": 1}]}});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    }
}

fn condition(kind: &str, ok: bool, reason: &str) -> Value {
    json!({"type": kind, "status": if ok { "True" } else { "False" }, "reason": reason, "message": format!("{kind} by the test"),
        "lastTransitionTime": "2026-12-01T00:00:00Z", "observedGeneration": 1})
}

/// What a Gateway controller records: the Gateway Programmed with an address, each listener's
/// refs resolved (or not), and each route Accepted by its parents.
async fn program_gateway(ns: &str, name: &str, listeners: &[(&str, bool)]) {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster().admin_client().await, ns, &gateways());
    let listeners: Vec<Value> = listeners
        .iter()
        .map(|(l, ok)| json!({"name": l, "attachedRoutes": 1, "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
            "conditions": [condition("ResolvedRefs", *ok, if *ok { "ResolvedRefs" } else { "InvalidCertificateRef" }),
                           condition("Programmed", *ok, if *ok { "Programmed" } else { "Invalid" }),
                           condition("Accepted", true, "Accepted")]}))
        .collect();
    let status = json!({"status": {"addresses": [{"type": "IPAddress", "value": "127.0.0.1"}],
        "conditions": [condition("Accepted", true, "Accepted"), condition("Programmed", true, "Programmed")],
        "listeners": listeners}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

async fn accept_route(ns: &str, name: &str, gateway_ns: &str, gateway: &str, sections: &[&str], accepted: bool) {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster().admin_client().await, ns, &routes());
    let parents: Vec<Value> = sections
        .iter()
        .map(|s| json!({"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway, "namespace": gateway_ns, "sectionName": s},
            "controllerName": "example.com/gateway-controller",
            "conditions": [condition("Accepted", accepted, if accepted { "Accepted" } else { "NotAllowedByListeners" }),
                           condition("ResolvedRefs", true, "ResolvedRefs")]}))
        .collect();
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&json!({"status": {"parents": parents}})))
        .await
        .unwrap();
}

fn kubectl_apply(yaml: &str) -> std::process::Output {
    let mut apply = cluster().kubectl();
    apply.args(["apply", "-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = apply.spawn().unwrap();
    child.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn gateway_offline_yaml_applies_with_kubectl_on_the_real_crds() {
    cluster().install_gateway_api();
    let ns = cluster().namespace("gw-dry").await;
    let gw_ns = cluster().namespace("gw-infra").await;
    let output = run(plugin_command("tls-ingress")
        .args([
            "create",
            "accounting",
            "--host",
            &format!("{HOST},*.apps.acme.com"),
            "--service",
            "accounting-service:80",
        ])
        .args(["--gateway", "web", "--gateway-namespace", &gw_ns, "--gateway-class", "eg", "--redirect-http"])
        .args(["--dry-run=client", "-o", "yaml", "-n", &ns]));
    assert_eq!(output.status.code(), Some(0));
    let yaml = stdout(&output);
    for kind in ["kind: Secret", "kind: ReferenceGrant", "kind: Gateway", "kind: HTTPRoute"] {
        assert!(yaml.contains(kind), "{kind}: {yaml}");
    }
    let applied = kubectl_apply(&yaml);
    assert!(applied.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&applied.stderr));
    let text = String::from_utf8_lossy(&applied.stdout).to_string();
    for line in [
        "secret/accounting-tls created",
        "referencegrant.gateway.networking.k8s.io/accounting-from-",
        "gateway.gateway.networking.k8s.io/web created",
        "httproute.gateway.networking.k8s.io/accounting created",
        "httproute.gateway.networking.k8s.io/accounting-redirect created",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    let gw: DynamicObject =
        Api::namespaced_with(cluster().admin_client().await, &gw_ns, &gateways()).get("web").await.unwrap();
    let listeners = gw.data["spec"]["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 4, "HTTPS and HTTP per host: {listeners:?}");
    assert_eq!(
        listeners[0]["tls"]["certificateRefs"][0],
        json!({"group": "", "kind": "Secret", "name": "accounting-tls", "namespace": ns})
    );
}

#[tokio::test]
async fn gateway_live_create_is_unchanged_on_rerun_and_inspect_follows_the_controller() {
    let cluster = cluster();
    gateway_class("eg-live", true).await;
    let ns = cluster.namespace("gw-live").await;
    accounting_service(&ns).await;
    let create = || {
        let mut c = cluster.plugin("tls-ingress");
        c.args(["create", "accounting", "-n", &ns, "--host", HOST, "--service", "accounting-service:http"]).args([
            "--gateway",
            "web",
            "--gateway-class",
            "eg-live",
            "--secret",
            "accounting-secret",
        ]);
        c
    };
    let first = run(&mut create());
    assert_eq!(first.status.code(), Some(0));
    let out = stdout(&first);
    assert!(out.contains(&format!("secret/accounting-secret created in namespace {ns}")), "{out}");
    assert!(out.contains(&format!("gateway.gateway.networking.k8s.io/web created in namespace {ns}")), "{out}");
    assert!(
        out.contains(&format!("httproute.gateway.networking.k8s.io/accounting created in namespace {ns}")),
        "{out}"
    );
    assert!(!out.contains("referencegrant"), "same namespace: no grant: {out}");
    let route: DynamicObject =
        Api::namespaced_with(cluster.admin_client().await, &ns, &routes()).get("accounting").await.unwrap();
    assert_eq!(route.data["spec"]["rules"][0]["backendRefs"][0]["port"], 80, "the named port is resolved");

    let again = run(&mut create());
    assert_eq!(again.status.code(), Some(0));
    let out = stdout(&again);
    for what in [
        "secret/accounting-secret",
        "gateway.gateway.networking.k8s.io/web",
        "httproute.gateway.networking.k8s.io/accounting",
    ] {
        assert!(out.contains(&format!("{what} unchanged in namespace {ns}")), "{what}: {out}");
    }

    // No controller: inspect says the Gateway is not programmed and the route not attached.
    let pending = run(&mut inspect(&ns));
    assert_eq!(pending.status.code(), Some(1));
    let out = stdout(&pending);
    assert!(out.contains("not Programmed"), "{out}");
    assert!(out.contains("no controller has reported on this route"), "{out}");

    program_gateway(&ns, "web", &[("accounting-https", true)]).await;
    accept_route(&ns, "accounting", &ns, "web", &["accounting-https"], true).await;
    let healthy = run(&mut inspect(&ns));
    assert_eq!(healthy.status.code(), Some(0), "{}", stdout(&healthy));
    let out = stdout(&healthy);
    assert!(out.contains("accounting-https") && out.contains("HTTPS/443") && out.contains("364d"), "{out}");

    // A route the listener does not admit, and a listener whose refs the controller refused.
    accept_route(&ns, "accounting", &ns, "web", &["accounting-https"], false).await;
    program_gateway(&ns, "web", &[("accounting-https", false)]).await;
    let refused = run(&mut inspect(&ns));
    assert_eq!(refused.status.code(), Some(1));
    let out = stdout(&refused);
    assert!(out.contains("Accepted is False (NotAllowedByListeners)"), "{out}");
    assert!(out.contains("listener accounting-https: ResolvedRefs is False (InvalidCertificateRef)"), "{out}");

    // A second host adds a listener to our Gateway and keeps the first.
    let more = run(cluster
        .plugin("tls-ingress")
        .args(["create", "billing", "-n", &ns, "--host", "billing.acme.com"])
        .args(["--service", "accounting-service:80", "--gateway", "web"]));
    assert_eq!(more.status.code(), Some(0));
    assert!(stdout(&more).contains("gateway.gateway.networking.k8s.io/web configured"), "{}", stdout(&more));
    let gw: DynamicObject =
        Api::namespaced_with(cluster.admin_client().await, &ns, &gateways()).get("web").await.unwrap();
    let names: Vec<&str> =
        gw.data["spec"]["listeners"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["accounting-https", "billing-https"]);
}

#[tokio::test]
async fn gateways_not_ours_are_not_rewritten_and_inspect_finds_each_certificate_failure() {
    let cluster = cluster();
    gateway_class("eg-bad", true).await;
    let ns = cluster.namespace("gw-bad").await;
    let secrets_ns = cluster.namespace("gw-secrets").await;
    accounting_service(&ns).await;
    let client = cluster.admin_client().await;
    let tls_secret = |name: &str, pair: &Pair, type_: &str| Secret {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        type_: Some(type_.into()),
        string_data: Some(BTreeMap::from([
            ("tls.crt".to_string(), pair.cert.clone()),
            ("tls.key".to_string(), pair.key.clone()),
        ])),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &tls_secret("other-host", &self_signed("other.acme.com", -1, 200), "kubernetes.io/tls"),
        )
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &tls_secret("soon", &self_signed("soon.acme.com", -1, 10), "kubernetes.io/tls"))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &tls_secret("opaque", &self_signed("opaque.acme.com", -1, 200), "Opaque"))
        .await
        .unwrap();
    Api::<Secret>::namespaced(client.clone(), &secrets_ns)
        .create(&PostParams::default(), &tls_secret("far", &self_signed("far.acme.com", -1, 200), "kubernetes.io/tls"))
        .await
        .unwrap();
    let listener = |name: &str, host: &str, secret: &str, secret_ns: Option<&str>| {
        let mut reference = json!({"group": "", "kind": "Secret", "name": secret});
        if let Some(s) = secret_ns {
            reference["namespace"] = json!(s);
        }
        json!({"name": name, "hostname": host, "port": 443, "protocol": "HTTPS",
            "tls": {"mode": "Terminate", "certificateRefs": [reference]}})
    };
    let mut theirs = DynamicObject::new("platform", &gateways()).within(&ns);
    theirs.data = json!({"spec": {"gatewayClassName": "eg-bad", "listeners": [
        listener("missing", "missing.acme.com", "nope", None),
        listener("uncovered", "acc.acme.com", "other-host", None),
        listener("expiring", "soon.acme.com", "soon", None),
        listener("opaque", "opaque.acme.com", "opaque", None),
        listener("far", "far.acme.com", "far", Some(&secrets_ns)),
    ]}});
    Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &gateways())
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    program_gateway(&ns, "platform", &[]).await;

    let found = run(cluster.plugin("tls-ingress").args(["inspect", "platform", "-n", &ns]));
    assert_eq!(found.status.code(), Some(1));
    let out = stdout(&found);
    assert!(out.contains(&format!("secret nope not found in namespace {ns}")), "{out}");
    assert!(out.contains("the certificate does not cover acc.acme.com: its DNS SANs are other.acme.com"), "{out}");
    assert!(out.contains("the certificate expires in 9 days"), "{out}");
    assert!(out.contains("has type Opaque, not kubernetes.io/tls"), "{out}");
    assert!(out.contains(&format!("no ReferenceGrant in {secrets_ns} lets Gateways of {ns} use it")), "{out}");

    // A Gateway someone else made is never rewritten without --overwrite, and nothing is created.
    let before = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &gateways()).get("platform").await.unwrap();
    let refused = run(cluster.plugin("tls-ingress").args(["create", "accounting", "-n", &ns, "--host", HOST]).args([
        "--service",
        "accounting-service:80",
        "--gateway",
        "platform",
    ]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("was not created by kubectl-tls-ingress"), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("it is not rewritten"), "{}", stderr(&refused));
    let after = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &gateways()).get("platform").await.unwrap();
    assert_eq!(before.metadata.resource_version, after.metadata.resource_version);
    assert!(secrets.get_opt("accounting-tls").await.unwrap().is_none(), "nothing was created");

    // A listener of theirs for the same host is refused even with --overwrite.
    let clash = run(cluster.plugin("tls-ingress").args(["create", "acc", "-n", &ns, "--host", "acc.acme.com"]).args([
        "--service",
        "accounting-service:80",
        "--gateway",
        "platform",
        "--overwrite",
    ]));
    assert_eq!(clash.status.code(), Some(1));
    assert!(
        stderr(&clash).contains("listener uncovered already takes HTTPS acc.acme.com on port 443"),
        "{}",
        stderr(&clash)
    );
}

#[tokio::test]
async fn a_gateway_in_another_namespace_gets_a_reference_grant_and_inspect_misses_it_when_deleted() {
    let cluster = cluster();
    gateway_class("eg-x", true).await;
    let ns = cluster.namespace("gw-app").await;
    let gw_ns = cluster.namespace("gw-shared").await;
    accounting_service(&ns).await;
    let created = run(cluster.plugin("tls-ingress").args(["create", "accounting", "-n", &ns, "--host", HOST]).args([
        "--service",
        "accounting-service:80",
        "--gateway",
        "shared",
        "--gateway-namespace",
        &gw_ns,
        "--gateway-class",
        "eg-x",
    ]));
    assert_eq!(created.status.code(), Some(0));
    let out = stdout(&created);
    assert!(
        out.contains(&format!(
            "referencegrant.gateway.networking.k8s.io/accounting-from-{gw_ns} created in namespace {ns}"
        )),
        "{out}"
    );
    program_gateway(&gw_ns, "shared", &[("accounting-https", true)]).await;
    accept_route(&ns, "accounting", &gw_ns, "shared", &["accounting-https"], true).await;
    let healthy = run(&mut inspect(&ns));
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "the parent Gateway in the other namespace is inspected too: {}",
        stdout(&healthy)
    );
    assert!(stdout(&healthy).contains(&gw_ns), "{}", stdout(&healthy));

    let grants = gateway_api("ReferenceGrant", "referencegrants", "v1beta1");
    Api::<DynamicObject>::namespaced_with(cluster.admin_client().await, &ns, &grants)
        .delete(&format!("accounting-from-{gw_ns}"), &Default::default())
        .await
        .unwrap();
    let missing = run(&mut inspect(&ns));
    assert_eq!(missing.status.code(), Some(1));
    assert!(stdout(&missing).contains("(RefNotPermitted)"), "{}", stdout(&missing));
}

#[tokio::test]
async fn wait_stops_early_when_no_controller_will_ever_act() {
    let cluster = cluster();
    cluster.install_gateway_api();
    let ns = cluster.namespace("gw-wait").await;
    accounting_service(&ns).await;
    let started = std::time::Instant::now();
    let gateway = run(cluster.plugin("tls-ingress").args(["create", "accounting", "-n", &ns, "--host", HOST]).args([
        "--service",
        "accounting-service:80",
        "--gateway-class",
        "no-such-class",
        "--wait",
        "--timeout",
        "60s",
    ]));
    assert_eq!(gateway.status.code(), Some(1));
    assert!(
        stderr(&gateway)
            .contains("GatewayClass no-such-class does not exist, so no controller acts on it; not waiting"),
        "{}",
        stderr(&gateway)
    );
    let ingress = run(cluster
        .plugin("tls-ingress")
        .args(["create", "web", "-n", &ns, "--host", "web.acme.com"])
        .args(["--service", "accounting-service:80", "--class", "no-such-class", "--wait", "--timeout", "60s"]));
    assert_eq!(ingress.status.code(), Some(1));
    assert!(stderr(&ingress).contains("IngressClass no-such-class does not exist"), "{}", stderr(&ingress));
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "neither waited for the timeout");
}

#[tokio::test]
async fn create_checks_the_backend_service_and_port() {
    let cluster = cluster();
    let ns = cluster.namespace("tls-backend").await;
    accounting_service(&ns).await;
    let create = |service: &str| {
        let mut c = cluster.plugin("tls-ingress");
        c.args(["create", "accounting-ingress", "-n", &ns, "--host", HOST, "--service", service, "--class", "nginx"]);
        c
    };
    let typo = run(&mut create("acounting-service:80"));
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains(&format!("service {ns}/acounting-service does not exist")), "{}", stderr(&typo));
    assert!(stderr(&typo).contains("did you mean --service accounting-service:80?"), "{}", stderr(&typo));
    let port = run(&mut create("accounting-service:8080"));
    assert_eq!(port.status.code(), Some(2));
    assert!(stderr(&port).contains("has no port 8080 (its ports: 80 (http))"), "{}", stderr(&port));
    let client = cluster.admin_client().await;
    assert!(Api::<Secret>::namespaced(client.clone(), &ns).get_opt("accounting-ingress-tls").await.unwrap().is_none());

    let forced = run(create("acounting-service:80").arg("--no-check"));
    assert_eq!(forced.status.code(), Some(0));
    assert!(stderr(&forced).contains("(--no-check: going on)"), "{}", stderr(&forced));
    default_class().await;
    give_address(&ns, "accounting-ingress", "10.0.0.3").await;
    let found = run(&mut inspect(&ns));
    assert_eq!(found.status.code(), Some(1));
    assert!(stdout(&found).contains("backend service acounting-service does not exist"), "{}", stdout(&found));
}

#[tokio::test]
async fn overwrite_takes_over_a_kubectl_created_ingress_keeping_its_other_rules() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-kubectl").await;
    accounting_service(&ns).await;
    let made = run(cluster
        .kubectl()
        .args(["create", "ingress", "accounting-ingress", "-n", &ns])
        .arg(format!("--rule={HOST}/*=accounting-service:80,tls=accounting-secret"))
        .arg("--rule=other.acme.com/*=other-service:80"));
    assert!(made.status.success());
    let refused = run(&mut t75_create(&ns));
    assert_eq!(refused.status.code(), Some(1), "not ours without --overwrite");
    let taken = run(t75_create(&ns).arg("--overwrite"));
    assert_eq!(taken.status.code(), Some(0), "--overwrite alone takes it over");
    let err = stderr(&taken);
    assert!(err.contains(&format!("replacing the rule for {HOST} (/ -> accounting-service:80)")), "{err}");
    assert!(err.contains("keeping the rule for other.acme.com"), "{err}");
    let ingress =
        Api::<Ingress>::namespaced(cluster.admin_client().await, &ns).get("accounting-ingress").await.unwrap();
    let hosts: Vec<String> = ingress.spec.unwrap().rules.unwrap().into_iter().filter_map(|r| r.host).collect();
    assert_eq!(hosts, [HOST, "other.acme.com"]);
    assert_eq!(ingress.metadata.labels.unwrap()[MANAGED_BY_LABEL], PLUGIN);
}

#[tokio::test]
async fn namespace_defaults_to_the_contexts() {
    let cluster = cluster();
    let ns = cluster.namespace("tls-context").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::copy(cluster.admin_kubeconfig(), &config).unwrap();
    let set = run(cluster.kubectl().arg("--kubeconfig").arg(&config).args([
        "config",
        "set-context",
        "--current",
        "--namespace",
        &ns,
    ]));
    assert!(set.status.success());
    let output = run(plugin_command("tls-ingress").env("KUBECONFIG", &config).args([
        "create",
        "web",
        "--host",
        "web.acme.com",
        "--service",
        "web:80",
        "--dry-run=client",
        "-o",
        "yaml",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains(&format!("namespace: {ns}\n")), "{}", stdout(&output));
}

#[test]
fn show_manual_prints_the_seeds_steps_and_changes_nothing() {
    let output = run(plugin_command("tls-ingress")
        .args(["create", "accounting-ingress", "-n", "t75", "--host", HOST])
        .args(["--service", "accounting-service:80", "--secret", "accounting-secret", "--show-manual"]));
    assert_eq!(output.status.code(), Some(0));
    let out = stdout(&output);
    assert!(out.contains("openssl req -nodes -new -x509 -keyout accounting-secret.key -out accounting-secret.crt -subj \"/CN=accounting.internal.acme.com\""), "{out}");
    assert!(out.contains("-addext \"subjectAltName=DNS:accounting.internal.acme.com\""), "{out}");
    assert!(out.contains("kubectl create secret tls accounting-secret --cert=accounting-secret.crt --key=accounting-secret.key -n t75\n"), "{out}");
    assert!(out.contains("kubectl create ingress accounting-ingress --rule=\"accounting.internal.acme.com/*=accounting-service:80,tls=accounting-secret\" -n t75\n"), "{out}");
    assert!(out.contains("kubectl apply -f accounting-ingress.yml\n") && out.contains("kind: Ingress"), "{out}");
    assert!(!out.contains("PRIVATE KEY") && !out.contains(" created"), "{out}");
}

// --- inspect --probe against a TLS server of the tests' own (no controller can run here) ---

enum Serve {
    /// TLS with this certificate and key (PEM).
    Tls(String, String),
    /// Plain TCP that answers like an HTTP server.
    Plain,
}

/// Serves `what` on 127.0.0.1 until the test ends; returns `127.0.0.1:PORT`.
fn serve(what: Serve) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let config = match &what {
        Serve::Tls(cert, key) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<_, _>>().unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            Some(std::sync::Arc::new(
                rustls::ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(chain, key)
                    .unwrap(),
            ))
        }
        Serve::Plain => None,
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            match &config {
                Some(config) => {
                    let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
                    while conn.is_handshaking() {
                        if conn.complete_io(&mut stream).is_err() {
                            break;
                        }
                    }
                }
                None => {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf);
                    let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                }
            }
        }
    });
    address
}

async fn secret_pem(ns: &str, name: &str) -> (String, String) {
    let secret = Api::<Secret>::namespaced(cluster().admin_client().await, ns).get(name).await.unwrap();
    let data = secret.data.unwrap();
    (String::from_utf8(data["tls.crt"].0.clone()).unwrap(), String::from_utf8(data["tls.key"].0.clone()).unwrap())
}

#[tokio::test]
async fn probe_tells_our_certificate_from_another_one_and_from_no_tls() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-probe").await;
    accounting_service(&ns).await;
    assert_eq!(run(&mut t75_create(&ns)).status.code(), Some(0));
    give_address(&ns, "accounting-ingress", "10.0.0.4").await;
    let probe = |address: &str| {
        let mut c = cluster.plugin("tls-ingress");
        c.args(["inspect", "accounting-ingress", "-n", &ns, "--probe", "--address", address]);
        c
    };

    let (cert, key) = secret_pem(&ns, "accounting-secret").await;
    let ours = run(&mut probe(&serve(Serve::Tls(cert, key))));
    assert_eq!(ours.status.code(), Some(0), "{}", stdout(&ours));
    assert!(stdout(&ours).contains(&format!("{HOST} at 127.0.0.1:")), "{}", stdout(&ours));
    assert!(stdout(&ours).contains(": serves our certificate"), "{}", stdout(&ours));

    // What a controller serves when it cannot use the Secret: its own default certificate.
    let fake = self_signed("ingress.local", -1, 300);
    let another = run(&mut probe(&serve(Serve::Tls(fake.cert, fake.key))));
    assert_eq!(another.status.code(), Some(1));
    let out = stdout(&another);
    assert!(out.contains("serves another certificate: the controller has not taken secret accounting-secret"), "{out}");
    assert!(out.contains("ingress.local"), "the served certificate is described: {out}");

    let plain = run(&mut probe(&serve(Serve::Plain)));
    assert_eq!(plain.status.code(), Some(1));
    assert!(stdout(&plain).contains("no TLS: the server did not speak TLS"), "{}", stdout(&plain));

    let json_out = run(probe(&serve(Serve::Plain)).args(["-o", "json"]));
    let report: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    assert_eq!(report["ingresses"][0]["tls"][0]["probes"][0]["verdict"], "no-tls");

    // --address without --probe does not apply.
    let bad = run(cluster.plugin("tls-ingress").args(["inspect", "-n", &ns, "--address", "127.0.0.1"]));
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn probe_over_a_gateway_listener_names_the_missing_grant() {
    let cluster = cluster();
    gateway_class("eg-probe", true).await;
    let ns = cluster.namespace("gw-probe").await;
    let gw_ns = cluster.namespace("gw-probe-infra").await;
    accounting_service(&ns).await;
    let created = run(cluster.plugin("tls-ingress").args(["create", "accounting", "-n", &ns, "--host", HOST]).args([
        "--service",
        "accounting-service:80",
        "--gateway",
        "web",
        "--gateway-namespace",
        &gw_ns,
        "--gateway-class",
        "eg-probe",
    ]));
    assert_eq!(created.status.code(), Some(0));
    program_gateway(&gw_ns, "web", &[("accounting-https", true)]).await;
    accept_route(&ns, "accounting", &gw_ns, "web", &["accounting-https"], true).await;
    let (cert, key) = secret_pem(&ns, "accounting-tls").await;
    let address = serve(Serve::Tls(cert, key));
    let ours =
        run(cluster.plugin("tls-ingress").args(["inspect", "web", "-n", &gw_ns, "--probe", "--address", &address]));
    assert_eq!(ours.status.code(), Some(0), "{}", stdout(&ours));
    assert!(stdout(&ours).contains("serves our certificate"), "{}", stdout(&ours));

    // Without the grant a controller serves its default certificate; the probe says why.
    let grants = gateway_api("ReferenceGrant", "referencegrants", "v1beta1");
    Api::<DynamicObject>::namespaced_with(cluster.admin_client().await, &ns, &grants)
        .delete(&format!("accounting-from-{gw_ns}"), &Default::default())
        .await
        .unwrap();
    let fake = self_signed("fake.traefik.default", -1, 300);
    let address = serve(Serve::Tls(fake.cert, fake.key));
    let other =
        run(cluster.plugin("tls-ingress").args(["inspect", "web", "-n", &gw_ns, "--probe", "--address", &address]));
    assert_eq!(other.status.code(), Some(1));
    let out = stdout(&other);
    assert!(out.contains("serves another certificate: likely because secret"), "{out}");
    assert!(out.contains("(RefNotPermitted)"), "{out}");
}

#[tokio::test]
async fn rotate_keeps_local_copies_in_step_and_its_dry_run_says_configured() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-rotate").await;
    accounting_service(&ns).await;
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    assert_eq!(run(t75_create(&ns).arg("--write-cert").arg(&certs)).status.code(), Some(0));
    let dry = run(cluster.plugin("tls-ingress").args(["rotate", "accounting-ingress", "-n", &ns, "--dry-run"]));
    assert_eq!(dry.status.code(), Some(0));
    assert!(
        stdout(&dry).contains(&format!("secret/accounting-secret configured in namespace {ns} (dry run)")),
        "{}",
        stdout(&dry)
    );
    let before = std::fs::read_to_string(certs.join("accounting-secret.crt")).unwrap();
    let rotated = run(cluster
        .plugin("tls-ingress")
        .args(["rotate", "accounting-ingress", "-n", &ns, "--write-cert"])
        .arg(&certs));
    assert_eq!(rotated.status.code(), Some(0));
    let (cert, key) = secret_pem(&ns, "accounting-secret").await;
    assert_ne!(cert, before);
    assert_eq!(
        std::fs::read_to_string(certs.join("accounting-secret.crt")).unwrap(),
        cert,
        "the local copy is the new certificate"
    );
    assert_eq!(std::fs::read_to_string(certs.join("accounting-secret.key")).unwrap(), key);
    assert_eq!(std::fs::metadata(certs.join("accounting-secret.key")).unwrap().permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn list_and_delete_touch_only_what_the_plugin_made() {
    let cluster = cluster();
    default_class().await;
    gateway_class("eg-del", true).await;
    let ns = cluster.namespace("tls-del").await;
    let gw_ns = cluster.namespace("tls-del-gw").await;
    accounting_service(&ns).await;
    assert_eq!(run(&mut t75_create(&ns)).status.code(), Some(0));
    let gw = |name: &str, host: &str| {
        let mut c = cluster.plugin("tls-ingress");
        c.args(["create", name, "-n", &ns, "--host", host, "--service", "accounting-service:80"]).args([
            "--gateway",
            "shared",
            "--gateway-namespace",
            &gw_ns,
            "--gateway-class",
            "eg-del",
            "--redirect-http",
        ]);
        c
    };
    assert_eq!(run(&mut gw("billing", "billing.acme.com")).status.code(), Some(0));
    assert_eq!(run(&mut gw("shop", "shop.acme.com")).status.code(), Some(0));
    let client = cluster.admin_client().await;
    let theirs = Secret {
        metadata: ObjectMeta { name: Some("theirs".into()), ..Default::default() },
        string_data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), &ns).create(&PostParams::default(), &theirs).await.unwrap();

    let listed = run(cluster.plugin("tls-ingress").args(["list", "-n", &format!("{ns},{gw_ns}")]));
    assert_eq!(listed.status.code(), Some(0));
    let out = stdout(&listed);
    for object in [
        "ingress.networking.k8s.io/accounting-ingress",
        "secret/accounting-secret",
        "httproute.gateway.networking.k8s.io/billing-redirect",
        "gateway.gateway.networking.k8s.io/shared",
        "referencegrant.gateway.networking.k8s.io/shop-from-",
    ] {
        assert!(out.contains(object), "{object}: {out}");
    }
    assert!(!out.contains("theirs"), "{out}");

    let dry = run(cluster.plugin("tls-ingress").args(["delete", "billing", "-n", &ns, "--dry-run"]));
    assert_eq!(dry.status.code(), Some(0));
    assert!(
        stdout(&dry)
            .contains(&format!("httproute.gateway.networking.k8s.io/billing deleted in namespace {ns} (dry run)")),
        "{}",
        stdout(&dry)
    );
    assert!(
        Api::<Secret>::namespaced(client.clone(), &ns).get_opt("billing-tls").await.unwrap().is_some(),
        "a dry run deletes nothing"
    );

    let deleted = run(cluster.plugin("tls-ingress").args(["delete", "billing", "-n", &ns]));
    assert_eq!(deleted.status.code(), Some(0));
    let out = stdout(&deleted);
    for line in [
        "httproute.gateway.networking.k8s.io/billing deleted",
        "httproute.gateway.networking.k8s.io/billing-redirect deleted",
        "referencegrant.gateway.networking.k8s.io/billing-from-",
        "secret/billing-tls deleted",
        "gateway.gateway.networking.k8s.io/shared configured",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let shared: DynamicObject = Api::namespaced_with(client.clone(), &gw_ns, &gateways()).get("shared").await.unwrap();
    let names: Vec<&str> =
        shared.data["spec"]["listeners"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["shop-https", "shop-http"], "the other app's listeners stay");

    let last = run(cluster.plugin("tls-ingress").args(["delete", "shop", "-n", &ns]));
    assert_eq!(last.status.code(), Some(0));
    assert!(
        stdout(&last).contains("gateway.gateway.networking.k8s.io/shared deleted"),
        "no listener left: {}",
        stdout(&last)
    );

    let ingress = run(cluster.plugin("tls-ingress").args(["delete", "accounting-ingress", "-n", &ns]));
    assert_eq!(ingress.status.code(), Some(0));
    assert!(stdout(&ingress).contains("secret/accounting-secret deleted"), "{}", stdout(&ingress));
    assert!(Api::<Secret>::namespaced(client.clone(), &ns).get_opt("theirs").await.unwrap().is_some());
    let again = run(cluster.plugin("tls-ingress").args(["delete", "accounting-ingress", "-n", &ns]));
    assert_eq!(again.status.code(), Some(1), "nothing left to delete");
}

#[tokio::test]
async fn wait_returns_the_address_once_the_gateway_is_programmed() {
    let cluster = cluster();
    gateway_class("eg-wait", true).await;
    let ns = cluster.namespace("gw-waited").await;
    accounting_service(&ns).await;
    let child = cluster
        .plugin("tls-ingress")
        .args(["create", "accounting", "-n", &ns, "--host", HOST, "--service", "accounting-service:80"])
        .args(["--gateway", "web", "--gateway-class", "eg-wait", "--wait", "--timeout", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Play the controller once the Gateway exists.
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.admin_client().await, &ns, &gateways());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api.get_opt("web").await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the Gateway was never created");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    program_gateway(&ns, "web", &[("accounting-https", true)]).await;
    let output = child.wait_with_output().unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(out.contains("address: 127.0.0.1\n"), "{out}");
    assert!(out.contains(&format!("\n127.0.0.1 {HOST}\n")), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Issues 25 and 32: no silent choice of path, rollbacks that say what they undid, nothing written
// before what can fail is checked, dry runs that write nothing, races and signals, and one flag
// per permission.

use harden_tests::proxy::{Action, Proxy, Trigger};

/// A control plane of this test's own, for what the shared one cannot show (its IngressClasses are
/// every test's). Its processes end when the returned sender is dropped.
fn own_control_plane() -> (harden_tests::ControlPlane, std::sync::mpsc::Sender<()>) {
    let (started, plane) = std::sync::mpsc::channel();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let _ = started.send(harden_tests::ControlPlane::start_for_tests().map_err(|e| e.to_string()));
        // The processes die with this thread (PR_SET_PDEATHSIG): it lives until `stop` is dropped.
        let _ = stopped.recv();
    });
    (plane.recv().unwrap().unwrap_or_else(|e| panic!("starting a second control plane: {e}")), stop)
}

async fn client_of(kubeconfig: &std::path::Path) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Runs a command line as a user would paste it (`kubectl tls-ingress ...`), through the real
/// kubectl with the plugin on PATH.
fn paste(line: &str, kubeconfig: &std::path::Path) -> std::process::Output {
    let bins = harden_tests::exec_tempdir();
    std::os::unix::fs::symlink(harden_tests::plugin_path("tls-ingress"), bins.path().join("kubectl-tls_ingress"))
        .unwrap();
    let path = format!("{}:{}", bins.path().display(), std::env::var("PATH").unwrap());
    run(Command::new("bash").args(["-c", line]).env("PATH", path).env("KUBECONFIG", kubeconfig).stdin(Stdio::null()))
}

/// Issue 25: without `--class`, `create` took the Gateway API path on a cluster with an
/// IngressClass (not the default) and a GatewayClass. The seed's Ingress is the path unless
/// `--gateway`/`--gateway-class`; with no IngressClass but a GatewayClass the command stops (exit
/// 2) and prints both commands, and each of them, pasted, succeeds.
#[tokio::test]
async fn without_class_the_path_is_the_ingress_and_only_gateway_classes_stop_with_both_commands() {
    let (plane, _stop) = own_control_plane();
    let kubeconfig = plane.admin_kubeconfig.clone();
    let client = client_of(&kubeconfig).await;
    let crds = harden_tests::gateway_api_dir().join("crds");
    let kubectl = || {
        let mut c = Command::new("kubectl");
        c.env("KUBECONFIG", &kubeconfig).stdin(Stdio::null());
        c
    };
    assert!(run(kubectl().args(["apply", "--server-side", "-f"]).arg(&crds)).status.success());
    assert!(
        run(kubectl().args(["wait", "--for=condition=Established", "--timeout=60s", "-f"]).arg(&crds)).status.success()
    );
    let classes = Api::<DynamicObject>::all_with(client.clone(), &gateway_api("GatewayClass", "gatewayclasses", "v1"));
    let mut eg = DynamicObject::new("eg", &gateway_api("GatewayClass", "gatewayclasses", "v1"));
    eg.data = json!({"spec": {"controllerName": "example.com/gateway-controller"}});
    classes.create(&PostParams::default(), &eg).await.unwrap();
    let accepted = json!({"status": {"conditions": [condition("Accepted", true, "Accepted")]}});
    classes.patch_status("eg", &PatchParams::default(), &Patch::Merge(&accepted)).await.unwrap();
    let namespace: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "t75"}})).unwrap();
    Api::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let service: Service = serde_json::from_value(
        json!({"metadata": {"name": "accounting-service"}, "spec": {"ports": [{"name": "http", "port": 80}]}}),
    )
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "t75").create(&PostParams::default(), &service).await.unwrap();
    let (secrets, ingresses) =
        (Api::<Secret>::namespaced(client.clone(), "t75"), Api::<Ingress>::namespaced(client.clone(), "t75"));
    let gateways = Api::<DynamicObject>::namespaced_with(client.clone(), "t75", &gateways());
    let create = |name: &str| {
        let mut c = plugin_command("tls-ingress");
        c.env("KUBECONFIG", &kubeconfig)
            .args(["create", name, "-n", "t75", "--host", HOST])
            .args(["--service", "accounting-service:80"]);
        c
    };

    // No IngressClass, a GatewayClass: the choice is the user's.
    let stopped = run(&mut create("accounting"));
    assert_eq!(stopped.status.code(), Some(2), "{}", stderr(&stopped));
    let err = stderr(&stopped);
    assert!(err.contains("the cluster has no IngressClass") && err.contains("GatewayClass eg (accepted"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(secrets.get_opt("accounting-tls").await.unwrap().is_none(), "no Secret");
    assert!(ingresses.get_opt("accounting").await.unwrap().is_none(), "no Ingress");
    assert!(gateways.get_opt("accounting").await.unwrap().is_none(), "no Gateway");
    let command = |flag: &str| {
        err.lines()
            .map(str::trim)
            .find(|l| l.starts_with("kubectl tls-ingress create") && l.ends_with(flag))
            .unwrap_or_else(|| panic!("no command ending in {flag}: {err}"))
            .to_string()
    };
    let (ingress_line, gateway_line) = (command("--class CLASS"), command("--gateway-class eg"));
    assert!(ingress_line.contains(&format!("-n t75 --host {HOST} --service accounting-service:80")), "{ingress_line}");

    // Each command, as printed, does what it says.
    let ingress = paste(&ingress_line.replace("CLASS", "traefik"), &kubeconfig);
    assert_eq!(ingress.status.code(), Some(0), "{}", stderr(&ingress));
    assert!(stderr(&ingress).contains("IngressClass \"traefik\" does not exist"), "{}", stderr(&ingress));
    let made = ingresses.get("accounting").await.unwrap();
    assert_eq!(made.spec.unwrap().ingress_class_name.as_deref(), Some("traefik"));
    assert!(gateways.get_opt("accounting").await.unwrap().is_none(), "an Ingress, not a Gateway");
    ingresses.delete("accounting", &Default::default()).await.unwrap();
    secrets.delete("accounting-tls", &Default::default()).await.unwrap();
    let gateway = paste(&gateway_line, &kubeconfig);
    assert_eq!(gateway.status.code(), Some(0), "{}", stderr(&gateway));
    assert!(gateways.get_opt("accounting").await.unwrap().is_some(), "the Gateway");
    assert!(ingresses.get_opt("accounting").await.unwrap().is_none());

    // An IngressClass that is not the default, and the GatewayClass: an Ingress, never the Gateway.
    let plain = IngressClass {
        metadata: ObjectMeta { name: Some("plain".into()), ..Default::default() },
        spec: Some(IngressClassSpec { controller: Some("example.com/ingress".into()), parameters: None }),
    };
    Api::<IngressClass>::all(client.clone()).create(&PostParams::default(), &plain).await.unwrap();
    let billing = run(&mut create("billing"));
    assert_eq!(billing.status.code(), Some(0), "{}", stderr(&billing));
    assert!(
        stdout(&billing).contains("ingress.networking.k8s.io/billing created in namespace t75"),
        "{}",
        stdout(&billing)
    );
    let err = stderr(&billing);
    assert!(err.contains("no IngressClass is marked as the default (the cluster has plain)"), "{err}");
    assert!(err.contains("--gateway-class eg serves a Gateway instead"), "{err}");
    assert!(gateways.get_opt("billing").await.unwrap().is_none(), "no Gateway was chosen silently");
}

/// Issue 25: after an all-or-nothing Gateway create failed on its HTTPRoute and rolled back the
/// Secret and the Gateway, the hint still said "what was applied stays as it is". The message now
/// says what was rolled back, and the cluster holds nothing of the run.
#[tokio::test]
async fn a_rolled_back_create_says_what_it_rolled_back() {
    let cluster = cluster();
    gateway_class("eg-frozen", true).await;
    let ns = cluster.namespace("gw-frozen").await;
    accounting_service(&ns).await;
    // An admission policy that refuses every HTTPRoute in this namespace: the third write fails.
    let policy = format!("freeze-routes-{ns}");
    let yaml = format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {{name: {policy}}}\n\
         spec:\n  failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n    - apiGroups: [gateway.networking.k8s.io]\n\
         \x20     apiVersions: ['*']\n      operations: [CREATE]\n      resources: [httproutes]\n  validations:\n\
         \x20 - expression: 'false'\n    message: HTTPRoutes are frozen in this namespace\n---\n\
         apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {{name: {policy}}}\n\
         spec:\n  policyName: {policy}\n  validationActions: [Deny]\n  matchResources:\n    namespaceSelector:\n\
         \x20     matchLabels: {{kubernetes.io/metadata.name: {ns}}}\n"
    );
    assert!(harden_tests::run_with_input(cluster.kubectl().args(["apply", "-f", "-"]), &yaml).status.success());
    let probe_route = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: probe, namespace: {ns}}}\nspec: {{}}\n"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let tried = harden_tests::run_with_input(
            cluster.kubectl().args(["create", "--dry-run=server", "-f", "-"]),
            &probe_route,
        );
        if stderr(&tried).contains("frozen") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the admission policy never took effect");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }

    let out = run(cluster.plugin("tls-ingress").args(["create", "accounting", "-n", &ns, "--host", HOST]).args([
        "--service",
        "accounting-service:80",
        "--gateway",
        "web",
        "--gateway-class",
        "eg-frozen",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(text.contains(&format!("secret/accounting-tls created in namespace {ns}")), "{text}");
    assert!(text.contains(&format!("gateway.gateway.networking.k8s.io/web created in namespace {ns}")), "{text}");
    assert!(text.contains("httproute.gateway.networking.k8s.io/accounting failed"), "{text}");
    for what in ["secret/accounting-tls", "gateway.gateway.networking.k8s.io/web"] {
        assert!(
            err.contains(&format!("{what} in namespace {ns} deleted (rolled back: the rest of the plan failed)")),
            "{what}: {err}"
        );
    }
    let error = err.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(
        error.contains(&format!(
            "rolled back: gateway.gateway.networking.k8s.io/web in namespace {ns} and secret/accounting-tls in \
             namespace {ns} deleted again; nothing this run created is left"
        )),
        "{err}"
    );
    assert!(!err.contains("stays as it is"), "{err}");
    let client = cluster.admin_client().await;
    assert!(Api::<Secret>::namespaced(client.clone(), &ns).get_opt("accounting-tls").await.unwrap().is_none());
    assert!(Api::<DynamicObject>::namespaced_with(client, &ns, &gateways()).get_opt("web").await.unwrap().is_none());
    run(cluster.kubectl().args(["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", &policy]));
}

async fn nothing_created(ns: &str) {
    let client = cluster().admin_client().await;
    assert!(Api::<Secret>::namespaced(client.clone(), ns).get_opt("accounting-secret").await.unwrap().is_none());
    assert!(Api::<Ingress>::namespaced(client, ns).get_opt("accounting-ingress").await.unwrap().is_none());
}

/// Issue 32: `--write-cert DIR` exited 1 when DIR could not be written, after creating the Secret
/// and the Ingress. What can fail about DIR is found first and nothing is created; a step that
/// fails after the cluster changed says what changed.
#[tokio::test]
async fn write_cert_problems_are_found_before_the_cluster_changes() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-unwritable").await;
    accounting_service(&ns).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let planted = dir.path().join("planted");
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(planted.join("accounting-secret.key"), "someone's key").unwrap();
    for (target, code, says) in [
        (file.clone(), 2, "is not a directory"),
        (file.join("certs"), 2, "is not a directory"),
        (std::path::PathBuf::from("/proc/self/certs"), 1, "cannot be written"),
        (std::path::PathBuf::from("/sys/kernel"), 1, "cannot write in"),
        (open.clone(), 1, "can be written by other users"),
        (planted.clone(), 1, "accounting-secret.key already exists"),
    ] {
        let out = run(t75_create(&ns).arg("--write-cert").arg(&target));
        assert_eq!(out.status.code(), Some(code), "{}: {}", target.display(), stderr(&out));
        assert!(stderr(&out).contains(says), "{}: {}", target.display(), stderr(&out));
        assert!(stderr(&out).contains("nothing was changed"), "{}: {}", target.display(), stderr(&out));
        assert_eq!(stdout(&out), "", "no object was applied for {}", target.display());
        nothing_created(&ns).await;
    }
    assert_eq!(std::fs::read_to_string(planted.join("accounting-secret.key")).unwrap(), "someone's key");

    // A later step that fails (no controller gives an address) names every change that stays.
    let out = run(t75_create(&ns).args(["--wait", "--timeout", "1s"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "the cluster changes of this run stay: secret/accounting-secret in namespace {ns} created, \
             ingress.networking.k8s.io/accounting-ingress in namespace {ns} created"
        )),
        "{}",
        stderr(&out)
    );
}

/// Issue 32: `--dry-run=client` and `--dry-run=server` wrote the certificate and its private key
/// for a Secret that was never stored. They write nothing, and check what a real run would.
#[tokio::test]
async fn dry_runs_write_no_file() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-dry-files").await;
    accounting_service(&ns).await;
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("certs");
    for dry_run in ["--dry-run=client", "--dry-run=server"] {
        for target in [dir.path(), nested.as_path()] {
            let out = run(t75_create(&ns).arg(dry_run).arg("--write-cert").arg(target));
            assert_eq!(out.status.code(), Some(0), "{dry_run} {}: {}", target.display(), stderr(&out));
            assert!(stderr(&out).contains("(dry run: no file is written)"), "{}", stderr(&out));
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert!(left.is_empty(), "{dry_run} wrote {left:?}");
        }
    }
    nothing_created(&ns).await;
    // A dry run checks the files as the real run would: an existing key is refused there too.
    std::fs::write(dir.path().join("accounting-secret.key"), "mine").unwrap();
    let out = run(t75_create(&ns).arg("--dry-run=server").arg("--write-cert").arg(dir.path()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--overwrite-files"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join("accounting-secret.key")).unwrap(), "mine");
}

/// Issue 32: `--overwrite`, needed to replace the local files, also took over someone else's
/// Ingress. `--overwrite` is for objects in the cluster, `--overwrite-files` for the local files,
/// and each refusal names the flag it needs.
#[tokio::test]
async fn overwrite_is_for_the_cluster_and_overwrite_files_for_the_files() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-two-flags").await;
    accounting_service(&ns).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("accounting-secret.key"), "old key").unwrap();

    let out = run(t75_create(&ns).arg("--write-cert").arg(dir.path()).arg("--overwrite"));
    assert_eq!(out.status.code(), Some(1), "--overwrite does not replace files: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("re-run with --overwrite-files to replace the local files"), "{err}");
    assert!(err.contains("--overwrite is for objects in the cluster"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("accounting-secret.key")).unwrap(), "old key");
    nothing_created(&ns).await;

    // Someone else's Ingress of that name: --overwrite-files does not take it over.
    let theirs: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "accounting-ingress"},
        "spec": {"rules": [{"host": "other.acme.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "accounting-service", "port": {"number": 80}}}}]}}]},
    }))
    .unwrap();
    let ingresses = Api::<Ingress>::namespaced(cluster.admin_client().await, &ns);
    let before = ingresses.create(&PostParams::default(), &theirs).await.unwrap();
    let out = run(t75_create(&ns).arg("--write-cert").arg(dir.path()).arg("--overwrite-files"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not created by kubectl-tls-ingress") && err.contains("--overwrite to take it over"), "{err}");
    let after = ingresses.get("accounting-ingress").await.unwrap();
    assert_eq!(after.metadata.resource_version, before.metadata.resource_version, "their Ingress is untouched");
    assert_eq!(std::fs::read_to_string(dir.path().join("accounting-secret.key")).unwrap(), "old key");

    // Both permissions, both flags.
    let out = run(t75_create(&ns).arg("--write-cert").arg(dir.path()).args(["--overwrite", "--overwrite-files"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, key) = secret_pem(&ns, "accounting-secret").await;
    assert_eq!(std::fs::read_to_string(dir.path().join("accounting-secret.key")).unwrap(), key);

    let out = run(t75_create(&ns).arg("--overwrite-files"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--overwrite-files applies to the files of --write-cert DIR only"));
}

/// The SHA-256 fingerprint of the first certificate of a PEM text, as the plugin prints it.
fn fingerprint(pem: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    sha2::Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// The fingerprint a run printed in its `certificate: ...` line.
fn printed_fingerprint(out: &str) -> Option<String> {
    let line = out.lines().find(|l| l.starts_with("certificate: "))?;
    Some(line.rsplit("sha256 ").next()?.trim().to_string())
}

fn spawn_all(commands: Vec<Command>) -> Vec<std::process::Output> {
    let children: Vec<_> =
        commands.into_iter().map(|mut c| c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()).collect();
    children.into_iter().map(|c| c.wait_with_output().unwrap()).collect()
}

/// Issue 32: twenty concurrent identical creates: eleven exited 0 printing nine different
/// fingerprints for one Secret. Exactly one run creates each object; every other run either
/// reports a conflict (exit 1) or finds exactly what it would write (`unchanged`), and every run
/// that succeeds printed the certificate the Secret holds. Then concurrent rotations: one wins.
#[tokio::test]
async fn twenty_concurrent_creates_one_secret_one_certificate() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-race").await;
    accounting_service(&ns).await;
    let outs = tokio::task::spawn_blocking({
        let ns = ns.clone();
        move || spawn_all((0..20).map(|_| t75_create(&ns)).collect())
    })
    .await
    .unwrap();
    let (cert, _) = secret_pem(&ns, "accounting-secret").await;
    let stored = fingerprint(&cert);
    let (mut ok, mut conflicts) = (0, 0);
    for object in ["secret/accounting-secret", "ingress.networking.k8s.io/accounting-ingress"] {
        let created = outs.iter().filter(|o| stdout(o).contains(&format!("{object} created in namespace"))).count();
        assert_eq!(created, 1, "{object} is created by exactly one run");
    }
    for (i, out) in outs.iter().enumerate() {
        let (text, err) = (stdout(out), stderr(out));
        match out.status.code() {
            Some(0) => {
                ok += 1;
                assert_eq!(printed_fingerprint(&text).as_deref(), Some(stored.as_str()), "run {i}: {text}");
                for object in ["secret/accounting-secret", "ingress.networking.k8s.io/accounting-ingress"] {
                    assert!(
                        text.contains(&format!("{object} created in namespace"))
                            || text.contains(&format!("{object} unchanged in namespace")),
                        "run {i}: {object}: {text}"
                    );
                }
                assert!(!text.contains("configured"), "run {i}: {text}");
            }
            Some(1) => {
                conflicts += 1;
                assert!(
                    text.contains("secret/accounting-secret failed")
                        && text.contains("conflict: it was created by another writer"),
                    "run {i}: {text}\n{err}"
                );
                assert!(!text.contains(" created in namespace"), "a run that lost created nothing: {text}");
                assert!(printed_fingerprint(&text).is_none(), "no certificate is claimed: {text}");
            }
            code => panic!("run {i} exited {code:?}: {text}\n{err}"),
        }
    }
    eprintln!("{ok} runs succeeded (one created, the rest found it unchanged), {conflicts} reported a conflict");
    let creator = outs.iter().find(|o| stdout(o).contains("secret/accounting-secret created")).unwrap();
    for out in [Some(creator), outs.iter().find(|o| o.status.code() == Some(1))].into_iter().flatten() {
        eprintln!("-- exit {:?}\n{}{}", out.status.code(), stdout(out), stderr(out));
    }
    assert_eq!(printed_fingerprint(&stdout(creator)).as_deref(), Some(stored.as_str()));

    // Six concurrent rotations. A rotation replaces the certificate it read: two runs that read the
    // same one cannot both succeed (the second would silently drop the first's certificate), so the
    // winners form a chain, and the Secret holds the last one's.
    let original = stored;
    let outs = tokio::task::spawn_blocking({
        let ns = ns.clone();
        move || {
            spawn_all(
                (0..6)
                    .map(|_| {
                        let mut c = harden_tests::cluster().plugin("tls-ingress");
                        c.args(["rotate", "accounting-ingress", "-n", &ns]);
                        c
                    })
                    .collect(),
            )
        }
    })
    .await
    .unwrap();
    let (cert, _) = secret_pem(&ns, "accounting-secret").await;
    let mut replaced = Vec::new();
    let mut new = Vec::new();
    for out in &outs {
        let text = stdout(out);
        match out.status.code() {
            Some(0) => {
                assert!(text.contains("secret/accounting-secret configured"), "{text}");
                let old = text.lines().find_map(|l| l.strip_prefix("replaced: sha256 ")).unwrap();
                replaced.push(old.split(',').next().unwrap().to_string());
                new.push(printed_fingerprint(&text).unwrap());
            }
            Some(1) => assert!(text.contains("conflict: it was changed by another writer"), "{text}"),
            code => panic!("rotate exited {code:?}: {text}\n{}", stderr(out)),
        }
    }
    assert!(!new.is_empty(), "one rotation at least succeeds");
    let mut distinct = replaced.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), replaced.len(), "two rotations replaced the same certificate: {replaced:?}");
    assert!(replaced.iter().all(|r| *r == original || new.contains(r)), "{replaced:?} {new:?} {original}");
    assert!(new.contains(&fingerprint(&cert)), "the Secret holds a winner's certificate");
    let last: Vec<_> = new.iter().filter(|n| !replaced.contains(n)).collect();
    assert_eq!(last, [&fingerprint(&cert)], "the one no rotation replaced is in the Secret");
}

/// What one interrupted `create NAME` left and said, checked against the guarantees: never a
/// Secret (a private key) without its Ingress, and every object's outcome in the output (a created
/// one that is gone was rolled back, and said so). Returns whether the objects exist.
async fn check_interrupted(ns: &str, name: &str, signal: i32, out: &std::process::Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let client = cluster().admin_client().await;
    let secret = Api::<Secret>::namespaced(client.clone(), ns).get_opt(&format!("{name}-tls")).await.unwrap();
    let ingress = Api::<Ingress>::namespaced(client, ns).get_opt(name).await.unwrap();
    let (text, err) = (stdout(out), stderr(out));
    let context = format!("{name}: {:?}\n{text}\n{err}", out.status);
    assert_eq!(secret.is_some(), ingress.is_some(), "a Secret without its Ingress (or the reverse): {context}");
    let signal_name = if signal == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
    for object in [format!("secret/{name}-tls"), format!("ingress.networking.k8s.io/{name}")] {
        let created = text.contains(&format!("{object} created in namespace {ns}"));
        let exists = secret.is_some();
        if exists {
            assert!(created, "{object} exists but was not reported: {context}");
        } else if created {
            assert!(
                err.contains(&format!(
                    "{object} in namespace {ns} deleted (rolled back: interrupted by {signal_name})"
                )),
                "{object} was created, is gone, and its rollback was not reported: {context}"
            );
        }
    }
    match (out.status.code(), out.status.signal()) {
        // Ended by the signal itself: it came outside the writes (before the first, or after the last).
        (None, Some(s)) => assert_eq!(s, signal, "{context}"),
        (Some(0), None) => assert!(secret.is_some(), "exit 0 and nothing created: {context}"),
        (Some(code), None) => {
            assert_eq!(code, 128 + signal, "the signal's status: {context}");
            assert!(err.contains(&format!("interrupted by {signal_name}")), "{context}");
            if secret.is_none() && text.contains(" created in namespace") {
                assert!(err.contains("nothing this run created is left"), "{context}");
            }
        }
        other => panic!("{other:?}: {context}"),
    }
    secret.is_some()
}

/// Issue 32: SIGINT/SIGTERM 10-125 ms into `create` left a TLS Secret without its Ingress, and a
/// killed apply left the object in flight created but unreported. Through a proxy that signals
/// the plugin exactly when a chosen request arrives (so that request is in flight), at each point
/// of the create and with both signals; then at the attack's timings.
#[tokio::test]
async fn signals_during_create_never_leave_a_secret_without_its_ingress() {
    let cluster = cluster();
    default_class().await;
    let ns = cluster.namespace("tls-signal").await;
    accounting_service(&ns).await;
    let proxy = Proxy::start(cluster.admin_kubeconfig());
    let spawn = |name: &str| {
        let mut c = plugin_command("tls-ingress");
        c.env("KUBECONFIG", proxy.kubeconfig())
            .args(["create", name, "-n", &ns, "--host", HOST, "--service", "accounting-service:80", "--class", "nginx"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    // (method, path, nth, what must be left: None = nothing, Some(true) = both objects)
    let points: [(&str, &str, usize, Option<bool>); 6] = [
        ("POST", "/selfsubjectaccessreviews", 1, None), // the rights check: nothing is written yet
        ("POST", "/secrets", 0, None),                  // the Secret's create in flight: rolled back
        ("PATCH", "/secrets/", 0, None),                // its field-manager apply: rolled back
        ("PATCH", "/secrets/", 1, None),                // its last request: rolled back
        ("POST", "/ingresses", 0, Some(true)),          // the last object in flight: the plan completes
        ("PATCH", "/ingresses/", 1, Some(true)),
    ];
    let mut round = 0;
    for (method, path, nth, left) in points {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let name = format!("sig-{round}");
            round += 1;
            proxy.arm(Some(Trigger { method: method.into(), path: path.into(), nth, action: Action::Signal(signal) }));
            let child = spawn(&name);
            proxy.set_pid(child.id());
            let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
            assert!(proxy.fired(), "{method} {path} #{nth} never came: {:?}", proxy.requests());
            eprintln!(
                "-- {method} {path} #{nth}, signal {signal}: exit {:?}\n{}{}",
                out.status,
                stdout(&out),
                stderr(&out)
            );
            let exists = check_interrupted(&ns, &name, signal, &out).await;
            assert_eq!(exists, left == Some(true), "{method} {path} #{nth}: {:?}", proxy.requests());
            if path != "/selfsubjectaccessreviews" {
                // Inside the writes the signal is never fatal: the run finishes the object in flight,
                // rolls back or completes, reports, and exits with the signal's status.
                assert_eq!(out.status.code(), Some(128 + signal), "{method} {path}: {}", stderr(&out));
                let skipped = stdout(&out).contains("skipped in namespace");
                assert_eq!(skipped, left.is_none(), "the Ingress not written is reported: {}", stdout(&out));
            }
        }
    }

    // The attack's timings, straight to the API server: a signal 10-125 ms after the start.
    // Whatever the moment, the guarantees hold; the tally shows which moments were hit.
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    for (i, delay) in (10..=125).step_by(5).enumerate() {
        let name = format!("timed-{i}");
        let signal = if i % 2 == 0 { libc::SIGINT } else { libc::SIGTERM };
        let child = cluster
            .plugin("tls-ingress")
            .args([
                "create",
                &name,
                "-n",
                &ns,
                "--host",
                HOST,
                "--service",
                "accounting-service:80",
                "--class",
                "nginx",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let waiting = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        // SAFETY: kill(2) on the child started above (it may have exited: then nothing happens).
        unsafe { libc::kill(pid as libc::pid_t, signal) };
        let out = waiting.await.unwrap();
        let exists = check_interrupted(&ns, &name, signal, &out).await;
        let rolled_back = stderr(&out).contains("deleted (rolled back");
        *tally
            .entry(match (out.status.code(), exists, rolled_back) {
                (None, false, _) => "ended by the signal before any write",
                (None, true, _) => "ended by the signal after the last write",
                (Some(0), _, _) => "finished before the signal",
                (Some(_), false, true) => "stopped mid-plan and rolled back",
                (Some(_), false, false) => "stopped before the first write",
                (Some(_), true, _) => "stopped after the last write, plan complete",
            })
            .or_default() += 1;
    }
    eprintln!("24 signals at 10-125 ms: {tally:?}");
}

/// A controller writing a Gateway's status between `create`'s read and its write (a real one does,
/// all the time) is not a conflict: the listener is added. Another writer adding a listener there
/// is one: before, the second write silently dropped the first's listener (both runs apply the
/// whole list as one field manager); now it is reported, and the other listener stays.
#[tokio::test]
async fn a_gateway_changed_between_read_and_write_is_a_conflict_unless_only_its_status_changed() {
    let cluster = cluster();
    gateway_class("eg-moving", true).await;
    let ns = cluster.namespace("gw-moving").await;
    accounting_service(&ns).await;
    let first = run(cluster.plugin("tls-ingress").args(["create", "accounting", "-n", &ns, "--host", HOST]).args([
        "--service",
        "accounting-service:80",
        "--gateway",
        "web",
        "--gateway-class",
        "eg-moving",
    ]));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let proxy = Proxy::start(cluster.admin_kubeconfig());
    let api = Api::<DynamicObject>::namespaced_with(cluster.admin_client().await, &ns, &gateways());
    let listeners = |gw: &DynamicObject| -> Vec<String> {
        gw.data["spec"]["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (app, host, someone_else) in [("billing", "billing.acme.com", false), ("shop", "shop.acme.com", true)] {
        // Held at the rights check: every read of the plan is done, nothing is written yet.
        proxy.arm(Some(Trigger {
            method: "POST".into(),
            path: "/selfsubjectaccessreviews".into(),
            nth: 0,
            action: Action::Hold,
        }));
        let child = plugin_command("tls-ingress")
            .env("KUBECONFIG", proxy.kubeconfig())
            .args(["create", app, "-n", &ns, "--host", host, "--service", "accounting-service:80", "--gateway", "web"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        proxy.wait_held().await;
        if someone_else {
            let mut gw = api.get("web").await.unwrap();
            let mut all = gw.data["spec"]["listeners"].as_array().unwrap().clone();
            all.push(json!({"name": "other-https", "hostname": "other.acme.com", "port": 443, "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "accounting-tls"}]}}));
            gw.data["spec"]["listeners"] = Value::Array(all);
            let patch = json!({"metadata": {"resourceVersion": gw.metadata.resource_version}, "spec": gw.data["spec"]});
            api.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        } else {
            program_gateway(&ns, "web", &[("accounting-https", true)]).await;
        }
        proxy.release();
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        let (text, err) = (stdout(&out), stderr(&out));
        let gw = api.get("web").await.unwrap();
        let secrets = Api::<Secret>::namespaced(cluster.admin_client().await, &ns);
        if someone_else {
            assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
            assert!(
                text.contains("gateway.gateway.networking.k8s.io/web failed")
                    && text.contains("conflict: it was changed by another writer"),
                "{text}"
            );
            assert!(!text.contains("web configured"), "{text}");
            assert_eq!(
                listeners(&gw),
                ["accounting-https", "billing-https", "other-https"],
                "the other's listener stays"
            );
            assert!(secrets.get_opt(&format!("{app}-tls")).await.unwrap().is_none(), "rolled back: {err}");
            assert!(err.contains(&format!("rolled back: secret/{app}-tls in namespace {ns} deleted again")), "{err}");
        } else {
            assert_eq!(out.status.code(), Some(0), "a status write is not a conflict: {text}\n{err}");
            assert!(text.contains(&format!("gateway.gateway.networking.k8s.io/web configured in namespace {ns}")));
            assert_eq!(listeners(&gw), ["accounting-https", "billing-https"]);
        }
    }
}

/// A Secret `delete` would remove is kept when whether another Ingress or Gateway uses it cannot
/// be checked (here: the user may not list Gateways). It was deleted: a failed list read as
/// "nobody uses it".
#[tokio::test]
async fn delete_keeps_a_secret_whose_users_cannot_be_listed() {
    let cluster = cluster();
    cluster.install_gateway_api();
    default_class().await;
    let ns = cluster.namespace("tls-unlisted").await;
    accounting_service(&ns).await;
    assert_eq!(run(&mut t75_create(&ns)).status.code(), Some(0));
    let user = format!("{ns}-no-gateways");
    let rbac = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {user}}}\nrules:\n\
         - {{apiGroups: ['', networking.k8s.io, authorization.k8s.io], resources: ['*'], verbs: ['*']}}\n\
         - {{apiGroups: [gateway.networking.k8s.io], resources: ['*'], verbs: [get]}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {user}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {user}}}\n\
         subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}]\n"
    );
    let applied = kubectl_apply(&rbac);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let out = run(cluster.plugin("tls-ingress").args(["delete", "accounting-ingress", "-n", &ns, "--as", &user]));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("ingress.networking.k8s.io/accounting-ingress deleted"), "{text}");
    assert!(
        text.contains(&format!("secret {ns}/accounting-secret was left in place: whether another Ingress or Gateway uses it could not be checked")),
        "{text}"
    );
    let client = cluster.admin_client().await;
    assert!(Api::<Secret>::namespaced(client, &ns).get_opt("accounting-secret").await.unwrap().is_some());
}
