//! The authorization code flow end to end, as the CLI (a metadata document client with PKCE)
//! and a DCR client take it, and every way a code exchange is refused.

use serde_json::{Value, json};

use crate::common::authz::{
    Authz, CLI_CLIENT_ID, CLI_REDIRECT, VERIFIER, assert_oauth, challenge, cli_params, code_of,
    pairs,
};
use crate::common::jose;

#[tokio::test]
async fn the_cli_flow_gives_a_backstage_token_with_ownership_and_a_rotating_refresh_token() {
    let authz = Authz::start(&[]).await;
    let tokens = authz.cli_login().await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid offline_access");
    assert_eq!(tokens["id_token"], tokens["access_token"]);
    // The token's real lifetime (20 minutes here), not Node's hard-coded 3600.
    let expires_in = tokens["expires_in"].as_i64().unwrap();
    assert!((1190..=1200).contains(&expires_in), "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let claims = jose::payload(access);
    assert_eq!(claims["sub"], "user:default/alice");
    assert_eq!(claims["aud"], "backstage");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        1200
    );
    assert_eq!(jose::header(access)["typ"], "vnd.backstage.user");
    let userinfo: Value = authz
        .server
        .http
        .get(authz.server.url("/v1/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        userinfo["claims"]["ent"],
        json!(["user:default/alice", "group:default/team-a"])
    );

    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (session, secret) = first.split_once('.').unwrap();
    assert_eq!(session.len(), 36, "a UUID session id");
    assert_eq!(secret.len(), 43, "32 random bytes, base64url");
    let (status, refreshed) = authz.refresh(&first).await;
    assert_eq!(status, 200, "{refreshed}");
    let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert!(second.starts_with(&format!("{session}.")) && second != first);
    assert!(refreshed.get("id_token").is_none() && refreshed.get("scope").is_none());
    assert_eq!(refreshed["token_type"], "Bearer");
    let (status, again) = authz.refresh(&second).await;
    assert_eq!(status, 200, "{again}");
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_whole_session() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_config = format!(
        "stagedoor: {{ audit: {{ sink: file, path: \"{}\" }} }}",
        audit.display()
    );
    let authz = Authz::start(&[&audit_config]).await;
    let first = authz.cli_login().await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, refreshed) = authz.refresh(&first).await;
    let live = refreshed["refresh_token"].as_str().unwrap().to_owned();

    // Right after its rotation it may be a concurrent refresh of the same client: refused,
    // but the session lives.
    let (status, body) = authz.refresh(&first).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
    // Later, the rotated-out token comes back (a thief, or a leak): the session dies...
    authz.server.clock.advance_seconds(6);
    let (status, body) = authz.refresh(&first).await;
    assert_oauth(
        status,
        &body,
        (
            400,
            "invalid_grant",
            "Refresh token was already used; the offline session is revoked",
        ),
    );
    // ...so the live token the legitimate holder has is refused too (Node keeps it working).
    let (status, body) = authz.refresh(&live).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
    // A forged token with the session's id is not reuse: it changes nothing.
    let other = authz.cli_login().await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = format!("{}.garbage", other.split_once('.').unwrap().0);
    let (status, body) = authz.refresh(&forged).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
    assert_eq!(authz.refresh(&other).await.0, 200);

    let events = crate::common::audit_events(&audit, "oauth_refresh_reuse", 1).await;
    assert_eq!(events[0]["user"], "user:default/alice");
    assert_eq!(events[0]["subject"], CLI_CLIENT_ID);
    assert_eq!(events[0]["outcome"], "failure");
    let line = std::fs::read_to_string(&audit).unwrap();
    assert!(
        !line.contains(&first) && !line.contains(&live),
        "no token in the audit trail"
    );
    let metrics = authz
        .server
        .http
        .get(authz.server.root_url("/metrics"))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(
            "stagedoor_authorization_server_events_total{event=\"refresh_reuse\",outcome=\"failure\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_dcr_client_without_pkce_must_authenticate_to_redeem_its_code() {
    let authz = Authz::start(&[]).await;
    let redirect = "http://127.0.0.1:9700/cb";
    let (id, secret) = authz.register("Second", redirect).await;
    let params = [
        ("client_id", id.as_str()),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid offline_access"),
        ("state", "st-dcr"),
    ];
    let exchange = |code: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect.to_owned()),
        ]
    };
    // Node redeems a PKCE-less code for anyone who has it; stagedoor wants the client's secret.
    let code = authz.approve(&authz.session(&params).await).await;
    let (status, body) = authz.token(&pairs(&exchange(code.clone())), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // The failed attempt spent the code.
    let (status, body) = authz
        .token(&pairs(&exchange(code)), Some((&id, &secret)))
        .await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Authorization code already used"),
    );

    let code = authz.approve(&authz.session(&params).await).await;
    let (status, body) = authz
        .token(&pairs(&exchange(code)), Some((&id, "wrong")))
        .await;
    assert_oauth(
        status,
        &body,
        (401, "invalid_client", "Invalid client credentials"),
    );

    let code = authz.approve(&authz.session(&params).await).await;
    let (status, tokens) = authz
        .token(&pairs(&exchange(code)), Some((&id, &secret)))
        .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    let (status, body) = authz.token(&form, Some((&id, &secret))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn codes_are_single_use_short_lived_and_bound_to_their_client_and_verifier() {
    let authz = Authz::start(&[]).await;
    let new_code = || async {
        let id = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
        authz.approve(&id).await
    };
    let exchange = |code: &str, verifier: Option<&str>, redirect: &str, client: &str| {
        let mut body = json!({"grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect, "client_id": client});
        if let Some(verifier) = verifier {
            body["code_verifier"] = json!(verifier);
        }
        authz.token_json(body)
    };
    let cases: [(Option<&str>, &str, &str, &str); 4] = [
        (
            Some("wrong-verifier"),
            CLI_REDIRECT,
            CLI_CLIENT_ID,
            "Invalid code verifier",
        ),
        (
            None,
            CLI_REDIRECT,
            CLI_CLIENT_ID,
            "Code verifier required for PKCE",
        ),
        (
            Some(VERIFIER),
            "http://127.0.0.1:1/callback",
            CLI_CLIENT_ID,
            "Redirect URI mismatch",
        ),
        (
            Some(VERIFIER),
            CLI_REDIRECT,
            "some-other-client",
            "Authorization code was not issued to this client",
        ),
    ];
    for (verifier, redirect, client, message) in cases {
        let code = new_code().await;
        let (status, body) = exchange(&code, verifier, redirect, client).await;
        assert_oauth(status, &body, (400, "invalid_grant", message));
        // Node lets the same code succeed after a failure; here the failure spent it.
        let (status, body) = exchange(&code, Some(VERIFIER), CLI_REDIRECT, CLI_CLIENT_ID).await;
        assert_oauth(
            status,
            &body,
            (400, "invalid_grant", "Authorization code already used"),
        );
    }
    let (status, body) =
        exchange("no-such-code", Some(VERIFIER), CLI_REDIRECT, CLI_CLIENT_ID).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid authorization code"),
    );

    let code = new_code().await;
    authz.server.clock.advance_seconds(601);
    let (status, body) = exchange(&code, Some(VERIFIER), CLI_REDIRECT, CLI_CLIENT_ID).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Authorization code expired"),
    );
}

#[tokio::test]
async fn a_replayed_code_revokes_the_refresh_token_its_first_exchange_issued() {
    let authz = Authz::start(&[]).await;
    let new_code = || async {
        let id = authz.session(&pairs(&cli_params(CLI_REDIRECT))).await;
        authz.approve(&id).await
    };
    let exchange = |code: &str| {
        authz.token_json(json!({"grant_type": "authorization_code", "code": code,
            "redirect_uri": CLI_REDIRECT, "client_id": CLI_CLIENT_ID, "code_verifier": VERIFIER}))
    };
    // A replayed code: refused, and the refresh token its first exchange issued is revoked
    // (RFC 6749 §4.1.2).
    let code = new_code().await;
    let (status, tokens) = exchange(&code).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, body) = exchange(&code).await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Authorization code already used"),
    );
    let (status, body) = authz
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_grant", "Invalid refresh token"),
    );
}

#[tokio::test]
async fn two_concurrent_exchanges_of_one_code_give_one_token() {
    let authz = Authz::start(&[]).await;
    let code = authz
        .approve(&authz.session(&pairs(&cli_params(CLI_REDIRECT))).await)
        .await;
    let body = json!({"grant_type": "authorization_code", "code": code,
        "redirect_uri": CLI_REDIRECT, "code_verifier": VERIFIER});
    let (a, b) = tokio::join!(authz.token_json(body.clone()), authz.token_json(body));
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{a:?} {b:?}");
}

#[tokio::test]
async fn without_offline_access_or_refresh_tokens_no_refresh_token_is_issued() {
    let authz = Authz::start(&["auth: { experimentalRefreshToken: { enabled: false } }"]).await;
    let tokens = authz.cli_login().await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let (status, body) = authz.refresh("a.b").await;
    assert_oauth(
        status,
        &body,
        (400, "invalid_request", "Refresh tokens are not enabled"),
    );

    let authz = Authz::start(&[]).await;
    let mut params = cli_params(CLI_REDIRECT);
    params.retain(|(key, _)| *key != "scope");
    let code = authz.approve(&authz.session(&pairs(&params)).await).await;
    let (status, tokens) = authz
        .token_json(json!({"grant_type": "authorization_code", "code": code,
            "redirect_uri": CLI_REDIRECT, "code_verifier": VERIFIER}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(tokens["scope"], "openid");
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!(challenge(VERIFIER).len(), 43);
    assert!(code_of("http://x/cb?code=abc&state=s") == "abc");
}
