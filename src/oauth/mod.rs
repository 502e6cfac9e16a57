//! The OAuth 2.0 / OpenID Connect engine the providers share: the IdP's endpoints and calls,
//! ID token validation, scopes, and the sealing of per-sign-in secrets. The routes that drive
//! it are `crate::signin::oauth`.

pub mod api;
pub mod id_token;
pub mod idp;
pub mod jwks;
pub mod key_source;
pub mod scopes;
pub mod sealed;
