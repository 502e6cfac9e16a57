//! Who may call the admin API: a configured static token (compared in constant time), or a
//! Backstage service token from an allowed plugin, verified as Node verifies plugin tokens
//! (`typ: vnd.backstage.plugin`, ES256, `aud: auth`, keys from the calling plugin's
//! `/.backstage/auth/v1/jwks.json`).

use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::AdminSettings;
use crate::clock::SharedClock;
use crate::jose;
use crate::oauth::id_token::LEEWAY_SECS;
use crate::oauth::jwks::JwksCache;

const PLUGIN_TOKEN_TYP: &str = "vnd.backstage.plugin";
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// The caller, for the logs and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The n-th configured static token.
    StaticToken(usize),
    Plugin(String),
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StaticToken(index) => write!(f, "stagedoor.admin.tokens.{index}"),
            Self::Plugin(id) => write!(f, "plugin:{id}"),
        }
    }
}

pub struct AdminAuth {
    tokens: Vec<String>,
    plugins: Vec<(String, JwksCache)>,
    algorithms: Vec<String>,
}

impl AdminAuth {
    /// With neither tokens nor plugins the admin API is off (404).
    pub fn is_enabled(&self) -> bool {
        !self.tokens.is_empty() || !self.plugins.is_empty()
    }

    pub fn new(settings: &AdminSettings, http: &reqwest::Client, clock: &SharedClock) -> Self {
        Self {
            tokens: settings.tokens.clone(),
            plugins: settings
                .plugins
                .iter()
                .map(|plugin| {
                    let jwks = JwksCache::new(
                        plugin.jwks_url.clone(),
                        http.clone(),
                        JWKS_TIMEOUT,
                        clock.clone(),
                    );
                    (plugin.id.clone(), jwks)
                })
                .collect(),
            algorithms: vec!["ES256".to_owned()],
        }
    }

    /// The caller a request's bearer token proves, or why it proves none.
    pub async fn authenticate(&self, headers: &HeaderMap, now_secs: i64) -> Result<Caller, String> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or("Missing credentials; send Authorization: Bearer <admin token>")?;
        // Every configured token is compared, so timing says nothing about which matched.
        let mut matched = None;
        for (index, expected) in self.tokens.iter().enumerate() {
            if bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
                matched = Some(index);
            }
        }
        if let Some(index) = matched {
            return Ok(Caller::StaticToken(index));
        }
        if token.split('.').count() == 3 && !self.plugins.is_empty() {
            return self.plugin_caller(token, now_secs).await;
        }
        Err("Invalid admin credentials".into())
    }

    async fn plugin_caller(&self, token: &str, now_secs: i64) -> Result<Caller, String> {
        let claims =
            jose::unverified_claims(token).ok_or("The service token's payload is not JSON")?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some((plugin, jwks)) = self.plugins.iter().find(|(id, _)| id == subject) else {
            return Err(format!(
                "Plugin '{subject}' may not use the admin API; list it in stagedoor.admin.plugins"
            ));
        };
        let (header, claims) = jwks
            .verify_signature(token, &self.algorithms, "the service token")
            .await?;
        if header.get("typ").and_then(Value::as_str) != Some(PLUGIN_TOKEN_TYP) {
            return Err("The token is not a Backstage service token".into());
        }
        if claims.get("aud").and_then(Value::as_str) != Some("auth") {
            return Err("The service token is not meant for the auth plugin".into());
        }
        let times = jose::Times {
            now: now_secs,
            exp_leeway: 0,
            leeway: LEEWAY_SECS,
            require_exp: true,
            require_iat: true,
        };
        match times.check(&claims) {
            Ok(_) => Ok(Caller::Plugin(plugin.clone())),
            Err(_) => Err("The service token has expired or is not valid yet".into()),
        }
    }
}
