//! What a scenario is: the interface every scenario implements ([`Scenario`]: its card, the plan a
//! seed makes of it, its check, and the hooks of its start and reset), and the plan (the objects and
//! files of its starting state, the task, the hints and the solution). Building a plan is pure;
//! `run` applies it and `check` grades the cluster against it. The scenarios themselves, and the
//! list that registers them, are in `scenarios/`.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use harden_cli::{Error, Result};
use harden_kube::apply::Object;
use harden_kube::client::Kube;
use kube::Client;
use serde::Serialize;
use serde_json::Value;

use crate::grade::Check;

/// The label on everything a run makes (and on its namespaces).
pub const RUN_LABEL: &str = "cks-practice.kube-harden.io/run";

/// A scenario: one type in one file under `scenarios/`, registered in `scenarios::ALL` (its place
/// there is its number). It says what it is ([`Card`]), makes its plan from a seed (the starting
/// state, the task, the hints and the solution), and grades the cluster against that plan; the
/// steps a scenario needs beyond applying its plan's objects and files (reading the cluster for
/// its node, changing a node's file, putting it back) are hooks that default to nothing. The
/// generic start, check and reset paths call these and nothing scenario-specific.
pub trait Scenario: Sync {
    /// What it is: name, topic, time budget, needs, variants, whether a mock exam draws it.
    fn card(&self) -> &'static Card;

    /// The plan a seed makes (pure).
    fn plan(&self, ctx: &Context<'_>) -> Result<Plan>;

    /// Grades the cluster (and the run's files) against the plan. `address` is `check --address`,
    /// given only to a scenario whose card says it probes one.
    fn check<'a>(&'a self, client: &'a Client, plan: &'a Plan, address: Option<&'a str>) -> Step<'a, Vec<Check>>;

    /// Whether `--image` applies: the plan has pods or Deployments (a scenario that makes pods
    /// otherwise, as kube-bench's Job, says so).
    fn creates_pods(&self) -> bool {
        let ctx = Context { seed: 1, dir: Path::new("/nonexistent"), bench: None, variant: None };
        self.plan(&ctx)
            .is_ok_and(|p| p.objects.iter().any(|o| matches!(o["kind"].as_str(), Some("Pod" | "Deployment"))))
    }

    /// The default image of the scenario's pods, as the wizard offers to replace it (None: the
    /// wizard asks for no image).
    fn pods_image(&self) -> Option<&'static str> {
        self.creates_pods().then_some(harden_cli::images::BUSYBOX)
    }

    /// A scenario with node access: the values of `start`'s node flags, checked before anything
    /// connects (pure). Only called for a scenario whose card needs node access.
    fn validate_node_flags(&self, _flags: &StartFlags<'_>) -> Result<()> {
        Ok(())
    }

    /// A scenario with node access: where it works, read from the cluster and `start`'s flags.
    fn node<'a>(&'a self, _kube: &'a Kube, _flags: &'a StartFlags<'a>) -> Step<'a, Option<NodeBench>> {
        Box::pin(async { Ok(None) })
    }

    /// After the plan's objects are applied: what the scenario changes beyond them (a node's
    /// file), returning what the run's record must keep for [`Scenario::tear_down`] (its keys are
    /// the card's `keeps`). On an error the run is reset.
    fn set_up<'a>(&'a self, _client: &'a Client, _plan: &'a Plan) -> Step<'a, Kept> {
        Box::pin(async { Ok(Kept::new()) })
    }

    /// What [`Scenario::set_up`] does, for its error.
    fn setting_up(&self) -> &'static str {
        "setting up the run"
    }

    /// Before reset deletes the run's namespaces (the first is still there): puts back what
    /// [`Scenario::set_up`] changed, from what the record kept.
    fn tear_down<'a>(&'a self, _client: &'a Client, _plan: &'a Plan, _kept: &'a Kept) -> Step<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// A step of a scenario that talks to the cluster (not `Send`: the plugin runs one future, on
/// the thread that blocks on it).
pub type Step<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// What a run's record keeps of a scenario's set-up, by key (scenario 8: the file's modes).
pub type Kept = BTreeMap<String, String>;

/// What a scenario is, for `list`, `start`, the wizard and the mock exam.
#[derive(Debug)]
pub struct Card {
    /// The id `start` takes: `default-deny`.
    pub name: &'static str,
    pub topic: &'static str,
    /// The time budget.
    pub minutes: u32,
    pub needs: &'static [Need],
    /// The variants the exam has of the task (empty: one). The first is the one the scenario had
    /// before it had variants.
    pub variants: &'static [&'static str],
    /// Whether a mock exam draws it: the current curriculum, and no node access.
    pub mock_exam: bool,
    /// Whether `check --address` applies (it probes what a controller serves).
    pub probes_address: bool,
    /// The record's keys [`Scenario::set_up`] keeps.
    pub keeps: &'static [&'static str],
}

impl Card {
    /// A card with the defaults every field but these has: no variants, in the mock exam, no
    /// address, nothing kept.
    pub const fn new(name: &'static str, topic: &'static str, minutes: u32, needs: &'static [Need]) -> Card {
        Card { name, topic, minutes, needs, variants: &[], mock_exam: true, probes_address: false, keeps: &[] }
    }
}

/// `start`'s flags that apply to some scenarios only.
#[derive(Debug, Default, Clone, Copy)]
pub struct StartFlags<'a> {
    pub node: Option<&'a str>,
    pub benchmark: Option<&'a str>,
    pub image: Option<&'a str>,
}

/// A registered scenario (one of `scenarios::ALL`): a handle that compares by name.
#[derive(Clone, Copy)]
pub struct Id(pub &'static dyn Scenario);

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Id {}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

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
        self.0.card().name
    }

    pub fn card(self) -> &'static Card {
        self.0.card()
    }

    pub fn needs(self, need: Need) -> bool {
        self.card().needs.contains(&need)
    }

    /// The variants of the task where the exam varies it (empty: the task has one form). The first
    /// is the one the scenario had before it had variants.
    pub fn variants(self) -> &'static [&'static str] {
        self.card().variants
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

    /// Builds the plan of the scenario for a seed (a variant named in `ctx` must be one of its own).
    pub fn plan(self, ctx: &Context<'_>) -> Result<Plan> {
        if let Some(variant) = ctx.variant {
            self.parse_variant(variant)?;
        }
        self.0.plan(ctx)
    }

    /// Whether the scenario creates pods (its own, or scenario 8's kube-bench Job and helper), i.e.
    /// whether `--image` applies to it.
    pub fn creates_pods(self) -> bool {
        self.0.creates_pods()
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
    /// A scenario with node access: where it works (the record keeps it).
    pub bench: Option<NodeBench>,
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
            bench: ctx.bench.cloned(),
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

/// A word as a POSIX shell reads it back: the one quoting helper every `--show-manual` uses.
pub use harden_cli::shell::word as sh;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(sh("orion-g04"), "orion-g04");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
