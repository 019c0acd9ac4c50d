//! Builds a kube [`Client`] from kubeconfig the way kubectl does, honouring [`KubeArgs`]: merged
//! `KUBECONFIG` lists, `--context/--cluster/--user`, impersonation, `proxy-url`, exec and OIDC
//! credentials, and `--v=6` request logs on stderr.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use harden_cli::{Error, ErrorKind, Result};
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::{convert, from_kubeconfig};
use crate::flags::KubeArgs;

/// A connected client and what the kubeconfig says about where we are.
#[derive(Clone)]
pub struct Kube {
    pub client: Client,
    /// The namespace of the kubeconfig context (or `default`).
    pub context_namespace: String,
    /// The API server URL, for messages.
    pub server: String,
}

impl Kube {
    /// The namespace to work in: the single `-n`, else the context's.
    pub fn namespace(&self, args: &KubeArgs) -> Result<String> {
        Ok(args.single_namespace()?.map(str::to_owned).unwrap_or_else(|| self.context_namespace.clone()))
    }

    /// The namespaces given with `-n`, else the context's.
    pub fn namespaces(&self, args: &KubeArgs) -> Vec<String> {
        if args.namespaces.is_empty() { vec![self.context_namespace.clone()] } else { args.namespaces.clone() }
    }
}

/// Reads kubeconfig like kubectl: `--kubeconfig`, else every file listed in `KUBECONFIG` that
/// exists (merged, first wins), else `~/.kube/config`.
pub fn load_kubeconfig(args: &KubeArgs) -> Result<Kubeconfig> {
    if let Some(path) = &args.kubeconfig {
        return Kubeconfig::read_from(path).map_err(|e| {
            Error::new(ErrorKind::Kubeconfig, format!("cannot read kubeconfig {}: {e}", path.display()))
                .with_hint("check the path given to --kubeconfig")
        });
    }
    if let Some(merged) = merge_kubeconfig_list(std::env::var_os("KUBECONFIG").as_deref())? {
        return Ok(merged);
    }
    Kubeconfig::read().map_err(|e| {
        Error::new(ErrorKind::Kubeconfig, format!("no kubeconfig found: {e}"))
            .with_hint("pass --kubeconfig FILE or set KUBECONFIG to point at your cluster")
    })
}

/// Merges the files of a `KUBECONFIG`-style list, skipping missing ones as kubectl does (the first
/// file to set a value wins). `None` when the list names no existing file.
pub fn merge_kubeconfig_list(value: Option<&std::ffi::OsStr>) -> Result<Option<Kubeconfig>> {
    let Some(value) = value else { return Ok(None) };
    let paths: Vec<PathBuf> =
        std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect();
    if paths.is_empty() {
        return Ok(None);
    }
    let mut merged = Kubeconfig::default();
    for path in &paths {
        let one = Kubeconfig::read_from(path).map_err(|e| {
            Error::new(ErrorKind::Kubeconfig, format!("cannot read kubeconfig {}: {e}", path.display()))
        })?;
        merged = merged.merge(one).map_err(from_kubeconfig)?;
    }
    Ok(Some(merged))
}

/// Builds the client configuration from kubeconfig and the flags.
pub async fn config(args: &KubeArgs) -> Result<Config> {
    let kubeconfig = load_kubeconfig(args)?;
    if let Some(context) = &args.context
        && !kubeconfig.contexts.iter().any(|c| &c.name == context)
    {
        let known: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::new(ErrorKind::Kubeconfig, format!("context {context:?} is not in the kubeconfig"))
            .with_hint(format!("known contexts: {}", known.join(", "))));
    }
    let options =
        KubeConfigOptions { context: args.context.clone(), cluster: args.cluster.clone(), user: args.user.clone() };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(from_kubeconfig)?;
    if let Some(timeout) = args.request_timeout.filter(|t| !t.is_zero()) {
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
    }
    if let Some(user) = &args.as_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !args.as_groups.is_empty() {
        config.auth_info.impersonate_groups = Some(args.as_groups.clone());
    }
    Ok(config)
}

/// Connects to the cluster named by the flags. Does not send a request yet.
pub async fn connect(args: &KubeArgs) -> Result<Kube> {
    let verbosity = args.verbosity.unwrap_or(0);
    init_logging(verbosity);
    let config = config(args).await?;
    let context_namespace = config.default_namespace.clone();
    let server = config.cluster_url.to_string();
    let builder = ClientBuilder::try_from(config)
        .map_err(|e| convert(e).context("building the Kubernetes client from kubeconfig"))?;
    let client = builder.with_layer(&RequestLog { headers: verbosity >= 7 }).build();
    Ok(Kube { client, context_namespace, server })
}

/// Logs on stderr at kubectl's levels: 6 and up the requests, 9 what kube itself logs.
fn init_logging(verbosity: u8) {
    if verbosity < 6 {
        return;
    }
    let filter = if verbosity >= 9 { "kube_harden=info,kube=debug,kube_client=debug" } else { "kube_harden=info" };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .try_init();
}

/// A layer that logs each request like `kubectl --v=6`: `GET https://... 200 OK in 3 milliseconds`.
#[derive(Clone)]
struct RequestLog {
    headers: bool,
}

impl<S> tower::Layer<S> for RequestLog {
    type Service = Logged<S>;
    fn layer(&self, inner: S) -> Logged<S> {
        Logged { inner, headers: self.headers }
    }
}

#[derive(Clone)]
struct Logged<S> {
    inner: S,
    headers: bool,
}

impl<S, B> tower::Service<http::Request<Body>> for Logged<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let (method, uri) = (request.method().clone(), request.uri().clone());
        if self.headers {
            for (name, value) in request.headers() {
                let shown =
                    if name == http::header::AUTHORIZATION { "<masked>" } else { value.to_str().unwrap_or("<binary>") };
                tracing::info!(target: "kube_harden::http", "Request Header: \"{name}: {shown}\"");
            }
        }
        let start = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let elapsed = start.elapsed().as_millis();
            match &result {
                Ok(response) => {
                    let status = response.status();
                    let reason = status.canonical_reason().unwrap_or("");
                    tracing::info!(target: "kube_harden::http", "{method} {uri} {} {reason} in {elapsed} milliseconds", status.as_u16());
                }
                Err(err) => {
                    tracing::info!(target: "kube_harden::http", "{method} {uri} failed in {elapsed} milliseconds: {err}")
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:1"}
- name: two
  cluster: {server: "https://127.0.0.1:2"}
users:
- name: admin
  user: {token: abc}
contexts:
- name: first
  context: {cluster: one, user: admin, namespace: apps}
- name: second
  context: {cluster: two, user: admin}
current-context: first
"#;

    fn args_with_file() -> (tempfile::NamedTempFile, KubeArgs) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), KUBECONFIG).unwrap();
        let args = KubeArgs { kubeconfig: Some(file.path().to_owned()), ..Default::default() };
        (file, args)
    }

    #[tokio::test]
    async fn context_flag_picks_cluster_and_namespace() {
        let (_file, mut args) = args_with_file();
        let kube = connect(&args).await.unwrap();
        assert_eq!(kube.context_namespace, "apps");
        assert!(kube.server.contains(":1"));
        args.context = Some("second".into());
        let kube = connect(&args).await.unwrap();
        assert_eq!(kube.context_namespace, "default");
        assert!(kube.server.contains(":2"));
    }

    #[test]
    fn kubeconfig_lists_merge_several_files_and_skip_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        std::fs::write(&first, KUBECONFIG).unwrap();
        std::fs::write(
            &second,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: three\n  cluster: {server: \"https://127.0.0.1:3\"}\n\
             users:\n- name: viewer\n  user: {token: xyz}\ncontexts:\n- name: third\n  context: {cluster: three, user: viewer}\n\
             current-context: third\n",
        )
        .unwrap();
        let list =
            std::env::join_paths([first.as_path(), dir.path().join("missing").as_path(), second.as_path()]).unwrap();
        let merged = merge_kubeconfig_list(Some(&list)).unwrap().unwrap();
        let contexts: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(contexts, ["first", "second", "third"]);
        assert_eq!(merged.current_context.as_deref(), Some("first"), "the first file wins");
        let nothing = std::env::join_paths([dir.path().join("missing")]).unwrap();
        assert!(merge_kubeconfig_list(Some(&nothing)).unwrap().is_none());
    }

    #[tokio::test]
    async fn unknown_context_names_the_known_ones() {
        let (_file, mut args) = args_with_file();
        args.context = Some("nope".into());
        let err = connect(&args).await.err().unwrap();
        assert!(err.to_string().contains("first, second"), "{err}");
    }

    #[tokio::test]
    async fn impersonation_and_timeout_reach_the_config() {
        let (_file, mut args) = args_with_file();
        args.as_user = Some("dev".into());
        args.as_groups = vec!["team".into()];
        args.request_timeout = Some(std::time::Duration::from_secs(7));
        let config = config(&args).await.unwrap();
        assert_eq!(config.auth_info.impersonate.as_deref(), Some("dev"));
        assert_eq!(config.auth_info.impersonate_groups, Some(vec!["team".to_string()]));
        assert_eq!(config.read_timeout, Some(std::time::Duration::from_secs(7)));
    }
}
