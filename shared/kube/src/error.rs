//! kube client errors as the runtime's [`Error`]: the server's own words, what was being done, and
//! a next step (RBAC, credentials, reachability).

use std::fmt;

use harden_cli::{Error, ErrorKind};

/// Maps a kube client error to a message about `doing` (e.g. "reading secret t75/tls").
pub fn from_kube(err: kube::Error, doing: impl fmt::Display) -> Error {
    convert(err).context(doing)
}

/// `result.or_kube("listing pods")?`: [`from_kube`] on a kube result.
pub trait KubeResultExt<T> {
    fn or_kube(self, doing: impl fmt::Display) -> Result<T, Error>;
}

impl<T> KubeResultExt<T> for Result<T, kube::Error> {
    fn or_kube(self, doing: impl fmt::Display) -> Result<T, Error> {
        self.map_err(|e| from_kube(e, doing))
    }
}

/// The HTTP status of an API error, if it is one.
pub fn status_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// The namespace named by a 404 that says the namespace itself is missing (`namespaces "x" not
/// found`, as a create in a namespace that does not exist gets).
pub fn missing_namespace(err: &kube::Error) -> Option<String> {
    match err {
        kube::Error::Api(status) if status.code == 404 => {
            let details = status.details.as_ref()?;
            (details.kind == "namespaces" && details.group.is_empty() && !details.name.is_empty())
                .then(|| details.name.clone())
        }
        _ => None,
    }
}

/// A kube client error without context.
pub fn convert(err: kube::Error) -> Error {
    match err {
        kube::Error::Api(status) => {
            let code = status.code;
            let message = if status.message.is_empty() {
                format!("the API server answered {code} {}", status.reason)
            } else {
                status.message.clone()
            };
            match code {
                403 => Error::new(ErrorKind::Forbidden, format!("forbidden: {message}")).with_hint(
                    "ask a cluster admin for this permission, or pick another identity with --context/--as; \
                     `kubectl auth can-i --list` shows what you may do",
                ),
                401 => Error::new(ErrorKind::Forbidden, format!("unauthorized: {message}"))
                    .with_hint("your credentials were rejected; refresh them or pick another --context"),
                404 => Error::not_found(message),
                409 => Error::conflict(message).with_hint(
                    "another field manager owns these fields, or the object changed meanwhile; re-run, or with \
                     --force-conflicts to take the fields over",
                ),
                _ => Error::new(ErrorKind::Api, message),
            }
        }
        kube::Error::Auth(e) => Error::new(ErrorKind::Kubeconfig, format!("cannot authenticate: {e}"))
            .with_hint("check the user of your kubeconfig context"),
        kube::Error::InferConfig(e) => Error::new(ErrorKind::Kubeconfig, format!("no usable kubeconfig: {e}"))
            .with_hint("pass --kubeconfig FILE or set KUBECONFIG"),
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            Error::new(ErrorKind::Unreachable, format!("cannot reach the API server: {err}"))
                .with_hint("check that the cluster is running and that --kubeconfig/--context point at it")
        }
        other => Error::other(other.to_string()),
    }
}

/// A kubeconfig that cannot be used.
pub fn from_kubeconfig(err: kube::config::KubeconfigError) -> Error {
    Error::new(ErrorKind::Kubeconfig, format!("kubeconfig: {err}"))
        .with_hint("pass --kubeconfig FILE, set KUBECONFIG, or pick a --context that exists")
}

/// A selector kubectl would refuse, as invalid input with a hint about the syntax.
pub fn selector(err: apimachinery::labels::SelectorError) -> Error {
    Error::invalid(err.to_string())
        .with_hint("selectors are written as kubectl's -l: tier=frontend, 'env in (prod,staging)', !legacy")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_keeps_the_servers_words_and_adds_a_hint() {
        let status = kube::core::Status::failure(
            "pods is forbidden: User \"dev\" cannot delete resource \"pods\" in API group \"\" in the namespace \"x\"",
            "Forbidden",
        )
        .with_code(403);
        let err = convert(kube::Error::Api(Box::new(status)));
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert!(err.message.contains("cannot delete resource \"pods\""), "{err}");
        assert!(err.to_string().contains("hint:"));
    }
}
