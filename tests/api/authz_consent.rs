//! The consent API the app's consent page calls: reading a pending request, and approving or
//! rejecting it with a full user token, once.

use serde_json::{Value, json};

use crate::common::authz::{Authz, CLI_CLIENT_ID, CLI_REDIRECT, assert_oauth, cli_params, pairs};
use crate::common::jose;

const STATIC_TOKEN: &str = "reference-static-token-0123456789abcdef";

#[tokio::test]
async fn the_consent_page_reads_the_request_without_fetching_the_document_again() {
    let authz = Authz::start(&[]).await;
    let id = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
    let session = authz.server.get_json(&format!("/v1/sessions/{id}")).await;
    assert_eq!(
        session,
        json!({"id": id, "clientId": CLI_CLIENT_ID, "clientName": "Backstage CLI",
               "scope": "openid offline_access", "redirectUri": CLI_REDIRECT})
    );
    let doc = authz.docs.id("good");
    let params = [
        ("client_id", doc.as_str()),
        ("redirect_uri", "http://127.0.0.1:9700/cb"),
        ("response_type", "code"),
        ("code_challenge", "abc"),
        ("code_challenge_method", "plain"),
    ];
    let id = authz.session(&params).await;
    assert_eq!(authz.docs.requests(), 1);
    let session = authz.server.get_json(&format!("/v1/sessions/{id}")).await;
    assert_eq!(session["clientName"], "Doc Client");
    assert!(session.get("scope").is_none(), "{session}");
    assert_eq!(
        authz.docs.requests(),
        1,
        "Node fetches the document again here"
    );

    let response = authz
        .server
        .get("/v1/sessions/00000000-0000-0000-0000-000000000000")
        .await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_oauth(
        status,
        &body,
        (400, "invalid_request", "Invalid authorization session"),
    );
}

#[tokio::test]
async fn approving_needs_a_full_user_token() {
    let authz = Authz::start(&[]).await;
    let id = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
    let user = authz.user_token().await;
    let denied = (403, "access_denied", "Authentication required");
    let (status, body) = authz.decide(&id, "approve", None).await;
    assert_oauth(status, &body, denied);
    let (status, body) = authz.decide(&id, "approve", Some(STATIC_TOKEN)).await;
    assert_oauth(status, &body, denied);
    let limited = jose::limited_token(&user);
    let (status, body) = authz.decide(&id, "approve", Some(&limited)).await;
    assert_oauth(
        status,
        &body,
        (401, "invalid_client", "Illegal limited user token"),
    );
    let (status, body) = authz.decide(&id, "approve", Some("not.a.jwt")).await;
    assert_oauth(status, &body, (401, "invalid_client", "Illegal token"));
    let cookie_only = authz
        .server
        .http
        .post(authz.server.url(&format!("/v1/sessions/{id}/approve")))
        .header("cookie", format!("backstage-auth={limited}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie_only.status(), 403);
    // Reject checks the token outside the OAuth error conversion: Backstage's body.
    let response = authz
        .server
        .http
        .post(authz.server.url(&format!("/v1/sessions/{id}/reject")))
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    crate::common::assert_error(response, 401, "AuthenticationError", "Illegal token").await;

    let (status, body) = authz.decide(&id, "approve", Some(&user)).await;
    assert_eq!(status, 200, "{body}");
    let url = url::Url::parse(body["redirectUrl"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), "/callback");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(query[0].0, "code");
    assert_eq!(query[0].1.len(), 43);
    assert_eq!(query[1], ("state".to_owned(), "st-cli".to_owned()));
    let gone = (
        400,
        "invalid_request",
        "Authorization session not found or expired",
    );
    let (status, body) = authz.decide(&id, "approve", Some(&user)).await;
    assert_oauth(status, &body, gone);
    let response = authz.server.get(&format!("/v1/sessions/{id}")).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn approval_keeps_the_redirect_query_and_rejection_replaces_it() {
    let authz = Authz::start(&[]).await;
    let redirect = "http://127.0.0.1:9700/cb?tenant=t1";
    let (client, _) = authz.register("Tenant", redirect).await;
    let params = [
        ("client_id", client.as_str()),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("state", "s1"),
    ];
    let user = authz.user_token().await;
    let (_, approved) = authz
        .decide(&authz.session(&params).await, "approve", Some(&user))
        .await;
    let approved = approved["redirectUrl"].as_str().unwrap();
    assert!(
        approved.starts_with("http://127.0.0.1:9700/cb?tenant=t1&code="),
        "{approved}"
    );
    assert!(approved.ends_with("&state=s1"), "{approved}");
    let (status, rejected) = authz
        .decide(&authz.session(&params).await, "reject", Some(&user))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        rejected["redirectUrl"],
        "http://127.0.0.1:9700/cb?error=access_denied&error_description=User+denied+the+request&state=s1"
    );
}

#[tokio::test]
async fn a_request_expires_after_an_hour_and_is_decided_once() {
    let authz = Authz::start(&[]).await;
    let user = authz.user_token().await;
    let id = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
    authz.server.clock.advance_seconds(3601);
    let expired = (400, "invalid_request", "Authorization session expired");
    let response = authz.server.get(&format!("/v1/sessions/{id}")).await;
    let status = response.status().as_u16();
    assert_oauth(status, &response.json().await.unwrap(), expired);
    let user_now = authz.user_token().await;
    let (status, body) = authz.decide(&id, "approve", Some(&user_now)).await;
    assert_oauth(status, &body, expired);
    drop(user);

    let id = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
    let (a, b) = tokio::join!(
        authz.decide(&id, "approve", Some(&user_now)),
        authz.decide(&id, "reject", Some(&user_now))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{a:?} {b:?}");
}
