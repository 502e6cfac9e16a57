//! The `refresh_token` grant: rotates the offline session's token and issues an access
//! token. Client credentials are checked if presented, and a presented client must be the
//! session's. Beyond Node: a rotated-out token ends the whole session (RFC 9700 §4.14), and a
//! catalog that cannot answer the presence check is 503, not `invalid_grant`.

use axum::response::Response;
use http::request::Parts;
use serde_json::{Value, json};

use super::AuthorizationServer;
use super::credentials::authenticate_registered;
use super::error::OidcError;
use super::events::{Kind, Recorder};
use super::grant::{access_token, finish, read_params};
use super::offline::{self, Refused};
use crate::audit::AuditEvent;
use crate::entity_ref::EntityRef;
use crate::http::error::store_error;
use crate::http::{AppState, TokenRequest};

pub(super) async fn refresh_grant(
    server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
    request: &TokenRequest,
) -> Response {
    let recorder = Recorder::new(state, parts);
    let mut event = recorder.event(Kind::Refresh);
    let result = refresh(server, state, parts, request, &mut event).await;
    let result = match result {
        Ok(body) => Ok(body),
        Err(Refused::Error(error)) => Err(error),
        Err(Refused::Reuse(session)) => {
            let reuse = recorder
                .event(Kind::RefreshReuse)
                .user(&session.user_entity_ref)
                .subject(session.client_id.clone())
                .failure(format!(
                    "a rotated-out refresh token was presented; offline session {} revoked",
                    session.id
                ));
            recorder.record(Kind::RefreshReuse, reuse);
            Err(OidcError::invalid_grant(
                "Refresh token was already used; the offline session is revoked",
            ))
        }
    };
    finish(&recorder, Kind::Refresh, event, result)
}

async fn refresh(
    server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
    request: &TokenRequest,
    event: &mut AuditEvent,
) -> Result<Value, Refused> {
    let Some(settings) = &server.settings.refresh_tokens else {
        return Err(OidcError::invalid_request("Refresh tokens are not enabled").into());
    };
    let params = read_params(request, parts)?;
    let token = params.refresh_token.as_deref().ok_or_else(|| {
        OidcError::invalid_request("Missing refresh_token parameter for refresh_token grant")
    })?;
    if let (Some(id), Some(secret)) = (&params.client.id, &params.client.secret) {
        authenticate_registered(&state.store, id, secret).await?;
    }
    let now = state.clock.now_millis();
    let session = offline::find(
        &state.store,
        settings,
        now,
        token,
        params.client.id.as_deref(),
    )
    .await?;
    event.subject = Some(session.client_id.clone());
    *event = std::mem::take(event).user(&session.user_entity_ref);
    if settings.catalog_presence_check {
        check_presence(state, &session.id, &session.user_entity_ref).await?;
    }
    let refresh_token = offline::rotate(&state.store, &session, now).await?;
    let token = access_token(state, &session.user_entity_ref).await?;
    Ok(json!({
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": token.expires_at_secs - state.clock.now_seconds(),
        "refresh_token": refresh_token,
    }))
}

/// The user must still be in the catalog; a user who is gone loses the session. A catalog
/// that cannot answer is 503 (Node says `invalid_grant`, which makes clients drop the token).
async fn check_presence(state: &AppState, session_id: &str, user: &str) -> Result<(), OidcError> {
    let parsed = EntityRef::parse_with_kind(user)
        .map_err(|_| OidcError::invalid_grant("User entity no longer exists in the catalog"))?;
    match state.catalog.entity(&parsed).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            state
                .store
                .delete_offline_session(session_id)
                .await
                .map_err(|error| store_error("ending an offline session failed", &error))?;
            Err(OidcError::invalid_grant(
                "User entity no longer exists in the catalog",
            ))
        }
        Err(error) => {
            tracing::warn!("the catalog presence check failed: {error}");
            Err(OidcError::unavailable("Unable to validate user existence"))
        }
    }
}
