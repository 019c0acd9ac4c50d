//! Scenario 5: A restricted Dashboard/Headlamp user: the ServiceAccount may read pods, deployments and
//! services of its namespace and nothing more (no Secrets, no deleting pods, no changes), and a login
//! token for it is saved. The run starts it with a Role that allows everything: the task is to take
//! that away. Graded with SubjectAccessReviews as the ServiceAccount, and a TokenReview of the token.

use harden_cli::Result;
use harden_kube::access::Question;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::grade::{self, Check, VERBS, question};
use crate::scenario::{Card, Context, Id, Need, Plan, Scenario, Step, build, sh};
use crate::seed::Rng;

/// The scenario, as `scenarios::ALL` registers it.
pub struct DashboardUser;

const CARD: Card = Card {
    mock_exam: false,
    ..Card::new(
        "dashboard-user",
        "RBAC: a read-only Dashboard user with a token (outside the current curriculum: GUI left it in 2024)",
        10,
        &[Need::Api, Need::LocalFiles],
    )
};

impl Scenario for DashboardUser {
    fn card(&self) -> &'static Card {
        &CARD
    }

    fn plan(&self, ctx: &Context<'_>) -> Result<Plan> {
        Ok(plan(ctx))
    }

    fn check<'a>(
        &'a self,
        client: &'a kube::Client,
        plan: &'a Plan,
        _address: Option<&'a str>,
    ) -> Step<'a, Vec<Check>> {
        Box::pin(check(client, plan))
    }
}

pub fn plan(ctx: &Context<'_>) -> Plan {
    let mut rng = Rng::new(ctx.seed, "dashboard-user");
    let mut plan = Plan::new(Id(&DashboardUser), ctx);
    let ns = rng.namespace();
    let user = format!("{}-viewer", rng.word());
    let broad = format!("{user}-all");
    let token = ctx.dir.join(format!("{user}.token"));
    let token_path = token.display().to_string();
    plan.namespaces = vec![ns.clone()];
    plan.objects = vec![
        build::namespace(&ns, json!({})),
        build::pod(&ns, "dashboard-0", json!({"app": "dashboard"}), 8443),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": user, "namespace": ns}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": broad, "namespace": ns},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": broad, "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": broad},
               "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": ns}]}),
    ];
    plan.names.insert("namespace", ns.clone());
    plan.names.insert("serviceaccount", user.clone());
    plan.names.insert("role", format!("{user}-read"));
    plan.names.insert("tokenFile", token_path.clone());
    plan.task = format!(
        "The Dashboard in namespace {ns} logs in as ServiceAccount {user}, which is bound to Role {broad} (everything).\n\
         Make {user} a restricted user:\n\
         - it may get, list and watch pods, deployments and services in namespace {ns} (use a Role named {user}-read\n  \
         and a RoleBinding of the same name);\n\
         - it must not read Secrets, delete pods or change anything, in {ns} or elsewhere;\n\
         - save a login token for {user} to the file {token_path}."
    );
    plan.read = vec![
        "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#role-and-clusterrole",
        "https://kubernetes.io/docs/reference/kubectl/generated/kubectl_create/kubectl_create_token/",
    ];
    plan.skeleton = format!(
        "kubectl -n {ns} delete rolebinding ???          # the binding that gives everything\n\
         kubectl -n {ns} create role {user}-read --verb=??? --resource=???\n\
         kubectl -n {ns} create rolebinding {user}-read --role=??? --serviceaccount=???\n\
         kubectl -n {ns} create token ??? > {token_path}\n\
         kubectl auth can-i --list -n {ns} --as=system:serviceaccount:{ns}:{user}\n"
    );
    let nsq = sh(&ns);
    plan.plugin_steps = vec![
        format!("kubectl -n {ns} delete rolebinding {broad}"),
        // The ServiceAccount was made by this run: --overwrite and --force-conflicts take it over.
        format!("kubectl dash-user create {user} -n {ns} --namespaces {ns} --overwrite --force-conflicts"),
        format!("kubectl dash-user check {user} -n {ns}"),
        format!("kubectl dash-user token {user} -n {ns} > {}", sh(&token_path)),
    ];
    plan.manual = format!(
        "kubectl -n {nsq} delete rolebinding {broad}\n\
         kubectl -n {nsq} delete role {broad}\n\
         kubectl -n {nsq} create role {user}-read --verb=get,list,watch --resource=pods,deployments.apps,services\n\
         kubectl -n {nsq} create rolebinding {user}-read --role={user}-read --serviceaccount={ns}:{user}\n\
         kubectl auth can-i get secrets -n {nsq} --as=system:serviceaccount:{ns}:{user} || true\n\
         mkdir -p {dir}\n\
         kubectl -n {nsq} create token {user} > {tok}\n",
        dir = sh(&ctx.dir.display().to_string()),
        tok = sh(&token_path),
    );
    plan
}

/// The classes of wrong answers this check catches (docs/cks-practice.md lists them too):
/// - the broad binding left in place, or a read role that also has `update`, `patch`, `delete`,
///   `deletecollection`, `create` or `*` on the resources it reads;
/// - a role that reads Secrets, or grants `pods/exec`, `pods/attach` or `pods/portforward`, or scaling;
/// - a ClusterRoleBinding (reads in other namespaces, or `nodes/proxy`), RBAC changes (`escalate`,
///   `bind`), impersonation, minting tokens;
/// - a read verb missing; no token, an expired or someone else's token.
pub async fn check(client: &kube::Client, plan: &Plan) -> Result<Vec<Check>> {
    let ns = plan.names["namespace"].as_str();
    let user = plan.names["serviceaccount"].as_str();
    let who = (ns, user);
    let read = ["get", "list", "watch"];
    let mut checks = Vec::new();
    for (group, resource) in [("", "pods"), ("apps", "deployments"), ("", "services")] {
        let questions: Vec<(Question, bool)> =
            VERBS.iter().map(|&verb| (question(verb, group, resource, Some(ns)), read.contains(&verb))).collect();
        let check = format!("{ns}/{user} may get, list and watch {resource} in {ns} and do nothing else to them");
        checks.push(grade::rights(client, who, check, &questions).await?);
    }
    let sub = |verb: &str, group: &str, resource: &str, subresource: &str, place: Option<&str>| {
        let mut q = question(verb, group, resource, place);
        q.subresource = Some(subresource.into());
        (q, false)
    };
    let mut questions: Vec<(Question, bool)> = Vec::new();
    for verb in ["create", "get"] {
        for subresource in ["exec", "attach", "portforward"] {
            questions.push(sub(verb, "", "pods", subresource, Some(ns)));
        }
    }
    for verb in ["update", "patch"] {
        questions.push(sub(verb, "apps", "deployments", "scale", Some(ns)));
        questions.push(sub(verb, "", "pods", "ephemeralcontainers", Some(ns)));
    }
    checks.push(
        grade::rights(client, who, format!("{ns}/{user} may not exec, attach, port-forward or scale"), &questions)
            .await?,
    );
    let mut questions: Vec<(Question, bool)> = Vec::new();
    for place in [Some(ns), None] {
        questions.extend(VERBS.iter().map(|&verb| (question(verb, "", "secrets", place), false)));
    }
    checks.push(
        grade::rights(
            client,
            who,
            format!("{ns}/{user} may not read or change Secrets, in {ns} or elsewhere"),
            &questions,
        )
        .await?,
    );
    let mut questions: Vec<(Question, bool)> = Vec::new();
    for verb in ["get", "create"] {
        questions.push(sub(verb, "", "nodes", "proxy", None));
    }
    questions.push(sub("create", "", "serviceaccounts", "token", Some(ns)));
    for resource in ["roles", "rolebindings", "clusterroles", "clusterrolebindings"] {
        for verb in ["create", "escalate", "bind"] {
            let place = if resource.starts_with("cluster") { None } else { Some(ns) };
            questions.push((question(verb, "rbac.authorization.k8s.io", resource, place), false));
        }
    }
    for resource in ["users", "groups", "serviceaccounts"] {
        questions.push((question("impersonate", "", resource, None), false));
    }
    for resource in ["configmaps", "serviceaccounts"] {
        for verb in ["create", "update", "delete"] {
            questions.push((question(verb, "", resource, Some(ns)), false));
        }
    }
    for (group, resource) in [("", "pods"), ("apps", "deployments"), ("", "services")] {
        for verb in read {
            questions.push((question(verb, group, resource, Some("kube-system")), false));
            questions.push((question(verb, group, resource, None), false));
        }
    }
    checks.push(
        grade::rights(
            client,
            who,
            format!(
                "{ns}/{user} has nothing more: no nodes/proxy, no tokens, no RBAC changes, no impersonation, no other \
                 namespace"
            ),
            &questions,
        )
        .await?,
    );
    checks.push(token_check(client, plan, ns, user).await?);
    Ok(checks)
}

/// The saved token authenticates as the ServiceAccount (a TokenReview by the API server).
async fn token_check(client: &kube::Client, plan: &Plan, ns: &str, user: &str) -> Result<Check> {
    let path = std::path::PathBuf::from(&plan.names["tokenFile"]);
    let want = format!("system:serviceaccount:{ns}:{user}");
    let check = format!("{} holds a token that logs in as {want}", path.display());
    let text = match harden_cli::files::read_text(&path, "the token file", 64 * 1024) {
        Ok(text) => text,
        Err(e) => return Ok(Check::new(check, false, format!("cannot read it: {}", e.message))),
    };
    let token = text.trim();
    if token.is_empty() {
        return Ok(Check::new(check, false, "the file is empty"));
    }
    let review =
        TokenReview { spec: TokenReviewSpec { token: token.to_string(), ..Default::default() }, ..Default::default() };
    let api: Api<TokenReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| harden_kube::error::from_kube(e, "asking the API server about the token (TokenReview)"))?;
    let status = answer.status.unwrap_or_default();
    let name = status.user.and_then(|u| u.username);
    Ok(match (status.authenticated, name) {
        (Some(true), Some(name)) if name == want => {
            Check::new(check, true, format!("the API server authenticates it as {name}"))
        }
        (Some(true), Some(name)) => Check::new(check, false, format!("it is a valid token, but of {name}")),
        _ => Check::new(
            check,
            false,
            format!(
                "the API server does not accept it: {}",
                status.error.unwrap_or_else(|| "not authenticated".into())
            ),
        ),
    })
}
