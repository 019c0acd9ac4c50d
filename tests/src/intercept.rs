//! A plain-HTTP front for the test API server that loses a race on purpose: just before the first
//! DELETE of each object goes through, it changes that object (an annotation, as admin), so the
//! DELETE's precondition on the version the plugin read fails with 409 Conflict, as when a
//! controller writes an object's status while the plugin deletes it. Every request is recorded, so
//! a test sees the conflict happen and what the plugin did next.
//!
//! Plugins reach it through [`ConflictOnDelete::kubeconfig`] (no credentials: it forwards each
//! request to the real API server as admin, with the request's own method, path, headers and body).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kube::client::Body;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// One request as the front saw it: `PATCH` requests it sent itself are recorded as `BUMP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// The front: listening on 127.0.0.1 until the test binary ends.
pub struct ConflictOnDelete {
    seen: Arc<Mutex<Vec<Seen>>>,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl ConflictOnDelete {
    /// Starts a front for the cluster whose admin kubeconfig is `admin_kubeconfig`. `change` is the
    /// JSON merge patch made to an object before its first DELETE goes through (default: an
    /// annotation added, so the object is still the plugin's).
    pub fn start(admin_kubeconfig: &Path, change: Option<serde_json::Value>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the front's port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let port = listener.local_addr().expect("the front's address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (admin, log) = (admin_kubeconfig.to_path_buf(), seen.clone());
        let change = change.unwrap_or_else(|| {
            serde_json::json!({"metadata": {"annotations": {"test.kube-harden.io/changed": "just before the delete"}}})
        });
        // Its own thread and runtime: the test's runtime blocks while a plugin runs.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the front's runtime");
            runtime.block_on(serve(listener, admin, log, change));
        });
        let dir = tempfile::tempdir().expect("a directory for the front's kubeconfig");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: front\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\n\
                 users:\n- name: nobody\n  user: {{}}\ncontexts:\n- name: front\n  context: {{cluster: front, user: nobody}}\n\
                 current-context: front\n"
            ),
        )
        .expect("writing the front's kubeconfig");
        ConflictOnDelete { seen, _dir: dir, kubeconfig }
    }

    /// A kubeconfig that points at the front.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("the front's log").clone()
    }

    /// The statuses of the DELETEs of the object at `path` (`/apis/.../namespaces/NS/KIND/NAME`), in order.
    pub fn deletes(&self, path: &str) -> Vec<u16> {
        self.seen().into_iter().filter(|s| s.method == "DELETE" && s.path == path).map(|s| s.status).collect()
    }
}

async fn serve(
    listener: std::net::TcpListener,
    admin: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    change: serde_json::Value,
) {
    let change = Arc::new(serde_json::to_vec(&change).expect("a JSON patch"));
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    let client = crate::client_for(&admin).await;
    let bumped: Arc<Mutex<HashSet<String>>> = Arc::default();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (client, seen, bumped, change) = (client.clone(), seen.clone(), bumped.clone(), change.clone());
        tokio::spawn(async move {
            let _ = connection(stream, client, seen, bumped, change).await;
        });
    }
}

/// One keep-alive connection: requests in, answers out, one at a time (HTTP/1.1 without pipelining,
/// as kube's client speaks it).
async fn connection(
    stream: tokio::net::TcpStream,
    client: kube::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    bumped: Arc<Mutex<HashSet<String>>>,
    change: Arc<Vec<u8>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return Ok(()) };
        let (method, target) = (method.to_string(), target.to_string());
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            read.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await?;
        let path = target.split('?').next().unwrap_or_default().to_string();

        if method == "DELETE" && bumped.lock().expect("bumped").insert(path.clone()) {
            let patch = http::Request::builder()
                .method("PATCH")
                .uri(&path)
                .header("content-type", "application/merge-patch+json")
                .body(Body::from(change.as_ref().clone()))
                .expect("a PATCH request");
            let status = match client.send(patch).await {
                Ok(answer) => answer.status().as_u16(),
                Err(_) => 0,
            };
            seen.lock().expect("log").push(Seen { method: "BUMP".into(), path: path.clone(), status });
        }

        let mut request = http::Request::builder().method(method.as_str()).uri(&target);
        for (name, value) in &headers {
            if !matches!(name.as_str(), "host" | "content-length" | "connection" | "authorization" | "accept-encoding")
            {
                request = request.header(name, value);
            }
        }
        let request = request.body(Body::from(body)).expect("a forwarded request");
        let (status, content_type, answer) = match client.send(request).await {
            Ok(answer) => {
                let status = answer.status();
                let content_type = answer
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_string();
                let bytes = answer.into_body().collect_bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                (status, content_type, bytes)
            }
            Err(e) => (http::StatusCode::BAD_GATEWAY, "text/plain".to_string(), e.to_string().into_bytes()),
        };
        seen.lock().expect("log").push(Seen { method, path, status: status.as_u16() });
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            answer.len()
        );
        write.write_all(head.as_bytes()).await?;
        write.write_all(&answer).await?;
        write.flush().await?;
    }
}
