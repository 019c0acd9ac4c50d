//! What a run that did not apply everything tells the user: which objects were not applied, what
//! an all-or-nothing plan rolled back, and the error the command exits with. Kept apart from the
//! writes so that the wording of a partial run is decided in one place.

use harden_cli::output;
use harden_cli::{Error, ErrorKind};
use kube::api::{DeleteParams, Preconditions};
use kube::{Client, ResourceExt};

use super::{Action, Applied, Applier, Object, Plan, api_for, describe};
use crate::error::{convert, status_code};
use crate::flags::DryRun;

/// One object that was not applied, and why.
pub(super) struct NotApplied {
    pub(super) shown: String,
    pub(super) outcome: &'static str,
    pub(super) error: Error,
}

/// What rolling back an all-or-nothing plan did.
#[derive(Debug, Default)]
pub(super) struct RolledBack {
    /// Created by this run and deleted again.
    deleted: Vec<String>,
    /// Created by this run; deleting it failed.
    left: Vec<String>,
    /// Changed by this run; the change stays.
    changed: Vec<String>,
}

impl RolledBack {
    /// One sentence on what the cluster holds of this run now.
    fn summary(&self) -> String {
        let mut said = Vec::new();
        if !self.deleted.is_empty() {
            said.push(format!("rolled back: {} deleted again", self.deleted.join(" and ")));
        }
        if !self.left.is_empty() {
            said.push(format!(
                "{} could not be rolled back and {} left in place (delete {} with kubectl)",
                self.left.join(" and "),
                if self.left.len() == 1 { "is" } else { "are" },
                if self.left.len() == 1 { "it" } else { "them" }
            ));
        }
        if !self.changed.is_empty() {
            said.push(format!(
                "{} {} changed by this run and {} changed",
                self.changed.join(" and "),
                if self.changed.len() == 1 { "was" } else { "were" },
                if self.changed.len() == 1 { "stays" } else { "stay" }
            ));
        }
        if said.is_empty() {
            return "nothing was changed".to_string();
        }
        if self.left.is_empty() && self.changed.is_empty() {
            said.push("nothing this run created is left".into());
        }
        said.join("; ")
    }
}

/// `1 object`, `3 objects`.
fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

impl Applier {
    /// The error of a run stopped by SIGINT/SIGTERM: what was done, rolled back and skipped.
    pub(super) fn interrupted(
        &self,
        signal: &str,
        applied: &[Applied],
        failed: &[NotApplied],
        skipped: &[String],
        rolled_back: Option<&RolledBack>,
    ) -> Error {
        let mut said = vec![format!("interrupted by {signal}")];
        if skipped.is_empty() && failed.is_empty() {
            said.push(format!("it came after the last write: every object above was {}", self.applied_word()));
            return Error::other(said.join("; ")).with_hint(
                "nothing is half-done; re-run the same command for what it had left to do after the objects",
            );
        }
        if !skipped.is_empty() {
            said.push(format!("{} not applied: {}", count(skipped.len(), "object"), skipped.join(", ")));
        }
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(|f| f.shown.as_str()).collect();
            said.push(format!("failed: {}", names.join(", ")));
        }
        said.push(match rolled_back {
            Some(rolled_back) => rolled_back.summary(),
            None if self.args.dry_run != DryRun::None => "a dry run stores nothing".into(),
            None if applied.is_empty() => "nothing was changed".into(),
            None => "what was applied above stays as it is".into(),
        });
        Error::other(said.join("; ")).with_hint("re-run the same command to finish: it reads the cluster again")
    }

    fn applied_word(&self) -> &'static str {
        if self.args.dry_run == DryRun::None { "applied" } else { "accepted by the server (nothing stored)" }
    }

    /// The error of a run where some objects were not applied. `others` counts the objects that
    /// were applied or skipped; `rolled_back` says what an all-or-nothing plan undid.
    pub(super) fn failure(&self, failed: &[NotApplied], others: usize, rolled_back: Option<&RolledBack>) -> Error {
        let total = failed.len() + others;
        let mut error = match failed {
            [one] => {
                let mut error = one.error.clone();
                error.message = format!("{} {}: {}", one.shown, one.outcome, one.error.message);
                error
            }
            _ => {
                let kinds: Vec<String> = failed.iter().map(|f| format!("{} ({})", f.shown, f.outcome)).collect();
                Error::new(
                    failed.iter().map(|f| f.error.kind).next().unwrap_or(ErrorKind::Other),
                    format!("{} of {total} objects were not applied: {}", failed.len(), kinds.join(", ")),
                )
                .with_hint("each one's reason is printed above; fix them and re-run")
            }
        };
        if total > 1 {
            // What became of the rest of the plan belongs in the message: it is what the cluster now holds.
            let rest = match (self.plan, rolled_back) {
                (Plan::AllOrNothing, Some(rolled_back)) => rolled_back.summary(),
                (Plan::AllOrNothing, None) => "a dry run stores nothing".to_string(),
                (Plan::Independent, _) if others == 0 => "nothing was applied".to_string(),
                (Plan::Independent, _) => "what was applied stays as it is".to_string(),
            };
            error.message = format!("{}; {rest}", error.message);
            if error.hint.is_none() {
                error.hint = Some("fix the cause above and re-run".into());
            }
        }
        error
    }

    /// Deletes the objects this run created (newest first), and names the ones it changed.
    pub(super) async fn roll_back(
        &self,
        client: &Client,
        created: &[(Object, Applied)],
        applied: &[Applied],
        why: &str,
    ) -> RolledBack {
        let mut rolled_back = RolledBack::default();
        for (object, done) in created.iter().rev() {
            let api = api_for(client.clone(), object);
            let uid = done.object.metadata.uid.clone();
            let params = DeleteParams {
                preconditions: Some(Preconditions { uid, resource_version: None }),
                ..DeleteParams::default()
            };
            match api.delete(&object.data.name_any(), &params).await {
                Ok(_) => {
                    output::eline(format!("{} deleted (rolled back: {why})", object.describe()));
                    rolled_back.deleted.push(object.describe());
                }
                // Already gone (someone deleted it): nothing of this run is left either way.
                Err(e) if status_code(&e) == Some(404) => rolled_back.deleted.push(object.describe()),
                Err(e) => {
                    output::eline(format!(
                        "{} was left in place: rolling it back failed: {}; remove it with kubectl delete {}{}",
                        object.describe(),
                        convert(e).message,
                        object.display_name(),
                        object.namespace().map(|ns| format!(" -n {ns}")).unwrap_or_default()
                    ));
                    rolled_back.left.push(object.describe());
                }
            }
        }
        for done in applied.iter().filter(|a| a.action == Action::Configured) {
            output::eline(format!(
                "{} was changed by this run and is left changed (its earlier content is not kept)",
                describe(&done.name, done.namespace.clone())
            ));
            rolled_back.changed.push(describe(&done.name, done.namespace.clone()));
        }
        rolled_back
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::ApplyArgs;

    fn not_applied(shown: &str) -> NotApplied {
        NotApplied { shown: shown.into(), outcome: "failed", error: Error::other("denied by an admission policy") }
    }

    /// Issue 25: after a rollback the hint said "what was applied stays as it is".
    #[test]
    fn a_failure_says_what_was_rolled_back_or_what_stays() {
        let live = ApplyArgs::default();
        let plan = Applier::new("kubectl-test", live.clone(), None).all_or_nothing();
        let rolled = RolledBack {
            deleted: vec![
                "gateway.gateway.networking.k8s.io/web in namespace t75".into(),
                "secret/s in namespace t75".into(),
            ],
            ..RolledBack::default()
        };
        let error = plan.failure(&[not_applied("httproute.gateway.networking.k8s.io/a")], 2, Some(&rolled));
        assert!(
            error.message.ends_with(
                "rolled back: gateway.gateway.networking.k8s.io/web in namespace t75 and secret/s in namespace t75 \
                 deleted again; nothing this run created is left"
            ),
            "{error}"
        );
        assert!(!error.to_string().contains("stays as it is"), "{error}");
        let partly =
            RolledBack { left: vec!["secret/s".into()], changed: vec!["gateway/web".into()], ..Default::default() };
        let text = partly.summary();
        assert!(text.contains("secret/s could not be rolled back and is left in place"), "{text}");
        assert!(text.contains("gateway/web was changed by this run and stays changed"), "{text}");
        assert!(!text.contains("nothing this run created is left"), "{text}");
        assert_eq!(RolledBack::default().summary(), "nothing was changed");

        let independent = Applier::new("kubectl-test", live, None);
        let error = independent.failure(&[not_applied("a"), not_applied("b")], 1, None);
        assert!(error.message.contains("2 of 3 objects were not applied") && error.message.ends_with("stays as it is"));
        let dry = ApplyArgs { dry_run: DryRun::Server, ..Default::default() };
        let error = Applier::new("kubectl-test", dry, None).all_or_nothing().failure(&[not_applied("a")], 1, None);
        assert!(error.message.ends_with("a dry run stores nothing"), "{error}");
    }
}
