//! Token endpoint errors, rendered as RFC 6749 §5.2 JSON (`error`, `error_description`).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::error::{Error, ErrorName};
use crate::http::error::json_response;

/// Descriptions quote values from the request (an issuer, an algorithm); long ones are cut.
const MAX_QUOTED_CHARS: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// The request is malformed: content type, parameters, token types.
    #[error("{0}")]
    InvalidRequest(String),
    /// The body is over the size limit (413, in OAuth's shape).
    #[error("the request body is larger than {limit_kb} kB")]
    BodyTooLarge { limit_kb: u64 },
    #[error("the token endpoint only accepts POST")]
    MethodNotAllowed,
    /// The body did not arrive within `stagedoor.listen.requestTimeout`.
    #[error("the request body did not arrive in time")]
    TimedOut,
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// `audience` or `resource` names something other than Backstage.
    #[error("{0}")]
    InvalidTarget(String),
    /// The subject token is not acceptable: untrusted issuer, signature, audience, time.
    #[error("{0}")]
    InvalidGrant(String),
    /// The client the token was issued to may not exchange it, or a claim rule refused it.
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("too many token exchanges for client {client}; retry in {retry_after_secs} s")]
    SlowDown {
        client: String,
        retry_after_secs: u64,
    },
    /// The IdP's keys or the catalog cannot be reached, or the database is down.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ExchangeError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
            Self::TimedOut => (StatusCode::REQUEST_TIMEOUT, "invalid_request"),
            Self::UnsupportedGrantType(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            Self::InvalidTarget(_) => (StatusCode::BAD_REQUEST, "invalid_target"),
            Self::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
            Self::UnauthorizedClient(_) => (StatusCode::BAD_REQUEST, "unauthorized_client"),
            Self::SlowDown { .. } => (StatusCode::TOO_MANY_REQUESTS, "slow_down"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        }
    }

    /// The OAuth error code (`invalid_grant`, ...).
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// A sign-in resolver's refusal, in the token endpoint's terms.
    pub fn from_resolver(error: Error) -> Self {
        match error.name {
            ErrorName::NotAllowedError => Self::UnauthorizedClient(error.message.into_owned()),
            ErrorName::ServiceUnavailableError => Self::Unavailable(error.message.into_owned()),
            _ => Self::InvalidGrant(format!(
                "the subject token maps to no Backstage user: {}",
                error.message
            )),
        }
    }

    /// A failure to issue the Backstage token (keys, database): never the caller's fault.
    pub fn from_issuing(error: crate::tokens::TokenError) -> Self {
        let error = Error::from(error);
        match error.name {
            ErrorName::ServiceUnavailableError => Self::Unavailable(error.message.into_owned()),
            _ => Self::Internal(error.message.into_owned()),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: String,
}

impl IntoResponse for ExchangeError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut response = json_response(
            status,
            &Body {
                error: code,
                error_description: self.to_string(),
            },
        );
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match &self {
            Self::SlowDown {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            _ => {}
        }
        response
    }
}

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
    fn codes_and_statuses_follow_rfc_6749() {
        let cases = [
            (
                ExchangeError::InvalidRequest("x".into()),
                400,
                "invalid_request",
            ),
            (
                ExchangeError::BodyTooLarge { limit_kb: 100 },
                413,
                "invalid_request",
            ),
            (
                ExchangeError::InvalidGrant("x".into()),
                400,
                "invalid_grant",
            ),
            (
                ExchangeError::UnauthorizedClient("x".into()),
                400,
                "unauthorized_client",
            ),
            (
                ExchangeError::SlowDown {
                    client: "c".into(),
                    retry_after_secs: 2,
                },
                429,
                "slow_down",
            ),
            (ExchangeError::Internal("x".into()), 500, "server_error"),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.code(), code);
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        }
    }

    #[test]
    fn resolver_refusals_become_oauth_errors() {
        assert_eq!(
            ExchangeError::from_resolver(Error::not_allowed("no")).code(),
            "unauthorized_client"
        );
        assert_eq!(
            ExchangeError::from_resolver(Error::new(ErrorName::Error, "unresolved")).code(),
            "invalid_grant"
        );
        assert_eq!(
            ExchangeError::from_resolver(Error::new(
                ErrorName::ServiceUnavailableError,
                "catalog down"
            ))
            .code(),
            "temporarily_unavailable"
        );
    }
}
