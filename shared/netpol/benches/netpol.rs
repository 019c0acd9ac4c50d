//! Benchmark of the NetworkPolicy engine on synthetic clusters (`netpol::synth`).
//!
//! `cargo bench -p harden-netpol --bench netpol` runs each scenario in a child process of its own,
//! so that the reported peak memory (VmHWM) belongs to that scenario alone:
//! - 1,000 pods / 200 policies / 20 namespaces: full matrix on one port;
//! - 10,000 pods / 2,000 policies / 200 namespaces: full matrix on one port;
//! - the same largest cluster: one `can-reach` query (model already built).
//!
//! Times are the best of a few runs; "build" is compiling the objects into the indexed, grouped
//! model, "matrix" is the grouped pod-to-pod matrix. The process exits 1 if the largest matrix
//! (build + matrix) takes 2 s or more, the target of issue 3.

use std::process::Command;
use std::time::{Duration, Instant};

use netpol::synth::{Shape, generate};
use netpol::{Cluster, Endpoint, PortQuery};

const SCENARIOS: [(&str, Shape); 2] = [
    ("1k pods / 200 policies / 20 ns", Shape { pods: 1_000, policies: 200, namespaces: 20, seed: 1, owners: true }),
    (
        "10k pods / 2k policies / 200 ns",
        Shape { pods: 10_000, policies: 2_000, namespaces: 200, seed: 2, owners: true },
    ),
];
const TARGET: Duration = Duration::from_secs(2);
const RUNS: usize = 3;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut value = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed());
        value = Some(v);
    }
    (best, value.expect("at least one run"))
}

/// Runs one scenario in this process and prints one line of results.
fn scenario(index: usize, single_query: bool) -> bool {
    let (name, shape) = SCENARIOS[index];
    let objects = generate(shape);
    let (build, cluster) = best(|| Cluster::build(&objects).expect("synthetic objects are valid"));
    let port = PortQuery::tcp(80);
    if single_query {
        let last = cluster.pod_ids().last().expect("pods");
        let (from, to) = (Endpoint::Pod(netpol::PodId(0)), Endpoint::Pod(last));
        let (query, verdict) = best(|| cluster.check(from, to, &port).expect("valid query"));
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
    let (matrix, m) = best(|| cluster.matrix(&groups, &port));
    let allowed = (0..m.groups.len())
        .flat_map(|r| (0..m.groups.len()).map(move |c| (r, c)))
        .filter(|&(r, c)| m.cell(r, c) == netpol::Cell::Allowed)
        .count();
    let total = build + matrix;
    println!(
        "{name}: {} groups; build {:.0} ms + matrix {:.0} ms = {:.0} ms; {:.1}% of group pairs allowed; peak RSS {} MiB",
        cluster.groups.len(),
        build.as_secs_f64() * 1e3,
        matrix.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        100.0 * allowed as f64 / (m.groups.len() * m.groups.len()) as f64,
        peak_rss_kib() / 1024
    );
    index + 1 < SCENARIOS.len() || total < TARGET
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--scenario") {
        let index: usize = args[pos + 1].parse().expect("scenario index");
        let single = args.iter().any(|a| a == "--single");
        std::process::exit(if scenario(index, single) { 0 } else { 1 });
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut ok = true;
    let mut runs: Vec<Vec<String>> = (0..SCENARIOS.len()).map(|i| vec!["--scenario".into(), i.to_string()]).collect();
    runs.push(vec!["--scenario".into(), (SCENARIOS.len() - 1).to_string(), "--single".into()]);
    for run in runs {
        let status = Command::new(&exe).args(&run).status().expect("running a scenario");
        ok &= status.success();
    }
    if !ok {
        eprintln!("the largest matrix took {} s or more", TARGET.as_secs());
        std::process::exit(1);
    }
}
