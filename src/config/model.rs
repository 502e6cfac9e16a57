//! The parts of a Backstage `app-config.yaml` that stagedoor reads, as written in the file.
//! Unknown keys are ignored (they belong to other plugins), except in `stagedoor:`.

use std::collections::BTreeMap;

use serde::Deserialize;

pub use super::model_database::*;
pub use super::values::{OneOrMany, RawPort};

use crate::section::DurationValue;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawConfig {
    pub app: RawApp,
    pub backend: RawBackend,
    pub auth: RawAuth,
    pub discovery: RawDiscovery,
    pub stagedoor: RawStagedoor,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawApp {
    pub base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawBackend {
    pub base_url: Option<String>,
    pub cors: Option<RawCors>,
    pub auth: RawBackendAuth,
    pub database: Option<RawBackendDatabase>,
    pub actions: Option<RawActions>,
}

/// `backend.actions`: which plugins' actions the actions registry exposes.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawActions {
    pub plugin_sources: Option<Vec<String>>,
    pub filter: Option<RawActionFilter>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawActionFilter {
    pub include: Vec<RawActionRule>,
    pub exclude: Vec<RawActionRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawActionRule {
    pub id: Option<String>,
    pub attributes: BTreeMap<String, bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawCors {
    pub origin: Option<OneOrMany>,
    pub methods: Option<OneOrMany>,
    pub allowed_headers: Option<OneOrMany>,
    pub exposed_headers: Option<OneOrMany>,
    pub credentials: Option<bool>,
    pub max_age: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawBackendAuth {
    pub external_access: Vec<RawExternalAccess>,
}

#[derive(Debug, Deserialize)]
pub struct RawExternalAccess {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub options: BTreeMap<String, figment::value::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawAuth {
    pub environment: Option<String>,
    pub backstage_token_expiration: Option<DurationValue>,
    pub identity_token_algorithm: Option<String>,
    pub omit_identity_token_ownership_claim: Option<bool>,
    pub key_store: RawKeyStore,
    pub experimental_extra_allowed_origins: Vec<String>,
    pub providers: BTreeMap<String, figment::value::Value>,
    pub experimental_dynamic_client_registration: Option<RawDynamicRegistration>,
    pub client_id_metadata_documents: Option<RawMetadataDocuments>,
    /// Deprecated: read only when `clientIdMetadataDocuments` is absent.
    pub experimental_client_id_metadata_documents: Option<RawMetadataDocuments>,
    pub experimental_refresh_token: Option<RawRefreshToken>,
}

/// `auth.experimentalDynamicClientRegistration`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawDynamicRegistration {
    pub enabled: Option<bool>,
    pub allowed_redirect_uri_patterns: Option<Vec<String>>,
}

/// `auth.clientIdMetadataDocuments`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawMetadataDocuments {
    pub enabled: Option<bool>,
    pub allowed_client_id_patterns: Option<Vec<String>>,
    pub allowed_redirect_uri_patterns: Option<Vec<String>>,
}

/// `auth.experimentalRefreshToken`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawRefreshToken {
    pub enabled: Option<bool>,
    pub token_lifetime: Option<DurationValue>,
    pub max_rotation_lifetime: Option<DurationValue>,
    pub max_tokens_per_user: Option<i64>,
    pub dangerously_disable_catalog_presence_check: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawKeyStore {
    pub provider: Option<String>,
    #[serde(rename = "static")]
    pub static_keys: Option<RawStaticKeys>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStaticKeys {
    #[serde(default)]
    pub keys: Vec<RawStaticKey>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawStaticKey {
    pub public_key_file: String,
    pub private_key_file: String,
    pub key_id: String,
    pub algorithm: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawDiscovery {
    pub endpoints: Vec<RawDiscoveryEndpoint>,
}

#[derive(Debug, Deserialize)]
pub struct RawDiscoveryEndpoint {
    pub target: RawDiscoveryTarget,
    #[serde(default)]
    pub plugins: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawDiscoveryTarget {
    Url(String),
    Split {
        internal: Option<String>,
        external: Option<String>,
    },
}

/// stagedoor's own section: strict, so typos are caught at start-up.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStagedoor {
    pub listen: RawServerListen,
    pub base_url: Option<String>,
    pub database: Option<String>,
    pub database_shared: Option<bool>,
    pub database_pool: Option<RawDatabasePool>,
    pub key_rotation: Option<DurationValue>,
    pub sessions: Option<RawSessions>,
    pub admin: Option<RawAdmin>,
    pub audit: Option<RawAudit>,
    pub logging: Option<RawLogging>,
    pub metrics: Option<RawMetrics>,
    pub development: Option<bool>,
    pub shutdown: Option<RawShutdown>,
    pub catalog: RawCatalog,
    pub token_exchange: Option<RawTokenExchange>,
}

/// `stagedoor.shutdown`: how a SIGTERM is taken.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawShutdown {
    pub drain_period: Option<DurationValue>,
}

/// `stagedoor.audit`: where audit events go.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAudit {
    pub sink: Option<String>,
    pub path: Option<String>,
}

/// `stagedoor.metrics`: the Prometheus endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawMetrics {
    pub enabled: Option<bool>,
    /// A separate address for `/metrics` (then the main port does not serve it).
    pub listen: Option<RawListen>,
}

/// `stagedoor.logging`: diagnostic logs on stderr.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLogging {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// `stagedoor.sessions`: server-side sessions.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSessions {
    pub enabled: Option<bool>,
    pub secret: Option<String>,
}

/// `stagedoor.admin`: who may use the session admin API.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAdmin {
    pub tokens: Vec<String>,
    pub plugins: Vec<String>,
}

/// `stagedoor.databasePool`: PostgreSQL connection pool limits.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawDatabasePool {
    pub max_connections: Option<u32>,
    pub min_connections: Option<u32>,
    pub acquire_timeout: Option<DurationValue>,
    pub idle_timeout: Option<DurationValue>,
    pub statement_timeout: Option<DurationValue>,
}

/// How stagedoor reaches the catalog for sign-in lookups.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCatalog {
    pub base_url: Option<String>,
    pub auth: Option<RawCatalogAuth>,
    pub timeout: Option<DurationValue>,
    pub cache_ttl: Option<DurationValue>,
    pub cache_size: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawCatalogAuth {
    #[serde(rename = "type")]
    pub kind: String,
    pub token: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub subject: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawListen {
    pub host: Option<String>,
    pub port: Option<RawPort>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RawGuestProvider {
    pub user_entity_ref: Option<String>,
    pub ownership_entity_refs: Option<Vec<String>>,
    pub dangerously_allow_outside_development: Option<bool>,
}

/// `stagedoor.listen`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawServerListen {
    pub host: Option<String>,
    pub port: Option<RawPort>,
    pub header_timeout: Option<DurationValue>,
    pub keep_alive_timeout: Option<DurationValue>,
    pub request_timeout: Option<DurationValue>,
    pub max_connections: Option<u64>,
    pub trusted_proxies: Vec<String>,
}

/// `stagedoor.tokenExchange`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTokenExchange {
    pub issuers: Vec<RawExchangeIssuer>,
    pub rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawExchangeIssuer {
    pub issuer: Option<String>,
    pub jwks_url: Option<String>,
    pub metadata_url: Option<String>,
    pub audiences: Option<OneOrMany>,
    pub algorithms: Option<Vec<String>>,
    pub max_token_age: Option<DurationValue>,
    pub clients: Option<Vec<String>>,
    pub user_entity_ref: Option<String>,
    pub ownership_entity_refs: Option<Vec<String>>,
    pub sign_in: Option<figment::value::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RawRateLimit {
    pub per_minute: Option<u32>,
    pub burst: Option<u32>,
}
