//! `can-reach` and `matrix`: flags, gathering the objects (from `-f` or the live cluster), and
//! handing the engine's answers to [`crate::render`].

use std::net::IpAddr;

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::format::{self, Format};
use harden_cli::prompt;
use harden_kube::flags::KubeArgs;
use harden_kube::sources::{SourceArgs, Wanted, load};
use netpol::{Cluster, Endpoint, PortQuery};

use crate::engine_errors::engine_error;
use crate::render;

use crate::ports::DEFAULT_PORT;

const CANREACHCMD_EXAMPLES: &str = "Examples:\n  # the seed's wget from frontend to backend, answered from the policies\n  kubectl netpol-deny can-reach --from g04/frontend --to g04/backend --port 3000\n  # the same, FROM and TO as words\n  kubectl netpol-deny can-reach g04/frontend g04/backend --port 3000\n  # other (in default) to backend, offline from the seed's files\n  kubectl netpol-deny can-reach -f examples/g04 --from default/other --to g04/backend\n  # a pod to the cloud metadata endpoint\n  kubectl netpol-deny can-reach --from a12/web --to-ip 169.254.169.254 --port 80";

#[derive(Args)]
#[command(after_help = CANREACHCMD_EXAMPLES)]
pub struct CanReachCmd {
    /// FROM and TO as words instead of flags: each NS/POD (or POD in the -n namespace) or an IP
    /// address, e.g. `can-reach g04/frontend g04/backend`.
    #[arg(value_name = "FROM TO", num_args = 0..=2, conflicts_with_all = ["from", "from_ip", "to", "to_ip"])]
    pair: Vec<String>,
    /// The source pod, NS/POD (or POD in the -n namespace).
    #[arg(long, value_name = "NS/POD", conflicts_with = "from_ip")]
    from: Option<String>,
    /// The source address, when it is not a pod (or to name a pod by its IP).
    #[arg(long, value_name = "IP")]
    from_ip: Option<String>,
    /// The destination pod, NS/POD (or POD in the -n namespace).
    #[arg(long, value_name = "NS/POD", conflicts_with = "to_ip")]
    to: Option<String>,
    /// The destination address, when it is not a pod.
    #[arg(long, value_name = "IP")]
    to_ip: Option<String>,
    /// PORT[/PROTO]: a number or a named container port of the destination (default: the
    /// destination's only declared container port, else 80/TCP).
    #[arg(long, value_name = "PORT[/PROTO]")]
    port: Option<String>,
    /// Read Namespaces, Pods, workloads and NetworkPolicies from files or directories instead of the cluster.
    #[arg(short = 'f', long = "filename", value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    files: Vec<std::path::PathBuf>,
    /// With -f: also read the directories' subdirectories, as kubectl's -R.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Output format: text, json or yaml.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", default_value = "text", value_parser = format::TEXT_JSON_YAML)]
    output: Format,
    /// Also try it for real: exec `nc` in the source pod towards the destination pod (TCP; live
    /// cluster, both ends pods). Observed: connected, nothing listening, blocked or not probed; exit 0
    /// only when allowed and the packet arrived.
    #[arg(long)]
    probe: bool,
    /// With --probe: how long the attempt may take, e.g. 1s.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = harden_cli::duration::parse_wait, requires = "probe")]
    timeout: std::time::Duration,
    /// With --probe: never start a listener in the destination pod when nothing listens on the port
    /// (the pair is then not probed).
    #[arg(long, requires = "probe")]
    no_listener: bool,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Where an endpoint flag points before the objects are loaded.
enum Target {
    Pod { namespace: Option<String>, name: String },
    Ip(IpAddr),
}

fn parse_pod(text: &str, flag: &str) -> Result<Target> {
    let bad = || {
        Error::invalid(format!("invalid {flag} {text:?}: expected NS/POD or POD"))
            .with_hint(format!("e.g. {flag} g04/frontend, or {flag} frontend -n g04"))
    };
    let (namespace, name) = match text.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name),
        None => (None, text),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    if !valid(name) || namespace.as_deref().is_some_and(|ns| !valid(ns)) {
        return Err(bad());
    }
    Ok(Target::Pod { namespace, name: name.to_string() })
}

fn parse_ip(text: &str, flag: &str) -> Result<Target> {
    text.trim().parse().map(Target::Ip).map_err(|_| {
        Error::invalid(format!("invalid {flag} {text:?}: not an IPv4 or IPv6 address"))
            .with_hint("give one address, e.g. 10.0.0.7 or fd00::7 (not a CIDR)")
    })
}

fn endpoint_flag(pod: Option<String>, ip: Option<String>, side: &str) -> Result<Target> {
    match (pod, ip) {
        (Some(pod), _) => parse_pod(&pod, &format!("--{side}")),
        (None, Some(ip)) => parse_ip(&ip, &format!("--{side}-ip")),
        (None, None) => {
            let answer = prompt::text(
                None,
                &format!("--{side} NS/POD or --{side}-ip IP"),
                &format!("{side} (NS/POD)"),
                None,
                |s| parse_pod(s, &format!("--{side}")).map(|_| ()).map_err(|e| e.message),
            )?;
            parse_pod(&answer, &format!("--{side}"))
        }
    }
}

/// A positional FROM or TO: an address when it reads as one, else a pod.
fn endpoint_word(text: &str, what: &str) -> Result<Target> {
    match text.trim().parse::<IpAddr>() {
        Ok(ip) => Ok(Target::Ip(ip)),
        Err(_) => parse_pod(text, what),
    }
}

impl harden_cli::command::Command for CanReachCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Verdict;

    /// Everything the flags alone decide; an end not given is asked for in `run` (a prompt).
    fn validate(&self) -> harden_cli::Result<()> {
        let given = |pod: &Option<String>, ip: &Option<String>, side: &str| match (pod, ip) {
            (Some(pod), _) => parse_pod(pod, &format!("--{side}")).map(Some),
            (None, Some(ip)) => parse_ip(ip, &format!("--{side}-ip")).map(Some),
            (None, None) => Ok(None),
        };
        let (from, to) = match self.pair.as_slice() {
            [from, to] => (Some(endpoint_word(from, "FROM")?), Some(endpoint_word(to, "TO")?)),
            [only] => {
                return Err(Error::invalid(format!("can-reach {only:?} names one end: give FROM and TO"))
                    .with_hint(format!("e.g. kubectl netpol-deny can-reach {only} NS/POD --port 80")));
            }
            _ => (given(&self.from, &self.from_ip, "from")?, given(&self.to, &self.to_ip, "to")?),
        };
        self.port.as_deref().map(PortQuery::parse).transpose().map_err(engine_error)?;
        self.kube.single_namespace()?;
        let address = |end: &Option<Target>| matches!(end, Some(Target::Ip(_)));
        if self.probe && (!self.files.is_empty() || address(&from) || address(&to)) {
            return Err(Error::invalid("--probe sends a packet from a pod to a pod of the live cluster")
                .with_hint("name both ends with --from/--to NS/POD, and drop -f"));
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl CanReachCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        // Flags checked by `validate`; an end asked for at the prompt is a pod.
        let (from, to) = match self.pair.as_slice() {
            [from, to] => (endpoint_word(from, "FROM")?, endpoint_word(to, "TO")?),
            _ => (endpoint_flag(self.from, self.from_ip, "from")?, endpoint_flag(self.to, self.to_ip, "to")?),
        };
        let port = self.port.as_deref().map(PortQuery::parse).transpose().map_err(engine_error)?;
        let wanted = match (&from, &to) {
            // An address may be any pod's.
            (Target::Ip(_), _) | (_, Target::Ip(_)) => Wanted::Everywhere,
            (Target::Pod { namespace: a, .. }, Target::Pod { namespace: b, .. }) => {
                Wanted::Namespaces(vec![a.clone(), b.clone()])
            }
        };
        let source = SourceArgs { files: self.files.clone(), recursive: self.recursive, all_namespaces: false };
        let loaded = load(kube, &source, wanted, engine_error).await?;
        let cluster = &loaded.cluster;
        let resolve = |target: &Target| -> Result<Endpoint> {
            match target {
                Target::Pod { namespace, name } => {
                    let ns = namespace.as_deref().unwrap_or(&loaded.default_namespace);
                    Ok(Endpoint::Pod(cluster.find_pod(ns, name).map_err(engine_error)?))
                }
                Target::Ip(ip) => Ok(cluster.endpoint_for_ip(*ip)),
            }
        };
        let (from, to) = (resolve(&from)?, resolve(&to)?);
        let port = match port {
            Some(port) => port,
            None => default_port(cluster, to),
        };
        let verdict = cluster.check(from, to, &port).map_err(engine_error)?;
        let observed = match (self.probe, from, to, &loaded.live) {
            (true, Endpoint::Pod(src), Endpoint::Pod(dst), Some(live)) => {
                let prober = harden_kube::probe::Prober::new(live.client.clone(), self.timeout, !self.no_listener);
                Some(crate::observed::probe_pair(&live.client, cluster, src, dst, &verdict, &prober).await?)
            }
            _ => None,
        };
        let mut json = render::verdict_json(cluster, &verdict);
        if let Some(observed) = &observed {
            let mut value: serde_json::Value = serde_json::from_str(&json)?;
            value["probe"] = crate::observed::observed_json(observed, verdict.allowed);
            if !cluster.complete() {
                value["probe"]["differs"] = serde_json::Value::Bool(false);
            }
            json = serde_json::to_string_pretty(&value)? + "\n";
        }
        let text = match self.output {
            Format::Text => {
                let mut text = render::verdict_text(cluster, &verdict);
                match &observed {
                    Some(observed) if !cluster.complete() || !verdict.certain() => text.push_str(&format!(
                        "\nProbe (a real TCP connection attempt from the source pod): {} (the expectation is {})\n",
                        observed.word(),
                        if cluster.complete() { "uncertain" } else { "unknown" }
                    )),
                    Some(observed) => text.push_str(&crate::observed::observed_line(observed, verdict.allowed)),
                    None => {}
                }
                text
            }
            Format::Json => json,
            Format::Yaml => render::json_to_yaml(&json)?,
            other => return Err(other.unprinted()),
        };
        harden_cli::output::print(&text);
        if !cluster.complete() {
            harden_kube::sources::warn_incomplete(&cluster.unmodelled);
            return Ok(Outcome::Incomplete);
        }
        if !verdict.certain() {
            // Neither "allowed" nor "denied" is true of every implementation: no verdict.
            harden_cli::output::warn(
                "the answer is uncertain: cluster policies of the same priority decide it, and the API leaves \
                 their order to the implementation; exit code 2",
            );
            return Ok(Outcome::Incomplete);
        }
        let probed_ok = observed.as_ref().is_none_or(|o| !o.differs(verdict.allowed));
        Ok(if verdict.allowed && probed_ok { Outcome::Good } else { Outcome::Finding })
    }
}

/// The destination's only declared container port, else 80/TCP.
fn default_port(cluster: &Cluster, to: Endpoint) -> PortQuery {
    if let Endpoint::Pod(pod) = to
        && let [(port, protocol)] = cluster.pods[pod].container_ports.as_slice()
    {
        return PortQuery::new(*port, *protocol);
    }
    PortQuery::tcp(DEFAULT_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_and_ip_flags_are_validated() {
        assert!(matches!(parse_pod("g04/backend", "--to"), Ok(Target::Pod { namespace: Some(_), .. })));
        assert!(matches!(parse_pod("backend", "--to"), Ok(Target::Pod { namespace: None, .. })));
        for bad in ["", "g04/", "/x", "a/b/c", "Back_end"] {
            let err = parse_pod(bad, "--to").err().unwrap();
            assert!(err.message.contains("expected NS/POD"), "{bad}: {err}");
        }
        assert!(matches!(parse_ip("fd00::1", "--to-ip"), Ok(Target::Ip(_))));
        assert!(parse_ip("10.0.0.0/8", "--to-ip").is_err());
    }

    #[test]
    fn the_default_port_is_the_destinations_only_port_else_80() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/g04/g04.yaml");
        let mut objects = netpol::Objects::default();
        objects.add_yaml(&std::fs::read_to_string(&root).unwrap(), "g04.yaml").unwrap();
        let cluster = Cluster::build(&objects).unwrap();
        let backend = Endpoint::Pod(cluster.find_pod("g04", "backend").unwrap());
        let frontend = Endpoint::Pod(cluster.find_pod("g04", "frontend").unwrap());
        assert_eq!(default_port(&cluster, backend), PortQuery::tcp(3000));
        assert_eq!(default_port(&cluster, frontend), PortQuery::tcp(80));
        assert_eq!(default_port(&cluster, Endpoint::Ip("192.0.2.1".parse().unwrap())), PortQuery::tcp(80));
    }
}
