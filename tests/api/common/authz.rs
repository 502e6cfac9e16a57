//! The authorization server under test: a config with Node's flags on (as the captures'
//! `dev` boot), and the steps of the authorization code flow as a client and the consent
//! page take them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::TestServer;
pub use super::authz_hosts::{DOC_REDIRECT, DocHost, FakeCatalog};

/// The CLI's client id for the base config's external URL.
pub const CLI_CLIENT_ID: &str = "http://localhost:7007/api/auth/.well-known/oauth-client/cli.json";
pub const CLI_REDIRECT: &str = "http://127.0.0.1:41234/callback";
pub const VERIFIER: &str = "a-code-verifier-of-at-least-43-characters-0123456789";

/// Node's flags as in the `dev` captures: DCR, CIMD (documents on `doc_base`), refresh tokens
/// (3 per user), 20-minute tokens, development mode; the guest is alice, the catalog `catalog`.
pub fn config(doc_base: &str, catalog: &str) -> String {
    format!(
        r#"
auth:
  backstageTokenExpiration: {{ minutes: 20 }}
  providers:
    guest:
      userEntityRef: user:default/alice
      dangerouslyAllowOutsideDevelopment: true
  experimentalDynamicClientRegistration: {{ enabled: true }}
  clientIdMetadataDocuments:
    enabled: true
    allowedClientIdPatterns: ['{doc_base}/*', 'https://claude.ai/*']
  experimentalRefreshToken: {{ enabled: true, maxTokensPerUser: 3 }}
stagedoor:
  development: true
  catalog: {{ baseUrl: "{catalog}", cacheTtl: 0s }}
"#
    )
}

/// A server with the flags on, its document host and its catalog.
pub struct Authz {
    pub server: TestServer,
    pub docs: std::sync::Arc<DocHost>,
    pub catalog: std::sync::Arc<FakeCatalog>,
    overrides: Vec<String>,
}

impl Authz {
    pub async fn start(extra: &[&str]) -> Self {
        let docs = std::sync::Arc::new(DocHost::start().await);
        let catalog = std::sync::Arc::new(FakeCatalog::start().await);
        let mut overrides = vec![config(&docs.base, &catalog.base_url)];
        overrides.extend(extra.iter().map(|text| (*text).to_owned()));
        let borrowed: Vec<&str> = overrides.iter().map(String::as_str).collect();
        let server = TestServer::start(&borrowed).await;
        Self {
            server,
            docs,
            catalog,
            overrides,
        }
    }

    /// Another server with the same configuration, document host and catalog (a replica,
    /// when the configuration names a shared database).
    pub async fn replica(&self) -> Self {
        let borrowed: Vec<&str> = self.overrides.iter().map(String::as_str).collect();
        Self {
            server: TestServer::start(&borrowed).await,
            docs: self.docs.clone(),
            catalog: self.catalog.clone(),
            overrides: self.overrides.clone(),
        }
    }

    /// A full user token for alice (guest sign-in), what the consent page sends.
    pub async fn user_token(&self) -> String {
        self.server.guest_token().await
    }

    /// `GET /v1/authorize` with `params`.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        self.server.get(&format!("/v1/authorize?{query}")).await
    }

    /// Authorizes and returns the consent session's id (asserting the redirect).
    pub async fn session(&self, params: &[(&str, &str)]) -> String {
        let response = self.authorize(params).await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        assert_eq!(status, 302, "{body}");
        let location = location.expect("a Location header");
        let id = location
            .strip_prefix("http://localhost:3000/oauth2/authorize/")
            .unwrap_or_else(|| panic!("consent page URL: {location}"));
        assert_eq!(body, format!("Found. Redirecting to {location}"));
        id.to_owned()
    }

    /// `POST /v1/sessions/{id}/{decision}` with `token`; status and body.
    pub async fn decide(&self, id: &str, decision: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self
            .server
            .http
            .post(self.server.url(&format!("/v1/sessions/{id}/{decision}")))
            .header("content-type", "application/json")
            .body("{}");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Approves as alice and returns the code.
    pub async fn approve(&self, id: &str) -> String {
        let token = self.user_token().await;
        let (status, body) = self.decide(id, "approve", Some(&token)).await;
        assert_eq!(status, 200, "{body}");
        code_of(body["redirectUrl"].as_str().unwrap())
    }

    /// `POST /v1/token` with a form body (and Basic credentials if given).
    pub async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
        let mut request = self
            .server
            .http
            .post(self.server.url("/v1/token"))
            .form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /v1/token` with a JSON body, as the CLI sends it.
    pub async fn token_json(&self, body: Value) -> (u16, Value) {
        let response = self
            .server
            .http
            .post(self.server.url("/v1/token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The CLI's login up to its tokens: authorize with PKCE, approve, exchange the code.
    pub async fn cli_login(&self) -> Value {
        let id = self.session(&pairs(&cli_params(CLI_REDIRECT))).await;
        let code = self.approve(&id).await;
        let (status, body) = self
            .token_json(json!({
                "grant_type": "authorization_code", "code": code, "redirect_uri": CLI_REDIRECT,
                "code_verifier": VERIFIER, "client_id": CLI_CLIENT_ID,
            }))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The CLI's refresh: JSON, no client id.
    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token_json(json!({"grant_type": "refresh_token", "refresh_token": refresh_token}))
            .await
    }

    /// Registers a DCR client with one redirect URI: (client_id, client_secret).
    pub async fn register(&self, name: &str, redirect: &str) -> (String, String) {
        let response = self
            .server
            .http
            .post(self.server.url("/v1/register"))
            .json(&json!({"client_name": name, "redirect_uris": [redirect]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        (
            body["client_id"].as_str().unwrap().to_owned(),
            body["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// `POST /v1/revoke` (form) with Basic credentials or a body client id.
    pub async fn revoke(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> u16 {
        let mut request = self
            .server
            .http
            .post(self.server.url("/v1/revoke"))
            .form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        request.send().await.unwrap().status().as_u16()
    }
}

/// The CLI's authorization parameters (S256 PKCE, offline access).
pub fn cli_params(redirect: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", CLI_CLIENT_ID.to_owned()),
        ("redirect_uri", redirect.to_owned()),
        ("response_type", "code".to_owned()),
        ("scope", "openid offline_access".to_owned()),
        ("state", "st-cli".to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ]
}

/// Borrowed pairs for [`Authz::authorize`].
pub fn pairs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// The `code` parameter of a redirect URL.
pub fn code_of(redirect_url: &str) -> String {
    url::Url::parse(redirect_url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("no code in {redirect_url}"))
}

/// Asserts an OAuth error body.
pub fn assert_oauth(status: u16, body: &Value, expected: (u16, &str, &str)) {
    assert_eq!(status, expected.0, "{body}");
    assert_eq!(body["error"], expected.1, "{body}");
    assert_eq!(body["error_description"], expected.2, "{body}");
}
