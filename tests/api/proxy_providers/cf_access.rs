//! `cfaccess`: Cloudflare Access's RS256 assertion (header or cookie), the team's certs, the
//! identity endpoint and service tokens (`tests/fixtures/node/cfaccess/`).

use serde_json::{Value, json};

use super::{UNRESOLVED, World, assert_refused, assert_signed_in};

const FAILED: &str = "Cloudflare Access token verification failed; caused by ";
const RESOLVER: &str = "[{ resolver: emailMatchingUserEntityProfileEmail }]";

fn assertion(minted: &Value) -> Vec<(String, String)> {
    vec![(
        "cf-access-jwt-assertion".into(),
        minted["token"].as_str().unwrap().into(),
    )]
}

#[tokio::test]
async fn people_and_service_tokens_sign_in() {
    let world = World::start("cfaccess", RESOLVER, "").await;
    let minted = world.keys.mint("cf", json!({})).await;
    let answer = world.refresh("cfaccess", &assertion(&minted)).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    let body = &answer.1;
    assert_eq!(
        body["profile"],
        json!({"email": "alice@example.com", "displayName": "Alice Example"})
    );
    let info = &body["providerInfo"];
    assert_eq!(info["claims"]["sub"], minted["claims"]["sub"]);
    assert_eq!(info["cfIdentity"]["email"], "alice@example.com");
    assert_eq!(
        info["expiresInSeconds"], 600,
        "the token's lifetime, as Node"
    );
    assert_eq!(info["token"], minted["token"]);
    // The cookie when there is no header; the identity is reused (same sub and email).
    let cookie = vec![(
        "cookie".to_owned(),
        format!("theme=dark; {}", minted["cookie"].as_str().unwrap()),
    )];
    let answer = world.refresh("cfaccess", &cookie).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    let identity_calls = |requests: &[Value]| {
        requests
            .iter()
            .filter(|r| r["target"] == "cf-identity")
            .count()
    };
    assert_eq!(identity_calls(&world.keys.requests().await), 1);
    // `+tag` retry of the common resolver.
    let answer = world
        .sign_in(
            "cfaccess",
            "cf",
            json!({"email": "alice+backstage@example.com"}),
        )
        .await;
    assert_signed_in(&answer, "alice", &["team-a"]);
}

#[tokio::test]
async fn service_tokens_and_missing_assertions() {
    let world = World::start("cfaccess", RESOLVER, "").await;
    // A service token signs in as its configured subject.
    let answer = world.sign_in("cfaccess", "cf-service", json!({})).await;
    assert_signed_in(&answer, "ci-bot", &[]);
    assert_eq!(
        answer.1["profile"],
        json!({"email": "ci-bot@example.com", "displayName": "Bot"})
    );
    let answer = world
        .sign_in(
            "cfaccess",
            "cf-service",
            json!({"commonName": "intruder.access"}),
        )
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "intruder.access is not a permitted Service Token.",
    );
    let answer = world
        .sign_in("cfaccess", "cf", json!({"email": "nobody@example.com"}))
        .await;
    assert_refused(&answer, 500, "Error", UNRESOLVED);
    let answer = world.refresh("cfaccess", &[]).await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Missing cf-access-jwt-assertion and CF_Authorization from Cloudflare Access",
    );

    let local_part = World::start(
        "cfaccess",
        "[{ resolver: emailLocalPartMatchingUserEntityName }]",
        "",
    )
    .await;
    let answer = local_part
        .sign_in("cfaccess", "cf", json!({"email": "bob@example.com"}))
        .await;
    assert_signed_in(&answer, "bob", &["team-b"]);
}

/// Minted assertions Cloudflare would never send, and jose's words for each.
fn refusals() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "expired",
            json!({"expired": true}),
            "JWTExpired: \"exp\" claim timestamp check failed",
        ),
        (
            "nbf in the future",
            json!({"nbfOffset": 300}),
            "JWTClaimValidationFailed: \"nbf\" claim timestamp check failed",
        ),
        (
            "wrong audience",
            json!({"wrongAud": true}),
            "JWTClaimValidationFailed: unexpected \"aud\" claim value",
        ),
        (
            "wrong issuer",
            json!({"wrongIss": true}),
            "JWTClaimValidationFailed: unexpected \"iss\" claim value",
        ),
        (
            "unknown kid",
            json!({"unknownKid": true}),
            "JWKSNoMatchingKey: no applicable key found in the JSON Web Key Set",
        ),
        (
            "tampered",
            json!({"tamper": true}),
            "JWSSignatureVerificationFailed: signature verification failed",
        ),
        (
            "another key",
            json!({"stranger": true}),
            "JWSSignatureVerificationFailed: signature verification failed",
        ),
        (
            "alg mismatch",
            json!({"alg": "ES256"}),
            "JOSEAlgNotAllowed: \"alg\" (Algorithm) Header Parameter value not allowed",
        ),
        (
            "alg none",
            json!({"alg": "none"}),
            "JOSEAlgNotAllowed: \"alg\" (Algorithm) Header Parameter value not allowed",
        ),
        (
            "HS256",
            json!({"hsConfusion": true}),
            "JOSEAlgNotAllowed: \"alg\" (Algorithm) Header Parameter value not allowed",
        ),
    ]
}

#[tokio::test]
async fn refused_assertions_are_401_not_500() {
    let world = World::start("cfaccess", RESOLVER, "").await;
    let cases = refusals();
    for (case, options, cause) in &cases {
        let minted = world.keys.mint("cf", options.clone()).await;
        let answer = world.refresh("cfaccess", &assertion(&minted)).await;
        assert_refused(
            &answer,
            401,
            "AuthenticationError",
            &format!("{FAILED}{cause}"),
        );
        let body = answer.1.to_string();
        let payload = minted["token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .to_owned();
        assert!(
            !body.contains(&payload) && !body.contains("\"payload\""),
            "{case}: {body}"
        );
    }
    let answer = world
        .sign_in(
            "cfaccess",
            "cf",
            json!({"claims": {"sub": ""}, "commonName": null}),
        )
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Missing both sub and common_name from Cloudflare Access JWT",
    );
}

#[tokio::test]
async fn an_identity_is_never_someone_elses() {
    let world = World::start("cfaccess", RESOLVER, "").await;
    let alice = world.keys.mint("cf", json!({})).await;
    assert_signed_in(
        &world.refresh("cfaccess", &assertion(&alice)).await,
        "alice",
        &["team-a"],
    );
    // A valid token with alice's sub and bob's email: Node answers with alice's cached
    // identity; here the cache does not match, and the identity endpoint's answer for this
    // token names bob, whose email the token proves.
    let sub = alice["claims"]["sub"].clone();
    let answer = world
        .sign_in(
            "cfaccess",
            "cf",
            json!({"email": "bob@example.com", "sub": sub}),
        )
        .await;
    assert_signed_in(&answer, "bob", &["team-b"]);
    assert_eq!(
        answer.1["providerInfo"]["cfIdentity"]["email"],
        "bob@example.com"
    );
    // An identity endpoint that disagrees with the token is refused.
    let put = world
        .server
        .http
        .put(format!("{}/admin/identity", world.keys.base));
    put.json(&json!({"bob@example.com": {"id": "x", "name": "Mallory", "email": "mallory@example.com", "groups": []}}))
        .send()
        .await
        .unwrap();
    world.server.clock.advance_seconds(301);
    let answer = world
        .sign_in("cfaccess", "cf", json!({"email": "bob@example.com"}))
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Failed to populate access identity information; the identity's email is not the token's",
    );
}

#[tokio::test]
async fn key_and_identity_endpoints_that_fail_are_503() {
    let world = World::start(
        "cfaccess",
        "[{ resolver: userEntityRefFromClaims, template: 'user:default/{email_local_part}' }]",
        "auth:\n  providers:\n    cfaccess:\n      signIn:\n        claimRules:\n          allow: [{ claim: groups, equals: team-a }]\n          refusedMessage: Only team-a\n",
    )
    .await;
    world.keys.fail("cf-certs", "503").await;
    let answer = world.sign_in("cfaccess", "cf", json!({})).await;
    assert_refused(
        &answer,
        503,
        "ServiceUnavailableError",
        "Cloudflare Access's certs could not be fetched, try again shortly",
    );
    world.keys.recover().await;
    world.keys.fail("cf-identity", "503").await;
    let answer = world.sign_in("cfaccess", "cf", json!({})).await;
    assert_refused(
        &answer,
        503,
        "ServiceUnavailableError",
        "Failed to populate access identity information, try again shortly",
    );
    world.keys.recover().await;
    // The identity's groups are claims for claimRules.
    let answer = world.sign_in("cfaccess", "cf", json!({})).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    let answer = world
        .sign_in("cfaccess", "cf", json!({"email": "bob@example.com"}))
        .await;
    assert_refused(&answer, 403, "NotAllowedError", "Only team-a");
}
