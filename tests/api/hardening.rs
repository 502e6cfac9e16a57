//! Regression tests for the holes an attack review found (issue 17), each written from its
//! reproduction: callback open redirect, RFC 9207, userinfo about another subject, replayed
//! callbacks, deleted keys, token exchange client and type confusion, audit and forwarded
//! addresses, and risky settings. Connection limits and log injection: `hardening_server.rs`.

use crate::common::browser::{Browser, Page};
use crate::common::exchange::{Minter, exchange_json};
use crate::common::idp::Idp;
use crate::common::{TestServer, client};
use serde_json::{Value, json};
use stagedoor::clock::Clock;

/// An OIDC provider whose users need no catalog entry.
async fn oidc_server(idp: &Idp, extra: &str) -> TestServer {
    let catalog = crate::common::empty_catalog().await;
    let config = format!(
        r#"
auth:
  providers:
    oidc:
      development:
        metadataUrl: {}
        clientId: backstage
        clientSecret: backstage-secret
        prompt: consent
        signIn:
          resolvers:
            - resolver: userEntityRefFromClaims
              template: user:default/{{sub}}
              dangerouslyAllowSignInWithoutUserInCatalog: true
stagedoor:
  catalog: {{ baseUrl: "{catalog}" }}
"#,
        idp.discovery_url()
    );
    TestServer::start(&[&config, extra]).await
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn popup_error(page: &Page) -> String {
    assert_eq!(page.status, 200, "{}", page.body);
    page.popup_message()["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {}", page.body))
        .to_owned()
}

#[tokio::test]
async fn a_callback_error_never_redirects_off_the_allowed_origins() {
    let idp = Idp::start(None).await;
    let server = oidc_server(&idp, "").await;
    for target in [
        "https://evil.example/phish",
        "javascript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
    ] {
        let state = hex(&format!(
            "nonce=x&env=development&flow=redirect&redirectUrl={}",
            urlencode(target)
        ));
        let response = server
            .get(&format!("/oidc/handler/frame?state={state}"))
            .await;
        assert_eq!(response.status(), 200, "{target}: no redirect");
        assert!(response.headers().get("location").is_none(), "{target}");
        let page = Page {
            status: 200,
            headers: response.headers().clone(),
            url: String::new(),
            body: response.text().await.unwrap(),
        };
        assert_eq!(popup_error(&page), "Auth response is missing cookie nonce");
        assert_eq!(page.popup_target_origin(), "http://localhost:3000");
    }
    // An allowed redirect URL still gets the error as Node sends it.
    let state = hex(
        "nonce=x&env=development&flow=redirect&redirectUrl=http%3A%2F%2Flocalhost%3A3000%2Fcatalog%3Fa%3D1",
    );
    let response = server
        .get(&format!("/oidc/handler/frame?state={state}"))
        .await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "http://localhost:3000/catalog?a=1&error=Auth+response+is+missing+cookie+nonce"
    );
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn an_idp_that_promises_iss_must_send_it() {
    let idp = Idp::start(None).await;
    let discovery = crate::common::get_json(&idp.discovery_url()).await;
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    let server = oidc_server(&idp, "").await;
    let mut browser = Browser::default();
    let callback = idp
        .callback_url(
            &mut browser,
            &server.server.base_url(),
            "login=alice@example.com",
        )
        .await;
    let mut url = reqwest::Url::parse(&callback).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let message = popup_error(&browser.get(url.as_str()).await);
    assert!(
        message
            .starts_with("Authentication failed, the authorization response has no iss parameter"),
        "{message}"
    );
}

#[tokio::test]
async fn userinfo_about_another_subject_is_refused() {
    let idp = Idp::start_with(None, &[("IDP_USERINFO_SUB", "mallory")]).await;
    let server = oidc_server(&idp, "").await;
    let mut browser = Browser::default();
    let callback = idp
        .callback_url(
            &mut browser,
            &server.server.base_url(),
            "login=alice@example.com",
        )
        .await;
    let message = popup_error(&browser.get(&callback).await);
    assert_eq!(
        message,
        "The IdP's userinfo response is for subject 'mallory', but its ID token is for 'alice' (OpenID Connect Core 5.3.2)"
    );
}

#[tokio::test]
async fn a_replayed_callback_fails_without_the_idp_and_the_session_survives() {
    let idp = Idp::start(None).await;
    let server = oidc_server(&idp, "").await;
    let mut browser = Browser::default();
    let callback = idp
        .callback_url(
            &mut browser,
            &server.server.base_url(),
            "login=alice@example.com",
        )
        .await;
    let first = browser.get(&callback).await;
    assert!(
        first.popup_message()["response"].is_object(),
        "{}",
        first.body
    );
    let spent: Vec<String> = first
        .set_cookies()
        .into_iter()
        .filter(|cookie| cookie.starts_with("oidc-nonce=;") || cookie.starts_with("oidc-flow=;"))
        .collect();
    assert_eq!(spent.len(), 2, "nonce and flow cookies cleared: {spent:?}");
    assert!(
        spent
            .iter()
            .all(|c| c.contains("Max-Age=0") && c.contains("Path=/api/auth/oidc/handler"))
    );
    assert_eq!(
        popup_error(&browser.get(&callback).await),
        "Auth response is missing cookie nonce"
    );
    let refresh = browser
        .request(
            reqwest::Method::GET,
            &server.url("/oidc/refresh?optional&env=development"),
            &[("x-requested-with", "XMLHttpRequest")],
        )
        .await;
    assert_eq!(
        refresh.status, 200,
        "the first sign-in's tokens still work: {}",
        refresh.body
    );
}

#[tokio::test]
async fn a_key_deleted_from_the_store_stops_verifying_within_the_cache_period() {
    let server = TestServer::start(&[]).await;
    let token = server.guest_token().await;
    let userinfo = |token: String| {
        let url = server.url("/v1/userinfo");
        async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(token.clone()).await, 200);
    let kid = crate::common::jose::header(&token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = server.server.state();
    let deleted = state
        .store
        .delete_keys_created_before(stagedoor::store::KeySet::User, i64::MAX)
        .await
        .unwrap();
    assert_eq!(deleted, 1, "{kid}");
    server.clock.set_millis(server.clock.now_millis() + 600);
    assert_eq!(userinfo(token).await, 401);
}

/// A token exchange set-up with `minter` as the trusted issuer, clients `ci` and `7`.
async fn exchange_server(minter: &Minter) -> TestServer {
    TestServer::start(&[&format!(
        r#"
stagedoor:
  tokenExchange:
    issuers:
      - issuer: {}
        jwksUrl: {}
        algorithms: [ES256]
        audiences: [api://backstage]
        clients: [ci, "7"]
        userEntityRef: user:default/bot-{{client_id}}
"#,
        minter.base,
        minter.jwks_url()
    )])
    .await
}

#[tokio::test]
async fn token_exchange_reads_one_client_and_checks_the_token_type() {
    let minter = Minter::start("k1").await;
    let server = exchange_server(&minter).await;
    let now = server.clock.now_seconds();
    let claims = |extra: Value| {
        let mut claims = json!({"iss": minter.base, "aud": "api://backstage", "sub": "x", "iat": now, "exp": now + 300});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    // A numeric client_id was skipped for azp: the allow-list saw "ci", the template 7.
    let (status, body) = exchange_json(
        &server,
        &minter.sign(&claims(json!({"client_id": 7, "azp": "ci"}))),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    // The identity names the client the allow-list admitted.
    let (status, body) = exchange_json(
        &server,
        &minter.sign(&claims(json!({"azp": "ci", "client_id": "ci"}))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        crate::common::jose::payload(token)["sub"],
        "user:default/bot-ci"
    );

    // An access token (typ at+jwt, or scoped) is not an ID token.
    let at = minter.sign_with_typ("at+jwt", &claims(json!({"client_id": "ci"})));
    let as_id_token =
        crate::common::exchange::form_typed(&at, "urn:ietf:params:oauth:token-type:id_token");
    let response = crate::common::exchange::exchange(&server, &as_id_token).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    let scoped = minter.sign(&claims(json!({"client_id": "ci", "scope": "read"})));
    let response = crate::common::exchange::exchange(
        &server,
        &crate::common::exchange::form_typed(&scoped, "urn:ietf:params:oauth:token-type:id_token"),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        exchange_json(&server, &at).await.0,
        200,
        "as an access token it is fine"
    );
}

#[test]
fn risky_settings_stop_start_up_naming_the_key() {
    let refused = |yaml: &str| {
        let sources = [
            stagedoor::config::Source::Text {
                name: "base.yaml".into(),
                yaml: crate::common::BASE_CONFIG.into(),
            },
            stagedoor::config::Source::Text {
                name: "risky.yaml".into(),
                yaml: yaml.into(),
            },
        ];
        match stagedoor::config::load(&sources, &|_| None) {
            Ok(_) => panic!("accepted: {yaml}"),
            Err(error) => error.to_string(),
        }
    };
    let cases = [
        (
            "auth:\n  environment: production\nstagedoor:\n  development: true\n",
            "stagedoor.development: is true while auth.environment is production",
        ),
        (
            "auth:\n  experimentalExtraAllowedOrigins: ['https://*']\n",
            "auth.experimentalExtraAllowedOrigins.0: \"https://*\" allows any site",
        ),
        (
            "auth:\n  experimentalExtraAllowedOrigins: ['https://ok.example.com', 'https://*.com']\n",
            "auth.experimentalExtraAllowedOrigins.1:",
        ),
        (
            "stagedoor:\n  tokenExchange:\n    issuers:\n      - { issuer: 'http://idp.example.com', audiences: [a], clients: [c], userEntityRef: 'user:default/c' }\n",
            "stagedoor.tokenExchange.issuers.0.issuer: \"http://idp.example.com\" is plain http",
        ),
        (
            &format!(
                "stagedoor:\n  admin: {{ tokens: ['{}'] }}\n",
                "a".repeat(40)
            ),
            "stagedoor.admin.tokens.0: is long enough but barely random",
        ),
        (
            &format!(
                "stagedoor:\n  sessions: {{ enabled: true, secret: '{}' }}\n",
                "ab".repeat(20)
            ),
            "stagedoor.sessions.secret: is long enough but barely random",
        ),
    ];
    for (yaml, expected) in cases {
        let message = refused(yaml);
        assert!(message.contains(expected), "{yaml}\n{message}");
    }
    // Plain http to this machine stays allowed (tests, sidecars), as does development.
    let sources = |yaml: &str| {
        [
            stagedoor::config::Source::Text {
                name: "base.yaml".into(),
                yaml: crate::common::BASE_CONFIG.into(),
            },
            stagedoor::config::Source::Text {
                name: "ok.yaml".into(),
                yaml: yaml.into(),
            },
        ]
    };
    for yaml in [
        "stagedoor:\n  tokenExchange:\n    issuers:\n      - { issuer: 'http://127.0.0.1:9000', audiences: [a], clients: [c], userEntityRef: 'user:default/c' }\n",
        "stagedoor:\n  development: true\n  tokenExchange:\n    issuers:\n      - { issuer: 'http://idp.example.com', audiences: [a], clients: [c], userEntityRef: 'user:default/c' }\n",
    ] {
        assert!(
            stagedoor::config::load(&sources(yaml), &|_| None).is_ok(),
            "{yaml}"
        );
    }
}
