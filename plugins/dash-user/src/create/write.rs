//! The writes of `create` and the checks made just before them: every write first as a
//! server-side dry run, then bindings replaced, the plan applied all-or-nothing and what is no
//! longer wanted pruned, each change said as it is made.

use std::collections::BTreeSet;

use harden_cli::error::Result;
use harden_kube::apply::{Applier, Object};
use harden_kube::flags::DryRun;
use kube::Client;

use super::CreateCmd;
use crate::owned::{self, Owned};
use crate::rbac::{Scope, UserSpec};
use crate::{PLUGIN, inherited, preflight};

impl CreateCmd {
    /// Every check that can be made before the first write: the exam lock of every namespace this
    /// run touches, then each write as a server-side dry run (rights, the RBAC escalation check,
    /// admission), and the right to request the token.
    pub(super) async fn preflight(
        &self,
        client: &Client,
        spec: &UserSpec,
        objects: &[Object],
        replace: &[Owned],
        prune: &[Owned],
        to_prune: &[&inherited::Existing],
    ) -> Result<()> {
        let mut namespaces = vec![spec.namespace.clone()];
        if let Scope::Namespaces(list) = &spec.scope {
            namespaces.extend(list.iter().cloned());
        }
        namespaces.extend(replace.iter().chain(prune).filter_map(|o| o.namespace.clone()));
        namespaces.extend(to_prune.iter().filter_map(|e| e.namespace.clone()));
        preflight::locks(client, namespaces).await?;

        let mut problems = preflight::Problems::default();
        owned::check_deletes(client, replace, &mut problems).await;
        let replaced: BTreeSet<String> = replace.iter().map(Owned::describe).collect();
        let manager = self.field_manager.clone().unwrap_or_else(|| PLUGIN.to_string());
        preflight::plan(client, objects, &replaced, &manager, self.force_conflicts, &mut problems).await?;
        owned::check_deletes(client, prune, &mut problems).await;
        for existing in to_prune {
            if let Err(e) = inherited::prune(client, existing, &spec.namespace, &spec.name, DryRun::Server).await {
                problems.add(existing.shown(), &e);
            }
        }
        if self.prints_token() {
            preflight::token(client, &spec.namespace, &spec.name, &mut problems).await?;
        }
        problems.into_error()
    }

    /// The writes, in order: our bindings whose role changed are deleted (a roleRef cannot change),
    /// the plan is applied all-or-nothing (the deleted bindings are created again if it fails),
    /// then what is no longer wanted is pruned. Every change is said as it is made; a failure names
    /// what was changed before it.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write(
        &self,
        client: &Client,
        spec: &UserSpec,
        applier: &Applier,
        objects: Vec<Object>,
        replace: &[Owned],
        prune: &[Owned],
        to_prune: &[&inherited::Existing],
        say: &dyn Fn(String),
    ) -> Result<()> {
        // From the first delete on, SIGINT/SIGTERM are recorded, not fatal: a binding deleted to be
        // made again must not be left deleted. The Applier then stops before its first write and the
        // deleted bindings are restored below; the exit status is the signal's.
        let _critical = harden_cli::interrupt::Critical::enter();
        let mut kept = Vec::new();
        if self.dry_run.strategy == DryRun::None {
            for object in replace {
                if let Some(copy) = owned::keep(client, object).await? {
                    kept.push(copy);
                }
            }
        }
        let mut deleted: Vec<&Object> = Vec::new();
        let mut replace_error = None;
        for object in replace {
            match owned::delete_one(client, object, self.dry_run.strategy).await {
                Ok(harden_kube::apply::Deleted::Deleted) => {
                    say(object.line("deleted (its role changed)", self.dry_run.strategy));
                    deleted.extend(kept.iter().filter(|k| k.describe() == object.describe()));
                }
                Ok(harden_kube::apply::Deleted::NotFound) => {}
                Err(e) => {
                    replace_error = Some(e.context(format!("deleting {}", object.describe())));
                    break;
                }
            }
        }
        // A server dry run deleted nothing: the replaced bindings' new versions were checked by the
        // preflight as creates, and are said here rather than sent again over the old ones.
        let replaced: BTreeSet<String> = replace.iter().map(Owned::describe).collect();
        let objects: Vec<Object> = if self.dry_run.strategy == DryRun::Server {
            let (again, rest): (Vec<Object>, Vec<Object>) =
                objects.into_iter().partition(|o| replaced.contains(&o.describe()));
            for object in again {
                say(harden_kube::apply::outcome_line(
                    &object.display_name(),
                    object.namespace().as_deref(),
                    "created",
                    " (server dry run)",
                    None,
                ));
            }
            rest
        } else {
            objects
        };
        let applied = match replace_error {
            Some(e) => Err(e),
            None => applier.run(objects).await.map(|_| ()),
        };
        if let Err(e) = applied {
            let mut restored = Vec::new();
            for copy in deleted {
                let line = owned::restore(client, copy).await;
                harden_cli::output::eline(&line);
                restored.push(line);
            }
            return Err(if restored.is_empty() {
                e
            } else {
                e.context(format!(
                    "creating user {}/{} failed after replacing its binding(s) ({})",
                    spec.namespace,
                    spec.name,
                    restored.join("; ")
                ))
            });
        }
        let done = |what: &str| format!("user {}/{} was {what}, but the rest failed", spec.namespace, spec.name);
        owned::delete_all(client, prune, self.dry_run.strategy, "pruned (no longer part of this user)", say)
            .await
            .map_err(|e| e.context(done("created or updated (the lines above)")))?;
        for (i, existing) in to_prune.iter().enumerate() {
            match inherited::prune(client, existing, &spec.namespace, &spec.name, self.dry_run.strategy).await {
                Ok(line) => say(line),
                Err(e) => {
                    let left: Vec<String> = to_prune[i..].iter().map(|e| e.shown()).collect();
                    return Err(e.context(done("created or updated (the lines above)")).with_hint(format!(
                        "{} still grant(s) it more than asked: re-run with --prune-bindings, or remove it with kubectl",
                        left.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}
