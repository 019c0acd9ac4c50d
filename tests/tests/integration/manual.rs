//! `--show-manual`: the steps a creating command replaces, for candidates who will not have the
//! plugins in the exam. The YAML it shows is exactly what the command applies (less the suite's
//! own label), and the kubectl lines are the seed's.

use harden_tests::fixtures::{g04_allow, offline};
use harden_tests::{cluster, run, stderr, stdout};

const LABEL: &str = "app.kubernetes.io/managed-by";

/// The heredoc bodies (`cat > FILE <<'EOF' ... EOF`), by file name.
fn heredocs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("cat > ") {
        let after = &rest[start + 6..];
        let (file, body) = after.split_once(" <<'EOF'\n").expect("a heredoc");
        let (body, tail) = body.split_once("\nEOF\n").expect("its end");
        assert!(tail.starts_with(&format!("kubectl apply -f {file}\n")), "{text}");
        out.push((file.to_string(), format!("{body}\n")));
        rest = tail;
    }
    out
}

fn without_label(yaml: &str) -> serde_yaml::Value {
    let mut value: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_mapping_mut())
        && let Some(labels) = meta.get_mut("labels").and_then(|l| l.as_mapping_mut())
    {
        labels.remove(LABEL);
        if labels.is_empty() {
            meta.remove("labels");
        }
    }
    value
}

/// The manual YAML is the applied object, and nothing else is printed or changed.
fn assert_manual_matches_dry_run(plugin: &str, args: &[&str], files: &[&str]) {
    let manual = offline(plugin, &[args, &["--show-manual"]].concat());
    assert_eq!(manual.status.code(), Some(0), "{}", stderr(&manual));
    let text = stdout(&manual);
    assert!(text.starts_with("# The manual steps this command replaces (nothing was changed):\n"), "{text}");
    assert!(!text.contains(LABEL), "{text}");
    let docs = heredocs(&text);
    assert_eq!(docs.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), files, "{text}");
    let dry = offline(plugin, &[args, &["--dry-run=client", "-o", "yaml"]].concat());
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let applied: Vec<serde_yaml::Value> = stdout(&dry).split("\n---\n").map(without_label).collect();
    let shown: Vec<serde_yaml::Value> = docs.iter().map(|(_, body)| without_label(body)).collect();
    assert_eq!(shown, applied, "{text}");
}

#[test]
fn netpol_deny_apply_and_allow_show_the_seeds_yaml_and_kubectl_apply() {
    assert_manual_matches_dry_run("netpol-deny", &["apply", "-n", "g04", "--ingress"], &["default-deny-ingress.yaml"]);
    assert_manual_matches_dry_run(
        "netpol-deny",
        &["apply", "-n", "a,b", "--egress", "--allow-dns"],
        &[
            "default-deny-egress.yaml",
            "allow-egress-to-kube-dns.yaml",
            "default-deny-egress-b.yaml",
            "allow-egress-to-kube-dns-b.yaml",
        ],
    );
    assert_manual_matches_dry_run(
        "netpol-deny",
        &[&g04_allow("g04")[..], &["--name", "backend-ingress"]].concat(),
        &["backend-ingress.yaml"],
    );
}

#[test]
fn block_metadata_apply_shows_the_policy_and_the_check_it_does_for_you() {
    assert_manual_matches_dry_run("block-metadata", &["apply", "-n", "a12"], &["block-metadata.yaml"]);
    let text = stdout(&offline("block-metadata", &["apply", "-n", "a12", "--show-manual"]));
    assert!(text.contains("kubectl get networkpolicy -n a12"), "{text}");
}

#[test]
fn dash_user_create_and_token_end_with_kubectl_create_token() {
    let out = offline("dash-user", &["create", "developer-user", "-n", "kubernetes-dashboard", "--show-manual"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let files: Vec<String> = heredocs(&text).into_iter().map(|(f, _)| f).collect();
    assert!(files.contains(&"developer-user.yaml".to_string()), "{text}");
    assert!(!text.contains(LABEL), "{text}");
    assert!(
        text.trim_end().ends_with("kubectl create token developer-user -n kubernetes-dashboard --duration=1h"),
        "{text}"
    );
    let out = offline(
        "dash-user",
        &["token", "developer-user", "-n", "kubernetes-dashboard", "--duration", "8h", "--show-manual"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\nkubectl create token developer-user -n kubernetes-dashboard --duration=8h\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn flags_that_would_act_beside_show_manual_are_errors() {
    for (plugin, args) in [
        ("netpol-deny", vec!["apply", "-n", "g04", "--show-manual", "--dry-run=server"]),
        ("netpol-deny", vec!["allow", "-n", "g04", "--to", "a=b", "--show-manual", "-o", "yaml"]),
        ("block-metadata", vec!["apply", "-n", "a12", "--show-manual", "--overwrite"]),
        ("dash-user", vec!["create", "bob", "-n", "x", "--show-manual", "--prune-bindings"]),
        ("dash-user", vec!["token", "bob", "-n", "x", "--show-manual", "-o", "text"]),
    ] {
        let out = offline(plugin, &args);
        assert_eq!(out.status.code(), Some(2), "{plugin} {args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot be combined with --show-manual"), "{}", stderr(&out));
    }
}

/// Applied by hand, the manual YAML gives the cluster the same policy the plugin would.
#[tokio::test]
async fn the_manual_yaml_applies_by_hand() {
    let cluster = cluster();
    let ns = cluster.namespace("manual").await;
    let text = stdout(&offline("netpol-deny", &["apply", "-n", &ns, "--show-manual"]));
    for (_, body) in heredocs(&text) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), body).unwrap();
        let out = run(cluster.kubectl().args(["apply", "-f"]).arg(file.path()));
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("created"), "{}", stdout(&out));
    }
    let out = run(cluster.kubectl().args(["get", "networkpolicy", "-n", &ns, "-o", "name"]));
    assert_eq!(stdout(&out).trim(), "networkpolicy.networking.k8s.io/default-deny-ingress-egress");
}
