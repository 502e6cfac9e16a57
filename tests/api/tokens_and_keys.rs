//! Token format, signatures checked with an independent JOSE implementation, `uip`,
//! lifetimes, key rotation with a moved clock, static keys, and the size limit.

use crate::common::{TestServer, jose};
use base64::Engine;
use stagedoor::clock::Clock;

#[tokio::test]
async fn token_header_and_claims_are_exactly_backstages() {
    let server = TestServer::start(&[]).await;
    let whole_second = server.clock.now_millis() / 1000 * 1000;
    server.clock.set_millis(whole_second);
    let session = server.guest_session().await;
    let token = session["backstageIdentity"]["token"].as_str().unwrap();
    let kid = server.jwks().await["keys"][0]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&kid).is_ok_and(|id| id.get_version_num() == 4));

    let header = jose::header(token);
    assert_eq!(
        header,
        serde_json::json!({"typ": "vnd.backstage.user", "alg": "ES256", "kid": kid})
    );
    // Member order as Node writes it.
    let header_text = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header_text,
        format!(r#"{{"typ":"vnd.backstage.user","alg":"ES256","kid":"{kid}"}}"#)
    );

    let claims = jose::payload(token);
    let keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "{claims}");
    assert_eq!(claims["iss"], "http://localhost:7007/api/auth");
    assert_eq!(claims["sub"], "user:development/guest");
    assert_eq!(claims["aud"], "backstage");
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(iat, whole_second / 1000);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 3600);
    assert!(claims.get("ent").is_none(), "ent is omitted by default");
    assert_eq!(session["backstageIdentity"]["expiresInSeconds"], 3600);

    // Node rounds exp - now with now in fractional seconds: 3599.4 s left gives 3599.
    server.clock.set_millis(whole_second + 600);
    assert_eq!(
        server.guest_session().await["backstageIdentity"]["expiresInSeconds"],
        3599
    );
}

#[tokio::test]
async fn signature_and_uip_verify_against_the_served_jwks() {
    let server = TestServer::start(&[]).await;
    let token = server.guest_token().await;
    let jwks = server.jwks().await;
    let claims = jose::verify(&token, &jwks).expect("user token verifies");
    assert_eq!(claims["sub"], "user:development/guest");

    let limited = jose::limited_token(&token);
    let limited_claims =
        jose::verify(&limited, &jwks).expect("limited token rebuilt from uip verifies");
    assert_eq!(
        limited_claims,
        serde_json::json!({"sub": claims["sub"], "iat": claims["iat"], "exp": claims["exp"]})
    );
    assert_eq!(jose::header(&limited)["typ"], "vnd.backstage.limited-user");

    assert!(
        jose::verify(&jose::tamper(&token), &jwks).is_err(),
        "a changed signature must fail"
    );
    assert!(jose::verify(&jose::tamper(&limited), &jwks).is_err());
}

#[tokio::test]
async fn ownership_claim_is_included_when_not_omitted() {
    let server = TestServer::start(&[r#"
auth:
  omitIdentityTokenOwnershipClaim: false
  providers:
    guest:
      ownershipEntityRefs: [user:development/guest, group:default/team-a]
"#])
    .await;
    let token = server.guest_token().await;
    assert_eq!(
        jose::payload(&token)["ent"],
        serde_json::json!(["user:development/guest", "group:default/team-a"])
    );
    // uip never covers ent: the limited token still verifies.
    jose::verify(&jose::limited_token(&token), &server.jwks().await).expect("limited verifies");
}

#[tokio::test]
async fn token_lifetime_follows_config_and_is_clamped() {
    for (expiration, seconds) in [
        ("{ minutes: 5 }", 600),
        ("{ days: 2 }", 86_400),
        ("2h", 7200),
        ("{ hours: 48 }", 86_400),
        ("1m", 600),
        ("PT30M", 1800),
        ("30 minutes", 1800),
    ] {
        let server = TestServer::start(&[&format!(
            "auth:\n  backstageTokenExpiration: {expiration}\n"
        )])
        .await;
        server
            .clock
            .set_millis(server.clock.now_millis() / 1000 * 1000);
        let session = server.guest_session().await;
        let claims = jose::payload(session["backstageIdentity"]["token"].as_str().unwrap());
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert_eq!(lifetime, seconds, "{expiration}");
        assert_eq!(
            session["backstageIdentity"]["expiresInSeconds"], seconds,
            "{expiration}"
        );
    }
}

#[tokio::test]
async fn keys_rotate_every_lifetime_and_stay_published_for_three() {
    let server = TestServer::start(&["auth:\n  backstageTokenExpiration: { minutes: 10 }\n"]).await;
    let first = server.guest_token().await;
    let first_kid = jose::header(&first)["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        jose::header(&server.guest_token().await)["kid"],
        first_kid.as_str(),
        "same key within a lifetime"
    );

    server.clock.advance_seconds(600);
    let second = server.guest_token().await;
    let second_kid = jose::header(&second)["kid"].as_str().unwrap().to_owned();
    assert_ne!(second_kid, first_kid, "a new key after one lifetime");
    let jwks = server.jwks().await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    jose::verify(&first, &jwks).expect("old token still verifies");
    jose::verify(&second, &jwks).expect("new token verifies");

    // 3 lifetimes after its creation the first key is gone; the second is still needed.
    server.clock.advance_seconds(2 * 600 + 1);
    let jwks = server.jwks().await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [second_kid.as_str()]);
    assert!(jose::verify(&first, &jwks).is_err());
}

#[tokio::test]
async fn memory_key_store_publishes_and_rotates_in_process() {
    let server = TestServer::start(&["auth:\n  keyStore: { provider: memory }\n"]).await;
    assert_eq!(server.jwks().await, serde_json::json!({"keys": []}));
    let token = server.guest_token().await;
    jose::verify(&token, &server.jwks().await).expect("verifies");
}

#[tokio::test]
async fn static_keys_sign_with_the_first_and_publish_all() {
    let dir = tempfile::tempdir().unwrap();
    let (private_a, public_a) = jose::write_static_key(dir.path(), "a");
    let (private_b, public_b) = jose::write_static_key(dir.path(), "b");
    let config = format!(
        r#"
auth:
  keyStore:
    provider: static
    static:
      keys:
        - {{ keyId: key-a, privateKeyFile: "{private_a}", publicKeyFile: "{public_a}" }}
        - {{ keyId: key-b, privateKeyFile: "{private_b}", publicKeyFile: "{public_b}", algorithm: ES256 }}
"#
    );
    let server = TestServer::start(&[&config]).await;
    let jwks = server.jwks().await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "static keys are published before any token");
    assert_eq!(keys[0]["kid"], "key-a");
    assert_eq!(keys[1]["kid"], "key-b");
    assert!(
        keys.iter()
            .all(|key| key["use"] == "sig" && key["alg"] == "ES256")
    );

    let token = server.guest_token().await;
    assert_eq!(jose::header(&token)["kid"], "key-a");
    jose::verify(&token, &jwks).expect("verifies");
    // Static keys never expire from the JWKS.
    server.clock.advance_seconds(10 * 86_400);
    assert_eq!(server.jwks().await, jwks);
    assert_eq!(jose::header(&server.guest_token().await)["kid"], "key-a");
}

#[tokio::test]
async fn mismatched_static_key_pair_is_a_start_up_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (private_a, _) = jose::write_static_key(dir.path(), "a");
    let (_, public_b) = jose::write_static_key(dir.path(), "b");
    let config = format!(
        "auth:\n  keyStore:\n    provider: static\n    static:\n      keys:\n        - {{ keyId: k, privateKeyFile: \"{private_a}\", publicKeyFile: \"{public_b}\" }}\n"
    );
    let settings = crate::common::settings(&[&config]);
    let error = stagedoor::server::RunningServer::start(settings, Default::default())
        .await
        .err()
        .expect("start-up fails")
        .to_string();
    assert!(
        error.contains("auth.keyStore.static.keys.0")
            && error.contains("publicKeyFile does not hold"),
        "{error}"
    );
}

#[tokio::test]
async fn excessively_large_tokens_are_refused_as_node_does() {
    let refs: Vec<String> = (0..1200)
        .map(|i| format!("group:default/team-with-a-long-name-{i}"))
        .collect();
    let config = format!(
        "auth:\n  omitIdentityTokenOwnershipClaim: false\n  providers:\n    guest:\n      ownershipEntityRefs: [{}]\n",
        refs.join(", ")
    );
    let server = TestServer::start(&[&config]).await;
    let response = server.get("/guest/refresh").await;
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["name"], "Error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Failed to issue a new user token. The resulting token is excessively large"
        ),
        "{message}"
    );

    // The same refs fit when ent stays out of the token (the default).
    let server = TestServer::start(&[&config.replace("false", "true")]).await;
    let session = server.guest_session().await;
    assert_eq!(
        session["backstageIdentity"]["identity"]["ownershipEntityRefs"]
            .as_array()
            .unwrap()
            .len(),
        1200
    );
}
