//! What the authorizer says the account may do beyond the plan: asked before writing (a grant this
//! run does not remove refuses the run) and after (the final word). Apart because it asks the API
//! server about rights rather than reading objects.

use std::time::Duration;

use harden_cli::error::{Error, ErrorKind, Result};
use harden_cli::output::warn;
use kube::Client;

use crate::inherited;
use crate::owned::{Kind, Owned};
use crate::rbac::{Scope, UserSpec};
use crate::rights;

/// Bindings this run removes: ours whose role changed or that are no longer wanted, and others'
/// that grant more than asked (pruned, or the run is refused).
pub(super) struct Going<'a> {
    pub(super) replace: &'a [Owned],
    pub(super) prune: &'a [Owned],
    pub(super) inherited: &'a [inherited::Existing],
}

impl Going<'_> {
    fn explains(&self, reason: &str) -> bool {
        let ours = self
            .replace
            .iter()
            .chain(self.prune)
            .filter(|o| matches!(o.kind, Kind::ClusterRoleBinding | Kind::RoleBinding));
        ours.into_iter().any(|o| inherited::reason_names(reason, o.namespace.as_deref(), &o.name))
            || self
                .inherited
                .iter()
                .filter(|e| !e.beyond.is_empty())
                .any(|e| inherited::reason_names(reason, e.namespace.as_deref(), &e.name))
    }
}

/// The namespaces to ask the authorizer about for the account: its own, the plan's, and every one
/// where a RoleBinding names it.
async fn asked_namespaces(client: &Client, spec: &UserSpec) -> Result<Vec<String>> {
    let mut namespaces = vec![spec.namespace.clone()];
    if let Scope::Namespaces(list) = &spec.scope {
        namespaces.extend(list.iter().cloned());
    }
    namespaces.extend(rights::bound_namespaces(client, &spec.namespace, &spec.name).await?);
    namespaces.sort();
    namespaces.dedup();
    Ok(namespaces)
}

/// The dangerous rights the authorizer gives the account that the plan does not grant, as
/// `get secrets (cluster-wide): REASON`. `None` when the caller may not ask (a warning says so).
async fn authorizer_beyond(
    client: &Client,
    spec: &UserSpec,
    grants: &[inherited::Grant],
) -> Result<Option<Vec<rights::Answer>>> {
    let namespaces = asked_namespaces(client, spec).await?;
    let answers = match rights::ask(client, &spec.namespace, &spec.name, &namespaces).await {
        Ok(answers) => answers,
        Err(e) if e.kind == ErrorKind::Forbidden => {
            warn(format!(
                "the authorizer could not be asked what {}/{} may do ({}): only the bindings were read",
                spec.namespace, spec.name, e.message
            ));
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    Ok(Some(
        answers
            .into_iter()
            .filter(|a| a.dangerous() && !inherited::grants_right(grants, &a.scope, &a.verb, &a.group, &a.resource))
            .collect(),
    ))
}

fn shown_right(answer: &rights::Answer) -> String {
    let resource =
        if answer.group.is_empty() { answer.resource.clone() } else { format!("{}.{}", answer.resource, answer.group) };
    let reason = answer.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    format!("{} {resource} ({}){reason}", answer.verb, answer.scope)
}

/// Before writing: what the authorizer says the account may already do beyond the plan, that no
/// binding this run removes explains (a grant it does not see or cannot prune).
pub(super) async fn beyond_plan(
    client: &Client,
    spec: &UserSpec,
    grants: &[inherited::Grant],
    going: &Going<'_>,
) -> Result<Vec<String>> {
    let Some(answers) = authorizer_beyond(client, spec, grants).await? else { return Ok(Vec::new()) };
    Ok(answers
        .iter()
        .filter(|a| !a.reason.as_deref().is_some_and(|r| going.explains(r)))
        .map(|a| {
            format!(
                "the authorizer says serviceaccount {}/{} may already {}, beyond what is asked, from a grant this \
                 command does not remove",
                spec.namespace,
                spec.name,
                shown_right(a)
            )
        })
        .collect())
}

/// After writing: the authorizer's final word. A dangerous right beyond the plan left with the
/// account fails the run (the writes are reported above). The authorizer's cache follows the
/// writes within moments: asked again a few times before concluding.
pub(super) async fn confirm_after(client: &Client, spec: &UserSpec, grants: &[inherited::Grant]) -> Result<()> {
    let mut left = Vec::new();
    for attempt in 0..10 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let Some(answers) = authorizer_beyond(client, spec, grants).await? else { return Ok(()) };
        left = answers;
        if left.is_empty() {
            return Ok(());
        }
    }
    let rights: Vec<String> = left.iter().map(shown_right).collect();
    Err(Error::conflict(format!(
        "user {}/{} was created as asked, but the authorizer says it may still {}",
        spec.namespace,
        spec.name,
        rights.join("; ")
    ))
    .with_hint("remove that grant with kubectl, then check with kubectl dash-user check"))
}
