//! Backstage's error shape (spec §2.1): the one place where errors become HTTP responses,
//! and where the failures of the stores and keys become [`Error`]s.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::error::{Error, ErrorName};
use crate::keys::KeyError;
use crate::sessions::SessionError;
use crate::store::StoreError;
use crate::tokens::TokenError;

/// A database failure: 503 while the database is out of reach (the caller may retry and
/// readiness reports it), otherwise an internal error.
pub fn store_error(context: &str, error: &StoreError) -> Error {
    if error.is_unavailable() {
        Error::service_unavailable(
            "The database is unavailable",
            &format_args!("{context}: {error}"),
        )
    } else {
        Error::internal(context, error)
    }
}

/// A key failure: the store's failures as [`store_error`], the rest internal.
pub fn key_error(context: &str, error: &KeyError) -> Error {
    match error {
        KeyError::Store(error) => store_error(context, error),
        other => Error::internal(context, other),
    }
}

impl From<SessionError> for Error {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Store(error) => {
                store_error("reading or writing a session failed", &error)
            }
            SessionError::Crypto => Error::internal("sealing a session failed", &error),
        }
    }
}

impl From<TokenError> for Error {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::InvalidSubject | TokenError::TooLarge { .. } => {
                Error::new(ErrorName::Error, error.to_string())
            }
            TokenError::Key(error) => key_error("signing a token failed", &error),
            TokenError::Store(error) => store_error("storing user info failed", &error),
        }
    }
}

impl Error {
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

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorObject<'a>,
    request: RequestInfo<'a>,
    response: ResponseInfo,
}

struct ErrorObject<'a>(&'a Error);

impl<'a> From<&'a Error> for ErrorObject<'a> {
    fn from(error: &'a Error) -> Self {
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

/// An RFC 6749 §5.2 error body (`{"error","error_description"}`), never cached: what the token,
/// revocation and registration endpoints answer.
pub fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    #[derive(Serialize)]
    struct OAuthErrorBody<'a> {
        error: &'a str,
        error_description: &'a str,
    }
    let mut response = json_response(
        status,
        &OAuthErrorBody {
            error: code,
            error_description: description,
        },
    );
    no_store(response.headers_mut());
    response
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as token responses need (RFC 6749 §5.1).
pub fn no_store(headers: &mut http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

pub fn json_bytes_response(status: StatusCode, body: bytes::Bytes) -> Response {
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = status;
    // Built on the security headers, which every response gets anyway.
    *response.headers_mut() = super::headers::json_headers();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_is_folded_into_message_and_nested() {
        let error = Error::caused_by(
            ErrorName::AuthenticationError,
            "Refresh failed",
            Error::input("Missing session cookie"),
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
