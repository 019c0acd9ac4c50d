//! A run on the cluster: its record (a ConfigMap in the run's first namespace, so `check` works from
//! any shell), starting it (the plan's objects through the shared apply path, its files through the
//! safe writer) and resetting it (everything in the run's namespaces, the namespaces, the files).
//!
//! What the cluster says is not trusted with this machine. A record counts only where the plugin
//! put it: in the first namespace of its run's plan, a namespace this plugin created for that run
//! (its managed-by and run labels); anyone who can write a ConfigMap elsewhere gets it ignored, with
//! a warning. Files are only ever read or deleted in the run's directory as this machine names it
//! (`--dir`, else `./cks-practice-RUN`), by the plan's names, and deleted only when that directory
//! holds the marker `start` wrote there for the run: never at a path read from the cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use harden_cli::{Error, Result, output};
use harden_kube::apply::{Applier, LOCKED_BY_LABEL, Object, is_managed_by, managed_selector};
use harden_kube::flags::ApplyArgs;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::PLUGIN;
use crate::scenario::{self, Context, Id, Kept, Need, NodeBench, Plan, RUN_LABEL};

/// The label of a run's record.
pub const RECORD_LABEL: &str = "cks-practice.kube-harden.io/record";
pub const RECORD_NAME: &str = "cks-practice-run";
/// The file `start` writes in the run's directory: the run's name. Reset deletes files only in a
/// directory that holds it, naming the run being reset.
pub const DIR_MARKER: &str = ".cks-practice-run";

/// What the cluster keeps about a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub run: String,
    pub id: Id,
    pub seed: u64,
    /// Seconds since the epoch.
    pub started: u64,
    pub exam: bool,
    pub minutes: u32,
    pub dir: PathBuf,
    /// A scenario with node access: where it works (scenario 8: where kube-bench runs).
    pub bench: Option<NodeBench>,
    /// What the scenario's set-up kept for its reset, under the keys its card names (scenario 8:
    /// the file's mode before the run, and the one the run set: what reset puts back, and when).
    pub kept: Kept,
    /// Exam mode: the best result `check` reached within the time budget (what counts once the
    /// time is up, as in the exam: a task solved in time stays solved).
    pub best: Option<Best>,
    /// The mock exam the run is a task of (its shared timer is `started` and `minutes`).
    pub mock: Option<Mock>,
    /// A mock exam ended by hand (`exam end`): when (seconds since the epoch). The time is up from then.
    pub ended: Option<u64>,
    /// The variant of the task (one of the scenario's), so that `check`, `solution` and `reset` use
    /// the one `start` made. None: the scenario has one form (or a record from before variants: the
    /// seed draws it, as it did at the start).
    pub variant: Option<String>,
}

/// The mock exam a run belongs to: its seed and how many tasks were drawn (the draw gives the set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mock {
    pub seed: u64,
    pub tasks: usize,
}

impl Mock {
    /// The exam's name: `exam-42`.
    pub fn name(&self) -> String {
        mock_name(self.seed)
    }
}

pub fn mock_name(seed: u64) -> String {
    format!("exam-{seed}")
}

/// The best result of an exam-mode run within its time: checks passed of total, and when (seconds
/// after the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Best {
    pub passed: usize,
    pub total: usize,
    pub seconds_in: u64,
}

impl Best {
    pub fn solved(&self) -> bool {
        self.total > 0 && self.passed == self.total
    }

    /// Whether `self` is a better result than `other` (more of the checks passed; a tie keeps the
    /// earlier one).
    fn better_than(&self, other: Option<&Best>) -> bool {
        other.is_none_or(|o| self.passed * o.total > o.passed * self.total)
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Record {
    /// The plan, its files where the record says they are: for showing the task, never for
    /// touching files (see [`Record::plan_in`]).
    pub fn plan(&self) -> Result<Plan> {
        self.plan_in(&self.dir)
    }

    /// The plan with its files in `dir`, the run's directory as this machine names it.
    pub fn plan_in(&self, dir: &Path) -> Result<Plan> {
        self.id.plan(&Context { seed: self.seed, dir, bench: self.bench.as_ref(), variant: self.variant.as_deref() })
    }

    /// Whether the scenario keeps files on this machine.
    pub fn has_files(&self) -> bool {
        self.id.needs(Need::LocalFiles)
    }

    /// The run's directory on this machine: `given` (`--dir`, relative to the working directory),
    /// else `./cks-practice-RUN` as `start` made it. `None` for a scenario without files (where
    /// `--dir` is an error). A directory that differs from the one the record names is refused, with
    /// the recorded one named, before anything is read or changed: the user decides where files are
    /// touched, the cluster does not.
    pub fn local_dir(&self, given: Option<&Path>) -> Result<Option<PathBuf>> {
        if !self.has_files() {
            return match given {
                Some(_) => Err(Error::invalid(format!("--dir does not apply to {}: it has no files", self.id.name()))),
                None => Ok(None),
            };
        }
        let dir = match given {
            Some(dir) if dir.is_absolute() => dir.to_path_buf(),
            Some(dir) => std::env::current_dir()?.join(dir),
            None => scenario::default_dir(&self.run),
        };
        if dir != self.dir {
            let flag = if given.is_some() { "--dir" } else { "the default directory" };
            return Err(Error::invalid(format!(
                "run {} keeps its files in {} (so its record says), not in {} ({flag}); nothing was done",
                self.run,
                self.dir.display(),
                dir.display()
            ))
            .with_hint(format!(
                "pass --dir {} if that is the directory you started the run with on this machine",
                scenario::sh(&self.dir.display().to_string())
            )));
        }
        Ok(Some(dir))
    }

    /// Seconds left of the time budget (negative: over). A mock exam ended by hand is over from the
    /// second it ended.
    pub fn left(&self, at: u64) -> i64 {
        if let Some(ended) = self.ended
            && at >= ended
        {
            return ended as i64 - at as i64 - 1;
        }
        (self.started + u64::from(self.minutes) * 60) as i64 - at as i64
    }

    fn data(&self) -> BTreeMap<String, String> {
        let mut data = BTreeMap::from([
            ("scenario".into(), self.id.name().into()),
            ("seed".into(), self.seed.to_string()),
            ("started".into(), self.started.to_string()),
            ("exam".into(), self.exam.to_string()),
            ("minutes".into(), self.minutes.to_string()),
            ("dir".into(), self.dir.display().to_string()),
        ]);
        if let Some(bench) = &self.bench {
            data.insert("node".into(), bench.node.clone());
            data.insert("image".into(), bench.image.clone());
            data.insert("benchmark".into(), bench.benchmark.clone());
        }
        data.extend(self.kept.clone());
        if let Some(best) = &self.best {
            data.extend(best_data(best));
        }
        if let Some(mock) = &self.mock {
            data.insert("mockExamSeed".into(), mock.seed.to_string());
            data.insert("mockExamTasks".into(), mock.tasks.to_string());
        }
        if let Some(ended) = self.ended {
            data.insert("ended".into(), ended.to_string());
        }
        if let Some(variant) = &self.variant {
            data.insert("variant".into(), variant.clone());
        }
        data
    }

    fn config_map(&self, namespace: &str) -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": RECORD_NAME, "namespace": namespace,
                         "labels": {RECORD_LABEL: "true", RUN_LABEL: self.run}},
            "data": self.data(),
        })
    }

    pub fn from_config_map(cm: &ConfigMap) -> Result<Record> {
        let data = cm.data.clone().unwrap_or_default();
        let get = |key: &str| {
            data.get(key).cloned().ok_or_else(|| {
                Error::invalid(format!("the run record {} lacks {key}", cm.name_any()))
                    .with_hint("it was edited: delete the run's namespaces with kubectl")
            })
        };
        let bad = |key: &str| Error::invalid(format!("the run record's {key} does not parse"));
        let id = Id::parse(&get("scenario")?).map_err(Error::invalid)?;
        let seed = get("seed")?.parse().map_err(|_| bad("seed"))?;
        Ok(Record {
            run: scenario::run_name(id, seed),
            id,
            seed,
            started: get("started")?.parse().map_err(|_| bad("started"))?,
            exam: get("exam")? == "true",
            minutes: get("minutes")?.parse().map_err(|_| bad("minutes"))?,
            dir: PathBuf::from(get("dir")?),
            // A scenario with node access keeps its node, image and benchmark: they choose a pod with
            // the node's files mounted, so only values `start` accepts.
            bench: if id.needs(Need::NodeAccess) {
                let bench = NodeBench { node: get("node")?, image: get("image")?, benchmark: get("benchmark")? };
                if !apimachinery::validation::is_dns_subdomain(&bench.node) {
                    return Err(bad("node"));
                }
                harden_kube_bench::job::validate_image(&bench.image, "image").map_err(|_| bad("image"))?;
                harden_kube_bench::job::validate_benchmark(&bench.benchmark, "benchmark")
                    .map_err(|_| bad("benchmark"))?;
                Some(bench)
            } else {
                None
            },
            kept: id.card().keeps.iter().filter_map(|&key| Some((key.to_string(), data.get(key)?.clone()))).collect(),
            best: match (data.get("bestPassed"), data.get("bestTotal"), data.get("bestSecondsIn")) {
                (Some(p), Some(t), Some(at)) => Some(Best {
                    passed: p.parse().map_err(|_| bad("bestPassed"))?,
                    total: t.parse().map_err(|_| bad("bestTotal"))?,
                    seconds_in: at.parse().map_err(|_| bad("bestSecondsIn"))?,
                }),
                _ => None,
            },
            mock: match (data.get("mockExamSeed"), data.get("mockExamTasks")) {
                (Some(seed), Some(tasks)) => Some(Mock {
                    seed: seed.parse().map_err(|_| bad("mockExamSeed"))?,
                    tasks: tasks.parse().map_err(|_| bad("mockExamTasks"))?,
                }),
                _ => None,
            },
            ended: data.get("ended").map(|e| e.parse().map_err(|_| bad("ended"))).transpose()?,
            variant: match data.get("variant") {
                Some(v) => Some(id.parse_variant(v).map_err(|_| bad("variant"))?.to_string()),
                None => None,
            },
        })
    }
}

fn best_data(best: &Best) -> [(String, String); 3] {
    [
        ("bestPassed".into(), best.passed.to_string()),
        ("bestTotal".into(), best.total.to_string()),
        ("bestSecondsIn".into(), best.seconds_in.to_string()),
    ]
}

/// Exam mode: keeps `result` in the run's record when it is within the time and better than the
/// best kept so far; returns the best after it.
pub async fn keep_best(client: &Client, record: &Record, result: Best, at: u64) -> Result<Option<Best>> {
    if !record.exam || record.left(at) < 0 || !result.better_than(record.best.as_ref()) {
        return Ok(record.best);
    }
    let namespace = record.plan()?.namespaces[0].clone();
    let data: BTreeMap<String, String> = best_data(&result).into_iter().collect();
    Api::<ConfigMap>::namespaced(client.clone(), &namespace)
        .patch(RECORD_NAME, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(json!({"data": data})))
        .await
        .map_err(|e| {
            harden_kube::error::from_kube(e, format!("keeping the best result in {namespace}/{RECORD_NAME}"))
        })?;
    Ok(Some(result))
}

/// A mock exam's task ended by hand: the time is up from `at` (kept in the task's record).
pub async fn end(client: &Client, record: &Record, at: u64) -> Result<()> {
    let namespace = record.plan()?.namespaces[0].clone();
    Api::<ConfigMap>::namespaced(client.clone(), &namespace)
        .patch(
            RECORD_NAME,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"data": {"ended": at.to_string()}})),
        )
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("ending the exam in {namespace}/{RECORD_NAME}")))?;
    Ok(())
}

/// Every run on the cluster (`only`: the one of that name): the records this plugin wrote, in the
/// namespaces it made for their runs. A record anywhere else (a ConfigMap of that name and label in
/// a namespace anyone may write to) is ignored, with a warning naming it.
pub async fn runs(client: &Client, only: Option<&str>) -> Result<Vec<Record>> {
    let mut selector = format!("{RECORD_LABEL}=true");
    if let Some(run) = only {
        selector.push_str(&format!(",{RUN_LABEL}={run}"));
    }
    let listed: Vec<ConfigMap> = harden_kube::list::list_all(
        &Api::all(client.clone()),
        &ListParams::default().labels(&selector),
        "practice runs (configmaps)",
    )
    .await?;
    let candidates: Vec<&ConfigMap> = listed.iter().filter(|c| c.metadata.deletion_timestamp.is_none()).collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let ours: BTreeMap<String, Namespace> = harden_kube::list::list_all(
        &Api::<Namespace>::all(client.clone()),
        &ListParams::default().labels(&managed_selector(PLUGIN)),
        "the practice runs' namespaces",
    )
    .await?
    .into_iter()
    .map(|ns| (ns.name_any(), ns))
    .collect();
    let mut records = Vec::new();
    for cm in candidates {
        match trusted(cm, &ours) {
            Ok(record) => records.push(record),
            Err(why) => output::warn(format!(
                "ignoring configmap {}/{}: {why}",
                cm.namespace().unwrap_or_default(),
                cm.name_any()
            )),
        }
    }
    records.sort_by(|a, b| a.run.cmp(&b.run));
    Ok(records)
}

/// The record of a ConfigMap, if it is one this plugin wrote where it writes them: named
/// [`RECORD_NAME`], ours, in a namespace of `ours` (made by this plugin) labelled for the same run,
/// and that namespace the first of the run's plan. Otherwise why not.
pub fn trusted(cm: &ConfigMap, ours: &BTreeMap<String, Namespace>) -> std::result::Result<Record, String> {
    let namespace = cm.namespace().unwrap_or_default();
    let labelled = |labels: &BTreeMap<String, String>| labels.get(RUN_LABEL).cloned();
    let Some(run) = labelled(cm.labels()) else { return Err("it has no run label".into()) };
    if cm.name_any() != RECORD_NAME || !is_managed_by(cm, PLUGIN) {
        return Err(format!("it was not written by {PLUGIN}"));
    }
    let made_for = ours.get(&namespace).and_then(|ns| labelled(ns.labels()));
    if made_for.as_deref() != Some(run.as_str()) {
        return Err(format!(
            "namespace {namespace} was not made by {PLUGIN} for run {run}; a run's record is kept only there"
        ));
    }
    let record = Record::from_config_map(cm).map_err(|e| e.message)?;
    if record.run != run {
        return Err(format!("it is labelled for run {run} but records run {}", record.run));
    }
    let plan = record.plan().map_err(|e| e.message)?;
    if plan.namespaces.first() != Some(&namespace) {
        return Err(format!("run {run} keeps its record in namespace {}, not {namespace}", plan.namespaces.join(", ")));
    }
    Ok(record)
}

/// The run a command works on: `--run`, else the only one.
pub async fn current(client: &Client, run: Option<&str>) -> Result<Record> {
    let mut found = runs(client, run).await?;
    match (found.len(), run) {
        (1, _) => Ok(found.remove(0)),
        (0, Some(run)) => Err(Error::not_found(format!("no practice run {run} on this cluster"))
            .with_hint("`kubectl cks-practice list` shows the scenarios; `start` one")),
        (0, None) => Err(Error::not_found("no practice run on this cluster").with_hint(
            "start one: kubectl cks-practice start default-deny (or run kubectl cks-practice at a terminal)",
        )),
        (_, _) => {
            let names: Vec<String> = found.iter().map(|r| r.run.clone()).collect();
            Err(Error::invalid(format!("{} practice runs on this cluster: {}", names.len(), names.join(", ")))
                .with_hint("name one with --run"))
        }
    }
}

/// A run's namespaces still being deleted (a reset, or a start that failed and was taken down):
/// waits up to `timeout` for them to go, with progress on stderr, instead of failing on the API
/// server's refusal to create anything in a Terminating namespace.
pub async fn wait_for_namespaces_to_go(client: &Client, plan: &Plan, timeout: std::time::Duration) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let deadline = std::time::Instant::now() + timeout;
    let mut spinner: Option<harden_cli::progress::Spinner> = None;
    let message = |names: &[String]| format!("waiting for namespace {} of an earlier run to go", names.join(", "));
    loop {
        let mut terminating = Vec::new();
        for name in &plan.namespaces {
            let found = api
                .get_opt(name)
                .await
                .map_err(|e| harden_kube::error::from_kube(e, format!("reading namespace {name}")))?;
            if found.is_some_and(|ns| ns.metadata.deletion_timestamp.is_some()) {
                terminating.push(name.clone());
            }
        }
        if terminating.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error::conflict(format!(
                "{} {} of an earlier run {} {} still being deleted (Terminating) after {}s",
                if terminating.len() == 1 { "namespace" } else { "namespaces" },
                terminating.join(", "),
                plan.run,
                if terminating.len() == 1 { "is" } else { "are" },
                timeout.as_secs()
            ))
            .with_hint(format!(
                "start it again once `kubectl get namespace {}` finds nothing (a namespace goes once everything in it \
                 is deleted), wait longer with --timeout, or start another run with another --seed",
                terminating.join(" ")
            )));
        }
        match &spinner {
            Some(spinner) => spinner.set_message(message(&terminating)),
            None => spinner = Some(harden_cli::progress::Spinner::start(message(&terminating))),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The record of a run of `plan` starting now, with the scenario's own time budget.
pub fn new_record(plan: &Plan, exam: bool) -> Record {
    Record {
        run: plan.run.clone(),
        id: plan.id,
        seed: plan.seed,
        started: now(),
        exam,
        minutes: plan.id.card().minutes,
        dir: plan.dir.clone(),
        bench: plan.bench.clone(),
        kept: Kept::new(),
        best: None,
        mock: None,
        ended: None,
        variant: plan.variant.map(String::from),
    }
}

/// Creates the plan's starting state and its record. Refuses when the run exists.
pub async fn start(client: &Client, plan: &Plan, exam: bool) -> Result<Record> {
    start_record(client, plan, new_record(plan, exam)).await
}

/// Creates the plan's starting state and `record` (a mock exam's task carries the exam's timer).
pub async fn start_record(client: &Client, plan: &Plan, mut record: Record) -> Result<Record> {
    if !runs(client, Some(&plan.run)).await?.is_empty() {
        return Err(Error::conflict(format!("run {} is already on this cluster", plan.run)).with_hint(format!(
            "carry on with it, `kubectl cks-practice reset --run {}`, or pick another --seed",
            plan.run
        )));
    }
    let exam = record.exam;
    let mut objects: Vec<Object> = plan.apply_objects()?;
    if exam {
        for object in objects.iter_mut().filter(|o| o.resource.kind == "Namespace") {
            object.data.labels_mut().insert(LOCKED_BY_LABEL.into(), PLUGIN.into());
        }
    }
    objects.push(scenario::typed_object(record.config_map(&plan.namespaces[0]))?);
    if plan.id.needs(Need::LocalFiles) {
        create_dir(&plan.dir)?;
        if let Some(other) = marked_for(&plan.dir).filter(|other| *other != plan.run) {
            return Err(Error::conflict(format!("{} holds the files of run {other}", plan.dir.display()))
                .with_hint(format!("choose another --dir, or `kubectl cks-practice reset --run {other}` first")));
        }
    }
    Applier::new(PLUGIN, ApplyArgs::default(), Some(client.clone()))
        .all_or_nothing()
        .lines_to_stderr()
        .run(objects)
        .await?;
    // What the scenario changes beyond its objects (a node's file) changes last: if it cannot, the run
    // is taken down again and nothing is left.
    match plan.id.0.set_up(client, plan).await {
        Ok(kept) if kept.is_empty() => {}
        Ok(kept) => {
            record.kept = kept;
            let saved = scenario::typed_object(record.config_map(&plan.namespaces[0]))?;
            Applier::new(PLUGIN, ApplyArgs::default(), Some(client.clone())).lines_to_stderr().run(vec![saved]).await?;
        }
        Err(e) => {
            let _ = reset(client, &plan.run, Some(&record), None).await;
            return Err(e.context(format!("{}; the run was reset", plan.id.0.setting_up())));
        }
    }
    if plan.id.needs(Need::LocalFiles) && marked_for(&plan.dir).is_none() {
        // Before the files: reset deletes files only in a directory that names the run.
        harden_cli::files::write_new(
            &plan.dir,
            DIR_MARKER,
            format!("{}\n", plan.run).as_bytes(),
            0o600,
            harden_cli::files::Existing::Refuse,
            "--dir",
        )?;
    }
    for file in &plan.files {
        let path = harden_cli::files::write_new(
            &plan.dir,
            &file.name,
            &file.contents,
            file.mode,
            harden_cli::files::Existing::Refuse,
            "--dir",
        )?;
        output::eline(format!("{} written", path.display()));
    }
    Ok(record)
}

/// The run named by the marker in `dir`, if it holds one (a regular file, not a link).
fn marked_for(dir: &Path) -> Option<String> {
    let marker = dir.join(DIR_MARKER);
    if !std::fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let text = harden_cli::files::read_text(&marker, "the run's marker", 4096).ok()?;
    Some(text.trim().to_string())
}

fn create_dir(dir: &std::path::Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::other(format!("creating the run's directory {}: {e}", dir.display())))
}

/// The kinds a run or its candidate makes in the run's namespaces, deleted by `reset`.
fn kinds() -> Vec<ApiResource> {
    use k8s_openapi::api::{apps, core, networking, rbac};
    vec![
        ApiResource::erase::<networking::v1::NetworkPolicy>(&()),
        ApiResource::erase::<networking::v1::Ingress>(&()),
        ApiResource::erase::<apps::v1::Deployment>(&()),
        ApiResource::erase::<apps::v1::ReplicaSet>(&()),
        ApiResource::erase::<core::v1::Pod>(&()),
        ApiResource::erase::<core::v1::Service>(&()),
        ApiResource::erase::<core::v1::Secret>(&()),
        ApiResource::erase::<core::v1::ConfigMap>(&()),
        ApiResource::erase::<rbac::v1::RoleBinding>(&()),
        ApiResource::erase::<rbac::v1::Role>(&()),
        ApiResource::erase::<core::v1::ServiceAccount>(&()),
    ]
}

/// Deletes the run: what is in its namespaces (they are the run's own), the namespaces, and the
/// files it wrote or asked for in `dir`, the run's directory as this machine names it (see
/// [`Record::local_dir`]). Idempotent: a second reset finds nothing and says so.
pub async fn reset(client: &Client, run: &str, record: Option<&Record>, dir: Option<&Path>) -> Result<usize> {
    let namespaces_api: Api<Namespace> = Api::all(client.clone());
    // Only namespaces this plugin created for the run (its managed-by label and the run label), and
    // when the record is there, only the plan's: a namespace labelled by hand is never emptied.
    let selector = format!("{RUN_LABEL}={run},{}", harden_kube::apply::managed_selector(PLUGIN));
    let plan = record.map(Record::plan).transpose()?;
    let ours: Vec<Namespace> =
        harden_kube::list::list_all(&namespaces_api, &ListParams::default().labels(&selector), "the run's namespaces")
            .await?
            .into_iter()
            .filter(|ns| plan.as_ref().is_none_or(|plan| plan.namespaces.contains(&ns.name_any())))
            .collect();
    let mut deleted = 0;
    // What the scenario's set-up changed outside the namespaces (scenario 8: a file on a node) is put
    // back while the run's first namespace is still there (for a helper pod).
    if let (Some(record), Some(plan)) = (record, &plan)
        && ours.iter().any(|ns| ns.name_any() == plan.namespaces[0] && ns.metadata.deletion_timestamp.is_none())
    {
        record.id.0.tear_down(client, plan, &record.kept).await?;
    }
    for ns in &ours {
        let name = ns.name_any();
        if ns.metadata.deletion_timestamp.is_some() {
            // An earlier reset deleted it: the namespace controller empties it.
            output::line(format!("namespace/{name} is being deleted"));
            continue;
        }
        for resource in kinds() {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &name, &resource);
            let listed =
                harden_kube::list::list_all(&api, &ListParams::default(), &format!("{} in {name}", resource.plural))
                    .await?;
            for object in listed.iter().filter(|o| o.metadata.deletion_timestamp.is_none()) {
                let shown = harden_kube::apply::display_name(&resource, &object.name_any());
                match api.delete(&object.name_any(), &DeleteParams::default()).await {
                    Ok(_) => {
                        deleted += 1;
                        output::line(format!("{shown} deleted from namespace {name}"));
                    }
                    Err(e) if harden_kube::error::status_code(&e) == Some(404) => {}
                    Err(e) => return Err(harden_kube::error::from_kube(e, format!("deleting {shown} in {name}"))),
                }
            }
        }
        match namespaces_api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                deleted += 1;
                output::line(format!("namespace/{name} deleted"));
            }
            Err(e) if harden_kube::error::status_code(&e) == Some(404) => {}
            Err(e) => return Err(harden_kube::error::from_kube(e, format!("deleting namespace {name}"))),
        }
    }
    if let (Some(record), Some(dir)) = (record, dir) {
        deleted += remove_files(record, dir)?;
    }
    Ok(deleted)
}

/// Removes the run's files from `dir`, by the plan's names, when `dir` holds the marker `start`
/// wrote for this run; then the marker, then `dir` if it is empty. Only regular files: a link
/// planted there is neither followed nor removed.
fn remove_files(record: &Record, dir: &Path) -> Result<usize> {
    match marked_for(dir) {
        Some(marked) if marked == record.run => {}
        Some(other) => {
            output::warn(format!(
                "{} holds the files of run {other}, not {}: they were left",
                dir.display(),
                record.run
            ));
            return Ok(0);
        }
        None if dir.exists() => {
            output::warn(format!(
                "{} was not made by run {} (it has no {DIR_MARKER}): nothing in it was removed",
                dir.display(),
                record.run
            ));
            return Ok(0);
        }
        None => return Ok(0),
    }
    let plan = record.plan_in(dir)?;
    let mut names: Vec<String> = plan.files.iter().map(|f| f.name.clone()).collect();
    if let Some(token) = plan.names.get("tokenFile") {
        names.extend(Path::new(token).file_name().map(|n| n.to_string_lossy().into_owned()));
    }
    // The file the candidate writes their answer to (scenario 12).
    names.extend(plan.names.get("answerFile").cloned());
    names.push(DIR_MARKER.to_string());
    let mut removed = 0;
    for name in &names {
        // A name, never a path: nothing outside `dir` can be meant.
        if name.is_empty() || Path::new(name).file_name() != Some(std::ffi::OsStr::new(name)) {
            continue;
        }
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(&path).map_err(|e| Error::other(format!("removing {}: {e}", path.display())))?;
            if name != DIR_MARKER {
                removed += 1;
                output::line(format!("{} removed", path.display()));
            }
        }
    }
    if std::fs::remove_dir(dir).is_ok() {
        output::line(format!("{} removed", dir.display()));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use kube::api::ObjectMeta;

    use super::*;

    #[test]
    fn the_best_exam_result_is_kept_in_the_record_and_only_a_better_one_replaces_it() {
        let best = Best { passed: 4, total: 6, seconds_in: 120 };
        assert!(best.better_than(None));
        assert!(Best { passed: 5, total: 6, seconds_in: 300 }.better_than(Some(&best)));
        assert!(!Best { passed: 4, total: 6, seconds_in: 130 }.better_than(Some(&best)), "a tie keeps the earlier");
        assert!(!Best { passed: 1, total: 6, seconds_in: 5 }.better_than(Some(&best)));
        assert!(!best.solved() && Best { passed: 6, total: 6, seconds_in: 1 }.solved());
        let dir = Path::new("/tmp/cks-best");
        let mut record = record(id("default-deny"), 5, dir);
        record.exam = true;
        record.best = Some(best);
        let plan = record.plan().unwrap();
        let cm: ConfigMap = serde_json::from_value(record.config_map(&plan.namespaces[0])).unwrap();
        assert_eq!(Record::from_config_map(&cm).unwrap().best, Some(best), "read back as written");
        let mut edited = cm.clone();
        edited.data.as_mut().unwrap().insert("bestPassed".into(), "many".into());
        assert!(Record::from_config_map(&edited).is_err(), "an edited best does not parse silently");
    }

    #[test]
    fn the_variant_is_kept_in_the_record_and_the_plan_uses_it() {
        let dir = Path::new("/tmp/cks-variant");
        let mut record = record(id("default-deny"), 5, dir);
        assert_eq!(record.plan().unwrap().variant, default_deny().drawn_variant(5), "no variant kept: the seed's");
        for variant in default_deny().variants() {
            record.variant = Some(variant.to_string());
            let plan = record.plan().unwrap();
            assert_eq!(plan.variant, Some(*variant), "check, solution and reset plan the recorded variant");
            let cm: ConfigMap = serde_json::from_value(record.config_map(&plan.namespaces[0])).unwrap();
            assert_eq!(Record::from_config_map(&cm).unwrap(), record, "read back as written");
            let mut edited = cm.clone();
            edited.data.as_mut().unwrap().insert("variant".into(), "sideways".into());
            let err = Record::from_config_map(&edited).unwrap_err();
            assert!(err.message.contains("variant"), "{err}");
        }
    }

    fn id(name: &str) -> Id {
        Id::parse(name).unwrap()
    }

    fn default_deny() -> Id {
        id("default-deny")
    }

    fn record(id: Id, seed: u64, dir: &Path) -> Record {
        Record {
            run: scenario::run_name(id, seed),
            id,
            seed,
            started: 1,
            exam: false,
            minutes: 6,
            dir: dir.to_path_buf(),
            bench: None,
            kept: Kept::new(),
            best: None,
            mock: None,
            ended: None,
            variant: None,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// The record's ConfigMap as `start` writes it, in `namespace`.
    fn config_map(record: &Record, namespace: &str) -> ConfigMap {
        let mut cm: ConfigMap = serde_json::from_value(record.config_map(namespace)).unwrap();
        cm.metadata.labels.get_or_insert_default().insert(harden_kube::MANAGED_BY_LABEL.into(), PLUGIN.into());
        cm
    }

    fn made_for(name: &str, run: &str) -> (String, Namespace) {
        let meta = ObjectMeta {
            name: Some(name.into()),
            labels: labels(&[(RUN_LABEL, run), (harden_kube::MANAGED_BY_LABEL, PLUGIN)]),
            ..Default::default()
        };
        (name.to_string(), Namespace { metadata: meta, ..Default::default() })
    }

    #[test]
    fn a_record_is_trusted_only_in_the_first_namespace_made_for_its_run() {
        let run = record(id("frontend-to-backend"), 42, Path::new("/tmp/x"));
        let plan = run.plan().unwrap();
        let ours: BTreeMap<String, Namespace> = plan.namespaces.iter().map(|ns| made_for(ns, &run.run)).collect();
        let first = &plan.namespaces[0];
        assert_eq!(trusted(&config_map(&run, first), &ours).unwrap(), run, "where start puts it");

        let why = trusted(&config_map(&run, "team-a"), &ours).unwrap_err();
        assert!(why.contains("namespace team-a was not made by kubectl-cks-practice for run"), "{why}");
        let why = trusted(&config_map(&run, &plan.namespaces[1]), &ours).unwrap_err();
        assert!(why.contains("keeps its record in namespace"), "another namespace of the run: {why}");
        let other: BTreeMap<String, Namespace> = [made_for(first, "default-deny-1")].into();
        assert!(trusted(&config_map(&run, first), &other).is_err(), "a namespace made for another run");
        let mut unlabelled = config_map(&run, first);
        unlabelled.metadata.labels.as_mut().unwrap().remove(harden_kube::MANAGED_BY_LABEL);
        assert!(trusted(&unlabelled, &ours).unwrap_err().contains("was not written by"));
        let mut relabelled = config_map(&run, first);
        relabelled.metadata.labels.as_mut().unwrap().insert(RUN_LABEL.into(), "default-deny-1".into());
        assert!(trusted(&relabelled, &ours).is_err(), "labelled for a run it does not record");
    }

    #[test]
    fn a_record_that_would_choose_the_node_or_image_is_refused() {
        let bench = NodeBench {
            node: "node-1".into(),
            image: "aquasec/kube-bench:v0.12.0".into(),
            benchmark: "cis-1.10".into(),
        };
        let mut run = record(id("kube-bench"), 8, Path::new("/tmp/x"));
        run.bench = Some(bench.clone());
        run.kept = Kept::from([("originalMode".into(), "600".into()), ("setMode".into(), "644".into())]);
        let cm: ConfigMap = serde_json::from_value(run.config_map("ns")).unwrap();
        assert_eq!(Record::from_config_map(&cm).unwrap(), run, "node and the set-up's modes read back as written");
        assert_eq!(cm.data.as_ref().unwrap()["originalMode"], "600", "under the keys records had before");
        for (key, value) in [("node", "node-1; rm -rf /"), ("image", "evil image"), ("benchmark", "../../etc")] {
            let mut bad = cm.clone();
            bad.data.as_mut().unwrap().insert(key.into(), value.into());
            let err = Record::from_config_map(&bad).unwrap_err();
            assert!(err.message.contains(key), "{key}: {err}");
        }
    }

    /// A scenario reads back only the keys its card says its set-up keeps: another scenario's (or an
    /// edit's) are not handed to its reset.
    #[test]
    fn a_record_keeps_only_the_keys_of_its_scenarios_set_up() {
        let run = record(id("default-deny"), 3, Path::new("/tmp/x"));
        let mut cm: ConfigMap = serde_json::from_value(run.config_map("ns")).unwrap();
        cm.data.as_mut().unwrap().insert("originalMode".into(), "777".into());
        assert!(Record::from_config_map(&cm).unwrap().kept.is_empty());
        assert!(run.bench.is_none() && Record::from_config_map(&cm).unwrap().bench.is_none());
    }

    #[test]
    fn the_runs_directory_is_the_one_named_here_and_must_match_the_record() {
        let files = record(id("tampered-binary"), 7, &scenario::default_dir("tampered-binary-7"));
        assert_eq!(files.local_dir(None).unwrap(), Some(scenario::default_dir("tampered-binary-7")));
        let elsewhere = record(id("tampered-binary"), 7, Path::new("/home/admin/.ssh"));
        let err = elsewhere.local_dir(None).unwrap_err();
        assert_eq!(err.exit_code(harden_cli::ExitStyle::Action), 2);
        assert!(
            err.message.contains("keeps its files in /home/admin/.ssh") && err.message.contains("nothing was done"),
            "{err}"
        );
        assert!(elsewhere.local_dir(Some(Path::new("/tmp/other"))).is_err());
        assert_eq!(
            elsewhere.local_dir(Some(Path::new("/home/admin/.ssh"))).unwrap().unwrap(),
            Path::new("/home/admin/.ssh")
        );
        let none = record(id("default-deny"), 7, Path::new("/anywhere"));
        assert_eq!(none.local_dir(None).unwrap(), None);
        assert!(none.local_dir(Some(Path::new("/tmp"))).unwrap_err().message.contains("does not apply"));
    }

    #[test]
    fn files_are_removed_by_name_only_from_a_directory_marked_for_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = record(id("tampered-binary"), 7, dir.path());
        let plan = run.plan().unwrap();
        let write = |name: &str| std::fs::write(dir.path().join(name), "x").unwrap();
        for file in &plan.files {
            write(&file.name);
        }
        write("keep-me");
        assert_eq!(remove_files(&run, dir.path()).unwrap(), 0, "no marker: nothing is removed");
        assert!(plan.files.iter().all(|f| dir.path().join(&f.name).exists()));
        std::fs::write(dir.path().join(DIR_MARKER), "tampered-binary-8\n").unwrap();
        assert_eq!(remove_files(&run, dir.path()).unwrap(), 0, "another run's marker: nothing is removed");
        std::fs::write(dir.path().join(DIR_MARKER), "tampered-binary-7\n").unwrap();
        assert_eq!(remove_files(&run, dir.path()).unwrap(), plan.files.len());
        assert!(dir.path().join("keep-me").exists() && !dir.path().join(DIR_MARKER).exists(), "only the run's names");
    }
}
