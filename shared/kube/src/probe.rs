//! Real packets: a TCP connection attempt run inside a pod (`kubectl exec` of `nc`), so that what
//! the policies say can be checked against what the network does. Exec changes nothing in the
//! source pod (an ephemeral container would stay in its spec until the pod is replaced); the price
//! is that the container needs `sh` and `nc`, and one that has not is "not probed", with why.
//!
//! A probe of a pair ends in one of four kinds ([`Observed`]):
//!
//! - **connected**: the connection was accepted;
//! - **nothing listening**: the packet arrived (the policies let it through) and the destination
//!   pod itself refused it, because nothing listens on the port there;
//! - **blocked**: the attempt timed out (an enforcer that drops), or was rejected on the way (an
//!   enforcer that rejects: the destination listens, yet the connection was refused);
//! - **not probed**, with why.
//!
//! A refused connection alone says nothing about policy: an enforcer that rejects (kube-router's
//! iptables `REJECT`, whose default answer is an ICMP port-unreachable) and a pod with nothing
//! listening (its kernel answers with a TCP reset) both give the connecting program "Connection
//! refused". So a refusal from a pod is judged by what listens there: the destination pod's
//! listening sockets are read (`/proc/net/tcp` and `/proc/net/tcp6`, through exec in the
//! destination pod, whose containers share its network namespace). If something listens on the
//! port (on every address or the pod's own), the refusal is a rejection on the way, i.e. blocked:
//! at once when an ICMP error answered the SYN (a pod's own TCP stack answers with a reset), else
//! after a second attempt with the sockets read before and after it. If nothing listens, a
//! short-lived listener is started in the destination pod (`nc -l -p PORT`, gone after the one
//! attempt, and bounded by `nc -w`): connected then means the packet arrives and nothing of the
//! pod's own listens (nothing listening), refused means rejected on the way (blocked). Where no
//! listener can be started (no `nc` there, or not allowed), the pair is not probed, with why.
//! Attempts to a port of a pod are serialized around such a listener, so no other attempt meets it.
//!
//! The probe also reads the source pod's ICMP counters (`/proc/net/snmp`, `/proc/net/snmp6`,
//! `InDestUnreachs`) around the attempt (attempts from one source pod run one at a time, so the
//! count is the attempt's own, unless the pod's workload gets ICMP errors meanwhile): whether an
//! ICMP destination-unreachable answered the refused SYN, or a TCP reset did. That tells how an
//! enforcer rejects (`doctor` reports it), and is the only evidence at an address outside the
//! cluster (block-metadata's endpoints), where no socket can be read: a refusal there is blocked
//! only when an ICMP error came back for two attempts in a row (an endpoint's own TCP stack answers
//! a closed port with a reset, never with ICMP), and not probed otherwise.
//!
//! A rejection often looks like a timeout: the kernel keeps the ICMP error that answers a SYN as a
//! soft error while the connecting process holds the socket, and fails the connect only when the
//! SYN is sent again, a second later; a connect bounded to a second (the seed's `wget --timeout=1`,
//! `--timeout 1s`) times out first. So a timeout during which an ICMP destination-unreachable
//! arrived is reported as rejected, one without as timed out (dropped); both are blocked. The
//! kernel also rate-limits the ICMP errors an iptables `REJECT` sends (per destination, a burst of
//! six, then one a second): with many rejections in a row some come without one, as timed out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// How a blocked attempt was blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// No answer within the timeout: dropped on the way.
    TimedOut,
    /// Refused or unreachable while the destination listens: rejected on the way, with the evidence.
    Rejected(String),
}

/// What one probe of a pair showed (see the module docs for how each is told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    Connected,
    /// The packet arrived and nothing listens on the port there, with the evidence.
    NothingListening(String),
    Blocked(Blocked),
    NotProbed(String),
}

impl Observed {
    /// The kind, as text, JSON and YAML name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Observed::Connected => "connected",
            Observed::NothingListening(_) => "nothing listening",
            Observed::Blocked(_) => "blocked",
            Observed::NotProbed(_) => "not probed",
        }
    }

    /// The kind with how it was blocked: `blocked (timed out)`, `blocked (rejected)`.
    pub fn word(&self) -> String {
        match self {
            Observed::Blocked(Blocked::TimedOut) => "blocked (timed out)".into(),
            Observed::Blocked(Blocked::Rejected(_)) => "blocked (rejected)".into(),
            other => other.kind().into(),
        }
    }

    /// Whether the packet reached the destination (`None`: not probed).
    pub fn reached(&self) -> Option<bool> {
        match self {
            Observed::Connected | Observed::NothingListening(_) => Some(true),
            Observed::Blocked(_) => Some(false),
            Observed::NotProbed(_) => None,
        }
    }

    /// Whether it contradicts what the policies say (`allowed`); never for a pair not probed.
    pub fn differs(&self, allowed: bool) -> bool {
        self.reached().is_some_and(|reached| reached != allowed)
    }

    /// The evidence or the reason, when there is more to say than the kind.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Observed::Connected | Observed::Blocked(Blocked::TimedOut) => None,
            Observed::NothingListening(why) | Observed::Blocked(Blocked::Rejected(why)) | Observed::NotProbed(why) => {
                Some(why)
            }
        }
    }

    /// `{"observed": KIND, "reached": bool|null, "blocked": "timed out"|"rejected", "reason": ...}`.
    pub fn json(&self) -> Value {
        let mut value = json!({"observed": self.kind(), "reached": self.reached()});
        if let Observed::Blocked(how) = self {
            value["blocked"] = json!(if *how == Blocked::TimedOut { "timed out" } else { "rejected" });
        }
        if let Some(detail) = self.detail() {
            value["reason"] = json!(detail);
        }
        value
    }
}

/// Where an attempt goes.
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    /// A pod, at one of its IPs: its listeners can be read and a listener started.
    Pod(&'a Pod, IpAddr),
    /// An address outside the pods (a metadata endpoint).
    Address(IpAddr),
}

/// One connection attempt as the source pod saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Connected,
    /// Refused: `icmp` says whether an ICMP destination-unreachable arrived in the source pod during
    /// the attempt (`None`: its counters could not be read); `message` is nc's, if it said one.
    Refused {
        icmp: Option<bool>,
        message: String,
    },
    /// No route to the host or network: an ICMP host/network unreachable or prohibited answer
    /// (`icmp`), or the source's own routing (no ICMP).
    Unreachable {
        icmp: Option<bool>,
        message: String,
    },
    /// No connection within the timeout; `icmp`: whether an ICMP destination-unreachable arrived
    /// meanwhile (a rejection whose first ICMP error the kernel held as soft: see [`settled`]).
    TimedOut {
        icmp: Option<bool>,
    },
    /// The attempt itself failed (no nc, no sh, exec refused): the reason.
    Failed(String),
}

/// The shell line run in the source pod: exit 127 says the container has no nc. It prints the ICMP
/// counters and the uptime before and after the attempt on stdout, and on stderr nc's message,
/// `__rc=N` (nc's exit code) or `__ended` (nc was still connected when the attempt's time was up).
pub fn probe_script(ip: &str, port: u16, timeout: Duration) -> String {
    // `nc -z` is not in every nc (Debian's busybox lacks it): connect with stdin at EOF instead.
    // `-w` bounds the connect; a server that keeps the connection open is ended by the loop, which
    // then means it did connect. No `timeout` command: busybox's leaves its watcher process behind,
    // a zombie forever in a pod whose PID 1 does not reap (a `sleep`); every child here is waited for.
    let seconds = timeout.as_secs().max(1);
    format!(
        "command -v nc >/dev/null 2>&1 || exit 127; \
         icmp() {{ for f in /proc/net/snmp /proc/net/snmp6; do [ -r \"$f\" ] || continue; \
         while IFS= read -r l; do case \"$l\" in Icmp:*|Icmp6InDestUnreachs*) echo \"$1 $l\";; esac; done < \"$f\"; done; }}; \
         up() {{ read -r u _ < /proc/uptime && echo \"$1 $u\"; }}; \
         icmp before; up start; \
         alive() {{ [ -r /proc/$1/stat ] && read -r _ _ st _ < /proc/$1/stat && [ \"$st\" != Z ]; }}; \
         out=$(nc -w {seconds} {ip} {port} </dev/null 2>&1 >/dev/null & pid=$!; i=0; \
         while alive $pid; do if [ $i -ge {ticks} ]; then kill $pid 2>/dev/null; echo __ended; break; fi; \
         sleep 0.1 2>/dev/null || {{ sleep 1; i=$((i+9)); }}; i=$((i+1)); done; wait $pid; echo \"__rc=$?\"); \
         up end; icmp after; echo \"$out\" >&2; exit 0",
        ticks = (seconds + 2) * 10
    )
}

/// The ICMP destination-unreachable count in lines `PREFIX Icmp: ...` (a header and a value line)
/// and `PREFIX Icmp6InDestUnreachs N`.
fn icmp_count(stdout: &str, prefix: &str) -> Option<u64> {
    let lines: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix(prefix)?.strip_prefix(' ')).collect();
    let icmp: Vec<Vec<&str>> =
        lines.iter().filter_map(|l| l.strip_prefix("Icmp:")).map(|l| l.split_whitespace().collect()).collect();
    let v4 = match icmp.as_slice() {
        [names, values, ..] => {
            let at = names.iter().position(|n| *n == "InDestUnreachs")?;
            values.get(at)?.parse::<u64>().ok()?
        }
        _ => return None,
    };
    let v6 = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Icmp6InDestUnreachs"))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum::<u64>();
    Some(v4 + v6)
}

fn uptime(stdout: &str, prefix: &str) -> Option<f64> {
    stdout.lines().find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Judges an attempt from the script's exit code, stdout (counters, uptime) and stderr (nc's
/// message). `seconds`: the connect timeout given to nc.
pub fn classify(code: Option<i32>, stdout: &str, stderr: &str, seconds: u64) -> Attempt {
    let ended = stderr.lines().any(|l| l.trim() == "__ended");
    let rc: Option<i32> = stderr.lines().find_map(|l| l.trim().strip_prefix("__rc=")?.parse().ok());
    let message =
        stderr.lines().map(str::trim).rfind(|l| !l.is_empty() && !l.starts_with("__")).unwrap_or_default().to_string();
    let lower = message.to_ascii_lowercase();
    let icmp = match (icmp_count(stdout, "before"), icmp_count(stdout, "after")) {
        (Some(before), Some(after)) => Some(after > before),
        _ => None,
    };
    let elapsed = match (uptime(stdout, "start"), uptime(stdout, "end")) {
        (Some(start), Some(end)) => Some(end - start),
        _ => None,
    };
    match code {
        Some(127) => return Attempt::Failed("has no nc (the probe runs `nc` in the pod)".into()),
        Some(126) => return Attempt::Failed("cannot run sh".into()),
        Some(0) => {}
        Some(other) => return Attempt::Failed(format!("the probe's shell failed (exit {other}): {message}")),
        None => return Attempt::Failed("the exec gave no exit status".into()),
    }
    match (ended, rc) {
        (true, _) | (_, Some(0)) => return Attempt::Connected,
        (false, None) => return Attempt::Failed("the probe's shell gave no result".into()),
        _ => {}
    }
    if lower.contains("refused") {
        return Attempt::Refused { icmp, message };
    }
    if lower.contains("unreachable") || lower.contains("no route to host") {
        return Attempt::Unreachable { icmp, message };
    }
    if lower.contains("timed out") || lower.contains("timeout") {
        return Attempt::TimedOut { icmp };
    }
    // Some nc (busybox's nc 1.10 flavour, Alpine's) fail silently: tell by the time it took.
    match (message.is_empty(), elapsed) {
        (true, Some(elapsed)) if elapsed >= seconds as f64 - 0.05 => Attempt::TimedOut { icmp },
        (true, Some(elapsed)) if elapsed < seconds as f64 / 2.0 => Attempt::Refused { icmp, message },
        (true, _) => Attempt::Failed("nc failed without saying why".into()),
        (false, _) => Attempt::Failed(format!("nc failed: {message}")),
    }
}

/// Whether `/proc/net/tcp` or `/proc/net/tcp6` text shows a socket in LISTEN on `port` that takes
/// connections to `ip`: bound to every address or to `ip` (an IPv4 address also as `::ffff:a.b.c.d`).
/// `Some(true)` for an IPv4 socket (or the exact address); `Some(false)` when only an IPv6 wildcard
/// socket listens for an IPv4 `ip` (it takes IPv4 unless it is IPv6-only, which /proc does not
/// show); `None` when nothing listens.
pub fn listening(tables: &str, port: u16, ip: IpAddr) -> Option<bool> {
    let port = format!("{port:04X}");
    let mut found = None;
    for line in tables.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else { continue };
        let Some((address, local_port)) = local.split_once(':') else { continue };
        if *state != "0A" || !local_port.eq_ignore_ascii_case(&port) {
            continue;
        }
        // The kernel prints each 32-bit word in the host's byte order: accept either order.
        let words: Vec<u32> = address
            .as_bytes()
            .chunks(8)
            .filter_map(|c| std::str::from_utf8(c).ok().and_then(|h| u32::from_str_radix(h, 16).ok()))
            .collect();
        let decoded = |little: bool| -> Option<IpAddr> {
            let bytes: Vec<u8> =
                words.iter().flat_map(|w| if little { w.to_le_bytes() } else { w.to_be_bytes() }).collect();
            match bytes.len() {
                4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
                16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
                _ => None,
            }
        };
        for address in [decoded(true), decoded(false)].into_iter().flatten() {
            let mapped = match address {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
                v4 => Some(v4),
            };
            let exact = address == ip || mapped == Some(ip);
            let wildcard = address.is_unspecified();
            match (exact, wildcard, address, ip) {
                (true, _, _, _) => return Some(true),
                (_, true, IpAddr::V4(_), IpAddr::V4(_)) | (_, true, IpAddr::V6(_), IpAddr::V6(_)) => return Some(true),
                (_, true, IpAddr::V6(_), IpAddr::V4(_)) => found = Some(false),
                _ => {}
            }
        }
    }
    found
}

/// The output of one exec.
struct Exec {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The final status's message (why an exec without an exit code failed).
    message: String,
}

/// The exit code in an exec's final status (`Success`, or `NonZeroExitCode` with an `ExitCode`
/// cause).
fn exit_code(status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> Option<i32> {
    let status = status?;
    if status.status.as_deref() == Some("Success") {
        return Some(0);
    }
    status
        .details
        .as_ref()?
        .causes
        .as_ref()?
        .iter()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.parse().ok())
}

fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

fn containers(pod: &Pod) -> Vec<String> {
    pod.spec.iter().flat_map(|s| s.containers.iter().map(|c| c.name.clone())).collect()
}

/// Runs `argv` in `container` of `pod`, collecting its output, within `deadline`.
async fn exec(
    client: &kube::Client,
    pod: &Pod,
    container: &str,
    argv: &[&str],
    deadline: Duration,
) -> Result<Exec, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let params = AttachParams::default().container(container).stdin(false).stdout(true).stderr(true);
    let run = async {
        let mut process = api.exec(&name, argv.iter().copied(), &params).await?;
        let read = |stream: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| {
            tokio::spawn(async move {
                let mut text = Vec::new();
                if let Some(mut stream) = stream {
                    let _ = stream.read_to_end(&mut text).await;
                }
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let (stdout, stderr) = (read(process.stdout()), read(process.stderr()));
        let status = match process.take_status() {
            Some(status) => status.await,
            None => None,
        };
        let (stdout, stderr) = (stdout.await.unwrap_or_default(), stderr.await.unwrap_or_default());
        process.join().await.map_err(|e| kube::Error::Service(e.into()))?;
        let message = status.as_ref().and_then(|s| s.message.clone()).unwrap_or_default();
        Ok::<_, kube::Error>(Exec { code: exit_code(status.as_ref()), stdout, stderr, message })
    };
    match tokio::time::timeout(deadline, run).await {
        Err(_) => Err(format!("kubectl exec into {namespace}/{name} did not finish")),
        Ok(Err(e)) => Err(format!("cannot exec into {namespace}/{name}: {e}")),
        Ok(Ok(exec)) => Ok(exec),
    }
}

/// The listener's shell line, run in the destination pod: `nc -l` on `port`, bounded by `nc -w`;
/// prints `ready` once the kernel shows it listening on every address, then waits for a line on
/// stdin (the attempt is over), prints `alive` or `gone` (whether it still listened), and stops it.
pub fn listener_script(port: u16, max: Duration) -> String {
    let hex = format!("{port:04X}");
    format!(
        "command -v nc >/dev/null 2>&1 || exit 127; \
         up() {{ for f in /proc/net/tcp /proc/net/tcp6; do [ -r \"$f\" ] || continue; \
         while read -r _ l _ s _; do case \"$l $s\" in 00000000:{hex}\" 0A\"|00000000000000000000000000000000:{hex}\" 0A\") return 0;; esac; \
         done < \"$f\"; done; return 1; }}; \
         alive() {{ [ -r /proc/$1/stat ] && read -r _ _ st _ < /proc/$1/stat && [ \"$st\" != Z ]; }}; \
         nc -w {max} -l -p {port} </dev/null >/dev/null & pid=$!; i=0; \
         while ! up; do alive $pid || {{ wait $pid 2>/dev/null; echo failed; exit 3; }}; i=$((i+1)); \
         if [ $i -ge 50 ]; then kill $pid 2>/dev/null; wait $pid 2>/dev/null; echo failed; exit 4; fi; sleep 0.1 2>/dev/null || sleep 1; done; \
         echo ready; read -r _; if alive $pid; then echo alive; else echo gone; fi; kill $pid 2>/dev/null; \
         wait $pid 2>/dev/null; exit 0",
        max = max.as_secs().max(1)
    )
}

/// One lock per destination pod (`ns/name`) and port: attempts share it, a listener session takes
/// it alone, so no other attempt meets the probe's listener.
type ListenerLocks = Mutex<HashMap<(String, u16), Arc<tokio::sync::RwLock<()>>>>;

/// One lock per source pod: its attempts run one at a time, so the ICMP errors counted during one
/// are not another attempt's.
type SourceLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

/// Real connection attempts from pods, judged as the module docs say.
pub struct Prober {
    client: kube::Client,
    timeout: Duration,
    listeners: bool,
    locks: ListenerLocks,
    sources: SourceLocks,
}

impl Prober {
    /// `timeout`: how long one connect may take; `listeners`: whether a listener may be started in
    /// a destination pod where nothing listens.
    pub fn new(client: kube::Client, timeout: Duration, listeners: bool) -> Self {
        Self { client, timeout, listeners, locks: Mutex::new(HashMap::new()), sources: Mutex::new(HashMap::new()) }
    }

    fn lock(&self, pod: &Pod, port: u16) -> Arc<tokio::sync::RwLock<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry((pod_name(pod), port)).or_default().clone()
    }

    /// Whether attempts can be made from `pod`: its first container has sh and nc.
    pub async fn can_probe_from(&self, pod: &Pod) -> Result<(), String> {
        let Some(container) = containers(pod).into_iter().next() else {
            return Err(format!("{} has no container", pod_name(pod)));
        };
        let check = ["sh", "-c", "command -v nc >/dev/null 2>&1 || exit 127"];
        match exec(&self.client, pod, &container, &check, Duration::from_secs(10)).await?.code {
            Some(0) => Ok(()),
            Some(127) => Err(format!("{} has no nc", pod_name(pod))),
            code => Err(format!("{} cannot run sh (exit {code:?})", pod_name(pod))),
        }
    }

    /// One attempt from `source` (its first container) to `ip:port`; attempts from one source pod
    /// run one at a time.
    pub async fn attempt(&self, source: &Pod, ip: IpAddr, port: u16) -> Attempt {
        let lock = {
            let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            sources.entry(pod_name(source)).or_default().clone()
        };
        let _alone = lock.lock().await;
        let Some(container) = containers(source).into_iter().next() else {
            return Attempt::Failed(format!("{} has no container", pod_name(source)));
        };
        let script = probe_script(&ip.to_string(), port, self.timeout);
        match exec(&self.client, source, &container, &["sh", "-c", &script], self.timeout + Duration::from_secs(10))
            .await
        {
            Err(why) => Attempt::Failed(why),
            Ok(out) => match classify(out.code, &out.stdout, &out.stderr, self.timeout.as_secs().max(1)) {
                Attempt::Failed(why) if matches!(out.code, Some(126 | 127)) => {
                    Attempt::Failed(format!("{} {why}", pod_name(source)))
                }
                Attempt::Failed(_) if out.code.is_none() => Attempt::Failed(format!(
                    "cannot run sh in {}: {}",
                    pod_name(source),
                    if out.message.contains("executable file not found") {
                        "its image has no sh"
                    } else if out.message.is_empty() {
                        "the exec gave no exit status"
                    } else {
                        out.message.trim()
                    }
                )),
                other => other,
            },
        }
    }

    /// What listens on `port` in `pod` for connections to `ip` (see [`listening`]), read in the first
    /// of its containers that can show `/proc/net/tcp`.
    async fn listens(&self, pod: &Pod, ip: IpAddr, port: u16) -> Result<Option<bool>, String> {
        let mut why = Vec::new();
        for container in containers(pod) {
            let read = ["cat", "/proc/net/tcp", "/proc/net/tcp6"];
            let shell = [
                "sh",
                "-c",
                "for f in /proc/net/tcp /proc/net/tcp6; do [ -r \"$f\" ] && while IFS= read -r l; do echo \"$l\"; done < \"$f\"; done",
            ];
            for argv in [&read[..], &shell[..]] {
                match exec(&self.client, pod, &container, argv, Duration::from_secs(10)).await {
                    Ok(out) if out.stdout.contains("local_address") => return Ok(listening(&out.stdout, port, ip)),
                    Ok(out) => why.push(format!("{} in container {container}: exit {:?}", argv[0], out.code)),
                    Err(e) => why.push(e),
                }
            }
        }
        Err(format!("its sockets cannot be read (no cat or sh: {})", why.join("; ")))
    }

    /// Starts a listener on `port` in `pod`, runs one attempt from `source` while it listens, and
    /// stops it. Returns the attempt and whether the listener still listened after it.
    async fn with_listener(&self, source: &Pod, pod: &Pod, ip: IpAddr, port: u16) -> Result<(Attempt, bool), String> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let script = listener_script(port, self.timeout + Duration::from_secs(10));
        let mut why = Vec::new();
        for container in containers(pod) {
            let params = AttachParams::default().container(&container).stdin(true).stdout(true).stderr(true);
            let mut process = match api.exec(&name, ["sh", "-c", script.as_str()], &params).await {
                Ok(p) => p,
                Err(e) => {
                    why.push(format!("cannot exec into {namespace}/{name}: {e}"));
                    continue;
                }
            };
            let (Some(mut stdin), Some(stdout)) = (process.stdin(), process.stdout()) else {
                why.push("the exec has no stdin or stdout".into());
                continue;
            };
            let stderr = process.stderr().map(|mut s| {
                tokio::spawn(async move {
                    let mut text = String::new();
                    let _ = s.read_to_string(&mut text).await;
                    text
                })
            });
            let mut lines = BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await;
            if !matches!(&first, Ok(Ok(Some(line))) if line == "ready") {
                drop(stdin);
                let status = match process.take_status() {
                    Some(s) => tokio::time::timeout(Duration::from_secs(5), s).await.ok().flatten(),
                    None => None,
                };
                let said = match stderr {
                    Some(task) => tokio::time::timeout(Duration::from_secs(2), task).await.ok().and_then(Result::ok),
                    None => None,
                }
                .unwrap_or_default();
                process.abort();
                match exit_code(status.as_ref()) {
                    Some(127) => why.push(format!("container {container} has no nc")),
                    Some(126) => why.push(format!("container {container} cannot run sh")),
                    code => why.push(format!(
                        "nc -l -p {port} did not listen in container {container} (exit {}{})",
                        code.map_or("unknown".into(), |c| c.to_string()),
                        if said.trim().is_empty() { String::new() } else { format!(": {}", said.trim()) }
                    )),
                }
                continue;
            }
            let attempt = self.attempt(source, ip, port).await;
            let _ = stdin.write_all(b"done\n").await;
            let _ = stdin.flush().await;
            let after = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
            drop(stdin);
            if let Some(status) = process.take_status() {
                let _ = tokio::time::timeout(Duration::from_secs(5), status).await;
            }
            process.abort();
            let alive = matches!(after, Ok(Ok(Some(line))) if line == "alive");
            return Ok((attempt, alive));
        }
        Err(why.join("; "))
    }

    /// Probes `destination` on TCP `port` from `source`.
    pub async fn probe(&self, source: &Pod, destination: Destination<'_>, port: u16) -> Observed {
        match destination {
            Destination::Pod(pod, ip) => self.probe_pod(source, pod, ip, port).await,
            Destination::Address(ip) => self.probe_address(source, ip, port).await,
        }
    }

    async fn probe_address(&self, source: &Pod, ip: IpAddr, port: u16) -> Observed {
        let target = std::net::SocketAddr::new(ip, port);
        let mut icmp_answers = 0;
        for _ in 0..2 {
            match self.attempt(source, ip, port).await {
                Attempt::Connected => return Observed::Connected,
                timed_out @ Attempt::TimedOut { .. } => return settled(timed_out, &target.to_string(), port),
                unreachable @ Attempt::Unreachable { .. } => return settled(unreachable, &target.to_string(), port),
                Attempt::Failed(why) => return Observed::NotProbed(why),
                Attempt::Refused { icmp: Some(true), .. } => icmp_answers += 1,
                Attempt::Refused { icmp: Some(false), .. } => {
                    return Observed::NotProbed(format!(
                        "refused with a TCP reset: {target} itself (nothing listens there) or an enforcer that rejects \
                         with resets; nothing in the pod tells them apart"
                    ));
                }
                Attempt::Refused { icmp: None, .. } => {
                    return Observed::NotProbed(format!(
                        "refused, and the pod's ICMP counters cannot be read: {target}'s own refusal and an enforcer's \
                         rejection look alike"
                    ));
                }
            }
        }
        debug_assert_eq!(icmp_answers, 2);
        Observed::Blocked(Blocked::Rejected(format!(
            "refused twice with an ICMP destination-unreachable: rejected on the way ({target} itself would answer \
             with a TCP reset)"
        )))
    }

    async fn probe_pod(&self, source: &Pod, pod: &Pod, ip: IpAddr, port: u16) -> Observed {
        let dst = pod_name(pod);
        let lock = self.lock(pod, port);
        {
            let _shared = lock.read().await;
            let first = self.attempt(source, ip, port).await;
            let Attempt::Refused { icmp, message } = first else { return settled(first, &dst, port) };
            match self.listens(pod, ip, port).await {
                Err(why) => {
                    return Observed::NotProbed(format!(
                        "refused, and whether anything listens on {port} in {dst} is unknown: {why}"
                    ));
                }
                // An ICMP error answered the SYN (a pod's own TCP stack answers with a reset) while a
                // socket listens: rejected on the way, without a second attempt (a rejecting
                // enforcer's ICMP errors are rate-limited by the kernel).
                Ok(Some(exact)) if icmp == Some(true) => {
                    return refused_while_listening(icmp, &message, exact, &dst, port);
                }
                Ok(Some(_)) => {
                    // Listening: again, with the sockets read before and after this attempt.
                    let second = self.attempt(source, ip, port).await;
                    let after = self.listens(pod, ip, port).await;
                    return match (second, after) {
                        (Attempt::Refused { icmp, message }, Ok(Some(v4_or_exact))) => {
                            refused_while_listening(icmp, &message, v4_or_exact, &dst, port)
                        }
                        (Attempt::Refused { .. }, Ok(None)) => Observed::NotProbed(format!(
                            "refused, and the socket listening on {port} in {dst} went away during the probe"
                        )),
                        (Attempt::Refused { .. }, Err(why)) => Observed::NotProbed(format!(
                            "refused, and the sockets of {dst} could not be read again: {why}"
                        )),
                        (other, _) => settled(other, &dst, port),
                    };
                }
                Ok(None) => {}
            }
        }
        if !self.listeners {
            return Observed::NotProbed(format!(
                "refused, and nothing listens on {port} in {dst}: the pod's own refusal and an enforcer's rejection \
                 look alike, and no listener may be started there (--no-listener)"
            ));
        }
        let _alone = lock.write().await;
        match self.with_listener(source, pod, ip, port).await {
            Err(why) => Observed::NotProbed(format!(
                "nothing listens on {port} in {dst}, so a refusal may be the pod's own or an enforcer's rejection, and \
                 no listener could be started there: {why}"
            )),
            Ok((Attempt::Connected, _)) => Observed::NothingListening(format!(
                "nothing listens on {port} in {dst}: the pod refused the connection itself, and a listener the probe \
                 started there for one attempt accepted it"
            )),
            Ok((Attempt::Refused { icmp, message }, true)) => Observed::Blocked(Blocked::Rejected(format!(
                "refused although a listener the probe started on {port} in {dst} was listening{}",
                answer(icmp, &message)
            ))),
            Ok((Attempt::Refused { .. }, false)) => Observed::NotProbed(format!(
                "refused, and the listener the probe started on {port} in {dst} stopped before the attempt"
            )),
            Ok((other, _)) => settled(other, &dst, port),
        }
    }
}

/// What the answer to a refused attempt was: nc's message and the ICMP evidence.
fn answer(icmp: Option<bool>, message: &str) -> String {
    let how = match icmp {
        Some(true) => "an ICMP destination-unreachable answered",
        Some(false) => "a TCP reset answered, no ICMP error",
        None => "the source's ICMP counters could not be read",
    };
    let said = message.rsplit(": ").next().filter(|m| !m.is_empty()).unwrap_or("nc said nothing");
    format!(" ({said}; {how})")
}

/// An unreachable host or network: rejected on the way when an ICMP error answered, else the
/// source's own routing (or neighbour discovery) found no way, which says nothing about policy.
fn unreachable(icmp: Option<bool>, message: &str, dst: &str) -> Observed {
    let said = message.rsplit(": ").next().filter(|m| !m.is_empty()).unwrap_or(message);
    match icmp {
        Some(true) => Observed::Blocked(Blocked::Rejected(format!(
            "{said}: an ICMP host-unreachable or prohibited answer came back, from something on the way"
        ))),
        _ => Observed::NotProbed(format!("{said}, without an ICMP answer: the pod has no route to {dst}")),
    }
}

/// An attempt whose meaning does not depend on the destination's listeners.
fn settled(attempt: Attempt, dst: &str, port: u16) -> Observed {
    match attempt {
        Attempt::Connected => Observed::Connected,
        // An ICMP error that answers a SYN while the connecting process holds its socket is kept as
        // a soft error, and the connect fails only when the SYN is sent again (after a second): a
        // rejection seen as a timeout by a connect bounded to about a second.
        Attempt::TimedOut { icmp: Some(true) } => Observed::Blocked(Blocked::Rejected(format!(
            "an ICMP destination-unreachable answered the SYN and no connection was made within the timeout: \
             rejected on the way, not by {dst} (a host answers a SYN with a connection or a TCP reset, never ICMP)"
        ))),
        Attempt::TimedOut { .. } => Observed::Blocked(Blocked::TimedOut),
        Attempt::Unreachable { icmp, message } => unreachable(icmp, &message, dst),
        Attempt::Failed(why) => Observed::NotProbed(why),
        Attempt::Refused { .. } => Observed::NotProbed(format!("refused by {dst} on {port}, and not judged (a bug)")),
    }
}

/// A refusal while something listened before and after the attempt. `exact`: an IPv4 socket (or one
/// on the address itself) listens, not only an IPv6 wildcard that might be IPv6-only.
pub fn refused_while_listening(icmp: Option<bool>, message: &str, exact: bool, dst: &str, port: u16) -> Observed {
    match (icmp, exact) {
        (Some(true), _) | (_, true) => Observed::Blocked(Blocked::Rejected(format!(
            "refused although a socket listens on {port} in {dst}{}",
            answer(icmp, message)
        ))),
        (Some(false), false) => Observed::NotProbed(format!(
            "refused with a TCP reset, and only an IPv6 socket listens on {port} in {dst}: if it is IPv6-only the pod \
             refused the connection itself, else an enforcer rejected it; nothing shows which"
        )),
        (None, false) => Observed::NotProbed(format!(
            "refused, only an IPv6 socket listens on {port} in {dst}, and the source's ICMP counters cannot be read"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

    #[test]
    fn the_script_needs_nc_bounds_the_attempt_and_reads_the_counters() {
        let script = probe_script("10.0.0.43", 3000, Duration::from_millis(500));
        assert!(script.starts_with("command -v nc >/dev/null 2>&1 || exit 127;"), "{script}");
        assert!(script.contains("out=$(nc -w 1 10.0.0.43 3000 </dev/null 2>&1 >/dev/null & pid=$!"), "{script}");
        assert!(script.contains("if [ $i -ge 30 ]; then kill $pid"), "the attempt ends 2 s after nc's -w: {script}");
        assert!(script.contains("wait $pid") && !script.contains("timeout "), "every child is waited for: {script}");
        assert!(script.contains("/proc/net/snmp") && script.contains("/proc/uptime"), "{script}");
        assert!(probe_script("fd00::1", 80, Duration::from_secs(3)).contains("nc -w 3 fd00::1 80"));
    }

    const SNMP_BEFORE: &str = "before Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds\n\
                               before Icmp: 4 0 0 4 0\nbefore Icmp6InDestUnreachs 1\nstart 100.10\n";

    fn after(v4: u64, end: &str) -> String {
        format!(
            "{SNMP_BEFORE}end {end}\nafter Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds\n\
             after Icmp: 5 0 0 {v4} 0\nafter Icmp6InDestUnreachs 1\n"
        )
    }

    /// The script's stderr for nc's `message` and exit code.
    fn nc(message: &str, rc: i32) -> String {
        format!("{message}\n__rc={rc}\n")
    }

    #[test]
    fn a_refusal_says_whether_an_icmp_error_answered() {
        let refused = "nc: can't connect to remote host (10.244.0.9): Connection refused\n";
        assert_eq!(
            classify(Some(0), &after(5, "100.11"), &nc(refused, 1), 1),
            Attempt::Refused { icmp: Some(true), message: refused.trim().into() }
        );
        assert_eq!(
            classify(Some(0), &after(4, "100.11"), &nc(refused, 1), 1),
            Attempt::Refused { icmp: Some(false), message: refused.trim().into() }
        );
        assert_eq!(
            classify(Some(0), "", &nc(refused, 1), 1),
            Attempt::Refused { icmp: None, message: refused.trim().into() },
            "without counters the refusal is still a refusal"
        );
    }

    #[test]
    fn timeouts_unreachables_and_silent_failures_are_told_apart() {
        assert_eq!(
            classify(Some(0), &after(4, "101.11"), &nc("nc: timed out\n", 1), 1),
            Attempt::TimedOut { icmp: Some(false) }
        );
        // kube-router's REJECT seen with a one-second connect: an ICMP error came, the connect timed out.
        let rejected = classify(Some(0), &after(5, "101.11"), &nc("nc: timed out\n", 1), 1);
        assert_eq!(rejected, Attempt::TimedOut { icmp: Some(true) });
        let observed = settled(rejected, "g04/backend", 3000);
        assert_eq!(observed.word(), "blocked (rejected)");
        assert!(observed.detail().unwrap().starts_with("an ICMP destination-unreachable answered the SYN"));
        assert_eq!(settled(Attempt::TimedOut { icmp: Some(false) }, "x", 1).word(), "blocked (timed out)");
        assert!(matches!(
            classify(
                Some(0),
                &after(5, "100.12"),
                &nc("nc: can't connect to remote host (10.0.0.1): No route to host", 1),
                1
            ),
            Attempt::Unreachable { icmp: Some(true), .. }
        ));
        // A network without a route from the pod (the IPv6 metadata address on an IPv4 cluster): no
        // ICMP came, so it says nothing about policy: not probed, never "blocked".
        let no_route = "nc: can't connect to remote host (fd00:ec2::254): Network is unreachable";
        let attempt = classify(Some(0), &after(4, "100.11"), &nc(no_route, 1), 1);
        assert_eq!(settled(attempt, "[fd00:ec2::254]:80", 80).kind(), "not probed");
        // Alpine's nc says nothing: a failure at once is an answer, one that took the timeout is not.
        assert_eq!(classify(Some(0), &after(4, "101.11"), &nc("", 1), 1), Attempt::TimedOut { icmp: Some(false) });
        assert_eq!(
            classify(Some(0), &after(5, "100.12"), &nc("", 1), 1),
            Attempt::Refused { icmp: Some(true), message: "".into() }
        );
        assert_eq!(
            classify(Some(0), &after(5, "100.80"), &nc("", 1), 1),
            Attempt::Failed("nc failed without saying why".into())
        );
        assert!(
            matches!(classify(Some(0), "", &nc("nc: bad address 'x'", 1), 1), Attempt::Failed(m) if m.contains("bad address"))
        );
        assert_eq!(classify(Some(0), "", &nc("", 0), 1), Attempt::Connected);
        assert_eq!(classify(Some(0), "", "__ended\n__rc=143\n", 1), Attempt::Connected, "still connected at the end");
        assert!(matches!(classify(Some(127), "", "", 1), Attempt::Failed(m) if m.contains("no nc")));
        assert!(matches!(classify(Some(0), "", "", 1), Attempt::Failed(m) if m.contains("no result")));
    }

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
       0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n\
       1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0\n\
       2: 0500F40A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0\n\
       3: 0500F40A:D431 0600F40A:0BB8 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 100 0 0 10 0\n";
    const TCP6: &str = "  sl  local_address                         remote_address                        st\n\
       0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 0\n\
       1: 0000000000000000FFFF00000500F40A:01BB 00000000000000000000000000000000:0000 0A 0\n";

    #[test]
    fn listeners_are_read_from_proc_net_tcp_for_the_pods_address() {
        let ip: IpAddr = "10.244.0.5".parse().unwrap();
        let tables = format!("{TCP}{TCP6}");
        assert_eq!(listening(&tables, 3000, ip), Some(true), "0.0.0.0:3000");
        assert_eq!(listening(&tables, 80, ip), Some(true), "10.244.0.5:80");
        assert_eq!(listening(&tables, 443, ip), Some(true), "::ffff:10.244.0.5:443");
        assert_eq!(listening(&tables, 8080, ip), None, "127.0.0.1:8080 takes nothing from other pods");
        assert_eq!(listening(&tables, 8000, ip), Some(false), "[::]:8000 takes IPv4 unless IPv6-only");
        assert_eq!(listening(&tables, 54321, ip), None, "an established connection's port is not a listener");
        assert_eq!(listening(&tables, 9999, ip), None);
        assert_eq!(listening(&tables, 80, "10.244.0.6".parse().unwrap()), None, "another pod's address");
        assert_eq!(listening(&tables, 8000, "fd00::5".parse().unwrap()), Some(true));
    }

    #[test]
    fn the_listener_waits_for_its_socket_and_is_bounded() {
        let script = listener_script(3000, Duration::from_secs(11));
        assert!(script.contains("nc -w 11 -l -p 3000"), "{script}");
        assert!(script.contains("00000000:0BB8\" 0A\""), "{script}");
        assert!(script.contains("echo ready; read -r _;"), "{script}");
    }

    #[test]
    fn a_refusal_is_blocked_only_while_something_listens() {
        let said = "nc: can't connect to remote host (10.244.0.9): Connection refused";
        let rejected = refused_while_listening(Some(true), said, false, "g04/backend", 3000);
        assert_eq!(rejected.kind(), "blocked");
        assert_eq!(
            rejected.detail().unwrap(),
            "refused although a socket listens on 3000 in g04/backend (Connection refused; an ICMP \
             destination-unreachable answered)"
        );
        assert_eq!(refused_while_listening(Some(false), said, true, "g04/backend", 3000).kind(), "blocked");
        assert_eq!(refused_while_listening(None, "", true, "g04/backend", 3000).kind(), "blocked");
        // A reset with only an IPv6 socket may be an IPv6-only listener refusing: never "blocked".
        assert_eq!(refused_while_listening(Some(false), said, false, "g04/backend", 3000).kind(), "not probed");
        assert_eq!(refused_while_listening(None, said, false, "g04/backend", 3000).kind(), "not probed");
    }

    #[test]
    fn only_a_real_contradiction_differs_and_the_kinds_are_named() {
        let listening = Observed::NothingListening("x".into());
        assert!(!listening.differs(true), "the packet arrived: as allowed");
        assert!(listening.differs(false), "the packet arrived although denied");
        assert!(Observed::Blocked(Blocked::TimedOut).differs(true));
        assert!(!Observed::Blocked(Blocked::Rejected("r".into())).differs(false));
        assert!(!Observed::NotProbed("n".into()).differs(true) && !Observed::NotProbed("n".into()).differs(false));
        assert_eq!(listening.json(), json!({"observed": "nothing listening", "reached": true, "reason": "x"}));
        assert_eq!(
            Observed::Blocked(Blocked::TimedOut).json(),
            json!({"observed": "blocked", "reached": false, "blocked": "timed out"})
        );
        assert_eq!(Observed::Blocked(Blocked::Rejected("r".into())).word(), "blocked (rejected)");
    }

    #[test]
    fn exec_statuses_become_exit_codes() {
        let success = Status { status: Some("Success".into()), ..Default::default() };
        assert_eq!(exit_code(Some(&success)), Some(0));
        let failed = |code: &str| Status {
            status: Some("Failure".into()),
            reason: Some("NonZeroExitCode".into()),
            details: Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ExitCode".into()),
                    message: Some(code.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(exit_code(Some(&failed("1"))), Some(1));
        assert_eq!(exit_code(Some(&failed("127"))), Some(127));
        assert_eq!(exit_code(None), None);
    }
}
