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
