//! The OAuth 2.0 / OpenID Connect sign-in flows shared by every OAuth provider (§3.1–3.4, §4–§7).

pub mod cookies;
pub mod frame;
pub mod id_token;
pub mod idp;
pub mod state;
