//! `cis-bench run`: kube-bench as a Job (one per node for the node target) on the cluster, waited
//! for, read, reported and deleted; the Job and the parser are `harden_kube_bench`'s.

use std::time::Duration;

use clap::Args;
use harden_cli::error::{Error, ExitStyle, Outcome, Result};
use harden_kube::flags::{DryRun, KubeArgs};
use harden_kube_bench::{job, run};

use crate::output::{Output, emit};

const RUNARGS_EXAMPLES: &str = "Examples:\n  # the seed's job-master.yaml: the control-plane checks, on a control-plane node\n  kubectl cis-bench run --targets master\n  # the node checks on every node, failing only on FAIL\n  kubectl cis-bench run --targets node --fail-on fail\n  # the Jobs, as YAML, without running them\n  kubectl cis-bench run --dry-run=client";

#[derive(Args)]
#[command(after_help = RUNARGS_EXAMPLES)]
#[command(mut_arg("dry_run", |a| a.help("Only print the Jobs (client: reads the node list unless --node is given), or have the server validate them (server); nothing runs")))]
pub struct RunArgs {
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
