//! The list of scenarios: one module per scenario, each one type implementing
//! [`Scenario`](crate::scenario::Scenario) (its card, `plan`: pure, the seed's names, the starting
//! state, the task, hints and solution; `check`: grades the cluster's behaviour against the plan;
//! and the hooks of its start and reset), registered in [`ALL`], whose order numbers them. What
//! needs the list (a scenario's number, parsing `start`'s argument, the flags some scenarios take)
//! is here; the rest of the plugin goes through [`Id`] and never names a scenario.
//!
//! Adding a scenario: its file here (a type implementing `Scenario`, with its card), its `mod`
//! line and its place at the end of [`ALL`] (CONTRIBUTING.md has the checklist).

pub mod binaries;
pub mod dash_args;
pub mod dash_user;
pub mod default_deny;
pub mod egress_dns;
pub mod frontend_backend;
pub mod kube_bench;
pub mod metadata;
pub mod named_port;
pub mod node_endpoints;
pub mod tls;
pub mod verify_version;

use harden_cli::{Error, Result};

use crate::grade::Check;
use crate::scenario::{Id, Info, Need, Plan, StartFlags};

/// The scenarios, in the order of the issue: a scenario's number is its place here.
pub const ALL: [Id; 12] = [
    Id(&default_deny::DefaultDeny),
    Id(&frontend_backend::FrontendToBackend),
    Id(&metadata::BlockMetadata),
    Id(&tls::TlsIngress),
    Id(&dash_user::DashboardUser),
    Id(&dash_args::DashboardArgs),
    Id(&binaries::TamperedBinary),
    Id(&kube_bench::KubeBench),
    Id(&egress_dns::EgressDns),
    Id(&node_endpoints::NodeEndpoints),
    Id(&named_port::NamedPort),
    Id(&verify_version::VerifyVersion),
];

/// What needs the list.
impl Id {
    /// Its number in `list`: its place in [`ALL`], from 1.
    pub fn number(self) -> u8 {
        ALL.iter().position(|&i| i == self).map_or(0, |i| i as u8 + 1)
    }

    pub fn info(self) -> Info {
        let card = self.card();
        Info {
            number: self.number(),
            id: self,
            topic: card.topic,
            minutes: card.minutes,
            needs: card.needs.to_vec(),
            variants: card.variants.to_vec(),
        }
    }

    /// Parses `default-deny` or `1`.
    pub fn parse(text: &str) -> std::result::Result<Id, String> {
        if let Ok(n) = text.parse::<usize>() {
            return ALL
                .get(n.wrapping_sub(1))
                .copied()
                .ok_or_else(|| format!("scenarios are numbered 1-{}", ALL.len()));
        }
        ALL.iter().copied().find(|id| id.name() == text).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|i| i.name()).collect();
            format!("no scenario {text:?}; the scenarios are {} (or their numbers 1-{})", names.join(", "), ALL.len())
        })
    }
}

/// The scenarios that need `need`, as `kube-bench (8)`, for messages.
pub fn named_with_numbers(need: Need) -> String {
    let named: Vec<String> =
        ALL.iter().filter(|id| id.needs(need)).map(|id| format!("{} ({})", id.name(), id.number())).collect();
    named.join(", ")
}

/// `start`'s flags that only some scenarios take, refused (pure, before anything connects) for a
/// scenario they do not apply to: `--node` and `--benchmark` without node access, `--image` where
/// no pods are made; then the scenario checks the values of its own.
pub fn validate_start_flags(id: Id, flags: &StartFlags<'_>) -> Result<()> {
    if !id.needs(Need::NodeAccess) {
        for (given, flag) in [(flags.node, "--node"), (flags.benchmark, "--benchmark")] {
            if given.is_some() {
                return Err(Error::invalid(format!(
                    "{flag} does not apply to {}: only {} runs on a node",
                    id.name(),
                    named_with_numbers(Need::NodeAccess)
                )));
            }
        }
    }
    if flags.image.is_some() && !id.creates_pods() {
        return Err(Error::invalid(format!("--image does not apply to {}: it creates no pods", id.name())));
    }
    if id.needs(Need::NodeAccess) {
        id.0.validate_node_flags(flags)?;
    }
    Ok(())
}

/// Grades the cluster (and the run's files) against the plan; `check --address` only for a
/// scenario that probes one.
pub async fn check(client: &kube::Client, plan: &Plan, probe_address: Option<&str>) -> Result<Vec<Check>> {
    if probe_address.is_some() && !plan.id.card().probes_address {
        let probing: Vec<String> = ALL
            .iter()
            .filter(|id| id.card().probes_address)
            .map(|id| format!("{} ({})", id.name(), id.number()))
            .collect();
        return Err(Error::invalid(format!(
            "--address does not apply to {}: only {} probes what a controller serves",
            plan.id.name(),
            probing.join(", ")
        )));
    }
    plan.id.0.check(client, plan, probe_address).await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use kube::ResourceExt;

    use super::*;
    use crate::scenario::{Context, NodeBench, RUN_LABEL};

    fn id(name: &str) -> Id {
        Id::parse(name).unwrap()
    }

    #[test]
    fn scenarios_parse_by_name_and_number() {
        assert_eq!(Id::parse("2").unwrap(), id("frontend-to-backend"));
        assert_eq!(Id::parse("4").unwrap().name(), "tls-ingress");
        assert_eq!(Id::parse("8").unwrap().name(), "kube-bench");
        assert_eq!(Id::parse("9").unwrap().name(), "egress-dns");
        assert_eq!(Id::parse("10").unwrap().name(), "node-endpoints");
        assert_eq!(Id::parse("11").unwrap().name(), "named-port");
        assert_eq!(Id::parse("12").unwrap().name(), "verify-version");
        assert!(Id::parse("13").unwrap_err().contains("1-12"));
        assert!(Id::parse("0").is_err());
        assert!(Id::parse("nope").unwrap_err().contains("default-deny"));
        for (i, id) in ALL.iter().enumerate() {
            assert_eq!(id.number() as usize, i + 1);
            assert_eq!(Id::parse(id.name()).unwrap(), *id, "the name is `start`'s argument");
        }
    }

    /// A scenario's name is its id everywhere (records, `start`, JSON) and its place in the list is
    /// its number: both unique, and a name that parses as a number would shadow one.
    #[test]
    fn each_registered_scenario_has_a_name_and_a_number_of_its_own() {
        let names: BTreeSet<&str> = ALL.iter().map(|id| id.name()).collect();
        assert_eq!(names.len(), ALL.len(), "two scenarios share a name: {:?}", ALL);
        let numbers: BTreeSet<u8> = ALL.iter().map(|id| id.number()).collect();
        assert_eq!(numbers, (1..=ALL.len() as u8).collect(), "numbers are the places in the list");
        for id in ALL {
            let name = id.name();
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{name}: lower-case words joined by -"
            );
            assert!(!id.card().topic.is_empty() && id.card().minutes > 0, "{name}");
            assert!(id.needs(Need::Api), "{name}: every run is stored on the API server");
            assert_eq!(serde_json::to_value(id).unwrap(), name, "{name}: JSON names it");
            assert_eq!(format!("{id:?}"), name);
        }
        // The rule sees duplicates: the list with one scenario twice.
        let doubled = [ALL[0], ALL[1], ALL[0]];
        assert_eq!(doubled.iter().map(|id| id.name()).collect::<BTreeSet<_>>().len(), 2);
    }

    #[test]
    fn every_runnable_plan_is_complete_and_seeded() {
        let dir = Path::new("/tmp/cks");
        let bench = NodeBench { node: "n1".into(), image: "i".into(), benchmark: "cis-1.10".into() };
        for id in ALL {
            let a = id.plan(&Context { seed: 1, dir, bench: Some(&bench), variant: None }).unwrap();
            let b = id.plan(&Context { seed: 2, dir, bench: Some(&bench), variant: None }).unwrap();
            assert_eq!(a.id, id);
            assert!(!a.namespaces.is_empty() && !a.task.is_empty() && !a.manual.is_empty(), "{id:?}");
            assert!(!a.read.is_empty() && !a.skeleton.is_empty() && !a.plugin_steps.is_empty(), "{id:?}");
            assert_ne!(a.namespaces, b.namespaces, "{id:?}: two seeds, two sets of names");
            assert_eq!(a.objects[0]["kind"], "Namespace", "{id:?}: namespaces first");
            for object in a.apply_objects().unwrap() {
                assert_eq!(object.data.labels()[RUN_LABEL], a.run, "{id:?}");
                if let Some(ns) = object.namespace() {
                    assert!(a.namespaces.contains(&ns), "{id:?}: {ns} is the run's");
                }
            }
        }
    }

    #[test]
    fn the_seed_draws_the_variant_and_an_explicit_one_wins() {
        let dir = Path::new("/tmp/cks");
        let plan_of =
            |id: Id, seed: u64, variant: Option<&str>| id.plan(&Context { seed, dir, bench: None, variant }).unwrap();
        for id in [id("default-deny"), id("frontend-to-backend")] {
            let variants = id.variants();
            assert_eq!(variants.len(), 2, "{id:?}");
            for seed in 0..20 {
                assert_eq!(plan_of(id, seed, None).variant, plan_of(id, seed, None).variant, "same seed, same variant");
                assert_eq!(plan_of(id, seed, None).variant, id.drawn_variant(seed));
            }
            let drawn: BTreeSet<_> = (0..20).filter_map(|seed| id.drawn_variant(seed)).collect();
            assert_eq!(drawn.len(), 2, "{id:?}: twenty seeds draw both variants");
            for &variant in variants {
                let a = plan_of(id, 7, Some(variant));
                assert_eq!(a.variant, Some(variant));
                assert_eq!(a.names["variant"], variant);
                // The names a seed draws do not depend on the variant: only the task does.
                assert_eq!(a.namespaces, plan_of(id, 7, None).namespaces);
            }
            assert_ne!(plan_of(id, 7, Some(variants[0])).manual, plan_of(id, 7, Some(variants[1])).manual);
            let err = id.parse_variant("sideways").unwrap_err();
            assert!(err.message.contains(&variants.join(", ")), "{err}");
            assert_eq!(err.exit_code(harden_cli::ExitStyle::Action), 2);
            assert!(id.plan(&Context { seed: 1, dir, bench: None, variant: Some("sideways") }).is_err());
        }
        let tls = id("tls-ingress");
        let err = tls.parse_variant("egress").unwrap_err();
        assert!(err.message.contains("--variant does not apply to tls-ingress"), "{err}");
        assert_eq!(plan_of(tls, 3, None).variant, None);
        let egress = plan_of(id("default-deny"), 3, Some("egress"));
        assert!(egress.manual.contains("- Egress") && !egress.manual.contains("- Ingress"), "{}", egress.manual);
        let everywhere = plan_of(id("frontend-to-backend"), 3, Some("all-namespaces"));
        assert!(everywhere.manual.contains("namespaceSelector: {}"), "{}", everywhere.manual);
    }

    /// The flags some scenarios take are refused, naming the flag, where they do not apply; the
    /// kube-bench scenario takes them through the same path as every other, and checks their values.
    #[test]
    fn start_flags_apply_where_the_scenario_takes_them() {
        let flags = |node, benchmark, image| StartFlags { node, benchmark, image };
        let refused = |name: &str, f: StartFlags<'_>| validate_start_flags(id(name), &f).unwrap_err().message;
        assert_eq!(
            refused("default-deny", flags(Some("n1"), None, None)),
            "--node does not apply to default-deny: only kube-bench (8) runs on a node"
        );
        assert!(refused("named-port", flags(None, Some("cis-1.12"), None)).starts_with("--benchmark does not apply"));
        assert_eq!(
            refused("tampered-binary", flags(None, None, Some("busybox"))),
            "--image does not apply to tampered-binary: it creates no pods"
        );
        validate_start_flags(id("default-deny"), &flags(None, None, Some("busybox:1.36"))).unwrap();
        let bench = id("kube-bench");
        validate_start_flags(bench, &flags(Some("n1"), Some("cis-1.12"), Some("aquasec/kube-bench:v0.12.0"))).unwrap();
        assert!(refused("kube-bench", flags(None, Some("../../etc"), None)).contains("--benchmark"));
        assert!(refused("kube-bench", flags(None, None, Some("evil image"))).contains("image"));
        assert!(bench.creates_pods() && bench.0.pods_image().is_none(), "--image is kube-bench's Job's");
        assert_eq!(id("dashboard-args").0.pods_image(), Some("kubernetesui/dashboard:v2.7.0"));
        assert_eq!(id("default-deny").0.pods_image(), Some(harden_cli::images::BUSYBOX));
        assert_eq!(id("verify-version").0.pods_image(), None);
        assert_eq!(named_with_numbers(Need::NodeAccess), "kube-bench (8)");
    }
}
