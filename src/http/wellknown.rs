//! `/.well-known/*` documents (§3.6, §3.7, §3.9).

use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use super::error::{json_bytes_response, json_response};

#[derive(Serialize)]
struct OpenIdConfiguration<'a> {
    issuer: &'a str,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    response_types_supported: [&'static str; 2],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 10],
    scopes_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    claims_supported: [&'static str; 2],
    grant_types_supported: [&'static str; 1],
    authorization_endpoint: String,
    code_challenge_methods_supported: [&'static str; 2],
}

/// The discovery document, rendered once at start-up (field order as Node's).
pub fn openid_configuration(base: &str) -> Bytes {
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
        scopes_supported: ["openid"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        claims_supported: ["sub", "ent"],
        grant_types_supported: ["authorization_code"],
        authorization_endpoint: format!("{base}/v1/authorize"),
        code_challenge_methods_supported: ["S256", "plain"],
    };
    serde_json::to_vec(&document)
        .map(Bytes::from)
        .unwrap_or_default()
}

pub fn json_document(body: Bytes) -> Response {
    json_bytes_response(StatusCode::OK, body)
}

#[derive(Serialize)]
struct OidcError {
    error: &'static str,
    error_description: &'static str,
}

/// Client ID metadata documents are not offered: answered in the OAuth error shape, as Node does.
pub fn cli_client_metadata() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &OidcError {
            error: "not_found",
            error_description: "Client ID metadata documents not enabled",
        },
    )
}
