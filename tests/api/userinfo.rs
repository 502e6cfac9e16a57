//! `/v1/userinfo` (§3.8): which tokens it accepts, and the `user_info` rows behind it.

use crate::common::{TestServer, assert_error, jose};
use serde_json::json;
use stagedoor::clock::Clock;

async fn userinfo(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .http
        .get(server.url("/v1/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn answers_full_and_limited_tokens_with_the_stored_claims() {
    let server = TestServer::start(&["auth:\n  providers:\n    guest:\n      ownershipEntityRefs: [user:development/guest, group:default/team-a]\n"]).await;
    let token = server.guest_token().await;
    let expected = json!({"claims": {"sub": "user:development/guest", "ent": ["user:development/guest", "group:default/team-a"]}});
    for token in [token.clone(), jose::limited_token(&token)] {
        let response = userinfo(&server, &token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap(),
            expected
        );
    }
    // The scheme is case-insensitive, as Backstage's credential parser is.
    let response = server
        .http
        .get(server.url("/v1/userinfo"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn rejects_missing_malformed_tampered_expired_and_foreign_tokens() {
    let server = TestServer::start(&[]).await;
    let token = server.guest_token().await;

    assert_error(
        server.get("/v1/userinfo").await,
        401,
        "AuthenticationError",
        "No token provided",
    )
    .await;
    for garbage in [
        "garbage",
        "a.b.c",
        "eyJhbGciOiJFUzI1NiJ9.e30.sig",
        "x.y.z.w",
    ] {
        assert_error(
            userinfo(&server, garbage).await,
            401,
            "AuthenticationError",
            "Illegal token",
        )
        .await;
    }
    for bad in [
        jose::tamper(&token),
        jose::tamper(&jose::limited_token(&token)),
    ] {
        assert_error(
            userinfo(&server, &bad).await,
            401,
            "AuthenticationError",
            "Failed user token verification",
        )
        .await;
    }
    let payload = jose::payload(&token);
    let unknown_key = jose::token_from_unknown_key(&payload);
    assert_error(
        userinfo(&server, &unknown_key).await,
        401,
        "AuthenticationError",
        "Failed user token verification",
    )
    .await;

    // Expired: exp is not in the future any more (no tolerance, as jose).
    server
        .clock
        .set_millis(payload["exp"].as_i64().unwrap() * 1000);
    assert_error(
        userinfo(&server, &token).await,
        401,
        "AuthenticationError",
        "Failed user token verification",
    )
    .await;

    assert_error(
        userinfo(&server, "reference-static-token-0123456789abcdef").await,
        400,
        "InputError",
        "Userinfo endpoint must be called with a token that represents a user principal",
    )
    .await;
}

#[tokio::test]
async fn a_valid_token_without_a_row_gets_node_s_plain_404() {
    let server = TestServer::start(&[]).await;
    server.guest_token().await;
    // A genuine token signed by the server's own key, for a user it never signed in.
    let key = server.server.state().keys.signing_key().await.unwrap();
    let iat = server.clock.now_seconds();
    let payload = json!({"iss": "x", "sub": "user:default/nobody", "aud": "backstage", "iat": iat, "exp": iat + 60});
    let payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload.to_string(),
    );
    let input = format!("{}.{payload}", key.user_header_b64);
    let token = format!("{input}.{}", key.sign_b64(input.as_bytes()).unwrap());

    let response = userinfo(&server, &token).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.text().await.unwrap(), "User info not found");
}

#[tokio::test]
async fn a_refresh_writes_the_row_only_when_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("store.sqlite");
    let config = format!("stagedoor:\n  database: {}\n", database.display());
    let server = TestServer::start(&[&config]).await;
    let updated_at = || async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display()))
            .await
            .unwrap();
        let value: i64 = sqlx::query_scalar("SELECT updated_at FROM user_info")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        value
    };
    server.guest_token().await;
    let first = updated_at().await;
    server.clock.advance_seconds(60);
    server.guest_token().await;
    assert_eq!(
        updated_at().await,
        first,
        "an unchanged row is not rewritten"
    );
    server.clock.advance_seconds(11 * 60);
    server.guest_token().await;
    assert!(
        updated_at().await > first,
        "rows are refreshed now and then"
    );
}

#[tokio::test]
async fn userinfo_sees_keys_other_processes_published() {
    // Two servers on one database file: a token from one is accepted by the other,
    // whose snapshot of the keys did not have that kid yet.
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "stagedoor:\n  database: {}\n",
        dir.path().join("shared.sqlite").display()
    );
    let first = TestServer::start(&[&config]).await;
    let second = TestServer::start(&[&config]).await;
    second.clock.set_millis(first.clock.now_millis());
    let token = first.guest_token().await;
    assert_eq!(userinfo(&second, &token).await.status(), 200);
}
