//! Token endpoint errors, rendered as RFC 6749 §5.2 JSON (`error`, `error_description`).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::error::{Error, ErrorName};
use crate::http::error::oauth_error;
pub use crate::http::token::quoted;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// The request is malformed: content type, parameters, token types.
    #[error("{0}")]
    InvalidRequest(String),
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

impl IntoResponse for ExchangeError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut response = oauth_error(status, code, &self.to_string());
        if let Self::SlowDown {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_rfc_6749() {
        let cases = [
            (
                ExchangeError::InvalidRequest("x".into()),
                400,
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
