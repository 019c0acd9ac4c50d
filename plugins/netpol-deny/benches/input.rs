//! Whole-command benchmark of what `kubectl netpol-deny` reads (issue 32): hostile and huge `-f`
//! input, from the start of the process to its exit, with its peak memory.
//!
//! `cargo bench -p kubectl-netpol-deny --bench input` writes, once, into the bench directory:
//! 488 KiB of nested flow mappings (which took 105 s of CPU before being refused), a 100 MB pod list
//! as `kubectl get pods -o yaml` writes it and the same as `-o json`, and three sparse 90 MiB files
//! (270 MiB together, over the 256 MiB budget). It runs the release binary on each and prints wall
//! time, peak RSS and the exit code. Goals: the nested text and the files over the budget are refused
//! before parsing in under 1 s and 64 MiB; a 100 MB list is answered within 1 GiB. The process exits
//! 1 when a goal is missed.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    reason = "a benchmark: it prints its measurements, and fails by panicking"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-netpol_deny");

struct Measured {
    wall: Duration,
    peak_rss_kib: i64,
    exit: i32,
    stderr: String,
}

/// Runs the command to its end and takes its peak RSS from wait4's rusage.
fn measure(args: &[&str]) -> Measured {
    let start = Instant::now();
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("KUBECONFIG")
        .spawn()
        .expect("starting kubectl-netpol_deny");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid pointers; reaps it (Child is not waited on again).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut child = child;
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut stderr).ok();
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    std::mem::forget(child);
    let exit = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Measured { wall: start.elapsed(), peak_rss_kib: usage.ru_maxrss, exit, stderr }
}

fn write_once(path: &Path, write: impl FnOnce(&mut dyn Write)) -> PathBuf {
    if !path.exists() {
        let temp = path.with_extension("tmp");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temp).expect("bench input"));
        write(&mut file);
        file.flush().expect("writing the bench input");
        std::fs::rename(&temp, path).expect("bench input");
    }
    path.to_path_buf()
}

/// About 100 MB of running pods of 50 ReplicaSets in 50 namespaces, each pod with its own labels.
fn pods(out: &mut dyn Write, json: bool) {
    const TARGET: usize = 100_000_000;
    let mut written = 0;
    let mut i = 0;
    if json {
        write!(out, "{{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n").unwrap();
    } else {
        write!(out, "apiVersion: v1\nitems:\n").unwrap();
    }
    while written < TARGET {
        let (n, a, b) = (i % 50, (i / 250) % 250, i % 250);
        let pod = if json {
            format!(
                "{}    {{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {{\"labels\": {{\"app\": \"web-{i}\", \"tier\": \"frontend\"}},\n      \
                 \"name\": \"web-{i}\", \"namespace\": \"ns-{n}\", \"ownerReferences\": [{{\"apiVersion\": \"apps/v1\", \"controller\": true,\n      \
                 \"kind\": \"ReplicaSet\", \"name\": \"web-rs-{n}\", \"uid\": \"0b8f6c3e-2c1a-4b0e-9f6e-1d2c3b4a5f{n:02}\"}}]}},\n      \
                 \"spec\": {{\"containers\": [{{\"image\": \"registry.example/web:1.2.3\", \"name\": \"web\", \"ports\": [{{\"containerPort\": 8080,\n      \
                 \"name\": \"http\", \"protocol\": \"TCP\"}}], \"resources\": {{\"limits\": {{\"cpu\": \"500m\", \"memory\": \"256Mi\"}}}}}}]}},\n      \
                 \"status\": {{\"phase\": \"Running\", \"podIP\": \"10.1.{a}.{b}\"}}}}",
                if i == 0 { "" } else { ",\n" }
            )
        } else {
            format!(
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    labels:\n      app: web-{i}\n      tier: frontend\n    name: web-{i}\n    \
                 namespace: ns-{n}\n    ownerReferences:\n    - apiVersion: apps/v1\n      controller: true\n      kind: ReplicaSet\n      \
                 name: web-rs-{n}\n      uid: 0b8f6c3e-2c1a-4b0e-9f6e-1d2c3b4a5f{n:02}\n  spec:\n    containers:\n    - image: registry.example/web:1.2.3\n      \
                 name: web\n      ports:\n      - containerPort: 8080\n        name: http\n        protocol: TCP\n      resources:\n        \
                 limits: {{cpu: 500m, memory: 256Mi}}\n  status:\n    phase: Running\n    podIP: 10.1.{a}.{b}\n"
            )
        };
        out.write_all(pod.as_bytes()).unwrap();
        written += pod.len();
        i += 1;
    }
    if json {
        write!(out, "\n  ],\n  \"kind\": \"List\",\n  \"metadata\": {{\"resourceVersion\": \"\"}}\n}}\n").unwrap();
    } else {
        write!(out, "kind: List\nmetadata:\n  resourceVersion: \"\"\n").unwrap();
    }
}

fn main() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("netpol-input-bench");
    std::fs::create_dir_all(&dir).expect("bench directory");
    let nested = write_once(&dir.join("nested.yaml"), |out| {
        write!(out, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}", "{a: ".repeat(488 * 1024 / 4)).unwrap()
    });
    let yaml = write_once(&dir.join("pods-100mb.yaml"), |out| pods(out, false));
    let json = write_once(&dir.join("pods-100mb.json"), |out| pods(out, true));
    let big: Vec<String> = (0..3)
        .map(|i| {
            let path = dir.join(format!("sparse-{i}.yaml"));
            std::fs::File::create(&path).expect("sparse file").set_len(90 << 20).expect("sparse file");
            path.display().to_string()
        })
        .collect();
    let path = |p: &Path| p.display().to_string();
    let (nested, yaml, json) = (path(&nested), path(&yaml), path(&json));
    let pair = ["--from", "ns-1/web-1", "--to", "ns-2/web-2", "--port", "8080"];
    let runs: Vec<(&str, Vec<&str>, f64, i64, i32)> = vec![
        ("nested flow mappings, 488 KiB", vec!["matrix", "-f", &nested], 1.0, 64, 2),
        ("3 files, 270 MiB together", vec!["matrix", "-f", &big[0], "-f", &big[1], "-f", &big[2]], 1.0, 64, 2),
        ("pod list, 100 MB YAML", [&["can-reach", "-f", &yaml][..], &pair].concat(), f64::INFINITY, 1024, 0),
        ("pod list, 100 MB JSON", [&["can-reach", "-f", &json][..], &pair].concat(), f64::INFINITY, 1024, 0),
    ];
    println!("{:<34} {:>9} {:>10} {:>5}", "input", "wall", "peak RSS", "exit");
    let mut missed = Vec::new();
    for (label, args, time_goal, memory_goal_mib, exit_goal) in runs {
        let m = measure(&args);
        println!("{label:<34} {:>8.2}s {:>6} MiB {:>5}", m.wall.as_secs_f64(), m.peak_rss_kib / 1024, m.exit);
        if m.exit != exit_goal || m.wall.as_secs_f64() > time_goal || m.peak_rss_kib / 1024 > memory_goal_mib {
            missed.push(format!(
                "{label}: exit {}, {:.2}s, {} MiB: {}",
                m.exit,
                m.wall.as_secs_f64(),
                m.peak_rss_kib / 1024,
                m.stderr.trim()
            ));
        }
    }
    if missed.is_empty() {
        println!("goals met (refusals before parsing under 1 s and 64 MiB; 100 MB lists within 1 GiB)");
    } else {
        println!("goals NOT met:\n  {}", missed.join("\n  "));
        std::process::exit(1);
    }
}
