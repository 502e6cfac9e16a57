//! How stagedoor authenticates to the catalog (§13.3): as the `auth` plugin does, with a
//! plugin token the catalog verifies through `/.backstage/auth/v1/jwks.json` (the default,
//! no catalog change needed); with a static external-access token; or with a JWT that an
//! external-access `jwks` entry verifies.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use serde::Serialize;

use crate::clock::SharedClock;
use crate::keys::{KeyError, KeyManager};

const PLUGIN_TYP: &str = "vnd.backstage.plugin";
const TOKEN_LIFETIME_SECS: i64 = 3600;
/// A cached token is replaced this long before it expires.
const RENEW_BEFORE_SECS: i64 = 600;

#[derive(Debug, Clone)]
pub enum CatalogAuthSettings {
    PluginToken,
    Static {
        token: String,
    },
    Jwt {
        issuer: String,
        audience: String,
        subject: String,
    },
}

pub struct CatalogCredentials {
    settings: CatalogAuthSettings,
    keys: Arc<KeyManager>,
    clock: SharedClock,
    cached: ArcSwapOption<(String, i64)>,
}

#[derive(Serialize)]
struct PluginClaims<'a> {
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl CatalogCredentials {
    pub fn new(
        settings: CatalogAuthSettings,
        plugin_keys: Arc<KeyManager>,
        clock: SharedClock,
    ) -> Self {
        Self {
            settings,
            keys: plugin_keys,
            clock,
            cached: ArcSwapOption::empty(),
        }
    }

    /// The `Authorization` header value for a catalog request.
    pub async fn authorization(&self) -> Result<String, KeyError> {
        if let CatalogAuthSettings::Static { token } = &self.settings {
            return Ok(format!("Bearer {token}"));
        }
        let now = self.clock.now_seconds();
        if let Some(cached) = self.cached.load_full()
            && cached.1 - RENEW_BEFORE_SECS > now
        {
            return Ok(format!("Bearer {}", cached.0));
        }
        let key = self.keys.signing_key().await?;
        let exp = now + TOKEN_LIFETIME_SECS;
        let token = match &self.settings {
            CatalogAuthSettings::Jwt {
                issuer,
                audience,
                subject,
            } => key.compact_jws(
                "JWT",
                &JwtClaims {
                    iss: issuer,
                    sub: subject,
                    aud: audience,
                    iat: now,
                    exp,
                },
            )?,
            _ => key.compact_jws(
                PLUGIN_TYP,
                &PluginClaims {
                    sub: "auth",
                    aud: "catalog",
                    iat: now,
                    exp,
                },
            )?,
        };
        self.cached.store(Some(Arc::new((token.clone(), exp))));
        Ok(format!("Bearer {token}"))
    }
}
