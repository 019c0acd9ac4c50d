//! What `create` needs the user's word for before it writes (`--yes`, `--overwrite`,
//! `--prune-bindings`) and what no flag fixes, decided in one place so that one refusal names every
//! flag the run needs.

use harden_cli::error::{Error, ErrorKind, Result};
use harden_cli::prompt;

use super::{Consents, CreateCmd};
use crate::PLUGIN;
use crate::inherited;
use crate::invocation::rerun_command;

impl CreateCmd {
    /// Decides, in one place, what the run needs: `--yes` for a role that allows everything,
    /// `--overwrite` for objects made by others, `--prune-bindings` for bindings that grant more
    /// than asked; and what no flag fixes (a group's binding, a right the authorizer gives from
    /// elsewhere). One refusal names all of them and the command that proceeds, before anything is
    /// written (exit 2 when the confirmation is among them, as for any missing input; else 1). At a
    /// terminal, the confirmations are asked instead. Returns the bindings to prune.
    pub(super) fn settle_consents<'a>(
        &self,
        who: &str,
        found: &'a [inherited::Existing],
        consents: Consents,
    ) -> Result<Vec<&'a inherited::Existing>> {
        let more: Vec<&inherited::Existing> = found.iter().filter(|e| !e.beyond.is_empty()).collect();
        let (groups, prunable): (Vec<&inherited::Existing>, Vec<&inherited::Existing>) =
            more.into_iter().partition(|e| e.through_group().is_some());
        let mut missing: Vec<&str> = Vec::new();
        let mut reasons: Vec<String> = Vec::new();
        let mut blockers: Vec<String> = Vec::new();
        if let Some(question) = &consents.admin
            && !self.yes
        {
            missing.push("--yes");
            reasons.push(format!("refusing without confirmation: {question} (--yes confirms)"));
        }
        if !consents.foreign.is_empty() && !self.overwrite {
            missing.push("--overwrite");
            for object in &consents.foreign {
                reasons.push(format!("{object} exists and was not created by {PLUGIN} (--overwrite takes it over)"));
            }
        }
        let names: Vec<String> = prunable.iter().map(|e| e.shown()).collect();
        if !prunable.is_empty() && !self.prune_bindings {
            missing.push("--prune-bindings");
            reasons.push(format!(
                "{who} would have more rights than asked: {} grant(s) it more (--prune-bindings removes the account \
                 from them)",
                names.join(", ")
            ));
        }
        for group in &groups {
            blockers.push(format!(
                "{who} would have more rights than asked: {} gives them to every account of group {}; it cannot be \
                 pruned for one account",
                group.shown(),
                group.through_group().unwrap_or_default()
            ));
        }
        blockers.extend(consents.unexplained.iter().cloned());

        // At a terminal the confirmations are asked, when nothing else stops the run.
        let askable = missing.iter().all(|f| *f == "--yes" || *f == "--prune-bindings");
        if !missing.is_empty() && blockers.is_empty() && askable && prompt::interactive() {
            if let Some(question) = consents.admin.as_ref().filter(|_| !self.yes) {
                prompt::confirm(question, false)?;
            }
            if !prunable.is_empty() && !self.prune_bindings {
                prompt::confirm(&format!("remove {who} from {}?", names.join(", ")), false)?;
            }
            return Ok(prunable);
        }
        if missing.is_empty() && blockers.is_empty() {
            return Ok(prunable);
        }
        let rerun = if missing.is_empty() {
            String::new()
        } else {
            format!("re-run with {}: {}", missing.join(" "), rerun_command(&missing))
        };
        let hint = match (blockers.is_empty(), rerun.is_empty()) {
            (true, _) => rerun,
            (false, true) => {
                "narrow or delete that grant with kubectl (kubectl get clusterrolebindings,rolebindings -A \
                              -o wide shows them), then re-run"
                    .to_string()
            }
            (false, false) => format!(
                "narrow or delete that grant with kubectl (kubectl get clusterrolebindings,rolebindings -A -o wide \
                 shows them), then {rerun}"
            ),
        };
        let lines: Vec<String> = blockers.into_iter().chain(reasons).collect();
        let kind = if missing.contains(&"--yes") { ErrorKind::MissingInput } else { ErrorKind::Conflict };
        Err(Error::new(kind, format!("nothing was changed:\n  {}", lines.join("\n  "))).with_hint(hint))
    }
}
