//! Whole-command benchmark of the live reads (issue 31): a real kube-apiserver + etcd (the tests'
//! control plane) loaded with a synthetic cluster, then `netpol-deny matrix` live (`-A`, and `-n`
//! over every namespace) beside `matrix -f` of the same objects and beside `kubectl get
//! pods,namespaces,networkpolicies -A -o json`: wall time, peak RSS (of the whole process, by
//! /usr/bin/time), the requests each sent (from `-v=6`) and what it wrote. Every command writes
//! into a pipe whose reader keeps nothing, as `| cat > /dev/null` would.
//!
//! `cargo build --release --bins && cargo bench -p harden-tests --bench live` (10,000 pods, 2,000
//! NetworkPolicies, 200 namespaces; `-- --pods N` for another size, policies N/5, namespaces N/50;
//! `-- --runs N` runs of each command, median shown; `-- --plugin PATH` another build of
//! kubectl-netpol_deny, e.g. main's, for figures before a change). Built with `--profile dev`, it runs the
//! debug binaries (`cargo build --bins`).
//!
//! Loading: the objects (`netpol::synth`, bare pods) are created through the API, 32 requests at
//! once; the `-f` input is kubectl's own JSON of the loaded objects, so both read the same.
//!
//! `-- --hold`: load, print the kubeconfig's path, and keep the control plane up until the file it
//! names is removed (to profile one command by hand against the loaded server).
//!
//! Goals (issue 31): live `matrix -A` peak RSS within 1.5x of `matrix -f`, its wall time under
//! 0.2 of kubectl's; `matrix -n` over every namespace within 1.2x of `-A`; no request per
//! namespace where a list would do. The process exits 1 when a goal is missed.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    reason = "a benchmark: it prints its measurements, and fails by panicking"
)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use harden_tests::ControlPlane;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, PostParams};
use netpol::synth::{Shape, generate_typed};

struct Measured {
    wall: Duration,
    /// Bytes the command wrote on stdout.
    bytes: usize,
    peak_rss_kib: i64,
    exit: i32,
    requests: usize,
    stdout: Vec<u8>,
}

/// Runs the command, reads its stdout to the end (kept when `keep`), its stderr into a file for the requests,
/// and takes its peak RSS from /usr/bin/time (GNU time's %M: the child's rusage).
fn measure(program: &Path, args: &[String], kubeconfig: &Path, log: &Path, keep: bool) -> Measured {
    let stderr = std::fs::File::create(log).expect("request log");
    let peak = log.with_extension("peak");
    let start = Instant::now();
    // Through /usr/bin/time: a child of this process starts with this process's peak RSS (the
    // kernel keeps the high-water mark across fork and exec), so the command's own peak is read by
    // a small parent of its own.
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&peak)
        .arg(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    // Read as a pipe's reader that keeps nothing would (`| cat > /dev/null`), unless asked to
    // keep it: growing a buffer for hundreds of megabytes of grid is this program's work, not
    // the command's, and it made the command wait on a full pipe.
    let mut stdout = Vec::new();
    let mut bytes = 0;
    let mut pipe = child.stdout.take().expect("stdout");
    if keep {
        pipe.read_to_end(&mut stdout).expect("reading stdout");
        bytes = stdout.len();
    } else {
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            match pipe.read(&mut chunk).expect("reading stdout") {
                0 => break,
                n => bytes += n,
            }
        }
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid pointers; reaps it (Child is not waited on again).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    std::mem::forget(child);
    let wall = start.elapsed();
    let exit = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    let peak_rss_kib = std::fs::read_to_string(&peak)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .expect("/usr/bin/time's peak RSS");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    // kubectl: "GET https://... 200 OK in N milliseconds"; the plugins: "GET /api/... 200 OK in ...".
    let requests = text
        .lines()
        .filter(|l| ["GET", "POST", "PUT", "PATCH", "DELETE"].iter().any(|m| l.contains(&format!(" {m} "))))
        .filter(|l| l.contains(" milliseconds"))
        .count();
    Measured { wall, bytes, peak_rss_kib, exit, requests, stdout }
}

fn arg(name: &str) -> Option<usize> {
    std::env::args().skip_while(|a| a != name).nth(1).and_then(|v| v.parse().ok())
}

async fn load(kubeconfig: &Path, shape: Shape) -> Duration {
    let start = Instant::now();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig"),
        &Default::default(),
    )
    .await
    .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let objects = generate_typed(shape);
    let post = PostParams::default();
    futures::stream::iter(objects.namespaces.into_iter().map(|mut ns: Namespace| {
        let api = Api::<Namespace>::all(client.clone());
        let post = post.clone();
        ns.status = None;
        async move { api.create(&post, &ns).await.expect("creating a namespace") }
    }))
    .buffer_unordered(32)
    .collect::<Vec<_>>()
    .await;
    futures::stream::iter(objects.pods.into_iter().map(|mut pod: Pod| {
        let api = Api::<Pod>::namespaced(client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
        let post = post.clone();
        pod.status = None;
        async move {
            api.create(&post, &pod).await.expect("creating a pod");
        }
    }))
    .buffer_unordered(32)
    .collect::<Vec<_>>()
    .await;
    futures::stream::iter(objects.policies.into_iter().map(|policy: NetworkPolicy| {
        let api =
            Api::<NetworkPolicy>::namespaced(client.clone(), policy.metadata.namespace.as_deref().unwrap_or("default"));
        let post = post.clone();
        async move {
            api.create(&post, &policy).await.expect("creating a policy");
        }
    }))
    .buffer_unordered(32)
    .collect::<Vec<_>>()
    .await;
    start.elapsed()
}

fn median(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by_key(|m| m.wall);
    let peak = runs.iter().map(|m| m.peak_rss_kib).max().unwrap_or(0);
    let mut middle = runs.swap_remove(runs.len() / 2);
    middle.peak_rss_kib = peak;
    middle
}

fn main() {
    let pods = arg("--pods").unwrap_or(10_000);
    let runs = arg("--runs").unwrap_or(3).max(1);
    let shape = Shape { pods, policies: pods / 5, namespaces: (pods / 50).max(1), seed: 2, owners: false };
    let work = tempfile::Builder::new().prefix("kube-harden-bench-").tempdir().expect("temporary directory");
    let plane = ControlPlane::start(&work.path().join("plane"), true).expect("starting the control plane");
    let kubeconfig = plane.admin_kubeconfig.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let loaded = runtime.block_on(load(&kubeconfig, shape));
    println!(
        "loaded {} pods, {} NetworkPolicies, {} namespaces through the API (32 at once) in {:.1} s",
        shape.pods,
        shape.policies,
        shape.namespaces,
        loaded.as_secs_f64()
    );

    if std::env::args().any(|a| a == "--hold") {
        let hold = work.path().join("hold");
        std::fs::write(&hold, "remove this file to stop the control plane\n").expect("hold file");
        println!("holding: KUBECONFIG={} (rm {} to stop)", kubeconfig.display(), hold.display());
        while hold.exists() {
            std::thread::sleep(Duration::from_secs(1));
        }
        plane.kill();
        return;
    }

    let kubectl = Path::new("kubectl").to_path_buf();
    let kubectl = which(&kubectl);
    // `-- --plugin PATH`: another build of kubectl-netpol_deny (main's, for the numbers before).
    let plugin = match std::env::args().skip_while(|a| a != "--plugin").nth(1) {
        Some(path) => std::path::PathBuf::from(path),
        None => harden_tests::plugin_path("netpol-deny"),
    };
    let log = work.path().join("stderr.log");
    let dump = work.path().join("cluster.json");
    let namespaces: Vec<String> = (0..shape.namespaces).map(|i| format!("ns-{i}")).collect();
    let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();

    let kubectl_args = strings(&["get", "pods,namespaces,networkpolicies", "-A", "-o", "json", "-v=6"]);
    // kubectl's JSON for `-f`, from a run of its own (not measured: every measured run reads its
    // output the same way, and keeps none of it).
    let dump_run = measure(&kubectl, &kubectl_args, &kubeconfig, &log, true);
    std::fs::write(&dump, &dump_run.stdout).expect("writing kubectl's JSON");
    let kubectl_runs: Vec<Measured> =
        (0..runs).map(|_| measure(&kubectl, &kubectl_args, &kubeconfig, &log, false)).collect();
    let commands: Vec<(&str, Vec<String>)> = vec![
        ("matrix -A (live)", strings(&["matrix", "-A", "--port", "80", "-v=6"])),
        ("matrix -n every namespace (live)", {
            let mut a = strings(&["matrix", "-n"]);
            a.push(namespaces.join(","));
            a.extend(strings(&["--port", "80", "-v=6"]));
            a
        }),
        ("matrix -A -f (kubectl's JSON)", {
            let mut a = strings(&["matrix", "-A", "--port", "80", "-f"]);
            a.push(dump.display().to_string());
            a
        }),
    ];
    let mut results = vec![("kubectl get pods,namespaces,networkpolicies -A -o json", median(kubectl_runs))];
    for (name, args) in commands {
        let measured: Vec<Measured> = (0..runs).map(|_| measure(&plugin, &args, &kubeconfig, &log, false)).collect();
        results.push((name, median(measured)));
    }
    println!("{:<56} {:>9} {:>11} {:>9} {:>11} {:>5}", "command", "wall", "peak RSS", "requests", "stdout", "exit");
    for (name, m) in &results {
        println!(
            "{name:<56} {:>8.3}s {:>7.1} MiB {:>9} {:>7.1} MiB {:>5}",
            m.wall.as_secs_f64(),
            m.peak_rss_kib as f64 / 1024.0,
            m.requests,
            m.bytes as f64 / (1024.0 * 1024.0),
            m.exit
        );
    }
    let (kubectl, live, every, files) = (&results[0].1, &results[1].1, &results[2].1, &results[3].1);
    let memory = live.peak_rss_kib as f64 / files.peak_rss_kib as f64;
    let speed = live.wall.as_secs_f64() / kubectl.wall.as_secs_f64();
    let scoped = every.wall.as_secs_f64() / live.wall.as_secs_f64();
    println!("live -A peak RSS / -f peak RSS: {memory:.2} (goal <= 1.5)");
    println!("live -A wall / kubectl wall: {speed:.2} (goal < 0.2)");
    println!(
        "-n every namespace wall / -A wall: {scoped:.2} (goal <= 1.2); requests {} vs {}",
        every.requests, live.requests
    );
    let mut missed = Vec::new();
    if results.iter().any(|(_, m)| m.exit != 0) {
        missed.push("a command failed");
    }
    if memory > 1.5 {
        missed.push("live memory");
    }
    if speed >= 0.2 {
        missed.push("live time against kubectl");
    }
    if scoped > 1.2 {
        missed.push("-n against -A");
    }
    plane.kill();
    // The control plane's files (etcd's data: about 160 MB at 10,000 pods) go now: exit skips drops.
    drop(work);
    if !missed.is_empty() {
        eprintln!("goals missed: {}", missed.join(", "));
        std::process::exit(1);
    }
}

fn which(name: &Path) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
        .unwrap_or_else(|| name.to_path_buf())
}
