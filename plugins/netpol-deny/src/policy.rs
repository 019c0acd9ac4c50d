//! `apply` (default-deny policies per namespace) and `allow` (one rule that opens traffic to, or with
//! `--egress` from, selected pods). Flags are validated into specs, [`build`] turns them into
//! NetworkPolicies without any I/O, and the shared apply path prints or server-side applies them.

mod build;
mod cluster;
mod input;

use apimachinery::labels as selector;
use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::output::{print, warn};
use harden_cli::prompt;
use harden_kube::apply::{Applier, Object};
use harden_kube::client::{Kube, connect};
use harden_kube::cluster_tier;
use harden_kube::flags::{ApplyArgs, KubeArgs};
use harden_kube::manual::{self, ManualArgs};
use harden_kube::namespaces::NamespaceScope;

use build::{AllowSpec, Direction, Directions, apply_policies};
use input::{PortArg, blocks, parse_cidr};

use crate::PLUGIN;
use crate::names::validate_name;

const APPLYCMD_EXAMPLES: &str = "Examples:\n  # the seed's default-deny ingress policy in g04\n  kubectl netpol-deny apply -n g04 --ingress\n  # both directions, keeping DNS working, in every namespace labelled env=prod\n  kubectl netpol-deny apply --namespace-selector env=prod --allow-dns\n  # print the YAML to write by hand in the exam\n  kubectl netpol-deny apply -n g04 --ingress --name default-deny-all \\\n      --dry-run=client -o yaml";

#[derive(Args)]
#[command(after_help = APPLYCMD_EXAMPLES)]
#[command(mut_arg("all_namespaces", |a| a.help("Every namespace except kube-system (name it with -n as well to include it)").conflicts_with("namespace_selector")))]
pub struct ApplyCmd {
    #[command(flatten)]
    all_namespaces: harden_kube::flags::AllNamespaces,

    /// One cluster-wide default deny instead: a Baseline-tier ClusterNetworkPolicy
    /// (policy.networking.k8s.io) for every namespace but kube-system (-n kube-system includes it),
    /// which each namespace's own NetworkPolicies can still open.
    #[arg(long, conflicts_with_all = ["all_namespaces", "namespace_selector"])]
    cluster_wide: bool,

    /// With --cluster-wide: leave out the namespaces matching this selector (one requirement, e.g.
    /// env=dev or sandbox; repeat the flag to leave out those matching any).
    #[arg(long, value_name = "SEL", requires = "cluster_wide")]
    exclude_namespace_selector: Vec<String>,

    /// With --cluster-wide: the policy's priority in the Baseline tier, 0 (first) to 1000 (last).
    #[arg(long, value_name = "N", requires = "cluster_wide", value_parser = clap::value_parser!(u32).range(0..=1000))]
    priority: Option<u32>,

    /// Every namespace whose labels match this selector, e.g. env=prod.
    #[arg(long, value_name = "SEL")]
    namespace_selector: Option<String>,

    /// Deny incoming traffic (with neither --ingress nor --egress: both directions).
    #[arg(long)]
    ingress: bool,

    /// Deny outgoing traffic (with neither --ingress nor --egress: both directions).
    #[arg(long)]
    egress: bool,

    /// Also allow egress to kube-dns (UDP and TCP 53 in kube-system), so that names still resolve.
    #[arg(long)]
    allow_dns: bool,

    /// Name of the deny policy (default: default-deny-ingress, default-deny-egress or default-deny-ingress-egress).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    #[command(flatten)]
    apply: ApplyArgs,

    #[command(flatten)]
    manual: ManualArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

impl harden_cli::command::Command for ApplyCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        let directions = Directions::from_flags(self.ingress, self.egress);
        if self.allow_dns && !directions.egress {
            return Err(Error::invalid(
                "--allow-dns only makes sense when egress is denied: on its own, a policy allowing DNS egress \
                 isolates egress and would block every other destination",
            )
            .with_hint("add --egress (or drop --ingress to deny both directions), or drop --allow-dns"));
        }
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        self.manual.validate(&self.apply)
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ApplyCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let directions = Directions::from_flags(self.ingress, self.egress);
        if self.cluster_wide {
            return self.run_cluster(directions).await;
        }
        let scope = NamespaceScope {
            named: kube.namespaces.clone(),
            all: self.all_namespaces.all,
            selector: self
                .namespace_selector
                .as_deref()
                .map(selector::parse)
                .transpose()
                .map_err(harden_kube::error::selector)?,
        };
        let applies = !self.manual.show_manual && Applier::needs_cluster(&self.apply);
        let cluster = connect_if(applies || scope.needs_cluster(), kube).await?;
        let namespaces = scope.resolve(cluster.as_ref()).await?;
        if directions.egress && !self.allow_dns && !self.manual.show_manual {
            warn(format!(
                "denying egress without --allow-dns: pods in {} will not be able to resolve names (kube-dns is \
                 blocked too); re-run with --allow-dns to allow UDP and TCP 53 to kube-dns",
                namespaces.join(", ")
            ));
        }
        let objects = namespaces
            .iter()
            .flat_map(|ns| apply_policies(ns, directions, self.allow_dns, self.name.as_deref()))
            .map(|policy| Object::from_typed(&policy))
            .collect::<Result<Vec<_>>>()?;
        if self.manual.show_manual {
            print(&manual::steps(&objects, &[], &[])?);
            return Ok(Outcome::Good);
        }
        Applier::new(PLUGIN, self.apply, cluster.map(|k| k.client)).run(objects).await?;
        Ok(Outcome::Good)
    }
}

impl ApplyCmd {
    /// `apply --cluster-wide`: validates the flags into a [`cluster::ClusterDenySpec`], checks that the
    /// cluster serves ClusterNetworkPolicy (never installing it), and goes through the shared apply path.
    async fn run_cluster(self, directions: Directions) -> Result<Outcome> {
        let kube = &self.kube;
        if let Some(other) = kube.namespaces.iter().find(|ns| *ns != "kube-system") {
            return Err(Error::invalid(format!(
                "--cluster-wide covers every namespace; -n {other} does not choose among them (only -n kube-system \
                 does: it includes kube-system, which is left out by default)"
            ))
            .with_hint("drop -n, or leave namespaces out with --exclude-namespace-selector"));
        }
        let mut exclude = Vec::new();
        for text in &self.exclude_namespace_selector {
            let parsed = selector::parse(text).map_err(harden_kube::error::selector)?;
            let requirement = cluster::negated_requirement(&parsed).map_err(|reason| {
                Error::invalid(format!("--exclude-namespace-selector {text:?}: {reason}"))
                    .with_hint("e.g. --exclude-namespace-selector env=dev --exclude-namespace-selector sandbox")
            })?;
            exclude.push(requirement);
        }
        let applies = !self.manual.show_manual && Applier::needs_cluster(&self.apply);
        let cluster = connect_if(applies, kube).await?;
        let version = match &cluster {
            Some(cluster) => {
                cluster_tier::require_served(&cluster.client, "netpol-deny", "kubectl netpol-deny apply -A").await?
            }
            None => cluster_tier::VERSIONS[0],
        };
        let spec = cluster::ClusterDenySpec {
            directions,
            allow_dns: self.allow_dns,
            exclude_kube_system: !kube.namespaces.iter().any(|ns| ns == "kube-system"),
            exclude,
            priority: self.priority.unwrap_or(cluster::DEFAULT_PRIORITY),
            name: self.name.clone(),
            version,
        };
        if directions.egress && !self.allow_dns && !self.manual.show_manual {
            warn(
                "denying egress without --allow-dns: pods in every namespace the policy covers will not be able to \
                 resolve names (kube-dns is blocked too); re-run with --allow-dns to allow UDP and TCP 53 to kube-dns",
            );
        }
        if directions.ingress && !self.manual.show_manual {
            warn(
                "a ClusterNetworkPolicy's ingress rules name pods only: the Baseline deny covers traffic from pods, \
                 not from nodes or outside the cluster (a default-deny NetworkPolicy per namespace covers those too)",
            );
        }
        let object = Object {
            resource: cluster_tier::resource(version),
            namespaced: false,
            data: serde_json::from_value(spec.policy())?,
        };
        if self.manual.show_manual {
            print(&manual::steps(&[object], &[], &[])?);
            return Ok(Outcome::Good);
        }
        Applier::new(PLUGIN, self.apply, cluster.map(|k| k.client)).run(vec![object]).await?;
        Ok(Outcome::Good)
    }
}

const ALLOWCMD_EXAMPLES: &str = "Examples:\n  # the seed's backend-ingress: only frontends in namespaces labelled app=orion, on 3000/TCP\n  kubectl netpol-deny allow -n g04 --to tier=backend \\\n      --from-namespace app=orion --from-pod tier=frontend --port 3000 --name backend-ingress\n  # egress from every pod of a12 to anywhere but the cloud metadata endpoint\n  kubectl netpol-deny allow -n a12 --egress --from '' \\\n      --to-cidr 0.0.0.0/0 --except 169.254.169.254/32";

#[derive(Args)]
#[command(after_help = ALLOWCMD_EXAMPLES)]
pub struct AllowCmd {
    /// Allow egress from the pods chosen by --from to --to-pod/--to-namespace/--to-cidr, instead of ingress.
    #[arg(long)]
    egress: bool,

    /// Ingress: the pods that may receive the traffic (label selector; '' selects every pod).
    #[arg(long, value_name = "SEL")]
    to: Option<String>,

    /// Ingress: source pods (in this namespace, or with --from-namespace in those namespaces: both must match).
    #[arg(long, value_name = "SEL")]
    from_pod: Option<String>,

    /// Ingress: source namespaces by their labels (every pod there, or those matching --from-pod).
    #[arg(long, value_name = "SEL")]
    from_namespace: Option<String>,

    /// Ingress: source addresses (IPv4 or IPv6 CIDR; repeat or comma-separate).
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    from_cidr: Vec<String>,

    /// Egress: the pods whose outgoing traffic is allowed (label selector; '' selects every pod).
    #[arg(long, value_name = "SEL")]
    from: Option<String>,

    /// Egress: destination pods (in this namespace, or with --to-namespace in those namespaces: both must match).
    #[arg(long, value_name = "SEL")]
    to_pod: Option<String>,

    /// Egress: destination namespaces by their labels (every pod there, or those matching --to-pod).
    #[arg(long, value_name = "SEL")]
    to_namespace: Option<String>,

    /// Egress: destination addresses (IPv4 or IPv6 CIDR; repeat or comma-separate).
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    to_cidr: Vec<String>,

    /// Addresses to leave out of --from-cidr/--to-cidr (repeat or comma-separate).
    #[arg(long, value_name = "CIDR", value_delimiter = ',')]
    except: Vec<String>,

    /// Allowed port: 3000, 8000-8080, http (a container port name), with optional /TCP, /UDP or /SCTP
    /// (repeat or comma-separate; default: all ports).
    #[arg(long = "port", value_name = "PORT[/PROTO]", value_delimiter = ',')]
    ports: Vec<String>,

    /// Policy name (default: derived from the rule, e.g. allow-to-tier-backend-from-pod-tier-frontend-tcp-3000).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    #[command(flatten)]
    apply: ApplyArgs,

    #[command(flatten)]
    manual: ManualArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

/// One flag of `allow` that belongs to a single direction, and what to use in the other.
struct DirectionalFlag {
    flag: &'static str,
    given: bool,
    direction: Direction,
    /// What the user probably meant when the flag is given for the other direction.
    instead: &'static str,
}

impl harden_cli::command::Command for AllowCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        self.check_direction_flags()
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl AllowCmd {
    /// Refuses flags of the other direction. clap's `requires` cannot see that a bool flag was not
    /// given (its default counts as present), so this is checked here: an ignored `--from` or
    /// `--to-cidr` would silently allow every source.
    fn check_direction_flags(&self) -> Result<()> {
        let flags = [
            DirectionalFlag {
                flag: "--to",
                given: self.to.is_some(),
                direction: Direction::Ingress,
                instead: "--to-pod (destination pods of the egress rule); the pods whose egress is allowed are --from",
            },
            DirectionalFlag {
                flag: "--from-pod",
                given: self.from_pod.is_some(),
                direction: Direction::Ingress,
                instead: "--from (the pods whose egress is allowed)",
            },
            DirectionalFlag {
                flag: "--from-namespace",
                given: self.from_namespace.is_some(),
                direction: Direction::Ingress,
                instead: "-n (an egress rule belongs to its source pods' namespace) or --to-namespace",
            },
            DirectionalFlag {
                flag: "--from-cidr",
                given: !self.from_cidr.is_empty(),
                direction: Direction::Ingress,
                instead: "--to-cidr (destination addresses)",
            },
            DirectionalFlag {
                flag: "--from",
                given: self.from.is_some(),
                direction: Direction::Egress,
                instead: "--from-pod (source pods) or --from-namespace (source namespaces)",
            },
            DirectionalFlag {
                flag: "--to-pod",
                given: self.to_pod.is_some(),
                direction: Direction::Egress,
                instead: "--to (the pods that receive the traffic)",
            },
            DirectionalFlag {
                flag: "--to-namespace",
                given: self.to_namespace.is_some(),
                direction: Direction::Egress,
                instead: "--from-namespace (source namespaces); the receiving pods are in the -n namespace",
            },
            DirectionalFlag {
                flag: "--to-cidr",
                given: !self.to_cidr.is_empty(),
                direction: Direction::Egress,
                instead: "--from-cidr (source addresses)",
            },
        ];
        let chosen = if self.egress { Direction::Egress } else { Direction::Ingress };
        let Some(wrong) = flags.iter().find(|f| f.given && f.direction != chosen) else {
            return Ok(());
        };
        let (rule, other) = match chosen {
            Direction::Ingress => ("an ingress rule (no --egress)", "only with --egress"),
            Direction::Egress => ("an egress rule (--egress)", "only without --egress"),
        };
        Err(Error::invalid(format!(
            "{} does not apply to {rule}: it is used {other}, and ignoring it would allow more than asked",
            wrong.flag
        ))
        .with_hint(format!("did you mean {}?", wrong.instead)))
    }

    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let (flag, question, given) = match self.egress {
            false => ("--to", "Pods that may receive the traffic (label selector, e.g. tier=backend)", &self.to),
            true => {
                ("--from", "Pods whose outgoing traffic is allowed (label selector, e.g. tier=frontend)", &self.from)
            }
        };
        let target = prompt::text(given.clone(), flag, question, None, |answer| {
            selector::parse(answer).map(|_| ()).map_err(|e| e.to_string())
        })?;
        let named = kube.single_namespace()?.map(str::to_owned);
        // Validate everything before connecting, so bad input fails the same with or without a cluster.
        let probe = self.spec(named.as_deref().unwrap_or("default"), &target)?;
        self.manual.validate(&self.apply)?;
        let applies = !self.manual.show_manual && Applier::needs_cluster(&self.apply);
        let cluster = connect_if(applies || named.is_none(), kube).await?;
        let namespace = match (named, &cluster) {
            (Some(ns), _) => ns,
            (None, Some(cluster)) => cluster.context_namespace.clone(),
            (None, None) => unreachable!("connect_if connects when no namespace was named"),
        };
        let spec = AllowSpec { namespace, ..probe };
        let object = Object::from_typed(&spec.policy())?;
        if self.manual.show_manual {
            print(&manual::steps(&[object], &[], &[])?);
            return Ok(Outcome::Good);
        }
        Applier::new(PLUGIN, self.apply, cluster.map(|k| k.client)).run(vec![object]).await?;
        Ok(Outcome::Good)
    }

    /// The validated rule (pure).
    fn spec(&self, namespace: &str, target: &str) -> Result<AllowSpec> {
        self.check_direction_flags()?;
        let (direction, pods, namespaces, cidrs, cidr_flag) = match self.egress {
            false => (Direction::Ingress, &self.from_pod, &self.from_namespace, &self.from_cidr, "--from-cidr"),
            true => (Direction::Egress, &self.to_pod, &self.to_namespace, &self.to_cidr, "--to-cidr"),
        };
        let sel = |flag: &str, text: &str| {
            selector::parse(text).map_err(|e| {
                harden_kube::error::selector(e).context(flag).with_hint("e.g. tier=frontend or 'env in (prod,staging)'")
            })
        };
        let cidrs = cidrs.iter().map(|c| parse_cidr(cidr_flag, c)).collect::<Result<Vec<_>>>()?;
        let except = self.except.iter().map(|c| parse_cidr("--except", c)).collect::<Result<Vec<_>>>()?;
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        let (pod_flag, ns_flag, target_flag) = match direction {
            Direction::Ingress => ("--from-pod", "--from-namespace", "--to"),
            Direction::Egress => ("--to-pod", "--to-namespace", "--from"),
        };
        Ok(AllowSpec {
            namespace: namespace.to_string(),
            direction,
            target: sel(target_flag, target)?,
            peer_pods: pods.as_deref().map(|p| sel(pod_flag, p)).transpose()?,
            peer_namespaces: namespaces.as_deref().map(|n| sel(ns_flag, n)).transpose()?,
            blocks: blocks(cidr_flag, &cidrs, &except)?,
            ports: self.ports.iter().map(|p| PortArg::parse(p)).collect::<Result<_>>()?,
            name: self.name.clone(),
        })
    }
}

async fn connect_if(needed: bool, kube: &KubeArgs) -> Result<Option<Kube>> {
    if !needed {
        return Ok(None);
    }
    match connect(kube).await {
        Ok(cluster) => Ok(Some(cluster)),
        // Without -n the kubeconfig was only wanted for its namespace; say that -n avoids it.
        Err(err) if kube.namespaces.is_empty() => {
            let hint = err.hint.clone().unwrap_or_default();
            Err(err.with_hint(
                format!("{hint}; or name the namespace with -n NAMESPACE").trim_start_matches("; ").to_string(),
            ))
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use harden_cli::error::ErrorKind;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand)]
    enum Command {
        Apply(Box<ApplyCmd>),
        Allow(Box<AllowCmd>),
    }

    fn allow(args: &[&str]) -> AllowCmd {
        let cli = Cli::try_parse_from(["x", "allow"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Allow(cmd) => *cmd,
            Command::Apply(_) => unreachable!(),
        }
    }

    #[test]
    fn the_seed_command_parses_to_one_anded_peer() {
        let cmd = allow(&[
            "--to",
            "tier=backend",
            "--from-namespace",
            "app=orion",
            "--from-pod",
            "tier=frontend",
            "--port",
            "3000",
        ]);
        let spec = cmd.spec("g04", cmd.to.as_deref().unwrap()).unwrap();
        let policy = serde_json::to_value(spec.policy()).unwrap();
        let from = &policy["spec"]["ingress"][0]["from"];
        assert_eq!(from.as_array().unwrap().len(), 1, "namespace and pod selectors form ONE peer");
        assert_eq!(from[0]["namespaceSelector"]["matchLabels"]["app"], "orion");
        assert_eq!(from[0]["podSelector"]["matchLabels"]["tier"], "frontend");
    }

    fn refused(args: &[&str]) -> harden_cli::Error {
        let cmd = allow(args);
        let err = cmd.check_direction_flags().unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{args:?}");
        err
    }

    /// The silent widening of issue 21: `--from` without `--egress` wrote `ingress: [{}]`.
    #[test]
    fn allow_from_without_egress_is_refused_not_widened() {
        let err = refused(&["--from", "tier=frontend", "--to", "tier=backend"]);
        assert!(err.message.starts_with("--from does not apply to an ingress rule"), "{err}");
        assert!(err.to_string().contains("did you mean --from-pod"), "{err}");
    }

    /// The silent widening of issue 21: `--to-cidr` without `--egress` allowed every source.
    #[test]
    fn allow_to_cidr_without_egress_is_refused_not_widened() {
        let err = refused(&["--to", "tier=backend", "--to-cidr", "10.0.0.0/8", "--port", "3000"]);
        assert!(err.message.starts_with("--to-cidr does not apply"), "{err}");
        assert!(err.to_string().contains("did you mean --from-cidr"), "{err}");
    }

    #[test]
    fn every_flag_of_the_other_direction_is_refused() {
        for args in [
            &["--to", "a=b", "--to-pod", "x=y"][..],
            &["--to", "a=b", "--to-namespace", "x=y"],
            &["--egress", "--from", "a=b", "--to", "x=y"],
            &["--egress", "--from", "a=b", "--from-pod", "x=y"],
            &["--egress", "--from", "a=b", "--from-namespace", "x=y"],
            &["--egress", "--from", "a=b", "--from-cidr", "10.0.0.0/8"],
        ] {
            refused(args);
        }
    }

    #[test]
    fn egress_flags_go_with_egress() {
        let cmd =
            allow(&["--egress", "--from", "a=b", "--to-cidr", "0.0.0.0/0,::/0", "--except", "169.254.169.254/32"]);
        let spec = cmd.spec("ns", "a=b").unwrap();
        assert_eq!(spec.direction, Direction::Egress);
        assert_eq!(spec.blocks.len(), 2);
        assert_eq!(spec.blocks[0].except.len(), 1);
        assert!(spec.blocks[1].except.is_empty());
    }

    #[test]
    fn bad_values_are_invalid_input_naming_the_flag() {
        let cases: [(&[&str], &str); 5] = [
            (&["--to", "tier=back end"], "--to"),
            (&["--to", "a=b", "--from-pod", "x in (y"], "--from-pod"),
            (&["--to", "a=b", "--from-cidr", "10.0.0.300/8"], "--from-cidr"),
            (&["--to", "a=b", "--port", "70000"], "--port"),
            (&["--to", "a=b", "--from-cidr", "10.0.0.0/8", "--except", "192.168.0.0/16"], "--except"),
        ];
        for (args, flag) in cases {
            let cmd = allow(args);
            let err = cmd.spec("ns", cmd.to.as_deref().unwrap()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{args:?}");
            assert!(err.message.contains(flag), "{args:?}: {err}");
        }
    }

    #[test]
    fn allow_dns_without_egress_is_refused_by_validate() {
        use harden_cli::command::Command as _;
        let cli = Cli::try_parse_from(["x", "apply", "-n", "a", "--ingress", "--allow-dns", "--dry-run"]).unwrap();
        let Command::Apply(cmd) = cli.command else { unreachable!() };
        let err = cmd.validate().unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert!(err.to_string().contains("--egress"), "{err}");
    }

    #[test]
    fn all_namespaces_and_a_selector_conflict() {
        assert!(Cli::try_parse_from(["x", "apply", "-A", "--namespace-selector", "a=b"]).is_err());
        assert!(Cli::try_parse_from(["x", "apply", "-A", "-n", "kube-system"]).is_ok());
    }
}
