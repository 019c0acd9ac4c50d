//! Whole-command benchmark of `kubectl netpol-deny`: what the user waits for, from reading the
//! input files to the last byte of output, and the peak memory of the process.
//!
//! `cargo bench -p kubectl-netpol-deny --bench whole` writes synthetic clusters as YAML (1k, 2k and
//! 10k pods, with and without owners; `netpol::synth`), runs the release binary on each (`matrix`
//! in every output format, one `can-reach`), reading its stdout to the end, and prints wall time,
//! peak RSS and output size per run; `matrix` runs once with `--port 80` and once without (every
//! protocol and port: connection sets; the html and svg pictures only without). The figures are compared with `benches/whole-baseline.json`
//! (the previous run kept in the repo); `-- --save` writes this run there.
//!
//! Goals (issue 20): 10,000 pods / 2,000 policies: `matrix` under 2 s and 500 MiB whatever the
//! format, `can-reach` under 0.5 s; memory not growing with the output. The process exits 1 when a
//! goal is missed.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    reason = "a benchmark: it prints its measurements, and fails by panicking"
)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netpol::synth::{Shape, generate_typed, to_yaml};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netpol_deny");

struct Scenario {
    name: &'static str,
    shape: Shape,
}

const SCENARIOS: [Scenario; 6] = [
    Scenario { name: "1k-owned", shape: Shape { pods: 1_000, policies: 200, namespaces: 20, seed: 1, owners: true } },
    Scenario { name: "1k-bare", shape: Shape { pods: 1_000, policies: 200, namespaces: 20, seed: 1, owners: false } },
    Scenario { name: "2k-owned", shape: Shape { pods: 2_000, policies: 400, namespaces: 40, seed: 3, owners: true } },
    Scenario { name: "2k-bare", shape: Shape { pods: 2_000, policies: 400, namespaces: 40, seed: 3, owners: false } },
    Scenario {
        name: "10k-owned",
        shape: Shape { pods: 10_000, policies: 2_000, namespaces: 200, seed: 2, owners: true },
    },
    Scenario {
        name: "10k-bare",
        shape: Shape { pods: 10_000, policies: 2_000, namespaces: 200, seed: 2, owners: false },
    },
];

const FORMATS: [&str; 6] = ["table", "json", "yaml", "csv", "dot", "md"];

/// The pictures draw connection sets only (`--port` is refused with them).
const PICTURES: [&str; 2] = ["html", "svg"];

struct Measured {
    wall: Duration,
    peak_rss_kib: i64,
    output_bytes: u64,
    exit: i32,
}

/// Runs the command, reads its stdout to the end, and takes its peak RSS from wait4's rusage.
fn measure(args: &[&str]) -> Measured {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env_remove("KUBECONFIG")
        .spawn()
        .expect("starting kubectl-netpol_deny");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buffer = vec![0u8; 1 << 20];
    let mut output_bytes = 0u64;
    loop {
        match stdout.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => output_bytes += n as u64,
        }
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid pointers; reaps it (Child is not waited on again).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    std::mem::forget(child);
    let exit = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Measured { wall: start.elapsed(), peak_rss_kib: usage.ru_maxrss, output_bytes, exit }
}

fn input(dir: &Path, scenario: &Scenario) -> PathBuf {
    let path = dir.join(format!("{}.yaml", scenario.name));
    if !path.exists() {
        std::fs::write(&path, to_yaml(&generate_typed(scenario.shape))).expect("writing the synthetic cluster");
    }
    path
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn main() {
    let save = std::env::args().any(|a| a == "--save");
    let only: Option<String> = std::env::args().skip_while(|a| a != "--only").nth(1);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("netpol-bench");
    std::fs::create_dir_all(&dir).expect("bench directory");
    let baseline_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/whole-baseline.json");
    let baseline: BTreeMap<String, serde_json::Value> =
        std::fs::read_to_string(&baseline_path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let mut results: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut missed = Vec::new();
    println!("{:<34} {:>9} {:>10} {:>11} {:>16}", "scenario / command", "wall", "peak RSS", "output", "vs baseline");
    for scenario in &SCENARIOS {
        if only.as_deref().is_some_and(|o| !scenario.name.contains(o)) {
            continue;
        }
        let file = input(&dir, scenario);
        let file_size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        println!(
            "{} ({} pods, {} policies; input {})",
            scenario.name,
            scenario.shape.pods,
            scenario.shape.policies,
            human_bytes(file_size)
        );
        let path = file.display().to_string();
        let mut runs: Vec<(String, Vec<String>)> = FORMATS
            .iter()
            .map(|format| {
                (
                    format!("matrix -o {format}"),
                    ["matrix", "-f", &path, "--port", "80", "-o", format].map(String::from).to_vec(),
                )
            })
            .collect();
        // Without --port: every protocol and port of each pair (connection sets, issue 30).
        runs.extend(FORMATS.iter().chain(&PICTURES).map(|format| {
            (format!("matrix all ports -o {format}"), ["matrix", "-f", &path, "-o", format].map(String::from).to_vec())
        }));
        runs.push((
            "can-reach".to_string(),
            ["can-reach", "-f", &path, "--from", "ns-0/pod-0", "--to", "ns-1/pod-1", "--port", "80"]
                .map(String::from)
                .to_vec(),
        ));
        for (label, args) in runs {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let m = measure(&args);
            let key = format!("{}/{label}", scenario.name);
            let before = baseline.get(&key).and_then(|v| v["wallMs"].as_f64());
            let compare = match before {
                Some(b) if b > 0.0 => format!("{:.2}x time", m.wall.as_secs_f64() * 1000.0 / b),
                _ => "-".to_string(),
            };
            println!(
                "  {:<32} {:>8.2}s {:>7} MiB {:>11} {:>16}{}",
                label,
                m.wall.as_secs_f64(),
                m.peak_rss_kib / 1024,
                human_bytes(m.output_bytes),
                compare,
                if m.exit > 1 { format!("  (exit {})", m.exit) } else { String::new() }
            );
            if scenario.name.starts_with("10k") {
                let (time_goal, memory_goal) = if label == "can-reach" { (0.5, 500 * 1024) } else { (2.0, 500 * 1024) };
                if m.wall.as_secs_f64() > time_goal || m.peak_rss_kib > memory_goal {
                    missed.push(format!("{key}: {:.2}s, {} MiB", m.wall.as_secs_f64(), m.peak_rss_kib / 1024));
                }
            }
            results.insert(
                key,
                serde_json::json!({
                    "wallMs": (m.wall.as_secs_f64() * 1000.0).round(),
                    "peakRssMiB": m.peak_rss_kib / 1024,
                    "outputBytes": m.output_bytes,
                    "inputBytes": file_size,
                }),
            );
        }
    }
    let text = serde_json::to_string_pretty(&results).unwrap_or_default() + "\n";
    std::fs::write(dir.join("last.json"), &text).expect("writing last.json");
    if save {
        std::fs::write(&baseline_path, &text).expect("writing the baseline");
        println!("saved as {}", baseline_path.display());
    }
    if missed.is_empty() {
        println!("goals met (10k pods: matrix < 2 s and < 500 MiB in every format, can-reach < 0.5 s)");
    } else {
        println!("goals NOT met:\n  {}", missed.join("\n  "));
        std::process::exit(1);
    }
}
