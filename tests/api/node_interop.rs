//! Interoperability with the real Backstage backend: a Node backend (catalog only, no auth
//! plugin, `tests/node-backstage/`) whose discovery points `auth` at stagedoor must accept
//! stagedoor's tokens and refuse forged, expired and foreign ones. The limited token rebuilt
//! from `uip` is checked with `jose`, the library Backstage verifies with.
//! Needs `tests/node-backstage/setup.sh` to have run (the README's test command does it).

use crate::common::node::NodeBackend;
use crate::common::{TestServer, jose};
use stagedoor::clock::Clock;

async fn catalog_status(backend: &NodeBackend, token: &str) -> u16 {
    crate::common::client()
        .get(format!(
            "{}/api/catalog/entities/by-name/user/default/alice",
            backend.base
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Verifies `token` with jose against stagedoor's JWKS, in Node; returns the payload JSON.
async fn jose_verify(jwks_url: &str, token: &str) -> Result<serde_json::Value, String> {
    let script = r#"
const jose = require('jose');
const [url, token] = process.argv.slice(1);
jose.jwtVerify(token, jose.createRemoteJWKSet(new URL(url)), { algorithms: ['ES256'] })
  .then(r => { console.log(JSON.stringify({ header: r.protectedHeader, payload: r.payload })); })
  .catch(e => { console.error(e.code || e.message); process.exit(1); });
"#;
    // Async: the server under test runs on this test's runtime and must keep answering.
    NodeBackend::node_script(script, &[jwks_url, token]).await
}

#[tokio::test]
async fn backstage_user_info_service_reads_ownership_from_stagedoor() {
    let server = TestServer::start(&["auth:\n  providers:\n    guest:\n      ownershipEntityRefs: [user:development/guest, group:default/team-a]\n"]).await;
    let session = server.guest_session().await;
    let token = session["backstageIdentity"]["token"].as_str().unwrap();
    let expected = serde_json::json!({
        "userEntityRef": "user:development/guest",
        "ownershipEntityRefs": session["backstageIdentity"]["identity"]["ownershipEntityRefs"],
    });
    let base = server.server.base_url();
    assert_eq!(
        NodeBackend::user_info(&base, token)
            .await
            .expect("user token"),
        expected
    );
    let limited = jose::limited_token(token);
    assert_eq!(
        NodeBackend::user_info(&base, &limited)
            .await
            .expect("limited token"),
        expected
    );
}

#[tokio::test]
async fn the_real_backstage_catalog_accepts_stagedoor_tokens_and_refuses_bad_ones() {
    let server = TestServer::start(&[]).await;
    let backend = NodeBackend::start(&server.server.base_url(), None).await;

    let token = server.guest_token().await;
    assert_eq!(
        catalog_status(&backend, &token).await,
        200,
        "a guest token is accepted"
    );
    assert_eq!(
        catalog_status(&backend, &jose::tamper(&token)).await,
        401,
        "a changed signature is refused"
    );
    let foreign = jose::token_from_unknown_key(&jose::payload(&token));
    assert_eq!(
        catalog_status(&backend, &foreign).await,
        401,
        "a token from an unknown key is refused"
    );
    assert_eq!(catalog_status(&backend, "not-a-token").await, 401);

    // A token that expired an hour ago, signed by a key that is still published.
    let now = server.clock.now_millis();
    server.clock.set_millis(now - 2 * 3600 * 1000);
    let expired = server.guest_token().await;
    server.clock.set_millis(now);
    assert!(jose::payload(&expired)["exp"].as_i64().unwrap() < now / 1000);
    assert_eq!(
        catalog_status(&backend, &expired).await,
        401,
        "an expired token is refused"
    );
    assert_eq!(
        catalog_status(&backend, &server.guest_token().await).await,
        200,
        "a fresh one still works"
    );

    // Every backend rebuilds the limited token from uip; jose must accept it.
    let jwks_url = server.url("/.well-known/jwks.json");
    let verified = jose_verify(&jwks_url, &jose::limited_token(&token))
        .await
        .expect("limited token verifies in jose");
    assert_eq!(verified["header"]["typ"], "vnd.backstage.limited-user");
    assert_eq!(verified["payload"]["sub"], "user:development/guest");
    let verified = jose_verify(&jwks_url, &token)
        .await
        .expect("user token verifies in jose");
    assert_eq!(verified["payload"]["aud"], "backstage");
    assert!(
        jose_verify(&jwks_url, &jose::tamper(&jose::limited_token(&token)))
            .await
            .is_err()
    );
}
