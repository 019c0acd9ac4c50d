//! `--show-manual`: the steps a creating command replaces, as a candidate types them in the exam
//! (where no plugin is installed): the YAML to save, then the `kubectl` (and `openssl`) lines.
//!
//! Nothing is changed and no cluster is needed for the steps themselves; the plugin still resolves
//! what only the cluster knows (a namespace selector), so the steps are the ones it would apply.

use clap::Args;
use harden_cli::{Error, Result};
use kube::ResourceExt;

use crate::MANAGED_BY_LABEL;
use crate::apply::Object;
use crate::flags::{ApplyArgs, DryRun};
use crate::print;

/// The flag, for the commands that create objects.
#[derive(Args, Debug, Clone, Default)]
pub struct ManualArgs {
    /// Print the manual steps this command replaces (YAML to save, kubectl and openssl lines) and change nothing.
    #[arg(long)]
    pub show_manual: bool,
}

impl ManualArgs {
    /// The apply flags that make no sense beside `--show-manual` are errors, not ignored.
    pub fn validate(&self, apply: &ApplyArgs) -> Result<()> {
        if !self.show_manual {
            return Ok(());
        }
        let clash = if apply.output.is_some() {
            Some("-o/--output")
        } else if apply.dry_run != DryRun::None {
            Some("--dry-run")
        } else if apply.field_manager.is_some() {
            Some("--field-manager")
        } else if apply.force_conflicts {
            Some("--force-conflicts")
        } else if apply.overwrite {
            Some("--overwrite")
        } else {
            None
        };
        match clash {
            Some(flag) => Err(Error::invalid(format!(
                "{flag} cannot be combined with --show-manual, which prints the steps and changes nothing"
            ))
            .with_hint(format!("drop {flag}, or drop --show-manual to run the command"))),
            None => Ok(()),
        }
    }
}

/// The manual steps for `objects`: each one saved to `<name>.yaml` and applied with
/// `kubectl apply -f`, with `before` (e.g. `openssl req ...`) and `after` (e.g.
/// `kubectl create token ...`) around them. Objects are shown as a person writes them: without
/// the label this suite uses to recognise its own objects.
pub fn steps(objects: &[Object], before: &[String], after: &[String]) -> Result<String> {
    let mut out = String::from("# The manual steps this command replaces (nothing was changed):\n");
    for line in before {
        out.push_str(line);
        out.push('\n');
    }
    let mut used: Vec<String> = Vec::new();
    for object in objects {
        let mut data = object.data.clone();
        data.labels_mut().remove(MANAGED_BY_LABEL);
        if data.metadata.labels.as_ref().is_some_and(|labels| labels.is_empty()) {
            data.metadata.labels = None;
        }
        let mut file = format!("{}.yaml", data.name_any());
        if used.contains(&file) {
            // The same name in two namespaces (one policy per namespace): one file each.
            file = format!("{}-{}.yaml", data.name_any(), data.namespace().unwrap_or_default());
        }
        used.push(file.clone());
        let yaml = print::yaml_stream(std::slice::from_ref(&data))?;
        out.push_str(&format!("cat > {file} <<'EOF'\n{yaml}EOF\nkubectl apply -f {file}\n"));
    }
    for line in after {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use kube::api::ObjectMeta;

    use super::*;

    fn account(name: &str, namespace: &str) -> Object {
        let mut labels = std::collections::BTreeMap::new();
        labels.insert(MANAGED_BY_LABEL.to_string(), "dash-user".to_string());
        Object::from_typed(&ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn steps_save_each_object_and_apply_it_without_our_label() {
        let text = steps(
            &[account("bob", "a"), account("bob", "b")],
            &["# first".into()],
            &["kubectl create token bob -n a".into()],
        )
        .unwrap();
        assert!(text.contains("cat > bob.yaml <<'EOF'\n"), "{text}");
        assert!(text.contains("kubectl apply -f bob.yaml\n"), "{text}");
        assert!(text.contains("cat > bob-b.yaml <<'EOF'\n"), "{text}");
        assert!(!text.contains(MANAGED_BY_LABEL), "{text}");
        assert!(!text.contains("labels"), "{text}");
        assert!(text.find("# first").unwrap() < text.find("cat > bob.yaml").unwrap());
        assert!(text.trim_end().ends_with("kubectl create token bob -n a"), "{text}");
    }

    #[test]
    fn apply_flags_beside_show_manual_are_errors() {
        let manual = ManualArgs { show_manual: true };
        let ok = ApplyArgs {
            output: None,
            dry_run: DryRun::None,
            field_manager: None,
            force_conflicts: false,
            overwrite: false,
        };
        assert!(manual.validate(&ok).is_ok());
        let err = manual.validate(&ApplyArgs { dry_run: DryRun::Server, ..ok.clone() }).unwrap_err();
        assert!(err.to_string().contains("--dry-run cannot be combined with --show-manual"), "{err}");
        assert!(manual.validate(&ApplyArgs { overwrite: true, ..ok.clone() }).is_err());
        assert!(ManualArgs::default().validate(&ApplyArgs { overwrite: true, ..ok }).is_ok());
    }
}
