//! The session payload the frontend receives (`backstageIdentity`, §3.2, §3.5).

use serde::Serialize;

use crate::clock::UnixMillis;
use crate::tokens::IssuedToken;

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
