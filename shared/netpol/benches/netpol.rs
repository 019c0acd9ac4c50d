//! Benchmark of the NetworkPolicy engine on synthetic clusters (`netpol::synth`).
//!
//! `cargo bench -p harden-netpol --bench netpol` runs each scenario in a child process of its own,
//! so that the reported peak memory (VmHWM) belongs to that scenario alone:
//! - 1,000 pods / 200 policies / 20 namespaces: full matrix on one port;
//! - 10,000 pods / 2,000 policies / 200 namespaces: full matrix on one port;
//! - the same with 100 ClusterNetworkPolicies (`synth::cluster_policies_yaml`): full matrix;
//! - the two largest clusters: one `can-reach` query (model already built).
//!
//! Times are the best of a few runs, wall and CPU (the comparison with and without cluster policies
//! uses CPU time, which other processes on the machine do not inflate); "build" is compiling the
//! objects into the indexed, grouped model, "matrix" is the grouped pod-to-pod matrix. The process exits 1 if the largest matrix
//! (build + matrix) takes 2 s or more, the target of issue 3, or if the 100 ClusterNetworkPolicies
//! make it more than 10% slower than the same cluster without them (issue 28).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    reason = "a benchmark: it prints its measurements, and fails by panicking"
)]

use std::process::Command;
use std::time::{Duration, Instant};

use netpol::synth::{Shape, generate_with_cluster_policies};
use netpol::{Cluster, Endpoint, PortQuery};

/// Name, shape, and how many ClusterNetworkPolicies are added.
const SCENARIOS: [(&str, Shape, usize); 3] = [
    ("1k pods / 200 policies / 20 ns", Shape { pods: 1_000, policies: 200, namespaces: 20, seed: 1, owners: true }, 0),
    (
        "10k pods / 2k policies / 200 ns",
        Shape { pods: 10_000, policies: 2_000, namespaces: 200, seed: 2, owners: true },
        0,
    ),
    (
        "10k pods / 2k policies / 200 ns + 100 cluster policies",
        Shape { pods: 10_000, policies: 2_000, namespaces: 200, seed: 2, owners: true },
        100,
    ),
];
/// The scenario without and with the ClusterNetworkPolicies, compared.
const TIER_PAIR: (usize, usize) = (1, 2);
const TIER_OVERHEAD: f64 = 1.10;
const TARGET: Duration = Duration::from_secs(2);
const RUNS: usize = 3;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU time of this thread (`/proc/thread-self/schedstat`, nanoseconds): unlike wall time, it does
/// not grow when other processes share the cores.
fn cpu_time() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// The best wall time and the best CPU time of a few runs, and the value.
fn best<T>(mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let (mut wall, mut cpu) = (Duration::MAX, Duration::MAX);
    let mut value = None;
    for _ in 0..RUNS {
        let (start, start_cpu) = (Instant::now(), cpu_time());
        let v = f();
        wall = wall.min(start.elapsed());
        cpu = cpu.min(cpu_time().saturating_sub(start_cpu));
        value = Some(v);
    }
    (wall, cpu, value.expect("at least one run"))
}

/// Runs one scenario in this process and prints one line of results; `build + matrix` in
/// microseconds on the last line, for the parent to compare.
fn scenario(index: usize, single_query: bool) -> bool {
    let (name, shape, cluster_policies) = SCENARIOS[index];
    let objects = generate_with_cluster_policies(shape, cluster_policies);
    let (build, build_cpu, cluster) = best(|| Cluster::build(&objects).expect("synthetic objects are valid"));
    let port = PortQuery::tcp(80);
    if single_query {
        let last = cluster.pod_ids().last().expect("pods");
        let (from, to) = (Endpoint::Pod(netpol::PodId(0)), Endpoint::Pod(last));
        let (query, _, verdict) = best(|| cluster.check(from, to, &port).expect("valid query"));
        println!(
            "{name}: one can-reach {:.1} µs (allowed: {}), model build {:.0} ms, peak RSS {} MiB",
            query.as_secs_f64() * 1e6,
            verdict.allowed,
            build.as_secs_f64() * 1e3,
            peak_rss_kib() / 1024
        );
        return true;
    }
    let groups = cluster.groups_of(cluster.pod_ids());
    let (matrix, matrix_cpu, m) = best(|| cluster.matrix(&groups, &port));
    let allowed = (0..m.groups.len())
        .flat_map(|r| (0..m.groups.len()).map(move |c| (r, c)))
        .filter(|&(r, c)| m.cell(r, c) == netpol::Cell::Allowed)
        .count();
    let uncertain = (0..m.groups.len())
        .flat_map(|r| (0..m.groups.len()).map(move |c| (r, c)))
        .filter(|&(r, c)| !m.certain(r, c))
        .count();
    let total = build + matrix;
    let total_cpu = build_cpu + matrix_cpu;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name}: {} groups; build {:.0} ms + matrix {:.0} ms = {:.0} ms (CPU {:.0} + {:.0} = {:.0} ms); \
         {:.1}% of group pairs allowed ({uncertain} uncertain); peak RSS {} MiB",
        cluster.groups.len(),
        ms(build),
        ms(matrix),
        ms(total),
        ms(build_cpu),
        ms(matrix_cpu),
        ms(total_cpu),
        100.0 * allowed as f64 / (m.groups.len() * m.groups.len()) as f64,
        peak_rss_kib() / 1024
    );
    println!("total-us {}", total_cpu.as_micros());
    index + 1 < SCENARIOS.len() || total < TARGET
}

/// `--write DIR`: the largest cluster as YAML without and with its cluster policies
/// (`10k.yaml`, `10k-cluster-policies.yaml`), for timing whole commands on the same input.
fn write_inputs(dir: &std::path::Path) {
    let (_, shape, cluster_policies) = SCENARIOS[TIER_PAIR.1];
    let base = netpol::synth::to_yaml(&netpol::synth::generate_typed(shape));
    let tiers = netpol::synth::cluster_policies_yaml(cluster_policies, shape.namespaces, shape.seed);
    std::fs::create_dir_all(dir).expect("the directory");
    std::fs::write(dir.join("10k.yaml"), &base).expect("writing 10k.yaml");
    std::fs::write(dir.join("10k-cluster-policies.yaml"), base + &tiers).expect("writing 10k-cluster-policies.yaml");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--write") {
        write_inputs(std::path::Path::new(&args[pos + 1]));
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--scenario") {
        let index: usize = args[pos + 1].parse().expect("scenario index");
        let single = args.iter().any(|a| a == "--single");
        std::process::exit(if scenario(index, single) { 0 } else { 1 });
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut ok = true;
    let mut runs: Vec<Vec<String>> = (0..SCENARIOS.len()).map(|i| vec!["--scenario".into(), i.to_string()]).collect();
    for single in [TIER_PAIR.0, TIER_PAIR.1] {
        runs.push(vec!["--scenario".into(), single.to_string(), "--single".into()]);
    }
    let mut totals = vec![0u128; SCENARIOS.len()];
    for run in runs {
        let output = Command::new(&exe).args(&run).output().expect("running a scenario");
        let text = String::from_utf8_lossy(&output.stdout);
        for line in text.lines() {
            match line.strip_prefix("total-us ") {
                Some(us) => totals[run[1].parse::<usize>().expect("index")] = us.parse().unwrap_or(0),
                None => println!("{line}"),
            }
        }
        ok &= output.status.success();
    }
    if !ok {
        eprintln!("the largest matrix took {} s or more", TARGET.as_secs());
        std::process::exit(1);
    }
    let (without, with) = (totals[TIER_PAIR.0] as f64, totals[TIER_PAIR.1] as f64);
    println!(
        "100 cluster policies: build + matrix {:+.1}% of CPU time ({:.0} ms -> {:.0} ms)",
        100.0 * (with / without - 1.0),
        without / 1e3,
        with / 1e3
    );
    if with > without * TIER_OVERHEAD {
        eprintln!("100 ClusterNetworkPolicies make build + matrix more than 10% slower");
        std::process::exit(1);
    }
}
