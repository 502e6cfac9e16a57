//! CORS (§2.3) as Backstage's root router answers it (the `cors` package behind its origin
//! matcher), held against the Node captures of `tests/fixtures/node/cors/` (re-captured by
//! its `capture-cors.sh`): the same `Access-Control-*` and `Vary: Origin` headers, for the same
//! requests, under the same `backend.cors`.

use crate::common::fixtures::Fixture;
use crate::common::{TestServer, manifest_dir};

fn captures(config: &str) -> std::path::PathBuf {
    manifest_dir().join("tests/fixtures/node/cors").join(config)
}

/// stagedoor's test configuration with the capture's `backend.cors` in place of its own.
fn settings(config: &str) -> stagedoor::config::Settings {
    let yaml = std::fs::read_to_string(captures(config).join("app-config.yaml")).unwrap();
    // What the Node backend's own app-config.yaml adds beneath it.
    let urls =
        "app:\n  baseUrl: http://localhost:3000\nbackend:\n  baseUrl: http://localhost:7007\n";
    let sources = [
        ("base.yaml".to_owned(), urls.to_owned()),
        (format!("{config}/app-config.yaml"), yaml),
    ]
    .map(|(name, yaml)| stagedoor::config::Source::Text { name, yaml });
    let captured = stagedoor::config::load(&sources, &|_| None).unwrap();
    let mut settings = crate::common::settings(&[]);
    settings.web.cors = captured.web.cors;
    assert!(settings.web.cors.is_some());
    settings
}

/// The CORS headers of an answer: `Access-Control-*`, and `Vary` without Node's
/// `Accept-Encoding` (its compression's; stagedoor does not compress).
fn cors_headers<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) -> std::collections::BTreeMap<String, String> {
    headers
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let value = if name == "vary" {
                let kept: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|part| !part.eq_ignore_ascii_case("accept-encoding"))
                    .collect();
                (!kept.is_empty()).then(|| kept.join(", "))?
            } else if name.starts_with("access-control-") {
                value.to_owned()
            } else {
                return None;
            };
            Some((name, value))
        })
        .collect()
}

async fn replay(server: &TestServer, fixture: &Fixture) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(fixture.method.as_bytes()).unwrap();
    let mut request = server
        .http
        .request(method, server.root_url(&fixture.target));
    for (name, value) in &fixture.request_headers {
        if !name.eq_ignore_ascii_case("host") {
            request = request.header(name, value);
        }
    }
    request.send().await.unwrap()
}

async fn answers_as_node(config: &str) {
    let server = TestServer::start_with(settings(config)).await;
    for case in [
        "preflight-allowed",
        "preflight-glob-origin",
        "preflight-denied",
        "actual-allowed",
        "actual-denied",
        "actual-without-origin",
        "error-allowed",
    ] {
        let fixture = Fixture::load_file(&captures(config).join(format!("{case}.http")), case);
        let response = replay(&server, &fixture).await;
        let headers = response.headers();
        let ours = cors_headers(
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.to_str().unwrap())),
        );
        let node = cors_headers(
            fixture
                .response_headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        assert_eq!(ours, node, "{config}/{case}: CORS headers");
        // helmet's headers answer a preflight too: it runs before `cors`.
        assert_eq!(
            headers["x-frame-options"], fixture.response_headers["x-frame-options"],
            "{config}/{case}"
        );
        if case == "preflight-denied" {
            // Not a CORS answer: Node's Express answers an unrouted OPTIONS itself (200,
            // `Allow`); stagedoor routes it as any other method (README, "CORS").
            assert!(node.is_empty() && ours.is_empty(), "{config}/{case}");
        } else {
            assert_eq!(response.status(), fixture.status, "{config}/{case}: status");
        }
    }
}

#[tokio::test]
async fn cors_reflecting_requested_headers_answers_as_node() {
    answers_as_node("reflect").await;
}

#[tokio::test]
async fn cors_with_listed_headers_and_no_credentials_answers_as_node() {
    answers_as_node("listed").await;
}

#[tokio::test]
async fn cors_allows_the_app_origin_with_credentials_and_nobody_else() {
    let server = TestServer::start(&["auth:\n  experimentalExtraAllowedOrigins: []\n"]).await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/guest/refresh"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-requested-with")
            .send()
    };
    let allowed = preflight("http://localhost:3000").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("x-requested-with"),
        "{allowed_headers}"
    );

    let denied = preflight("https://evil.example").await.unwrap();
    assert!(!denied.headers().contains_key("access-control-allow-origin"));
    assert!(
        !denied
            .headers()
            .contains_key("access-control-allow-credentials")
    );

    let response = server
        .http
        .get(server.url("/guest/refresh"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn no_cors_headers_without_backend_cors() {
    let mut settings = crate::common::settings(&[]);
    settings.web.cors = None;
    let server = TestServer::start_with(settings).await;
    let response = server
        .http
        .get(server.url("/guest/refresh"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn a_reload_puts_a_changed_backend_cors_in_force() {
    let server = TestServer::start(&[]).await;
    let allowed = async |origin: &'static str| {
        server
            .http
            .get(server.url("/.well-known/jwks.json"))
            .header("origin", origin)
            .send()
            .await
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .is_some()
    };
    assert!(allowed("http://localhost:3000").await);
    assert!(!allowed("https://portal.example.com").await);
    server
        .server
        .reload(crate::common::settings(&[
            "backend:\n  cors:\n    origin: https://portal.example.com\n",
        ]))
        .unwrap();
    assert!(allowed("https://portal.example.com").await);
    assert!(!allowed("http://localhost:3000").await);
}
