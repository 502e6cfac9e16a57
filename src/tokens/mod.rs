//! Backstage identity tokens (§8): issuance with the `uip` proof, and verification of
//! incoming user and limited-user tokens (§13.1).

mod issue;
mod verify;

pub use issue::{IssuedToken, TokenError, TokenIssuer};
pub use verify::{VerifyError, verify_user_token};
