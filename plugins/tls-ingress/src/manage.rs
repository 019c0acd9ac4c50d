//! `list` and `delete`: what this plugin made (by its managed-by label), and removing exactly that.
//! `delete NAME` removes the Ingress NAME or the HTTPRoute NAME with what `create NAME` made for
//! it: its TLS Secrets, the redirect route, the ReferenceGrant and its listeners on the Gateway
//! (the Gateway itself when it is ours and has no listener left). Anything not ours stays.

use std::collections::BTreeSet;

use clap::Args;
use harden_cli::error::{Error, Outcome, Result};
use harden_kube::apply::{Applier, Deletion, Object, delete_if_ours, display_name, is_managed_by, managed_selector};
use harden_kube::error::{from_kube, status_code};
use harden_kube::flags::{ApplyArgs, DryRun, KubeArgs};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use serde_json::Value;

use crate::PLUGIN;
use crate::gateway::{self, http_route_resource, reference_grant_resource};

#[derive(Args)]
#[command(after_help = "Examples:
  kubectl tls-ingress list -n t75
  kubectl tls-ingress list -A")]
pub struct ListCmd {
    #[command(flatten)]
    pub all_namespaces: harden_kube::flags::AllNamespaces,

    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Args)]
#[command(after_help = "Examples:
  kubectl tls-ingress delete accounting-ingress -n t75
  kubectl tls-ingress delete accounting -n t75 --dry-run")]
#[command(mut_arg("dry_run", |a| a.help("none, client or server, given as --dry-run=STRATEGY. A bare --dry-run means client")))]
pub struct DeleteCmd {
    /// The Ingress, or the HTTPRoute of the Gateway path, that `create NAME` made.
    pub name: String,

    #[command(flatten)]
    pub dry_run: harden_kube::flags::DryRunArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

fn secrets() -> ApiResource {
    ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&())
}

fn ingresses() -> ApiResource {
    ApiResource::erase::<k8s_openapi::api::networking::v1::Ingress>(&())
}

/// The kinds `create` makes, in the order they are listed.
fn kinds() -> Vec<ApiResource> {
    vec![ingresses(), gateway::gateway_resource(), http_route_resource(), reference_grant_resource(), secrets()]
}

fn api(client: &Client, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// Hosts of an Ingress, HTTPRoute or Gateway, for the list.
fn hosts(object: &DynamicObject) -> String {
    let spec = &object.data["spec"];
    let mut out: Vec<String> = Vec::new();
    for rule in spec["rules"].as_array().into_iter().flatten() {
        out.extend(rule["host"].as_str().map(str::to_owned));
    }
    for host in spec["hostnames"].as_array().into_iter().flatten() {
        out.extend(host.as_str().map(str::to_owned));
    }
    for listener in spec["listeners"].as_array().into_iter().flatten() {
        out.extend(listener["hostname"].as_str().map(str::to_owned));
    }
    out.dedup();
    if out.is_empty() { "-".into() } else { out.join(",") }
}

impl harden_cli::command::Command for ListCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        if self.all_namespaces.all && !self.kube.namespaces.is_empty() {
            return Err(Error::invalid("-A and -n cannot be used together"));
        }
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl ListCmd {
    async fn execute(self) -> Result<Outcome> {
        let kube_args = &self.kube.clone();
        let kube = harden_kube::client::connect(kube_args).await?;
        let namespaces: Vec<Option<String>> = if self.all_namespaces.all {
            vec![None]
        } else {
            kube.namespaces(kube_args).into_iter().map(Some).collect()
        };
        let params = ListParams::default().labels(&managed_selector(PLUGIN));
        let mut rows = Vec::new();
        for resource in kinds() {
            for ns in &namespaces {
                let listed = harden_kube::list::list_all_metadata(
                    &api(&kube.client, &resource, ns.as_deref()),
                    &params,
                    &resource.plural,
                )
                .await;
                match listed {
                    Ok(items) => {
                        for item in items {
                            // Metadata lists carry no spec: read the object for its hosts (not Secrets).
                            let shown = if resource.kind == "Secret" {
                                "-".to_string()
                            } else {
                                let ns = item.namespace().unwrap_or_default();
                                match api(&kube.client, &resource, Some(&ns)).get_opt(&item.name_any()).await {
                                    Ok(Some(full)) => hosts(&full),
                                    _ => "-".into(),
                                }
                            };
                            rows.push(vec![
                                item.namespace().unwrap_or_default(),
                                display_name(&resource, &item.name_any()),
                                shown,
                            ]);
                        }
                    }
                    // No Gateway API CRDs: nothing of those kinds.
                    Err(e) if e.kind == harden_cli::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if rows.is_empty() {
            harden_cli::output::eline(format!("Nothing created by {PLUGIN} found."));
        } else {
            let table = harden_cli::output::table(&["namespace", "object", "hosts"], rows);
            harden_cli::output::print(&harden_cli::output::terminal_safe(&table));
        }
        Ok(Outcome::Good)
    }
}

/// What deleting one object did.
enum Gone {
    Deleted,
    Absent,
    NotOurs,
}

impl harden_cli::command::Command for DeleteCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    /// The name is an Ingress's or an HTTPRoute's (a DNS subdomain), and one namespace is meant.
    fn validate(&self) -> harden_cli::Result<()> {
        if !apimachinery::validation::is_dns_subdomain(&self.name) {
            return Err(Error::invalid(format!(
                "{:?} is not the name of an Ingress or HTTPRoute: lower-case letters, digits, '-' and '.', at most 253",
                self.name
            ))
            .with_hint("the NAME given to `kubectl tls-ingress create` (kubectl tls-ingress list shows them)"));
        }
        self.kube.single_namespace()?;
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl DeleteCmd {
    fn suffix(&self) -> &'static str {
        match self.dry_run.strategy {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }

    /// Deletes one object if it carries our label, through the shared delete path (a controller
    /// writes the status of what it serves, so a conflict is read again and retried there).
    async fn delete(&self, client: &Client, resource: &ApiResource, ns: &str, name: &str) -> Result<Gone> {
        let api = api(client, resource, Some(ns));
        let shown = display_name(resource, name);
        match delete_if_ours(&api, resource, PLUGIN, name, self.dry_run.strategy).await? {
            Deletion::NotFound => Ok(Gone::Absent),
            Deletion::NotOurs => {
                harden_cli::output::eline(format!(
                    "{shown} in namespace {ns} was not created by {PLUGIN}; it was left in place"
                ));
                Ok(Gone::NotOurs)
            }
            Deletion::Deleted => {
                harden_cli::output::line(format!("{shown} deleted in namespace {ns}{}", self.suffix()));
                Ok(Gone::Deleted)
            }
        }
    }

    async fn execute(self) -> Result<Outcome> {
        let kube_args = &self.kube.clone();
        let kube = harden_kube::client::connect(kube_args).await?;
        let ns = kube.namespace(kube_args)?;
        let client = kube.client.clone();
        let name = self.name.clone();
        let mut secrets_used: BTreeSet<(String, String)> = BTreeSet::new();
        let mut found = false;

        let ingress = api(&client, &ingresses(), Some(&ns))
            .get_opt(&name)
            .await
            .map_err(|e| from_kube(e, "reading the ingress"))?;
        if let Some(ingress) = ingress {
            found = true;
            for tls in ingress.data["spec"]["tls"].as_array().into_iter().flatten() {
                if let Some(secret) = tls["secretName"].as_str() {
                    secrets_used.insert((ns.clone(), secret.to_string()));
                }
            }
            if let Gone::NotOurs = self.delete(&client, &ingresses(), &ns, &name).await? {
                return Err(Error::conflict(format!(
                    "ingress {ns}/{name} was not created by {PLUGIN}; nothing was deleted"
                ))
                .with_hint("delete it with kubectl if you mean to"));
            }
        }

        let routes = api(&client, &http_route_resource(), Some(&ns));
        let route = match routes.get_opt(&name).await {
            Ok(found) => found,
            Err(e) if status_code(&e) == Some(404) => None,
            Err(e) => return Err(from_kube(e, "reading the httproute")),
        };
        if let Some(route) = route {
            found = true;
            if !is_managed_by(&route, PLUGIN) {
                return Err(Error::conflict(format!(
                    "httproute {ns}/{name} was not created by {PLUGIN}; nothing was deleted"
                ))
                .with_hint("delete it with kubectl if you mean to"));
            }
            let parents: BTreeSet<(String, String)> = crate::gwinspect::parent_gateways(&route).into_iter().collect();
            self.delete(&client, &http_route_resource(), &ns, &name).await?;
            self.delete(&client, &http_route_resource(), &ns, &format!("{name}-redirect")).await?;
            for (gw_ns, gw_name) in &parents {
                self.remove_listeners(&client, gw_ns, gw_name, &name, &mut secrets_used).await?;
                if *gw_ns != ns {
                    self.delete(&client, &reference_grant_resource(), &ns, &format!("{name}-from-{gw_ns}")).await?;
                }
            }
        }
        if !found {
            return Err(Error::not_found(format!("no ingress or httproute {name} in namespace {ns}"))
                .with_hint(format!("`kubectl tls-ingress list -n {ns}` shows what this plugin made")));
        }
        for (secret_ns, secret) in secrets_used {
            match still_used(&client, &secret_ns, &secret, &name).await {
                Ok(false) => {}
                Ok(true) => {
                    harden_cli::output::eline(format!(
                        "secret {secret_ns}/{secret} is still used by another Ingress or Gateway; it was left in place"
                    ));
                    continue;
                }
                // A Secret whose users could not be listed may be in use: it stays.
                Err(e) => {
                    harden_cli::output::eline(format!(
                        "secret {secret_ns}/{secret} was left in place: whether another Ingress or Gateway uses it \
                         could not be checked ({})",
                        e.message
                    ));
                    continue;
                }
            }
            self.delete(&client, &secrets(), &secret_ns, &secret).await?;
        }
        Ok(Outcome::Good)
    }

    /// Removes the listeners `create NAME` added to a Gateway we made (and the Gateway when none
    /// is left); records the Secrets they referred to.
    async fn remove_listeners(
        &self,
        client: &Client,
        gw_ns: &str,
        gw_name: &str,
        name: &str,
        secrets_used: &mut BTreeSet<(String, String)>,
    ) -> Result<()> {
        let resource = gateway::gateway_resource();
        let Some(gw) = api(client, &resource, Some(gw_ns))
            .get_opt(gw_name)
            .await
            .map_err(|e| from_kube(e, "reading the gateway"))?
        else {
            return Ok(());
        };
        let ours = |l: &Value| is_listener_of(l, name);
        let listeners: Vec<Value> = gw.data["spec"]["listeners"].as_array().cloned().unwrap_or_default();
        for l in listeners.iter().filter(|l| ours(l)) {
            for r in l["tls"]["certificateRefs"].as_array().into_iter().flatten() {
                if let Some(secret) = r["name"].as_str() {
                    secrets_used.insert((r["namespace"].as_str().unwrap_or(gw_ns).to_string(), secret.to_string()));
                }
            }
        }
        let kept: Vec<Value> = listeners.iter().filter(|l| !ours(l)).cloned().collect();
        if kept.len() == listeners.len() {
            return Ok(());
        }
        if !is_managed_by(&gw, PLUGIN) {
            harden_cli::output::eline(format!(
                "gateway {gw_ns}/{gw_name} was not created by {PLUGIN}: its listeners for {name} were left in place"
            ));
            return Ok(());
        }
        if kept.is_empty() {
            self.delete(client, &resource, gw_ns, gw_name).await?;
            return Ok(());
        }
        let mut spec = gw.data["spec"].clone();
        spec["listeners"] = Value::Array(kept);
        let mut data = DynamicObject::new(gw_name, &resource).within(gw_ns);
        data.data = serde_json::json!({ "spec": spec });
        let args = ApplyArgs { dry_run: self.dry_run.strategy, ..ApplyArgs::default() };
        Applier::new(PLUGIN, args, Some(client.clone()))
            .reads_in_client_dry_run()
            .run(vec![Object { resource, namespaced: true, data }])
            .await?;
        Ok(())
    }
}

/// Whether a listener is one `create NAME` adds: `NAME-https`, `NAME-http`, `NAME-https-N`, `NAME-http-N`.
pub fn is_listener_of(listener: &Value, name: &str) -> bool {
    let n = listener["name"].as_str().unwrap_or_default();
    [format!("{name}-https"), format!("{name}-http")].iter().any(|p| {
        n == p || n.strip_prefix(p.as_str()).and_then(|r| r.strip_prefix('-')).is_some_and(|i| i.parse::<u32>().is_ok())
    })
}

/// Whether anything but what `delete NAME` removes still refers to the Secret: another Ingress of
/// its namespace, or a Gateway listener (anywhere) that is not one of NAME's.
/// An error when they cannot be listed (the Secret may be in use); a cluster without the Gateway
/// API has no Gateway to use it.
async fn still_used(client: &Client, ns: &str, secret: &str, name: &str) -> Result<bool> {
    let ingresses = harden_kube::list::list_all(
        &api(client, &ingresses(), Some(ns)),
        &ListParams::default(),
        &format!("Ingresses in namespace {ns}"),
    )
    .await?;
    let by_ingress = ingresses.iter().filter(|i| i.name_any() != name).any(|i| {
        i.data["spec"]["tls"].as_array().into_iter().flatten().any(|t| t["secretName"].as_str() == Some(secret))
    });
    let gateways = match harden_kube::list::list_all(
        &api(client, &gateway::gateway_resource(), None),
        &ListParams::default(),
        "Gateways in all namespaces",
    )
    .await
    {
        Ok(gateways) => gateways,
        Err(e) if e.kind == harden_cli::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let by_gateway = gateways.iter().any(|g| {
        let gw_ns = g.namespace().unwrap_or_default();
        g.data["spec"]["listeners"].as_array().into_iter().flatten().filter(|l| !is_listener_of(l, name)).any(|l| {
            l["tls"]["certificateRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["name"].as_str() == Some(secret) && r["namespace"].as_str().unwrap_or(&gw_ns) == ns)
        })
    });
    Ok(by_ingress || by_gateway)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_names_listeners_are_removed() {
        for (listener, ours) in [
            ("accounting-https", true),
            ("accounting-http", true),
            ("accounting-https-2", true),
            ("accounting-https-x", false),
            ("accounting-api-https", false),
            ("other-https", false),
        ] {
            assert_eq!(is_listener_of(&json!({"name": listener}), "accounting"), ours, "{listener}");
        }
    }
}
