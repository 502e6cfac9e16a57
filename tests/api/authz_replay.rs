//! The captures of Node's authorization server (`tests/fixtures/node/authz/`), replayed
//! against stagedoor booted with the same flags: status, content type and body (the `stack`
//! of Node's development-mode errors left out; the document host's port and random ids
//! masked). The differences stagedoor chose are listed in [`DIFFERENCES`] and asserted too.

use serde_json::Value;

use crate::common::TestServer;
use crate::common::authz::{Authz, FakeCatalog};
use crate::common::fixtures::Fixture;

/// The capture's static external-access token, so 55 and 134 see a service principal.
const CAPTURE_STATIC: &str = r#"
backend:
  auth:
    externalAccess:
      - type: static
        options: { token: capture-static-token-0123456789abcdef, subject: capture }
"#;

/// Captures whose answer differs on purpose: (boot, name, stagedoor's status, why).
pub const DIFFERENCES: &[(&str, &str, u16, &str)] = &[
    (
        "dev",
        "03-root-oauth-authorization-server",
        404,
        "Node's MCP actions backend serves this bare URL (a copy of the discovery document); stagedoor serves the path-inserted one",
    ),
    (
        "dev",
        "05-root-openid-configuration-path",
        200,
        "the second RFC 8414 URL the MCP SDK asks is served",
    ),
    (
        "dev",
        "85-token-get",
        405,
        "the token endpoint answers 405 with Allow: POST, as for token exchange",
    ),
];

/// The `dev` captures replayed as they are (with the document host's port and the registered
/// client swapped in); the others need state of the capture run (its codes, sessions,
/// tokens), and their behaviour is tested in the flow tests.
const DEV_CASES: &[&str] = &[
    "20-authorize-dcr",
    "22-authorize-dcr-redirect-unregistered",
    "27-authorize-dcr-loopback-other-port",
    "01-openid-configuration",
    "02-cli-json",
    "11b-register-form-one-uri",
    "12-register-no-redirect-uris",
    "12b-register-empty-redirect-uris",
    "13-register-redirect-not-allowed",
    "14-register-redirect-credentials",
    "16-register-not-a-url",
    "18-register-no-body",
    "19-register-https-loopback",
    "21-authorize-unknown-client",
    "23-authorize-response-type-token",
    "24-authorize-missing-client-id",
    "25-authorize-challenge-without-method",
    "25b-authorize-challenge-method-bogus",
    "26-authorize-redirect-not-url",
    "28-authorize-post",
    "29-authorize-no-params",
    "30-authorize-cli",
    "31-authorize-cli-no-pkce",
    "32-authorize-cli-other-path",
    "33-authorize-cli-localhost",
    "33b-authorize-cli-plain",
    "34-authorize-cimd-doc",
    "35-authorize-cimd-pattern-miss",
    "36-authorize-cimd-fragment",
    "37-authorize-cimd-credentials",
    "38-authorize-cimd-query",
    "39-authorize-cimd-dot-segments",
    "39b-authorize-cimd-no-path",
    "40-authorize-cimd-mismatch",
    "41-authorize-cimd-no-redirects",
    "41b-authorize-cimd-bad-redirect",
    "42-authorize-cimd-secret",
    "43-authorize-cimd-basic",
    "44-authorize-cimd-big",
    "44b-authorize-cimd-big-chunked",
    "45-authorize-cimd-redirect",
    "46-authorize-cimd-not-json",
    "47-authorize-cimd-missing",
    "48-authorize-cimd-redirect-not-allowed",
    "48b-authorize-cimd-redirect-not-in-doc",
    "52-session-get-unknown",
    "53-approve-no-token",
    "55-approve-static-token",
    "56-approve-bad-token",
    "56b-approve-cookie-only",
    "60-reject-no-token",
    "61-reject-bad-token",
    "78-token-unknown-code",
    "79-token-missing-code",
    "80-token-unsupported-grant",
    "81-token-no-grant-type",
    "81b-token-token-exchange-grant",
    "86-token-bad-redirect-url",
    "96-refresh-garbage",
    "97-refresh-unknown-session",
    "97b-refresh-missing",
    "110-revoke-no-client",
    "111-revoke-wrong-secret",
    "111b-revoke-dcr-id-without-secret",
    "118-revoke-no-token",
    "119-revoke-cimd-not-allowed",
    "119c-revoke-get",
    "130-actions-list-no-token",
];

struct Reply {
    status: u16,
    content_type: Option<String>,
    body: String,
}

/// Values of the capture run and ours: the document host's port, the registered client.
type Swaps = Vec<(String, String)>;

fn swap(text: &str, swaps: &Swaps, back: bool) -> String {
    swaps.iter().fold(text.to_owned(), |text, (theirs, ours)| {
        if back {
            text.replace(ours, theirs)
        } else {
            text.replace(theirs, ours)
        }
    })
}

/// Sends the capture's request with our values and, if given, our token.
async fn replay(
    server: &TestServer,
    fixture: &Fixture,
    swaps: &Swaps,
    bearer: Option<&str>,
) -> Reply {
    let method = reqwest::Method::from_bytes(fixture.method.as_bytes()).unwrap();
    let target = swap(&fixture.target, swaps, false);
    let mut request = server.http.request(method, server.root_url(&target));
    for (name, value) in &fixture.request_headers {
        match name.to_ascii_lowercase().as_str() {
            "host" | "user-agent" | "accept" | "content-length" | "connection" => {}
            "authorization" if bearer.is_some() => {
                request = request.header(name, format!("Bearer {}", bearer.unwrap_or_default()));
            }
            _ => request = request.header(name, value),
        }
    }
    if !fixture.request_body.is_empty() {
        request = request.body(swap(&fixture.request_body, swaps, false));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = swap(&text, swaps, true);
    Reply {
        status,
        content_type,
        body,
    }
}

/// Node's body without what varies between runs.
fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| key.as_str() != "stack")
                .map(|(key, value)| (key.clone(), normalize(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::String(text) if text.contains("/oauth2/authorize/") => {
            Value::String("<consent page>".into())
        }
        other => other.clone(),
    }
}

fn assert_same(fixture: &Fixture, reply: &Reply) {
    let name = &fixture.name;
    assert_eq!(
        reply.status, fixture.status,
        "{name}: status; body {}",
        reply.body
    );
    let expected_type = fixture.response_headers.get("content-type").cloned();
    assert_eq!(reply.content_type, expected_type, "{name}: content type");
    if expected_type.is_some_and(|t| t.starts_with("application/json")) {
        let actual: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            normalize(&actual),
            normalize(&fixture.json()),
            "{name}: body"
        );
    } else if fixture.status == 302 {
        assert!(
            reply
                .body
                .starts_with("Found. Redirecting to http://localhost:3000/oauth2/authorize/"),
            "{name}"
        );
    } else {
        assert_eq!(reply.body, fixture.body, "{name}: body");
    }
}

async fn check(server: &TestServer, boot: &str, names: &[&str], swaps: &Swaps) {
    for name in names {
        let fixture = Fixture::load_authz(boot, name);
        let reply = replay(server, &fixture, swaps, None).await;
        assert_same(&fixture, &reply);
    }
}

#[tokio::test]
async fn the_dev_boot_answers_as_captured() {
    let authz = Authz::start(&[CAPTURE_STATIC]).await;
    let port = authz.docs.base.rsplit(':').next().unwrap().to_owned();
    let (client, _) = authz.register("Capture", "http://127.0.0.1:9700/cb").await;
    let swaps: Swaps = vec![
        ("localhost:9500".into(), format!("localhost:{port}")),
        ("localhost%3A9500".into(), format!("localhost%3A{port}")),
        ("738c49ed-c770-4a4e-b511-1b78ac96178e".into(), client),
    ];
    check(&authz.server, "dev", DEV_CASES, &swaps).await;
    // A Node-signed limited token means nothing here: the same refusal with ours.
    let fixture = Fixture::load_authz("dev", "54-approve-limited-token");
    let limited = crate::common::jose::limited_token(&authz.user_token().await);
    assert_same(
        &fixture,
        &replay(&authz.server, &fixture, &swaps, Some(&limited)).await,
    );
    for (boot, name, status, why) in DIFFERENCES {
        let fixture = Fixture::load_authz(boot, name);
        let reply = replay(&authz.server, &fixture, &swaps, None).await;
        assert_eq!(reply.status, *status, "{name}: {why}");
    }
}

#[tokio::test]
async fn the_other_boots_answer_as_captured() {
    let catalog = FakeCatalog::start().await;
    let catalog = format!(
        "stagedoor: {{ catalog: {{ baseUrl: \"{}\" }} }}",
        catalog.base_url
    );
    let boots: [(&str, &str, &[&str]); 4] = [
        (
            "off",
            "auth: {}",
            &[
                "01-openid-configuration",
                "02-cli-json",
                "03-authorize",
                "04-register",
                "05-token-authorization-code",
                "06-revoke",
                "07-session",
                "10-actions-list",
            ],
        ),
        (
            "dcr-only",
            "auth: { experimentalDynamicClientRegistration: { enabled: true } }",
            &[
                "01-openid-configuration",
                "02-cli-json",
                "03-authorize-cimd-when-disabled",
                "04-token-refresh-when-disabled",
                "05-revoke-cimd-when-disabled",
            ],
        ),
        (
            "cimd-deprecated",
            "auth: { experimentalClientIdMetadataDocuments: { enabled: true }, experimentalRefreshToken: { enabled: true } }",
            &[
                "01-openid-configuration",
                "02-cli-json",
                "03-register-without-dcr",
            ],
        ),
        (
            "cimd-both-keys",
            "auth: { clientIdMetadataDocuments: { allowedClientIdPatterns: ['https://example.com/*'] }, experimentalClientIdMetadataDocuments: { enabled: true } }",
            &["01-openid-configuration", "02-cli-json"],
        ),
    ];
    for (boot, flags, names) in boots {
        let server = TestServer::start(&[flags, &catalog]).await;
        check(&server, boot, names, &Vec::new()).await;
        for (path, status) in [
            ("/.well-known/oauth-authorization-server/api/auth", 404),
            ("/.well-known/openid-configuration/api/auth", 404),
        ] {
            let served = server
                .http
                .get(server.root_url(path))
                .send()
                .await
                .unwrap()
                .status();
            let on = !matches!(boot, "off" | "cimd-both-keys");
            assert_eq!(
                served.as_u16(),
                if on { 200 } else { status },
                "{boot} {path}"
            );
        }
    }
}

#[test]
fn bad_refresh_token_settings_stop_start_up_naming_the_key() {
    let cases = [
        (
            "auth: { experimentalRefreshToken: { enabled: true, tokenLifetime: { days: 30 }, maxRotationLifetime: { days: 30 } } }",
            "auth.experimentalRefreshToken.maxRotationLifetime",
            "must be greater than tokenLifetime",
        ),
        (
            "auth: { experimentalRefreshToken: { enabled: true, maxTokensPerUser: 0 } }",
            "auth.experimentalRefreshToken.maxTokensPerUser",
            "is not a positive number",
        ),
        (
            "auth: { experimentalRefreshToken: { enabled: true, tokenLifetime: soon } }",
            "auth.experimentalRefreshToken.tokenLifetime",
            "soon",
        ),
        (
            "auth: { clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: ['claude.ai/*'] } }",
            "auth.clientIdMetadataDocuments.allowedClientIdPatterns.0",
            "needs an explicit scheme",
        ),
    ];
    for (yaml, path, message) in cases {
        let sources = [
            stagedoor::config::Source::Text {
                name: "base.yaml".into(),
                yaml: crate::common::BASE_CONFIG.into(),
            },
            stagedoor::config::Source::Text {
                name: "authz.yaml".into(),
                yaml: yaml.into(),
            },
        ];
        let error = stagedoor::config::load(&sources, &|_| None).unwrap_err();
        let problem = error.problems.iter().find(|problem| problem.path == path);
        let problem = problem.unwrap_or_else(|| panic!("{path}: {error}"));
        assert!(
            problem.message.contains(message),
            "{path}: {}",
            problem.message
        );
    }
}
