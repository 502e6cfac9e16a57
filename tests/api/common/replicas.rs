//! Several real `stagedoor serve` processes behind a tiny round-robin load balancer, for
//! tests of replicas sharing one database: kill -9, restarts, rolling configuration changes.
//!
//! [`Replica`] runs the built binary on a fixed loopback port with the tests' base config
//! plus the test's own YAML files; its log (stdout and stderr) goes to a file whose path is
//! printed when it starts and kept when a test fails. [`Proxy`] forwards every request to the
//! next replica in turn and, like a load balancer with health checks, moves on to the next
//! one when a replica refuses the connection.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::Response;

/// How long a replica may take to answer `/readyz` with 200 after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One `stagedoor serve` process. Killed when dropped.
pub struct Replica {
    pub name: String,
    pub port: u16,
    child: Option<Child>,
    /// Config files and the log; kept (not deleted) when the test panics.
    dir: Option<tempfile::TempDir>,
    /// The test's YAML documents, merged in order over the base config.
    configs: Vec<String>,
    /// Extra environment variables for the process.
    env: Vec<(String, String)>,
    log_path: PathBuf,
    http: reqwest::Client,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill_9();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!("replica {}: files kept in {}", self.name, kept.display());
        }
    }
}

impl Replica {
    /// Starts it on `port` with `configs` (YAML documents merged over the tests' base
    /// config, in order) and waits until `/readyz` answers 200.
    pub async fn start(name: &str, port: u16, configs: &[&str]) -> Self {
        let mut replica = Self::spawn(name, port, configs);
        replica.wait_ready().await;
        replica
    }

    /// Starts the process without waiting for it (see [`Replica::wait_ready`]).
    pub fn spawn(name: &str, port: u16, configs: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("stagedoor-replica-{name}-"))
            .tempdir()
            .unwrap();
        let log_path = dir.path().join("stagedoor.log");
        let mut replica = Self {
            name: name.to_owned(),
            port,
            child: None,
            dir: Some(dir),
            configs: configs.iter().map(|yaml| (*yaml).to_owned()).collect(),
            env: Vec::new(),
            log_path,
            http: super::client(),
        };
        replica.spawn_process();
        replica
    }

    /// Starts it with extra environment variables (they override `RUST_LOG` too).
    pub async fn start_with_env(
        name: &str,
        port: u16,
        configs: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut replica = Self::spawn(name, port, configs);
        replica.kill_9();
        replica.env = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        replica.spawn_process();
        replica.wait_ready().await;
        replica
    }

    /// Rewrites the test's config files in place (for a reload; see [`Replica::hangup`]).
    pub fn rewrite_configs(&mut self, configs: &[&str]) {
        self.configs = configs.iter().map(|yaml| (*yaml).to_owned()).collect();
        self.write_configs();
    }

    /// Sends SIGHUP: stagedoor reloads its config files.
    pub fn hangup(&self) {
        let pid = self.child.as_ref().expect("a running replica").id();
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("the replica's directory").path()
    }

    /// Writes the config files, then starts the binary; the log is appended to, so that it
    /// covers every run of this replica.
    fn spawn_process(&mut self) {
        assert!(self.child.is_none(), "replica {} is running", self.name);
        let files = self.write_configs();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stagedoor"));
        command.arg("serve");
        for file in &files {
            command.arg("--config").arg(file);
        }
        command
            .env("PGTEST_PASSWORD", super::postgres::PASSWORD)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(command.spawn().expect("the stagedoor binary"));
        eprintln!(
            "replica {} on port {}: log in {}",
            self.name,
            self.port,
            self.log_path.display()
        );
    }

    /// Writes the config files; returns them in merge order.
    fn write_configs(&self) -> Vec<PathBuf> {
        let mut files = vec![self.dir().join("base.yaml")];
        std::fs::write(&files[0], super::BASE_CONFIG).unwrap();
        for (index, yaml) in self.configs.iter().enumerate() {
            let file = self.dir().join(format!("config-{index}.yaml"));
            std::fs::write(&file, yaml).unwrap();
            files.push(file);
        }
        let listen = self.dir().join("listen.yaml");
        std::fs::write(
            &listen,
            format!(
                "stagedoor:\n  listen: {{ host: 127.0.0.1, port: {} }}\n",
                self.port
            ),
        )
        .unwrap();
        files.push(listen);
        files
    }

    /// Waits until `/readyz` answers 200; panics (naming the log) if the process exits or
    /// takes too long.
    pub async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if self.readyz().await == Some(200) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "replica {} exited with {status}; log {}:\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail()
                );
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "replica {} was not ready within {READY_TIMEOUT:?}; log {}:\n{}",
                self.name,
                self.log_path.display(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The status of `GET /readyz`; `None` while nothing answers.
    pub async fn readyz(&self) -> Option<u16> {
        self.http
            .get(self.root_url("/readyz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()
            .map(|response| response.status().as_u16())
    }

    /// SIGKILL (what `Child::kill` sends): no shutdown, connections die mid-request.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as an orchestrator stops a pod: stagedoor stops accepting connections and
    /// finishes the requests in flight. SIGKILL after 10 s.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let started = Instant::now();
        while matches!(child.try_wait(), Ok(None)) {
            if started.elapsed() > Duration::from_secs(10) {
                eprintln!("replica {}: no exit 10 s after SIGTERM, killing", self.name);
                let _ = child.kill();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.wait();
    }

    /// Sends SIGTERM and returns at once (see [`Replica::wait_exit`]).
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("a running replica").id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit (panics otherwise); its exit status. It
    /// can then be started again with [`Replica::restart`].
    pub async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        let child = self.child.as_mut().expect("a running replica");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "replica {} still runs after {limit:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Replaces the test's YAML documents for the next start.
    pub fn set_configs(&mut self, configs: &[&str]) {
        self.configs = configs.iter().map(|yaml| (*yaml).to_owned()).collect();
    }

    /// Starts it again on the same port (killing it first if it still runs) and waits until
    /// it is ready.
    pub async fn restart(&mut self) {
        self.kill_9();
        self.spawn_process();
        self.wait_ready().await;
    }

    /// `http://127.0.0.1:<port>`
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `host:port` as the browser helper names cookie jars.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>/api/auth` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/auth{path}", self.origin())
    }

    /// `http://127.0.0.1:<port>` + `path` (health probes live at the root).
    pub fn root_url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// Counters of a [`Proxy`], per upstream where it matters.
pub struct ProxyStats {
    /// Requests answered by each upstream (any status).
    pub answered: Vec<AtomicU64>,
    /// Attempts that found each upstream refusing connections (or dying mid-request) and
    /// moved on to the next one.
    pub skipped: Vec<AtomicU64>,
    /// Requests the proxy itself answered with 502 because no upstream could.
    pub failed: AtomicU64,
}

impl ProxyStats {
    pub fn answered_by(&self, index: usize) -> u64 {
        self.answered[index].load(Ordering::SeqCst)
    }

    pub fn skipped_at(&self, index: usize) -> u64 {
        self.skipped[index].load(Ordering::SeqCst)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
}

struct ProxyState {
    upstreams: Vec<String>,
    next: AtomicUsize,
    client: reqwest::Client,
    stats: Arc<ProxyStats>,
}

/// A per-request round-robin reverse proxy on a free loopback port. Stopped when dropped.
pub struct Proxy {
    pub port: u16,
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Headers of one hop only (RFC 9110 §7.6.1), and those the client library sets itself.
fn hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::HOST,
        header::CONTENT_LENGTH,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

impl Proxy {
    /// Listens on a free port and forwards to `upstreams` (origins such as
    /// `http://127.0.0.1:1234`) in turn.
    pub async fn start(upstreams: Vec<String>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let stats = Arc::new(ProxyStats {
            answered: upstreams.iter().map(|_| AtomicU64::new(0)).collect(),
            skipped: upstreams.iter().map(|_| AtomicU64::new(0)).collect(),
            failed: AtomicU64::new(0),
        });
        // Installs the TLS provider reqwest needs, even for plain HTTP.
        let _ = super::client();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A new connection per request: a dead replica shows up as a refused connection,
            // never as a stale pooled one.
            .pool_max_idle_per_host(0)
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("proxy client");
        let state = Arc::new(ProxyState {
            upstreams,
            next: AtomicUsize::new(0),
            client,
            stats: stats.clone(),
        });
        let app = axum::Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, stats, task }
    }

    /// `http://127.0.0.1:<port>`
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>/api/auth`: the external URL of the auth API.
    pub fn auth_url(&self) -> String {
        format!("{}/api/auth", self.origin())
    }

    /// `http://127.0.0.1:<port>/api/auth` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.auth_url())
    }

    /// `host:port` as the browser helper names cookie jars.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn plain(status: StatusCode, message: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(message))
        .unwrap()
}

/// Forwards one request to the next upstream. A refused connection moves on to the next
/// upstream, whatever the method; an upstream dying mid-request does too for GET and HEAD,
/// as nginx's default `proxy_next_upstream error` does (never for POST).
async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 << 20).await else {
        return plain(StatusCode::BAD_REQUEST, "unreadable request body".into());
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    let retry_mid_request = parts.method == Method::GET || parts.method == Method::HEAD;
    let count = state.upstreams.len();
    let first = state.next.fetch_add(1, Ordering::SeqCst);
    let mut errors = Vec::new();
    for attempt in 0..count {
        let index = (first + attempt) % count;
        let upstream = &state.upstreams[index];
        let mut outgoing = state
            .client
            .request(parts.method.clone(), format!("{upstream}{path}"))
            .body(body.clone());
        for (name, value) in &parts.headers {
            if !hop_by_hop(name) {
                outgoing = outgoing.header(name, value);
            }
        }
        let result = match outgoing.send().await {
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                response.bytes().await.map(|bytes| (status, headers, bytes))
            }
            Err(error) => Err(error),
        };
        match result {
            Ok((status, headers, bytes)) => {
                state.stats.answered[index].fetch_add(1, Ordering::SeqCst);
                let mut response = Response::builder().status(status);
                for (name, value) in &headers {
                    if !hop_by_hop(name) {
                        response = response.header(name, value);
                    }
                }
                return response.body(Body::from(bytes)).unwrap();
            }
            Err(error) if error.is_connect() || retry_mid_request => {
                state.stats.skipped[index].fetch_add(1, Ordering::SeqCst);
                errors.push(format!("{upstream}: {error:?}"));
            }
            Err(error) => {
                state.stats.failed.fetch_add(1, Ordering::SeqCst);
                return plain(
                    StatusCode::BAD_GATEWAY,
                    format!("{upstream} failed mid-request: {error:?}"),
                );
            }
        }
    }
    state.stats.failed.fetch_add(1, Ordering::SeqCst);
    plain(
        StatusCode::BAD_GATEWAY,
        format!("no upstream answered: {}", errors.join("; ")),
    )
}
