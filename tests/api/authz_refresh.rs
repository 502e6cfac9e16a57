//! Offline sessions: a refresh token works only for its own client and user, ends with the
//! user's removal from the catalog, after its idle and maximum lifetimes, when the user has
//! too many, and rotates once under concurrent refreshes; expired rows are purged hourly.

use serde_json::Value;

use crate::common::authz::{Authz, DOC_REDIRECT, VERIFIER, assert_oauth, challenge, pairs};

/// Logs in as the metadata document client `doc` (PKCE, offline access): its tokens.
async fn doc_login(authz: &Authz, doc: &str) -> Value {
    let client_id = authz.docs.id(doc);
    let params = vec![
        ("client_id", client_id.clone()),
        ("redirect_uri", DOC_REDIRECT.to_owned()),
        ("response_type", "code".to_owned()),
        ("scope", "openid offline_access".to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ];
    let code = authz.approve(&authz.session(&pairs(&params)).await).await;
    let (status, tokens) = authz
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", DOC_REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn refresh_token(tokens: &Value) -> String {
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_refresh_token_works_only_for_the_client_it_was_issued_to() {
    let authz = Authz::start(&[]).await;
    let cli = refresh_token(&authz.cli_login().await);
    let (id, secret) = authz.register("Second", "http://127.0.0.1:9700/cb").await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", cli.as_str()),
    ];
    // Another registered client, authenticated.
    let (status, body) = authz.token(&form, Some((&id, &secret))).await;
    let foreign = (
        400,
        "invalid_grant",
        "Refresh token was not issued to this client",
    );
    assert_oauth(status, &body, foreign);
    // Another metadata document client, by its id alone (Node checks only authenticated ids).
    let doc = authz.docs.id("good");
    let with_id = [form[0], form[1], ("client_id", doc.as_str())];
    let (status, body) = authz.token(&with_id, None).await;
    assert_oauth(status, &body, foreign);
    // A wrong secret is the client's problem, before the token is looked at.
    let (status, body) = authz.token(&form, Some((&id, "wrong"))).await;
    assert_oauth(
        status,
        &body,
        (401, "invalid_client", "Invalid client credentials"),
    );
    // None of that spent the token: the CLI (which sends no client id) refreshes.
    assert_eq!(authz.refresh(&cli).await.0, 200);
    // A document client's token, refreshed by the same client id.
    let tokens = doc_login(&authz, "good").await;
    let own = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", doc.as_str()),
    ];
    assert_eq!(authz.token(&own, None).await.0, 200);
}

#[tokio::test]
async fn a_user_removed_from_the_catalog_loses_the_session() {
    let authz = Authz::start(&[]).await;
    let token = refresh_token(&authz.cli_login().await);
    let (status, body) = authz.refresh(&token).await;
    assert_eq!(status, 200, "{body}");
    authz.catalog.remove("alice");
    let (status, body) = authz.refresh(&refresh_token(&body)).await;
    let gone = (
        400,
        "invalid_grant",
        "User entity no longer exists in the catalog",
    );
    assert_oauth(status, &body, gone);
    let (status, body) = authz.refresh(&token).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
}

#[tokio::test]
async fn a_catalog_that_cannot_answer_keeps_the_session_for_later() {
    let authz = Authz::start(&[]).await;
    let token = refresh_token(&authz.cli_login().await);
    authz.catalog.set_down(true);
    // Node says invalid_grant here, and clients then throw the refresh token away.
    let (status, body) = authz.refresh(&token).await;
    let unavailable = (
        503,
        "temporarily_unavailable",
        "Unable to validate user existence",
    );
    assert_oauth(status, &body, unavailable);
    authz.catalog.set_down(false);
    authz.server.clock.advance_seconds(3);
    assert_eq!(authz.refresh(&token).await.0, 200);
}

#[tokio::test]
async fn sessions_end_when_idle_too_long_or_too_old() {
    let authz = Authz::start(&[
        "auth: { experimentalRefreshToken: { tokenLifetime: { days: 2 }, maxRotationLifetime: { days: 5 } } }",
    ])
    .await;
    let clock = &authz.server.clock;
    let idle = refresh_token(&authz.cli_login().await);
    clock.advance_seconds(2 * 86_400 + 1);
    let (status, body) = authz.refresh(&idle).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );

    let mut token = refresh_token(&authz.cli_login().await);
    for _ in 0..4 {
        clock.advance_seconds(86_400 + 3600);
        let (status, body) = authz.refresh(&token).await;
        assert_eq!(status, 200, "{body}");
        token = refresh_token(&body);
    }
    clock.advance_seconds(86_400);
    let (status, body) = authz.refresh(&token).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
}

/// A registered client's login: its tokens.
async fn dcr_login(authz: &Authz, name: &str) -> Value {
    let (id, secret) = authz.register(name, DOC_REDIRECT).await;
    let params = [
        ("client_id", id.as_str()),
        ("redirect_uri", DOC_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid offline_access"),
    ];
    let code = authz.approve(&authz.session(&params).await).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", DOC_REDIRECT),
    ];
    let (status, tokens) = authz.token(&form, Some((&id, &secret))).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn a_user_keeps_one_session_per_client_and_at_most_the_limit() {
    let authz = Authz::start(&[]).await;
    let clock = &authz.server.clock;
    // The same client logging in again replaces its session.
    let replaced = refresh_token(&authz.cli_login().await);
    let cli = refresh_token(&authz.cli_login().await);
    assert_eq!(authz.refresh(&replaced).await.0, 400);
    clock.advance_seconds(5);
    let good = refresh_token(&doc_login(&authz, "good").await);
    let second = refresh_token(&dcr_login(&authz, "Second").await);
    clock.advance_seconds(5);
    let (_, good) = authz.refresh(&good).await;
    let (_, second) = authz.refresh(&second).await;
    // maxTokensPerUser 3: a fourth client evicts the least recently used, the CLI's.
    clock.advance_seconds(5);
    let third = refresh_token(&dcr_login(&authz, "Third").await);
    let (status, body) = authz.refresh(&cli).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
    for token in [refresh_token(&good), refresh_token(&second), third] {
        assert_eq!(authz.refresh(&token).await.0, 200);
    }
}

#[tokio::test]
async fn two_concurrent_refreshes_rotate_once_and_the_session_survives() {
    let authz = Authz::start(&[]).await;
    let token = refresh_token(&authz.cli_login().await);
    let (a, b) = tokio::join!(authz.refresh(&token), authz.refresh(&token));
    let winner = match (a.0, b.0) {
        (200, 400) => a.1,
        (400, 200) => b.1,
        other => panic!("one refresh wins: {other:?} {a:?} {b:?}"),
    };
    // The loser raced the winner with the then-current token: not reuse, the session lives.
    assert_eq!(authz.refresh(&refresh_token(&winner)).await.0, 200);
}

#[tokio::test]
async fn expired_sessions_codes_and_requests_are_purged_hourly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stagedoor.sqlite");
    let database = format!("stagedoor: {{ database: \"sqlite://{}\" }}", file.display());
    let authz = Authz::start(&[&database]).await;
    let first = refresh_token(&authz.cli_login().await);
    let _pending = authz
        .session(&pairs(&crate::common::authz::cli_params(
            crate::common::authz::CLI_REDIRECT,
        )))
        .await;
    let count = |table: &'static str| {
        let url = format!("sqlite://{}", file.display());
        async move {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let sql = format!("SELECT count(*) FROM {table}");
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            count
        }
    };
    assert_eq!(count("offline_sessions").await, 1);
    assert_eq!(count("oauth_authorization_sessions").await, 2);
    assert_eq!(authz.refresh(&first).await.0, 200);
    assert_eq!(count("offline_session_retired_tokens").await, 1);
    // 31 days later (tokenLifetime 30 days), the next request purges.
    authz.server.clock.advance_seconds(31 * 86_400);
    let (status, _) = authz.refresh("unknown.token").await;
    assert_eq!(status, 400);
    for table in [
        "offline_sessions",
        "offline_session_retired_tokens",
        "oauth_authorization_sessions",
        "oauth_authorization_codes",
    ] {
        assert_eq!(count(table).await, 0, "{table}");
    }
}
