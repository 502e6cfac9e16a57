//! `awsalb`: the ALB's ES256 `x-amzn-oidc-data`, its key fetched per kid as a PEM
//! (`tests/fixtures/node/awsalb/`).

use serde_json::{Value, json};

use super::{UNRESOLVED, World, assert_refused, assert_signed_in, without};

const FAILED: &str = "Exception occurred during JWT processing; caused by ";
const RESOLVER: &str = "[{ resolver: emailMatchingUserEntityProfileEmail }]";

#[tokio::test]
async fn a_catalog_user_signs_in_with_the_albs_profile() {
    let world = World::start("awsalb", RESOLVER, "").await;
    let minted = world.keys.mint("alb", json!({})).await;
    let headers = world.keys.headers("alb", json!({})).await;
    let answer = world.refresh("awsalb", &headers).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    let body = &answer.1;
    assert_eq!(
        body["profile"],
        json!({"email": "alice@example.com", "picture": "https://idp.example.com/pictures/alice.png", "displayName": "Alice Example"})
    );
    // The module's own resolver: kind=User first, no +tag retry.
    assert_eq!(
        world.catalog.queries(),
        ["filter kind=User,spec.profile.email=alice@example.com"]
    );
    let access_token = headers
        .iter()
        .find(|(name, _)| name == "x-amzn-oidc-accesstoken");
    assert_eq!(body["providerInfo"]["accessToken"], access_token.unwrap().1);
    // Seconds left (Node gives the epoch `exp`).
    let left = body["providerInfo"]["expiresInSeconds"].as_i64().unwrap();
    assert!((590..=605).contains(&left), "{body}");
    let kid = minted["protectedHeader"]["kid"].as_str().unwrap();
    let fetched: Vec<Value> = world.keys.requests().await;
    assert_eq!(
        fetched.len(),
        1,
        "one key fetch for two sign-ins: {fetched:?}"
    );
    assert_eq!(fetched[0]["path"], format!("/{kid}"));

    // No picture and an opaque access token: signed in without a picture (Node: 500).
    let answer = world
        .sign_in("awsalb", "alb", json!({"picture": "none"}))
        .await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    assert_eq!(answer.1["profile"].get("picture"), None);
    // Padded base64url segments, as AWS documents them.
    let answer = world.sign_in("awsalb", "alb", json!({"pad": true})).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
}

#[tokio::test]
async fn every_resolver_and_users_outside_the_catalog() {
    let world = World::start(
        "awsalb",
        "[{ resolver: emailMatchingUserEntityProfileEmail }, { resolver: emailLocalPartMatchingUserEntityName }]",
        "",
    )
    .await;
    let answer = world
        .sign_in("awsalb", "alb", json!({"email": "bob@elsewhere.example"}))
        .await;
    assert_signed_in(&answer, "bob", &["team-b"]);
    assert_eq!(world.catalog.queries()[1], "by-name User/default/bob");
    let answer = world
        .sign_in("awsalb", "alb", json!({"email": "nobody@example.com"}))
        .await;
    assert_refused(&answer, 500, "Error", UNRESOLVED);

    let dangerous = World::start(
        "awsalb",
        "[{ resolver: emailMatchingUserEntityProfileEmail, dangerouslyAllowSignInWithoutUserInCatalog: true }]",
        "",
    )
    .await;
    let answer = dangerous
        .sign_in("awsalb", "alb", json!({"email": "nobody+tag@example.com"}))
        .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(
        answer.1["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/nobody+tag@example.com"
    );
}

#[tokio::test]
async fn refused_assertions() {
    let world = World::start("awsalb", RESOLVER, "").await;
    let cases: &[(&str, Value, u16, &str)] = &[
        (
            "expired",
            json!({"expired": true}),
            401,
            "JWTExpired: \"exp\" claim timestamp check failed",
        ),
        (
            "expired 5 s ago",
            json!({"clockOffset": -605}),
            401,
            "JWTExpired: \"exp\" claim timestamp check failed",
        ),
        (
            "nbf in the future",
            json!({"nbfOffset": 300}),
            401,
            "JWTClaimValidationFailed: \"nbf\" claim timestamp check failed",
        ),
        (
            "unknown kid",
            json!({"unknownKid": true}),
            401,
            "JWKSNoMatchingKey: no applicable key found in the JSON Web Key Set",
        ),
        (
            "tampered",
            json!({"tamper": true}),
            401,
            "JWSSignatureVerificationFailed: signature verification failed",
        ),
        (
            "another key",
            json!({"stranger": true}),
            401,
            "JWSSignatureVerificationFailed: signature verification failed",
        ),
        (
            "alg mismatch",
            json!({"alg": "RS256"}),
            401,
            "JOSEAlgNotAllowed: \"alg\" (Algorithm) Header Parameter value not allowed",
        ),
        (
            "alg none",
            json!({"alg": "none"}),
            401,
            "JOSEAlgNotAllowed: \"alg\" (Algorithm) Header Parameter value not allowed",
        ),
        (
            "HS256 with the public key",
            json!({"hsConfusion": true}),
            401,
            "JOSEAlgNotAllowed: \"alg\" (Algorithm) Header Parameter value not allowed",
        ),
    ];
    for (case, options, status, cause) in cases {
        let answer = world.sign_in("awsalb", "alb", options.clone()).await;
        assert_refused(
            &answer,
            *status,
            "AuthenticationError",
            &format!("{FAILED}{cause}"),
        );
        let (name, message) = cause.split_once(": ").unwrap();
        assert_eq!(
            answer.1["error"]["cause"],
            json!({"name": name, "message": message}),
            "{case}"
        );
    }
}

#[tokio::test]
async fn claims_and_headers_are_checked() {
    let world = World::start("awsalb", RESOLVER, "").await;
    for (options, message) in [
        (json!({"wrongIss": true}), "Issuer mismatch on JWT token"),
        (json!({"wrongSigner": true}), "Signer mismatch on JWT token"),
        (
            json!({"header": {"signer": null}}),
            "Signer mismatch on JWT token",
        ),
        (json!({"noKid": true}), "No key id was specified in header"),
        (
            json!({"claims": {"email": null}}),
            "Missing email in the JWT token",
        ),
    ] {
        let answer = world.sign_in("awsalb", "alb", options).await;
        assert_refused(&answer, 401, "AuthenticationError", message);
    }
    let headers = world.keys.headers("alb", json!({})).await;
    let answer = world
        .refresh("awsalb", &without(&headers, "x-amzn-oidc-data"))
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Missing ALB OIDC header: x-amzn-oidc-data",
    );
    let answer = world
        .refresh("awsalb", &without(&headers, "x-amzn-oidc-accesstoken"))
        .await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        "Missing ALB OIDC header: x-amzn-oidc-accesstoken",
    );
    let not_a_jwt = [
        ("x-amzn-oidc-data".to_owned(), "abc".to_owned()),
        ("x-amzn-oidc-accesstoken".to_owned(), String::new()),
    ];
    let answer = world.refresh("awsalb", &not_a_jwt).await;
    assert_refused(
        &answer,
        401,
        "AuthenticationError",
        &format!("{FAILED}JWSInvalid: Invalid Compact JWS"),
    );
}

#[tokio::test]
async fn a_known_key_outlives_the_endpoint_and_a_new_one_waits_for_it() {
    let world = World::start(
        "awsalb",
        RESOLVER,
        // Node's default when `signer` is not set: any ALB's signer passes.
        "auth:\n  providers:\n    awsalb:\n      signer: ''\n",
    )
    .await;
    let answer = world
        .sign_in("awsalb", "alb", json!({"wrongSigner": true}))
        .await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    world.keys.fail("alb", "503").await;
    let answer = world.sign_in("awsalb", "alb", json!({})).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
    world.keys.rotate("alb").await;
    let answer = world.sign_in("awsalb", "alb", json!({})).await;
    assert_refused(
        &answer,
        503,
        "ServiceUnavailableError",
        "The AWS ALB public key could not be fetched, try again shortly",
    );
    world.keys.fail("alb", "reset").await;
    let answer = world.sign_in("awsalb", "alb", json!({})).await;
    assert_eq!(answer.0, 503, "{}", answer.1);
    world.keys.recover().await;
    let answer = world.sign_in("awsalb", "alb", json!({})).await;
    assert_signed_in(&answer, "alice", &["team-a"]);
}
