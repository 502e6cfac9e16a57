//! The hook of a provider whose profile comes from its own user API ([`ProfileApi`]) and what
//! it answers: below the OAuth settings that hold it and the error wording that reports it.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::identity::Profile;
use crate::oauth::idp::IdpClient;

/// A provider's own user API, read with the access token.
pub trait ProfileApi: Send + Sync + std::fmt::Debug {
    fn fetch<'a>(&'a self, idp: &'a IdpClient, access_token: &'a str) -> ApiFuture<'a>;
}

pub type ApiFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<ApiProfile, ApiFailure>> + Send + 'a>,
>;

/// What a provider's API says about the user: the profile the frontend shows, and what the
/// resolvers match (`username`, `user_id`, `profile_url`, and every field as a claim).
#[derive(Debug, Default)]
pub struct ApiProfile {
    pub profile: Profile,
    pub username: Option<String>,
    pub user_id: Option<String>,
    /// The user's page at the provider (GitLab's `web_url`, whose host names its annotation).
    pub profile_url: Option<String>,
    pub claims: Map<String, Value>,
}

/// Why the API gave no profile: the token was refused (401), another failure (its words,
/// after passport's `Failed to fetch user profile - `), or the provider's own error, reported
/// as it is (Node's modules that fetch the profile themselves throw their own messages).
#[derive(Debug)]
pub enum ApiFailure {
    InvalidToken,
    Failed(String),
    Error(Error),
}
