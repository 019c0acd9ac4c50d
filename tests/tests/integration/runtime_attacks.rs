//! The shared runtime under the second attack campaign (issue 32), against the real API server;
//! each test failed on the code before it:
//!
//! - the exam lock stops deletes as it stops creates, in every plugin that deletes;
//! - a version conflict during a delete is read again, checked again and retried by every plugin
//!   (issue 26: one delete path), and a re-read that finds the object no longer ours stops;
//! - a control character from the cluster or a file reaches the terminal escaped, whichever plugin
//!   prints it, and JSON stays the same JSON;
//! - kubeconfig files are read within a budget, and a FIFO or `/dev/zero` fails fast;
//! - an argument that is not valid text is named, exit 2, in every plugin;
//! - a namespace that does not exist is an error (exit 2) naming it, in every command that takes -n.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use harden_tests::intercept::ConflictOnDelete;
use harden_tests::{cluster, plugin_command, run, stderr, stdout};
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

const LOCK: &str = "kube-harden.io/locked-by";

/// The plugins that delete what they made: how to make an object, how to delete it, and where
/// the object lives (its API path, for the front's log).
struct Deleter {
    plugin: &'static str,
    make: fn(&str) -> Vec<String>,
    delete: fn(&str) -> Vec<String>,
    paths: fn(&str) -> Vec<String>,
}

fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

const DELETERS: [Deleter; 4] = [
    Deleter {
        plugin: "netpol-deny",
        make: |ns| words(&["apply", "-n", ns, "--ingress"]),
        delete: |ns| words(&["delete", "default-deny-ingress", "-n", ns]),
        paths: |ns| vec![format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/default-deny-ingress")],
    },
    Deleter {
        plugin: "block-metadata",
        make: |ns| words(&["apply", "-n", ns]),
        delete: |ns| words(&["remove", "-n", ns]),
        paths: |ns| vec![format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/block-metadata")],
    },
    Deleter {
        plugin: "tls-ingress",
        make: |ns| words(&["create", "web", "-n", ns, "--host", "web.example.com", "--service", "web:80"]),
        delete: |ns| words(&["delete", "web", "-n", ns]),
        paths: |ns| {
            vec![
                format!("/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/web"),
                format!("/api/v1/namespaces/{ns}/secrets/web-tls"),
            ]
        },
    },
    Deleter {
        plugin: "dash-user",
        make: |ns| words(&["create", "viewer", "-n", ns, "--namespaces", ns, "--no-token"]),
        delete: |ns| words(&["delete", "viewer", "-n", ns]),
        paths: |ns| vec![format!("/api/v1/namespaces/{ns}/serviceaccounts/viewer")],
    },
];

/// A namespace with the objects each plugin makes (tls-ingress's backend Service included).
async fn made(prefix: &str, deleter: &Deleter) -> String {
    let ns = cluster().namespace(prefix).await;
    if deleter.plugin == "tls-ingress" {
        let service: Service =
            serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})).unwrap();
        Api::<Service>::namespaced(cluster().admin_client().await, &ns)
            .create(&PostParams::default(), &service)
            .await
            .unwrap();
    }
    let out = run(cluster().plugin(deleter.plugin).args((deleter.make)(&ns)));
    assert_eq!(out.status.code(), Some(0), "{}: {}", deleter.plugin, stderr(&out));
    ns
}

/// Whether the object at an API path exists, asked as admin.
async fn exists(path: &str) -> bool {
    let client = cluster().admin_client().await;
    let request = http::Request::get(path).body(Vec::new()).unwrap();
    match client.request_text(request).await {
        Ok(_) => true,
        Err(kube::Error::Api(status)) if status.code == 404 => false,
        Err(e) => panic!("reading {path}: {e}"),
    }
}

async fn lock(ns: &str, holder: Option<&str>) {
    let api: Api<Namespace> = Api::all(cluster().admin_client().await);
    let patch = json!({"metadata": {"labels": {LOCK: holder}}});
    api.patch(ns, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
}

/// `cks-practice start --exam` locks a run's namespaces: the four plugins that delete refuse to
/// delete there (exit 1, naming the lock) and nothing of theirs is gone; once the lock is lifted the
/// same command deletes, so the refusal was the lock's.
#[tokio::test]
async fn a_locked_namespace_refuses_deletes_from_every_plugin() {
    let locks = cluster().locking_namespaces();
    for deleter in &DELETERS {
        let ns = made("locked-delete", deleter).await;
        locks.add(&ns);
        lock(&ns, Some("kubectl-cks-practice")).await;
        let out = run(cluster().plugin(deleter.plugin).args((deleter.delete)(&ns)));
        assert_eq!(out.status.code(), Some(1), "{}: {}", deleter.plugin, stderr(&out));
        let said = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            said.contains(&format!("namespace {ns} is locked by kubectl-cks-practice")),
            "{}: {said}",
            deleter.plugin
        );
        for path in (deleter.paths)(&ns) {
            assert!(exists(&path).await, "{}: {path} was deleted in a locked namespace", deleter.plugin);
        }
        // A lock held by the plugin itself does not stop it; no lock does not either.
        lock(&ns, Some(&format!("kubectl-{}", deleter.plugin))).await;
        let out = run(cluster().plugin(deleter.plugin).args((deleter.delete)(&ns)));
        assert_eq!(out.status.code(), Some(0), "{}: {}", deleter.plugin, stderr(&out));
        for path in (deleter.paths)(&ns) {
            assert!(!exists(&path).await, "{}: {path} is still there", deleter.plugin);
        }
    }
}

/// The object changes between the plugin's read and its delete (the front changes it just before
/// the first DELETE reaches the API server): the precondition fails with 409, and every plugin
/// reads it again, sees it is still its own, and deletes it (exit 0, the object gone).
#[tokio::test]
async fn a_version_conflict_during_a_delete_is_retried_by_every_plugin() {
    let front = ConflictOnDelete::start(cluster().admin_kubeconfig(), None);
    for deleter in &DELETERS {
        let ns = made("conflict-delete", deleter).await;
        let out =
            run(cluster().plugin(deleter.plugin).env("KUBECONFIG", front.kubeconfig()).args((deleter.delete)(&ns)));
        assert_eq!(out.status.code(), Some(0), "{}: {}", deleter.plugin, stderr(&out));
        for path in (deleter.paths)(&ns) {
            // The first DELETE conflicts and is retried; dash-user sends each delete as a server dry
            // run first (its checks before the first write), so its conflict may come there.
            let deletes = front.deletes(&path);
            let expected: &[u16] = if deleter.plugin == "dash-user" { &[409, 200, 200] } else { &[409, 200] };
            assert_eq!(deletes, expected, "{}: {path}: {:#?}", deleter.plugin, front.seen());
            assert!(!exists(&path).await, "{}: {path} is still there", deleter.plugin);
        }
    }
}

/// The re-read is a real check: when the change that made the delete conflict also took the
/// object away from the plugin (its managed-by label removed), the retry stops and the object stays.
#[tokio::test]
async fn a_retried_delete_stops_when_the_object_is_no_longer_ours() {
    let label_removed = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": null}}});
    let front = ConflictOnDelete::start(cluster().admin_kubeconfig(), Some(label_removed));
    let deleter = &DELETERS[0];
    let ns = made("conflict-not-ours", deleter).await;
    let out = run(cluster().plugin(deleter.plugin).env("KUBECONFIG", front.kubeconfig()).args((deleter.delete)(&ns)));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("was not created by kubectl-netpol-deny"), "{}", stdout(&out));
    let path = &(deleter.paths)(&ns)[0];
    assert_eq!(front.deletes(path), [409], "one attempt, then the re-read saw it is not ours");
    assert!(exists(path).await);
    let policies: Api<NetworkPolicy> = Api::namespaced(cluster().admin_client().await, &ns);
    assert!(policies.get("default-deny-ingress").await.unwrap().metadata.labels.unwrap_or_default().is_empty());
}

/// Every byte a plugin wrote, as text, with no raw control character but newline and tab, and the
/// escaped form of ESC present: what came from the cluster or the file was printed, escaped.
fn escaped(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let raw: Vec<&u8> = bytes.iter().filter(|&&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f).collect();
        assert!(raw.is_empty(), "{what}: raw control bytes {raw:?} on {stream}:\n{}", String::from_utf8_lossy(bytes));
        assert!(!String::from_utf8_lossy(bytes).chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c) && c != '\u{85}'));
    }
    let all = format!("{}{}", stdout(out), stderr(out));
    let shown = ["\\u001b[2J", "\\u{1b}[2J", "\\u009b31m", "\\u{9b}31m"];
    assert!(shown.iter().any(|s| all.contains(s)), "{what}: the hostile text was not shown:\n{all}");
}

/// ESC `[2J` (clear the screen) and a C1 CSI in names, annotations and report fields, from a file
/// or the cluster, reach the terminal escaped in every plugin's text output. (cks-practice: in
/// `cks_practice::api::a_changed_record_never_chooses_which_files_are_read_or_deleted`.)
#[tokio::test]
async fn control_characters_from_files_and_the_cluster_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "evil\u{1b}[2J\u{9b}31m";
    // netpol-deny and block-metadata: a pod name in a file.
    let pods = dir.path().join("pods.yaml");
    std::fs::write(
        &pods,
        // YAML's own escapes: a raw control character is not allowed in a YAML stream.
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"evil\\e[2J\\x9b31m\", namespace: shop, labels: {app: web}}\n\
         spec: {containers: [{name: c, image: i}]}\n",
    )
    .unwrap();
    let out = run(plugin_command("netpol-deny").args(["matrix", "--port", "80", "-f"]).arg(&pods));
    escaped("netpol-deny matrix", &out);
    // CSV is written past the stream's scan, from texts escaped one by one: escaped all the same.
    let out = run(plugin_command("netpol-deny").args(["matrix", "--port", "80", "-o", "csv", "-f"]).arg(&pods));
    escaped("netpol-deny matrix --port 80 -o csv", &out);
    let out = run(plugin_command("netpol-deny").args(["matrix", "-o", "csv", "-f"]).arg(&pods));
    escaped("netpol-deny matrix -o csv", &out);
    let out = run(plugin_command("block-metadata").args(["status", "-f"]).arg(&pods));
    escaped("block-metadata status", &out);

    // cis-bench: a kube-bench report field.
    let report = harden_tests::repo_root().join("tests/fixtures/kube-bench/cis-1.10.json");
    let text = std::fs::read_to_string(report).unwrap();
    let first = text.find("\"test_desc\":\"").expect("a check's description") + "\"test_desc\":\"".len();
    let poisoned =
        format!("{}{}{}", &text[..first], serde_json::to_string(hostile).unwrap().trim_matches('"'), &text[first..]);
    let file = dir.path().join("report.json");
    std::fs::write(&file, poisoned).unwrap();
    let out = run(plugin_command("cis-bench").arg("report").arg(&file));
    escaped("cis-bench report", &out);

    // verify-bin: names listed in a checksum file.
    let binary = dir.path().join("kubectl");
    std::fs::write(&binary, b"\x7fELF not really").unwrap();
    let sums = dir.path().join("SHA256SUMS");
    std::fs::write(&sums, format!("{}  {hostile}\n", "0".repeat(64))).unwrap();
    let out = run(plugin_command("verify-bin").arg(&binary).arg("--checksum-file").arg(&sums));
    escaped("verify-bin", &out);

    // tls-ingress: an Ingress's class annotation.
    let ns = cluster().namespace("escape-tls").await;
    let ingress: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "web", "annotations": {"kubernetes.io/ingress.class": hostile}},
        "spec": {"tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
                 "rules": [{"host": "web.example.com"}]},
    }))
    .unwrap();
    Api::<Ingress>::namespaced(cluster().admin_client().await, &ns)
        .create(&PostParams::default(), &ingress)
        .await
        .unwrap();
    let out = run(cluster().plugin("tls-ingress").args(["inspect", "-n", &ns]));
    escaped("tls-ingress inspect", &out);

    // dash-user: the role a user's ServiceAccount records.
    let ns = cluster().namespace("escape-dash").await;
    let account: ServiceAccount = serde_json::from_value(json!({
        "metadata": {"name": "viewer", "labels": {"app.kubernetes.io/managed-by": "kubectl-dash-user"},
                     "annotations": {"dash-user.kube-harden.io/role": hostile}},
    }))
    .unwrap();
    Api::<ServiceAccount>::namespaced(cluster().admin_client().await, &ns)
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let out = run(cluster().plugin("dash-user").args(["list", "-n", &ns]));
    escaped("dash-user list", &out);

    // JSON is not escaped by the writer: it parses to the same text.
    let out = run(cluster().plugin("dash-user").args(["list", "-n", &ns, "-o", "json"]));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows[0]["role"], hostile);
    // And a normal name is printed unchanged.
    let out = run(cluster().plugin("dash-user").args(["list", "-n", &ns]));
    assert!(stdout(&out).contains("viewer"), "{}", stdout(&out));
}

/// Runs a plugin with `input` on its stdin, killing it if it has not ended within `limit`: a hang is
/// a failure, not a wait.
fn run_within(command: &mut Command, input: &[u8], limit: Duration) -> Output {
    use std::io::Write;
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{command:?} hung for {limit:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    eprintln!("$ {command:?}\n-- exit {:?}\n-- stderr\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    out
}

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// `--kubeconfig /dev/zero` grew to 22 GiB and a FIFO hung forever: now every kubeconfig file
/// (the flag, each KUBECONFIG entry, the files it names) is refused fast, and one that is fine
/// still works, from a pipe too.
#[tokio::test]
async fn kubeconfig_files_are_read_within_a_budget_and_never_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let limit = Duration::from_secs(20);
    let list_with = |env: &[(&str, &OsStr)], args: &[&OsStr], input: &[u8]| {
        let mut command = plugin_command("netpol-deny");
        command.args(["list", "-n", "default"]).args(args);
        for (k, v) in env {
            command.env(k, v);
        }
        run_within(&mut command, input, limit)
    };
    let list = |env: &[(&str, &OsStr)], args: &[&OsStr]| list_with(env, args, b"");
    let zero = OsStr::new("/dev/zero");
    let out = list(&[], &[OsStr::new("--kubeconfig"), zero]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("too large: more than 16 MiB"), "{}", stderr(&out));
    let out = list(&[], &[OsStr::new("--kubeconfig"), fifo.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("has no cluster, user or context"), "{}", stderr(&out));
    let out = list(&[("KUBECONFIG", zero)], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let entries = std::env::join_paths([cluster().admin_kubeconfig(), fifo.as_path()]).unwrap();
    let out = list(&[("KUBECONFIG", &entries)], &[]);
    assert_eq!(out.status.code(), Some(0), "a FIFO entry reads as empty and adds nothing: {}", stderr(&out));
    // A certificate the kubeconfig names: /dev/zero, then a FIFO.
    for named in [zero, fifo.as_os_str()] {
        let text = std::fs::read_to_string(cluster().admin_kubeconfig()).unwrap();
        let mut config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let cluster_entry = &mut config["clusters"][0]["cluster"];
        cluster_entry.as_mapping_mut().unwrap().remove("certificate-authority-data");
        cluster_entry["certificate-authority"] = serde_yaml::Value::String(named.to_string_lossy().into());
        let file = dir.path().join("named.yaml");
        std::fs::write(&file, serde_yaml::to_string(&config).unwrap()).unwrap();
        let out = list(&[], &[OsStr::new("--kubeconfig"), file.as_os_str()]);
        assert!(
            stderr(&out).contains("certificate-authority") && stderr(&out).contains("is not a regular file"),
            "{}",
            stderr(&out)
        );
    }
    // A kubeconfig given through a pipe with a writer (as `<(...)`) is read to its end.
    let admin = std::fs::read(cluster().admin_kubeconfig()).unwrap();
    let out = list_with(&[], &[OsStr::new("--kubeconfig"), OsStr::new("/dev/stdin")], &admin);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `std::env::args` panicked on an argument that is not UTF-8, in all seven plugins: now each names
/// it and exits 2. A normal argument still works.
#[test]
fn an_argument_that_is_not_text_exits_2_in_every_plugin() {
    let plugins = harden_tests::plugins();
    assert_eq!(plugins.len(), 7, "{plugins:?}");
    for plugin in &plugins {
        let out = run(plugin_command(plugin).args([OsStr::new("--help"), OsStr::from_bytes(b"caf\xe9")]));
        assert_eq!(out.status.code(), Some(2), "{plugin}");
        assert!(
            stderr(&out).contains("argument 2 is not valid text (UTF-8): \"caf\\xE9\""),
            "{plugin}: {}",
            stderr(&out)
        );
        assert!(!stderr(&out).contains("panicked"), "{plugin}");
        let out = run(plugin_command(plugin).arg("--help"));
        assert_eq!(out.status.code(), Some(0), "{plugin}");
    }
}

/// A namespace that does not exist: exit 2 naming it in every command that takes -n, where it was
/// exit 1 (a refused write) or "nothing found", exit 0. An existing one still works.
#[tokio::test]
async fn a_namespace_that_does_not_exist_exits_2_in_every_command_that_takes_it() {
    let missing = "no-such-namespace-32";
    let commands: &[(&str, &[&str])] = &[
        ("netpol-deny", &["list"]),
        ("netpol-deny", &["delete", "x"]),
        ("netpol-deny", &["apply", "--ingress"]),
        ("netpol-deny", &["allow", "--to", "app=a", "--from-pod", "app=b", "--port", "80", "--name", "x"]),
        ("netpol-deny", &["matrix"]),
        ("block-metadata", &["status"]),
        ("block-metadata", &["remove"]),
        ("block-metadata", &["apply"]),
        ("tls-ingress", &["list"]),
        ("tls-ingress", &["delete", "web"]),
        ("tls-ingress", &["inspect"]),
        ("tls-ingress", &["create", "web", "--host", "web.example.com", "--service", "web:80"]),
        ("dash-user", &["list"]),
        ("dash-user", &["delete", "viewer"]),
        ("dash-user", &["check", "viewer"]),
        ("dash-user", &["create", "viewer", "--no-token"]),
        ("cis-bench", &["run", "--node", "n1"]),
    ];
    for (plugin, args) in commands {
        let out = run(cluster().plugin(plugin).args(*args).args(["-n", missing]));
        assert_eq!(out.status.code(), Some(2), "{plugin} {args:?}");
        assert!(
            stderr(&out).contains(&format!("namespace \"{missing}\" does not exist")),
            "{plugin} {args:?}: {}",
            stderr(&out)
        );
    }
    let ns = cluster().namespace("exists").await;
    for (plugin, args) in [
        ("netpol-deny", &["list"]),
        ("block-metadata", &["remove"]),
        ("tls-ingress", &["list"]),
        ("dash-user", &["list"]),
    ] {
        let out = run(cluster().plugin(plugin).args(args).args(["-n", &ns]));
        assert_eq!(out.status.code(), Some(0), "{plugin} {args:?}: {}", stderr(&out));
    }
    // Without -n, a create in the context's namespace that does not exist names it too (from the
    // API server's answer), where it failed with exit 1.
    let text = std::fs::read_to_string(cluster().admin_kubeconfig()).unwrap();
    let mut config: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    config["contexts"][0]["context"]["namespace"] = serde_yaml::Value::String(missing.into());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kubeconfig");
    std::fs::write(&file, serde_yaml::to_string(&config).unwrap()).unwrap();
    let out = run(cluster().plugin("netpol-deny").env("KUBECONFIG", &file).args(["apply", "--ingress"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("namespace \"{missing}\" does not exist")), "{}", stdout(&out));
}
