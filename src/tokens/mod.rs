//! Backstage identity tokens (§8): issuance with the `uip` proof, and verification of
//! incoming user and limited-user tokens (§13.1).

mod issue;
mod verify;

pub use issue::{IssuedToken, TokenError, TokenIssuer};
pub use verify::{VerifyError, verify_user_token};

/// How user tokens are issued: `iss`, lifetime (`auth.backstageTokenExpiration`), and whether
/// the ownership claim `ent` is left out (`auth.omitIdentityTokenOwnershipClaim`).
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub lifetime_secs: i64,
    pub omit_ownership_claim: bool,
}

/// A JWT's claims, read without verifying anything: only to pick how to verify it, or for
/// tokens whose signature was checked another way.
pub fn unverified_payload(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice(&payload).ok()
}
