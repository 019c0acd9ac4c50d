//! The runtime's guarantees under attack (issue 12): nothing half-done, nothing taken over, every
//! outcome reported, a closed stdout never cutting a change short. Each test failed before.

use std::process::Stdio;

use harden_kube::MANAGED_BY_LABEL;
use harden_tests::{cluster, run, stderr, stdout};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

async fn grant_dev(ns: &str, rules: serde_json::Value) {
    let client = cluster().admin_client().await;
    let role: Role = serde_json::from_value(json!({"metadata": {"name": "dev-partial"}, "rules": rules})).unwrap();
    Api::<Role>::namespaced(client.clone(), ns).create(&PostParams::default(), &role).await.unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "dev-partial"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dev-partial"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dev"}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client, ns).create(&PostParams::default(), &binding).await.unwrap();
}

/// A user who may write Secrets but not Ingresses: the plan is refused before the Secret (and its
/// private key) is written, and the refusal names what is missing.
#[tokio::test]
async fn tls_ingress_without_rights_for_the_ingress_writes_nothing() {
    let ns = cluster().namespace("partial-rights").await;
    grant_dev(
        &ns,
        json!([
            {"apiGroups": [""], "resources": ["secrets", "services"], "verbs": ["get", "list", "create", "patch", "update"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get", "list"]},
        ]),
    )
    .await;
    // The backend exists (create checks it), so what is missing is only the right to write Ingresses.
    let service: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]},
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Service>::namespaced(cluster().admin_client().await, &ns)
        .create(&Default::default(), &service)
        .await
        .unwrap();
    let out = run(cluster().plugin("tls-ingress").env("KUBECONFIG", cluster().user_kubeconfig()).args([
        "create",
        "web",
        "-n",
        &ns,
        "--host",
        "web.example.com",
        "--service",
        "web:80",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing was changed") && err.contains("ingresses.networking.k8s.io"), "{err}");
    assert!(err.contains("User \"dev\""), "{err}");
    let secrets = Api::<Secret>::namespaced(cluster().admin_client().await, &ns);
    assert!(secrets.get_opt("web-tls").await.unwrap().is_none(), "no private key was left behind");
}

/// An unmanaged object created while the plugin applies is never adopted: in every race either
/// the plugin created the object (and the racer failed), or the racer did and the plugin refused.
#[tokio::test]
async fn apply_never_takes_over_an_object_created_meanwhile() {
    let ns = cluster().namespace("race").await;
    let api = Api::<NetworkPolicy>::namespaced(cluster().admin_client().await, &ns);
    let mut racer_won = 0;
    for i in 0..30 {
        let name = format!("contested-{i}");
        let theirs: NetworkPolicy = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": {"owner": "someone-else"}}, "policyTypes": ["Ingress"]},
        }))
        .unwrap();
        let mut plugin = cluster().plugin("netpol-deny");
        plugin.args(["apply", "-n", &ns, "--ingress", "--name", &name]).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = plugin.spawn().unwrap();
        let racer = api.create(&PostParams::default(), &theirs).await;
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        let stored = api.get(&name).await.unwrap();
        let managed = stored.metadata.labels.as_ref().and_then(|l| l.get(MANAGED_BY_LABEL)).is_some();
        if racer.is_ok() {
            racer_won += 1;
            assert!(!managed, "race {i}: the racer's object was taken over: {}", stdout(&out));
            assert_eq!(out.status.code(), Some(1), "race {i}: {}", stdout(&out));
            assert!(stdout(&out).contains("refused"), "race {i}: {}", stdout(&out));
        } else {
            assert!(managed, "race {i}: the plugin's object lacks its label");
            assert_eq!(out.status.code(), Some(0), "race {i}: {}", stderr(&out));
        }
    }
    eprintln!("the racer created the object first in {racer_won} of 30 races");
}

/// Every namespace's outcome is printed, the run goes past a refusal, and the exit code says some
/// failed. Before, only the conflict was printed and the created policy went unmentioned. (The
/// failure is a namespace being deleted: one that does not exist is refused before anything is
/// applied, exit 2, since issue 32.)
#[tokio::test]
async fn a_multi_namespace_apply_reports_every_namespace() {
    let ok = cluster().namespace("multi-ok").await;
    let taken = cluster().namespace("multi-taken").await;
    let closing = cluster().namespace("multi-closing").await;
    // No namespace controller here: a deleted namespace stays Terminating, and refuses new objects.
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(cluster().admin_client().await);
    namespaces.delete(&closing, &Default::default()).await.unwrap();
    let api = Api::<NetworkPolicy>::namespaced(cluster().admin_client().await, &taken);
    let seeds: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "default-deny-all"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }))
    .unwrap();
    api.create(&PostParams::default(), &seeds).await.unwrap();
    for dry_run in ["--dry-run=server", "--dry-run=none"] {
        let out = run(cluster().plugin("netpol-deny").args([
            "apply",
            "-n",
            &format!("{ok},{taken},{closing}"),
            "--ingress",
            "--egress",
            "--name",
            "default-deny-all",
            dry_run,
        ]));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&format!("default-deny-all created in namespace {ok}")), "{text}");
        assert!(text.contains(&format!("default-deny-all refused in namespace {taken}")), "{text}");
        assert!(text.contains("its spec.policyTypes is [\"Ingress\"], ours [\"Ingress\",\"Egress\"]"), "{text}");
        assert!(text.contains(&format!("default-deny-all failed in namespace {closing}")), "{text}");
        assert!(stderr(&out).contains("2 of 3 objects were not applied"), "{}", stderr(&out));
    }
    let seeds_after = api.get("default-deny-all").await.unwrap();
    assert_eq!(seeds_after.spec.unwrap().policy_types.unwrap(), ["Ingress"], "the seed's policy is untouched");

    // A namespace that does not exist among them: refused before anything, naming it.
    let fresh = cluster().namespace("multi-fresh").await;
    let missing = "multi-nonexistent";
    let out = run(cluster().plugin("netpol-deny").args(["apply", "-n", &format!("{fresh},{missing}"), "--ingress"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("namespace \"{missing}\" does not exist")), "{}", stderr(&out));
    let fresh_policies = Api::<NetworkPolicy>::namespaced(cluster().admin_client().await, &fresh);
    assert!(fresh_policies.list(&ListParams::default()).await.unwrap().items.is_empty(), "nothing was applied");
}

/// A reader that goes away (`| head -1`) must not stop a sequence of deletions half-way.
#[tokio::test]
async fn a_closed_stdout_does_not_cut_a_removal_short() {
    let mut namespaces = Vec::new();
    for _ in 0..6 {
        namespaces.push(cluster().namespace("closed-pipe").await);
    }
    let list = namespaces.join(",");
    let out = run(cluster().plugin("block-metadata").args(["apply", "-n", &list]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut remove = cluster().plugin("block-metadata");
    remove.args(["remove", "-n", &list]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = remove.spawn().unwrap();
    drop(child.stdout.take()); // the reader is gone before the first line
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a closed pipe is not the command's failure");
    for ns in &namespaces {
        let api = Api::<NetworkPolicy>::namespaced(cluster().admin_client().await, ns);
        assert!(api.list(&ListParams::default()).await.unwrap().items.is_empty(), "{ns} still has its policy");
    }
}

/// `create` of a "read-only" user that an older binding makes cluster-admin is refused, and with
/// `--prune-bindings` the account is taken out of that binding; `audit -A` sees the binding.
#[tokio::test]
async fn dash_user_create_refuses_inherited_cluster_admin_until_pruned() {
    let admin = cluster().admin_client().await;
    let ns = "kubernetes-dashboard";
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(admin.clone());
    if namespaces.get_opt(ns).await.unwrap().is_none() {
        let object = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        let _ = namespaces.create(&PostParams::default(), &object).await;
    }
    let user = format!("bob-{}", std::process::id());
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": user}})).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), ns).create(&PostParams::default(), &sa).await.unwrap();
    let bindings = Api::<ClusterRoleBinding>::all(admin.clone());
    let old = format!("{user}-was-admin");
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": old},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": ns}],
    }))
    .unwrap();
    bindings.create(&PostParams::default(), &binding).await.unwrap();

    let audit = run(cluster().plugin("dash-user").args(["audit", "-A", "-o", "json"]));
    assert_eq!(audit.status.code(), Some(1), "{}", stderr(&audit));
    assert!(stdout(&audit).contains(&old), "audit -A sees what audit -n sees: {}", stdout(&audit));

    let refused = run(cluster().plugin("dash-user").args(["create", &user, "-n", ns, "--no-token"]));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(err.contains(&format!("clusterrolebinding.rbac.authorization.k8s.io/{old}")), "{err}");
    assert!(err.contains("more than asked") && err.contains("--prune-bindings"), "{err}");
    assert_eq!(stdout(&refused), "", "nothing was applied");

    // The account was made by hand, so taking it over needs --overwrite as well.
    let pruned = run(cluster().plugin("dash-user").args([
        "create",
        &user,
        "-n",
        ns,
        "--no-token",
        "--prune-bindings",
        "--overwrite",
    ]));
    assert_eq!(pruned.status.code(), Some(0), "{}", stderr(&pruned));
    assert!(stdout(&pruned).contains(&format!("{old} deleted (it only bound this account)")), "{}", stdout(&pruned));
    assert!(bindings.get_opt(&old).await.unwrap().is_none());
    let again = run(cluster().plugin("dash-user").args(["create", &user, "-n", ns, "--no-token"]));
    assert_eq!(again.status.code(), Some(0), "converged: {}", stderr(&again));
}

/// The flags added for probes, downloads and nodes are errors (exit 2) where they do not apply,
/// never ignored; offline, so no cluster is needed to tell.
#[test]
fn new_flags_that_do_not_apply_are_errors() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("missing");
    for (plugin, args, says) in [
        ("verify-bin", vec!["kubectl", "--image", "busybox:1"], "only applies with --node"),
        ("verify-bin", vec!["kubectl", "-n", "x"], "only applies with --node"),
        ("verify-bin", vec!["kubectl", "--overwrite"], "--download"),
        (
            "verify-bin",
            vec!["--download", "kubectl", "--version", "v1.31.0", "--context", "x"],
            "only applies with --node",
        ),
        ("verify-bin", vec!["--download", "kubectl", "--node", "n1", "--version", "v1.31.0"], "cannot be used with"),
        ("verify-bin", vec!["--all-nodes", "--node", "n1"], "cannot be used with"),
        ("block-metadata", vec!["status", "-f", "x.yaml", "--probe"], "cannot be used with"),
        ("block-metadata", vec!["status", "-n", "a12", "--timeout", "2s"], "--probe"),
        (
            "netpol-deny",
            vec!["can-reach", "-f", "examples/g04", "--from", "g04/a", "--to", "g04/b", "--probe"],
            "--probe",
        ),
        ("netpol-deny", vec!["can-reach", "--from", "g04/a", "--to", "g04/b", "--timeout", "2s"], "--probe"),
        ("netpol-deny", vec!["probe", "-n", "g04", "--parallel", "0"], "--parallel"),
        ("cis-bench", vec!["run", "--node", "n1", "--dry-run", "--privileged-namespace"], "--privileged-namespace"),
    ] {
        let out = run(harden_tests::plugin_command(plugin)
            .current_dir(harden_tests::repo_root())
            .env("HOME", home.path())
            .env("KUBECONFIG", &missing)
            .args(&args));
        assert_eq!(out.status.code(), Some(2), "{plugin} {args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{plugin} {args:?}: {}", stderr(&out));
    }
}

/// Issue 26: flags are checked in `validate`, before the kubeconfig is read or the cluster asked:
/// with no kubeconfig at all, each of these is refused for its flags (exit 2), never for the
/// missing kubeconfig. Some of them were checked only after connecting, and `-n` beside `-A` in
/// block-metadata `remove` was ignored.
#[test]
fn flags_are_refused_before_any_cluster_is_asked() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("missing");
    for (plugin, args, says) in [
        ("block-metadata", vec!["remove", "-A", "-n", "a12"], "-A already covers every namespace"),
        ("block-metadata", vec!["apply", "--cluster-wide", "-n", "a12"], "--cluster-wide covers every namespace"),
        ("block-metadata", vec!["apply", "-n", "a12", "--name", "Not_A_Name"], "Not_A_Name"),
        ("block-metadata", vec!["apply", "-n", "a12", "--block", "not-an-address"], "not-an-address"),
        ("tls-ingress", vec!["list", "-A", "-n", "t75"], "-A and -n cannot be used together"),
        ("tls-ingress", vec!["inspect", "-A", "-n", "t75"], "-A and -n cannot be used together"),
        ("tls-ingress", vec!["inspect", "-n", "t75", "--address", "10.0.0.1"], "needs --probe"),
        ("tls-ingress", vec!["delete", "Not_An_Ingress", "-n", "t75"], "is not the name of an Ingress or HTTPRoute"),
        ("tls-ingress", vec!["delete", "web", "-n", "t75,t76"], "one namespace"),
        ("dash-user", vec!["audit", "-A", "-n", "kubernetes-dashboard"], "not both"),
        (
            "dash-user",
            vec!["create", "alice", "--role", "admin", "--include-secrets"],
            "only apply to --role read-only",
        ),
        ("dash-user", vec!["create", "alice", "--namespaces", ","], "names no namespace"),
        ("dash-user", vec!["create", "alice", "--show-manual", "-y"], "cannot be combined with --show-manual"),
        ("netpol-deny", vec!["probe", "-n", "g04", "--pod-selector", "app in (web"], "--pod-selector"),
        ("netpol-deny", vec!["probe", "-n", "g04", "--port", "70000"], "70000"),
        ("netpol-deny", vec!["matrix", "-A", "--port", "80", "-o", "html"], "--port does not apply"),
        ("netpol-deny", vec!["matrix", "-A", "--from", "app in (web"], "--from"),
        ("netpol-deny", vec!["exposure", "-A", "-l", "app in (web"], "--selector"),
        ("netpol-deny", vec!["diff", "-n", "g04", "--apply", "examples/g04", "--port", "70000"], "70000"),
        (
            "block-metadata",
            vec!["endpoints", "--probe", "--image", "busybox:1.36", "--from", "here"],
            "--from here starts none",
        ),
        ("block-metadata", vec!["endpoints", "--ports", "70000"], "each 1-65535"),
        (
            "block-metadata",
            vec!["endpoints", "close", "--cluster-wide", "-n", "a12"],
            "--cluster-wide covers every namespace",
        ),
        ("cks-practice", vec!["exam", "start", "-n", "x"], "-n/--namespace does not apply"),
        ("cks-practice", vec!["exam", "score", "-n", "x"], "-n/--namespace does not apply"),
        ("cks-practice", vec!["exam", "reset", "-n", "x"], "-n/--namespace does not apply"),
    ] {
        let out = run(harden_tests::plugin_command(plugin)
            .current_dir(harden_tests::repo_root())
            .env("HOME", home.path())
            .env("KUBECONFIG", &missing)
            .args(&args));
        assert_eq!(out.status.code(), Some(2), "{plugin} {args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says), "{plugin} {args:?}: {err}");
        assert!(!err.contains("kubeconfig"), "{plugin} {args:?} asked for the cluster first: {err}");
    }
}

/// Issue 32: an apply killed mid-way left the object in flight created but unreported. In a plan
/// of independent objects (a policy per namespace), SIGINT/SIGTERM while one object's write is in
/// flight finishes that object, reports it, reports every object not written as skipped, and exits
/// with the signal's status; nothing is rolled back (each object stands alone).
#[tokio::test]
async fn an_interrupted_independent_apply_stops_after_the_object_in_flight_and_reports_all() {
    use harden_tests::proxy::{Action, Proxy, Trigger};
    let mut namespaces = Vec::new();
    for _ in 0..4 {
        namespaces.push(cluster().namespace("interrupted").await);
    }
    let proxy = Proxy::start(cluster().admin_kubeconfig());
    let client = cluster().admin_client().await;
    for (round, (signal, name, status)) in
        [(libc::SIGTERM, "deny-a", 143), (libc::SIGINT, "deny-b", 130)].into_iter().enumerate()
    {
        // The second namespace's create is in flight when the signal comes.
        proxy.arm(Some(Trigger {
            method: "POST".into(),
            path: "/networkpolicies".into(),
            nth: 1,
            action: Action::Signal(signal),
        }));
        let mut command = harden_tests::plugin_command("netpol-deny");
        command
            .env("KUBECONFIG", proxy.kubeconfig())
            .args(["apply", "-n", &namespaces.join(","), "--ingress", "--name", name])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().unwrap();
        proxy.set_pid(child.id());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        assert!(proxy.fired(), "round {round}: {:?}", proxy.requests());
        assert_eq!(out.status.code(), Some(status), "round {round}: {}", stderr(&out));
        let (text, err) = (stdout(&out), stderr(&out));
        let signal_name = if signal == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
        // The plugin orders the namespaces itself: the first two it wrote exist, the rest do not.
        let line = format!("networkpolicy.networking.k8s.io/{name}");
        let (mut created, mut skipped) = (Vec::new(), Vec::new());
        for ns in &namespaces {
            let exists = Api::<NetworkPolicy>::namespaced(client.clone(), ns).get_opt(name).await.unwrap().is_some();
            let said_created = text.find(&format!("{line} created in namespace {ns}\n"));
            let said_skipped = text.find(&format!(
                "{line} skipped in namespace {ns}: interrupted by {signal_name} before it was applied\n"
            ));
            match (exists, said_created, said_skipped) {
                (true, Some(at), None) => created.push(at),
                (false, None, Some(at)) => skipped.push(at),
                other => panic!("round {round}: {ns}: {other:?}: {text}"),
            }
        }
        assert_eq!((created.len(), skipped.len()), (2, 2), "round {round}: the object in flight is the last written");
        assert!(created.iter().max() < skipped.iter().min(), "round {round}: {text}");
        assert!(err.contains(&format!("interrupted by {signal_name}; 2 objects not applied")), "round {round}: {err}");
        assert!(err.contains("what was applied above stays as it is"), "round {round}: {err}");
    }
}

/// Concurrent identical applies of a plan that does not depend on what exists (netpol-deny's):
/// one creates, the others find exactly what they would write; none reports a write it lost.
#[tokio::test]
async fn concurrent_identical_applies_create_once_and_the_rest_are_unchanged() {
    let ns = cluster().namespace("concurrent").await;
    let children: Vec<_> = (0..12)
        .map(|_| {
            cluster()
                .plugin("netpol-deny")
                .args(["apply", "-n", &ns, "--ingress", "--name", "deny-all"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = tokio::task::spawn_blocking(move || {
        children.into_iter().map(|c| c.wait_with_output().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let line = format!("networkpolicy.networking.k8s.io/deny-all created in namespace {ns}");
    assert_eq!(outs.iter().filter(|o| stdout(o).contains(&line)).count(), 1);
    for out in &outs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        let text = stdout(out);
        assert!(text.contains(&line) || text.contains("deny-all unchanged in namespace"), "{text}");
    }
}

/// Issue 32: a deletion killed mid-way left the object in flight deleted but unreported. A signal
/// during one deletion lets it finish and be reported; the next one is not made, the command says
/// where it stopped and exits with the signal's status.
#[tokio::test]
async fn an_interrupted_removal_reports_the_deletion_in_flight_and_stops() {
    use harden_tests::proxy::{Action, Proxy, Trigger};
    let mut namespaces = Vec::new();
    for _ in 0..4 {
        namespaces.push(cluster().namespace("interrupted-rm").await);
    }
    let list = namespaces.join(",");
    let out = run(cluster().plugin("block-metadata").args(["apply", "-n", &list]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let proxy = Proxy::start(cluster().admin_kubeconfig());
    proxy.arm(Some(Trigger {
        method: "DELETE".into(),
        path: "/networkpolicies/".into(),
        nth: 1,
        action: Action::Signal(libc::SIGINT),
    }));
    let mut command = harden_tests::plugin_command("block-metadata");
    command
        .env("KUBECONFIG", proxy.kubeconfig())
        .args(["remove", "-n", &list])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    proxy.set_pid(child.id());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(proxy.fired(), "{:?}", proxy.requests());
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(130), "{text}\n{err}");
    assert!(err.contains("interrupted by SIGINT") && err.contains("was not deleted, nor what comes after it"), "{err}");
    let client = cluster().admin_client().await;
    let mut gone = 0;
    for ns in &namespaces {
        let left = Api::<NetworkPolicy>::namespaced(client.clone(), ns).list(&ListParams::default()).await.unwrap();
        let reported = text.contains(&format!("deleted from namespace {ns}"));
        assert_eq!(left.items.is_empty(), reported, "{ns}: every deletion made is reported, and only those: {text}");
        gone += usize::from(left.items.is_empty());
    }
    assert_eq!(gone, 2, "the deletion in flight finished, the next was not made: {text}");
}

/// A large output through a pipe: the plugin widens the pipe it writes to (1 MiB; Linux's default
/// is 64 KiB, which made `matrix -A | cat > /dev/null` wait on its reader every 64 KiB), and what
/// arrives is still every byte, in order. The pipe's size is read from its reader's end.
#[test]
fn a_large_output_widens_the_pipe_it_writes_to() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut child = harden_tests::plugin_command("netpol-deny")
        .args(["matrix", "--port", "80", "-f"])
        .arg(harden_tests::fixtures::g04_example())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    // The first byte is written after the pipe was widened.
    pipe.read_exact(&mut first).unwrap();
    // SAFETY: F_GETPIPE_SZ on the read end we hold.
    let size = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_GETPIPE_SZ) };
    let mut rest = Vec::new();
    pipe.read_to_end(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(size, harden_cli::output::PIPE_BYTES, "the pipe's buffer");
    let mut whole = first.to_vec();
    whole.extend(rest);
    let direct = run(harden_tests::plugin_command("netpol-deny")
        .args(["matrix", "--port", "80", "-f"])
        .arg(harden_tests::fixtures::g04_example()));
    assert_eq!(whole, direct.stdout);
    assert!(String::from_utf8_lossy(&whole).starts_with("PORT 80/TCP"));
}
