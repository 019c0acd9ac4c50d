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
    let ns = cluster.namespace("tls-theirs").await;
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
    let ns = cluster.namespace("tls-own").await;
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
    assert!(err.contains("ingress-nginx"), "{err}");

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
    let mode = |name: &str| std::fs::metadata(certs.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("web-tls.crt"), 0o644);
    assert_eq!(mode("web-tls.key"), 0o600);
    let key = std::fs::read_to_string(certs.join("web-tls.key")).unwrap();
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
    // The key kubectl stored is the one written to --write-cert.
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
