//! `POST /v1/register` (RFC 7591), while Dynamic Client Registration is on: JSON or form (a
//! form repeats `redirect_uris` to make a list, as Node's parser needs). Every redirect URI
//! must match `allowedRedirectUriPatterns` and carry no credentials. Answers 201 with Node's
//! three fields; the secret is stored only as a digest.

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use http::request::Parts;
use serde_json::{Value, json};

use super::AuthorizationServer;
use super::clients::check_redirect_pattern;
use super::credentials::digest;
use super::error::OidcError;
use super::events::{Kind, Recorder};
use super::validation::Checks;
use crate::error::Error;
use crate::http::error::{json_response, no_store, store_error};
use crate::http::token::read_params;
use crate::http::{AppState, TokenBody};
use crate::store::ClientRow;

/// A list parameter: a JSON array of strings, or a repeated form field. `Err` names what was
/// found instead.
fn list(body: &TokenBody, name: &str) -> Result<Option<Vec<String>>, String> {
    match body {
        TokenBody::Form(pairs) => {
            let values: Vec<String> = pairs
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .collect();
            match values.len() {
                0 => Ok(None),
                1 => Err("string".to_owned()),
                _ => Ok(Some(values)),
            }
        }
        TokenBody::Json(map) => match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or(()))
                .collect::<Result<Vec<_>, ()>>()
                .map(Some)
                .map_err(|()| "array of other than strings".to_owned()),
            Some(Value::String(_)) => Err("string".to_owned()),
            Some(_) => Err("other".to_owned()),
        },
    }
}

struct Registration {
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    response_types: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    scope: Option<String>,
}

fn read(body: &TokenBody) -> Result<Registration, OidcError> {
    let mut checks = Checks::default();
    let client_name = checks.optional("client_name", body.param("client_name"));
    let redirect_uris = match list(body, "redirect_uris") {
        Ok(Some(uris)) if uris.is_empty() => {
            checks.issue(
                "redirect_uris",
                "Too small: expected array to have >=1 items".into(),
            );
            Vec::new()
        }
        Ok(Some(uris)) => {
            for (index, uri) in uris.iter().enumerate() {
                checks.url(&format!("redirect_uris[{index}]"), uri);
            }
            uris
        }
        Ok(None) => {
            let found = "undefined".to_owned();
            checks.issue(
                "redirect_uris",
                format!("Invalid input: expected array, received {found}"),
            );
            Vec::new()
        }
        Err(found) => {
            checks.issue(
                "redirect_uris",
                format!("Invalid input: expected array, received {found}"),
            );
            Vec::new()
        }
    };
    let mut optional_list = |name: &str| match list(body, name) {
        Ok(values) => values,
        Err(found) => {
            checks.issue(
                name,
                format!("Invalid input: expected array, received {found}"),
            );
            None
        }
    };
    let response_types = optional_list("response_types");
    let grant_types = optional_list("grant_types");
    let scope = checks.optional("scope", body.param("scope"));
    checks.finish()?;
    Ok(Registration {
        client_name,
        redirect_uris,
        response_types,
        grant_types,
        scope,
    })
}

pub async fn register(
    server: &AuthorizationServer,
    state: &AppState,
    parts: &Parts,
    body: Body,
) -> Result<Response, Error> {
    let body = match read_params(parts, body).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    let recorder = Recorder::new(state, parts);
    let event = recorder.event(Kind::Register);
    match register_client(server, state, &body).await {
        Ok((client, secret)) => {
            let event = event.subject(client.client_id.clone()).success();
            recorder.record(Kind::Register, event.reason(client.client_name.clone()));
            let uris: Value = serde_json::from_str(&client.redirect_uris).unwrap_or_default();
            let mut response = json_response(
                StatusCode::CREATED,
                &json!({
                    "client_id": client.client_id,
                    "redirect_uris": uris,
                    "client_secret": secret,
                }),
            );
            no_store(response.headers_mut());
            Ok(response)
        }
        Err(error) => {
            recorder.record(Kind::Register, event.failure(error.reason()));
            Ok(error.into_response())
        }
    }
}

async fn register_client(
    server: &AuthorizationServer,
    state: &AppState,
    body: &TokenBody,
) -> Result<(ClientRow, String), OidcError> {
    let registration = read(body)?;
    let patterns = server
        .settings
        .dynamic_registration
        .as_ref()
        .map(|settings| settings.redirect_uri_patterns.as_slice())
        .unwrap_or_default();
    for uri in &registration.redirect_uris {
        check_redirect_pattern(uri, patterns)?;
    }
    let secret = uuid::Uuid::new_v4().to_string();
    let to_json = |values: &[String]| serde_json::to_string(values).unwrap_or_default();
    let client = ClientRow {
        client_id: uuid::Uuid::new_v4().to_string(),
        client_secret_hash: digest(&secret),
        client_name: registration
            .client_name
            .unwrap_or_else(|| "Backstage CLI".to_owned()),
        redirect_uris: to_json(&registration.redirect_uris),
        response_types: to_json(
            &registration
                .response_types
                .unwrap_or_else(|| vec!["code".into()]),
        ),
        grant_types: to_json(
            &registration
                .grant_types
                .unwrap_or_else(|| vec!["authorization_code".into()]),
        ),
        scope: registration.scope,
        created_at: state.clock.now_millis(),
    };
    state
        .store
        .insert_client(&client)
        .await
        .map_err(|error| store_error("storing an OAuth client failed", &error))?;
    Ok((client, secret))
}
