//! Builds a kube [`Client`] from kubeconfig the way kubectl does, honouring [`KubeArgs`]: merged
//! `KUBECONFIG` lists, `--context/--cluster/--user`, impersonation, `proxy-url`, exec and OIDC
//! credentials, and `--v=6` request logs on stderr.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use harden_cli::files::{self, limits};
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
/// exists (merged, first wins), else `~/.kube/config`. Every file is read through the bounded
/// reader, [`limits::KUBECONFIG`] for all of them together: `/dev/zero` is refused as too large,
/// and a FIFO without a writer reads as empty instead of hanging.
pub fn load_kubeconfig(args: &KubeArgs) -> Result<Kubeconfig> {
    let mut budget = limits::KUBECONFIG;
    if let Some(path) = &args.kubeconfig {
        let kubeconfig = read_kubeconfig(path, "--kubeconfig", &mut budget)
            .map_err(|e| if e.hint.is_none() { e.with_hint("check the path given to --kubeconfig") } else { e })?;
        if kubeconfig.clusters.is_empty() && kubeconfig.auth_infos.is_empty() && kubeconfig.contexts.is_empty() {
            return Err(Error::new(
                ErrorKind::Kubeconfig,
                format!("kubeconfig {} has no cluster, user or context", path.display()),
            )
            .with_hint("give --kubeconfig a kubeconfig file (a FIFO without a writer reads as empty)"));
        }
        return Ok(kubeconfig);
    }
    if let Some(merged) = merge_kubeconfig_list_within(std::env::var_os("KUBECONFIG").as_deref(), &mut budget)? {
        return Ok(merged);
    }
    let no_kubeconfig = |why: String| {
        Error::new(ErrorKind::Kubeconfig, format!("no kubeconfig found: {why}"))
            .with_hint("pass --kubeconfig FILE or set KUBECONFIG to point at your cluster")
    };
    let default = std::env::home_dir()
        .map(|home| home.join(".kube").join("config"))
        .ok_or_else(|| no_kubeconfig("the home directory is not known".into()))?;
    if !default.exists() {
        return Err(no_kubeconfig(format!("{} does not exist", default.display())));
    }
    read_kubeconfig(&default, "kubeconfig", &mut budget)
}

/// Merges the files of a `KUBECONFIG`-style list, skipping missing ones as kubectl does (the first
/// file to set a value wins). `None` when the list names no existing file.
pub fn merge_kubeconfig_list(value: Option<&std::ffi::OsStr>) -> Result<Option<Kubeconfig>> {
    let mut budget = limits::KUBECONFIG;
    merge_kubeconfig_list_within(value, &mut budget)
}

fn merge_kubeconfig_list_within(value: Option<&std::ffi::OsStr>, budget: &mut u64) -> Result<Option<Kubeconfig>> {
    let Some(value) = value else { return Ok(None) };
    let paths: Vec<PathBuf> =
        std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty() && p.exists()).collect();
    if paths.is_empty() {
        return Ok(None);
    }
    let mut merged = Kubeconfig::default();
    for path in &paths {
        let one = read_kubeconfig(path, "KUBECONFIG entry", budget)?;
        merged = merged.merge(one).map_err(from_kubeconfig)?;
    }
    Ok(Some(merged))
}

/// One kubeconfig file, read within what is left of `budget`, its documents merged and the paths it
/// names made absolute against its directory (as kube's own reader does).
fn read_kubeconfig(path: &Path, what: &str, budget: &mut u64) -> Result<Kubeconfig> {
    let shown = format!("{what} {}", path.display());
    let first = *budget == limits::KUBECONFIG;
    let bytes = files::read_limited(path, &shown, *budget).map_err(|e| match e.kind {
        ErrorKind::TooLarge if !first => Error {
            message: format!("{} (the kubeconfig files together may hold {} MiB)", e.message, limits::KUBECONFIG >> 20),
            ..e
        },
        ErrorKind::TooLarge => e,
        _ => Error { kind: ErrorKind::Kubeconfig, ..e },
    })?;
    *budget = budget.saturating_sub(bytes.len() as u64);
    parse_kubeconfig(bytes, &shown, path.parent())
}

/// A kubeconfig's bytes as a [`Kubeconfig`]: its documents merged, relative paths made absolute
/// against `dir`. `shown` names it in errors. Never panics (a fuzz target feeds it anything).
pub fn parse_kubeconfig(bytes: Vec<u8>, shown: &str, dir: Option<&Path>) -> Result<Kubeconfig> {
    let text = kubeconfig_text(bytes)
        .map_err(|why| Error::new(ErrorKind::Kubeconfig, format!("cannot read {shown}: {why}")))?;
    let mut kubeconfig = Kubeconfig::from_yaml(&text)
        .map_err(|e| Error::new(ErrorKind::Kubeconfig, format!("cannot read {shown}: {e}")))?;
    if let Some(dir) = dir {
        absolute_paths(&mut kubeconfig, dir);
    }
    Ok(kubeconfig)
}

/// UTF-8 (a byte-order mark dropped), or UTF-16 with its byte-order mark, as kube's reader takes.
fn kubeconfig_text(bytes: Vec<u8>) -> std::result::Result<String, &'static str> {
    let utf16 = |little: bool| {
        let units: Vec<u16> = bytes[2..]
            .chunks(2)
            .map(|c| {
                let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                if little { u16::from_le_bytes(pair) } else { u16::from_be_bytes(pair) }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| "it is not valid UTF-16")
    };
    match bytes.as_slice() {
        [0xff, 0xfe, ..] => utf16(true),
        [0xfe, 0xff, ..] => utf16(false),
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8(rest.to_vec()).map_err(|_| "it is not valid UTF-8"),
        _ => String::from_utf8(bytes).map_err(|_| "it is not valid UTF-8"),
    }
}

/// Relative certificate, key, token and exec paths are relative to the kubeconfig's directory.
fn absolute_paths(kubeconfig: &mut Kubeconfig, dir: &Path) {
    let absolute = |path: &mut Option<String>| {
        if let Some(p) = path.as_deref()
            && Path::new(p).is_relative()
            && let Some(joined) = dir.join(p).to_str()
        {
            *path = Some(joined.to_string());
        }
    };
    for cluster in kubeconfig.clusters.iter_mut().filter_map(|c| c.cluster.as_mut()) {
        absolute(&mut cluster.certificate_authority);
    }
    for user in kubeconfig.auth_infos.iter_mut().filter_map(|a| a.auth_info.as_mut()) {
        absolute(&mut user.client_certificate);
        absolute(&mut user.client_key);
        absolute(&mut user.token_file);
        // Only commands with a path separator, as client-go: `aws` stays a PATH lookup.
        if let Some(exec) = user.exec.as_mut()
            && exec.command.as_deref().is_some_and(|c| c.contains(std::path::MAIN_SEPARATOR))
        {
            absolute(&mut exec.command);
        }
    }
}

/// The certificate, key and token files of the cluster and user in use are read by kube's client,
/// whole and blocking: each must be a regular file within [`limits::CREDENTIAL`], so `/dev/zero` or
/// a FIFO named there is refused here instead of exhausting memory or hanging.
pub fn check_credential_files(kubeconfig: &Kubeconfig, options: &KubeConfigOptions) -> Result<()> {
    let context_name = options.context.as_ref().or(kubeconfig.current_context.as_ref());
    let context = context_name
        .and_then(|name| kubeconfig.contexts.iter().find(|c| &c.name == name))
        .and_then(|c| c.context.as_ref());
    let cluster_name = options.cluster.as_ref().or(context.map(|c| &c.cluster));
    let user_name = options.user.as_ref().or(context.and_then(|c| c.user.as_ref()));
    let mut named: Vec<(&str, &String)> = Vec::new();
    if let Some(cluster) =
        kubeconfig.clusters.iter().find(|c| Some(&c.name) == cluster_name).and_then(|c| c.cluster.as_ref())
    {
        named.extend(cluster.certificate_authority.iter().map(|p| ("certificate-authority", p)));
    }
    if let Some(user) =
        kubeconfig.auth_infos.iter().find(|a| Some(&a.name) == user_name).and_then(|a| a.auth_info.as_ref())
    {
        named.extend(user.client_certificate.iter().map(|p| ("client-certificate", p)));
        named.extend(user.client_key.iter().map(|p| ("client-key", p)));
        named.extend(user.token_file.iter().map(|p| ("tokenFile", p)));
    }
    for (field, path) in named {
        let Ok(meta) = std::fs::metadata(path) else {
            // Missing or unreadable: kube's own error names it.
            continue;
        };
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::Kubeconfig,
                format!("the kubeconfig's {field} {path} is not a regular file"),
            )
            .with_hint("point the kubeconfig at the file itself"));
        }
        if meta.len() > limits::CREDENTIAL {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("the kubeconfig's {field} {path} is too large: more than {} MiB", limits::CREDENTIAL >> 20),
            ));
        }
    }
    Ok(())
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
    check_credential_files(&kubeconfig, &options)?;
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

/// Connects to the cluster named by the flags, and checks that the namespaces named with `-n`
/// exist (exit 2 naming the ones that do not, see [`crate::namespaces::require_existing`]); without
/// `-n`, no request is sent yet.
pub async fn connect(args: &KubeArgs) -> Result<Kube> {
    let kube = connect_unchecked(args).await?;
    crate::namespaces::require_existing(&kube.client, &args.namespaces).await?;
    Ok(kube)
}

/// Connects like [`connect`] without checking the `-n` namespaces: for a caller that lists the
/// namespaces anyway and checks them against its list (no request per namespace).
pub async fn connect_unchecked(args: &KubeArgs) -> Result<Kube> {
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
        .with_writer(harden_cli::output::StderrWriter::default)
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

    #[test]
    fn kubeconfigs_are_read_within_a_budget_and_a_fifo_never_hangs() {
        let args = |path: &str| KubeArgs { kubeconfig: Some(path.into()), ..Default::default() };
        let err = load_kubeconfig(&args("/dev/zero")).unwrap_err();
        assert_eq!((err.kind, err.exit_code(harden_cli::ExitStyle::Action)), (ErrorKind::TooLarge, 2), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = load_kubeconfig(&args(fifo.to_str().unwrap())).unwrap_err();
        assert!(err.message.contains("has no cluster, user or context"), "{err}");
        // A list shares one budget: two files of 10 MiB are refused at the second.
        let big = dir.path().join("big");
        std::fs::write(&big, format!("# {}\n{KUBECONFIG}", "x".repeat(10 << 20))).unwrap();
        let list = std::env::join_paths([big.as_path(), big.as_path()]).unwrap();
        let err = merge_kubeconfig_list(Some(&list)).unwrap_err();
        assert!(err.message.contains("the kubeconfig files together may hold 16 MiB"), "{err}");
    }

    #[test]
    fn relative_paths_are_the_kubeconfigs_and_utf16_reads() {
        let text = "users:\n- name: u\n  user: {client-key: pki/u.key, tokenFile: /abs/token, exec: {command: ./bin/x}}\n\
                    - name: v\n  user: {exec: {command: aws}}\n";
        let config = parse_kubeconfig(text.as_bytes().to_vec(), "t", Some(Path::new("/home/me/.kube"))).unwrap();
        let user = config.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(user.client_key.as_deref(), Some("/home/me/.kube/pki/u.key"));
        assert_eq!(user.token_file.as_deref(), Some("/abs/token"));
        assert_eq!(user.exec.as_ref().unwrap().command.as_deref(), Some("/home/me/.kube/./bin/x"));
        let aws = config.auth_infos[1].auth_info.as_ref().unwrap().exec.as_ref().unwrap();
        assert_eq!(aws.command.as_deref(), Some("aws"), "a PATH lookup stays one");
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(KUBECONFIG.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse_kubeconfig(utf16, "t", None).unwrap().contexts.len(), 2);
    }

    #[test]
    fn credential_files_must_be_regular_files_of_a_bounded_size() {
        let mut config = parse_kubeconfig(KUBECONFIG.as_bytes().to_vec(), "t", None).unwrap();
        let options = KubeConfigOptions::default();
        check_credential_files(&config, &options).unwrap();
        config.auth_infos[0].auth_info.as_mut().unwrap().client_key = Some("/dev/zero".into());
        let err = check_credential_files(&config, &options).unwrap_err();
        assert!(err.message.contains("client-key /dev/zero is not a regular file"), "{err}");
        // Only the user in use is checked: another context's missing files are not this run's problem.
        let other = KubeConfigOptions { user: Some("nobody".into()), ..Default::default() };
        check_credential_files(&config, &other).unwrap();
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
