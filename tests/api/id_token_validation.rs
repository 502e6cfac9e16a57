//! ID token validation against tokens minted here, served through a real JWKS endpoint:
//! every forgery and mismatch the OAuth security BCP warns about is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use std::sync::Arc;

use stagedoor::clock::ManualClock;
use stagedoor::oauth::id_token::{Expectations, verify};
use stagedoor::oauth::jwks::JwksCache;

struct Key {
    pair: EcdsaKeyPair,
    kid: String,
}

impl Key {
    fn new(kid: &str) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self {
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
            kid: kid.into(),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])})
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    fn token(&self, claims: &Value) -> String {
        self.sign(&json!({"alg": "ES256", "kid": self.kid}), claims)
    }
}

type SharedKeys = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// A JWKS endpoint on loopback serving `keys` (changeable through the returned handle);
/// counts its requests.
async fn jwks_server(keys: Vec<Value>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let (uri, hits, _) = changeable_jwks_server(keys).await;
    (uri, hits)
}

async fn changeable_jwks_server(
    keys: Vec<Value>,
) -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    SharedKeys,
) {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let shared: SharedKeys = std::sync::Arc::new(std::sync::Mutex::new(keys));
    let served = shared.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = json!({"keys": *served.lock().unwrap()}).to_string();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/jwks"), hits, shared)
}

fn now() -> i64 {
    crate::common::jose::now_secs()
}

fn good_claims() -> Value {
    json!({"iss": "https://idp.example.com", "aud": "backstage", "sub": "alice", "exp": now() + 300, "iat": now(), "nonce": "n-123"})
}

#[tokio::test]
async fn forged_and_mismatched_id_tokens_are_refused() {
    let key = Key::new("k1");
    let (uri, hits) = jwks_server(vec![key.jwk()]).await;
    let clock = Arc::new(ManualClock::starting_now());
    let cache = JwksCache::new(
        uri,
        crate::common::client(),
        std::time::Duration::from_secs(5),
        clock.clone(),
    );
    let algorithms = ["ES256".to_owned()];
    let expected = Expectations {
        issuer: "https://idp.example.com",
        client_id: "backstage",
        nonce: Some("n-123"),
        algorithms: &algorithms,
        now_secs: now(),
    };

    let claims = verify(&cache, &key.token(&good_claims()), &expected)
        .await
        .expect("a good token");
    assert_eq!(claims["sub"], "alice");

    let with = |key: &str, value: Value| {
        let mut claims = good_claims();
        claims[key] = value;
        claims
    };
    let refusals: Vec<(&str, String)> = vec![
        (
            "wrong audience",
            key.token(&with("aud", json!("someone-else"))),
        ),
        (
            "wrong issuer",
            key.token(&with("iss", json!("https://evil.example.com"))),
        ),
        ("expired", key.token(&with("exp", json!(now() - 3600)))),
        (
            "issued in the future",
            key.token(&with("iat", json!(now() + 3600))),
        ),
        ("nonce mismatch", key.token(&with("nonce", json!("other")))),
        (
            "signed by an unknown key",
            Key::new("k1").token(&good_claims()),
        ),
        ("unknown kid", Key::new("k9").token(&good_claims())),
    ];
    for (case, token) in &refusals {
        assert!(
            verify(&cache, token, &expected).await.is_err(),
            "{case} must be refused"
        );
    }

    // A changed signature.
    let token = key.token(&good_claims());
    let mut tampered = token.clone().into_bytes();
    let index = token.rfind('.').unwrap() + 3;
    tampered[index] = if tampered[index] == b'A' { b'B' } else { b'A' };
    assert!(
        verify(&cache, std::str::from_utf8(&tampered).unwrap(), &expected)
            .await
            .is_err()
    );

    // alg none, and HMAC keyed with the public key (the classic confusion).
    let payload = URL_SAFE_NO_PAD.encode(good_claims().to_string());
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#)
    );
    assert!(
        verify(&cache, &none, &expected)
            .await
            .unwrap_err()
            .contains("none")
    );
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k1"}"#);
    let input = format!("{header}.{payload}");
    let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.jwk().to_string().as_bytes());
    let forged = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&hmac_key, input.as_bytes()).as_ref())
    );
    assert!(
        verify(&cache, &forged, &expected)
            .await
            .unwrap_err()
            .contains("HS256")
    );
    // An algorithm outside the allow-list, even with a valid signature.
    let rs_only = ["RS256".to_owned()];
    let strict = Expectations {
        algorithms: &rs_only,
        ..expected
    };
    assert!(
        verify(&cache, &key.token(&good_claims()), &strict)
            .await
            .unwrap_err()
            .contains("not allowed")
    );

    // Unknown kids re-fetch the JWKS, but not more than once per interval.
    let fetches = hits.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..20 {
        let _ = verify(
            &cache,
            &Key::new("k-flood").token(&good_claims()),
            &expected,
        )
        .await;
    }
    assert!(
        hits.load(std::sync::atomic::Ordering::SeqCst) - fetches <= 1,
        "a flood of unknown kids is not a flood of fetches"
    );
}

#[tokio::test]
async fn a_key_the_idp_adds_later_is_found_by_refetching() {
    let old = Key::new("old");
    let new = Key::new("new");
    let (uri, hits, keys) = changeable_jwks_server(vec![old.jwk()]).await;
    let clock = Arc::new(ManualClock::starting_now());
    let cache = JwksCache::new(
        uri,
        crate::common::client(),
        std::time::Duration::from_secs(5),
        clock.clone(),
    );
    let algorithms = ["ES256".to_owned()];
    let expected = Expectations {
        issuer: "https://idp.example.com",
        client_id: "backstage",
        nonce: None,
        algorithms: &algorithms,
        now_secs: now(),
    };
    verify(&cache, &old.token(&good_claims()), &expected)
        .await
        .unwrap();
    verify(&cache, &old.token(&good_claims()), &expected)
        .await
        .unwrap();
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "cached");
    // The IdP rotates: the new kid is unknown to the cache, which refetches (once the
    // minimum interval since the last fetch has passed).
    keys.lock().unwrap().push(new.jwk());
    clock.advance_seconds(1);
    verify(&cache, &new.token(&good_claims()), &expected)
        .await
        .expect("the new key is fetched");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    verify(&cache, &old.token(&good_claims()), &expected)
        .await
        .expect("the old key still verifies");
}
