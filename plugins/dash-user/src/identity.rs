//! A ServiceAccount as the RBAC authorizer sees it, and every way a binding's subject can name it.
//!
//! A ServiceAccount's token authenticates as the user `system:serviceaccount:NS:NAME` with the
//! groups `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`. The
//! RBAC authorizer (`appliesToUser` in pkg/registry/rbac/validation/rule.go) then matches a subject:
//!
//! - `kind: ServiceAccount` by name and namespace; in a RoleBinding an empty namespace means the
//!   binding's own;
//! - `kind: User` by the exact user name, so `User system:serviceaccount:NS:NAME` is the account too;
//! - `kind: Group` by any of the account's groups.
//!
//! So a binding that spells the account another way gives it the same rights: every check of
//! this plugin that looks for the account's bindings goes through [`naming`].

use k8s_openapi::api::rbac::v1::Subject;

/// The groups every ServiceAccount of `namespace` is in.
pub fn groups(namespace: &str) -> [String; 3] {
    ["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}"), "system:authenticated".into()]
}

/// The user name of the ServiceAccount `namespace/name`.
pub fn user_name(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// How a subject names the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// `kind: ServiceAccount`.
    ServiceAccount,
    /// `kind: User, name: system:serviceaccount:NS:NAME`: the account, spelled as its user name.
    User,
    /// `kind: Group` with one of the account's groups: every account of the group, this one too.
    Group(String),
}

impl Naming {
    /// Whether the subject names this account alone (so it can be removed for this account).
    pub fn is_direct(&self) -> bool {
        !matches!(self, Naming::Group(_))
    }

    /// How it reads in a message: `` (itself), ` (as User system:serviceaccount:...)`, ` (through group ...)`.
    pub fn shown(&self, namespace: &str, name: &str) -> String {
        match self {
            Naming::ServiceAccount => String::new(),
            Naming::User => format!(" (as User {})", user_name(namespace, name)),
            Naming::Group(group) => format!(" (through group {group})"),
        }
    }
}

/// How `subject`, in a binding of `binding_namespace` (`None` for a ClusterRoleBinding), names
/// the ServiceAccount `namespace/name`, if it does.
pub fn naming(subject: &Subject, binding_namespace: Option<&str>, namespace: &str, name: &str) -> Option<Naming> {
    match subject.kind.as_str() {
        "ServiceAccount" => {
            let subject_namespace = subject
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
                .or(binding_namespace.filter(|ns| !ns.is_empty()));
            (subject.name == name && subject_namespace == Some(namespace)).then_some(Naming::ServiceAccount)
        }
        "User" => (subject.name == user_name(namespace, name)).then_some(Naming::User),
        "Group" => groups(namespace).contains(&subject.name).then(|| Naming::Group(subject.name.clone())),
        _ => None,
    }
}

/// The ServiceAccount a subject names by itself (its kind, or a User `system:serviceaccount:NS:NAME`),
/// as `(namespace, name)`.
pub fn account_of(subject: &Subject, binding_namespace: Option<&str>) -> Option<(String, String)> {
    match subject.kind.as_str() {
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
                .or(binding_namespace.filter(|ns| !ns.is_empty()))?;
            Some((ns.to_string(), subject.name.clone()))
        }
        "User" => {
            let rest = subject.name.strip_prefix("system:serviceaccount:")?;
            let (ns, name) = rest.split_once(':')?;
            (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then(|| (ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.map(str::to_string),
            api_group: (kind != "ServiceAccount").then(|| "rbac.authorization.k8s.io".to_string()),
        }
    }

    #[test]
    fn every_spelling_of_the_account_is_recognised() {
        let n = |s: &Subject, binding: Option<&str>| naming(s, binding, "dash", "dev");
        assert_eq!(n(&subject("ServiceAccount", "dev", Some("dash")), None), Some(Naming::ServiceAccount));
        assert_eq!(n(&subject("ServiceAccount", "dev", None), Some("dash")), Some(Naming::ServiceAccount));
        assert_eq!(n(&subject("User", "system:serviceaccount:dash:dev", None), None), Some(Naming::User));
        for group in ["system:serviceaccounts", "system:serviceaccounts:dash", "system:authenticated"] {
            assert_eq!(n(&subject("Group", group, None), None), Some(Naming::Group(group.into())));
        }
    }

    #[test]
    fn other_accounts_spellings_are_not_this_account() {
        let n = |s: &Subject, binding: Option<&str>| naming(s, binding, "dash", "dev");
        for s in [
            subject("ServiceAccount", "dev", Some("other")),
            subject("ServiceAccount", "other", Some("dash")),
            subject("User", "system:serviceaccount:dash:other", None),
            subject("User", "system:serviceaccount:other:dev", None),
            subject("User", "system:serviceaccount:dash:dev:x", None),
            subject("User", "dev", None),
            subject("User", "system:serviceaccounts:dash", None),
            subject("Group", "system:serviceaccounts:other", None),
            subject("Group", "system:serviceaccount:dash:dev", None),
            subject("Group", "system:unauthenticated", None),
        ] {
            assert_eq!(n(&s, None), None, "{s:?}");
        }
        // An empty namespace in a RoleBinding is the binding's namespace, not any namespace.
        assert_eq!(n(&subject("ServiceAccount", "dev", None), Some("other")), None);
        assert_eq!(n(&subject("ServiceAccount", "dev", None), None), None);
    }

    #[test]
    fn the_account_a_subject_names_by_itself() {
        assert_eq!(
            account_of(&subject("User", "system:serviceaccount:dash:dev", None), None),
            Some(("dash".into(), "dev".into()))
        );
        assert_eq!(account_of(&subject("ServiceAccount", "dev", None), Some("t")), Some(("t".into(), "dev".into())));
        assert_eq!(account_of(&subject("User", "alice", None), None), None);
        assert_eq!(account_of(&subject("Group", "system:serviceaccounts:dash", None), None), None);
        assert_eq!(account_of(&subject("User", "system:serviceaccount:dash", None), None), None);
    }
}
