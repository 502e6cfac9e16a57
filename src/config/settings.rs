//! Everything stagedoor needs, validated and assembled from the settings types of the modules
//! that use them.

use url::Url;

use super::LoggingSettings;
use super::providers::ProviderSettings;
use crate::actions::ActionsSettings;
use crate::admin::AdminSettings;
use crate::audit::AuditSink;
use crate::authz::AuthzSettings;
use crate::catalog::CatalogSettings;
use crate::exchange::TokenExchangeSettings;
use crate::http::WebSettings;
use crate::keys::KeySettings;
use crate::sessions::SessionSettings;
use crate::store::DatabaseSettings;
use crate::tokens::TokenSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_base_url: Url,
    /// External URL of the auth API, without a trailing slash: token `iss`, OIDC issuer.
    pub external_base_url: String,
    /// Listening, origins, forwarded addresses, metrics, CORS.
    pub web: WebSettings,
    pub database: DatabaseSettings,
    /// What `NODE_ENV=development` means to Backstage (`stagedoor.development`).
    pub development: bool,
    pub tokens: TokenSettings,
    pub keys: KeySettings,
    /// Server-side sessions; `None`: the refresh token lives in the browser, as in Node.
    pub sessions: Option<SessionSettings>,
    pub admin: AdminSettings,
    pub audit: AuditSink,
    pub logging: LoggingSettings,
    pub catalog: CatalogSettings,
    pub providers: ProviderSettings,
    /// `stagedoor.tokenExchange`: `None` turns its grant of `POST /v1/token` off.
    pub token_exchange: Option<TokenExchangeSettings>,
    /// The authorization server for the CLI and MCP clients (Node's experimental flags).
    pub authz: AuthzSettings,
    /// The actions registry (`backend.actions`).
    pub actions: ActionsSettings,
}
