//! What a sign-in or refresh gives the frontend (§3.2, §3.5): the profile, the IdP's tokens
//! (`providerInfo`) and the Backstage identity, typed from the resolver to the response,
//! sessions and audit.

use serde::Serialize;

use crate::clock::UnixMillis;
use crate::tokens::IssuedToken;

/// A session: `{profile, providerInfo?, backstageIdentity?}`; absent members are omitted.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInResult {
    pub profile: Profile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_info: Option<SessionProviderInfo>,
    /// Absent when the provider environment has no sign-in resolver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backstage_identity: Option<BackstageIdentityResponse>,
}

impl SignInResult {
    /// The signed-in user's entity ref; empty without a resolver.
    pub fn user_entity_ref(&self) -> &str {
        self.backstage_identity
            .as_ref()
            .map_or("", |identity| identity.identity.user_entity_ref.as_str())
    }
}

/// `providerInfo`: an OAuth provider's tokens, or what a proxy provider's Node module returns
/// (each its own shape: `{iapToken}`, `{accessToken, expiresInSeconds}`, `{claims, cfIdentity, ...}`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SessionProviderInfo {
    OAuth(ProviderInfo),
    Proxy(serde_json::Map<String, serde_json::Value>),
}

/// The IdP's side of a session (§11.10).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub access_token: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackstageIdentityResponse {
    pub token: String,
    pub identity: Identity,
    pub expires_in_seconds: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub user_entity_ref: String,
    pub ownership_entity_refs: Vec<String>,
}

impl BackstageIdentityResponse {
    /// `expiresInSeconds` is `round(exp - now)` with `now` in fractional seconds, as Node does.
    pub fn new(issued: IssuedToken, now: UnixMillis) -> Self {
        let remaining_ms = issued.expires_at_secs * 1000 - now;
        Self {
            token: issued.token,
            identity: Identity {
                kind: "user",
                user_entity_ref: issued.user_entity_ref,
                ownership_entity_refs: issued.ownership_entity_refs,
            },
            expires_in_seconds: (remaining_ms as f64 / 1000.0).round() as i64,
        }
    }
}

/// `profile` of a session response: absent values are omitted, never `null`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}
