//! Backstage's error shape (spec §2.1): the one place where errors become HTTP responses.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The `error.name` values Backstage clients inspect, with their status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorName {
    InputError,
    AuthenticationError,
    NotAllowedError,
    NotFoundError,
    ConflictError,
    NotImplementedError,
    ServiceUnavailableError,
    PayloadTooLargeError,
    /// An OAuth error returned by the identity provider (openid-client's name for it).
    OPError,
    /// A plain JavaScript `Error`: Backstage answers 500 for it.
    Error,
}

impl ErrorName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InputError => "InputError",
            Self::AuthenticationError => "AuthenticationError",
            Self::NotAllowedError => "NotAllowedError",
            Self::NotFoundError => "NotFoundError",
            Self::ConflictError => "ConflictError",
            Self::NotImplementedError => "NotImplementedError",
            Self::ServiceUnavailableError => "ServiceUnavailableError",
            Self::PayloadTooLargeError => "PayloadTooLargeError",
            Self::OPError => "OPError",
            Self::Error => "Error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InputError => StatusCode::BAD_REQUEST,
            Self::AuthenticationError => StatusCode::UNAUTHORIZED,
            Self::NotAllowedError => StatusCode::FORBIDDEN,
            Self::NotFoundError => StatusCode::NOT_FOUND,
            Self::ConflictError => StatusCode::CONFLICT,
            Self::NotImplementedError => StatusCode::NOT_IMPLEMENTED,
            Self::ServiceUnavailableError => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLargeError => StatusCode::PAYLOAD_TOO_LARGE,
            Self::OPError | Self::Error => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub name: ErrorName,
    pub message: Cow<'static, str>,
    pub cause: Option<Box<ApiError>>,
    /// Extra members shown before `name` (an OAuth `error` and `error_description`).
    pub fields: Vec<(&'static str, String)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(name: ErrorName, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            name,
            message: message.into(),
            cause: None,
            fields: Vec::new(),
        }
    }

    pub fn input(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorName::InputError, message)
    }

    pub fn authentication(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorName::AuthenticationError, message)
    }

    pub fn not_allowed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorName::NotAllowedError, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorName::NotFoundError, message)
    }

    pub fn unknown_provider(segment: &str) -> Self {
        Self::not_found(format!("Unknown auth provider '{segment}'"))
    }

    /// Wraps `cause` the way Backstage's `CustomErrorBase` does: the outer message ends with
    /// `; caused by <Name>: <message>` and the cause is kept as a nested object.
    pub fn caused_by(name: ErrorName, message: &str, cause: ApiError) -> Self {
        Self {
            name,
            message: format!("{message}; caused by {cause}").into(),
            cause: Some(Box::new(cause)),
            fields: Vec::new(),
        }
    }

    /// An error whose details must stay in the logs (database failures and the like).
    /// Mirrors Backstage, which replaces such errors with a log id.
    pub fn internal(context: &str, detail: &dyn std::fmt::Display) -> Self {
        let log_id = format!("{:016x}", rand_log_id());
        tracing::error!(log_id = %log_id, "{context}: {detail}");
        Self::new(
            ErrorName::Error,
            format!("An internal error occurred logId={log_id}"),
        )
    }

    pub fn service_unavailable(context: &str, detail: &dyn std::fmt::Display) -> Self {
        tracing::warn!("{context}: {detail}");
        Self::new(
            ErrorName::ServiceUnavailableError,
            format!("{context}, try again shortly"),
        )
    }

    /// A database failure: 503 while the database is out of reach (the caller may retry and
    /// readiness reports it), otherwise an internal error.
    pub fn store(context: &str, error: &crate::store::StoreError) -> Self {
        if error.is_unavailable() {
            Self::service_unavailable(
                "The database is unavailable",
                &format_args!("{context}: {error}"),
            )
        } else {
            Self::internal(context, error)
        }
    }

    /// A key failure: the store's failures as [`ApiError::store`], the rest internal.
    pub fn keys(context: &str, error: &crate::keys::KeyError) -> Self {
        match error {
            crate::keys::KeyError::Store(error) => Self::store(context, error),
            other => Self::internal(context, other),
        }
    }

    /// Renders the standard body. `url` is the request URL relative to `/api/auth`.
    pub fn into_response_for(self, method: &http::Method, url: &str) -> Response {
        let status = self.name.status();
        let body = ErrorBody {
            error: ErrorObject::from(&self),
            request: RequestInfo {
                method: method.as_str(),
                url,
            },
            response: ResponseInfo {
                status_code: status.as_u16(),
            },
        };
        json_response(status, &body)
    }
}

fn rand_log_id() -> u64 {
    let mut bytes = [0u8; 8];
    // A log id only correlates a response with a log line; any value will do if RNG fails.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorObject<'a>,
    request: RequestInfo<'a>,
    response: ResponseInfo,
}

struct ErrorObject<'a>(&'a ApiError);

impl<'a> From<&'a ApiError> for ErrorObject<'a> {
    fn from(error: &'a ApiError) -> Self {
        Self(error)
    }
}

impl Serialize for ErrorObject<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let error = self.0;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &error.fields {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("name", error.name.as_str())?;
        map.serialize_entry("message", &error.message)?;
        if let Some(cause) = &error.cause {
            map.serialize_entry("cause", &ErrorObject(cause))?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct RequestInfo<'a> {
    method: &'a str,
    url: &'a str,
}

#[derive(Serialize)]
struct ResponseInfo {
    #[serde(rename = "statusCode")]
    status_code: u16,
}

pub const JSON_CONTENT_TYPE: HeaderValue =
    HeaderValue::from_static("application/json; charset=utf-8");

/// A JSON response with Backstage's exact content type.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => json_bytes_response(status, bytes.into()),
        Err(error) => {
            tracing::error!("serialising a response failed: {error}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub fn json_bytes_response(status: StatusCode, body: bytes::Bytes) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, JSON_CONTENT_TYPE);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_is_folded_into_message_and_nested() {
        let error = ApiError::caused_by(
            ErrorName::AuthenticationError,
            "Refresh failed",
            ApiError::input("Missing session cookie"),
        );
        assert_eq!(
            error.message,
            "Refresh failed; caused by InputError: Missing session cookie"
        );
        let object = serde_json::to_value(ErrorObject::from(&error)).unwrap();
        assert_eq!(
            object,
            serde_json::json!({
                "name": "AuthenticationError",
                "message": "Refresh failed; caused by InputError: Missing session cookie",
                "cause": {"name": "InputError", "message": "Missing session cookie"}
            })
        );
    }
}
