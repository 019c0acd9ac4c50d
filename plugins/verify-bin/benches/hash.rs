//! Hashing a 512 MiB file: `kubectl verify-bin` against coreutils `sha256sum` (and sha512 against
//! `sha512sum`), alternating in the same run, from a warm page cache. Prints the median times and
//! the ratio verify-bin / coreutils; fails when the sha256 ratio is above the 1.05 target.
//!
//! Run: `CARGO_TARGET_DIR=/tmp/verify-bin-bench cargo bench -p kubectl-verify-bin --bench hash`
//! (the plugin binary is built with the bench profile). `VERIFY_BIN_BENCH_MIB` changes the size,
//! `VERIFY_BIN_BENCH_ROUNDS` the number of alternating rounds (default 5).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    reason = "a benchmark: it prints its measurements, and fails by panicking"
)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const TARGET_RATIO: f64 = 1.05;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Incompressible, reproducible contents (xorshift64*), written a MiB at a time.
fn write_file(path: &Path, mib: usize) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        out.write_all(&chunk)?;
    }
    out.flush()
}

fn timed(command: &mut Command) -> (Duration, String) {
    let start = Instant::now();
    let output = command.stderr(Stdio::inherit()).output().unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    let elapsed = start.elapsed();
    assert!(output.status.success(), "{command:?} failed: {}", output.status);
    (elapsed, String::from_utf8_lossy(&output.stdout).into_owned())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Alternates the two commands `rounds` times and returns their median times.
fn compare(file: &Path, tool: &str, algorithm: &str, rounds: usize) -> (Duration, Duration) {
    let plugin = env!("CARGO_BIN_EXE_kubectl-verify_bin");
    let (_, sum_out) = timed(Command::new(tool).arg(file));
    let expected = sum_out.split_whitespace().next().expect("a digest").to_string();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (t, out) = timed(Command::new(tool).arg(file));
        assert!(out.starts_with(&expected));
        theirs.push(t);
        let (t, out) = timed(Command::new(plugin).arg(file).args(["--checksum", &expected, "--algorithm", algorithm]));
        assert!(out.contains(" OK"), "verify-bin disagrees with {tool}: {out}");
        ours.push(t);
    }
    (median(ours), median(theirs))
}

fn main() -> ExitCode {
    let mib = env_number("VERIFY_BIN_BENCH_MIB", 512);
    let rounds = env_number("VERIFY_BIN_BENCH_ROUNDS", 5).max(1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("blob");
    write_file(&file, mib).expect("writing the test file");
    println!("hashing a {mib} MiB file, median of {rounds} alternating rounds (warm page cache)");

    let mut met = true;
    for (tool, algorithm, gate) in [("sha256sum", "sha256", true), ("sha512sum", "sha512", false)] {
        let (ours, theirs) = compare(&file, tool, algorithm, rounds);
        let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
        let speed = |d: Duration| mib as f64 / d.as_secs_f64();
        println!(
            "{algorithm}: verify-bin {:>8.3}s ({:>6.0} MiB/s)   {tool} {:>8.3}s ({:>6.0} MiB/s)   ratio {ratio:.3}{}",
            ours.as_secs_f64(),
            speed(ours),
            theirs.as_secs_f64(),
            speed(theirs),
            if gate { format!(" (target <= {TARGET_RATIO})") } else { String::new() }
        );
        if gate && ratio > TARGET_RATIO {
            met = false;
        }
    }
    if met {
        println!("target met");
        ExitCode::SUCCESS
    } else {
        println!("target NOT met: verify-bin is more than {TARGET_RATIO}x the time of sha256sum");
        ExitCode::FAILURE
    }
}
