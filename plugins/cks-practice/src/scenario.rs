//! The scenarios: what each one is, and the plan a seed makes of it (the objects and files of its
//! starting state, the task, the hints and the solution). Building a plan is pure; `run` applies it
//! and `check` grades the cluster against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use harden_cli::{Error, Result};
use harden_kube::apply::Object;
use serde::Serialize;
use serde_json::Value;

use crate::scenarios;

/// The label on everything a run makes (and on its namespaces).
pub const RUN_LABEL: &str = "cks-practice.kube-harden.io/run";

/// The eight scenarios, in the order of the issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Id {
    /// 1. Default-deny ingress in a namespace.
    DefaultDeny,
    /// 2. Only frontend pods of labelled namespaces may reach the backend on one port.
    FrontendToBackend,
    /// 3. Pods of a namespace must not reach the cloud metadata endpoint.
    BlockMetadata,
    /// 4. A TLS Ingress for a host.
    TlsIngress,
    /// 5. A restricted Dashboard user with a token.
    DashboardUser,
    /// 6. A Dashboard started with insecure arguments and a NodePort.
    DashboardArgs,
    /// 7. Find the tampered platform binary.
    TamperedBinary,
    /// 8. A kube-bench finding fixed on the node.
    KubeBench,
    /// 9. Egress default-deny with a DNS exception.
    EgressDns,
    /// 10. Pods of a namespace kept off the nodes' component ports.
    NodeEndpoints,
    /// 11. Ingress on a named port from labelled namespaces only.
    NamedPort,
    /// 12. Is a downloaded binary the genuine release of a given version?
    VerifyVersion,
}

pub const ALL: [Id; 12] = [
    Id::DefaultDeny,
    Id::FrontendToBackend,
    Id::BlockMetadata,
    Id::TlsIngress,
    Id::DashboardUser,
    Id::DashboardArgs,
    Id::TamperedBinary,
    Id::KubeBench,
    Id::EgressDns,
    Id::NodeEndpoints,
    Id::NamedPort,
    Id::VerifyVersion,
];

/// What a scenario needs of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// The API server (every scenario: the run is stored there).
    Api,
    /// A directory on this machine (the scenario writes files there).
    LocalFiles,
    /// A shell on a node (kube-bench reads the node's files).
    NodeAccess,
}

impl Need {
    pub fn as_str(self) -> &'static str {
        match self {
            Need::Api => "api",
            Need::LocalFiles => "local-files",
            Need::NodeAccess => "node-access",
        }
    }
}

/// A scenario's card, for `list`.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub number: u8,
    pub id: Id,
    pub topic: &'static str,
    pub minutes: u32,
    pub needs: Vec<Need>,
    /// The variants the exam has of the task (empty: one), drawn by the run's seed or chosen with
    /// `start --variant`.
    pub variants: Vec<&'static str>,
}

impl Id {
    pub fn name(self) -> &'static str {
        match self {
            Id::DefaultDeny => "default-deny",
            Id::FrontendToBackend => "frontend-to-backend",
            Id::BlockMetadata => "block-metadata",
            Id::TlsIngress => "tls-ingress",
            Id::DashboardUser => "dashboard-user",
            Id::DashboardArgs => "dashboard-args",
            Id::TamperedBinary => "tampered-binary",
            Id::KubeBench => "kube-bench",
            Id::EgressDns => "egress-dns",
            Id::NodeEndpoints => "node-endpoints",
            Id::NamedPort => "named-port",
            Id::VerifyVersion => "verify-version",
        }
    }

    pub fn number(self) -> u8 {
        ALL.iter().position(|&i| i == self).map_or(0, |i| i as u8 + 1)
    }

    pub fn info(self) -> Info {
        let (topic, minutes, needs): (&str, u32, &[Need]) = match self {
            Id::DefaultDeny => ("NetworkPolicy: default-deny ingress or egress in a namespace", 6, &[Need::Api]),
            Id::FrontendToBackend => (
                "NetworkPolicy: only frontend pods (of labelled namespaces, or of any) reach the backend",
                10,
                &[Need::Api],
            ),
            Id::BlockMetadata => ("NetworkPolicy: no pod reaches the cloud metadata endpoint", 8, &[Need::Api]),
            Id::TlsIngress => ("Ingress: TLS for a host with a certificate you make", 12, &[Need::Api]),
            Id::DashboardUser => (
                "RBAC: a read-only Dashboard user with a token (outside the current curriculum: GUI left it in 2024)",
                10,
                &[Need::Api, Need::LocalFiles],
            ),
            Id::DashboardArgs => (
                "Dashboard: remove insecure arguments and the NodePort (outside the current curriculum: GUI left it \
                 in 2024)",
                8,
                &[Need::Api],
            ),
            Id::TamperedBinary => {
                ("Binaries: find and remove the one whose sha256 differs", 6, &[Need::Api, Need::LocalFiles])
            }
            Id::KubeBench => ("CIS: fix a kube-bench finding on the node", 15, &[Need::Api, Need::NodeAccess]),
            Id::EgressDns => {
                ("NetworkPolicy: default-deny egress, except DNS to the cluster DNS pods", 8, &[Need::Api])
            }
            Id::NodeEndpoints => (
                "NetworkPolicy: no pod reaches the kubelet, etcd, scheduler or controller manager on the nodes",
                10,
                &[Need::Api],
            ),
            Id::NamedPort => {
                ("NetworkPolicy: ingress on a named port from the pods of labelled namespaces only", 10, &[Need::Api])
            }
            Id::VerifyVersion => (
                "Binaries: is a downloaded binary the genuine release of the version you were told?",
                6,
                &[Need::Api, Need::LocalFiles],
            ),
        };
        Info {
            number: self.number(),
            id: self,
            topic,
            minutes,
            needs: needs.to_vec(),
            variants: self.variants().to_vec(),
        }
    }

    /// The variants of the task where the exam varies it (empty: the task has one form). The first
    /// is the one the scenario had before it had variants.
    pub fn variants(self) -> &'static [&'static str] {
        match self {
            Id::DefaultDeny => &scenarios::default_deny::VARIANTS,
            Id::FrontendToBackend => &scenarios::frontend_backend::VARIANTS,
            _ => &[],
        }
    }

    /// The variant a seed draws (None for a scenario with one form). The draw has a salt of its own,
    /// so the names a seed draws are the same in every variant.
    pub fn drawn_variant(self, seed: u64) -> Option<&'static str> {
        let variants = self.variants();
        if variants.is_empty() {
            return None;
        }
        let mut rng = crate::seed::Rng::new(seed, &format!("{}/variant", self.name()));
        Some(variants[rng.below(variants.len() as u64) as usize])
    }

    /// `--variant NAME`: one of the scenario's variants, else an error naming them.
    pub fn parse_variant(self, text: &str) -> Result<&'static str> {
        let variants = self.variants();
        if variants.is_empty() {
            return Err(Error::invalid(format!("--variant does not apply to {}: the task has one form", self.name()))
                .with_hint("`kubectl cks-practice list` names the scenarios with variants"));
        }
        variants.iter().copied().find(|v| *v == text).ok_or_else(|| {
            Error::invalid(format!("{} has no variant {text:?}; its variants are {}", self.name(), variants.join(", ")))
        })
    }

    /// Parses `default-deny` or `1`.
    pub fn parse(text: &str) -> std::result::Result<Id, String> {
        if let Ok(n) = text.parse::<usize>() {
            return ALL
                .get(n.wrapping_sub(1))
                .copied()
                .ok_or_else(|| format!("scenarios are numbered 1-{}", ALL.len()));
        }
        Id::from_str(text, false).map_err(|_| {
            let names: Vec<&str> = ALL.iter().map(|i| i.name()).collect();
            format!("no scenario {text:?}; the scenarios are {} (or their numbers 1-{})", names.join(", "), ALL.len())
        })
    }
}

/// A file a scenario writes into the run's directory.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub contents: Vec<u8>,
    pub mode: u32,
}

/// What a seed makes of a scenario.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: Id,
    pub seed: u64,
    /// The variant of the task (None for a scenario with one form): the one `start --variant`
    /// chose, else the seed's draw.
    pub variant: Option<&'static str>,
    /// The run's name: `default-deny-42`.
    pub run: String,
    /// The run's directory on this machine (for scenarios with files).
    pub dir: PathBuf,
    /// The namespaces the run makes and uses (the first holds the run's record).
    pub namespaces: Vec<String>,
    /// The names the task asks for (and the ones it gives), for `task -o json`.
    pub names: BTreeMap<&'static str, String>,
    /// The task, as the exam words it (without the time budget).
    pub task: String,
    /// The objects of the starting state, namespaces first (each gets the run label).
    pub objects: Vec<Value>,
    /// Files of the starting state, in the run's directory.
    pub files: Vec<File>,
    /// Hint level 1: what to read; level 2: a skeleton.
    pub read: Vec<&'static str>,
    pub skeleton: String,
    /// The plugin commands that do it.
    pub plugin_steps: Vec<String>,
    /// The manual steps, as a shell script (YAML in heredocs).
    pub manual: String,
    /// How to check the answer by hand from inside the cluster, as the exam allows (`kubectl exec ...
    /// wget`), as a shell script that prints what it saw; empty where the checks have no such way.
    pub verify: String,
}

/// Where scenario 8 runs kube-bench: the node, the image of its Job (also the helper pod's: it has
/// `sh`, `stat` and `chmod`), and the benchmark it grades with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBench {
    pub node: String,
    pub image: String,
    pub benchmark: String,
}

/// Everything a scenario needs to build its plan.
pub struct Context<'a> {
    pub seed: u64,
    /// The run's directory on this machine (absolute).
    pub dir: &'a Path,
    /// Scenario 8's node (the others have none).
    pub bench: Option<&'a NodeBench>,
    /// The variant chosen (`start --variant`, or the run's record); None: the seed draws it.
    pub variant: Option<&'a str>,
}

impl Plan {
    pub fn new(id: Id, ctx: &Context<'_>) -> Self {
        let chosen = ctx.variant.and_then(|v| id.variants().iter().copied().find(|&known| known == v));
        Plan {
            id,
            seed: ctx.seed,
            variant: chosen.or_else(|| id.drawn_variant(ctx.seed)),
            run: run_name(id, ctx.seed),
            dir: ctx.dir.to_path_buf(),
            namespaces: Vec::new(),
            names: BTreeMap::new(),
            task: String::new(),
            objects: Vec::new(),
            files: Vec::new(),
            read: Vec::new(),
            skeleton: String::new(),
            plugin_steps: Vec::new(),
            manual: String::new(),
            verify: String::new(),
        }
    }

    /// The images of the scenario's pods and Deployments: `given` (`--image`) for all of them, else
    /// each default moved under `KUBE_HARDEN_IMAGE_REPOSITORY` when that is set.
    pub fn choose_images(&mut self, given: Option<&str>) -> Result<()> {
        for object in &mut self.objects {
            let containers = match object["kind"].as_str() {
                Some("Pod") => &mut object["spec"]["containers"],
                Some("Deployment") => &mut object["spec"]["template"]["spec"]["containers"],
                _ => continue,
            };
            for container in containers.as_array_mut().into_iter().flatten() {
                let default = container["image"].as_str().unwrap_or_default().to_string();
                container["image"] = Value::String(harden_cli::images::choose(given, &default)?);
            }
        }
        Ok(())
    }

    /// The objects as the apply path takes them, each with the run label.
    pub fn apply_objects(&self) -> Result<Vec<Object>> {
        self.objects
            .iter()
            .map(|value| {
                let mut value = value.clone();
                value["metadata"]["labels"][RUN_LABEL] = Value::String(self.run.clone());
                typed_object(value)
            })
            .collect()
    }
}

/// The run's name: the scenario and the seed.
pub fn run_name(id: Id, seed: u64) -> String {
    format!("{}-{seed}", id.name())
}

/// Builds the plan of a scenario for a seed.
pub fn plan(id: Id, ctx: &Context<'_>) -> Result<Plan> {
    if let Some(variant) = ctx.variant {
        id.parse_variant(variant)?;
    }
    match id {
        Id::DefaultDeny => Ok(scenarios::default_deny::plan(ctx)),
        Id::FrontendToBackend => Ok(scenarios::frontend_backend::plan(ctx)),
        Id::BlockMetadata => Ok(scenarios::metadata::plan(ctx)),
        Id::TlsIngress => Ok(scenarios::tls::plan(ctx)),
        Id::DashboardUser => Ok(scenarios::dash_user::plan(ctx)),
        Id::DashboardArgs => Ok(scenarios::dash_args::plan(ctx)),
        Id::TamperedBinary => Ok(scenarios::binaries::plan(ctx)),
        Id::KubeBench => scenarios::kube_bench::plan(ctx),
        Id::EgressDns => Ok(scenarios::egress_dns::plan(ctx)),
        Id::NodeEndpoints => Ok(scenarios::node_endpoints::plan(ctx)),
        Id::NamedPort => Ok(scenarios::named_port::plan(ctx)),
        Id::VerifyVersion => Ok(scenarios::verify_version::plan(ctx)),
    }
}

/// Whether a scenario creates pods (its own, or scenario 8's kube-bench Job and helper), i.e.
/// whether `--image` applies to it.
pub fn creates_pods(id: Id) -> bool {
    if id == Id::KubeBench {
        return true;
    }
    let ctx = Context { seed: 1, dir: Path::new("/nonexistent"), bench: None, variant: None };
    plan(id, &ctx).is_ok_and(|p| p.objects.iter().any(|o| matches!(o["kind"].as_str(), Some("Pod" | "Deployment"))))
}

/// Scenario 8 on a cluster without a Ready node.
pub fn node_access_error() -> Error {
    Error::new(
        harden_cli::ErrorKind::Other,
        "scenario 8 (kube-bench) needs node access: a Ready node that runs kube-bench's Job, and a shell on it \
         to fix the file kube-bench reports; this cluster has no Ready node",
    )
    .with_hint("`kubectl cks-practice list --runnable` leaves it out on such a cluster")
}

/// A JSON object as the apply path's [`Object`], through its typed k8s-openapi kind.
pub fn typed_object(value: Value) -> Result<Object> {
    use k8s_openapi::api::{apps, core, networking, rbac};
    let kind = value["kind"].as_str().unwrap_or_default().to_string();
    let bad = |e: serde_json::Error| Error::other(format!("building a {kind} (a bug in the scenario): {e}"));
    match kind.as_str() {
        "Namespace" => Object::from_typed(&serde_json::from_value::<core::v1::Namespace>(value).map_err(bad)?),
        "Pod" => Object::from_typed(&serde_json::from_value::<core::v1::Pod>(value).map_err(bad)?),
        "Service" => Object::from_typed(&serde_json::from_value::<core::v1::Service>(value).map_err(bad)?),
        "ServiceAccount" => {
            Object::from_typed(&serde_json::from_value::<core::v1::ServiceAccount>(value).map_err(bad)?)
        }
        "ConfigMap" => Object::from_typed(&serde_json::from_value::<core::v1::ConfigMap>(value).map_err(bad)?),
        "Deployment" => Object::from_typed(&serde_json::from_value::<apps::v1::Deployment>(value).map_err(bad)?),
        "Role" => Object::from_typed(&serde_json::from_value::<rbac::v1::Role>(value).map_err(bad)?),
        "RoleBinding" => Object::from_typed(&serde_json::from_value::<rbac::v1::RoleBinding>(value).map_err(bad)?),
        "NetworkPolicy" => {
            Object::from_typed(&serde_json::from_value::<networking::v1::NetworkPolicy>(value).map_err(bad)?)
        }
        other => Err(Error::other(format!("a scenario made a {other}, which the plugin does not apply (a bug)"))),
    }
}

/// Builders for the starting state's objects.
pub mod build {
    use serde_json::{Value, json};

    pub fn namespace(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    }

    /// A pod with one container serving HTTP on `port` (busybox's httpd; it has `wget` and `nc`
    /// for checking by hand, and runs from any busybox image: `--image` or a mirror).
    pub fn pod(namespace: &str, name: &str, labels: Value, port: u16) -> Value {
        let serve =
            format!("mkdir -p /tmp/www && echo {name} > /tmp/www/index.html && exec httpd -f -p {port} -h /tmp/www");
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "app", "image": harden_cli::images::BUSYBOX,
                "command": ["sh", "-c", serve],
                "ports": [{"containerPort": port, "protocol": "TCP"}]
            }]}
        })
    }

    /// A shell line that tries HTTP from pod `from` to pod `to` (2 s) and prints `REACHED` or
    /// `NO ANSWER`, as a candidate checks by hand.
    pub fn try_http(from: (&str, &str), to: (&str, &str), port: u16) -> String {
        let (from_ns, from_pod) = from;
        let (to_ns, to_pod) = to;
        format!(
            "ip=$(kubectl -n {to_ns} get pod {to_pod} -o jsonpath='{{.status.podIP}}')\n\
             kubectl -n {from_ns} exec {from_pod} -- timeout 2 wget -qO- \"http://$ip:{port}/\" >/dev/null 2>&1 \\\n  \
             && echo \"{from_ns}/{from_pod} -> {to_ns}/{to_pod}:{port} REACHED\" \\\n  \
             || echo \"{from_ns}/{from_pod} -> {to_ns}/{to_pod}:{port} NO ANSWER\"\n"
        )
    }

    pub fn service(namespace: &str, name: &str, selector: Value, port: u16, target: u16, kind: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": kind, "selector": selector,
                     "ports": [{"name": "web", "port": port, "targetPort": target, "protocol": "TCP"}]}
        })
    }
}

/// The run's directory when `--dir` is not given: `./cks-practice-RUN`, made absolute.
pub fn default_dir(run: &str) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.join(format!("cks-practice-{run}"))
}

/// A shell word, quoted when it needs to be.
pub fn sh(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use kube::ResourceExt;

    use super::*;

    #[test]
    fn scenarios_parse_by_name_and_number() {
        assert_eq!(Id::parse("2").unwrap(), Id::FrontendToBackend);
        assert_eq!(Id::parse("tls-ingress").unwrap(), Id::TlsIngress);
        assert_eq!(Id::parse("9").unwrap(), Id::EgressDns);
        assert_eq!(Id::parse("10").unwrap(), Id::NodeEndpoints);
        assert_eq!(Id::parse("11").unwrap(), Id::NamedPort);
        assert_eq!(Id::parse("12").unwrap(), Id::VerifyVersion);
        assert!(Id::parse("13").unwrap_err().contains("1-12"));
        assert!(Id::parse("0").is_err());
        assert!(Id::parse("nope").unwrap_err().contains("default-deny"));
        for (i, id) in ALL.iter().enumerate() {
            assert_eq!(id.number() as usize, i + 1);
            assert_eq!(Id::from_str(id.name(), false).unwrap(), *id, "the name is clap's value");
        }
    }

    #[test]
    fn every_runnable_plan_is_complete_and_seeded() {
        let dir = Path::new("/tmp/cks");
        let bench = NodeBench { node: "n1".into(), image: "i".into(), benchmark: "cis-1.10".into() };
        for id in ALL {
            let a = plan(id, &Context { seed: 1, dir, bench: Some(&bench), variant: None }).unwrap();
            let b = plan(id, &Context { seed: 2, dir, bench: Some(&bench), variant: None }).unwrap();
            assert!(!a.namespaces.is_empty() && !a.task.is_empty() && !a.manual.is_empty(), "{id:?}");
            assert!(!a.read.is_empty() && !a.skeleton.is_empty() && !a.plugin_steps.is_empty(), "{id:?}");
            assert_ne!(a.namespaces, b.namespaces, "{id:?}: two seeds, two sets of names");
            assert_eq!(a.objects[0]["kind"], "Namespace", "{id:?}: namespaces first");
            for object in a.apply_objects().unwrap() {
                assert_eq!(object.data.labels()[RUN_LABEL], a.run, "{id:?}");
                if let Some(ns) = object.namespace() {
                    assert!(a.namespaces.contains(&ns), "{id:?}: {ns} is the run's");
                }
            }
        }
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(sh("orion-g04"), "orion-g04");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }

    #[test]
    fn the_seed_draws_the_variant_and_an_explicit_one_wins() {
        let dir = Path::new("/tmp/cks");
        let plan_of =
            |id: Id, seed: u64, variant: Option<&str>| plan(id, &Context { seed, dir, bench: None, variant }).unwrap();
        for id in [Id::DefaultDeny, Id::FrontendToBackend] {
            let variants = id.variants();
            assert_eq!(variants.len(), 2, "{id:?}");
            for seed in 0..20 {
                assert_eq!(plan_of(id, seed, None).variant, plan_of(id, seed, None).variant, "same seed, same variant");
                assert_eq!(plan_of(id, seed, None).variant, id.drawn_variant(seed));
            }
            let drawn: std::collections::BTreeSet<_> = (0..20).filter_map(|seed| id.drawn_variant(seed)).collect();
            assert_eq!(drawn.len(), 2, "{id:?}: twenty seeds draw both variants");
            for &variant in variants {
                let a = plan_of(id, 7, Some(variant));
                assert_eq!(a.variant, Some(variant));
                assert_eq!(a.names["variant"], variant);
                // The names a seed draws do not depend on the variant: only the task does.
                assert_eq!(a.namespaces, plan_of(id, 7, None).namespaces);
            }
            assert_ne!(plan_of(id, 7, Some(variants[0])).manual, plan_of(id, 7, Some(variants[1])).manual);
            let err = id.parse_variant("sideways").unwrap_err();
            assert!(err.message.contains(&variants.join(", ")), "{err}");
            assert_eq!(err.exit_code(harden_cli::ExitStyle::Action), 2);
            assert!(plan(id, &Context { seed: 1, dir, bench: None, variant: Some("sideways") }).is_err());
        }
        let err = Id::TlsIngress.parse_variant("egress").unwrap_err();
        assert!(err.message.contains("--variant does not apply to tls-ingress"), "{err}");
        assert_eq!(plan_of(Id::TlsIngress, 3, None).variant, None);
        let egress = plan_of(Id::DefaultDeny, 3, Some("egress"));
        assert!(egress.manual.contains("- Egress") && !egress.manual.contains("- Ingress"), "{}", egress.manual);
        let everywhere = plan_of(Id::FrontendToBackend, 3, Some("all-namespaces"));
        assert!(everywhere.manual.contains("namespaceSelector: {}"), "{}", everywhere.manual);
    }
}
