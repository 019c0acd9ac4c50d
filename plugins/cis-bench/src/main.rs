//! `kubectl cis-bench`: run kube-bench (the CIS Kubernetes Benchmark) on the cluster as a Job and
//! turn its report into actions; read saved reports offline; compare two reports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use harden_cli::command::{Dispatch, Validated};
use harden_cli::error::{Error, ExitStyle, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_kube::flags::{DryRun, KubeArgs};

use cis_bench::baseline::Baseline;
use cis_bench::filter::FailOn;
use cis_bench::{baseline, diff, explain, filter, render};
use harden_kube_bench::model::{Report, Status};
use harden_kube_bench::{job, parse, run};

/// The CLI: kubectl's connection flags, then one subcommand.
#[derive(Parser)]
#[command(
    name = "kubectl cis-bench",
    bin_name = "kubectl cis-bench",
    version,
    about,
    after_help = "Exit codes: 0 nothing to act on; 1 checks at or above --fail-on remain (diff: some check \
                  changed status); 2 an error or invalid input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run kube-bench as a Job (one per node for --targets node), wait, report, and delete the Job.
    Run(Box<RunArgs>),
    /// Read saved kube-bench output (JSON, --nototals JSON, plain text) or a saved -o json report.
    Report(ReportArgs),
    /// Show the checks that changed status between two saved reports.
    Diff(DiffArgs),
    /// Explain one check of a saved report: what it audits, what kube-bench saw, and what to change where.
    Explain(ExplainArgs),
}

const EXPLAINARGS_EXAMPLES: &str = "Examples:\n  # why 1.2.5 failed, and which file and flag to change on which node\n  kubectl cis-bench run --output-file report.json -o json; kubectl cis-bench explain 1.2.5 report.json";

#[derive(Args)]
#[command(after_help = EXPLAINARGS_EXAMPLES)]
struct ExplainArgs {
    /// The check number, e.g. 1.2.5.
    #[arg(value_name = "ID")]
    id: String,
    /// The saved report (kube-bench JSON, or our -o json; - for stdin). Text reports lack the audit details.
    #[arg(value_name = "REPORT")]
    report: String,
    /// text, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "text", value_parser = format::TEXT_JSON_YAML)]
    format: Format,
}

/// How a report is narrowed, printed and judged.
#[derive(Args)]
struct Output {
    /// Output format: table (totals, then what to change), json (our documented schema), or junit.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = render::REPORT_FORMATS)]
    format: Format,
    /// Write the output to FILE instead of stdout (a new file; see --overwrite).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    output_file: Option<PathBuf>,
    /// Replace --output-file if it exists (a symlink or anything but a regular file is still refused).
    #[arg(long, requires = "output_file")]
    overwrite: bool,
    /// Keep only checks with these statuses (comma-separated: PASS, FAIL, WARN, INFO).
    #[arg(long, value_name = "STATUS", value_delimiter = ',', value_parser = filter::parse_status)]
    status: Vec<Status>,
    /// Keep only these targets, sections or checks by number (comma-separated, e.g. 1.2,4).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    section: Vec<String>,
    /// Exit 1 when a check with this status (or worse) remains: fail, warn or none.
    #[arg(long, value_name = "LEVEL", default_value = "fail")]
    fail_on: FailOn,
    /// Accepted risks, a YAML file `accepted: [{id: 1.2.5, reason: ..., expires: YYYY-MM-DD, node: ...}]`:
    /// their checks are shown, marked, and do not fail the run (expired ones count again).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    baseline: Option<PathBuf>,
}

impl Output {
    /// Read before any work, so a typo in the file does not cost a benchmark run.
    fn baseline(&self) -> Result<Option<Baseline>> {
        self.baseline.as_deref().map(Baseline::read).transpose()
    }
}

const RUNARGS_EXAMPLES: &str = "Examples:\n  # the seed's job-master.yaml: the control-plane checks, on a control-plane node\n  kubectl cis-bench run --targets master\n  # the node checks on every node, failing only on FAIL\n  kubectl cis-bench run --targets node --fail-on fail\n  # the Jobs, as YAML, without running them\n  kubectl cis-bench run --dry-run=client";

#[derive(Args)]
#[command(after_help = RUNARGS_EXAMPLES)]
#[command(mut_arg("dry_run", |a| a.help("Only print the Jobs (client: reads the node list unless --node is given), or have the server validate them (server); nothing runs")))]
struct RunArgs {
    /// kube-bench targets, comma-separated: master, controlplane, etcd, policies, node, managedservices.
    #[arg(long, value_name = "TARGETS", value_delimiter = ',', default_value = "master,node")]
    targets: Vec<String>,
    /// Run every target on this one node (default: control-plane targets on a control-plane node,
    /// node on every node).
    #[arg(long, value_name = "NODE")]
    node: Option<String>,
    /// Benchmark, e.g. cis-1.12 (default: the one written for the cluster's version, from the plugin's
    /// table; kube-bench is never left to pick).
    #[arg(long, value_name = "NAME")]
    benchmark: Option<String>,
    /// kube-bench image; pinned by tag or digest [default: the pinned kube-bench release, under
    /// $KUBE_HARDEN_IMAGE_REPOSITORY when that is set].
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// How long to wait for the Jobs, e.g. 90s, 10m.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = harden_cli::duration::parse_wait)]
    timeout: Duration,
    /// Keep the Jobs (and their Pods and logs) instead of deleting them.
    #[arg(long)]
    keep: bool,
    /// When the namespace enforces the baseline or restricted Pod Security level, label it
    /// privileged for the run (kube-bench needs hostPID and host paths) and put the old level back after.
    #[arg(long)]
    privileged_namespace: bool,
    #[command(flatten)]
    dry_run: harden_kube::flags::DryRunArgs,
    #[command(flatten)]
    output: Output,

    #[command(flatten)]
    kube: KubeArgs,
}

const REPORTARGS_EXAMPLES: &str = "Examples:\n  # the seed's `kubectl logs kube-bench-master-xxxxx > report.txt`, read back\n  kubectl cis-bench report report.txt\n  kubectl logs job/kube-bench | kubectl cis-bench report - --status FAIL -o junit";

#[derive(Args)]
#[command(after_help = REPORTARGS_EXAMPLES)]
struct ReportArgs {
    /// The saved output, or - for stdin.
    #[arg(value_name = "FILE")]
    file: String,
    #[command(flatten)]
    output: Output,
}

const DIFFARGS_EXAMPLES: &str =
    "Examples:\n  # what changed after fixing a finding\n  kubectl cis-bench diff before.json after.json";

#[derive(Args)]
#[command(after_help = DIFFARGS_EXAMPLES)]
struct DiffArgs {
    /// The earlier report (kube-bench JSON or text, or our -o json; - for stdin).
    #[arg(value_name = "OLD")]
    old: String,
    /// The later report.
    #[arg(value_name = "NEW")]
    new: String,
    /// table, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "table", value_parser = format::TABLE_JSON_YAML)]
    format: Format,
    /// Accepted risks (as for run and report): changes to FAIL of accepted checks do not make the diff a finding.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    baseline: Option<PathBuf>,
}

fn main() -> ExitCode {
    harden_kube::main::<Cli>("kubectl-cis_bench")
}

impl Dispatch for Cli {
    fn dispatch(self) -> Validated {
        match self.command {
            Command::Run(args) => Validated::of(args),
            Command::Report(args) => Validated::of(args),
            Command::Diff(args) => Validated::of(args),
            Command::Explain(args) => Validated::of(args),
        }
    }
}

impl harden_cli::command::Command for ReportArgs {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        let baseline = self.output.baseline()?;
        let report = read_report(&self.file)?;
        emit(report, &self.output, baseline.as_ref(), None)
    }
}

impl harden_cli::command::Command for DiffArgs {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        if self.old == "-" && self.new == "-" {
            return Err(Error::invalid("OLD and NEW cannot both be - (stdin)"));
        }
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        let args = self;
        let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
        let old = read_report(&args.old)?;
        let mut new = read_report(&args.new)?;
        if let Some(baseline) = &baseline {
            for warning in baseline.apply(&mut new, baseline::today()) {
                harden_cli::output::warn(warning);
            }
        }
        for warning in old.warnings.iter().chain(&new.warnings) {
            harden_cli::output::warn(warning);
        }
        let changes = diff::diff(&old, &new);
        match args.format {
            Format::Text => harden_cli::output::print(&diff::table(&changes)),
            Format::Json => harden_cli::output::print(
                &(serde_json::to_string_pretty(&serde_json::json!({ "changes": changes }))? + "\n"),
            ),
            Format::Yaml => {
                harden_cli::output::print(&harden_cli::output::yaml(&serde_json::json!({ "changes": changes }))?)
            }
            other => return Err(other.unprinted()),
        }
        // With a baseline, only what got worse and is not accepted is a finding.
        let finding = match &baseline {
            None => !changes.is_empty(),
            Some(_) => changes.iter().any(|change| {
                change.new == Some(Status::Fail)
                    && change.direction() != "fixed"
                    && !new.checks().any(|c| {
                        c.check.id == change.id
                            && c.target.kind == change.target
                            && c.target.node == change.node
                            && c.check.set_aside().is_some()
                    })
            }),
        };
        Ok(if finding { Outcome::Finding } else { Outcome::Good })
    }
}

impl harden_cli::command::Command for ExplainArgs {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        let report = read_report(&self.report)?;
        let found = explain::find(&report, &self.id)?;
        match self.format {
            Format::Text => harden_cli::output::print(&explain::text(&found)),
            Format::Json => harden_cli::output::print(&(serde_json::to_string_pretty(&found)? + "\n")),
            Format::Yaml => harden_cli::output::print(&harden_cli::output::yaml(&found)?),
            other => return Err(other.unprinted()),
        }
        Ok(Outcome::Good)
    }
}

impl harden_cli::command::Command for RunArgs {
    const STYLE: ExitStyle = ExitStyle::Verdict;

    fn validate(&self) -> Result<()> {
        job::validate_targets(&self.targets, "--targets")?;
        if let Some(b) = &self.benchmark {
            job::validate_benchmark(b, "--benchmark")?;
        }
        let image = harden_cli::images::choose(self.image.as_deref(), job::DEFAULT_IMAGE)?;
        job::validate_image(&image, "--image")?;
        if self.timeout.is_zero() {
            return Err(Error::invalid("--timeout must be more than 0"));
        }
        if self.privileged_namespace && self.dry_run.strategy != DryRun::None {
            return Err(Error::invalid(
                "--privileged-namespace relabels the namespace for a real run; a dry run changes nothing",
            )
            .with_hint("drop one of them"));
        }
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        let kube = self.kube.clone();
        run_command(&kube, self).await
    }
}

/// The flags of `run` that the hints of the kube-bench library name.
const RUN_FLAGS: run::Flags = run::Flags {
    benchmark: Some("--benchmark"),
    targets: Some("--targets"),
    node: Some("--node"),
    image: Some("--image"),
    keep: Some("--keep"),
    timeout: Some("--timeout"),
    privileged_namespace: Some("--privileged-namespace"),
};

async fn run_command(kube: &KubeArgs, args: RunArgs) -> Result<Outcome> {
    let baseline = args.output.baseline()?;
    let image = harden_cli::images::choose(args.image.as_deref(), job::DEFAULT_IMAGE)?;
    // A client dry run with --node needs nothing from the cluster; without it, it reads the node list.
    let offline = args.dry_run.strategy == DryRun::Client && args.node.is_some();
    let client = if offline {
        None
    } else {
        let connected = harden_kube::client::connect(kube).await;
        Some(connected.map_err(|e| match args.dry_run.strategy {
            DryRun::Client => e.with_hint("a client dry run reads the node list; give --node NAME to print the Job for one node without a cluster"),
            _ => e,
        })?)
    };
    let namespace = match (&client, kube.single_namespace()?) {
        (_, Some(ns)) => ns.to_string(),
        (Some(k), None) => k.context_namespace.clone(),
        (None, None) => "default".to_string(),
    };
    let request = run::Request {
        targets: args.targets,
        node: args.node,
        options: job::Options {
            namespace,
            image,
            benchmark: args.benchmark,
            timeout: args.timeout,
            keep: args.keep,
            run_id: harden_cli::id::short(),
        },
        dry_run: args.dry_run.strategy,
        relabel: args.privileged_namespace,
        field_manager: run::PLUGIN,
        benchmark_from: "--benchmark",
        flags: RUN_FLAGS,
    };
    match run::run(client.map(|k| k.client), &request).await? {
        run::Ran::DryRun => Ok(Outcome::Good),
        run::Ran::Done { report, failures } => {
            let outcome = emit(report, &args.output, baseline.as_ref(), Some("check --targets and --benchmark"))?;
            if failures.is_empty() {
                return Ok(outcome);
            }
            for failure in &failures[1..] {
                harden_cli::output::eline(format!("error: {failure}"));
            }
            Err(failures[0]
                .clone()
                .context(format!("{} kube-bench Job(s) gave no report (the report above lacks them)", failures.len())))
        }
    }
}

fn read_report(path: &str) -> Result<Report> {
    let source = if path == "-" { "stdin".to_string() } else { path.to_string() };
    let text =
        harden_cli::files::read_text(Path::new(path), &source, harden_cli::files::limits::REPORT).map_err(|e| {
            if e.kind == harden_cli::ErrorKind::InvalidInput {
                e.with_hint("give the path of a saved kube-bench report, or - to read stdin")
            } else {
                e
            }
        })?;
    parse::parse(&text, &source)
}

/// Prints the report (or writes its file) and judges it. `no_checks_hint` is said when kube-bench
/// ran no target: the flags that choose them are the command's, not the report's.
fn emit(
    mut report: Report,
    output: &Output,
    baseline: Option<&Baseline>,
    no_checks_hint: Option<&str>,
) -> Result<Outcome> {
    for warning in &report.warnings {
        harden_cli::output::warn(warning);
    }
    // A report of no checks is no pass: nothing was benchmarked (kube-bench ran no target).
    let checked = report.totals.count();
    if let (0, Some(hint)) = (checked, no_checks_hint) {
        harden_cli::output::warn(hint);
    }
    filter::apply(&mut report, &output.status, &output.section)?;
    if let Some(baseline) = baseline {
        for warning in baseline.apply(&mut report, baseline::today()) {
            harden_cli::output::warn(warning);
        }
    }
    let listed = render::listed(&output.status);
    let text = render::render(&report, output.format, &listed, output.fail_on)?;
    match &output.output_file {
        Some(path) => {
            write_file(path, &text, output.overwrite)?;
            // The report is in the file; stdout still says where, and what it holds.
            harden_cli::output::line(written_line(path, &report));
        }
        None => harden_cli::output::print(&text),
    }
    if checked == 0 {
        return Ok(Outcome::Incomplete);
    }
    Ok(output.fail_on.outcome(&report))
}

/// `report written to FILE: 1 PASS, 63 FAIL, 66 WARN, 0 INFO (cis-1.12)`.
fn written_line(path: &Path, report: &Report) -> String {
    let benchmarks = report.benchmarks();
    let benchmarks = if benchmarks.is_empty() { String::new() } else { format!(" ({})", benchmarks.join(", ")) };
    format!("report written to {}: {}{benchmarks}", path.display(), report.totals)
}

/// Writes the report file safely: a new file (or, with --overwrite, a new one renamed over the old),
/// never through a symlink.
fn write_file(path: &Path, text: &str, overwrite: bool) -> Result<()> {
    use harden_cli::files::{Existing, write_new};
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::invalid(format!("--output-file {} does not name a file", path.display())))?;
    let existing = if overwrite { Existing::Replace } else { Existing::Refuse };
    write_new(dir, name, text.as_bytes(), 0o644, existing, "--output-file")
        .map_err(|e| e.context(format!("writing {}", path.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Issue 25: with --output-file nothing was printed on stdout, not even where the report went.
    #[test]
    fn the_written_line_names_the_file_the_totals_and_the_benchmark() {
        let text = include_str!("../../../tests/fixtures/kube-bench/cis-1.10.json");
        let report = parse::parse(text, "cis-1.10.json").unwrap();
        assert_eq!(
            written_line(Path::new("out/report.json"), &report),
            "report written to out/report.json: 1 PASS, 63 FAIL, 66 WARN, 0 INFO (cis-1.10)"
        );
    }

    #[test]
    fn help_is_kubectl_shaped() {
        Cli::command().debug_assert();
        harden_cli::help::check_command_tree(&Cli::command(), &["report", "diff", "explain"]).unwrap();
    }
}
