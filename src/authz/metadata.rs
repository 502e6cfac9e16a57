//! Metadata documents: the built-in CLI client's (`/.well-known/oauth-client/cli.json`, §3.9)
//! and the authorization server's own at the RFC 8414 URLs an MCP client asks first.
//!
//! For an issuer with a path (`https://host/api/auth`) the MCP SDK asks, in order,
//! `https://host/.well-known/oauth-authorization-server/api/auth`,
//! `https://host/.well-known/openid-configuration/api/auth`, then
//! `https://host/api/auth/.well-known/openid-configuration` (the only one Node answers). The
//! first two are served at stagedoor's root (the ingress routes them here) with the same
//! document as the third.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::AuthorizationServer;
use crate::error::Error;
use crate::http::error::json_response;
use crate::http::{Mount, Route, is, json_document};

/// The CLI's document, as Node serves it.
pub fn cli_client_document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "Backstage CLI",
        "redirect_uris": ["http://127.0.0.1:8055/callback"],
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid offline_access",
    })
}

/// `GET /.well-known/oauth-client/cli.json`: the document while metadata documents are on,
/// else Node's 404 in OAuth's shape.
pub fn cli_json(server: Option<&AuthorizationServer>) -> Response {
    match server.filter(|server| server.settings.metadata_documents.is_some()) {
        Some(server) => json_response(StatusCode::OK, &cli_client_document(&server.cli_client_id)),
        None => json_response(
            StatusCode::NOT_FOUND,
            &json!({
                "error": "not_found",
                "error_description": "Client ID metadata documents not enabled",
            }),
        ),
    }
}

/// `/.well-known/oauth-authorization-server{issuer path}` and
/// `/.well-known/openid-configuration{issuer path}`, while the authorization server is on.
pub fn root_route() -> Route {
    Route {
        mount: Mount::Root,
        claims: |state, segments| {
            let Some(server) = state.features.get::<AuthorizationServer>() else {
                return false;
            };
            let [first, second, rest @ ..] = segments else {
                return false;
            };
            is(first, ".well-known")
                && (is(second, "oauth-authorization-server") || is(second, "openid-configuration"))
                && rest.len() == server.issuer_path.len()
                && rest.iter().zip(&server.issuer_path).all(|(a, b)| a == b)
        },
        handle: |state, parts, segments, _body| {
            Box::pin(async move {
                let get = parts.method == http::Method::GET || parts.method == http::Method::HEAD;
                if !get {
                    return Err(Error::not_found(format!(
                        "No route {} /{}",
                        parts.method,
                        segments.join("/")
                    )));
                }
                Ok(json_document(state.openid_configuration.clone()))
            })
        },
    }
}
