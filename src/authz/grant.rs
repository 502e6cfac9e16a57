//! What the `authorization_code` and `refresh_token` grants share: the body as Node's schema
//! reads it, the access token they issue and how they answer.

use axum::response::Response;
use http::StatusCode;
use http::request::Parts;
use serde_json::Value;

use super::credentials::PresentedClient;
use super::error::OidcError;
use super::events::{Kind, Recorder};
use super::validation::Checks;
use crate::audit::AuditEvent;
use crate::catalog::UserQuery;
use crate::entity_ref::EntityRef;
use crate::error::Error;
use crate::http::error::{json_response, no_store};
use crate::http::{AppState, TokenRequest};
use crate::tokens::IssuedToken;

/// The body, once it passed Node's schema.
pub(super) struct Params {
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client: PresentedClient,
}

pub(super) fn read_params(request: &TokenRequest, parts: &Parts) -> Result<Params, OidcError> {
    let mut checks = Checks::default();
    let code = checks.optional("code", request.param("code"));
    let redirect_uri = checks.optional_url("redirect_uri", request.param("redirect_uri"));
    let code_verifier = checks.optional("code_verifier", request.param("code_verifier"));
    let refresh_token = checks.optional("refresh_token", request.param("refresh_token"));
    let client_id = checks.optional("client_id", request.param("client_id"));
    let client_secret = checks.optional("client_secret", request.param("client_secret"));
    checks.finish()?;
    Ok(Params {
        code,
        redirect_uri,
        code_verifier,
        refresh_token,
        client: PresentedClient::read(
            &parts.headers,
            client_id.as_deref(),
            client_secret.as_deref(),
        ),
    })
}

fn granted(body: &Value) -> Response {
    let mut response = json_response(StatusCode::OK, body);
    no_store(response.headers_mut());
    response
}

/// Records the outcome and answers.
pub(super) fn finish(
    recorder: &Recorder<'_>,
    kind: Kind,
    event: AuditEvent,
    result: Result<Value, OidcError>,
) -> Response {
    match result {
        Ok(body) => {
            recorder.record(kind, event.success());
            granted(&body)
        }
        Err(error) => {
            recorder.record(kind, event.failure(error.reason()));
            error.into_response()
        }
    }
}

/// A Backstage token for `user`, with the ownership its last sign-in recorded (else the
/// catalog's: the user and their groups), recorded for `/v1/userinfo`.
pub(super) async fn access_token(state: &AppState, user: &str) -> Result<IssuedToken, OidcError> {
    let ownership = ownership(state, user).await;
    state
        .issuer
        .issue(user, &ownership)
        .await
        .map_err(|error| OidcError::from(Error::from(error)))
}

async fn ownership(state: &AppState, user: &str) -> Vec<String> {
    let recorded = state.store.user_info(user).await.ok().flatten();
    let from_row = recorded
        .and_then(|row| serde_json::from_str::<Value>(&row).ok())
        .and_then(|row| row["claims"]["ent"].as_array().cloned())
        .map(|refs| {
            refs.iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .filter(|refs| !refs.is_empty());
    if let Some(refs) = from_row {
        return refs;
    }
    if let Ok(parsed) = EntityRef::parse_with_kind(user) {
        let query = UserQuery::ByRef {
            kind: parsed.kind,
            namespace: parsed.namespace,
            name: parsed.name,
        };
        if let Ok(entity) = state.catalog.find_user(&query).await {
            return entity.ownership_refs();
        }
    }
    vec![user.to_owned()]
}
