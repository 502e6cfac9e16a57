//! Token exchange helpers: machine clients of the test IdP and their client-credentials
//! tokens, the exchange request, and a key of the test's own (served as a JWKS) for tokens
//! the IdP would never issue: expired, future, unsigned, forged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use super::TestServer;
use super::idp::Idp;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// oidc-provider metadata for machine clients (client-credentials only); the secret of
/// client `x` is `x-secret`.
pub fn machine_clients(ids: &[&str]) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| {
                json!({
                    "client_id": id,
                    "client_secret": format!("{id}-secret"),
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "redirect_uris": [],
                    "token_endpoint_auth_method": "client_secret_basic",
                })
            })
            .collect(),
    )
}

/// A client-credentials access token (a JWT, `typ: at+jwt`) for `client`, optionally for
/// another `resource` (its `aud`) than the IdP's default.
pub async fn client_credentials(idp: &Idp, client: &str, resource: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(resource) = resource {
        form.push(("resource", resource));
    }
    let response = super::client()
        .post(format!("{}/token", idp.issuer))
        .basic_auth(client, Some(format!("{client}-secret")))
        .form(&form)
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let body: Value = response.json().await.expect("token response");
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// The form of a plain exchange of `token` (an access token).
pub fn form(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", GRANT_TYPE.to_owned()),
        ("subject_token", token.to_owned()),
        ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
    ]
}

/// The form of an exchange of `token` sent as `subject_token_type`.
pub fn form_typed(token: &str, subject_token_type: &str) -> Vec<(&'static str, String)> {
    let mut form = form(token);
    form[2].1 = subject_token_type.to_owned();
    form
}

pub async fn exchange(server: &TestServer, form: &[(&str, String)]) -> reqwest::Response {
    server
        .http
        .post(server.url("/v1/token"))
        .form(form)
        .send()
        .await
        .expect("exchange request")
}

/// The status and the JSON body of an exchange.
pub async fn exchange_json(server: &TestServer, token: &str) -> (u16, Value) {
    let response = exchange(server, &form(token)).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

/// Asserts an RFC 6749 error: status, `error`, and a part of `error_description`.
#[track_caller]
pub fn assert_oauth_error(status: u16, body: &Value, expected: (u16, &str, &str)) {
    assert_eq!(status, expected.0, "{body}");
    assert_eq!(body["error"], expected.1, "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(expected.2),
        "expected {:?} in {description:?}",
        expected.2
    );
}

/// An ES256 key of the test, published at `{base}/jwks` (and at
/// `{base}/.backstage/auth/v1/jwks.json`, as a plugin's service-token keys) with a discovery
/// document at `{base}/.well-known/openid-configuration` (naming `base` as its issuer).
pub struct Minter {
    pkcs8: Vec<u8>,
    pub kid: String,
    pub base: String,
}

impl Minter {
    pub async fn start(kid: &str) -> Self {
        let pkcs8 = new_key();
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .expect("key pair");
        let point = pair.public_key().as_ref();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }]});
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let discovery = json!({"issuer": base, "jwks_uri": format!("{base}/jwks")});
        let json = |value: Value| {
            let body = value.to_string();
            axum::routing::get(
                move || async move { ([("content-type", "application/json")], body) },
            )
        };
        let app = axum::Router::new()
            .route("/jwks", json(jwks.clone()))
            // Where a Backstage plugin publishes its service-token keys.
            .route("/.backstage/auth/v1/jwks.json", json(jwks))
            .route("/.well-known/openid-configuration", json(discovery));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            pkcs8,
            kid: kid.to_owned(),
            base,
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    /// `claims` signed with this key (ES256, this kid).
    pub fn sign(&self, claims: &Value) -> String {
        sign_es256(&self.pkcs8, &self.kid, claims)
    }

    /// The same, with a `typ` header (`at+jwt` for an RFC 9068 access token).
    pub fn sign_with_typ(&self, typ: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8)).expect("sign")
    }
}

pub fn new_key() -> Vec<u8> {
    let rng = ring::rand::SystemRandom::new();
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("key")
        .as_ref()
        .to_vec()
}

pub fn sign_es256(pkcs8: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(pkcs8)).expect("sign")
}

/// An unsigned token (`alg: none`, empty signature).
pub fn unsigned(claims: &Value) -> String {
    let encode = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.",
        encode(json!({"alg": "none", "typ": "JWT"})),
        encode(claims.clone())
    )
}

/// A token signed with a shared secret (HS256), as an attacker who knows no private key can.
pub fn hmac_signed(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(b"anyone-can-make-this-secret"),
    )
    .expect("sign")
}
