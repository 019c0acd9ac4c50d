//! What an identity may do, from the API server's own authorizer: SelfSubjectAccessReviews for the
//! caller, SubjectAccessReviews for another subject (a ServiceAccount).

use harden_cli::Result;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SubjectAccessReview,
    SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::error::KubeResultExt;

/// One question: may `verb` be done on `resource` (plural, with `subresource`) of `group` in
/// `namespace` (cluster-wide when `None`), optionally on one `name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Question {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Question {
    fn attributes(&self) -> ResourceAttributes {
        ResourceAttributes {
            verb: Some(self.verb.clone()),
            group: Some(self.group.clone()),
            resource: Some(self.resource.clone()),
            subresource: self.subresource.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            ..Default::default()
        }
    }
}

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub allowed: bool,
    /// The authorizer's reason (often the binding that allows it), when it gives one.
    pub reason: Option<String>,
}

/// May the caller do it?
pub async fn may_i(client: &Client, question: &Question) -> Result<Answer> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec { resource_attributes: Some(question.attributes()), ..Default::default() },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .or_kube("asking what you may do (SelfSubjectAccessReview)")?;
    let status = answer.status.unwrap_or_default();
    Ok(Answer { allowed: status.allowed, reason: status.reason.filter(|r| !r.is_empty()) })
}

/// May the ServiceAccount `namespace/name` do it?
pub async fn may_service_account(client: &Client, namespace: &str, name: &str, question: &Question) -> Result<Answer> {
    let user = format!("system:serviceaccount:{namespace}:{name}");
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.clone()),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(question.attributes()),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .or_kube(format!("asking what {user} may do (SubjectAccessReview)"))?;
    let status = answer.status.unwrap_or_default();
    Ok(Answer { allowed: status.allowed, reason: status.reason.filter(|r| !r.is_empty()) })
}

/// The caller's user name as the API server sees it (SelfSubjectReview), for messages.
pub async fn whoami(client: &Client) -> Option<String> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api.create(&PostParams::default(), &SelfSubjectReview::default()).await.ok()?;
    review.status?.user_info?.username
}
