//! Scenario 12: verify a downloaded binary of a given version. The run's directory holds `kubectl`,
//! said to be a given release, and the published checksums (bare hex, as dl.k8s.io serves
//! `kubectl.sha256` and `kubectl.sha512`) of that release and two others, offline. The seed decides
//! what the binary is: that release's genuine file, another release's genuine file, or that release
//! changed by one byte. The candidate records the binary's sha512 and the verdict in a file; graded
//! by what they record against what the files are (as scenario 7, by digests computed here).

use std::path::Path;

use harden_cli::Result;
use serde_json::json;
use sha2::{Digest, Sha512};

use crate::grade::{Check, sha256_hex as sha256};
use crate::scenario::{Card, Context, File, Id, Need, Plan, Scenario, Step, build, sh};
use crate::seed::Rng;

const SIZE: usize = 40 * 1024;
const BINARY: &str = "kubectl";
const ANSWER: &str = "answer.txt";

pub fn sha512(bytes: &[u8]) -> String {
    Sha512::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What the seed made of the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// The task's release, byte for byte.
    Genuine,
    /// Another release's genuine file.
    OtherRelease,
    /// The task's release with one byte changed.
    Tampered,
}

/// The file a release's build would be: an ELF header, the version string the build embeds
/// (NUL-delimited, twice, as kubectl carries it), the rest drawn from the seed.
fn release_body(rng: &mut Rng, version: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(SIZE);
    body.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
    let embedded = format!("\0{version}\0");
    while body.len() < SIZE {
        body.extend_from_slice(&rng.next().to_le_bytes());
        if body.len() == 8 * 1024 || body.len() == 24 * 1024 {
            body.extend_from_slice(embedded.as_bytes());
        }
    }
    body.truncate(SIZE);
    body
}

/// The seed's case, versions and files: (case, the task's version, the binary's own version, the
/// published versions, the binary, the published checksum files).
fn draw(seed: u64) -> (Case, String, String, Vec<File>) {
    let mut rng = Rng::new(seed, "verify-version");
    let patch = 2 + rng.below(4);
    let asked = format!("v1.37.{patch}");
    let previous = format!("v1.37.{}", patch - 1);
    let older = format!("v1.36.{}", 3 + rng.below(5));
    let case = match rng.below(3) {
        0 => Case::Genuine,
        1 => Case::OtherRelease,
        _ => Case::Tampered,
    };
    let other = if rng.below(2) == 0 { previous.clone() } else { older.clone() };
    let mut files = Vec::new();
    let mut binary = None;
    let mut versions = vec![asked.clone(), previous, older];
    versions.sort();
    for version in &versions {
        let mut body = release_body(&mut rng, version);
        files.push(File {
            name: format!("{version}-{BINARY}.sha256"),
            contents: format!("{}\n", sha256(&body)).into_bytes(),
            mode: 0o644,
        });
        files.push(File {
            name: format!("{version}-{BINARY}.sha512"),
            contents: format!("{}\n", sha512(&body)).into_bytes(),
            mode: 0o644,
        });
        let chosen = match case {
            Case::Genuine | Case::Tampered => *version == asked,
            Case::OtherRelease => *version == other,
        };
        if chosen {
            if case == Case::Tampered {
                let at = 64 + rng.below(4096) as usize;
                body[at] ^= 1 << rng.below(8);
            }
            binary = Some(body);
        }
    }
    let own = if case == Case::OtherRelease { other } else { asked.clone() };
    let binary = File { name: BINARY.to_string(), contents: binary.unwrap_or_default(), mode: 0o755 };
    files.insert(0, binary);
    (case, asked, own, files)
}

/// The seed's case (for tests choosing seeds).
#[cfg(test)]
fn case_of(seed: u64) -> Case {
    draw(seed).0
}

/// The scenario, as `scenarios::ALL` registers it.
pub struct VerifyVersion;

const CARD: Card = Card::new(
    "verify-version",
    "Binaries: is a downloaded binary the genuine release of the version you were told?",
    6,
    &[Need::Api, Need::LocalFiles],
);

impl Scenario for VerifyVersion {
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
    let mut rng = Rng::new(ctx.seed, "verify-version-names");
    let mut plan = Plan::new(Id(&VerifyVersion), ctx);
    let ns = rng.namespace();
    let (_, asked, _, files) = draw(ctx.seed);
    plan.files = files;
    let dir = ctx.dir.display().to_string();
    let dirq = sh(&dir);
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![build::namespace(&ns, json!({}))];
    plan.names.insert("directory", dir.clone());
    plan.names.insert("version", asked.clone());
    plan.names.insert("answerFile", ANSWER.to_string());
    plan.task = format!(
        "{dir}/{BINARY} was downloaded as the Kubernetes {asked} release of {BINARY} for linux/amd64.\n\
         The published checksums of {asked} and two other releases are in {dir}, as dl.k8s.io serves them at\n\
         https://dl.k8s.io/release/VERSION/bin/linux/amd64/{BINARY}.sha256 and .sha512 (the digest alone),\n\
         named VERSION-{BINARY}.sha256 and VERSION-{BINARY}.sha512.\n\
         Find out whether {dir}/{BINARY} is the genuine {asked} release. Write {dir}/{ANSWER} with two lines:\n\
         the sha512 digest of {dir}/{BINARY} (hex), then GENUINE or NOT-GENUINE. Leave the binary as it is."
    );
    plan.read = vec!["https://kubernetes.io/releases/download/#verifying-binaries", "man sha512sum (--check)"];
    plan.skeleton = format!(
        "cd {dirq}\nsha512sum {BINARY}                                  # line 1\n\
         echo \"$(cat ???-{BINARY}.sha512)  {BINARY}\" | sha512sum --check   # the version you were told\n"
    );
    plan.plugin_steps = vec![format!(
        "cd {dirq} && sha512sum {BINARY} | cut -d' ' -f1 > {ANSWER} && {{ kubectl verify-bin ./{BINARY} --version {asked} \
         --checksum-file {asked}-{BINARY}.sha512 >&2 && echo GENUINE || {{ [ $? -eq 1 ] && echo NOT-GENUINE; }}; }} >> {ANSWER} \
         && cat {ANSWER}"
    )];
    plan.manual = format!(
        "cd {dirq}\nsha512sum {BINARY} | cut -d' ' -f1 > {ANSWER}\n\
         if echo \"$(cat {asked}-{BINARY}.sha512)  {BINARY}\" | sha512sum --check; then\n  echo GENUINE >> {ANSWER}\nelse\n  \
         echo NOT-GENUINE >> {ANSWER}\nfi\ncat {ANSWER}\n"
    );
    plan
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - a genuine binary of another release accepted (its digest matches a published checksum, of
///   another version than the task's);
/// - a changed binary accepted, or the genuine one rejected;
/// - the digest of the wrong algorithm recorded (sha256 where sha512 is asked), or of another file;
/// - the binary changed or removed.
pub fn check(plan: &Plan) -> Result<Vec<Check>> {
    let dir = Path::new(&plan.names["directory"]);
    let (case, asked, own, _) = draw(plan.seed);
    let binary = &plan.files[0];
    let want512 = sha512(&binary.contents);
    let mut checks = Vec::new();
    let path = dir.join(BINARY);
    let present = match harden_cli::files::read_limited(&path, "the run's binary", 16 * 1024 * 1024) {
        Ok(bytes) => Some(sha256(&bytes)),
        Err(e) if path.exists() => return Err(e),
        Err(_) => None,
    };
    checks.push(match present {
        Some(got) if got == sha256(&binary.contents) => {
            Check::new(format!("{BINARY} is left as it is"), true, "its sha256 is what was put there")
        }
        Some(got) => Check::new(format!("{BINARY} is left as it is"), false, format!("it changed: sha256 {got}")),
        None => Check::new(format!("{BINARY} is left as it is"), false, "it was removed"),
    });
    let answer_path = dir.join(ANSWER);
    let text = match harden_cli::files::read_limited(&answer_path, "the answer", 64 * 1024) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if answer_path.exists() => return Err(e),
        Err(_) => String::new(),
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (digest, verdict) = (lines.next().unwrap_or_default(), lines.next().unwrap_or_default());
    let digest = digest.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
    let check = format!("{ANSWER} line 1 is the sha512 digest of {BINARY}");
    checks.push(if text.is_empty() {
        Check::new(check, false, format!("{} has no answer", answer_path.display()))
    } else if digest == want512 {
        Check::new(check, true, "it is")
    } else if digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()) {
        let what = if digest == sha256(&binary.contents) { "the binary's sha256" } else { "a 64-digit digest" };
        Check::new(check, false, format!("it is {what}: sha512 has 128 hex digits (sha512sum)"))
    } else {
        Check::new(check, false, format!("{digest:?} is not the binary's sha512"))
    });
    let check = format!("{ANSWER} line 2 says whether {BINARY} is the genuine {asked}");
    let published = |version: &str| {
        plan.files
            .iter()
            .find(|f| f.name == format!("{version}-{BINARY}.sha512"))
            .map(|f| String::from_utf8_lossy(&f.contents).trim().to_string())
            .unwrap_or_default()
    };
    let truth = case == Case::Genuine;
    let said = match verdict {
        "GENUINE" => Some(true),
        "NOT-GENUINE" => Some(false),
        _ => None,
    };
    checks.push(match said {
        None => Check::new(check, false, format!("line 2 is {verdict:?}, neither GENUINE nor NOT-GENUINE")),
        Some(said) if said == truth => Check::new(check, true, "it does"),
        Some(_) => {
            let why = match case {
                Case::Genuine => format!("it is: its sha512 is {asked}'s published {}", published(&asked)),
                Case::OtherRelease => format!(
                    "it is not: its sha512 is the published checksum of {own}, a genuine release of another version; \
                     {asked}'s published sha512 is {}",
                    published(&asked)
                ),
                Case::Tampered => {
                    format!("it is not: its sha512 matches no published checksum ({asked}'s is {})", published(&asked))
                }
            };
            Check::new(check, false, why)
        }
    });
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds the integration tests use, and what each makes of the binary.
    #[test]
    fn each_case_is_what_its_digests_say() {
        for seed in 1..60 {
            let (case, asked, own, files) = draw(seed);
            let binary = sha512(&files[0].contents);
            let matches: Vec<&str> = files
                .iter()
                .filter(|f| String::from_utf8_lossy(&f.contents).trim() == binary)
                .map(|f| f.name.as_str())
                .collect();
            match case {
                Case::Genuine => assert_eq!(matches, [format!("{asked}-kubectl.sha512")]),
                Case::OtherRelease => {
                    assert_ne!(own, asked);
                    assert_eq!(matches, [format!("{own}-kubectl.sha512")]);
                }
                Case::Tampered => assert!(matches.is_empty(), "{matches:?}"),
            }
            let embedded = format!("\0{own}\0");
            assert!(files[0].contents.windows(embedded.len()).any(|w| w == embedded.as_bytes()), "{seed}");
        }
        assert_eq!(case_of(1201), Case::Genuine);
        assert_eq!(case_of(1202), Case::OtherRelease);
        assert_eq!(case_of(1204), Case::Tampered);
    }
}
