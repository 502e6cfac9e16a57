//! The one error type (Backstage's `@backstage/errors`): a name that says what went wrong and
//! decides the status, a message for the user, and an optional cause. Domain code builds
//! these; `http::error` renders them into Backstage's JSON body.

use std::borrow::Cow;

use http::StatusCode;
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
    /// passport-oauth2's name for a failed call to a provider's API.
    InternalOAuthError,
    /// A plain JavaScript `Error`: Backstage answers 500 for it.
    Error,
    /// Another error class by its name, as a cause (`JWTExpired`, `JWSSignatureVerificationFailed`:
    /// the JOSE library's names that Node's proxy providers report); 500 if ever thrown.
    Named(&'static str),
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
            Self::InternalOAuthError => "InternalOAuthError",
            Self::Error => "Error",
            Self::Named(name) => name,
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
            Self::OPError | Self::InternalOAuthError | Self::Error | Self::Named(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub name: ErrorName,
    pub message: Cow<'static, str>,
    pub cause: Option<Box<Error>>,
    /// Extra members shown before `name` (an OAuth `error` and `error_description`).
    pub fields: Vec<(&'static str, String)>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
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
    pub fn caused_by(name: ErrorName, message: &str, cause: Error) -> Self {
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
}

fn rand_log_id() -> u64 {
    let mut bytes = [0u8; 8];
    // A log id only correlates a response with a log line; any value will do if RNG fails.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes)
}
