//! Who invokes an action, as Backstage's `httpAuth.credentials` sees it: nobody (no token), a
//! user (a full user token; or a plugin's service token on behalf of a user, the `obo`
//! limited token, which is how the MCP actions backend calls), or a service (a plugin token
//! without `obo`, a `backend.auth.externalAccess` static token).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::settings::PluginDiscovery;
use crate::clock::SharedClock;
use crate::error::Error;
use crate::http::AppState;
use crate::jose;
use crate::oauth::jwks::{JwksCache, JwsError};
use crate::tokens::{VerifyError, verify_user_token};

const PLUGIN_TOKEN_TYP: &str = "vnd.backstage.plugin";
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// Plugins whose keys are kept; a token naming yet another plugin is refused.
const MAX_PLUGINS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    None,
    User(String),
    Service(String),
}

/// Service-token keys of the plugins that call, found through discovery.
pub struct PluginKeys {
    discovery: PluginDiscovery,
    http: reqwest::Client,
    clock: SharedClock,
    caches: Mutex<HashMap<String, Arc<JwksCache>>>,
}

impl PluginKeys {
    pub fn new(discovery: PluginDiscovery, http: reqwest::Client, clock: SharedClock) -> Self {
        Self {
            discovery,
            http,
            clock,
            caches: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self, plugin: &str) -> Result<Arc<JwksCache>, Error> {
        let mut caches = self
            .caches
            .lock()
            .map_err(|_| Error::internal("the plugin key cache", &"poisoned"))?;
        if let Some(cache) = caches.get(plugin) {
            return Ok(cache.clone());
        }
        if caches.len() >= MAX_PLUGINS {
            return Err(Error::authentication("Failed plugin token verification"));
        }
        let base = self
            .discovery
            .base_url(plugin)
            .ok_or_else(|| Error::authentication("Failed plugin token verification"))?;
        let cache = Arc::new(JwksCache::new(
            format!("{base}/.backstage/auth/v1/jwks.json"),
            self.http.clone(),
            JWKS_TIMEOUT,
            self.clock.clone(),
        ));
        caches.insert(plugin.to_owned(), cache.clone());
        Ok(cache)
    }

    /// Verifies a plugin token meant for `auth`: its plugin and `obo` token.
    async fn verify(&self, token: &str, now: i64) -> Result<(String, Option<String>), Error> {
        let failed = || Error::authentication("Failed plugin token verification");
        let claims = jose::unverified_claims(token).ok_or_else(failed)?;
        let plugin = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let valid_id = !plugin.is_empty()
            && plugin
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_id {
            return Err(Error::authentication(
                "Invalid plugin token: forbidden subject format",
            ));
        }
        let cache = self.cache(plugin)?;
        let algorithms = ["ES256".to_owned()];
        let (_, claims) = cache
            .verify_jws(token, &algorithms, "the plugin token")
            .await
            .map_err(|error| match error {
                JwsError::KeysUnavailable(reason) => {
                    Error::service_unavailable("The calling plugin's keys cannot be read", &reason)
                }
                JwsError::Invalid(_)
                | JwsError::AlgorithmNotAllowed(_)
                | JwsError::UnknownKey(_)
                | JwsError::BadSignature(_) => failed(),
            })?;
        let times = jose::Times {
            now,
            exp_leeway: 0,
            leeway: 0,
            require_exp: true,
            require_iat: true,
        };
        // As jose's jwtVerify: `exp` and `nbf` are checked, an `iat` ahead of this clock is not.
        let timely = matches!(
            times.check(&claims),
            Ok(_) | Err(jose::TimeError::IssuedInTheFuture { .. })
        );
        if claims.get("aud").and_then(Value::as_str) != Some("auth") || !timely {
            return Err(failed());
        }
        let obo = claims.get("obo").and_then(Value::as_str).map(str::to_owned);
        Ok((plugin.to_owned(), obo))
    }
}

/// The caller of a request; a token that proves nothing is Backstage's 401.
pub async fn principal(
    state: &AppState,
    keys: &PluginKeys,
    headers: &HeaderMap,
) -> Result<Principal, Error> {
    let Some(token) = crate::http::bearer_token(headers) else {
        return Ok(Principal::None);
    };
    let now = state.clock.now_seconds();
    let typ = jose::Compact::parse(token)
        .and_then(|jws| jws.header::<serde_json::Map<String, Value>>())
        .and_then(|header| header.get("typ").and_then(Value::as_str).map(str::to_owned));
    if typ.as_deref() == Some(PLUGIN_TOKEN_TYP) {
        let (plugin, obo) = keys.verify(token, now).await?;
        return match obo {
            Some(obo) => user(state, &obo, now, true)
                .await
                .map_err(|_| Error::authentication("Invalid user token in plugin token obo claim")),
            None => Ok(Principal::Service(format!("plugin:{plugin}"))),
        };
    }
    let is_static = state
        .web
        .external_static_tokens
        .iter()
        .any(|known| bool::from(known.as_bytes().ct_eq(token.as_bytes())));
    if is_static {
        return Ok(Principal::Service("external".to_owned()));
    }
    user(state, token, now, false).await
}

async fn user(
    state: &AppState,
    token: &str,
    now: i64,
    allow_limited: bool,
) -> Result<Principal, Error> {
    verify_user_token(state.keys.public_keys(), now, token, allow_limited)
        .await
        .map(Principal::User)
        .map_err(|error| match error {
            VerifyError::Keys(error) => {
                crate::http::error::key_error("reading signing keys failed", &error)
            }
            other => Error::authentication(other.to_string()),
        })
}
