//! A load balancer as Kubernetes gives one: no retries, keep-alive connections to the
//! replicas, and an endpoint list kept by readiness probes. Unlike [`super::replicas::Proxy`],
//! which hides a dead replica by retrying on the next one, a request it sends to a replica
//! that goes away fails, and is counted: graceful shutdown is what has to prevent that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

/// How often each replica's `/readyz` is probed (a kubelet probes every few seconds; the
/// endpoint controller removes a terminating pod at once, which this stands for).
const PROBE_INTERVAL: Duration = Duration::from_millis(100);

pub struct Upstream {
    pub origin: String,
    pub ready: AtomicBool,
    pub answered: AtomicU64,
}

struct Shared {
    upstreams: Vec<Upstream>,
    next: AtomicUsize,
    client: reqwest::Client,
    failures: std::sync::Mutex<Vec<String>>,
}

/// Stopped when dropped.
pub struct Balancer {
    pub port: u16,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Balancer {
    /// Listens on a free loopback port; sends each request to the next ready upstream.
    pub async fn start(origins: Vec<String>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Installs the TLS provider reqwest needs, even for plain HTTP.
        let _ = super::client();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            upstreams: origins
                .into_iter()
                .map(|origin| Upstream {
                    origin,
                    ready: AtomicBool::new(false),
                    answered: AtomicU64::new(0),
                })
                .collect(),
            next: AtomicUsize::new(0),
            client,
            failures: std::sync::Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let mut tasks = vec![tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })];
        tasks.push(tokio::spawn(probe(shared.clone())));
        Self {
            port,
            shared,
            tasks,
        }
    }

    /// `http://127.0.0.1:<port>/api/auth`
    pub fn auth_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/auth", self.port)
    }

    pub fn upstream(&self, index: usize) -> &Upstream {
        &self.shared.upstreams[index]
    }

    /// Requests that failed inside the balancer (the replica went away, or none was ready).
    pub fn failures(&self) -> Vec<String> {
        self.shared.failures.lock().unwrap().clone()
    }
}

/// Probes every upstream's `/readyz`: 200 puts it in rotation, anything else takes it out.
async fn probe(shared: Arc<Shared>) {
    let prober = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    loop {
        for upstream in &shared.upstreams {
            let ready = prober
                .get(format!("{}/readyz", upstream.origin))
                .send()
                .await
                .is_ok_and(|response| response.status() == StatusCode::OK);
            upstream.ready.store(ready, Ordering::SeqCst);
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

fn failed(shared: &Shared, message: String) -> Response {
    shared.failures.lock().unwrap().push(message.clone());
    Response::builder()
        .status(StatusCode::BAD_GATEWAY)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(message))
        .unwrap()
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let count = shared.upstreams.len();
    let first = shared.next.fetch_add(1, Ordering::SeqCst);
    let Some(index) = (0..count)
        .map(|offset| (first + offset) % count)
        .find(|index| shared.upstreams[*index].ready.load(Ordering::SeqCst))
    else {
        return failed(&shared, "no ready upstream".into());
    };
    let upstream = &shared.upstreams[index];
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let mut outgoing = shared
        .client
        .request(parts.method.clone(), format!("{}{path}", upstream.origin))
        .body(body);
    for (name, value) in &parts.headers {
        if ![header::HOST, header::CONNECTION, header::CONTENT_LENGTH].contains(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(response) => {
            let (status, headers) = (response.status(), response.headers().clone());
            response.bytes().await.map(|bytes| (status, headers, bytes))
        }
        Err(error) => Err(error),
    };
    match answer {
        Ok((status, headers, bytes)) => {
            upstream.answered.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::builder().status(status);
            for (name, value) in &headers {
                if ![header::CONNECTION, header::TRANSFER_ENCODING].contains(name) {
                    response = response.header(name, value);
                }
            }
            response.body(Body::from(bytes)).unwrap()
        }
        Err(error) => failed(
            &shared,
            format!("{} {path} via {}: {error:?}", parts.method, upstream.origin),
        ),
    }
}
