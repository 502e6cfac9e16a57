//! Replays the Node captures that the core serves (`00`–`31`, `50`, `51`, `71`, `72`) against
//! stagedoor and compares status, the headers that matter, and bodies (random values masked).

mod common;

use common::fixtures::{Fixture, normalize};
use common::{TestServer, jose};

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

/// Sends the captured request; `bearer` replaces a captured Node-signed token.
async fn replay(server: &TestServer, fixture: &Fixture, bearer: Option<&str>) -> Reply {
    let method = reqwest::Method::from_bytes(fixture.method.as_bytes()).expect("method");
    let mut request = server
        .http
        .request(method, server.root_url(&fixture.target));
    for (name, value) in &fixture.request_headers {
        match name.to_ascii_lowercase().as_str() {
            "host" | "user-agent" | "accept" => {}
            "authorization" => {
                let value = bearer.map_or_else(|| value.clone(), |token| format!("Bearer {token}"));
                request = request.header(name, value);
            }
            _ => request = request.header(name, value),
        }
    }
    let response = request.send().await.expect("request");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

fn assert_matches(fixture: &Fixture, reply: &Reply) {
    let name = &fixture.name;
    assert_eq!(reply.status, fixture.status, "{name}: status");
    for header in [
        "content-type",
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "x-frame-options",
    ] {
        assert_eq!(
            reply
                .headers
                .get(header)
                .map(|v| v.to_str().unwrap().to_owned()),
            fixture.response_headers.get(header).cloned(),
            "{name}: header {header}"
        );
    }
    assert_eq!(
        reply.headers.contains_key("set-cookie"),
        fixture.response_headers.contains_key("set-cookie"),
        "{name}: Set-Cookie"
    );
    if fixture.response_headers["content-type"].starts_with("application/json") {
        let actual: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON body");
        assert_eq!(
            normalize(&actual),
            normalize(&fixture.json()),
            "{name}: body"
        );
    } else {
        assert_eq!(reply.body, fixture.body, "{name}: body");
    }
}

async fn check(server: &TestServer, name: &str, bearer: Option<&str>) {
    let fixture = Fixture::load(name);
    let reply = replay(server, &fixture, bearer).await;
    assert_matches(&fixture, &reply);
}

#[tokio::test]
async fn discovery_and_jwks_before_and_after_the_first_token() {
    let server = TestServer::start(&[]).await;
    check(&server, "00-jwks-before-first-token", None).await;
    check(&server, "01-openid-configuration", None).await;
    server.guest_token().await;
    check(&server, "02-jwks-after-first-token", None).await;
    // The captured JWKS body byte for byte, but for the random key material.
    let body = server
        .get("/.well-known/jwks.json")
        .await
        .text()
        .await
        .unwrap();
    let key = &server.jwks().await["keys"][0];
    let expected = format!(
        r#"{{"keys":[{{"kty":"EC","x":"{}","y":"{}","crv":"P-256","kid":"{}","alg":"ES256"}}]}}"#,
        key["x"].as_str().unwrap(),
        key["y"].as_str().unwrap(),
        key["kid"].as_str().unwrap()
    );
    assert_eq!(body, expected);
}

#[tokio::test]
async fn guest_sign_in_answers_as_captured() {
    let server = TestServer::start(&[]).await;
    for name in [
        "10-guest-refresh-xrw",
        "11-guest-refresh-no-xrw",
        "12-guest-refresh-env-origin",
        "13-guest-refresh-post",
        "14-guest-logout",
        "15-guest-start",
        "72-err-guest-refresh-bad-method",
    ] {
        check(&server, name, None).await;
    }
}

#[tokio::test]
async fn guest_token_has_the_captured_header_and_claims() {
    let server = TestServer::start(&[]).await;
    let token = server.guest_token().await;
    let captured: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::fixtures::dir().join("10-guest-refresh-xrw.backstage-token.jwt.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        normalize(&jose::header(&token)),
        normalize(&captured["header"])
    );
    assert_eq!(
        normalize(&jose::payload(&token)),
        normalize(&captured["payload"])
    );
    assert_eq!(
        token.rsplit('.').next().unwrap().len(),
        captured["signature_b64url_len"]
    );
}

#[tokio::test]
async fn userinfo_answers_as_captured() {
    let server = TestServer::start(&[]).await;
    let token = server.guest_token().await;
    check(&server, "20-userinfo-guest", Some(&token)).await;
    check(&server, "21-userinfo-no-token", None).await;
    check(&server, "22-userinfo-static-token", None).await;
    check(
        &server,
        "26-userinfo-limited-token",
        Some(&jose::limited_token(&token)),
    )
    .await;
    check(&server, "71-err-userinfo-bad-token", None).await;
}

#[tokio::test]
async fn unknown_providers_and_disabled_features_answer_as_captured() {
    let server = TestServer::start(&[]).await;
    for name in [
        "31-cli-client-metadata",
        "50-err-unknown-provider-start",
        "51-err-unknown-provider-refresh",
    ] {
        check(&server, name, None).await;
    }
}
