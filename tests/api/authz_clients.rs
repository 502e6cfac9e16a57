//! Who may start an authorization: metadata document clients (the CLI's built-in document,
//! documents fetched under the SSRF rules) and registered clients, their redirect URIs, and
//! every request `/v1/authorize` refuses.

use serde_json::Value;

use crate::common::authz::{Authz, CLI_CLIENT_ID, DOC_REDIRECT, assert_oauth, challenge};

async fn refused(authz: &Authz, params: &[(&str, &str)], message: &str) {
    let response = authz.authorize(params).await;
    crate::common::assert_error(response, 400, "InputError", message).await;
}

/// The CLI's authorization with `redirect` and, optionally, no PKCE.
fn cli(redirect: &str, pkce: bool) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("client_id", CLI_CLIENT_ID.to_owned()),
        ("redirect_uri", redirect.to_owned()),
        ("response_type", "code".to_owned()),
    ];
    if pkce {
        params.push(("code_challenge", challenge("v")));
        params.push(("code_challenge_method", "S256".to_owned()));
    }
    params
}

fn borrowed<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    crate::common::authz::pairs(params)
}

#[tokio::test]
async fn malformed_authorization_requests_are_refused_as_node_refuses_them() {
    let authz = Authz::start(&[]).await;
    let response = authz.authorize(&[]).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let all_missing = "Validation error: Invalid input: expected string, received undefined at \"client_id\"; Invalid input: expected string, received undefined at \"redirect_uri\"; Invalid input: expected string, received undefined at \"response_type\"";
    assert_oauth(status, &body, (400, "invalid_request", all_missing));
    let response = authz
        .authorize(&[
            ("client_id", "x"),
            ("redirect_uri", "not a url"),
            ("response_type", "code"),
        ])
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let not_url = "Validation error: Invalid URL at \"redirect_uri\"";
    assert_oauth(status, &body, (400, "invalid_request", not_url));
    let token_flow = cli("http://127.0.0.1:1/callback", true);
    let mut token = borrowed(&token_flow);
    token[2].1 = "token";
    refused(&authz, &token, "Only authorization code flow is supported").await;
    let unknown = [
        ("client_id", "no-such-client"),
        ("redirect_uri", DOC_REDIRECT),
        ("response_type", "code"),
    ];
    refused(&authz, &unknown, "Invalid client_id").await;
    let params = cli("http://127.0.0.1:1/callback", false);
    refused(
        &authz,
        &borrowed(&params),
        "PKCE is required for public clients. Provide a code_challenge parameter.",
    )
    .await;
    let mut params = cli("http://127.0.0.1:1/callback", true);
    params.pop();
    refused(&authz, &borrowed(&params), "Invalid code_challenge_method").await;
    params.push(("code_challenge_method", "S512".to_owned()));
    refused(&authz, &borrowed(&params), "Invalid code_challenge_method").await;
    let response = authz
        .server
        .http
        .post(authz.server.url("/v1/authorize"))
        .send()
        .await
        .unwrap();
    crate::common::assert_error(response, 404, "NotFoundError", "Unknown auth provider 'v1'").await;
}

#[tokio::test]
async fn loopback_redirects_match_by_path_and_host_name_not_port() {
    let authz = Authz::start(&[]).await;
    let ok = authz
        .authorize(&borrowed(&cli("http://127.0.0.1:41234/callback", true)))
        .await;
    assert_eq!(
        ok.status(),
        302,
        "any port on the registered loopback host and path"
    );
    let other_path = "http://127.0.0.1:8055/other";
    refused(
        &authz,
        &borrowed(&cli(other_path, true)),
        &format!("Invalid redirect_uri '{other_path}', not registered in client metadata"),
    )
    .await;
    let other_name = "http://localhost:8055/callback";
    refused(
        &authz,
        &borrowed(&cli(other_name, true)),
        &format!("Invalid redirect_uri '{other_name}', not registered in client metadata"),
    )
    .await;
    refused(
        &authz,
        &borrowed(&cli("https://127.0.0.1:8055/callback", true)),
        "Invalid redirect_uri 'https://127.0.0.1:8055/callback'",
    )
    .await;
    // Registered clients: exact string match, port included.
    let (id, _) = authz.register("Second", "http://127.0.0.1:9700/cb").await;
    let dcr = |redirect: &'static str| {
        [
            ("client_id", id.clone()),
            ("redirect_uri", redirect.to_owned()),
            ("response_type", "code".to_owned()),
        ]
    };
    assert_eq!(
        authz
            .authorize(&borrowed(&dcr("http://127.0.0.1:9700/cb")))
            .await
            .status(),
        302
    );
    refused(
        &authz,
        &borrowed(&dcr("http://127.0.0.1:9799/cb")),
        "Invalid redirect_uri 'http://127.0.0.1:9799/cb'",
    )
    .await;
}

#[tokio::test]
async fn metadata_documents_are_checked_before_anyone_is_asked_to_consent() {
    let authz = Authz::start(&[]).await;
    let docs = &authz.docs;
    let authorize = |id: String, redirect: &'static str| {
        vec![
            ("client_id", id),
            ("redirect_uri", redirect.to_owned()),
            ("response_type", "code".to_owned()),
            ("code_challenge", challenge("v")),
            ("code_challenge_method", "S256".to_owned()),
        ]
    };
    let cases = [
        ("mismatch", "Client ID mismatch in metadata document"),
        (
            "no-redirects",
            "Metadata must include at least one redirect_uri",
        ),
        (
            "bad-redirect",
            "Invalid redirect_uri in metadata: not a url",
        ),
        ("secret", "Client metadata must not contain client_secret"),
        ("basic", "Client metadata uses forbidden auth method"),
        ("big", "Client metadata document too large"),
        ("big-chunked", "Client metadata document too large"),
        ("redirect", "Failed to fetch client metadata"),
        ("not-json", "Invalid client metadata document"),
        ("missing", "Failed to fetch client metadata"),
    ];
    for (doc, message) in cases {
        refused(
            &authz,
            &borrowed(&authorize(docs.id(doc), DOC_REDIRECT)),
            message,
        )
        .await;
    }
    let good = docs.id("good");
    assert_eq!(
        authz
            .authorize(&borrowed(&authorize(good.clone(), DOC_REDIRECT)))
            .await
            .status(),
        302
    );
    refused(
        &authz,
        &borrowed(&authorize(good.clone(), "https://app.example.com/cb")),
        "Invalid redirect_uri 'https://app.example.com/cb'",
    )
    .await;
    refused(
        &authz,
        &borrowed(&authorize(good.clone(), "http://127.0.0.1:9700/elsewhere")),
        "Invalid redirect_uri 'http://127.0.0.1:9700/elsewhere', not registered in client metadata",
    )
    .await;
    // The pattern names `localhost`: the same document by address does not match it.
    let miss = good.replace("localhost", "127.0.0.1");
    refused(
        &authz,
        &borrowed(&authorize(miss.clone(), DOC_REDIRECT)),
        &format!("Invalid client_id '{miss}'"),
    )
    .await;
}

#[tokio::test]
async fn a_document_that_does_not_answer_in_ten_seconds_is_refused() {
    let authz = Authz::start(&[]).await;
    let started = std::time::Instant::now();
    let params = [
        ("client_id", authz.docs.id("slow")),
        ("redirect_uri", DOC_REDIRECT.to_owned()),
        ("response_type", "code".to_owned()),
        ("code_challenge", challenge("v")),
        ("code_challenge_method", "S256".to_owned()),
    ];
    refused(
        &authz,
        &borrowed(&params),
        "Failed to fetch client metadata",
    )
    .await;
    let waited = started.elapsed().as_secs_f64();
    assert!((9.5..10.9).contains(&waited), "{waited} s");
}

#[tokio::test]
async fn client_ids_with_fragments_queries_dot_segments_or_credentials_are_no_documents() {
    let authz = Authz::start(&[]).await;
    let good = authz.docs.id("good");
    let authorize = |id: String| {
        vec![
            ("client_id", id),
            ("redirect_uri", DOC_REDIRECT.to_owned()),
            ("response_type", "code".to_owned()),
            ("code_challenge", challenge("v")),
            ("code_challenge_method", "S256".to_owned()),
        ]
    };
    // Not metadata document URLs at all: looked up as registered clients, as in Node.
    for shape in ["#frag", "?q=1", "/../good.json"] {
        let id = format!("{good}{shape}");
        refused(&authz, &borrowed(&authorize(id)), "Invalid client_id").await;
    }
    let with_credentials = good.replace("http://", "http://user:pw@");
    refused(
        &authz,
        &borrowed(&authorize(with_credentials)),
        "Invalid client_id",
    )
    .await;
    assert_eq!(authz.docs.requests(), 0, "none of them was fetched");
}
