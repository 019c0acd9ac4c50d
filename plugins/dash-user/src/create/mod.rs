//! `kubectl dash-user create`: flags (or the wizard) -> [`UserSpec`] -> the namespace of the installed
//! UI -> the resources (discovery, or the built-in list offline) -> the pure builders -> the shared
//! apply path -> a short-lived token and how to log in to that UI.

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

use crate::inherited;
use crate::invocation::NAMESPACE_HELP;
use crate::owned::{self, Kind, Owned};
use crate::rbac::{self, ResourceName, RoleChoice, Scope, UserSpec};
use crate::token_request::{self, DEFAULT_DURATION, duration_arg};
use crate::ui::{self, Ui};
use crate::{DEFAULT_NAMESPACE, PLUGIN};

mod authorizer;
mod consent;
mod write;

use authorizer::{Going, beyond_plan, confirm_after};

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

    /// Every flag given, checked before any prompt (NAME missing on a terminal asks for the rest)
    /// and before the cluster is read; what the prompts answer is checked as it is given.
    fn validate(&self) -> harden_cli::Result<()> {
        if let Some(namespace) = self.kube.single_namespace()? {
            rbac::validate_namespace(namespace).map_err(Error::invalid)?;
        }
        if let Some(name) = &self.name {
            rbac::validate_name(name).map_err(Error::invalid)?;
        }
        if let Some(role) = &self.role {
            check_role(role)?;
            check_read_only_flags(&RoleChoice::parse(role), self.include_secrets, &self.exclude)?;
        }
        check_scope_namespaces(&self.scope_namespaces)?;
        if let Some(duration) = self.duration {
            token_request::check_lifetime(duration, self.allow_long_lived)?;
        }
        self.manual.validate(&self.apply_args())?;
        self.check_combinations(&self.kube).map(|_| ())
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
        check_role(&role)?;
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
        check_scope_namespaces(&scope_namespaces)?;
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
        check_read_only_flags(&role, self.include_secrets, &self.exclude)?;
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
        let explicit_namespace = self.check_combinations(kube)?;
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
        let confirm_admin = self.admin_question(client.as_ref(), &spec, &who).await?;
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
        let (resources, source) = read_only_resources(&spec, client.as_ref()).await?;
        if let Some((_, text)) = &source {
            harden_cli::output::eline(text);
        }
        let plan = rbac::plan_from(&spec, &resources, source.map(|(from, _)| from))?;
        let wanted: Vec<Owned> = planned(&plan);
        // RBAC only adds: rights from older bindings stay with the account, whatever role we bind.
        if self.manual.show_manual {
            return self.print_manual(&spec, plan, duration);
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
        self.print_token(&client, &spec, duration, &known, &who).await
    }

    /// The question to confirm (`--yes`) when the role allows everything: a role that grants all
    /// of `*` hands every Secret in its scope to the account's tokens. `None` when there is none to ask.
    async fn admin_question(&self, client: Option<&Client>, spec: &UserSpec, who: &str) -> Result<Option<String>> {
        let mut confirm_admin = None;
        let mut grants_everything = spec.role == RoleChoice::Admin;
        if let (RoleChoice::ClusterRole(name), Some(client)) = (&spec.role, client) {
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
        Ok(confirm_admin)
    }

    /// Requests the short-lived token and prints it with how to log in to the UI.
    async fn print_token(
        &self,
        client: &Client,
        spec: &UserSpec,
        duration: Duration,
        known: &ui::Known,
        who: &str,
    ) -> Result<Outcome> {
        let token = token_request::request(client, &spec.namespace, &spec.name, duration).await?;
        let login = ui::login(client, &spec.namespace, self.ui, known).await;
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

    /// Flags that cannot go together (pure); returns whether -n was given.
    fn check_combinations(&self, kube: &KubeArgs) -> Result<bool> {
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
        Ok(explicit_namespace)
    }

    /// `--show-manual`: the steps as kubectl commands; nothing is changed.
    fn print_manual(&self, spec: &UserSpec, plan: rbac::Plan, duration: Duration) -> Result<Outcome> {
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

/// The resources a read-only role is built from (discovery, or the built-in list offline), and
/// where they came from, said to the user.
async fn read_only_resources(
    spec: &UserSpec,
    client: Option<&Client>,
) -> Result<(Vec<rbac::ApiResource>, Option<(rbac::ResourcesFrom, String)>)> {
    Ok(match (&spec.role, client) {
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
    })
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

/// A role as `--role` takes it: read-only, admin or a ClusterRole's name.
fn check_role(role: &str) -> Result<()> {
    if role.is_empty() || role.contains('/') {
        return Err(Error::invalid(format!("invalid --role {role:?}: use read-only, admin or a ClusterRole name")));
    }
    Ok(())
}

/// `--include-secrets` and `--exclude` shape the read-only role; with another they would be ignored.
fn check_read_only_flags(role: &RoleChoice, include_secrets: bool, exclude: &[rbac::ResourceName]) -> Result<()> {
    if *role != RoleChoice::ReadOnly && (include_secrets || !exclude.is_empty()) {
        return Err(Error::invalid("--include-secrets and --exclude only apply to --role read-only"));
    }
    Ok(())
}

/// The `--namespaces` list, given or answered at the prompt. `--namespaces ''` is an empty list,
/// not "every namespace": a typo must not widen the scope.
fn check_scope_namespaces(namespaces: &[String]) -> Result<()> {
    if !namespaces.is_empty() && namespaces.iter().any(String::is_empty) {
        let given = namespaces.join(",");
        return Err(if namespaces.iter().all(String::is_empty) {
            Error::invalid(format!("--namespaces {given:?} names no namespace")).with_hint(
                "name the namespaces the user may read (--namespaces a,b), or leave the flag out for every namespace",
            )
        } else {
            Error::invalid(format!("--namespaces {given:?} has an empty namespace in its list"))
                .with_hint("separate the namespaces with single commas: --namespaces a,b")
        });
    }
    for ns in namespaces {
        rbac::validate_namespace(ns).map_err(|e| Error::invalid(format!("--namespaces: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::rerun_command;

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
