//! The validated `stagedoor.tokenExchange` section: trusted issuers, their keys, audiences,
//! clients and identity mapping, and the rate limit.

use crate::resolvers::{RefTemplate, SignIn};

/// The validated `stagedoor.tokenExchange` section.
#[derive(Debug, Clone)]
pub struct TokenExchangeSettings {
    pub issuers: Vec<ExchangeIssuerSettings>,
    pub rate_limit: RateLimitSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Exchanges per minute per client, sustained.
    pub per_minute: u32,
    /// Exchanges a client may make at once before the sustained rate applies.
    pub burst: u32,
}

/// Where an issuer's signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Jwks(String),
    /// An OpenID/OAuth discovery document whose `jwks_uri` names the key set.
    Discovery(String),
}

/// Who a subject token becomes in Backstage.
#[derive(Debug, Clone)]
pub enum IdentityMapping {
    /// The browser sign-in resolvers and claim rules (catalog users, templates, ...).
    SignIn(SignIn),
    /// A ref built from the token's claims, for bots outside the catalog.
    Template(RefTemplate),
}

#[derive(Debug, Clone)]
pub struct ExchangeIssuerSettings {
    /// `stagedoor.tokenExchange.issuers.<n>`, for messages.
    pub config_path: String,
    /// Compared exactly with the token's `iss`.
    pub issuer: String,
    pub keys: KeySource,
    pub audiences: Vec<String>,
    pub algorithms: Vec<String>,
    /// Tokens issued (`iat`) longer ago than this are refused.
    pub max_token_age_secs: i64,
    /// Client ids allowed to exchange tokens.
    pub clients: Vec<String>,
    pub identity: IdentityMapping,
    /// Refs added to every identity this issuer's tokens map to.
    pub ownership_entity_refs: Vec<String>,
}
