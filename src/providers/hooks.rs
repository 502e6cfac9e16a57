//! The hooks a provider implements in its own module where it differs from OpenID Connect in
//! more than data: where the profile comes from ([`ProfileApi`]: GitHub's `/user`, Microsoft
//! Graph, OpenShift's user API, Pinniped's ID token) and how a token is revoked at logout
//! ([`Revocation`]: OpenShift deletes its access token object).

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

use crate::identity::Profile;
use crate::oauth::idp::IdpClient;

pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A provider's own source of the user's profile, read after each token grant (sign-in and
/// refresh) instead of OpenID userinfo.
pub trait ProfileApi: Send + Sync + std::fmt::Debug {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a>;
}

pub type ApiFuture<'a> = HookFuture<'a, Result<ApiProfile, ApiFailure>>;

/// What a profile source is given.
#[derive(Clone, Copy)]
pub struct ApiCall<'a> {
    pub idp: &'a IdpClient,
    pub access_token: &'a str,
    /// The refresh token of the session: the one just issued, else the one in use.
    pub refresh_token: Option<&'a str>,
    /// The ID token's claims (empty without an ID token).
    pub id_claims: &'a Map<String, Value>,
}

/// What a provider's API says about the user: the profile the frontend shows, and what the
/// resolvers match (`username`, `user_id`, and every field as a claim). The engine fills what
/// the profile lacks from the ID token (§11.0).
#[derive(Debug, Default)]
pub struct ApiProfile {
    pub profile: Profile,
    pub username: Option<String>,
    pub user_id: Option<String>,
    /// The user's page at the provider (GitLab's `web_url`, whose host names its annotation).
    pub profile_url: Option<String>,
    pub claims: Map<String, Value>,
    /// A refresh token that replaces the session's (the profile needed a grant of its own:
    /// Microsoft Graph for a session holding another resource's token).
    pub refresh_token: Option<String>,
}

/// Why there is no profile, in the words of the provider's Node strategy.
#[derive(Debug, PartialEq, Eq)]
pub enum ApiFailure {
    /// An `Error` with this message (`Authentication failed, ` is put before it at sign-in).
    Message(String),
    /// passport-oauth2's `InternalOAuthError`: `message` at sign-in; at refresh, with the
    /// API's answer (`failed to fetch user profile (status: 503 data: …)`), as Node shows it.
    Internal { message: String, detail: String },
    /// The provider module's own error, reported as it is (Node's modules that fetch the
    /// profile themselves throw their own messages).
    Error(crate::error::Error),
}

/// Revokes the token the refresh cookie holds, the provider's way, at logout (best effort:
/// an `Err` is logged and audited, and signing out goes on).
pub trait Revocation: Send + Sync + std::fmt::Debug {
    fn revoke<'a>(
        &'a self,
        idp: &'a IdpClient,
        token: &'a str,
    ) -> HookFuture<'a, Result<(), String>>;
}

impl ApiFailure {
    /// passport's words for a user API that gave no profile.
    pub fn failed(reason: impl std::fmt::Display) -> Self {
        Self::Message(format!("Failed to fetch user profile - {reason}"))
    }

    /// passport's words for a user API that refused the access token (401).
    pub fn invalid_token() -> Self {
        Self::Message("Invalid access token".to_owned())
    }

    /// The error Node gives: at sign-in its message follows `Authentication failed, `; at
    /// refresh it is the cause of `Refresh failed`.
    pub fn into_error(self, at_refresh: bool) -> crate::error::Error {
        use crate::error::{Error, ErrorName};
        match self {
            Self::Message(message) => Error::new(ErrorName::Error, message),
            Self::Error(error) => error,
            Self::Internal { message, .. } if !at_refresh => Error::new(ErrorName::Error, message),
            Self::Internal { message, detail } => Error::new(
                ErrorName::InternalOAuthError,
                format!("{message} ({detail})"),
            ),
        }
    }
}
