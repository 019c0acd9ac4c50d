//! `kubectl cks-practice` at a terminal: pick a scenario, start it, read the task, check, ask for a
//! hint, and end with the commands that do the same without questions.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Input, Select};
use harden_cli::error::{Error, Outcome, Result};
use harden_cli::output;
use harden_kube::client::connect;
use harden_kube::flags::KubeArgs;

use crate::practice::{checks_text, grade, hint_text, solution_text, task_text};
use crate::run;
use crate::scenario::{self, Context, Id, StartFlags};
use crate::scenarios::ALL;

fn failed(err: dialoguer::Error) -> Error {
    Error::other(format!("reading the answer from the terminal failed: {err}"))
}

/// `kubectl cks-practice` without a command: the wizard at a terminal, the usage without one.
pub struct WizardCmd {
    /// The plugin's help, shown when there is no terminal to ask.
    pub usage: String,
}

impl harden_cli::command::Command for WizardCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    async fn run(self) -> Result<Outcome> {
        if !harden_cli::prompt::interactive() {
            output::eprint(&format!("{}\n", self.usage));
            return Err(Error::missing("no command given, and no terminal to ask"));
        }
        run().await
    }
}

async fn run() -> Result<Outcome> {
    let theme = ColorfulTheme::default();
    let runnable: Vec<Id> = ALL.to_vec();
    let items: Vec<String> = runnable
        .iter()
        .map(|id| {
            let info = id.info();
            format!("{}. {} - {} ({}m)", info.number, id.name(), info.topic, info.minutes)
        })
        .collect();
    let pick =
        Select::with_theme(&theme).with_prompt("Scenario").items(&items).default(0).interact().map_err(failed)?;
    let id = runnable[pick];
    let seed: u64 = Input::with_theme(&theme)
        .with_prompt("Seed (names are drawn from it)")
        .default(crate::seed::random_seed())
        .interact_text()
        .map_err(failed)?;
    // One image for the run's pods (scenario 8's kube-bench image is chosen as `start` chooses it).
    let image: String = if let Some(default) = id.0.pods_image() {
        Input::with_theme(&theme)
            .with_prompt(format!(
                "Image of the scenario's pods (Enter: {default}; an offline cluster needs one it has)"
            ))
            .allow_empty(true)
            .interact_text()
            .map_err(failed)?
    } else {
        String::new()
    };
    let image = Some(image.trim()).filter(|i| !i.is_empty());
    let kube = connect(&KubeArgs::default()).await?;
    let name = scenario::run_name(id, seed);
    let bench = id.0.node(&kube, &StartFlags::default()).await?;
    let mut plan =
        id.plan(&Context { seed, dir: &scenario::default_dir(&name), bench: bench.as_ref(), variant: None })?;
    plan.choose_images(image)?;
    let wait = std::time::Duration::from_secs(120);
    run::wait_for_namespaces_to_go(&kube.client, &plan, wait).await?;
    let record = run::start(&kube.client, &plan, false).await?;
    crate::practice::wait_for_the_pods(&kube, &plan, &record, wait).await?;
    output::eprint(&format!("\n{}", task_text(&record, &plan)));
    let actions = [
        "Check my answer",
        "Hint: what to read",
        "Hint: a skeleton",
        "Show the task again",
        "Show the solution",
        "Reset (delete the run) and quit",
        "Quit and keep the run (check it later)",
    ];
    loop {
        let action =
            Select::with_theme(&theme).with_prompt("Next").items(actions).default(0).interact().map_err(failed)?;
        match action {
            0 => output::eprint(&checks_text(&grade(&kube.client, &record, Some(&plan.dir), None).await?)),
            1 | 2 => output::eprint(&hint_text(&plan, action as u8)),
            3 => output::eprint(&task_text(&record, &plan)),
            4 => output::eprint(&solution_text(&plan)),
            5 => {
                run::reset(&kube.client, &record.run, Some(&record), Some(&plan.dir)).await?;
                break;
            }
            _ => break,
        }
    }
    let node = bench.map(|b| format!(" --node {}", scenario::sh(&b.node))).unwrap_or_default();
    let image = image.map(|i| format!(" --image {}", scenario::sh(i))).unwrap_or_default();
    harden_cli::prompt::show_equivalent(&format!(
        "kubectl cks-practice start {} --seed {seed}{node}{image}\n  kubectl cks-practice check --run {}",
        id.name(),
        record.run
    ));
    Ok(Outcome::Good)
}
