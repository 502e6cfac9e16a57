//! `GET /v1/authorize` (`OidcRouter`, `OidcService.createAuthorizationSession`): a malformed
//! query is an OAuth `invalid_request`; a request Node refuses afterwards (response type,
//! client, redirect URI, PKCE) is Backstage's 400 `InputError`, never a redirect to an
//! unverified client. Success stores a pending session for an hour and redirects to the
//! app's consent page, `{app.baseUrl}/oauth2/authorize/{sessionId}`.

use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

use super::AuthorizationServer;
use super::clients::ClientKind;
use super::events::{Kind, Recorder};
use super::validation::Checks;
use crate::error::Error;
use crate::http::{AppState, Query};
use crate::store::AuthorizationSessionRow;

const SESSION_LIFETIME_MS: i64 = 60 * 60 * 1000;

/// The query, once it passed Node's schema.
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    response_type: String,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

fn read_query(query: &Query) -> Result<AuthorizeQuery, super::OidcError> {
    let mut checks = Checks::default();
    let get = |name: &str| Ok(query.get(name));
    let client_id = checks.required("client_id", get("client_id"));
    let redirect_uri = checks.required_url("redirect_uri", get("redirect_uri"));
    let response_type = checks.required("response_type", get("response_type"));
    checks.finish()?;
    let optional = |name: &str| query.get(name).map(str::to_owned);
    Ok(AuthorizeQuery {
        client_id: client_id.unwrap_or_default(),
        redirect_uri: redirect_uri.unwrap_or_default(),
        response_type: response_type.unwrap_or_default(),
        scope: optional("scope"),
        state: optional("state"),
        nonce: optional("nonce"),
        code_challenge: optional("code_challenge"),
        code_challenge_method: optional("code_challenge_method"),
    })
}

pub async fn authorize(
    server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
) -> Result<Response, Error> {
    let recorder = Recorder::new(state, parts);
    let query = match read_query(&Query::parse(parts.uri.query())) {
        Ok(query) => query,
        Err(error) => {
            let event = recorder.event(Kind::Authorize).failure(error.reason());
            recorder.record(Kind::Authorize, event);
            return Ok(error.into_response());
        }
    };
    let event = recorder
        .event(Kind::Authorize)
        .subject(query.client_id.clone());
    match create_session(server, state, &query).await {
        Ok(session_id) => {
            recorder.record(Kind::Authorize, event.success().reason(session_id.clone()));
            Ok(redirect_to_consent(server, &session_id))
        }
        Err(error) => {
            recorder.record(Kind::Authorize, event.failure(error.message.to_string()));
            Err(error)
        }
    }
}

async fn create_session(
    server: &AuthorizationServer,
    state: &AppState,
    query: &AuthorizeQuery,
) -> Result<String, Error> {
    if query.response_type != "code" {
        return Err(Error::input("Only authorization code flow is supported"));
    }
    let client = server
        .resolve_client(&state.store, &query.client_id, Some(&query.redirect_uri))
        .await?;
    if client.kind == ClientKind::MetadataDocument && query.code_challenge.is_none() {
        return Err(Error::input(
            "PKCE is required for public clients. Provide a code_challenge parameter.",
        ));
    }
    if query.code_challenge.is_some()
        && !matches!(
            query.code_challenge_method.as_deref(),
            Some("S256" | "plain")
        )
    {
        return Err(Error::input("Invalid code_challenge_method"));
    }
    let now = state.clock.now_millis();
    let id = uuid::Uuid::new_v4().to_string();
    let row = AuthorizationSessionRow {
        id: id.clone(),
        client_id: client.client_id,
        client_name: client.name,
        redirect_uri: query.redirect_uri.clone(),
        scope: query.scope.clone(),
        state: query.state.clone(),
        nonce: query.nonce.clone(),
        code_challenge: query.code_challenge.clone(),
        code_challenge_method: query
            .code_challenge
            .as_ref()
            .and(query.code_challenge_method.clone()),
        status: "pending".to_owned(),
        user_entity_ref: None,
        created_at: now,
        expires_at: now + SESSION_LIFETIME_MS,
    };
    state
        .store
        .insert_authorization_session(&row)
        .await
        .map_err(|error| {
            crate::http::error::store_error("storing an authorization session failed", &error)
        })?;
    Ok(id)
}

/// Express's `res.redirect`: 302, `Location`, and a short text body.
fn redirect_to_consent(server: &AuthorizationServer, session_id: &str) -> Response {
    let mut base = server.app_base_url.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let target = base
        .join(&format!("oauth2/authorize/{session_id}"))
        .map(|url| url.to_string())
        .unwrap_or_default();
    let mut response =
        (StatusCode::FOUND, format!("Found. Redirecting to {target}")).into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&target) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
