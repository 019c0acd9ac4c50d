//! `kubectl cks-practice exam`: a mock exam. A seed draws a set of tasks from the scenarios of the
//! current curriculum, each a run of its own (its own namespaces, side by side, its record there) in
//! exam mode, all on one timer: the exam's start and the sum of the tasks' minutes. Each task weighs
//! its scenario's minutes. `score` grades every task and keeps, per task, the best result reached
//! within the time (in the task's record, as a single exam-mode run does); once the time is up (or
//! the exam is ended) it shows the score from those kept results, then the review: each task's
//! checks with their reasons and its manual solution. The exam's tasks are found only through the
//! records `run::runs` trusts (in namespaces this plugin made for the run), and must be the set the
//! seed draws.

use clap::{Args, Subcommand};
use harden_cli::error::{Error, ExitStyle, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_cli::output::{self, line};
use harden_kube::client::connect;
use harden_kube::flags::KubeArgs;
use serde_json::json;

use crate::grade::Check;
use crate::practice;
use crate::run::{self, Best, Mock, Record};
use crate::scenario::{self, Context, Id, Plan};
use crate::scenarios::ALL;
use crate::seed::Rng;

/// The scenarios a mock exam draws from, in the list's order: those whose card says so (the
/// current curriculum: the Dashboard's left it in 2024; and no node access: kube-bench changes a
/// node's file, practise it on its own).
pub fn pool() -> Vec<Id> {
    ALL.iter().copied().filter(|id| id.card().mock_exam).collect()
}

/// The share of the weights that passes, as the CKS exam's 67%.
pub const PASS_PERCENT: usize = 67;

/// The tasks a seed draws: `tasks` distinct scenarios of [`pool`] in a seeded order, each with a seed
/// of its own (its run's names). Pure: the same seed gives the same tasks.
pub fn draw(seed: u64, tasks: usize) -> Vec<(Id, u64)> {
    let mut rng = Rng::new(seed, "mock-exam");
    let mut pool = pool();
    for i in (1..pool.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        pool.swap(i, j);
    }
    pool.into_iter().take(tasks).map(|id| (id, 1 + rng.below(99_999))).collect()
}

fn parse_tasks(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=pool().len()).contains(&n) => Ok(n),
        _ => Err(format!("a mock exam has 1-{} tasks (one per scenario it draws from)", pool().len())),
    }
}

#[derive(Args)]
pub struct ExamCmd {
    #[command(subcommand)]
    command: ExamCommand,
}

#[derive(Subcommand)]
enum ExamCommand {
    /// Draw the tasks (by --seed), start them side by side on one timer, and print them.
    Start(StartCmd),
    /// Grade every task: within the time pass/fail only; after it, the score and the review.
    Score(ScoreCmd),
    /// End the exam now (as submitting it): grade, keep, then the score and the review.
    End(ScoreCmd),
    /// Delete every task's run (namespaces, objects, files). Idempotent.
    Reset(ResetCmd),
}

impl harden_cli::command::Command for ExamCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn style(&self) -> harden_cli::ExitStyle {
        ExamCmd::style(self)
    }

    fn validate(&self) -> harden_cli::Result<()> {
        match &self.command {
            ExamCommand::Start(cmd) => {
                no_namespace_flag(&cmd.kube)?;
                cmd.image.as_deref().map(harden_cli::images::validate).transpose()?;
                Ok(())
            }
            ExamCommand::Score(cmd) | ExamCommand::End(cmd) => no_namespace_flag(&cmd.kube),
            ExamCommand::Reset(cmd) => no_namespace_flag(&cmd.kube),
        }
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ExamCmd {
    /// How the command's outcome becomes the exit code: the score is a verdict (0 passed, 1 not).
    pub fn style(&self) -> ExitStyle {
        match self.command {
            ExamCommand::Score(_) | ExamCommand::End(_) => ExitStyle::Verdict,
            ExamCommand::Start(_) | ExamCommand::Reset(_) => ExitStyle::Action,
        }
    }

    async fn execute(self) -> Result<Outcome> {
        match self.command {
            ExamCommand::Start(cmd) => cmd.run().await,
            ExamCommand::Score(cmd) => cmd.run(false).await,
            ExamCommand::End(cmd) => cmd.run(true).await,
            ExamCommand::Reset(cmd) => cmd.run().await,
        }
    }
}

const START_EXAMPLES: &str = "Examples:\n  # three tasks drawn from seed 42 (the same seed draws the same tasks)\n  kubectl cks-practice exam start --seed 42 --tasks 3\n  # the tasks as JSON, pods on a mirror's busybox\n  kubectl cks-practice exam start --seed 42 --image registry.local/busybox:1.36 -o json";

#[derive(Args)]
#[command(after_help = START_EXAMPLES)]
pub struct StartCmd {
    /// Draw the tasks and their names from this seed (default: a random one).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// How many tasks (1-9), each from another scenario.
    #[arg(long, value_name = "N", default_value = "4", value_parser = parse_tasks)]
    tasks: usize,

    /// The image of the tasks' pods (busybox: httpd serves, wget checks by hand) [default: each
    /// scenario's own, under $KUBE_HARDEN_IMAGE_REPOSITORY when set].
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,

    /// How long to wait for an earlier run's namespaces to go, then for the tasks' pods to run.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = harden_cli::duration::parse_wait)]
    timeout: std::time::Duration,

    /// text or json (the exam, its minutes, and per task its run, scenario, weight, namespaces, text).
    #[arg(short = 'o', long = "output", default_value = "text", value_parser = format::TEXT_JSON)]
    output: Format,

    #[command(flatten)]
    kube: KubeArgs,
}

/// A task of a mock exam: its record and plan.
struct Task {
    record: Record,
    plan: Plan,
}

impl Task {
    fn weight(&self) -> u32 {
        self.record.id.info().minutes
    }
}

fn sheet(name: &str, tasks: &[Task], format: Format, left: i64) -> Result<()> {
    let total: u32 = tasks.iter().map(Task::weight).sum();
    let minutes = tasks.first().map_or(0, |t| t.record.minutes);
    if format == Format::Json {
        let tasks: Vec<_> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                json!({"number": i + 1, "run": t.record.run, "scenario": t.record.id, "weight": t.weight(),
                       "namespaces": t.plan.namespaces, "names": t.plan.names, "text": t.plan.task})
            })
            .collect();
        line(serde_json::to_string_pretty(&json!({
            "exam": name, "minutes": minutes, "secondsLeft": left, "passPercent": PASS_PERCENT,
            "totalWeight": total, "tasks": tasks,
        }))?);
        return Ok(());
    }
    let mut text = format!(
        "Mock exam {name}: {} tasks, {minutes} minutes on one timer ({}), {PASS_PERCENT}% of the weight to pass.\n\
         Exam mode: no hints, no solutions, the kube-harden plugins refuse to act in the tasks' namespaces.\n",
        tasks.len(),
        time_left(left)
    );
    for (i, t) in tasks.iter().enumerate() {
        text.push_str(&format!(
            "\nTask {} of {} (weight {}/{total}): {} ({})\nRun: {}    Namespaces: {}\n\n{}\n",
            i + 1,
            tasks.len(),
            t.weight(),
            t.record.id.info().topic,
            t.record.id.name(),
            t.record.run,
            t.plan.namespaces.join(", "),
            t.plan.task
        ));
    }
    text.push_str(&format!(
        "\nOne task: kubectl cks-practice check --run RUN (pass or fail only, until the time is up).\n\
         The exam: kubectl cks-practice exam score --exam {name}; done early: kubectl cks-practice exam end --exam {name}\n"
    ));
    output::print(&text);
    Ok(())
}

fn time_left(left: i64) -> String {
    if left >= 0 {
        format!("{}m{:02}s left", left / 60, left % 60)
    } else {
        format!("time is up, {}m over", (-left) / 60)
    }
}

fn no_namespace_flag(kube: &KubeArgs) -> Result<()> {
    if kube.namespaces.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid("-n/--namespace does not apply: a mock exam makes and names namespaces of its own"))
    }
}

impl StartCmd {
    async fn run(self) -> Result<Outcome> {
        let seed = self.seed.unwrap_or_else(crate::seed::random_seed);
        let name = run::mock_name(seed);
        let kube = connect(&self.kube).await?;
        if runs_of(&kube.client, &name).await?.next().is_some() {
            return Err(Error::conflict(format!("mock exam {name} is already on this cluster")).with_hint(format!(
                "carry on with it (`kubectl cks-practice exam score --exam {name}`), \
                 `kubectl cks-practice exam reset --exam {name}`, or pick another --seed"
            )));
        }
        let drawn = draw(seed, self.tasks);
        let mut plans = Vec::new();
        for (id, task_seed) in &drawn {
            let run_name = scenario::run_name(*id, *task_seed);
            let dir = scenario::default_dir(&run_name);
            let mut plan = id.plan(&Context { seed: *task_seed, dir: &dir, bench: None, variant: None })?;
            let image = if id.creates_pods() { self.image.as_deref() } else { None };
            plan.choose_images(image)?;
            run::wait_for_namespaces_to_go(&kube.client, &plan, self.timeout).await?;
            plans.push(plan);
        }
        let started = run::now();
        let minutes: u32 = drawn.iter().map(|(id, _)| id.info().minutes).sum();
        let mut tasks: Vec<Task> = Vec::new();
        for plan in plans {
            let mut record = run::new_record(&plan, true);
            record.started = started;
            record.minutes = minutes;
            record.mock = Some(Mock { seed, tasks: self.tasks });
            let started = match run::start_record(&kube.client, &plan, record).await {
                Ok(record) => practice::wait_for_the_pods(&kube, &plan, &record, self.timeout).await.map(|_| record),
                Err(e) => Err(e),
            };
            match started {
                Ok(record) => tasks.push(Task { record, plan }),
                Err(e) => {
                    // All or nothing: the tasks started so far go too.
                    for task in &tasks {
                        let _ =
                            run::reset(&kube.client, &task.record.run, Some(&task.record), Some(&task.plan.dir)).await;
                    }
                    return Err(e.context(format!("starting mock exam {name}; its tasks were reset")));
                }
            }
        }
        let left = tasks.first().map_or(0, |t| t.record.left(run::now()));
        sheet(&name, &tasks, self.output, left)?;
        Ok(Outcome::Good)
    }
}

/// The trusted records of the exam `name`'s tasks.
async fn runs_of(client: &kube::Client, name: &str) -> Result<impl Iterator<Item = Record> + use<>> {
    let name = name.to_string();
    Ok(run::runs(client, None).await?.into_iter().filter(move |r| r.mock.as_ref().is_some_and(|m| m.name() == name)))
}

/// The exam `--exam` names, else the only one on the cluster: its tasks in the order drawn, each
/// the one the seed draws (a task's record that is missing is an error naming it).
async fn exam_tasks(client: &kube::Client, wanted: Option<&str>) -> Result<(String, Vec<Task>)> {
    let records = run::runs(client, None).await?;
    let mut names: Vec<String> = records.iter().filter_map(|r| r.mock.as_ref().map(Mock::name)).collect();
    names.sort();
    names.dedup();
    let name = match (wanted, names.len()) {
        (Some(wanted), _) if names.iter().any(|n| n == wanted) => wanted.to_string(),
        (Some(wanted), _) => {
            return Err(Error::not_found(format!("no mock exam {wanted} on this cluster"))
                .with_hint("start one: kubectl cks-practice exam start --seed N"));
        }
        (None, 1) => names.remove(0),
        (None, 0) => {
            return Err(Error::not_found("no mock exam on this cluster")
                .with_hint("start one: kubectl cks-practice exam start --seed N"));
        }
        (None, _) => {
            return Err(Error::invalid(format!("{} mock exams on this cluster: {}", names.len(), names.join(", ")))
                .with_hint("name one with --exam"));
        }
    };
    let mine: Vec<Record> = records.into_iter().filter(|r| r.mock.as_ref().is_some_and(|m| m.name() == name)).collect();
    let mock = mine[0].mock.clone().expect("filtered on it");
    if mine.iter().any(|r| r.mock.as_ref() != Some(&mock)) {
        return Err(Error::invalid(format!("the records of mock exam {name}'s tasks disagree on its tasks"))
            .with_hint(format!("they were edited: kubectl cks-practice exam reset --exam {name}")));
    }
    let mut tasks = Vec::new();
    for (id, seed) in draw(mock.seed, mock.tasks) {
        let run_name = scenario::run_name(id, seed);
        let Some(record) = mine.iter().find(|r| r.run == run_name) else {
            return Err(Error::not_found(format!("task {run_name} of mock exam {name} is not on this cluster"))
                .with_hint(format!("it was reset; end the exam with kubectl cks-practice exam reset --exam {name}")));
        };
        let dir = task_dir(record)?;
        let plan = match &dir {
            Some(dir) => record.plan_in(dir)?,
            None => record.plan()?,
        };
        tasks.push(Task { record: record.clone(), plan });
    }
    if let Some(stray) = mine.iter().find(|r| !tasks.iter().any(|t| t.record.run == r.run)) {
        return Err(Error::invalid(format!(
            "run {} says it is a task of mock exam {name}, which did not draw it",
            stray.run
        ))
        .with_hint(format!("its record was edited: kubectl cks-practice reset --run {}", stray.run)));
    }
    Ok((name, tasks))
}

const SCORE_EXAMPLES: &str = "Examples:\n  kubectl cks-practice exam score\n  # for a grader: per task pass/fail and weight; the review once the time is up\n  kubectl cks-practice exam score --exam exam-42 -o json\n  # done before the time: end it, then the score and the review\n  kubectl cks-practice exam end --exam exam-42";

#[derive(Args)]
#[command(after_help = SCORE_EXAMPLES)]
pub struct ScoreCmd {
    /// The mock exam (default: the only one on the cluster).
    #[arg(long = "exam", value_name = "EXAM")]
    exam: Option<String>,

    /// text or json (per task: run, weight, result, kept best; after the time: score and review).
    #[arg(short = 'o', long = "output", default_value = "text", value_parser = format::TEXT_JSON)]
    output: Format,

    #[command(flatten)]
    kube: KubeArgs,
}

/// A task graded now: the checks, and the best result within the time kept after this grading.
pub struct Graded {
    pub run: String,
    pub id: Id,
    pub weight: u32,
    pub checks: Vec<Check>,
    pub best: Option<Best>,
    pub solution: String,
}

impl Graded {
    fn passes_now(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    fn counts(&self) -> bool {
        self.best.is_some_and(|b| b.solved())
    }
}

/// What `exam score` shows: within the time (`left >= 0`) per task its weight, pass or fail now and
/// whether a pass is kept, never which check fails; after it, the score from the kept results and
/// the review (every check with its reason, and the manual solution). Returns the text, the JSON and
/// whether the exam is passed (the kept results reach [`PASS_PERCENT`] of the weight).
pub fn report(name: &str, graded: &[Graded], left: i64) -> (String, serde_json::Value, bool) {
    let total: u32 = graded.iter().map(|g| g.weight).sum();
    let kept: u32 = graded.iter().filter(|g| g.counts()).map(|g| g.weight).sum();
    let percent = (kept * 100).checked_div(total).unwrap_or(0) as usize;
    let passed = percent >= PASS_PERCENT;
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let mut text = format!("Mock exam {name}: {}\n", time_left(left));
    let rows = graded.iter().enumerate().map(|(i, g)| {
        let mut row = vec![(i + 1).to_string(), g.run.clone(), g.weight.to_string()];
        if left >= 0 {
            row.push(verdict(g.passes_now()).to_string());
        }
        row.push(if g.counts() { "solved in time".into() } else { "not solved in time".into() });
        row
    });
    let header: &[&str] =
        if left >= 0 { &["#", "task", "weight", "now", "kept"] } else { &["#", "task", "weight", "kept"] };
    text.push_str(&output::table(header, rows));
    let score = format!("Score: {kept}/{total} ({percent}%; {PASS_PERCENT}% passes)");
    let tasks: Vec<_> = graded
        .iter()
        .map(|g| {
            let mut task =
                json!({"run": g.run, "scenario": g.id, "weight": g.weight, "best": g.best, "counts": g.counts()});
            if left >= 0 {
                task["task"] = json!(verdict(g.passes_now()));
            } else {
                task["checks"] = json!(g.checks);
                task["solution"] = json!(g.solution);
            }
            task
        })
        .collect();
    let json = json!({
        "exam": name, "timeUp": left < 0, "secondsLeft": left, "tasks": tasks,
        "score": {"weight": kept, "total": total, "percent": percent, "passPercent": PASS_PERCENT},
        "result": if left < 0 { json!(verdict(passed)) } else { json!(null) },
    });
    if left >= 0 {
        text.push_str(&format!(
            "{score} so far\n(exam mode: which check fails is shown once the time is up, or after `kubectl cks-practice \
             exam end --exam {name}`)\n"
        ));
        return (text, json, passed);
    }
    text.push_str(&format!("{score}: {}\n\nReview (the cluster as it is now):\n", verdict(passed)));
    for (i, g) in graded.iter().enumerate() {
        text.push_str(&format!(
            "\n=== Task {} {} (weight {}): {} ===\n{}\nSolution:\n{}",
            i + 1,
            g.run,
            g.weight,
            if g.counts() { "solved in time" } else { "not solved in time" },
            practice::checks_text(&g.checks),
            g.solution
        ));
    }
    (text, json, passed)
}

impl ScoreCmd {
    async fn run(self, end: bool) -> Result<Outcome> {
        let kube = connect(&self.kube).await?;
        let (name, tasks) = exam_tasks(&kube.client, self.exam.as_deref()).await?;
        let mut graded = Vec::new();
        let now = run::now();
        for task in &tasks {
            let dir = task_dir(&task.record)?;
            let checks = practice::grade(&kube.client, &task.record, dir.as_deref(), None).await?;
            let passed = checks.iter().filter(|c| c.passed).count();
            let result = Best { passed, total: checks.len(), seconds_in: now.saturating_sub(task.record.started) };
            let best = run::keep_best(&kube.client, &task.record, result, now).await?;
            graded.push(Graded {
                run: task.record.run.clone(),
                id: task.record.id,
                weight: task.weight(),
                checks,
                best,
                solution: practice::solution_text(&task.plan),
            });
        }
        let mut left = tasks.iter().map(|t| t.record.left(now)).min().unwrap_or(-1);
        if end && left >= 0 {
            for task in &tasks {
                run::end(&kube.client, &task.record, now).await?;
            }
            // Over from this second on, as `Record::left` reads an ended exam.
            left = -1;
            output::eline(format!("Mock exam {name} ended."));
        }
        let (text, json, passed) = report(&name, &graded, left);
        match self.output {
            Format::Text => output::print(&text),
            Format::Json => line(serde_json::to_string_pretty(&json)?),
            other => return Err(other.unprinted()),
        }
        Ok(if passed && left < 0 { Outcome::Good } else { Outcome::Finding })
    }
}

const RESET_EXAMPLES: &str =
    "Examples:\n  kubectl cks-practice exam reset\n  kubectl cks-practice exam reset --exam exam-42";

#[derive(Args)]
#[command(after_help = RESET_EXAMPLES)]
pub struct ResetCmd {
    /// The mock exam (default: the only one on the cluster).
    #[arg(long = "exam", value_name = "EXAM")]
    exam: Option<String>,

    #[command(flatten)]
    kube: KubeArgs,
}

impl ResetCmd {
    async fn run(self) -> Result<Outcome> {
        let kube = connect(&self.kube).await?;
        let records = run::runs(&kube.client, None).await?;
        let mut names: Vec<String> = records.iter().filter_map(|r| r.mock.as_ref().map(Mock::name)).collect();
        names.sort();
        names.dedup();
        let name = match (&self.exam, names.len()) {
            (Some(wanted), _) => wanted.clone(),
            (None, 1) => names.remove(0),
            (None, 0) => {
                output::eline("No mock exam on this cluster: nothing to reset.");
                return Ok(Outcome::Good);
            }
            (None, _) => {
                return Err(Error::invalid(format!(
                    "{} mock exams on this cluster: {}",
                    names.len(),
                    names.join(", ")
                ))
                .with_hint("name one with --exam"));
            }
        };
        let mut deleted = 0;
        for record in records.iter().filter(|r| r.mock.as_ref().is_some_and(|m| m.name() == name)) {
            let dir = task_dir(record)?;
            deleted += run::reset(&kube.client, &record.run, Some(record), dir.as_deref()).await?;
        }
        if deleted == 0 {
            output::eline(format!("Nothing is left of mock exam {name}."));
        } else {
            output::eline(format!("Mock exam {name} reset."));
        }
        Ok(Outcome::Good)
    }
}

/// A task's directory on this machine: `./cks-practice-RUN` where `exam start` ran. The exam
/// commands take no `--dir`, so the hint of a run's own commands ("pass --dir") is replaced by the
/// one that works here.
fn task_dir(record: &Record) -> Result<Option<std::path::PathBuf>> {
    record.local_dir(None).map_err(|mut e| {
        if e.hint.is_some() {
            e.hint = Some(format!(
                "run the exam's commands from the directory `exam start` ran in ({}), where its tasks keep their files",
                record.dir.parent().map_or_else(|| record.dir.display().to_string(), |d| d.display().to_string())
            ));
        }
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_tasks_and_another_seed_others() {
        assert_eq!(draw(42, 3), draw(42, 3));
        let mut sets = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let tasks = draw(seed, 3);
            assert_eq!(tasks.len(), 3);
            let mut ids: Vec<Id> = tasks.iter().map(|t| t.0).collect();
            ids.dedup();
            assert_eq!(ids.len(), 3, "distinct scenarios: {tasks:?}");
            assert!(tasks.iter().all(|(id, s)| pool().contains(id) && *s > 0));
            sets.insert(format!("{tasks:?}"));
        }
        assert!(sets.len() > 10, "seeds draw other tasks: {sets:?}");
        assert_eq!(draw(7, 9).len(), 9);
        assert!(parse_tasks("0").is_err() && parse_tasks("10").is_err() && parse_tasks("x").is_err());
        // Every scenario of the current curriculum that needs no node access is drawn from: the new
        // ones too (10-12), never the Dashboard's (outside it) or kube-bench (it changes a node).
        for id in ALL {
            let current = !["dashboard-user", "dashboard-args", "kube-bench"].contains(&id.name());
            assert_eq!(pool().contains(&id), current, "{id:?}");
        }
        // The pool in the order of the list before scenarios were one type: a seed draws the same exam.
        let names: Vec<&str> = pool().iter().map(|id| id.name()).collect();
        assert_eq!(
            names,
            [
                "default-deny",
                "frontend-to-backend",
                "block-metadata",
                "tls-ingress",
                "tampered-binary",
                "egress-dns",
                "node-endpoints",
                "named-port",
                "verify-version"
            ]
        );
    }

    fn graded(run: &str, weight: u32, solved: bool, now: bool) -> Graded {
        Graded {
            run: run.into(),
            id: Id::parse("default-deny").unwrap(),
            weight,
            checks: vec![Check::new("the-secret-case", now, "the reason that gives it away")],
            best: solved.then_some(Best { passed: 1, total: 1, seconds_in: 60 }),
            solution: "kubectl apply the-solution".into(),
        }
    }

    #[test]
    fn within_the_time_no_check_is_named_and_after_it_the_kept_results_score() {
        let tasks = [graded("a-1", 6, true, false), graded("b-2", 10, true, true), graded("c-3", 8, false, false)];
        let (text, json, _) = report("exam-1", &tasks, 120);
        for leak in ["the-secret-case", "gives it away", "the-solution"] {
            assert!(!text.contains(leak) && !json.to_string().contains(leak), "{leak}: {text} {json}");
        }
        assert!(text.contains("Score: 16/24 (66%; 67% passes) so far"), "{text}");
        // After the time: a task solved in time and broken since counts; the review shows everything.
        let (text, json, passed) = report("exam-1", &tasks, -5);
        assert!(!passed, "16 of 24 is short of 67%: {text}");
        assert!(text.contains("Score: 16/24 (66%; 67% passes): FAIL"), "{text}");
        assert!(text.contains("FAIL  the-secret-case: the reason that gives it away"), "{text}");
        assert!(text.contains("kubectl apply the-solution") && text.contains("=== Task 3 c-3 (weight 8): not solved"));
        assert_eq!(json["result"], "FAIL");
        assert_eq!(json["tasks"][0]["counts"], true);
        let tasks = [graded("a-1", 6, true, false), graded("b-2", 10, true, true), graded("c-3", 8, false, true)];
        let (_, _, passed) = report("exam-1", &tasks, -5);
        assert!(!passed, "passing now, after the time, does not count");
        let (_, json, passed) = report("exam-1", &[graded("a-1", 6, true, true), graded("c-3", 2, false, false)], -1);
        assert!(passed && json["score"]["percent"] == 75, "{json}");
    }
}
