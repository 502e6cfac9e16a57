//! Tracing: the real binary exporting OTLP (HTTP, protobuf) to a receiver in this test, through
//! a full OpenID sign-in and a refresh against the real test IdP. Each request is a server
//! span under the caller's `traceparent`, with client spans for the IdP, the catalog and the
//! database beneath it; the IdP and the catalog receive a `traceparent` naming those client
//! spans; the JSON request log carries the trace id; and no token, cookie, code or secret is
//! in anything exported.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

use crate::common::browser::Browser;
use crate::common::idp::Idp;
use crate::common::node::free_port;

const CALLBACK: &str = "http://localhost:7007/api/auth/oidc/handler/frame";
const CLIENT_SECRET: &str = "backstage-secret";
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

/// What the receiver got: OTLP export bodies, and the catalog's requests (path, traceparent).
#[derive(Default)]
struct Received {
    exports: Vec<Vec<u8>>,
    catalog: Vec<(String, Option<String>)>,
}

async fn receive(State(received): State<Arc<Mutex<Received>>>, request: Request) -> StatusCode {
    let path = request.uri().path().to_owned();
    let traceparent = request
        .headers()
        .get("traceparent")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(request.into_body(), 1 << 24)
        .await
        .unwrap_or_default();
    let mut received = received.lock().unwrap();
    if path == "/v1/traces" {
        received.exports.push(body.to_vec());
        StatusCode::OK
    } else {
        received.catalog.push((path, traceparent));
        StatusCode::NOT_FOUND
    }
}

/// An OTLP/HTTP receiver at `/v1/traces` and a catalog that knows nobody, on one port.
async fn receiver() -> (u16, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, received)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    kind: i32,
    attributes: BTreeMap<String, String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn spans(received: &Received) -> (Vec<Span>, Vec<String>) {
    let mut spans = Vec::new();
    let mut services = Vec::new();
    for body in &received.exports {
        let export = ExportTraceServiceRequest::decode(Bytes::from(body.clone())).unwrap();
        for resource in export.resource_spans {
            for attribute in resource.resource.map(|r| r.attributes).unwrap_or_default() {
                if attribute.key == "service.name"
                    && let Some(AnyValue::StringValue(name)) = attribute.value.and_then(|v| v.value)
                {
                    services.push(name);
                }
            }
            for span in resource
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
            {
                let attributes = span
                    .attributes
                    .into_iter()
                    .map(|kv| (kv.key, format!("{:?}", kv.value.and_then(|v| v.value))))
                    .collect();
                spans.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    name: span.name,
                    kind: span.kind,
                    attributes,
                });
            }
        }
    }
    (spans, services)
}

fn spawn(dir: &std::path::Path, idp: &Idp, receiver_port: u16) -> (Server, String) {
    let port = free_port();
    let config = format!(
        "auth:\n  providers:\n    oidc:\n      development:\n        metadataUrl: {}\n        clientId: backstage\n        clientSecret: {CLIENT_SECRET}\n        prompt: consent\n        signIn:\n          resolvers:\n            - resolver: userEntityRefFromClaims\n              template: 'user:default/{{sub}}'\n              dangerouslyAllowSignInWithoutUserInCatalog: true\nstagedoor:\n  listen: {{ port: {port} }}\n  catalog: {{ baseUrl: 'http://127.0.0.1:{receiver_port}/api/catalog' }}\n  logging: {{ format: json }}\n",
        idp.discovery_url()
    );
    let (base, local) = (dir.join("base.yaml"), dir.join("local.yaml"));
    std::fs::write(&base, crate::common::BASE_CONFIG).unwrap();
    std::fs::write(&local, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_stagedoor"))
        .arg("serve")
        .args(["--config".as_ref(), base.as_os_str()])
        .args(["--config".as_ref(), local.as_os_str()])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{receiver_port}"),
        )
        .env("OTEL_SERVICE_NAME", "stagedoor-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stagedoor.log")).unwrap())
        .spawn()
        .unwrap();
    (Server(child), format!("http://127.0.0.1:{port}/api/auth"))
}

async fn wait_started(base: &str) {
    let started = Instant::now();
    let healthz = base.replace("/api/auth", "/healthz");
    while crate::common::client().get(&healthz).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "not started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_traced_under_the_callers_trace_without_secrets() {
    let idp = Idp::start(None).await;
    let (receiver_port, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = spawn(dir.path(), &idp, receiver_port);
    wait_started(&base).await;

    // Three traces, one per request, each with the caller's span as parent.
    let traces = [
        ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"),
        ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"),
        ("5c0e1d8a2f3b4c6d7e8f9a0b1c2d3e4f", "1122334455667788"),
    ];
    let header = |index: usize| traceparent(traces[index].0, traces[index].1);
    let mut browser = Browser::default();
    let start = browser
        .request(
            reqwest::Method::GET,
            &format!("{base}/oidc/start?{}", crate::common::POPUP_QUERY),
            &[("traceparent", &header(0))],
        )
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    let callback = idp
        .answer(
            &mut browser,
            &start.location().unwrap(),
            "login=alice@example.com",
            CALLBACK,
        )
        .await
        .url
        .replacen("http://localhost:7007/api/auth", &base, 1);
    idp.clear_requests().await;
    let page = browser
        .request(
            reqwest::Method::GET,
            &callback,
            &[("traceparent", &header(1))],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let response = page.popup_message()["response"].clone();
    let token = response["backstageIdentity"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = browser
        .request(
            reqwest::Method::GET,
            &format!("{base}/oidc/refresh?env=development"),
            &[
                ("traceparent", &header(2)),
                ("x-requested-with", "XMLHttpRequest"),
            ],
        )
        .await;
    assert_eq!(refresh.status, 200, "{}", refresh.body);

    // Every trace has its server span; the callback's has the IdP, catalog and database.
    let started = Instant::now();
    let (spans, services) = loop {
        let (spans, services) = spans(&received.lock().unwrap());
        let servers = traces
            .iter()
            .filter(|(trace, _)| {
                spans
                    .iter()
                    .any(|s| &s.trace_id == trace && s.kind == SERVER)
            })
            .count();
        if servers == traces.len() {
            break (spans, services);
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "spans exported: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        services.iter().all(|name| name == "stagedoor-test"),
        "{services:?}"
    );
    for (trace, caller) in traces {
        let server: Vec<&Span> = spans
            .iter()
            .filter(|s| s.trace_id == trace && s.kind == SERVER)
            .collect();
        assert_eq!(server.len(), 1, "one server span in {trace}: {spans:#?}");
        assert_eq!(server[0].parent, caller, "under the caller's span");
    }
    let in_callback: Vec<&Span> = spans.iter().filter(|s| s.trace_id == traces[1].0).collect();
    let server = in_callback.iter().find(|s| s.kind == SERVER).unwrap();
    assert_eq!(server.name, "GET handler_frame");
    assert_eq!(
        server.attributes["url.path"],
        r#"Some(StringValue("/api/auth/oidc/handler/frame"))"#
    );
    assert_eq!(
        server.attributes["http.response.status_code"],
        "Some(IntValue(200))"
    );
    for child in ["idp POST", "catalog GET"] {
        let client = in_callback
            .iter()
            .find(|s| s.name == child)
            .unwrap_or_else(|| panic!("a {child} span: {in_callback:#?}"));
        assert_eq!(client.kind, CLIENT);
        assert!(
            in_callback.iter().any(|s| s.span_id == client.parent),
            "{child} is within the request: {in_callback:#?}"
        );
    }
    assert!(
        in_callback
            .iter()
            .any(|s| s.name.starts_with("sqlite ") && s.kind == CLIENT),
        "a database span: {in_callback:#?}"
    );

    // The IdP and the catalog were told which client span called them.
    let client_spans: Vec<String> = in_callback
        .iter()
        .filter(|s| s.kind == CLIENT)
        .map(|s| traceparent(traces[1].0, &s.span_id))
        .collect();
    let idp_requests = idp.requests().await;
    let token_request = idp_requests
        .iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/token")))
        .expect("the token request");
    assert!(
        client_spans.contains(
            &token_request["traceparent"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        ),
        "{token_request} {client_spans:?}"
    );
    let catalog = received.lock().unwrap().catalog.clone();
    assert!(
        catalog
            .iter()
            .any(|(_, tp)| tp.as_ref().is_some_and(|tp| client_spans.contains(tp))),
        "{catalog:?} {client_spans:?}"
    );

    // The trace id is in the JSON request log.
    let log = std::fs::read_to_string(dir.path().join("stagedoor.log")).unwrap();
    let access = log
        .lines()
        .filter(|line| line.contains("stagedoor::access") && line.contains("handler/frame"))
        .collect::<Vec<_>>();
    assert!(
        access
            .iter()
            .any(|line| line.contains(&format!(r#""trace_id":"{}""#, traces[1].0))),
        "{access:?}"
    );

    // Nothing secret in any export: tokens, the code, cookies, the client secret.
    let exported: Vec<u8> = received.lock().unwrap().exports.concat();
    let mut secrets = vec![CLIENT_SECRET.to_owned(), token, "Bearer".to_owned()];
    for field in ["accessToken", "idToken"] {
        secrets.push(response["providerInfo"][field].as_str().unwrap().to_owned());
    }
    let code = reqwest::Url::parse(&callback).unwrap();
    secrets.extend(
        code.query_pairs()
            .map(|(_, value)| value.into_owned())
            .filter(|v| v.len() > 8),
    );
    let host = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap();
    secrets.extend(browser.cookies(host).into_values().filter(|v| v.len() > 8));
    assert!(secrets.len() >= 6, "{secrets:?}");
    for secret in &secrets {
        assert!(
            !exported
                .windows(secret.len())
                .any(|window| window == secret.as_bytes()),
            "exported spans contain {secret:?}"
        );
    }
}

/// With nothing exported, stagedoor is a transparent hop: the caller's `traceparent` reaches
/// the catalog unchanged, and its trace id is in the request log.
#[tokio::test]
async fn without_an_exporter_the_callers_traceparent_is_passed_on() {
    let (receiver_port, received) = receiver().await;
    let server = crate::common::TestServer::start(&[&format!(
        "stagedoor:\n  catalog: {{ baseUrl: 'http://127.0.0.1:{receiver_port}/api/catalog' }}\n"
    )])
    .await;
    let header = traceparent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let response = crate::common::client()
        .get(server.url("/guest/refresh"))
        .header("traceparent", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let catalog = received.lock().unwrap().catalog.clone();
    assert!(!catalog.is_empty());
    assert!(
        catalog
            .iter()
            .all(|(_, tp)| tp.as_deref() == Some(header.as_str())),
        "{catalog:?}"
    );
    assert!(received.lock().unwrap().exports.is_empty());
}
