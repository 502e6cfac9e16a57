//! Issues `vnd.backstage.user` tokens exactly as Node's `issueUserToken` does.

use std::sync::Arc;

use serde::Serialize;

use crate::clock::SharedClock;
use crate::entity_ref::EntityRef;
use crate::jose;
use crate::keys::{KeyError, KeyManager};
use crate::store::StoreError;
use crate::user_info::UserInfoWriter;

/// Node refuses tokens longer than this (too many ownership refs).
const MAX_TOKEN_LENGTH: usize = 32_768;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("\"sub\" claim provided by the auth resolver is not a valid EntityRef.")]
    InvalidSubject,
    #[error(
        "Failed to issue a new user token. The resulting token is excessively large, with either too many ownership claims or too large custom claims. You likely have a bug either in the sign-in resolver or catalog data. The token for '{subject}' had {ownership_refs} ownership claims."
    )]
    TooLarge {
        subject: String,
        ownership_refs: usize,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub user_entity_ref: String,
    pub ownership_entity_refs: Vec<String>,
    pub expires_at_secs: i64,
}

#[derive(Serialize)]
struct LimitedPayload<'a> {
    sub: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Serialize)]
struct UserPayload<'a> {
    iss: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ent: Option<&'a [String]>,
    aud: &'static str,
    iat: i64,
    exp: i64,
    uip: &'a str,
}

pub struct TokenIssuer {
    keys: Arc<KeyManager>,
    clock: SharedClock,
    issuer: String,
    lifetime_secs: i64,
    omit_ownership_claim: bool,
    user_info: UserInfoWriter,
}

impl TokenIssuer {
    pub fn new(
        settings: &super::TokenSettings,
        keys: Arc<KeyManager>,
        clock: SharedClock,
        user_info: UserInfoWriter,
    ) -> Self {
        Self {
            keys,
            clock,
            issuer: settings.issuer.clone(),
            lifetime_secs: settings.lifetime_secs,
            omit_ownership_claim: settings.omit_ownership_claim,
            user_info,
        }
    }

    /// Signs a token for `sub` owning `ent`, and records the ownership for `/v1/userinfo`.
    pub async fn issue(&self, sub: &str, ent: &[String]) -> Result<IssuedToken, TokenError> {
        self.issue_until(sub, ent, i64::MAX).await
    }

    /// As [`Self::issue`], but the token expires no later than `not_after_secs` (Unix
    /// seconds): a token exchange caps it at the subject token's own expiry.
    pub async fn issue_until(
        &self,
        sub: &str,
        ent: &[String],
        not_after_secs: i64,
    ) -> Result<IssuedToken, TokenError> {
        EntityRef::parse_with_kind(sub).map_err(|_| TokenError::InvalidSubject)?;
        let key = self.keys.signing_key().await?;
        let iat = self.clock.now_seconds();
        let exp = iat.saturating_add(self.lifetime_secs).min(not_after_secs);

        let limited_payload = encode_json(&LimitedPayload { sub, iat, exp })?;
        let limited_input = format!("{}.{limited_payload}", key.limited_header_b64);
        let uip = key.sign_b64(limited_input.as_bytes())?;

        let payload = encode_json(&UserPayload {
            iss: &self.issuer,
            sub,
            ent: (!self.omit_ownership_claim).then_some(ent),
            aud: "backstage",
            iat,
            exp,
            uip: &uip,
        })?;
        let token = jose::assemble(&key.user_header_b64, &payload, |input| {
            key.sign_b64(input).ok()
        })
        .ok_or(KeyError::Sign)?;

        if token.len() > MAX_TOKEN_LENGTH {
            return Err(TokenError::TooLarge {
                subject: sub.to_owned(),
                ownership_refs: ent.len(),
            });
        }
        self.user_info.record(sub, ent).await?;
        Ok(IssuedToken {
            token,
            user_entity_ref: sub.to_owned(),
            ownership_entity_refs: ent.to_vec(),
            expires_at_secs: exp,
        })
    }
}

fn encode_json<T: Serialize>(value: &T) -> Result<String, KeyError> {
    jose::encode_segment(value).ok_or(KeyError::Sign)
}
