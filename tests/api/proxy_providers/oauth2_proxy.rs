//! `oauth2Proxy`: oauth2-proxy's forwarded headers, nothing signed
//! (`tests/fixtures/node/oauth2Proxy/`).

use serde_json::json;

use super::{UNRESOLVED, World, assert_refused, assert_signed_in, without};

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_forwarded_user_signs_in() {
    let world = World::start(
        "oauth2Proxy",
        "[{ resolver: forwardedUserMatchingUserEntityName }]",
        "",
    )
    .await;
    let minted = world.keys.mint("oauth2proxy", json!({})).await;
    let forwarded = world.keys.headers("oauth2proxy", json!({})).await;
    let answer = world.refresh("oauth2Proxy", &forwarded).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    let body = &answer.1;
    assert_eq!(body["profile"]["email"], "alice@example.com");
    assert!(body["profile"]["displayName"].is_string(), "{body}");
    assert_eq!(world.catalog.queries(), ["by-name User/default/alice"]);
    // providerInfo.accessToken holds the ID token, as in Node.
    let id_token = forwarded
        .iter()
        .find(|(name, _)| name == "x-oauth2-proxy-id-token")
        .unwrap();
    assert_eq!(
        format!(
            "Bearer {}",
            body["providerInfo"]["accessToken"].as_str().unwrap()
        ),
        id_token.1
    );
    assert!(minted["token"].is_string());
    // Without the ID token: an empty accessToken.
    let answer = world
        .refresh(
            "oauth2Proxy",
            &without(&forwarded, "x-oauth2-proxy-id-token"),
        )
        .await;
    assert_eq!(answer.1["providerInfo"], json!({"accessToken": ""}));
    // An ID token that is not a JWT.
    let bad = headers(&[
        ("x-forwarded-user", "alice"),
        ("x-oauth2-proxy-id-token", "Bearer not-a-jwt"),
    ]);
    assert_refused(
        &world.refresh("oauth2Proxy", &bad).await,
        401,
        "AuthenticationError",
        "Authentication failed; caused by JWTInvalid: Invalid JWT",
    );
    assert_refused(
        &world.refresh("oauth2Proxy", &[]).await,
        500,
        "Error",
        "Request did not contain a user",
    );
    let nobody = headers(&[("x-forwarded-user", "nobody")]);
    assert_refused(
        &world.refresh("oauth2Proxy", &nobody).await,
        500,
        "Error",
        UNRESOLVED,
    );
}

#[tokio::test]
async fn every_resolver() {
    let world = World::start(
        "oauth2Proxy",
        "[{ resolver: forwardedPreferredUsernameMatchingUserEntityName }, { resolver: emailMatchingUserEntityProfileEmail }, { resolver: emailLocalPartMatchingUserEntityName }]",
        "",
    )
    .await;
    let by_preferred = headers(&[("x-forwarded-preferred-username", "bob")]);
    assert_signed_in(
        &world.refresh("oauth2Proxy", &by_preferred).await,
        "bob",
        &["team-b"],
    );
    let by_email = headers(&[
        ("x-forwarded-preferred-username", "nobody"),
        ("x-forwarded-email", "alice@example.com"),
    ]);
    assert_signed_in(
        &world.refresh("oauth2Proxy", &by_email).await,
        "alice",
        &["team-a"],
    );
    let by_local_part = headers(&[
        ("x-forwarded-preferred-username", "nobody"),
        ("x-forwarded-email", "bob@elsewhere.example"),
    ]);
    assert_signed_in(
        &world.refresh("oauth2Proxy", &by_local_part).await,
        "bob",
        &["team-b"],
    );
    assert_refused(
        &world
            .refresh("oauth2Proxy", &headers(&[("x-forwarded-user", "alice")]))
            .await,
        500,
        "Error",
        "Request did not contain a preferred username",
    );

    let dangerous = World::start(
        "oauth2Proxy",
        "[{ resolver: forwardedUserMatchingUserEntityName, dangerouslyAllowSignInWithoutUserInCatalog: true }]",
        "auth:\n  providers:\n    oauth2Proxy:\n      signIn:\n        claimRules:\n          ownership:\n            rules: [{ claim: x-forwarded-groups, prefix: 'bs-', refs: ['group:default/{rest}'] }]\n",
    )
    .await;
    let outsider = headers(&[
        ("x-forwarded-user", "nobody"),
        ("x-forwarded-groups", "bs-ops, other"),
    ]);
    let answer = dangerous.refresh("oauth2Proxy", &outsider).await;
    assert_signed_in(&answer, "nobody", &["ops"]);
}
