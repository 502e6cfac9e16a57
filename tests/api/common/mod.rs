//! Shared helpers for integration tests: a real server on port 0 with a fresh database,
//! an HTTP client, and JWT/JWKS helpers built on an independent JOSE implementation.
#![allow(dead_code)]

pub mod authz;
pub mod authz_hosts;
pub mod balancer;
pub mod browser;
pub mod captures;
pub mod catalog;
pub mod clients;
pub mod cloud;
pub mod dns;
pub mod exchange;
pub mod fakes;
pub mod fixtures;
pub mod idp;
pub mod image;
pub mod jose;
pub mod node;
pub mod postgres;
pub mod provider;
pub mod proxy_keys;
pub mod replicas;
pub mod runtime;
pub mod tls;

use std::sync::Arc;

use stagedoor::clock::ManualClock;
use stagedoor::config::{self, Settings, Source};
use stagedoor::server::{Dependencies, RunningServer};

/// A config like the captures': app on :3000, backend on :7007, guest allowed, CORS on.
pub const BASE_CONFIG: &str = r#"
app:
  baseUrl: http://localhost:3000
backend:
  baseUrl: http://localhost:7007
  cors:
    origin: http://localhost:3000
    methods: [GET, HEAD, PATCH, POST, PUT, DELETE]
    credentials: true
  auth:
    externalAccess:
      - type: static
        options:
          token: reference-static-token-0123456789abcdef
          subject: external-tester
auth:
  environment: development
  providers:
    guest:
      dangerouslyAllowOutsideDevelopment: true
stagedoor:
  listen: { host: 127.0.0.1, port: 0 }
  database: "sqlite::memory:"
  # Tests that check the audit trail send it to a file; elsewhere it would only be noise.
  audit: { sink: off }
  # Nothing listens here: the guest falls back to its configured identity, as in the captures.
  catalog: { baseUrl: "http://127.0.0.1:1/api/catalog" }
  # SIGTERM stops at once (tests of draining set a period).
  shutdown: { drainPeriod: 0s }
"#;

/// The frontend's query for a popup OIDC sign-in in the development environment.
pub const POPUP_QUERY: &str = "scope=openid%20profile%20email%20offline_access&origin=http%3A%2F%2Flocalhost%3A3000&flow=popup&env=development";

/// GET `url` and its JSON body.
pub async fn get_json(url: &str) -> serde_json::Value {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn settings(overrides: &[&str]) -> Settings {
    let mut sources = vec![Source::Text {
        name: "base.yaml".into(),
        yaml: BASE_CONFIG.into(),
    }];
    for (index, yaml) in overrides.iter().enumerate() {
        sources.push(Source::Text {
            name: format!("override-{index}.yaml"),
            yaml: (*yaml).into(),
        });
    }
    config::load(&sources, &|_| None).unwrap_or_else(|error| panic!("test config: {error}"))
}

pub struct TestServer {
    pub server: RunningServer,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
}

impl TestServer {
    /// The base config plus `overrides` (later YAML documents win).
    pub async fn start(overrides: &[&str]) -> Self {
        Self::start_with(settings(overrides)).await
    }

    pub async fn start_with(settings: Settings) -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        let deps = Dependencies {
            clock: clock.clone(),
        };
        let server = RunningServer::start(settings, deps)
            .await
            .unwrap_or_else(|error| panic!("server start: {error}"));
        Self {
            server,
            clock,
            http: client(),
        }
    }

    /// `http://127.0.0.1:<port>/api/auth` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub fn root_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json body")
    }

    /// Signs in as guest and returns the whole session response.
    pub async fn guest_session(&self) -> serde_json::Value {
        self.get_json("/guest/refresh").await
    }

    pub async fn guest_token(&self) -> String {
        self.guest_session().await["backstageIdentity"]["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    pub async fn jwks(&self) -> serde_json::Value {
        self.get_json("/.well-known/jwks.json").await
    }
}

/// No redirects followed, like the browser-less clients Backstage's frontend is tested with.
pub fn client() -> reqwest::Client {
    stagedoor::outbound::client().expect("client")
}

/// Asserts Backstage's error body (§2.1) with this status, name and message.
pub async fn assert_error(response: reqwest::Response, status: u16, name: &str, message: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: serde_json::Value = response.json().await.expect("json error body");
    assert_eq!(body["error"]["name"], name, "{body}");
    assert_eq!(body["error"]["message"], message, "{body}");
    assert_eq!(body["response"]["statusCode"], status, "{body}");
}

pub fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A catalog with no users, answering as Backstage's does (`[]` for filters, 404 by name),
/// for sign-in tests whose users are accepted without a catalog entity.
pub async fn empty_catalog() -> String {
    let app = axum::Router::new()
        .route(
            "/api/catalog/entities",
            axum::routing::get(|| async { ([("content-type", "application/json")], "[]") }),
        )
        .fallback(|| async {
            let body = r#"{"error":{"name":"NotFoundError","message":"not found"}}"#;
            (
                axum::http::StatusCode::NOT_FOUND,
                [("content-type", "application/json")],
                body,
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/api/catalog")
}

/// The audit lines named `event` in the file sink `path`, once there are at least `count`.
pub async fn audit_events(
    path: &std::path::Path,
    event: &str,
    count: usize,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let events: Vec<serde_json::Value> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .filter(|line: &serde_json::Value| line["event"] == event)
            .collect();
        if events.len() >= count {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} {event} audit events",
            events.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
