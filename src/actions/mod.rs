//! The actions registry Backstage mounts under every plugin (spec §3.12), with the auth
//! plugin's one action, `auth:who-am-i`, so the MCP actions backend finds it when
//! `backend.actions.pluginSources` lists `auth`:
//!
//! - `GET /.backstage/actions/v1/actions`: the actions (no token needed)
//! - `POST /.backstage/actions/v1/actions/:id/invoke` (body = input) and `/v2/…` (body
//!   `{"input", "secrets"}`)

mod callers;
mod settings;

use axum::body::Body;
use axum::response::Response;
use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

pub use callers::{PluginKeys, Principal};
pub use settings::{ActionRule, ActionsSettings, PluginDiscovery};

use crate::entity_ref::EntityRef;
use crate::error::Error;
use crate::http::error::json_response;
use crate::http::token::read_params;
use crate::http::{AppState, Mount, Route, TokenBody, is};

const WHO_AM_I: &str = "auth:who-am-i";
/// `destructive`, `readOnly`, `idempotent`.
const WHO_AM_I_ATTRIBUTES: [(&str, bool); 3] = [
    ("destructive", false),
    ("readOnly", true),
    ("idempotent", true),
];

/// The registry's state, kept in `http::Features`.
pub struct Actions {
    pub settings: ActionsSettings,
    pub keys: PluginKeys,
}

impl Actions {
    /// `isActionAllowed`: the plugin is a listed source, and the filters keep the action.
    fn exposes_who_am_i(&self) -> bool {
        let settings = &self.settings;
        let listed = settings
            .plugin_sources
            .as_ref()
            .is_none_or(|sources| sources.iter().any(|source| source == "auth"));
        let excluded = settings
            .exclude
            .iter()
            .any(|rule| rule.matches(WHO_AM_I, &WHO_AM_I_ATTRIBUTES));
        let included = settings.include.is_empty()
            || settings
                .include
                .iter()
                .any(|rule| rule.matches(WHO_AM_I, &WHO_AM_I_ATTRIBUTES));
        listed && !excluded && included
    }
}

pub fn route() -> Route {
    Route {
        mount: Mount::Auth,
        claims: |state, segments| {
            state.features.get::<Actions>().is_some()
                && matches!(segments, [backstage, actions, ..]
                    if is(backstage, ".backstage") && is(actions, "actions"))
        },
        handle: |state, parts, segments, body| Box::pin(handle(state, parts, segments, body)),
    }
}

async fn handle(
    state: &AppState,
    parts: &Parts,
    segments: &[&str],
    body: Body,
) -> Result<Response, Error> {
    let actions = state
        .features
        .get::<Actions>()
        .ok_or_else(|| Error::unknown_provider(segments[0]))?;
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    match &segments[2..] {
        [v1, list] if get && is(v1, "v1") && is(list, "actions") => {
            callers::principal(state, &actions.keys, &parts.headers).await?;
            let listed: Vec<Value> = if actions.exposes_who_am_i() {
                vec![who_am_i_description()]
            } else {
                Vec::new()
            };
            Ok(json_response(StatusCode::OK, &json!({ "actions": listed })))
        }
        [version, list, id, verb]
            if parts.method == Method::POST
                && is(list, "actions")
                && is(verb, "invoke")
                && (is(version, "v1") || is(version, "v2")) =>
        {
            let wrapped = is(version, "v2");
            let body = read_params(parts, body).await;
            let body = match body {
                Ok(body) => body,
                Err(response) => return Ok(response),
            };
            // Express decodes route parameters (Node's client sends `auth%3Awho-am-i`).
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy();
            invoke(state, actions, parts, &id, wrapped, &body).await
        }
        _ => Err(Error::unknown_provider(segments[0])),
    }
}

async fn invoke(
    state: &AppState,
    actions: &Actions,
    parts: &Parts,
    id: &str,
    wrapped: bool,
    body: &TokenBody,
) -> Result<Response, Error> {
    let principal = callers::principal(state, &actions.keys, &parts.headers).await?;
    if principal == Principal::None {
        return Err(Error::not_allowed(
            "Actions must be invoked by an authenticated principal, not an anonymous request",
        ));
    }
    if id != WHO_AM_I || !actions.exposes_who_am_i() {
        return Err(Error::not_found(format!("Action \"{id}\" not found")));
    }
    let map = match body {
        TokenBody::Json(map) => map.clone(),
        TokenBody::Form(_) => Map::new(),
    };
    let input = if wrapped {
        map.get("input").cloned()
    } else {
        Some(Value::Object(map.clone()))
    };
    if !matches!(input, Some(Value::Object(_))) {
        return Err(Error::input(format!("Invalid input to action \"{id}\"")));
    }
    if wrapped && map.get("secrets").is_some_and(|secrets| !secrets.is_null()) {
        return Err(Error::input(format!(
            "Action \"{id}\" does not accept secrets"
        )));
    }
    let Principal::User(user) = principal else {
        return Err(Error::not_allowed("This action requires user credentials"));
    };
    let output = who_am_i(state, &user).await?;
    Ok(json_response(StatusCode::OK, &json!({ "output": output })))
}

/// The user's catalog entity (asked now) and ownership (as `/v1/userinfo` has it, else the
/// entity's: Node fails when the user never signed in through a provider).
async fn who_am_i(state: &AppState, user: &str) -> Result<Value, Error> {
    let not_found = || {
        Error::not_found(format!(
            "User entity not found in the catalog for \"{user}\""
        ))
    };
    let parsed = EntityRef::parse_with_kind(user).map_err(|_| not_found())?;
    let entity =
        state.catalog.entity(&parsed).await.map_err(|error| {
            Error::service_unavailable("The catalog could not be reached", &error)
        })?;
    let entity = entity.ok_or_else(not_found)?;
    let row = state
        .store
        .user_info(user)
        .await
        .map_err(|error| crate::http::error::store_error("reading user info failed", &error))?;
    let recorded = row
        .and_then(|row| serde_json::from_str::<Value>(&row).ok())
        .and_then(|row| row["claims"]["ent"].as_array().cloned());
    let ownership = match recorded {
        Some(refs) => Value::Array(refs),
        None => serde_json::from_value::<crate::catalog::Entity>(entity.clone())
            .map(|parsed| json!(parsed.ownership_refs()))
            .unwrap_or_else(|_| json!([user])),
    };
    Ok(json!({
        "entity": entity,
        "userInfo": { "userEntityRef": user, "ownershipEntityRefs": ownership },
    }))
}

/// The action as Node lists it (its zod schemas as JSON Schema).
fn who_am_i_description() -> Value {
    json!({
        "id": WHO_AM_I,
        "name": "who-am-i",
        "title": "Who Am I",
        "description": "Returns the catalog entity and user info for the currently authenticated user. This action requires user credentials and cannot be used with service or unauthenticated credentials.",
        "pluginId": "auth",
        "attributes": { "destructive": false, "idempotent": true, "readOnly": true },
        "schema": {
            "input": {
                "type": "object",
                "properties": {},
                "additionalProperties": false,
                "$schema": "http://json-schema.org/draft-07/schema#"
            },
            "output": {
                "type": "object",
                "properties": {
                    "entity": {
                        "type": "object",
                        "properties": {},
                        "additionalProperties": true,
                        "description": "The full catalog entity for the authenticated user"
                    },
                    "userInfo": {
                        "type": "object",
                        "properties": {
                            "userEntityRef": {
                                "type": "string",
                                "description": "The entity ref of the user, e.g. user:default/jane.doe"
                            },
                            "ownershipEntityRefs": {
                                "type": "array",
                                "items": { "type": "string" },
                                "description": "Entity refs that the user claims ownership through"
                            }
                        },
                        "required": ["userEntityRef", "ownershipEntityRefs"],
                        "additionalProperties": false,
                        "description": "User identity information extracted from the authentication token"
                    }
                },
                "required": ["entity", "userInfo"],
                "additionalProperties": false,
                "$schema": "http://json-schema.org/draft-07/schema#"
            }
        }
    })
}
