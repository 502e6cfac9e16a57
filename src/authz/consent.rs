//! The consent API the app's `/oauth2/authorize/:sessionId` page calls (spec §14.6):
//! `GET /v1/sessions/:id` (public), `POST …/approve` and `POST …/reject` (a full user token).
//! A decision is one guarded update: of two concurrent approvals exactly one wins. The
//! client's name is the one resolved at `/v1/authorize` (Node fetches the document again).

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use http::request::Parts;
use ring::rand::SecureRandom;
use serde::Serialize;
use serde_json::json;
use url::Url;

use super::AuthorizationServer;
use super::credentials::{NoUser, digest, user};
use super::error::OidcError;
use super::events::{Kind, Recorder};
use crate::error::Error;
use crate::http::error::{json_response, store_error};
use crate::http::{AppState, is};
use crate::store::AuthorizationSessionRow;

const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView<'a> {
    id: &'a str,
    client_id: &'a str,
    client_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    redirect_uri: &'a str,
}

/// `getValidPendingSession`: the session, pending and unexpired.
async fn pending(state: &AppState, id: &str) -> Result<AuthorizationSessionRow, OidcError> {
    let session = state
        .store
        .authorization_session(id)
        .await
        .map_err(|error| store_error("reading an authorization session failed", &error))?
        .ok_or_else(|| OidcError::invalid_request("Invalid authorization session"))?;
    if session.expires_at < state.clock.now_millis() {
        return Err(OidcError::invalid_request("Authorization session expired"));
    }
    if session.status != "pending" {
        return Err(OidcError::invalid_request(
            "Authorization session not found or expired",
        ));
    }
    Ok(session)
}

pub async fn show(
    _server: &AuthorizationServer,
    state: &AppState,
    id: &str,
) -> Result<Response, Error> {
    Ok(match pending(state, id).await {
        Ok(session) => json_response(
            StatusCode::OK,
            &SessionView {
                id: &session.id,
                client_id: &session.client_id,
                client_name: &session.client_name,
                scope: session.scope.as_deref(),
                redirect_uri: &session.redirect_uri,
            },
        ),
        Err(error) => error.into_response(),
    })
}

pub async fn decide(
    _server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
    id: &str,
    decision: &str,
) -> Result<Response, Error> {
    let approve = is(decision, "approve");
    if !approve && !is(decision, "reject") {
        return Err(Error::unknown_provider("v1"));
    }
    crate::http::refuse_large_body(parts)?;
    let recorder = Recorder::new(state, parts);
    let event = recorder
        .event(Kind::Consent)
        .reason(if approve { "approve" } else { "reject" });
    let user = match user(state, &parts.headers).await {
        Ok(user) => user,
        Err(no_user) => {
            let error = match no_user {
                NoUser::Missing => OidcError::access_denied("Authentication required"),
                // Node checks reject's credentials outside its OAuth error conversion.
                NoUser::Invalid(message) if !approve => {
                    recorder.record(Kind::Consent, event.failure(message.clone()));
                    return Err(Error::authentication(message));
                }
                NoUser::Invalid(message) => OidcError::invalid_client(message),
                NoUser::Unavailable(error) => return Err(error),
            };
            recorder.record(Kind::Consent, event.failure(error.reason()));
            return Ok(error.into_response());
        }
    };
    let event = event.user(&user);
    let decided = match approve {
        true => approve_session(state, id, &user).await,
        false => reject_session(state, id, &user).await,
    };
    match decided {
        Ok((client_id, redirect_url)) => {
            recorder.record(Kind::Consent, event.success().subject(client_id));
            Ok(json_response(
                StatusCode::OK,
                &json!({ "redirectUrl": redirect_url }),
            ))
        }
        Err(error) => {
            recorder.record(Kind::Consent, event.failure(error.reason()));
            Ok(error.into_response())
        }
    }
}

/// Records the decision once; a lost race reads as Node's "not found or expired".
async fn decide_once(
    state: &AppState,
    session: &AuthorizationSessionRow,
    status: &str,
    user: &str,
) -> Result<(), OidcError> {
    let now = state.clock.now_millis();
    let decided = state
        .store
        .decide_authorization_session(&session.id, status, user, now)
        .await
        .map_err(|error| store_error("deciding an authorization session failed", &error))?;
    if decided {
        Ok(())
    } else {
        Err(OidcError::invalid_request(
            "Authorization session not found or expired",
        ))
    }
}

/// Approves: a code (32 random bytes, 10 minutes) appended to the redirect URI, whose own
/// query is kept.
async fn approve_session(
    state: &AppState,
    id: &str,
    user: &str,
) -> Result<(String, String), OidcError> {
    let session = pending(state, id).await?;
    decide_once(state, &session, "approved", user).await?;
    let mut random = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| OidcError::from(Error::internal("no randomness for a code", &"")))?;
    let code = URL_SAFE_NO_PAD.encode(random);
    let expires_at = state.clock.now_millis() + CODE_LIFETIME_MS;
    state
        .store
        .insert_code(&digest(&code), &session.id, expires_at)
        .await
        .map_err(|error| store_error("storing an authorization code failed", &error))?;
    let mut url = Url::parse(&session.redirect_uri)
        .map_err(|_| OidcError::invalid_request("Invalid redirect_uri"))?;
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(client_state) = session.state.as_deref().filter(|s| !s.is_empty()) {
        url.query_pairs_mut().append_pair("state", client_state);
    }
    Ok((session.client_id, url.to_string()))
}

/// Rejects: the redirect URI's query replaced by the error (as Node does).
async fn reject_session(
    state: &AppState,
    id: &str,
    user: &str,
) -> Result<(String, String), OidcError> {
    let session = pending(state, id).await?;
    decide_once(state, &session, "rejected", user).await?;
    let mut url = Url::parse(&session.redirect_uri)
        .map_err(|_| OidcError::invalid_request("Invalid redirect_uri"))?;
    url.set_query(None);
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("error", "access_denied");
        query.append_pair("error_description", "User denied the request");
        if let Some(client_state) = session.state.as_deref().filter(|s| !s.is_empty()) {
            query.append_pair("state", client_state);
        }
    }
    Ok((session.client_id, url.to_string()))
}
