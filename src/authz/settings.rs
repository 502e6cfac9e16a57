//! The authorization server's settings, read from Node's keys:
//! `auth.experimentalDynamicClientRegistration`, `auth.clientIdMetadataDocuments` (or the
//! deprecated `auth.experimentalClientIdMetadataDocuments`) and `auth.experimentalRefreshToken`.

use super::patterns::UrlPattern;
use crate::http::AuthorizationServerFeatures;

#[derive(Debug, Clone, Default)]
pub struct AuthzSettings {
    /// `auth.experimentalDynamicClientRegistration` when enabled.
    pub dynamic_registration: Option<RegistrationSettings>,
    /// `auth.clientIdMetadataDocuments` when enabled.
    pub metadata_documents: Option<MetadataDocumentSettings>,
    /// `auth.experimentalRefreshToken` when enabled.
    pub refresh_tokens: Option<RefreshTokenSettings>,
}

#[derive(Debug, Clone)]
pub struct RegistrationSettings {
    /// Redirect URIs a client may register.
    pub redirect_uri_patterns: Vec<UrlPattern>,
}

#[derive(Debug, Clone)]
pub struct MetadataDocumentSettings {
    /// Client ids (document URLs) accepted; the built-in CLI's is always accepted besides.
    pub client_id_patterns: Vec<UrlPattern>,
    pub redirect_uri_patterns: Vec<UrlPattern>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshTokenSettings {
    /// A session unused this long ends (`tokenLifetime`, 30 days).
    pub idle_lifetime_secs: i64,
    /// A session this old ends, however often it is used (`maxRotationLifetime`, 1 year).
    pub max_lifetime_secs: i64,
    /// Sessions kept per user; the least recently used go first (`maxTokensPerUser`, 20).
    pub max_sessions_per_user: u32,
    /// Whether each refresh checks that the user is still in the catalog
    /// (`dangerouslyDisableCatalogPresenceCheck: false`).
    pub catalog_presence_check: bool,
}

impl Default for RefreshTokenSettings {
    fn default() -> Self {
        Self {
            idle_lifetime_secs: 30 * 86_400,
            max_lifetime_secs: 365 * 86_400,
            max_sessions_per_user: 20,
            catalog_presence_check: true,
        }
    }
}

impl AuthzSettings {
    /// Node mounts the authorization server's routes only with DCR or CIMD on.
    pub fn is_enabled(&self) -> bool {
        self.dynamic_registration.is_some() || self.metadata_documents.is_some()
    }

    /// The discovery document's view of these settings.
    pub fn features(&self) -> AuthorizationServerFeatures {
        AuthorizationServerFeatures {
            refresh_tokens: self.refresh_tokens.is_some(),
            dynamic_registration: self.dynamic_registration.is_some(),
            metadata_documents: self.metadata_documents.is_some(),
        }
    }
}
