//! The words Node's strategy libraries put around an IdP's errors, per provider family
//! (§11.0.1, §11.1, §11.4): at the callback, at the token request, at refresh.

use crate::error::{Error, ErrorName};
use crate::oauth::idp::IdpError;

/// The words Node's strategy libraries put around an IdP's error (§11.0.1, §11.1, §11.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorWording {
    /// openid-client (`oidc`): `<error> (<error_description>)`; "rejected" unless the error
    /// is `server_error` or an `invalid…` one.
    OpenIdClient,
    /// passport-oauth2: the description alone; `access_denied` is "rejected".
    Passport,
    /// passport-auth0: every callback error is `Authentication rejected, ` with no reason.
    Auth0,
    /// passport-github2: GitHub answers a refused code or refresh token with HTTP 200 and no
    /// access token, so Node only says that no token came.
    GitHub,
}

impl ErrorWording {
    /// An `error` the IdP sent back to the callback.
    pub fn callback(self, error: &str, description: Option<&str>) -> Error {
        let message = match self {
            Self::OpenIdClient => {
                let text = match description {
                    Some(description) => format!("{error} ({description})"),
                    None => error.to_owned(),
                };
                let verb = if error == "server_error" || error.starts_with("invalid") {
                    "failed"
                } else {
                    "rejected"
                };
                format!("Authentication {verb}, {text}")
            }
            Self::Passport => {
                let verb = if error == "access_denied" {
                    "rejected"
                } else {
                    "failed"
                };
                format!("Authentication {verb}, {}", description.unwrap_or(error))
            }
            Self::Auth0 => "Authentication rejected, ".to_owned(),
            Self::GitHub => return Self::Passport.callback(error, description),
        };
        Error::new(ErrorName::Error, message)
    }

    /// A failed refresh grant: openid-client's `OPError` carrying the IdP's error, or
    /// passport-oauth2's `Failed to refresh access token` wrapping it (Node's inner message
    /// is `unknown error '[object Object]'`; stagedoor keeps the IdP's words there).
    pub fn refresh(self, error: IdpError) -> Error {
        if self == Self::GitHub && error.error.is_some() {
            return Error::new(
                ErrorName::Error,
                "Failed to refresh access token, no access token received",
            );
        }
        if self != Self::OpenIdClient {
            let reason = Error::new(ErrorName::Error, error.message);
            return Error::caused_by(ErrorName::Error, "Failed to refresh access token", reason);
        }
        let name = if error.error.is_some() {
            ErrorName::OPError
        } else {
            ErrorName::Error
        };
        let mut cause = Error::new(name, error.message);
        if let Some(code) = error.error {
            cause.fields.push(("error", code));
        }
        if let Some(description) = error.description {
            cause.fields.push(("error_description", description));
        }
        cause
    }

    /// A failed token request during the callback.
    pub fn token(self, error: IdpError) -> Error {
        let reason = match (self, &error.error) {
            (Self::OpenIdClient, _) | (_, None) => error.message,
            (Self::GitHub, Some(_)) => "Failed to obtain access token".to_owned(),
            (_, Some(code)) => error.description.unwrap_or_else(|| code.clone()),
        };
        Error::new(ErrorName::Error, format!("Authentication failed, {reason}"))
    }
}
