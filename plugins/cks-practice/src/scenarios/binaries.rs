//! Scenario 7: Several platform binaries, each with a published-style checksum file (`NAME.sha256`, the hex
//! digest alone, as dl.k8s.io publishes them); one was changed by one byte after its checksum was
//! published. Remove that one and keep the others. Graded by the sha256 of what is in the directory.

use std::path::Path;

use harden_cli::Result;
use serde_json::json;

use crate::grade::{Check, sha256_hex};
use crate::scenario::{Card, Context, File, Id, Need, Plan, Scenario, Step, build, sh};
use crate::seed::Rng;

const BINARIES: [&str; 7] =
    ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "kubeadm"];
const SIZE: usize = 48 * 1024;

/// The scenario, as `scenarios::ALL` registers it.
pub struct TamperedBinary;

const CARD: Card = Card::new(
    "tampered-binary",
    "Binaries: find and remove the one whose sha256 differs",
    6,
    &[Need::Api, Need::LocalFiles],
);

impl Scenario for TamperedBinary {
    fn card(&self) -> &'static Card {
        &CARD
    }

    fn plan(&self, ctx: &Context<'_>) -> Result<Plan> {
        Ok(plan(ctx))
    }

    fn check<'a>(
        &'a self,
        _client: &'a kube::Client,
        plan: &'a Plan,
        _address: Option<&'a str>,
    ) -> Step<'a, Vec<Check>> {
        Box::pin(async move { check(plan) })
    }
}

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "tampered-binary");
    let mut plan = Plan::new(Id(&TamperedBinary), ctx);
    let ns = rng.namespace();
    let mut names: Vec<&str> = Vec::new();
    while names.len() < 4 {
        let pick = BINARIES[rng.below(BINARIES.len() as u64) as usize];
        if !names.contains(&pick) {
            names.push(pick);
        }
    }
    let tampered = rng.below(names.len() as u64) as usize;
    for (i, name) in names.iter().enumerate() {
        let mut body = Vec::with_capacity(SIZE);
        body.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
        while body.len() < SIZE {
            body.extend_from_slice(&rng.next().to_le_bytes());
        }
        body.truncate(SIZE);
        let digest = sha256_hex(&body);
        if i == tampered {
            let at = 64 + rng.below((SIZE - 64) as u64) as usize;
            body[at] ^= 1 << rng.below(8);
        }
        plan.files.push(File { name: name.to_string(), contents: body, mode: 0o755 });
        plan.files.push(File {
            name: format!("{name}.sha256"),
            contents: format!("{digest}\n").into_bytes(),
            mode: 0o644,
        });
    }
    let dir = ctx.dir.display().to_string();
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![build::namespace(&ns, json!({}))];
    plan.names.insert("directory", dir.clone());
    plan.names.insert("binaries", names.join(","));
    plan.names.insert("tampered", names[tampered].to_string());
    plan.task = format!(
        "The directory {dir} holds the binaries {} and, next to each, its published\n\
         checksum NAME.sha256 (the sha256 digest alone, as dl.k8s.io publishes it).\n\
         One binary does not match its published checksum. Delete that binary (and only that one).",
        names.join(", ")
    );
    plan.read = vec!["https://kubernetes.io/releases/download/#verifying-binaries", "man sha256sum (--check)"];
    plan.skeleton =
        format!("cd {dir}\necho \"$(cat kubelet.sha256)  kubelet\" | sha256sum --check   # for each binary\nrm ???\n");
    let dirq = sh(&dir);
    plan.plugin_steps = vec![format!(
        "for f in {}; do kubectl verify-bin {dirq}/$f --checksum-file {dirq}/$f.sha256 || rm -v {dirq}/$f; done",
        names.join(" ")
    )];
    plan.manual = format!(
        "cd {dirq}\nfor f in {}; do\n  echo \"$(cat \"$f.sha256\")  $f\" | sha256sum --check || rm -v \"$f\"\ndone\n",
        names.join(" ")
    );
    // The names of what the task asks to remove are not in `task -o json`: finding it is the task.
    plan.names.remove("tampered");
    plan
}

pub fn check(plan: &Plan) -> Result<Vec<Check>> {
    let dir = Path::new(&plan.names["directory"]);
    let published: Vec<(&File, &File)> = plan.files.chunks(2).map(|pair| (&pair[0], &pair[1])).collect();
    let mut checks = Vec::new();
    for (binary, sum) in published {
        let want = String::from_utf8_lossy(&sum.contents).trim().to_string();
        let path = dir.join(&binary.name);
        let present = match harden_cli::files::read_limited(&path, "a binary of the run", 16 * 1024 * 1024) {
            Ok(bytes) => Some(sha256_hex(&bytes)),
            Err(e) if path.exists() => return Err(e),
            Err(_) => None,
        };
        let genuine = sha256_hex(&binary.contents) == want;
        let (check, passed, reason) = match (genuine, present) {
            (false, None) => {
                (format!("{} (does not match its checksum) is removed", binary.name), true, "it is gone".to_string())
            }
            (false, Some(got)) => (
                format!("{} (does not match its checksum) is removed", binary.name),
                got == want,
                if got == want {
                    "it now matches its published checksum (replaced by a genuine copy)".to_string()
                } else {
                    format!("it is still there: sha256 {got}, published {want}")
                },
            ),
            (true, None) => (
                format!("{} is kept", binary.name),
                false,
                format!("it was removed, but its sha256 matched the published {want}"),
            ),
            (true, Some(got)) => (
                format!("{} is kept", binary.name),
                got == want,
                if got == want {
                    format!("sha256 {got} matches")
                } else {
                    format!("it changed: sha256 {got}, published {want}")
                },
            ),
        };
        checks.push(Check::new(check, passed, reason));
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_binary_differs_by_one_byte() {
        let plan = plan(&Context { seed: 5, dir: Path::new("/tmp/x"), bench: None, variant: None });
        let mut differing = 0;
        for pair in plan.files.chunks(2) {
            let want = String::from_utf8_lossy(&pair[1].contents).trim().to_string();
            if sha256_hex(&pair[0].contents) != want {
                differing += 1;
            }
        }
        assert_eq!(differing, 1);
        assert!(!plan.names.contains_key("tampered"), "the answer is not given away");
    }
}
