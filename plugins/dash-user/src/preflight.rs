//! Everything `create` and `delete` can check before their first write, so that a refusal comes
//! before anything is changed rather than half-way (a user's binding deleted, then the new one
//! refused):
//!
//! - the exam lock (`kube-harden.io/locked-by`) of every namespace the command will touch;
//! - each planned write itself, sent as a server-side dry run: the API server then applies its own
//!   authorization, the RBAC escalation check (one may grant only rights one holds, unless one may
//!   `bind` the role or `escalate` roles), admission and validation, and stores nothing.
//!
//! One case a dry run cannot answer: a binding to a role this same run creates (the role does not
//! exist yet, so the server answers 404 where the real run would check the role's rules). There the
//! escalation check is made here, as the server would make it: `bind` on the role, else every rule
//! of the role held by the caller (a SelfSubjectAccessReview per verb and resource).

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt, TryStreamExt};
use harden_cli::{Error, ErrorKind, Result};
use harden_kube::MANAGED_BY_LABEL;
use harden_kube::access::{self, Question};
use harden_kube::apply::{self, Object};
use harden_kube::error::{convert, from_kube, status_code};
use k8s_openapi::api::rbac::v1::PolicyRule;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

use crate::PLUGIN;

/// How many access reviews are in flight at once.
const CONCURRENT_REVIEWS: usize = 16;

/// What would stop the run, one line per object.
#[derive(Debug, Default)]
pub struct Problems {
    lines: Vec<String>,
    kind: Option<ErrorKind>,
}

impl Problems {
    pub fn add(&mut self, what: impl Into<String>, error: &Error) {
        self.kind.get_or_insert(error.kind);
        self.lines.push(format!("{}: {}", what.into(), error.message));
    }

    /// The refusal: nothing was changed, and why, object by object.
    pub fn into_error(self) -> Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        let kind = self.kind.unwrap_or(ErrorKind::Other);
        let hint = match kind {
            ErrorKind::Forbidden => {
                "ask a cluster admin for these rights, or pick another identity with --context/--as; \
                 `kubectl auth can-i --list` shows what you may do"
            }
            _ => "fix what is named above and re-run",
        };
        Err(Error::new(
            kind,
            format!("nothing was changed: checked before the first write:\n  {}", self.lines.join("\n  ")),
        )
        .with_hint(hint))
    }
}

/// Refuses when one of `namespaces` is locked for this plugin (an exam practice run).
pub async fn locks(client: &Client, namespaces: impl IntoIterator<Item = String>) -> Result<()> {
    let namespaces: BTreeSet<String> = namespaces.into_iter().filter(|ns| !ns.is_empty()).collect();
    for namespace in namespaces {
        if let Some(lock) = apply::namespace_lock(client, &namespace, PLUGIN).await? {
            return Err(lock.context("nothing was changed"));
        }
    }
    Ok(())
}

fn api_for(client: &Client, object: &Object) -> Api<DynamicObject> {
    match object.namespace() {
        Some(ns) => Api::namespaced_with(client.clone(), &ns, &object.resource),
        None => Api::all_with(client.clone(), &object.resource),
    }
}

/// The server's words for an RBAC escalation refusal, which list every rule not held, shortened.
pub fn explain(error: Error) -> Error {
    const MARK: &str = "is attempting to grant RBAC permissions not currently held:";
    let Some(at) = error.message.find(MARK) else { return error };
    let rules: Vec<&str> =
        error.message[at + MARK.len()..].lines().map(str::trim).filter(|l| l.starts_with('{')).collect();
    let example = rules.first().map(|r| format!(", e.g. {r}")).unwrap_or_default();
    let mut shortened = Error::new(
        error.kind,
        format!(
            "forbidden by the RBAC escalation check: you may grant only rights you hold (or with bind on the role, \
             escalate on roles); {} right(s) it grants are not yours{example}",
            rules.len()
        ),
    );
    shortened.hint = Some("ask a cluster admin to create it, or for the rights it grants".into());
    shortened
}

/// Sends every object of the plan as a server-side dry run: a create where it is absent (or will be
/// deleted first, `replaced`: the server then answers 409 after its escalation check), else the
/// server-side apply the run will send. `plan_roles` are the roles the plan itself creates.
pub async fn plan(
    client: &Client,
    objects: &[Object],
    replaced: &BTreeSet<String>,
    field_manager: &str,
    force_conflicts: bool,
    problems: &mut Problems,
) -> Result<()> {
    for object in objects {
        let api = api_for(client, object);
        let name = object.data.name_any();
        let mut data = object.data.clone();
        data.labels_mut().insert(MANAGED_BY_LABEL.to_string(), PLUGIN.to_string());
        let existing = match api.get_opt(&name).await {
            Ok(found) => found,
            // Not allowed to read it: the dry run's answer says more.
            Err(e) if status_code(&e) == Some(403) => None,
            Err(e) => return Err(from_kube(e, format!("reading {}", object.describe()))),
        };
        let replacing = replaced.contains(&object.describe());
        let answer = match &existing {
            Some(existing) if !replacing => {
                data.metadata.resource_version = existing.metadata.resource_version.clone();
                let mut params = PatchParams::apply(field_manager);
                params.force = force_conflicts;
                params.dry_run = true;
                api.patch(&name, &params, &Patch::Apply(&data)).await.map(|_| ())
            }
            _ => {
                let params = PostParams { dry_run: true, field_manager: Some(field_manager.to_string()) };
                match api.create(&params, &data).await {
                    // It exists and is deleted first: the 409 comes after the escalation check.
                    Err(e) if replacing && status_code(&e) == Some(409) => Ok(()),
                    other => other.map(|_| ()),
                }
            }
        };
        let Err(e) = answer else { continue };
        if status_code(&e) == Some(404)
            && let Some((kind, role_name, rules)) = role_made_by_plan(object, objects)
        {
            // The role does not exist yet: check what the server will check once it does.
            if let Some(why) = binding_escalates(client, object, &kind, &role_name, &rules).await? {
                problems.add(object.describe(), &why);
            }
            continue;
        }
        problems.add(object.describe(), &explain(convert(e)));
    }
    Ok(())
}

/// For a binding, the role it refers to when this plan creates it: (kind, name, rules).
fn role_made_by_plan(binding: &Object, objects: &[Object]) -> Option<(String, String, Vec<PolicyRule>)> {
    if !binding.resource.kind.ends_with("Binding") {
        return None;
    }
    let role_ref = binding.data.data.get("roleRef")?;
    let kind = role_ref.get("kind")?.as_str()?.to_string();
    let name = role_ref.get("name")?.as_str()?.to_string();
    let role = objects.iter().find(|o| {
        o.resource.kind == kind
            && o.data.name_any() == name
            && (kind == "ClusterRole" || o.namespace() == binding.namespace())
    })?;
    let rules: Vec<PolicyRule> = serde_json::from_value(role.data.data.get("rules")?.clone()).ok()?;
    Some((kind, name, rules))
}

/// What the server's escalation check will say about `binding` once its role exists: nothing when
/// the caller may `bind` the role or holds every rule of it.
async fn binding_escalates(
    client: &Client,
    binding: &Object,
    kind: &str,
    role: &str,
    rules: &[PolicyRule],
) -> Result<Option<Error>> {
    let namespace = binding.namespace();
    let plural = if kind == "ClusterRole" { "clusterroles" } else { "roles" };
    let bind = Question {
        verb: "bind".into(),
        group: crate::rbac::RBAC_GROUP.into(),
        resource: plural.into(),
        namespace: namespace.clone(),
        name: Some(role.to_string()),
        ..Default::default()
    };
    if access::may_i(client, &bind).await?.allowed {
        return Ok(None);
    }
    let missing = not_held(client, rules, namespace.as_deref()).await?;
    Ok(missing.first().map(|first| {
        Error::new(
            ErrorKind::Forbidden,
            format!(
                "forbidden by the RBAC escalation check: binding {kind} {role} needs bind on it, or every right it \
                 grants; {} of them are not yours, e.g. {first}",
                missing.len()
            ),
        )
    }))
}

/// The rights of `rules` the caller does not hold (`get pods`, `list deployments.apps`), in
/// `namespace` (cluster-wide when `None`). A verb allowed on every resource of every group is
/// asked once.
async fn not_held(client: &Client, rules: &[PolicyRule], namespace: Option<&str>) -> Result<Vec<String>> {
    let mut atoms: BTreeSet<(String, String, String)> = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    atoms.insert((verb.clone(), group.clone(), resource.clone()));
                }
            }
        }
    }
    let verbs: BTreeSet<String> = atoms.iter().map(|(v, _, _)| v.clone()).collect();
    let ask = |verb: String, group: String, resource: String| {
        let (resource, subresource) = match resource.split_once('/') {
            Some((r, s)) => (r.to_string(), Some(s.to_string())),
            None => (resource, None),
        };
        Question { verb, group, resource, subresource, namespace: namespace.map(str::to_string), name: None }
    };
    let everywhere: Vec<(String, bool)> = stream::iter(verbs.into_iter().map(|verb| {
        let question = ask(verb.clone(), "*".into(), "*".into());
        async move { Ok::<_, Error>((verb, access::may_i(client, &question).await?.allowed)) }
    }))
    .buffer_unordered(CONCURRENT_REVIEWS)
    .try_collect()
    .await?;
    let held_everywhere: BTreeSet<String> = everywhere.into_iter().filter(|(_, ok)| *ok).map(|(v, _)| v).collect();
    let to_ask: Vec<(String, String, String)> =
        atoms.into_iter().filter(|(verb, _, _)| !held_everywhere.contains(verb)).collect();
    let mut missing: Vec<String> = stream::iter(to_ask.into_iter().map(|(verb, group, resource)| {
        let question = ask(verb.clone(), group.clone(), resource.clone());
        async move {
            let allowed = access::may_i(client, &question).await?.allowed;
            let shown = if group.is_empty() { resource } else { format!("{resource}.{group}") };
            Ok::<_, Error>((!allowed).then(|| format!("{verb} {shown}")))
        }
    }))
    .buffer_unordered(CONCURRENT_REVIEWS)
    .try_filter_map(|x| async move { Ok(x) })
    .try_collect()
    .await?;
    missing.sort();
    Ok(missing)
}

/// Whether the caller may request tokens of the account (the last step of `create`).
pub async fn token(client: &Client, namespace: &str, name: &str, problems: &mut Problems) -> Result<()> {
    let question = Question {
        verb: "create".into(),
        group: String::new(),
        resource: "serviceaccounts".into(),
        subresource: Some("token".into()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
    };
    if !access::may_i(client, &question).await?.allowed {
        let error = Error::new(
            ErrorKind::Forbidden,
            "forbidden: you may not request its tokens (create serviceaccounts/token)",
        );
        problems.add(format!("the token of serviceaccount {namespace}/{name} (--no-token skips it)"), &error);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escalation_refusal_is_shortened_to_a_count_and_an_example() {
        let message = "clusterroles.rbac.authorization.k8s.io \"dash-user:d:dev\" is forbidden: user \"limited\" \
                       (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
                       {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}\n\
                       {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"list\"]}";
        let error = explain(Error::new(ErrorKind::Forbidden, format!("forbidden: {message}")));
        assert!(error.message.contains("2 right(s) it grants are not yours"), "{}", error.message);
        assert!(error.message.contains("e.g. {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}"));
        let other = explain(Error::new(ErrorKind::Forbidden, "forbidden: something else"));
        assert_eq!(other.message, "forbidden: something else");
    }

    #[test]
    fn problems_become_one_refusal_that_says_nothing_changed() {
        let mut problems = Problems::default();
        problems.add("serviceaccount/dev in namespace d", &Error::new(ErrorKind::Forbidden, "forbidden: no"));
        let error = problems.into_error().unwrap_err();
        assert_eq!(error.kind, ErrorKind::Forbidden);
        assert!(error.message.starts_with("nothing was changed"), "{}", error.message);
        assert!(error.message.contains("serviceaccount/dev in namespace d: forbidden: no"));
    }
}
