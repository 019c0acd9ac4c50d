//! Whole-command benchmark of `kubectl block-metadata status` on many unprotected pods (issue 32:
//! the text output took 71 s for 46,000 pods and did not finish in 600 s for 450,000, while `-o
//! json` took 1.7 s). `cargo bench -p kubectl-block-metadata --bench status` writes the pods once
//! (46,000 and 450,000, in one namespace, no policy: each pod is a row of the same table), runs the release binary offline with `-f` in
//! text and JSON, and prints wall time and peak RSS. Goal: the text output costs about what the JSON
//! does (at most twice its time plus a second); the process exits 1 when it does not.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    reason = "a benchmark: it prints its measurements, and fails by panicking"
)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-block_metadata");

/// Runs the command, reads its stdout to the end, and takes its peak RSS from wait4's rusage.
fn measure(args: &[&str]) -> (Duration, i64, i32) {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env_remove("KUBECONFIG")
        .spawn()
        .expect("starting kubectl-block_metadata");
    let mut sink = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().expect("stdout"), &mut sink).ok();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid pointers; reaps it (Child is not waited on again).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    std::mem::forget(child);
    let exit = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    (start.elapsed(), usage.ru_maxrss, exit)
}

fn main() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("block-metadata-bench");
    std::fs::create_dir_all(&dir).expect("bench directory");
    let mut missed = Vec::new();
    println!("{:<28} {:>9} {:>10} {:>5}", "pods / output", "wall", "peak RSS", "exit");
    for pods in [46_000usize, 450_000] {
        let path = dir.join(format!("pods-{pods}-one-namespace.yaml"));
        if !path.exists() {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("bench input"));
            for i in 0..pods {
                write!(
                    out,
                    "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: pod-{i}, namespace: shop, labels: {{app: a{i}}}}}\n\
                     spec: {{containers: [{{name: c, image: busybox}}]}}\n"
                )
                .expect("writing the bench input");
            }
            out.flush().expect("writing the bench input");
        }
        let file = path.display().to_string();
        let mut times = Vec::new();
        for format in ["table", "json"] {
            let (wall, peak, exit) = measure(&["status", "-f", &file, "--cloud", "aws", "-o", format]);
            println!(
                "{:<28} {:>8.2}s {:>6} MiB {:>5}",
                format!("{pods} / {format}"),
                wall.as_secs_f64(),
                peak / 1024,
                exit
            );
            times.push(wall.as_secs_f64());
        }
        if times[0] > 2.0 * times[1] + 1.0 {
            missed.push(format!("{pods} pods: text {:.2}s, json {:.2}s", times[0], times[1]));
        }
    }
    if missed.is_empty() {
        println!("goal met (the text output within twice the JSON's time plus a second)");
    } else {
        println!("goal NOT met:\n  {}", missed.join("\n  "));
        std::process::exit(1);
    }
}
