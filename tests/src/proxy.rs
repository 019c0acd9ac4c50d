//! A reverse proxy between a plugin and the test API server, for tests that must act at a precise
//! point of a command (a signal while a given write is in flight) or stretch it in time.
//!
//! The plugin talks plain HTTP to the proxy, through a kubeconfig of its own without credentials;
//! the proxy forwards every request unchanged to the real API server as admin and returns the
//! answer unchanged. It records each request, can hold each one back for a while, and when a chosen
//! request arrives, before forwarding it, can send a signal to a process (the request then reaches
//! the API server after the signal, as a write in flight does when a user presses Ctrl-C) or hold
//! it until the test releases it (so the test can change the cluster at exactly that point).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::client::Body;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The `nth` (from 0) request with this method whose path contains `path`, and what to do then.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub method: String,
    pub path: String,
    pub nth: usize,
    pub action: Action,
}

/// What a [`Trigger`] does before the request is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this signal to the process set with [`Proxy::set_pid`].
    Signal(i32),
    /// Hold the request until [`Proxy::release`].
    Hold,
}

#[derive(Default)]
struct State {
    log: Vec<String>,
    trigger: Option<Trigger>,
    seen: usize,
    fired: bool,
    released: bool,
    delay: Duration,
}

/// A running proxy; it stops with the test process.
pub struct Proxy {
    kubeconfig: PathBuf,
    state: Arc<Mutex<State>>,
    pid: Arc<AtomicU32>,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts a proxy that forwards to the cluster of `upstream` (a kubeconfig) with its credentials.
    pub fn start(upstream: &Path) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("proxy address").port();
        let dir = tempfile::tempdir().expect("a directory for the proxy's kubeconfig");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster:\n    server: http://127.0.0.1:{port}\n\
                 users:\n- name: proxy\n  user: {{}}\ncontexts:\n- name: proxy\n  context:\n    cluster: proxy\n    user: proxy\n\
                 \x20   namespace: default\ncurrent-context: proxy\n"
            ),
        )
        .expect("writing the proxy's kubeconfig");
        let state = Arc::new(Mutex::new(State::default()));
        let pid = Arc::new(AtomicU32::new(0));
        let upstream = upstream.to_path_buf();
        let (thread_state, thread_pid) = (state.clone(), pid.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the proxy's runtime");
            runtime.block_on(async move {
                let kubeconfig = Kubeconfig::read_from(&upstream).expect("upstream kubeconfig");
                let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .expect("upstream config");
                let client = kube::Client::try_from(config).expect("upstream client");
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let (client, state, pid) = (client.clone(), thread_state.clone(), thread_pid.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, client, state, pid).await;
                    });
                }
            });
        });
        Proxy { kubeconfig, state, pid, _dir: dir }
    }

    /// The kubeconfig that points at the proxy.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Holds every request back this long before forwarding it.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Arms `trigger` (or disarms with `None`) and forgets the requests seen so far.
    pub fn arm(&self, trigger: Option<Trigger>) {
        self.pid.store(0, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        state.trigger = trigger;
        state.seen = 0;
        state.fired = false;
        state.released = false;
        state.log.clear();
    }

    /// The process the trigger signals (set right after spawning it).
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid, Ordering::SeqCst);
    }

    /// Whether the armed trigger fired.
    pub fn fired(&self) -> bool {
        self.state.lock().unwrap().fired
    }

    /// Waits (up to a minute) until a [`Action::Hold`] trigger holds its request.
    pub async fn wait_held(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.fired() {
            assert!(Instant::now() < deadline, "the held request never came: {:?}", self.requests());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Lets the held request go on.
    pub fn release(&self) {
        self.state.lock().unwrap().released = true;
    }

    /// The requests since [`Proxy::arm`]: `METHOD /path -> STATUS`, and `SIGNAL n` where it fired.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

/// Serves one connection: HTTP/1.1 requests with a Content-Length (or chunked) body, kept alive.
async fn serve(
    stream: tokio::net::TcpStream,
    client: kube::Client,
    state: Arc<Mutex<State>>,
    pid: Arc<AtomicU32>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return Ok(()) };
        let (method, target) = (method.to_string(), target.to_string());
        let mut headers = Vec::new();
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else { continue };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
            match name.as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "host" | "connection" | "accept-encoding" | "authorization" => {}
                _ => headers.push((name, value)),
            }
        }
        let body = if chunked { read_chunked(&mut reader).await? } else { read_exact(&mut reader, length).await? };

        let path = target.split('?').next().unwrap_or_default().to_string();
        let (delay, action) = {
            let mut state = state.lock().unwrap();
            let mut action = None;
            if let Some(trigger) = state.trigger.clone()
                && !state.fired
                && trigger.method == method
                && path.contains(&trigger.path)
            {
                if state.seen == trigger.nth {
                    state.fired = true;
                    action = Some(trigger.action);
                    state.log.push(format!("{:?}", trigger.action));
                }
                state.seen += 1;
            }
            (state.delay, action)
        };
        match action {
            Some(Action::Signal(signal)) => send_signal(&pid, signal).await,
            Some(Action::Hold) => {
                while !state.lock().unwrap().released {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            None => {}
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }

        let mut request = http::Request::builder().method(method.as_str()).uri(target.as_str());
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(Body::from(body)).expect("a request the plugin sent");
        let (status, content_type, answer) = match client.send(request).await {
            Ok(response) => {
                let status = response.status();
                let content_type = response
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_string();
                let answer = response.into_body().collect_bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                (status.as_u16(), content_type, answer)
            }
            Err(e) => (502, "text/plain".to_string(), format!("proxy: {e}").into_bytes()),
        };
        state.lock().unwrap().log.push(format!("{method} {path} -> {status}"));
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Unknown"),
            answer.len()
        );
        write.write_all(head.as_bytes()).await?;
        write.write_all(&answer).await?;
        write.flush().await?;
    }
}

/// Signals the process once its pid is known (the test sets it right after spawning).
async fn send_signal(pid: &AtomicU32, signal: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let target = pid.load(Ordering::SeqCst);
        if target != 0 {
            // SAFETY: kill(2) on a process the test started.
            unsafe { libc::kill(target as libc::pid_t, signal) };
            return;
        }
        if Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn read_exact(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, length: usize) -> std::io::Result<Vec<u8>> {
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

async fn read_chunked(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).await?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        let mut chunk = read_exact(reader, size + 2).await?;
        chunk.truncate(size);
        body.extend_from_slice(&chunk);
        if size == 0 {
            return Ok(body);
        }
    }
}
