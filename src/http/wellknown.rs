//! `/.well-known/*` documents (§3.6, §3.7, §3.9).

use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use super::error::json_bytes_response;

#[derive(Serialize)]
struct OpenIdConfiguration<'a> {
    issuer: &'a str,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    response_types_supported: [&'static str; 2],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 10],
    scopes_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    claims_supported: [&'static str; 2],
    grant_types_supported: Vec<&'static str>,
    authorization_endpoint: String,
    code_challenge_methods_supported: [&'static str; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id_metadata_document_supported: Option<bool>,
}

/// What the authorization server offers, for the fields of the discovery document that
/// depend on it (§3.7): refresh tokens (`auth.experimentalRefreshToken`), Dynamic Client
/// Registration, Client ID Metadata Documents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthorizationServerFeatures {
    pub refresh_tokens: bool,
    pub dynamic_registration: bool,
    pub metadata_documents: bool,
}

/// The discovery document, rendered once at start-up (field order as Node's).
pub fn openid_configuration(base: &str, features: AuthorizationServerFeatures) -> Bytes {
    let with = |on: bool, value: &'static str| on.then_some(value);
    let AuthorizationServerFeatures {
        refresh_tokens,
        dynamic_registration,
        metadata_documents,
    } = features;
    let document = OpenIdConfiguration {
        issuer: base,
        token_endpoint: format!("{base}/v1/token"),
        userinfo_endpoint: format!("{base}/v1/userinfo"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        response_types_supported: ["code", "id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: [
            "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
            "EdDSA",
        ],
        scopes_supported: ["openid"]
            .into_iter()
            .chain(with(refresh_tokens, "offline_access"))
            .collect(),
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"]
            .into_iter()
            .chain(with(metadata_documents, "none"))
            .collect(),
        claims_supported: ["sub", "ent"],
        grant_types_supported: ["authorization_code"]
            .into_iter()
            .chain(with(refresh_tokens, "refresh_token"))
            .collect(),
        authorization_endpoint: format!("{base}/v1/authorize"),
        code_challenge_methods_supported: ["S256", "plain"],
        registration_endpoint: dynamic_registration.then(|| format!("{base}/v1/register")),
        revocation_endpoint: (dynamic_registration || metadata_documents)
            .then(|| format!("{base}/v1/revoke")),
        client_id_metadata_document_supported: metadata_documents.then_some(true),
    };
    serde_json::to_vec(&document)
        .map(Bytes::from)
        .unwrap_or_default()
}

pub fn json_document(body: Bytes) -> Response {
    json_bytes_response(StatusCode::OK, body)
}
