//! `POST /v1/revoke` (RFC 7009). The client authenticates as in Node: a registered client
//! with its secret, a metadata document client by its id (when its URL is accepted; the
//! document is not fetched). Then, stricter than Node (which deletes whatever session the
//! token's prefix names): only the whole current refresh token of a session issued to this
//! client ends it. Anything else changes nothing; the answer is 200 with an empty body either
//! way (RFC 7009 §2.2). Access tokens are not recalled: they live until their `exp`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

use super::AuthorizationServer;
use super::credentials::{PresentedClient, authenticate_registered};
use super::error::OidcError;
use super::events::{Kind, Recorder};
use super::offline::{self, Revoked};
use super::validation::Checks;
use crate::error::Error;
use crate::http::AppState;
use crate::http::token::read_params;

pub async fn revoke(
    server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
    body: Body,
) -> Result<Response, Error> {
    let params = match read_params(parts, body).await {
        Ok(params) => params,
        Err(response) => return Ok(response),
    };
    let recorder = Recorder::new(state, parts);
    let mut event = recorder.event(Kind::Revoke);
    let mut checks = Checks::default();
    let token = checks.required("token", params.param("token"));
    checks.optional("token_type_hint", params.param("token_type_hint"));
    let client_id = checks.optional("client_id", params.param("client_id"));
    let client_secret = checks.optional("client_secret", params.param("client_secret"));
    let checked = checks.finish().map(|()| token.unwrap_or_default());
    let client = PresentedClient::read(
        &parts.headers,
        client_id.as_deref(),
        client_secret.as_deref(),
    );
    event.subject.clone_from(&client.id);
    let result = match checked {
        Ok(token) => revoke_token(server, state, &client, &token).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(Revoked::Session(session)) => {
            let event = event.user(&session.user_entity_ref).success();
            recorder.record(
                Kind::Revoke,
                event.reason(format!("offline session {} ended", session.id)),
            );
            Ok(empty_ok())
        }
        Ok(Revoked::Nothing(why)) => {
            recorder.record(
                Kind::Revoke,
                event.failure(format!("nothing revoked: {why}")),
            );
            Ok(empty_ok())
        }
        Err(error) => {
            recorder.record(Kind::Revoke, event.failure(error.reason()));
            Ok(error.into_response())
        }
    }
}

async fn revoke_token(
    server: &AuthorizationServer,
    state: &AppState,
    client: &PresentedClient,
    token: &str,
) -> Result<Revoked, OidcError> {
    let Some(client_id) = client.id.as_deref() else {
        return Err(OidcError::invalid_client("Client authentication required"));
    };
    if !server.is_document_client(client_id) {
        let Some(secret) = client.secret.as_deref() else {
            return Err(OidcError::invalid_client("Invalid client credentials"));
        };
        authenticate_registered(&state.store, client_id, secret).await?;
    }
    if server.settings.refresh_tokens.is_none() {
        return Ok(Revoked::Nothing("refresh tokens are not enabled"));
    }
    Ok(offline::revoke(&state.store, token, client_id).await?)
}

/// Node's `res.status(200).send("")`.
fn empty_ok() -> Response {
    let mut response = (StatusCode::OK, "").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
