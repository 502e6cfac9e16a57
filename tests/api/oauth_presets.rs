//! The okta, onelogin, auth0 and oauth2 presets: the authorize URLs and parameters each
//! produces (§11.2–11.5), and full sign-ins against the real OpenID Provider shaped like each
//! IdP where its shape allows (Auth0 needs https, so only its URLs are checked).

use crate::common::browser::Browser;
use crate::common::idp::Idp;
use crate::common::{TestServer, jose};
use serde_json::json;

const ORIGIN: &str = "origin=http%3A%2F%2Flocalhost%3A3000&flow=popup&env=development";

async fn location(server: &TestServer, path: &str) -> String {
    let response = server.get(path).await;
    assert_eq!(
        response.status(),
        302,
        "{path}: {}",
        response.text().await.unwrap()
    );
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn query(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

#[tokio::test]
async fn each_preset_sends_the_browser_where_its_idp_expects() {
    let server = TestServer::start(&[r#"
auth:
  providers:
    okta:
      development: { clientId: okta-id, clientSecret: s, audience: 'https://example.okta.com', authServerId: default, idp: 0oa-social }
    onelogin:
      development: { clientId: ol-id, clientSecret: s, issuer: 'https://acme.onelogin.com/oidc/2' }
    auth0:
      development: { clientId: a0-id, clientSecret: s, domain: acme.eu.auth0.com, audience: 'https://api.acme', connection: github, connectionScope: 'read:org', federatedLogout: true }
    oauth2:
      development: { clientId: o2-id, clientSecret: s, authorizationUrl: 'https://auth.example.com/authorize?tenant=7', tokenUrl: 'https://auth.example.com/token', additionalScopes: [read] }
"#])
    .await;

    let okta = location(
        &server,
        &format!("/okta/start?scope=okta.users.read&{ORIGIN}"),
    )
    .await;
    assert!(
        okta.starts_with("https://example.okta.com/oauth2/default/v1/authorize?"),
        "{okta}"
    );
    assert_eq!(
        param(&okta, "scope").as_deref(),
        Some("okta.users.read openid email profile offline_access")
    );
    assert_eq!(param(&okta, "idp").as_deref(), Some("0oa-social"));
    assert_eq!(param(&okta, "client_id").as_deref(), Some("okta-id"));
    assert_eq!(
        param(&okta, "redirect_uri").as_deref(),
        Some("http://localhost:7007/api/auth/okta/handler/frame")
    );
    assert_eq!(
        param(&okta, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&okta, "prompt"), None);
    let state =
        stagedoor::signin::oauth::state::OAuthState::decode(&param(&okta, "state").unwrap())
            .unwrap();
    assert_eq!(state.scope, None, "okta does not persist scopes");

    let onelogin = location(
        &server,
        &format!("/onelogin/start?scope=profile%20email&{ORIGIN}"),
    )
    .await;
    assert!(
        onelogin.starts_with("https://acme.onelogin.com/oidc/2/auth?"),
        "{onelogin}"
    );
    assert_eq!(
        param(&onelogin, "scope").as_deref(),
        Some("openid"),
        "OneLogin always asks for openid only"
    );

    let auth0 = location(
        &server,
        &format!(
            "/auth0/start?scope=openid%20profile&organization=org_1&login_hint=a%40b.c&{ORIGIN}"
        ),
    )
    .await;
    assert!(
        auth0.starts_with("https://acme.eu.auth0.com/authorize?"),
        "{auth0}"
    );
    for (name, value) in [
        ("prompt", "consent"),
        ("audience", "https://api.acme"),
        ("connection", "github"),
        ("connection_scope", "read:org"),
        ("organization", "org_1"),
        ("login_hint", "a@b.c"),
        ("scope", "openid profile"),
    ] {
        assert_eq!(
            param(&auth0, name).as_deref(),
            Some(value),
            "{name} in {auth0}"
        );
    }

    let oauth2 = location(&server, &format!("/oauth2/start?scope=write&{ORIGIN}")).await;
    assert!(
        oauth2.starts_with("https://auth.example.com/authorize?tenant=7&"),
        "the configured query is kept: {oauth2}"
    );
    assert_eq!(param(&oauth2, "scope").as_deref(), Some("write read"));

    // Auth0 logout hands the browser Auth0's logout URL, federated first.
    let logout = server
        .http
        .post(server.url("/auth0/logout?env=development"))
        .header("x-requested-with", "XMLHttpRequest")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        logout.json::<serde_json::Value>().await.unwrap(),
        json!({"logoutUrl": "https://acme.eu.auth0.com/v2/logout?federated=&client_id=a0-id&returnTo=http%3A%2F%2Flocalhost%3A3000"})
    );
}

#[tokio::test]
async fn preset_configuration_errors_name_their_keys() {
    let error = stagedoor::config::load(
        &[
            stagedoor::config::Source::Text { name: "base.yaml".into(), yaml: crate::common::BASE_CONFIG.into() },
            stagedoor::config::Source::Text {
                name: "bad.yaml".into(),
                yaml: "auth:\n  providers:\n    okta:\n      development: { clientId: a, clientSecret: b, audience: example.okta.com }\n    auth0:\n      development: { clientId: a, clientSecret: b, domain: 'https://acme.auth0.com' }\n    oauth2:\n      development: { clientId: a, clientSecret: b, scope: x }\n    onelogin:\n      development: { clientSecret: b }\n".into(),
            },
        ],
        &|_| None,
    )
    .unwrap_err()
    .to_string();
    for expected in [
        "auth.providers.okta.development.audience: \"example.okta.com\" must start with https://",
        "auth.providers.auth0.development.domain: \"https://acme.auth0.com\" must be a host name",
        "auth.providers.oauth2.development.scope: The oauth2 provider no longer supports the \"scope\" configuration option.",
        "auth.providers.oauth2.development.authorizationUrl: is required",
        "auth.providers.onelogin.development.clientId: is required",
        "auth.providers.onelogin.development.issuer: is required",
    ] {
        assert!(error.contains(expected), "{expected:?} in:\n{error}");
    }
}

/// Signs in through `provider` at `idp`, logging in as alice; returns the popup message.
async fn sign_in(server: &TestServer, idp: &Idp, provider: &str) -> (Browser, serde_json::Value) {
    let mut browser = Browser::default();
    let start = browser
        .get(&server.url(&format!(
            "/{provider}/start?scope=openid%20profile%20email%20offline_access&{ORIGIN}"
        )))
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    let callback_prefix = format!("http://localhost:7007/api/auth/{provider}/handler/frame");
    let callback = idp
        .answer(
            &mut browser,
            &start.location().unwrap(),
            "login=alice@example.com",
            &callback_prefix,
        )
        .await;
    let page = browser
        .get(&callback.url.replacen(
            "http://localhost:7007/api/auth",
            &server.server.base_url(),
            1,
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    (browser, page.popup_message())
}

fn clients(method: &str, providers: &[&str]) -> serde_json::Value {
    json!([{
        "client_id": "backstage",
        "client_secret": "backstage-secret",
        "redirect_uris": providers.iter().map(|p| format!("http://localhost:7007/api/auth/{p}/handler/frame")).collect::<Vec<_>>(),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    }])
}

const RESOLVER: &str = "signIn: { resolvers: [{ resolver: emailMatchingUserEntityProfileEmail, dangerouslyAllowSignInWithoutUserInCatalog: true }] }";

#[tokio::test]
async fn okta_shaped_idp_full_sign_in_and_refresh() {
    let routes = r#"{"authorization":"/v1/authorize","token":"/v1/token","userinfo":"/v1/userinfo","jwks":"/v1/keys","revocation":"/v1/revoke"}"#;
    let idp = Idp::start_with(
        Some(&clients("client_secret_basic", &["okta"])),
        &[
            ("IDP_ISSUER_PATH", "/oauth2/default"),
            ("IDP_ROUTES", routes),
        ],
    )
    .await;
    let audience = idp.issuer.trim_end_matches("/oauth2/default").to_owned();
    let catalog = crate::common::empty_catalog().await;
    let server = TestServer::start(&[&format!(
        "stagedoor:\n  catalog: {{ baseUrl: '{catalog}' }}\nauth:\n  providers:\n    okta:\n      development: {{ clientId: backstage, clientSecret: backstage-secret, audience: '{audience}', authServerId: default, {RESOLVER} }}\n"
    )])
    .await;
    let (mut browser, message) = sign_in(&server, &idp, "okta").await;
    let response = &message["response"];
    assert_eq!(
        response["profile"]["email"], "alice@example.com",
        "{message}"
    );
    assert_eq!(response["profile"]["displayName"], "Alice Example");
    assert_eq!(
        response["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice@example.com"
    );
    assert_eq!(
        jose::payload(response["providerInfo"]["idToken"].as_str().unwrap())["iss"],
        idp.issuer.as_str()
    );

    let refresh = browser
        .request(
            reqwest::Method::GET,
            &server.url("/okta/refresh?optional&env=development"),
            &[("x-requested-with", "XMLHttpRequest")],
        )
        .await;
    assert_eq!(refresh.status, 200, "{}", refresh.body);
}

#[tokio::test]
async fn onelogin_and_generic_oauth2_shaped_idps_full_sign_in() {
    let idp = Idp::start_with(
        Some(&clients("client_secret_post", &["onelogin", "oauth2"])),
        &[("IDP_ROUTES", r#"{"jwks":"/certs"}"#)],
    )
    .await;
    let issuer = idp.issuer.clone();
    let catalog = crate::common::empty_catalog().await;
    let by_sub = "signIn: { resolvers: [{ resolver: userEntityRefFromClaims, template: '{sub}', dangerouslyAllowSignInWithoutUserInCatalog: true }] }";
    let server = TestServer::start(&[&format!(
        "stagedoor:\n  catalog: {{ baseUrl: '{catalog}' }}\nauth:\n  providers:\n    onelogin:\n      development: {{ clientId: backstage, clientSecret: backstage-secret, issuer: '{issuer}', {by_sub} }}\n    oauth2:\n      development: {{ clientId: backstage, clientSecret: backstage-secret, authorizationUrl: '{issuer}/auth', tokenUrl: '{issuer}/token', additionalScopes: [openid, email, profile, offline_access], {RESOLVER} }}\n"
    )])
    .await;
    // OneLogin asks for `openid` only, so this OP releases just `sub`: a claim template on it.
    let (_, onelogin) = sign_in(&server, &idp, "onelogin").await;
    assert_eq!(
        onelogin["response"]["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice",
        "{onelogin}"
    );
    assert_eq!(onelogin["response"]["providerInfo"]["scope"], "openid");

    // The generic provider has no userinfo: the profile comes from the ID token.
    let (mut browser, oauth2) = sign_in(&server, &idp, "oauth2").await;
    assert_eq!(
        oauth2["response"]["profile"]["email"], "alice@example.com",
        "{oauth2}"
    );
    assert_eq!(
        oauth2["response"]["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice@example.com"
    );
    let refresh = browser
        .request(
            reqwest::Method::GET,
            &server.url("/oauth2/refresh?optional&env=development"),
            &[("x-requested-with", "XMLHttpRequest")],
        )
        .await;
    assert_eq!(refresh.status, 200, "{}", refresh.body);
}

/// A token endpoint that records each request (Authorization header, form body).
async fn recording_token_endpoint() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, String)>>>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let authorization = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            record.lock().unwrap().push((authorization, body));
            async {
                (
                    [("content-type", "application/json")],
                    r#"{"access_token":"at-1","token_type":"bearer","expires_in":"3600"}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), seen)
}

#[tokio::test]
async fn the_generic_provider_authenticates_at_the_token_endpoint_as_configured() {
    let (base, seen) = recording_token_endpoint().await;
    for include in [false, true] {
        let server = TestServer::start(&[&format!(
            "auth:\n  providers:\n    oauth2:\n      development: {{ clientId: 'my id', clientSecret: 's3cret:x', authorizationUrl: '{base}/authorize', tokenUrl: '{base}/token', includeBasicAuth: {include} }}\n"
        )])
        .await;
        let mut browser = Browser::default();
        let start = browser
            .get(&server.url(&format!("/oauth2/start?{ORIGIN}")))
            .await;
        let state = param(&start.location().unwrap(), "state").unwrap();
        let page = browser
            .get(&server.url(&format!(
                "/oauth2/handler/frame?code=the-code&state={state}"
            )))
            .await;
        let message = page.popup_message();
        assert_eq!(
            message["response"]["providerInfo"],
            json!({"accessToken": "at-1", "scope": "", "expiresInSeconds": 3600}),
            "{message}"
        );
        assert!(
            message["response"].get("backstageIdentity").is_none(),
            "no resolver, no Backstage identity"
        );

        let (authorization, body) = seen.lock().unwrap().pop().expect("a token request");
        let form: std::collections::BTreeMap<String, String> =
            url::form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "the-code");
        assert_eq!(
            form["redirect_uri"],
            "http://localhost:7007/api/auth/oauth2/handler/frame"
        );
        assert!(form.contains_key("code_verifier"), "PKCE");
        assert_eq!(
            (form["client_id"].as_str(), form["client_secret"].as_str()),
            ("my id", "s3cret:x"),
            "credentials in the body"
        );
        let expected = include.then(|| {
            format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    "my+id:s3cret%3Ax"
                )
            )
        });
        assert_eq!(authorization, expected, "includeBasicAuth: {include}");
    }
}
