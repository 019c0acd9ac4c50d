//! A run on the cluster: its record (a ConfigMap in the run's first namespace, so `check` works from
//! any shell), starting it (the plan's objects through the shared apply path, its files through the
//! safe writer) and resetting it (everything in the run's namespaces, the namespaces, the files).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use harden_cli::{Error, Result, output};
use harden_kube::apply::{Applier, LOCKED_BY_LABEL, Object};
use harden_kube::flags::ApplyArgs;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::PLUGIN;
use crate::scenario::{self, Context, Id, NodeBench, Plan, RUN_LABEL};

/// The label of a run's record.
pub const RECORD_LABEL: &str = "cks-practice.kube-harden.io/record";
pub const RECORD_NAME: &str = "cks-practice-run";

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
    /// Scenario 8: where kube-bench runs.
    pub bench: Option<NodeBench>,
    /// Scenario 8: the file's mode before the run, and the one the run set (what reset puts back,
    /// and when).
    pub modes: Option<(String, String)>,
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Record {
    pub fn plan(&self) -> Result<Plan> {
        scenario::plan(self.id, &Context { seed: self.seed, dir: &self.dir, bench: self.bench.as_ref() })
    }

    /// Seconds left of the time budget (negative: over).
    pub fn left(&self, at: u64) -> i64 {
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
        if let Some((old, set)) = &self.modes {
            data.insert("originalMode".into(), old.clone());
            data.insert("setMode".into(), set.clone());
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
            bench: match id {
                Id::KubeBench => {
                    Some(NodeBench { node: get("node")?, image: get("image")?, benchmark: get("benchmark")? })
                }
                _ => None,
            },
            modes: match (data.get("originalMode"), data.get("setMode")) {
                (Some(old), Some(set)) => Some((old.clone(), set.clone())),
                _ => None,
            },
        })
    }
}

/// Every run on the cluster (`only`: the one of that name).
pub async fn runs(client: &Client, only: Option<&str>) -> Result<Vec<Record>> {
    let mut selector = format!("{RECORD_LABEL}=true");
    if let Some(run) = only {
        selector.push_str(&format!(",{RUN_LABEL}={run}"));
    }
    let listed = Api::<ConfigMap>::all(client.clone())
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| harden_kube::error::from_kube(e, "listing practice runs (configmaps)"))?;
    let mut records = Vec::new();
    for cm in listed.items.iter().filter(|c| c.metadata.deletion_timestamp.is_none()) {
        records.push(Record::from_config_map(cm)?);
    }
    records.sort_by(|a, b| a.run.cmp(&b.run));
    Ok(records)
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

/// Creates the plan's starting state and its record. Refuses when the run exists.
pub async fn start(client: &Client, plan: &Plan, exam: bool, bench: Option<&NodeBench>) -> Result<Record> {
    if !runs(client, Some(&plan.run)).await?.is_empty() {
        return Err(Error::conflict(format!("run {} is already on this cluster", plan.run)).with_hint(format!(
            "carry on with it, `kubectl cks-practice reset --run {}`, or pick another --seed",
            plan.run
        )));
    }
    let mut record = Record {
        run: plan.run.clone(),
        id: plan.id,
        seed: plan.seed,
        started: now(),
        exam,
        minutes: plan.id.info().minutes,
        dir: plan.dir.clone(),
        bench: bench.cloned(),
        modes: None,
    };
    let mut objects: Vec<Object> = plan.apply_objects()?;
    if exam {
        for object in objects.iter_mut().filter(|o| o.resource.kind == "Namespace") {
            object.data.labels_mut().insert(LOCKED_BY_LABEL.into(), PLUGIN.into());
        }
    }
    objects.push(scenario::typed_object(record.config_map(&plan.namespaces[0]))?);
    if plan.id.info().needs.contains(&scenario::Need::LocalFiles) {
        create_dir(&plan.dir)?;
    }
    Applier::new(PLUGIN, ApplyArgs::default(), Some(client.clone()))
        .all_or_nothing()
        .lines_to_stderr()
        .run(objects)
        .await?;
    if let Some(bench) = bench {
        // The node's file changes last: if it cannot, the run is taken down again and nothing is left.
        match crate::scenarios::kube_bench::break_file(client, plan, bench).await {
            Ok(modes) => {
                record.modes = Some(modes);
                let saved = scenario::typed_object(record.config_map(&plan.namespaces[0]))?;
                Applier::new(PLUGIN, ApplyArgs::default(), Some(client.clone()))
                    .lines_to_stderr()
                    .run(vec![saved])
                    .await?;
            }
            Err(e) => {
                let _ = reset(client, &plan.run, Some(&record)).await;
                return Err(e.context("making kube-bench's finding on the node; the run was reset"));
            }
        }
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
/// files it wrote or asked for. Idempotent: a second reset finds nothing and says so.
pub async fn reset(client: &Client, run: &str, record: Option<&Record>) -> Result<usize> {
    let namespaces_api: Api<Namespace> = Api::all(client.clone());
    // Only namespaces this plugin created for the run (its managed-by label and the run label), and
    // when the record is there, only the plan's: a namespace labelled by hand is never emptied.
    let selector = format!("{RUN_LABEL}={run},{}", harden_kube::apply::managed_selector(PLUGIN));
    let plan = record.map(Record::plan).transpose()?;
    let ours: Vec<Namespace> = namespaces_api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| harden_kube::error::from_kube(e, "listing the run's namespaces"))?
        .items
        .into_iter()
        .filter(|ns| plan.as_ref().is_none_or(|plan| plan.namespaces.contains(&ns.name_any())))
        .collect();
    let mut deleted = 0;
    // Scenario 8 changed a file on a node: put its mode back (while the namespace for the helper pod
    // is still there), unless the candidate changed it since.
    if let (Some(Record { bench: Some(bench), modes: Some((old, set)), .. }), Some(plan)) = (record, &plan)
        && ours.iter().any(|ns| ns.name_any() == plan.namespaces[0] && ns.metadata.deletion_timestamp.is_none())
    {
        crate::scenarios::kube_bench::restore_file(client, plan, bench, old, set).await?;
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
            let listed = api
                .list(&ListParams::default())
                .await
                .map_err(|e| harden_kube::error::from_kube(e, format!("listing {} in {name}", resource.plural)))?;
            for object in listed.items.iter().filter(|o| o.metadata.deletion_timestamp.is_none()) {
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
    if let (Some(record), Some(plan)) = (record, &plan) {
        let mut files: Vec<String> = plan.files.iter().map(|f| f.name.clone()).collect();
        if let Some(token) = plan.names.get("tokenFile") {
            files.push(PathBuf::from(token).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        }
        for name in files.iter().filter(|n| !n.is_empty()) {
            let path = record.dir.join(name);
            // Only regular files: a link planted there is not followed, and not removed.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(&path).map_err(|e| Error::other(format!("removing {}: {e}", path.display())))?;
                deleted += 1;
                output::line(format!("{} removed", path.display()));
            }
        }
        if record.dir.is_dir() && std::fs::remove_dir(&record.dir).is_ok() {
            output::line(format!("{} removed", record.dir.display()));
        }
    }
    Ok(deleted)
}
