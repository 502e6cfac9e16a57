//! What the web layer needs to know: where to listen and with which limits, which origins
//! may receive sign-in results, which proxies to believe, where `/metrics` is, CORS.

use crate::glob::OriginPatterns;
use crate::net::TrustedProxies;

use super::cors::CorsSettings;
use super::serve::ConnectionLimits;

#[derive(Debug, Clone)]
pub struct WebSettings {
    pub listen: ListenSettings,
    /// `scheme://host[:port]` of `app.baseUrl`: the default allowed origin.
    pub app_origin: String,
    /// `auth.experimentalExtraAllowedOrigins`.
    pub extra_allowed_origins: OriginPatterns,
    /// Peers whose `X-Forwarded-For` is believed (none by default).
    pub trusted_proxies: TrustedProxies,
    pub metrics: MetricsSettings,
    pub cors: Option<CorsSettings>,
    /// `backend.auth.externalAccess` static tokens: recognised so `/v1/userinfo` can say
    /// they are not user tokens, as Backstage does.
    pub external_static_tokens: Vec<String>,
    /// `stagedoor.shutdown.drainPeriod`: how long a SIGTERM'd replica keeps serving (with
    /// `/readyz` failing) before it stops accepting connections.
    pub drain_period: std::time::Duration,
}

/// `stagedoor.listen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSettings {
    pub host: String,
    pub port: u16,
    pub limits: ConnectionLimits,
}

/// `stagedoor.metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsSettings {
    Off,
    /// `/metrics` on the main port.
    MainPort,
    /// `/metrics` on its own address only.
    Separate {
        host: String,
        port: u16,
    },
}
