//! The `authorization_code` and `refresh_token` grants of `POST /v1/token` (JSON or form, as
//! Node accepts them; the refresh grant is in `refresh.rs`, what both share in `grant.rs`).
//! Errors as §3.11: Backstage authentication failures become 400 `invalid_grant`.
//!
//! Beyond Node: the first exchange that finds a code spends it, failed or not, and a replayed
//! code revokes the refresh token its first exchange issued (RFC 6749 §4.1.2); a code is
//! redeemed only by the client it was issued to, with the client's secret when no PKCE binds
//! it; `expires_in` is the token's real lifetime; the token carries the user's ownership and
//! writes `user_info` (so `/v1/userinfo` and `auth:who-am-i` work for CLI-only users).

use axum::response::Response;
use http::request::Parts;
use serde_json::{Value, json};

use super::AuthorizationServer;
use super::credentials::{PresentedClient, authenticate_registered, digest};
use super::error::OidcError;
use super::events::{Kind, Recorder};
use super::grant::{access_token, finish, read_params};
use super::offline::{self, NewSession};
use crate::audit::AuditEvent;
use crate::error::Error;
use crate::http::error::store_error;
use crate::http::{AppState, Grant, TokenRequest, client_info};
use crate::store::CodeRow;

/// The two grants, registered with the token endpoint while the authorization server is on.
pub fn grants() -> Vec<Grant> {
    vec![
        Grant {
            grant_type: "authorization_code",
            accepts_json: true,
            handle: |state, parts, request| {
                Box::pin(async move {
                    let server = serving(state).await?;
                    Ok(code_grant(server, state, parts, request).await)
                })
            },
        },
        Grant {
            grant_type: "refresh_token",
            accepts_json: true,
            handle: |state, parts, request| {
                Box::pin(async move {
                    let server = serving(state).await?;
                    Ok(super::refresh::refresh_grant(server, state, parts, request).await)
                })
            },
        },
    ]
}

/// The authorization server, after its hourly purge if one is due.
async fn serving(state: &AppState) -> Result<&AuthorizationServer, Error> {
    let server = state.features.get::<AuthorizationServer>();
    let server = server.ok_or_else(|| Error::unknown_provider("v1"))?;
    server.purge_if_due(state).await;
    Ok(server)
}

async fn code_grant(
    server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
    request: &TokenRequest,
) -> Response {
    let recorder = Recorder::new(state, parts);
    let mut event = recorder.event(Kind::Token).reason("authorization_code");
    let result = exchange_code(server, state, parts, request, &mut event).await;
    finish(&recorder, Kind::Token, event, result)
}

async fn exchange_code(
    server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
    request: &TokenRequest,
    event: &mut AuditEvent,
) -> Result<Value, OidcError> {
    let params = read_params(request, parts)?;
    let (Some(code), Some(redirect_uri)) = (params.code.as_deref(), params.redirect_uri.as_deref())
    else {
        return Err(OidcError::invalid_request(
            "Missing code or redirect_uri parameters for authorization_code grant",
        ));
    };
    let code_hash = digest(code);
    let row = spend_code(state, &code_hash).await?;
    let session = &row.session;
    event.subject = Some(session.client_id.clone());
    if session.redirect_uri != redirect_uri {
        return Err(OidcError::invalid_grant("Redirect URI mismatch"));
    }
    let user = match (session.status.as_str(), session.user_entity_ref.as_deref()) {
        ("approved", Some(user)) => user,
        ("approved", None) => {
            return Err(OidcError::invalid_grant(
                "No user associated with authorization",
            ));
        }
        _ => return Err(OidcError::invalid_grant("Authorization not approved")),
    };
    *event = std::mem::take(event).user(user);
    check_code_client(state, &row, &params.client).await?;
    check_pkce(&row, params.code_verifier.as_deref())?;
    let token = access_token(state, user).await?;
    let mut body = json!({
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": token.expires_at_secs - state.clock.now_seconds(),
        "id_token": token.token,
        "scope": session.scope.as_deref().filter(|s| !s.is_empty()).unwrap_or("openid"),
    });
    let offline = session
        .scope
        .as_deref()
        .is_some_and(|scope| scope.split(' ').any(|s| s == "offline_access"));
    if let (true, Some(settings)) = (offline, &server.settings.refresh_tokens) {
        let new = NewSession {
            user_entity_ref: user,
            client_id: &session.client_id,
            client_name: &session.client_name,
            scope: session.scope.as_deref(),
            client: &client_info(parts, &state.web.trusted_proxies),
        };
        let now = state.clock.now_millis();
        let (id, refresh_token) = offline::issue(&state.store, settings, now, &new).await?;
        if let Err(error) = state.store.set_code_offline_session(&code_hash, &id).await {
            tracing::warn!("remembering the offline session of a code failed: {error}");
        }
        body["refresh_token"] = Value::String(refresh_token);
    }
    Ok(body)
}

/// Finds the code and spends it: unknown, expired and replayed codes are refused, and a
/// replay revokes what the first exchange issued.
async fn spend_code(state: &AppState, code_hash: &str) -> Result<CodeRow, OidcError> {
    let stored = |error| store_error("reading an authorization code failed", &error);
    let row = state.store.code(code_hash).await.map_err(stored)?;
    let row = row.ok_or_else(|| OidcError::invalid_grant("Invalid authorization code"))?;
    let replayed = || OidcError::invalid_grant("Authorization code already used");
    if row.used {
        if let Some(id) = &row.offline_session_id {
            let revoked = state
                .store
                .delete_offline_session(id)
                .await
                .map_err(stored)?;
            if revoked {
                tracing::warn!(session = %id, "an authorization code was replayed: its refresh token is revoked");
            }
        }
        return Err(replayed());
    }
    if row.expires_at < state.clock.now_millis() {
        return Err(OidcError::invalid_grant("Authorization code expired"));
    }
    if !state.store.claim_code(code_hash).await.map_err(stored)? {
        return Err(replayed());
    }
    Ok(row)
}

/// The code's own client only: a presented `client_id` must be it, a presented secret must
/// be right, and a code no PKCE binds needs the client's secret.
async fn check_code_client(
    state: &AppState,
    row: &CodeRow,
    client: &PresentedClient,
) -> Result<(), OidcError> {
    let session = &row.session;
    if client
        .id
        .as_deref()
        .is_some_and(|id| id != session.client_id)
    {
        return Err(OidcError::invalid_grant(
            "Authorization code was not issued to this client",
        ));
    }
    match (&client.id, &client.secret) {
        (Some(id), Some(secret)) => authenticate_registered(&state.store, id, secret).await,
        _ if session.code_challenge.is_none() => Err(OidcError::invalid_client(
            "Client authentication required: this code is not bound to a PKCE verifier",
        )),
        _ => Ok(()),
    }
}

fn check_pkce(row: &CodeRow, verifier: Option<&str>) -> Result<(), OidcError> {
    let Some(challenge) = row.session.code_challenge.as_deref() else {
        return Ok(());
    };
    let verifier =
        verifier.ok_or_else(|| OidcError::invalid_grant("Code verifier required for PKCE"))?;
    let expected = match row.session.code_challenge_method.as_deref() {
        Some("S256") => base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()),
        ),
        _ => verifier.to_owned(),
    };
    if super::credentials::same_digest(&expected, challenge) {
        Ok(())
    } else {
        Err(OidcError::invalid_grant("Invalid code verifier"))
    }
}
