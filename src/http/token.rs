//! `POST /api/auth/v1/token`: one endpoint for every grant. `http` reads the request (method,
//! size, content type, `grant_type`) and hands it to the grant registered under that
//! `grant_type` (token exchange, authorization code, refresh token), each living with its
//! feature. Endpoint-level failures are RFC 6749 §5.2 errors.

use std::collections::HashMap;
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Map, Value};

use super::error::oauth_error;
use super::{AppState, Handled};

/// As Express's body parsers (and the rest of stagedoor) allow.
pub const MAX_BODY_BYTES: u64 = 100 * 1024;
const FORM: &str = "application/x-www-form-urlencoded";
/// Node's words (its zod schema's).
const NO_GRANT_TYPE: &str =
    "Validation error: Invalid input: expected string, received undefined at \"grant_type\"";

/// The parameters as sent: a form, or (for the grants that accept it, as Node's router does)
/// a JSON object.
#[derive(Debug, Clone)]
pub enum TokenBody {
    Form(Vec<(String, String)>),
    Json(Map<String, Value>),
}

/// A token request whose `grant_type` found its grant.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub grant_type: String,
    pub body: TokenBody,
}

impl TokenRequest {
    /// See [`TokenBody::param`].
    pub fn param(&self, name: &str) -> Result<Option<&str>, &'static str> {
        self.body.param(name)
    }

    pub fn is_json(&self) -> bool {
        matches!(self.body, TokenBody::Json(_))
    }
}

impl TokenBody {
    /// A parameter as a string: the first non-empty form value, or a JSON string. `Err` names
    /// the JSON type found instead of a string.
    pub fn param(&self, name: &str) -> Result<Option<&str>, &'static str> {
        match self {
            TokenBody::Form(pairs) => Ok(pairs
                .iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.as_str())),
            TokenBody::Json(map) => match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.as_str())),
                Some(Value::Bool(_)) => Err("boolean"),
                Some(Value::Number(_)) => Err("number"),
                Some(Value::Array(_)) => Err("array"),
                Some(Value::Object(_)) => Err("object"),
            },
        }
    }
}

/// One grant type and who serves it.
pub struct Grant {
    pub grant_type: &'static str,
    /// Whether a JSON body is accepted (Node's authorization server accepts one; RFC 8693 says
    /// form).
    pub accepts_json: bool,
    pub handle: for<'a> fn(&'a AppState, &'a Parts, &'a TokenRequest) -> Handled<'a>,
}

/// The grants in force, by `grant_type`: found by a lookup, not by asking each feature.
#[derive(Default)]
pub struct Grants(HashMap<&'static str, Grant>);

impl Grants {
    pub fn add(&mut self, grant: Grant) {
        self.0.insert(grant.grant_type, grant);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn accept_json(&self) -> bool {
        self.0.values().any(|grant| grant.accepts_json)
    }
}

/// Why the endpoint refused a request before any grant saw it.
fn invalid_request(description: impl Into<String>) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        &description.into(),
    )
}

pub(super) async fn answer(state: &AppState, parts: &Parts, body: Body) -> Response {
    if parts.method != Method::POST {
        let mut response = oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "the token endpoint only accepts POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
        return response;
    }
    let request = match read(&state.grants, parts, body).await {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let Some(grant) = state.grants.0.get(request.grant_type.as_str()) else {
        // Node's words.
        let shown: String = request.grant_type.chars().take(MAX_QUOTED_CHARS).collect();
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Grant type {shown} is not supported"),
        );
    };
    if request.is_json() && !grant.accepts_json {
        return content_type_refused(Some("application/json"), false);
    }
    match (grant.handle)(state, parts, &request).await {
        Ok(response) => response,
        Err(error) => {
            let url = parts
                .uri
                .path()
                .strip_prefix(super::MOUNT_PATH)
                .unwrap_or("");
            error.into_response_for(&parts.method, url)
        }
    }
}

async fn read(grants: &Grants, parts: &Parts, body: Body) -> Result<TokenRequest, Box<Response>> {
    let json_ok = grants.accept_json();
    let kind = content_kind(&parts.headers);
    match kind {
        Some(Kind::Form) => {}
        Some(Kind::Json) if json_ok => {}
        Some(Kind::Json) => {
            return Err(Box::new(content_type_refused(
                Some("application/json"),
                false,
            )));
        }
        Some(Kind::Other(other)) => {
            return Err(Box::new(content_type_refused(Some(&other), json_ok)));
        }
        None => return Err(Box::new(content_type_refused(None, json_ok))),
    }
    let bytes = read_limited(parts, body).await.map_err(Box::new)?;
    let body = match kind {
        Some(Kind::Json) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => TokenBody::Json(map),
            _ => {
                return Err(Box::new(invalid_request(
                    "the request body is not a JSON object",
                )));
            }
        },
        _ => TokenBody::Form(form_pairs(&bytes)),
    };
    let grant_type = match &body {
        TokenBody::Form(pairs) => {
            let mut values = pairs
                .iter()
                .filter(|(key, value)| key == "grant_type" && !value.is_empty());
            let first = values.next().map(|(_, value)| value.clone());
            if values.next().is_some() {
                return Err(Box::new(invalid_request(
                    "the parameter grant_type is sent more than once",
                )));
            }
            first
        }
        TokenBody::Json(map) => map
            .get("grant_type")
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned),
    };
    let grant_type = grant_type.ok_or_else(|| Box::new(invalid_request(NO_GRANT_TYPE)))?;
    Ok(TokenRequest { grant_type, body })
}

/// A form or JSON body as Node's plugin router parses it (`urlencoded` and `json`): a body
/// of another type, or none, reads as no parameters. Bodies over the size limit, or that do
/// not arrive in time, are refused as at the token endpoint.
pub async fn read_params(parts: &Parts, body: Body) -> Result<TokenBody, Response> {
    let bytes = read_limited(parts, body).await?;
    Ok(match content_kind(&parts.headers) {
        Some(Kind::Form) => TokenBody::Form(form_pairs(&bytes)),
        Some(Kind::Json) if bytes.is_empty() => TokenBody::Json(Map::new()),
        Some(Kind::Json) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => TokenBody::Json(map),
            Ok(_) => TokenBody::Json(Map::new()),
            Err(_) => return Err(invalid_request("the request body is not valid JSON")),
        },
        _ => TokenBody::Form(Vec::new()),
    })
}

/// The body, refused at once when its declared length is over the limit.
async fn read_limited(parts: &Parts, body: Body) -> Result<Vec<u8>, Response> {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    read_body(body).await
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

enum Kind {
    Form,
    Json,
    Other(String),
}

fn content_kind(headers: &HeaderMap) -> Option<Kind> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or("").trim();
    Some(if essence.eq_ignore_ascii_case(FORM) {
        Kind::Form
    } else if essence.eq_ignore_ascii_case("application/json") {
        Kind::Json
    } else {
        Kind::Other(essence.to_owned())
    })
}

fn content_type_refused(content_type: Option<&str>, json_ok: bool) -> Response {
    let accepted = if json_ok {
        format!("{FORM} (or application/json)")
    } else {
        FORM.to_owned()
    };
    invalid_request(match content_type {
        Some(other) => format!(
            "the content type {} is not accepted; send the parameters as {accepted}",
            quoted(other)
        ),
        None => format!("the request has no content type; send the parameters as {accepted}"),
    })
}

fn too_large() -> Response {
    oauth_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        &format!(
            "the request body is larger than {} kB",
            MAX_BODY_BYTES / 1024
        ),
    )
}

/// Whether the body stopped because it did not arrive in time (`stagedoor.listen.requestTimeout`).
fn is_deadline(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<super::serve::BodyDeadlinePassed>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Reads at most [`MAX_BODY_BYTES`], whatever the request declared (or if it is chunked).
async fn read_body(mut body: Body) -> Result<Vec<u8>, Response> {
    let mut bytes = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else {
            return Ok(bytes);
        };
        let frame = frame.map_err(|error| {
            if is_deadline(&error) {
                oauth_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "invalid_request",
                    "the request body did not arrive in time",
                )
            } else {
                invalid_request("the request body could not be read")
            }
        })?;
        if let Some(data) = frame.data_ref() {
            if (bytes.len() + data.len()) as u64 > MAX_BODY_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(data);
        }
    }
}

/// Descriptions quote values from the request; long ones are cut.
const MAX_QUOTED_CHARS: usize = 120;

/// A value from the request, quoted in a description: at most [`MAX_QUOTED_CHARS`].
pub fn quoted(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED_CHARS {
        return format!("\"{value}\"");
    }
    let cut: String = value.chars().take(MAX_QUOTED_CHARS).collect();
    format!("\"{cut}…\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut() {
        assert_eq!(quoted("abc"), "\"abc\"");
        let long = "x".repeat(500);
        assert_eq!(quoted(&long).chars().count(), MAX_QUOTED_CHARS + 3);
    }

    #[test]
    fn parameters_read_from_forms_and_json() {
        let form = TokenRequest {
            grant_type: "x".into(),
            body: TokenBody::Form(vec![
                ("code".into(), String::new()),
                ("code".into(), "abc".into()),
            ]),
        };
        assert_eq!(form.param("code"), Ok(Some("abc")));
        assert_eq!(form.param("other"), Ok(None));
        let json = TokenRequest {
            grant_type: "x".into(),
            body: TokenBody::Json(
                serde_json::json!({"code": "abc", "n": 1, "none": null})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        };
        assert_eq!(json.param("code"), Ok(Some("abc")));
        assert_eq!(json.param("n"), Err("number"));
        assert_eq!(json.param("none"), Ok(None));
    }
}
