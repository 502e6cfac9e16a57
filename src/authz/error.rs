//! The authorization server's OAuth errors (`{"error","error_description"}`), where Node's
//! routes convert errors (`OidcError.fromError`, spec §3.11); elsewhere errors keep
//! Backstage's shape.

use axum::response::Response;
use http::StatusCode;

use crate::error::{Error, ErrorName};
use crate::http::error::oauth_error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

impl OidcError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub fn access_denied(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "access_denied", description)
    }

    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            description,
        )
    }

    /// Node's conversion of Backstage errors: input and not-found errors are
    /// `invalid_request`, authentication errors `invalid_client`, refusals `access_denied`;
    /// beyond Node, an unavailable database is `temporarily_unavailable` (503).
    pub fn from_error(error: &Error) -> Self {
        let message = error.message.to_string();
        match error.name {
            ErrorName::InputError | ErrorName::NotFoundError => Self::invalid_request(message),
            ErrorName::AuthenticationError => Self::invalid_client(message),
            ErrorName::NotAllowedError => Self::access_denied(message),
            ErrorName::ServiceUnavailableError => Self::unavailable(message),
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message),
        }
    }

    pub fn into_response(self) -> Response {
        oauth_error(self.status, self.code, &self.description)
    }

    /// `code: description`, for the audit trail.
    pub fn reason(&self) -> String {
        format!("{}: {}", self.code, self.description)
    }
}

impl From<Error> for OidcError {
    fn from(error: Error) -> Self {
        Self::from_error(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backstage_errors_convert_as_node_converts_them() {
        let cases = [
            (Error::input("x"), 400, "invalid_request"),
            (Error::not_found("x"), 400, "invalid_request"),
            (Error::authentication("x"), 401, "invalid_client"),
            (Error::not_allowed("x"), 403, "access_denied"),
            (Error::new(ErrorName::Error, "x"), 500, "server_error"),
        ];
        for (error, status, code) in cases {
            let converted = OidcError::from(error);
            assert_eq!(converted.status.as_u16(), status);
            assert_eq!(converted.code, code);
        }
    }
}
