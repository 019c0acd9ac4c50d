//! `kubectl dash-user create`: flags (or the wizard) -> [`UserSpec`] -> the namespace of the installed
//! UI -> the resources (discovery, or the built-in list offline) -> the pure builders -> the shared
//! apply path -> a short-lived token and how to log in to that UI.

use std::collections::BTreeSet;
use std::time::Duration;

use clap::Args;
use harden_cli::error::{Error, ErrorKind, Outcome, Result};
use harden_cli::format::{Choice, Format, Formats};
use harden_cli::output::warn;
use harden_cli::prompt;
use harden_kube::apply::{Applier, Object};
use harden_kube::flags::{ApplyArgs, DryRun, KubeArgs, OBJECT_FORMATS};
use harden_kube::manual::ManualArgs;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, DynamicObject};
use kube::{Client, ResourceExt};

use crate::invocation::{NAMESPACE_HELP, rerun_command};
use crate::owned::{self, Kind, Owned};
use crate::rbac::{self, ResourceName, RoleChoice, Scope, UserSpec};
use crate::token_request::{self, DEFAULT_DURATION, duration_arg};
use crate::ui::{self, Ui};
use crate::{DEFAULT_NAMESPACE, PLUGIN};
use crate::{inherited, preflight, rights};

pub const EXAMPLES: &str = "Examples:
  # The seed's developer-user: read-only, no Secrets, in the installed UI's namespace
  kubectl dash-user create developer-user

  # Take over an existing developer-user and drop its old read-all binding (cluster-developer)
  kubectl dash-user create developer-user -n kubernetes-dashboard --overwrite --prune-bindings

  # A Headlamp user that may read only namespace t75
  kubectl dash-user create developer-user --ui headlamp --namespaces t75

  # Offline (no cluster needed): the objects, to apply later with kubectl apply -f -
  kubectl dash-user create developer-user -n kubernetes-dashboard --dry-run=client -o yaml

  # admin-user with cluster-admin (asks first; --yes confirms)
  kubectl dash-user create admin-user --role admin --yes

  # Only the token, as the seed's kubectl create token developer-user -n kubernetes-dashboard
  kubectl dash-user create developer-user -n kubernetes-dashboard -o token";

/// What `create -o` prints: the objects (as every command that applies objects), or the token.
const CREATE_FORMATS: Formats = Formats::new(&[
    Choice::of(Format::Yaml),
    Choice::of(Format::Json),
    Choice::of(Format::Name).help("`kind.group/name`, one per line"),
    Choice::of(Format::Token).help("Only the token on stdout (the object summary goes to stderr)"),
]);

/// `kubectl dash-user create NAME`
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES, mut_arg("namespaces", |a| a.help(NAMESPACE_HELP)))]
#[command(mut_arg("dry_run", |a| a.help("none, client or server. A bare --dry-run means client, as in kubectl")))]
pub struct CreateCmd {
    /// The dashboard user (ServiceAccount) name; asked for in a terminal when missing.
    pub name: Option<String>,

    /// read-only (get/list/watch without Secrets), admin (cluster-admin, asks first), or an existing ClusterRole.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,

    /// What the user may read: only these namespaces (Roles and RoleBindings) instead of every namespace.
    #[arg(long = "namespaces", value_name = "NS,...", value_delimiter = ',')]
    pub scope_namespaces: Vec<String>,

    /// The UI the user logs in to, for the default namespace and the login help (default: the one installed).
    #[arg(long, value_enum, value_name = "UI")]
    pub ui: Option<Ui>,

    /// Let the read-only role read Secrets too (every token in its scope); warns.
    #[arg(long)]
    pub include_secrets: bool,

    /// Leave more resources out of the read-only role, as RESOURCE[.GROUP] (repeat or comma-separate).
    #[arg(long, value_name = "RESOURCE[.GROUP]", value_delimiter = ',')]
    pub exclude: Vec<ResourceName>,

    /// How long the printed token is valid (default 1h; at least 10m, at most 24h, 30d with --allow-long-lived).
    #[arg(long, value_parser = duration_arg, allow_hyphen_values = true)]
    pub duration: Option<Duration>,

    /// Allow a --duration above 24h (up to 30d): a long-lived token is a standing credential.
    #[arg(long)]
    pub allow_long_lived: bool,

    /// Do not print a token.
    #[arg(long)]
    pub no_token: bool,

    /// Remove this account from existing bindings that give it more than asked (deleting a binding
    /// only when the account is its only subject). Without it, such bindings make create fail.
    #[arg(long)]
    pub prune_bindings: bool,

    /// Confirm binding cluster-admin (or another role that can do everything) without asking.
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Print the objects (yaml, json, name) instead of a summary, or only the token (token).
    #[arg(short = 'o', long = "output", value_name = "FORMAT", value_parser = CREATE_FORMATS)]
    pub output: Option<Format>,

    #[command(flatten)]
    pub dry_run: harden_kube::flags::DryRunArgs,

    /// Field manager for server-side apply (default: kubectl-dash-user).
    #[arg(long, value_name = "NAME")]
    pub field_manager: Option<String>,

    /// Take over fields owned by another field manager.
    #[arg(long)]
    pub force_conflicts: bool,

    /// Change objects that exist but were not created by this plugin.
    #[arg(long)]
    pub overwrite: bool,

    #[command(flatten)]
    pub manual: ManualArgs,

    #[command(flatten)]
    pub kube: KubeArgs,
}

const ROLE_CHOICES: [&str; 3] = ["read-only", "admin", "another ClusterRole"];
const SCOPE_CHOICES: [&str; 2] = ["cluster-wide", "only in some namespaces"];

/// What the flags and the wizard settled on.
struct Settled {
    spec: UserSpec,
    duration: Duration,
}

impl harden_cli::command::Command for CreateCmd {
    const STYLE: harden_cli::ExitStyle = harden_cli::ExitStyle::Action;

    fn validate(&self) -> harden_cli::Result<()> {
        Ok(())
    }

    async fn run(self) -> harden_cli::Result<harden_cli::Outcome> {
        self.execute().await
    }
}

impl CreateCmd {
    fn apply_args(&self) -> ApplyArgs {
        ApplyArgs {
            // yaml, json and name print the objects; token only the token, at the end.
            output: self.output.filter(|&format| OBJECT_FORMATS.accepts(format)),
            dry_run: self.dry_run.strategy,
            field_manager: self.field_manager.clone(),
            force_conflicts: self.force_conflicts,
            overwrite: self.overwrite,
        }
    }

    /// Whether a token is printed at the end (so whether its duration matters).
    fn prints_token(&self) -> bool {
        !self.no_token && matches!(self.output, None | Some(Format::Token)) && self.dry_run.strategy == DryRun::None
    }

    /// Validates the flags; asks for what is missing when NAME is missing and a person is there.
    fn settle(&self, kube: &KubeArgs) -> Result<Settled> {
        // The namespace is settled later, from the installed UI when -n is not given.
        let namespace = kube.single_namespace()?.unwrap_or(DEFAULT_NAMESPACE).to_string();
        rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
        let wizard = self.name.is_none() && prompt::interactive();
        let name = prompt::text(self.name.clone(), "NAME", "Name of the dashboard user", None, rbac::validate_name)?;
        rbac::validate_name(&name).map_err(Error::invalid)?;

        let role = match (&self.role, wizard) {
            (Some(role), _) => role.clone(),
            (None, false) => "read-only".into(),
            (None, true) => match prompt::choose(None, "--role", "Role", &ROLE_CHOICES)?.as_str() {
                "another ClusterRole" => prompt::text(None, "--role", "ClusterRole to bind", Some("view"), |r| {
                    if r.is_empty() || r.contains('/') { Err("give a ClusterRole name".into()) } else { Ok(()) }
                })?,
                chosen => chosen.to_string(),
            },
        };
        if role.is_empty() || role.contains('/') {
            return Err(Error::invalid(format!("invalid --role {role:?}: use read-only, admin or a ClusterRole name")));
        }
        let role = RoleChoice::parse(&role);

        let mut scope_namespaces = self.scope_namespaces.clone();
        if wizard
            && scope_namespaces.is_empty()
            && prompt::choose(None, "--namespaces", "Scope", &SCOPE_CHOICES)? == SCOPE_CHOICES[1]
        {
            let answer = prompt::text(None, "--namespaces", "Namespaces (comma-separated)", None, |text| {
                text.split(',').map(str::trim).try_for_each(rbac::validate_namespace)
            })?;
            scope_namespaces = answer.split(',').map(|s| s.trim().to_string()).collect();
        }
        // `--namespaces ''` is an empty list, not "every namespace": a typo must not widen the scope.
        if !self.scope_namespaces.is_empty() && scope_namespaces.iter().any(String::is_empty) {
            let given = self.scope_namespaces.join(",");
            return Err(if self.scope_namespaces.iter().all(String::is_empty) {
                Error::invalid(format!("--namespaces {given:?} names no namespace"))
                    .with_hint("name the namespaces the user may read (--namespaces a,b), or leave the flag out for every namespace")
            } else {
                Error::invalid(format!("--namespaces {given:?} has an empty namespace in its list"))
                    .with_hint("separate the namespaces with single commas: --namespaces a,b")
            });
        }
        for ns in &scope_namespaces {
            rbac::validate_namespace(ns).map_err(|e| Error::invalid(format!("--namespaces: {e}")))?;
        }
        scope_namespaces.sort();
        scope_namespaces.dedup();
        let scope = if scope_namespaces.is_empty() { Scope::Cluster } else { Scope::Namespaces(scope_namespaces) };

        let duration = match (self.duration, wizard && self.prints_token()) {
            (Some(d), _) => d,
            (None, false) => duration_arg(DEFAULT_DURATION).map_err(Error::invalid)?,
            (None, true) => {
                let text = prompt::text(None, "--duration", "Token valid for", Some(DEFAULT_DURATION), |t| {
                    duration_arg(t).map(|_| ())
                })?;
                duration_arg(&text).map_err(Error::invalid)?
            }
        };
        if role != RoleChoice::ReadOnly && (self.include_secrets || !self.exclude.is_empty()) {
            return Err(Error::invalid("--include-secrets and --exclude only apply to --role read-only"));
        }
        let spec = UserSpec {
            name,
            namespace,
            role,
            scope,
            include_secrets: self.include_secrets,
            exclude: self.exclude.clone(),
        };
        Ok(Settled { spec, duration })
    }

    async fn execute(self) -> Result<Outcome> {
        let kube = &self.kube.clone();
        let Settled { mut spec, duration } = self.settle(kube)?;
        token_request::check_lifetime(duration, self.allow_long_lived)?;
        self.manual.validate(&self.apply_args())?;
        if self.manual.show_manual && (self.prune_bindings || self.yes || self.output.is_some()) {
            return Err(Error::invalid(
                "--prune-bindings, -y and -o cannot be combined with --show-manual, which prints the steps and changes nothing",
            )
            .with_hint("drop them, or drop --show-manual to create the user"));
        }
        let explicit_namespace = kube.single_namespace()?.is_some();
        if self.ui.is_some() && explicit_namespace && !self.prints_token() {
            return Err(Error::invalid(
                "--ui picks the namespace (without -n) and the login help (with a token): with -n and no token it does nothing",
            )
            .with_hint("drop --ui, or drop -n to use the namespace of that UI"));
        }
        let client = self.client(kube).await?;

        let (namespace, known) = ui::namespace(kube, self.ui, client.as_ref()).await?;
        rbac::validate_namespace(&namespace).map_err(Error::invalid)?;
        spec.namespace = namespace;
        let who = format!("serviceaccount {}/{}", spec.namespace, spec.name);
        if explicit_namespace && spec.scope == Scope::Cluster {
            harden_cli::output::eline(format!(
                "Note: -n {ns} is where the ServiceAccount lives; its {} applies in every namespace. To let it read \
                 only namespace {ns}, add --namespaces {ns}.",
                if spec.role == RoleChoice::ReadOnly { "read-only role" } else { "role" },
                ns = spec.namespace
            ));
        }

        // Asked with every other consent once the cluster has been read, so that one refusal names
        // every flag needed.
        let mut confirm_admin = None;
        let mut grants_everything = spec.role == RoleChoice::Admin;
        if let (RoleChoice::ClusterRole(name), Some(client)) = (&spec.role, &client) {
            grants_everything = check_cluster_role(client, name).await?;
        }
        if grants_everything {
            let what = match &spec.scope {
                Scope::Cluster => "the whole cluster".to_string(),
                Scope::Namespaces(list) => format!("namespace(s) {}", list.join(", ")),
            };
            let question = format!(
                "bind {} to {who}? Its tokens get full control of {what}, including every Secret",
                match &spec.role {
                    RoleChoice::ClusterRole(name) => format!("ClusterRole {name} (which allows everything)"),
                    _ => "cluster-admin".into(),
                }
            );
            if self.dry_run.strategy == DryRun::None && !self.manual.show_manual {
                confirm_admin = Some(question);
            }
        }
        if spec.include_secrets {
            warn(format!(
                "--include-secrets: {who} will read every Secret in its scope, including other ServiceAccounts' tokens"
            ));
        }

        if let Some(client) = &client {
            let mut namespaces = vec![spec.namespace.clone()];
            if let Scope::Namespaces(list) = &spec.scope {
                namespaces.extend(list.iter().cloned());
            }
            check_namespaces(client, &namespaces).await?;
        }
        let (resources, source) = match (&spec.role, &client) {
            (RoleChoice::ReadOnly, Some(client)) => {
                let found = crate::discovery::discover(client).await?;
                let text = format!(
                    "Read-only role: built from the cluster's discovery ({} resources and subresources, custom resources included).",
                    found.len()
                );
                (found, Some((rbac::ResourcesFrom::Discovery, text)))
            }
            (RoleChoice::ReadOnly, None) => (
                crate::builtin::resources(),
                Some((
                    rbac::ResourcesFrom::BuiltIn(crate::builtin::KUBERNETES_VERSION),
                    format!(
                        "Read-only role: built from the built-in resources of Kubernetes {} (no cluster was contacted: \
                         custom resources are not included).",
                        crate::builtin::KUBERNETES_VERSION
                    ),
                )),
            ),
            _ => (Vec::new(), None),
        };
        if let Some((_, text)) = &source {
            harden_cli::output::eline(text);
        }
        let plan = rbac::plan_from(&spec, &resources, source.map(|(from, _)| from))?;
        let wanted: Vec<Owned> = planned(&plan);
        // RBAC only adds: rights from older bindings stay with the account, whatever role we bind.
        if self.manual.show_manual {
            let objects = plan.into_objects()?;
            let before = [format!(
                "kubectl get clusterrolebindings,rolebindings -A -o wide | grep '{}/{}'   # rights it already has stay with it",
                spec.namespace, spec.name
            )];
            let after: Vec<String> = if self.no_token {
                Vec::new()
            } else {
                vec![token_request::manual_step(&spec.name, &spec.namespace, duration)]
            };
            harden_cli::output::print(&harden_kube::manual::steps(&objects, &before, &after)?);
            return Ok(Outcome::Good);
        }
        let (inherited, grants) = match &client {
            Some(client) => inherited::find(client, &spec.namespace, &spec.name, &plan).await?,
            None => {
                harden_cli::output::eline(format!(
                    "Existing bindings of {who} were not checked (no cluster): apply the output where that account is \
                     new, or run create against the cluster to find and prune them."
                ));
                (Vec::new(), Vec::new())
            }
        };
        for existing in &inherited {
            harden_cli::output::eline(format!("existing binding: {}", existing.describe(&who)));
        }
        let objects = plan.into_objects()?;
        // Everything that decides the run is read before anything is decided or written.
        let live = matches!(self.dry_run.strategy, DryRun::None | DryRun::Server);
        let existing = match (&client, live) {
            (Some(client), true) => owned::owned(client, &spec.namespace, &spec.name).await?,
            _ => Vec::new(),
        };
        let (replace, prune) = stale(&existing, &wanted);
        let foreign = match (&client, live) {
            (Some(client), true) => not_ours(client, &objects).await?,
            _ => Vec::new(),
        };
        let unexplained = match &client {
            Some(client) => {
                let going = Going { replace: &replace, prune: &prune, inherited: &inherited };
                beyond_plan(client, &spec, &grants, &going).await?
            }
            None => Vec::new(),
        };
        let consents = Consents { admin: confirm_admin, foreign, unexplained };
        let to_prune = self.settle_consents(&who, &inherited, consents)?;
        if let (Some(client), true) = (&client, live) {
            self.preflight(client, &spec, &objects, &replace, &prune, &to_prune).await?;
        }

        let mut applier = Applier::new(PLUGIN, self.apply_args(), client.clone()).all_or_nothing();
        if self.output == Some(Format::Token) {
            applier = applier.lines_to_stderr();
        }
        let say = |text: String| {
            if self.output.is_some() { harden_cli::output::eline(text) } else { harden_cli::output::line(text) }
        };
        if let Some(client) = &client {
            self.write(client, &spec, &applier, objects, &replace, &prune, &to_prune, &say).await?;
            if self.dry_run.strategy == DryRun::None {
                confirm_after(client, &spec, &grants).await?;
            }
        } else {
            applier.run(objects).await?;
        }

        let wants_token = !self.no_token && matches!(self.output, None | Some(Format::Token));
        if !wants_token {
            if !self.no_token {
                harden_cli::output::eline(format!(
                    "No token printed with -o yaml|json|name; get one with: kubectl dash-user token {} -n {}",
                    spec.name, spec.namespace
                ));
            }
            return Ok(Outcome::Good);
        }
        let Some(client) = client.filter(|_| self.dry_run.strategy == DryRun::None) else {
            harden_cli::output::eline("Dry run: no token issued.".to_string());
            return Ok(Outcome::Good);
        };
        let token = token_request::request(&client, &spec.namespace, &spec.name, duration).await?;
        let login = ui::login(&client, &spec.namespace, self.ui, &known).await;
        let expiry = format!(
            "Token for {who} (valid {}{})",
            token_request::human(duration),
            token.expires.as_deref().map(|e| format!(", expires {e}")).unwrap_or_default()
        );
        if self.output == Some(Format::Token) {
            harden_cli::output::line(token.token.to_string());
            harden_cli::output::eline(format!("{expiry}\n{login}"));
        } else {
            harden_cli::output::line(format!(
                "\n{expiry}:\n{}\n\n{login}New token later: kubectl dash-user token {} -n {}",
                token.token, spec.name, spec.namespace
            ));
        }
        Ok(Outcome::Good)
    }

    fn offline_flag(&self) -> &'static str {
        if self.manual.show_manual { "--show-manual" } else { "--dry-run=client" }
    }

    /// The cluster, when there is one to use: always, but for a client dry run only when a kubeconfig
    /// is there and its server answers (offline, the read-only role comes from the built-in list).
    async fn client(&self, kube: &KubeArgs) -> Result<Option<Client>> {
        if self.dry_run.strategy != DryRun::Client && !self.manual.show_manual {
            return Ok(Some(harden_kube::client::connect(kube).await?.client));
        }
        if harden_kube::client::load_kubeconfig(kube).is_err() {
            return Ok(None);
        }
        let client = match harden_kube::client::connect(kube).await {
            Ok(kube) => kube.client,
            Err(e) => {
                warn(format!("{}: not using the cluster ({}); working offline", self.offline_flag(), e.message));
                return Ok(None);
            }
        };
        match client.apiserver_version().await {
            Ok(_) => Ok(Some(client)),
            Err(e) => {
                let e = harden_kube::error::from_kube(e, "reaching the API server");
                warn(format!("{}: the cluster did not answer ({}); working offline", self.offline_flag(), e.message));
                Ok(None)
            }
        }
    }
}

/// What `create` needs the user's word for, or cannot do at all, found before anything is written.
struct Consents {
    /// The question to confirm binding a role that allows everything (`--yes`).
    admin: Option<String>,
    /// Objects of the plan that exist and were not made by this plugin (`--overwrite`).
    foreign: Vec<String>,
    /// Rights the authorizer gives the account beyond the plan that no pruning here removes.
    unexplained: Vec<String>,
}

impl CreateCmd {
    /// Decides, in one place, what the run needs: `--yes` for a role that allows everything,
    /// `--overwrite` for objects made by others, `--prune-bindings` for bindings that grant more
    /// than asked; and what no flag fixes (a group's binding, a right the authorizer gives from
    /// elsewhere). One refusal names all of them and the command that proceeds, before anything is
    /// written (exit 2 when the confirmation is among them, as for any missing input; else 1). At a
    /// terminal, the confirmations are asked instead. Returns the bindings to prune.
    fn settle_consents<'a>(
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

    /// Every check that can be made before the first write: the exam lock of every namespace this
    /// run touches, then each write as a server-side dry run (rights, the RBAC escalation check,
    /// admission), and the right to request the token.
    async fn preflight(
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
    async fn write(
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

/// Objects of the plan that exist without this plugin's label: `--overwrite` takes them over.
async fn not_ours(client: &Client, objects: &[Object]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for object in objects {
        let api: Api<DynamicObject> = match object.namespace() {
            Some(ns) => Api::namespaced_with(client.clone(), &ns, &object.resource),
            None => Api::all_with(client.clone(), &object.resource),
        };
        match api.get_opt(&object.data.name_any()).await {
            Ok(Some(found)) if !harden_kube::apply::is_managed_by(&found, PLUGIN) => out.push(object.describe()),
            Ok(_) => {}
            // Not allowed to read it: the preflight's dry run answers.
            Err(e) if harden_kube::error::status_code(&e) == Some(403) => {}
            Err(e) => return Err(harden_kube::error::from_kube(e, format!("reading {}", object.describe()))),
        }
    }
    Ok(out)
}

/// Bindings this run removes: ours whose role changed or that are no longer wanted, and others'
/// that grant more than asked (pruned, or the run is refused).
struct Going<'a> {
    replace: &'a [Owned],
    prune: &'a [Owned],
    inherited: &'a [inherited::Existing],
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
async fn beyond_plan(
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
async fn confirm_after(client: &Client, spec: &UserSpec, grants: &[inherited::Grant]) -> Result<()> {
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

/// What the plan will own, for comparing with what exists.
fn planned(plan: &rbac::Plan) -> Vec<Owned> {
    let mut out = Vec::new();
    for r in &plan.cluster_roles {
        out.push(Owned { kind: Kind::ClusterRole, namespace: None, name: r.name_any(), role_ref: None });
    }
    for b in &plan.cluster_role_bindings {
        let role_ref = Some((b.role_ref.kind.clone(), b.role_ref.name.clone()));
        out.push(Owned { kind: Kind::ClusterRoleBinding, namespace: None, name: b.name_any(), role_ref });
    }
    for r in &plan.roles {
        out.push(Owned { kind: Kind::Role, namespace: r.namespace(), name: r.name_any(), role_ref: None });
    }
    for b in &plan.role_bindings {
        let role_ref = Some((b.role_ref.kind.clone(), b.role_ref.name.clone()));
        out.push(Owned { kind: Kind::RoleBinding, namespace: b.namespace(), name: b.name_any(), role_ref });
    }
    out
}

/// Splits what exists into bindings to replace (their roleRef changed) and objects to prune
/// (no longer wanted: e.g. the ClusterRoleBinding after moving a user to `--namespaces`).
fn stale(existing: &[Owned], wanted: &[Owned]) -> (Vec<Owned>, Vec<Owned>) {
    let mut replace = Vec::new();
    let mut prune = Vec::new();
    for object in existing.iter().filter(|o| o.kind != Kind::ServiceAccount) {
        match wanted.iter().find(|w| w.kind == object.kind && w.namespace == object.namespace && w.name == object.name)
        {
            None => prune.push(object.clone()),
            Some(w) if w.role_ref != object.role_ref => replace.push(object.clone()),
            Some(_) => {}
        }
    }
    (replace, prune)
}

/// Fails clearly for an unknown ClusterRole; warns if it reads Secrets. Returns whether it allows everything.
async fn check_cluster_role(client: &Client, name: &str) -> Result<bool> {
    let role = Api::<ClusterRole>::all(client.clone())
        .get_opt(name)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, format!("reading clusterrole {name}")))?
        .ok_or_else(|| {
            Error::invalid(format!("--role {name}: ClusterRole {name:?} does not exist"))
                .with_hint("use read-only, admin, or a name from `kubectl get clusterroles`")
        })?;
    let rules = role.rules.unwrap_or_default();
    if rules.iter().any(rbac::rule_is_wildcard_admin) {
        return Ok(true);
    }
    if rules.iter().any(rbac::rule_reads_secrets) {
        warn(format!("ClusterRole {name} can read Secrets (every token in its scope); consider --role read-only"));
    }
    Ok(false)
}

/// Fails clearly when a namespace is missing, rather than with the API server's 404 on the first object.
async fn check_namespaces(client: &Client, namespaces: &[String]) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    for ns in namespaces {
        match api.get_opt(ns).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Error::new(ErrorKind::NotFound, format!("namespace {ns:?} does not exist")).with_hint(
                    if ns == DEFAULT_NAMESPACE {
                        "install the dashboard first, or give the namespace the user should live in with -n".to_string()
                    } else {
                        format!("create it with `kubectl create namespace {ns}` or fix the name")
                    },
                ));
            }
            // Allowed to create users but not to read namespaces: let the apply path report.
            Err(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(kind: Kind, ns: Option<&str>, name: &str, role: Option<&str>) -> Owned {
        Owned {
            kind,
            namespace: ns.map(str::to_string),
            name: name.into(),
            role_ref: role.map(|r| ("ClusterRole".to_string(), r.to_string())),
        }
    }

    #[test]
    fn changing_scope_prunes_and_changing_role_replaces() {
        let existing = [
            owned(Kind::ClusterRoleBinding, None, "dash-user:d:dev", Some("dash-user:d:dev")),
            owned(Kind::ClusterRole, None, "dash-user:d:dev", None),
            owned(Kind::RoleBinding, Some("a"), "dash-user:d:dev", Some("view")),
            owned(Kind::ServiceAccount, Some("d"), "dev", None),
        ];
        let wanted = [owned(Kind::RoleBinding, Some("a"), "dash-user:d:dev", Some("edit"))];
        let (replace, prune) = stale(&existing, &wanted);
        assert_eq!(replace, [existing[2].clone()]);
        assert_eq!(prune, [existing[0].clone(), existing[1].clone()]);
    }

    #[test]
    fn the_rerun_command_reads_back_as_the_same_words() {
        assert_eq!(harden_cli::shell::word("developer-user"), "developer-user");
        assert_eq!(harden_cli::shell::word("--kubeconfig=/tmp/a b"), "'--kubeconfig=/tmp/a b'");
        assert_eq!(harden_cli::shell::word("it's"), "'it'\\''s'");
        assert_eq!(harden_cli::shell::word(""), "''");
        assert!(rerun_command(&["--overwrite", "--prune-bindings"]).ends_with(" --overwrite --prune-bindings"));
        assert!(rerun_command(&[]).starts_with("kubectl dash-user"));
    }

    #[test]
    fn unchanged_objects_are_left_alone() {
        let existing = [owned(Kind::ClusterRoleBinding, None, "x", Some("cluster-admin"))];
        let (replace, prune) = stale(&existing, &existing);
        assert!(replace.is_empty() && prune.is_empty());
    }
}
