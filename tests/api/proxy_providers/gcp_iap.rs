//! `gcpIap`: Google IAP's ES256 assertion, keys from the PEM map (`tests/fixtures/node/gcpIap/`).

use serde_json::{Value, json};

use super::{UNRESOLVED, World, assert_refused, assert_signed_in, without};

const FAILED: &str = "Google IAP token verification failed, Error: ";

#[tokio::test]
async fn a_catalog_user_signs_in_with_every_resolver() {
    let world = World::start(
        "gcpIap",
        "[{ resolver: emailMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    let answer = world.sign_in("gcpIap", "iap", json!({})).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    let body = &answer.1;
    assert_eq!(body["profile"], json!({"email": "alice@example.com"}));
    let iap_token = &body["providerInfo"]["iapToken"];
    assert_eq!(
        iap_token["sub"],
        "accounts.google.com:100000000000000000001"
    );
    assert_eq!(iap_token["iss"], "https://cloud.google.com/iap");
    assert_eq!(
        world.catalog.queries(),
        ["filter kind=user,metadata.annotations.google.com/email=alice@example.com"]
    );
    // A second sign-in uses the cached keys (Node fetches them every time).
    let answer = world
        .sign_in("gcpIap", "iap", json!({"email": "bob@example.com"}))
        .await;
    assert_signed_in(&answer, "bob", &["team-b"]);
    assert_eq!(world.keys.requests().await.len(), 1);

    for (resolver, email, query) in [
        (
            "idMatchingUserEntityAnnotation",
            "bob@example.com",
            "filter kind=user,metadata.annotations.google.com/user-id=100000000000000000002",
        ),
        (
            "emailMatchingUserEntityProfileEmail",
            "bob@example.com",
            "filter kind=user,spec.profile.email=bob@example.com",
        ),
        (
            "emailLocalPartMatchingUserEntityName",
            "bob@example.com",
            "by-name User/default/bob",
        ),
    ] {
        let world = World::start("gcpIap", &format!("[{{ resolver: {resolver} }}]"), "").await;
        let answer = world
            .sign_in("gcpIap", "iap", json!({"email": email}))
            .await;
        assert_signed_in(&answer, "bob", &["team-b"]);
        assert_eq!(world.catalog.queries()[0], query, "{resolver}");
    }
}

#[tokio::test]
async fn users_outside_the_catalog() {
    let world = World::start(
        "gcpIap",
        "[{ resolver: idMatchingUserEntityAnnotation }, { resolver: emailMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    let answer = world
        .sign_in("gcpIap", "iap", json!({"email": "nobody@example.com"}))
        .await;
    assert_refused(&answer, 500, "Error", UNRESOLVED);
    // A `sub` without a colon has no user id: nobody, never every user (Node's 409).
    world.catalog.clear();
    let answer = world
        .sign_in(
            "gcpIap",
            "iap",
            json!({"sub": "no-colon", "email": "nobody@example.com"}),
        )
        .await;
    assert_refused(&answer, 500, "Error", UNRESOLVED);
    assert_eq!(
        world.catalog.queries(),
        ["filter kind=user,metadata.annotations.google.com/email=nobody@example.com"]
    );

    let dangerous = World::start(
        "gcpIap",
        "[{ resolver: emailMatchingUserEntityAnnotation, dangerouslyAllowSignInWithoutUserInCatalog: true }]",
        "",
    )
    .await;
    let answer = dangerous
        .sign_in("gcpIap", "iap", json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(
        answer.1["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/nobody@example.com"
    );
}

/// Minted assertions IAP would never send, and the start of the message for each.
fn refusals() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("expired", json!({"expired": true}), "Token used too late, "),
        (
            "wrong audience",
            json!({"wrongAud": true}),
            "Wrong recipient, payload audience != requiredAudience",
        ),
        (
            "wrong issuer",
            json!({"wrongIss": true}),
            "Invalid issuer, expected one of [https://cloud.google.com/iap], but got https://evil.example.com/iap",
        ),
        (
            "unknown kid",
            json!({"unknownKid": true}),
            "No pem found for envelope",
        ),
        (
            "no kid",
            json!({"noKid": true}),
            "No pem found for envelope",
        ),
        (
            "tampered signature",
            json!({"tamper": true}),
            "Invalid token signature",
        ),
        (
            "signed by another key",
            json!({"stranger": true}),
            "Invalid token signature",
        ),
        // Node signs this one in (google-auth-library ignores `alg`, gcpIap/37d).
        (
            "alg mismatch",
            json!({"alg": "RS256", "sigFormat": "der"}),
            "Invalid token algorithm, expected ES256",
        ),
        (
            "alg none",
            json!({"alg": "none"}),
            "Invalid token algorithm, expected ES256",
        ),
        (
            "HS256 with the public key",
            json!({"hsConfusion": true}),
            "Invalid token algorithm, expected ES256",
        ),
        (
            "too far in the future",
            json!({"ttl": 90000}),
            "Expiration time too far in future",
        ),
        (
            "used too early",
            json!({"clockOffset": 400}),
            "Token used too early, ",
        ),
    ]
}

#[tokio::test]
async fn refused_assertions_get_nodes_messages_without_the_token() {
    let world = World::start(
        "gcpIap",
        "[{ resolver: emailMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    let cases = refusals();
    for (case, options, message) in &cases {
        let minted = world.keys.mint("iap", options.clone()).await;
        let token = minted["token"].as_str().unwrap().to_owned();
        let answer = world
            .refresh(
                "gcpIap",
                &[("x-goog-iap-jwt-assertion".into(), token.clone())],
            )
            .await;
        let (status, body) = &answer;
        assert_eq!(*status, 401, "{case}: {body}");
        assert_eq!(body["error"]["name"], "AuthenticationError", "{case}");
        let got = body["error"]["message"].as_str().unwrap();
        assert!(
            got.starts_with(&format!("{FAILED}{message}")),
            "{case}: {got}"
        );
        let payload = token.split('.').nth(1).unwrap_or_default();
        assert!(
            !body.to_string().contains(payload),
            "{case}: the body echoes the assertion"
        );
    }
}

#[tokio::test]
async fn leeway_missing_claims_and_the_missing_header() {
    let world = World::start(
        "gcpIap",
        "[{ resolver: emailMatchingUserEntityAnnotation }]",
        "",
    )
    .await;
    // Within google-auth-library's 300 s leeway an expired token still signs in.
    let answer = world
        .sign_in("gcpIap", "iap", json!({"clockOffset": -840}))
        .await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    let answer = world
        .refresh(
            "gcpIap",
            &[("x-goog-iap-jwt-assertion".into(), "not-a-jwt".into())],
        )
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        &format!("{FAILED}Wrong number of segments in token"),
    );
    let answer = world
        .sign_in("gcpIap", "iap", json!({"claims": {"email": null}}))
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Google IAP token payload is missing email claim",
    );
    let headers = world.keys.headers("iap", json!({})).await;
    let answer = world
        .refresh("gcpIap", &without(&headers, "x-goog-iap-jwt-assertion"))
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Missing Google IAP header",
    );
}

#[tokio::test]
async fn keys_are_refetched_for_a_new_kid_and_a_dead_endpoint_is_a_503() {
    let world = World::start(
        "gcpIap",
        "[{ resolver: emailMatchingUserEntityAnnotation }]",
        "auth:\n  providers:\n    gcpIap:\n      jwtHeader: X-Iap-Assertion\n",
    )
    .await;
    let token = |minted: Value| {
        vec![(
            "x-iap-assertion".to_owned(),
            minted["token"].as_str().unwrap().to_owned(),
        )]
    };
    world.keys.fail("iap", "503").await;
    let answer = world
        .refresh("gcpIap", &token(world.keys.mint("iap", json!({})).await))
        .await;
    assert_refused(
        &answer,
        503,
        "ServiceUnavailableError",
        "Google IAP token verification keys could not be fetched, try again shortly",
    );
    world.keys.recover().await;
    let answer = world
        .refresh("gcpIap", &token(world.keys.mint("iap", json!({})).await))
        .await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    // A rotated key is found by re-fetching (at most once a second).
    world.keys.rotate("iap").await;
    world.server.clock.advance_seconds(2);
    let answer = world
        .refresh("gcpIap", &token(world.keys.mint("iap", json!({})).await))
        .await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    assert_eq!(
        world.keys.requests().await.len(),
        3,
        "one failed, two fetches"
    );
}
