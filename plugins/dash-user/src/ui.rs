//! Which web UI a user is for: the (archived) Kubernetes Dashboard or Headlamp. Both log in with a
//! ServiceAccount token; they differ in where they are installed and how one reaches them.
//!
//! Without `-n`, `create`, `token`, `check` and `delete` work in the namespace of the UI that is
//! installed, and say which one they chose ([`choose_namespace`], pure); the login help names the
//! port-forward and URL of that UI ([`login_instructions`], pure).

use clap::ValueEnum;
use harden_cli::error::{Error, Result};
use harden_kube::flags::KubeArgs;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::components::{self, Component};
use crate::headlamp;

/// Where both Dashboard layouts (v2 manifests and the v7 Helm chart) install by default.
pub const DASHBOARD_NAMESPACE: &str = "kubernetes-dashboard";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Ui {
    /// The Kubernetes Dashboard (v2 or the v7 chart; archived in January 2026).
    Dashboard,
    /// Headlamp (kubernetes-sigs), the Dashboard's recommended replacement.
    Headlamp,
}

impl Ui {
    pub fn name(self) -> &'static str {
        match self {
            Ui::Dashboard => "the Kubernetes Dashboard",
            Ui::Headlamp => "Headlamp",
        }
    }
}

/// An installed UI: its Deployment (the part users reach).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub ui: Ui,
    pub namespace: String,
    pub deployment: String,
    /// Headlamp's server settings (TLS, base URL), for the login help.
    pub headlamp: Option<headlamp::Config>,
}

/// The UIs among `deployments`, one entry per Deployment users reach (the Dashboard's v7 parts
/// count once per namespace).
pub fn installs(deployments: &[Deployment]) -> Vec<Install> {
    let mut out: Vec<Install> = Vec::new();
    for d in deployments {
        let namespace = d.namespace().unwrap_or_default();
        let (ui, headlamp) = match components::classify(d) {
            Some(Component::Headlamp) => {
                (Ui::Headlamp, components::headlamp_container(d).map(|c| headlamp::Config::of(&c)))
            }
            Some(Component::MetricsScraper) | None => continue,
            Some(_) => (Ui::Dashboard, None),
        };
        if ui == Ui::Dashboard && out.iter().any(|i| i.ui == Ui::Dashboard && i.namespace == namespace) {
            continue;
        }
        out.push(Install { ui, namespace, deployment: d.name_any(), headlamp });
    }
    out.sort_by(|a, b| (a.ui, &a.namespace, &a.deployment).cmp(&(b.ui, &b.namespace, &b.deployment)));
    out
}

/// What is known about the installed UIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// The Deployments were read (from every namespace, or from `-n`'s).
    Found(Vec<Install>),
    /// There is no cluster (a client dry run offline).
    Offline,
    /// The cluster did not let us look (or failed): why.
    Unknown(String),
}

impl Known {
    pub fn installs(&self) -> &[Install] {
        match self {
            Known::Found(list) => list,
            _ => &[],
        }
    }
}

/// Reads the Deployments of `namespace` (every namespace when `None`) and finds the UIs.
pub async fn find(client: &Client, namespace: Option<&str>) -> Known {
    let api: Api<Deployment> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match harden_kube::list::list_all(&api, &ListParams::default(), "deployments to find the installed UI").await {
        Ok(items) => Known::Found(installs(&items)),
        Err(e) => Known::Unknown(e.message),
    }
}

/// The namespace chosen without `-n`, and the sentence that says why (printed on stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub namespace: String,
    pub ui: Ui,
    pub why: String,
}

fn namespaces_of(installs: &[Install], ui: Ui) -> Vec<String> {
    let mut list: Vec<String> = installs.iter().filter(|i| i.ui == ui).map(|i| i.namespace.clone()).collect();
    list.dedup();
    list
}

/// Picks the namespace when `-n` is not given: the Dashboard's (`kubernetes-dashboard` when it is
/// there or nothing is found), else Headlamp's; `--ui` says which UI to follow.
pub fn choose_namespace(ui: Option<Ui>, known: &Known) -> Result<Chosen> {
    let installs = known.installs();
    let dashboards = namespaces_of(installs, Ui::Dashboard);
    let headlamps = namespaces_of(installs, Ui::Headlamp);
    let why_unknown = match known {
        Known::Offline => "; no cluster was asked".to_string(),
        Known::Unknown(why) => format!("; the installed UI could not be looked up: {why}"),
        Known::Found(_) => String::new(),
    };
    let several = |ui: Ui, list: &[String]| {
        Error::invalid(format!(
            "{} is installed in several namespaces ({}): say which with -n",
            ui.name(),
            list.join(", ")
        ))
    };
    let headlamp_also = match headlamps.as_slice() {
        [] => String::new(),
        list => format!("; Headlamp is installed in {} (--ui headlamp picks it)", list.join(", ")),
    };
    let dashboard =
        |reason: String| Chosen { namespace: DASHBOARD_NAMESPACE.to_string(), ui: Ui::Dashboard, why: reason };
    match ui {
        Some(Ui::Headlamp) => match headlamps.as_slice() {
            [one] => Ok(Chosen {
                namespace: one.clone(),
                ui: Ui::Headlamp,
                why: format!("namespace {one}: Headlamp is installed there"),
            }),
            [] => Err(Error::invalid(format!("--ui headlamp: no Headlamp install was found{why_unknown}"))
                .with_hint("give the namespace the user should live in with -n (Headlamp's, e.g. -n kube-system)")),
            list => Err(several(Ui::Headlamp, list)),
        },
        Some(Ui::Dashboard) | None => {
            let explicit = ui.is_some();
            match dashboards.as_slice() {
                [] if !explicit && headlamps.len() == 1 => Ok(Chosen {
                    namespace: headlamps[0].clone(),
                    ui: Ui::Headlamp,
                    why: format!(
                        "namespace {}: Headlamp is installed there (no Kubernetes Dashboard was found)",
                        headlamps[0]
                    ),
                }),
                [] if !explicit && headlamps.len() > 1 => Err(several(Ui::Headlamp, &headlamps)),
                [] => Ok(dashboard(format!(
                    "namespace {DASHBOARD_NAMESPACE}: the Kubernetes Dashboard's default{}",
                    if why_unknown.is_empty() {
                        "; no dashboard UI was found".to_string()
                    } else {
                        why_unknown.clone()
                    }
                ))),
                [one] => Ok(Chosen {
                    namespace: one.clone(),
                    ui: Ui::Dashboard,
                    why: format!("namespace {one}: the Kubernetes Dashboard is installed there{headlamp_also}"),
                }),
                list if list.iter().any(|n| n == DASHBOARD_NAMESPACE) => Ok(dashboard(format!(
                    "namespace {DASHBOARD_NAMESPACE}: the Kubernetes Dashboard is installed there (and in {})",
                    list.iter().filter(|n| *n != DASHBOARD_NAMESPACE).cloned().collect::<Vec<_>>().join(", ")
                ))),
                list => Err(several(Ui::Dashboard, list)),
            }
        }
    }
}

/// The UI to give login help for in `namespace`: `--ui`, else the one installed there (Headlamp
/// only when no Dashboard is).
pub fn ui_in(namespace: &str, ui: Option<Ui>, known: &Known) -> Ui {
    if let Some(ui) = ui {
        return ui;
    }
    let here: Vec<&Install> = known.installs().iter().filter(|i| i.namespace == namespace).collect();
    if !here.is_empty() && here.iter().all(|i| i.ui == Ui::Headlamp) { Ui::Headlamp } else { Ui::Dashboard }
}

/// Headlamp's Service in `namespace` (the one that selects its pods, else the chart's name) and
/// its port.
fn headlamp_entry(
    services: &[Service],
    install: Option<&Install>,
    deployments: &[Deployment],
) -> Option<(String, i32)> {
    let deployment = install.and_then(|i| deployments.iter().find(|d| d.name_any() == i.deployment));
    let selecting = services.iter().find(|s| deployment.is_some_and(|d| components::selects(s, d)));
    let named = services.iter().find(|s| s.name_any() == "headlamp" || s.name_any().ends_with("-headlamp"));
    let service = selecting.or(named)?;
    let port = service.spec.as_ref()?.ports.as_ref()?.first()?.port;
    Some((service.name_any(), port))
}

/// How to reach the UI and paste the token.
pub fn login_instructions(
    ui: Ui,
    namespace: &str,
    services: &[Service],
    known: &Known,
    deployments: &[Deployment],
) -> String {
    match ui {
        Ui::Dashboard => {
            let (service, port, note) = match dashboard_entry(services) {
                Some((service, port)) => (service, port, String::new()),
                None => (
                    "kubernetes-dashboard-kong-proxy".to_string(),
                    443,
                    format!(
                        "  (no dashboard Service found in namespace {namespace}; this is the Helm chart's default)\n"
                    ),
                ),
            };
            format!(
                "To log in to the Kubernetes Dashboard, forward its port and paste the token into its login page:\n  \
                 kubectl -n {namespace} port-forward svc/{service} 8443:{port}\n{note}  \
                 then open https://localhost:8443\n"
            )
        }
        Ui::Headlamp => {
            let install = known.installs().iter().find(|i| i.ui == Ui::Headlamp && i.namespace == namespace);
            let (service, port, note) = match headlamp_entry(services, install, deployments) {
                Some((service, port)) => (service, port, String::new()),
                None => (
                    "headlamp".to_string(),
                    80,
                    format!(
                        "  (no Headlamp Service found in namespace {namespace}; this is the Helm chart's default)\n"
                    ),
                ),
            };
            let config = install.and_then(|i| i.headlamp.clone()).unwrap_or_default();
            let scheme = if config.serves_tls() { "https" } else { "http" };
            format!(
                "To log in to Headlamp, forward its port, open it and paste the token where it asks for one:\n  \
                 kubectl -n {namespace} port-forward svc/{service} 8080:{port}\n{note}  \
                 then open {scheme}://localhost:8080{}/\n",
                config.base_url()
            )
        }
    }
}

/// Services and Deployments of `namespace` for [`login_instructions`]; empty lists if we may not read them.
pub async fn entry_objects(client: &Client, namespace: &str) -> (Vec<Service>, Vec<Deployment>) {
    let all = ListParams::default();
    let services = Api::<Service>::namespaced(client.clone(), namespace);
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
    let services = harden_kube::list::list_all(&services, &all, &format!("services in namespace {namespace}")).await;
    let deployments =
        harden_kube::list::list_all(&deployments, &all, &format!("deployments in namespace {namespace}")).await;
    (services.unwrap_or_default(), deployments.unwrap_or_default())
}

/// The namespace a command works in: `-n`, else the installed UI's (and the sentence is printed on
/// stderr). Also returns what was found, for the login help.
pub async fn namespace(kube: &KubeArgs, ui: Option<Ui>, client: Option<&Client>) -> Result<(String, Known)> {
    if let Some(ns) = kube.single_namespace()? {
        let known = match client {
            Some(client) => find(client, Some(ns)).await,
            None => Known::Offline,
        };
        return Ok((ns.to_string(), known));
    }
    let known = match client {
        Some(client) => find(client, None).await,
        None => Known::Offline,
    };
    let chosen = choose_namespace(ui, &known)?;
    harden_cli::output::eline(format!("Using {}. -n picks another.", chosen.why));
    Ok((chosen.namespace, known))
}

/// The dashboard's entry Service in `namespace`: the v7 chart's Kong proxy, else the v2 Service.
/// Returns the Service's name and its HTTPS port.
pub fn dashboard_entry(services: &[Service]) -> Option<(String, i32)> {
    let https_port = |svc: &Service| {
        let ports = svc.spec.as_ref()?.ports.clone().unwrap_or_default();
        let tls = ports
            .iter()
            .find(|p| p.port == 443 || p.name.as_deref().is_some_and(|n| n.contains("tls") || n.contains("https")));
        tls.or(ports.first()).map(|p| p.port)
    };
    let by = |pred: &dyn Fn(&Service) -> bool| {
        services.iter().filter(|s| pred(s)).find_map(|s| Some((s.name_any(), https_port(s)?)))
    };
    by(&|s| s.name_any().ends_with("kong-proxy"))
        .or_else(|| by(&|s| s.name_any() == "kubernetes-dashboard"))
        .or_else(|| by(&|s| s.labels().get("k8s-app").is_some_and(|v| v == "kubernetes-dashboard")))
}

/// How to log in to the UI of `namespace` (`--ui`, else the one installed there) with a token.
pub async fn login(client: &Client, namespace: &str, choice: Option<Ui>, known: &Known) -> String {
    let (services, deployments) = entry_objects(client, namespace).await;
    let here = match known {
        Known::Found(list) if list.iter().any(|i| i.namespace == namespace) => known.clone(),
        _ => Known::Found(installs(&deployments)),
    };
    let which = ui_in(namespace, choice, &here);
    login_instructions(which, namespace, &services, &here, &deployments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(ui: Ui, ns: &str) -> Install {
        Install { ui, namespace: ns.into(), deployment: "x".into(), headlamp: None }
    }

    #[test]
    fn the_dashboard_wins_and_headlamp_is_followed_when_alone() {
        let both =
            Known::Found(vec![install(Ui::Dashboard, "kubernetes-dashboard"), install(Ui::Headlamp, "kube-system")]);
        let chosen = choose_namespace(None, &both).unwrap();
        assert_eq!((chosen.namespace.as_str(), chosen.ui), ("kubernetes-dashboard", Ui::Dashboard));
        assert!(chosen.why.contains("Headlamp is installed in kube-system"), "{}", chosen.why);
        let chosen = choose_namespace(Some(Ui::Headlamp), &both).unwrap();
        assert_eq!(chosen.namespace, "kube-system");
        let only = Known::Found(vec![install(Ui::Headlamp, "headlamp")]);
        let chosen = choose_namespace(None, &only).unwrap();
        assert_eq!((chosen.namespace.as_str(), chosen.ui), ("headlamp", Ui::Headlamp));
        assert!(chosen.why.contains("no Kubernetes Dashboard was found"));
        let chosen = choose_namespace(Some(Ui::Dashboard), &only).unwrap();
        assert_eq!(chosen.namespace, "kubernetes-dashboard");
    }

    #[test]
    fn nothing_found_or_offline_is_the_dashboards_default_and_headlamp_needs_a_namespace() {
        for known in [Known::Found(vec![]), Known::Offline, Known::Unknown("forbidden".into())] {
            let chosen = choose_namespace(None, &known).unwrap();
            assert_eq!(chosen.namespace, "kubernetes-dashboard");
            let err = choose_namespace(Some(Ui::Headlamp), &known).unwrap_err();
            assert!(err.hint.unwrap().contains("-n"));
        }
        assert!(choose_namespace(None, &Known::Offline).unwrap().why.contains("no cluster was asked"));
        let two = Known::Found(vec![install(Ui::Headlamp, "a"), install(Ui::Headlamp, "b")]);
        assert!(choose_namespace(None, &two).unwrap_err().message.contains("several namespaces (a, b)"));
    }

    #[test]
    fn headlamp_login_is_a_port_forward_to_its_http_service() {
        let known = Known::Found(vec![install(Ui::Headlamp, "kube-system")]);
        let text = login_instructions(Ui::Headlamp, "kube-system", &[], &known, &[]);
        assert!(text.contains("kubectl -n kube-system port-forward svc/headlamp 8080:80"), "{text}");
        assert!(text.contains("http://localhost:8080/"), "{text}");
        assert_eq!(ui_in("kube-system", None, &known), Ui::Headlamp);
        assert_eq!(ui_in("kubernetes-dashboard", None, &known), Ui::Dashboard);
    }
}
