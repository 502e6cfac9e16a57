//! `stagedoor.sessions` (server-side sessions) and `stagedoor.admin` (who may list and
//! revoke them).

use url::Url;

use super::catalog::plugin_base_url;
use super::model::{RawConfig, RawSessions};
use super::secrets::{MIN_SECRET_BITS, estimated_bits};
use super::validator::Validator;
use crate::admin::{AdminPlugin, AdminSettings};
use crate::sessions::SessionSettings;

const MIN_SECRET_CHARS: usize = 32;
const LOW_ENTROPY: &str = "is long enough but barely random (repeated or patterned characters); generate one with openssl rand -base64 32";

pub(super) fn session_settings(
    v: &mut Validator,
    raw: Option<&RawSessions>,
) -> Option<SessionSettings> {
    let raw = raw?;
    if !raw.enabled.unwrap_or(true) {
        return None;
    }
    let Some(secret) = raw.secret.as_deref().map(str::trim) else {
        v.problem(
            "stagedoor.sessions.secret",
            "is required when sessions are on; set it to ${STAGEDOOR_SESSION_SECRET} and put at least 32 random characters there (openssl rand -base64 32)",
        );
        return None;
    };
    if secret.chars().count() < MIN_SECRET_CHARS {
        v.problem(
            "stagedoor.sessions.secret",
            format!("is {} characters long; use at least {MIN_SECRET_CHARS} random characters (openssl rand -base64 32)", secret.chars().count()),
        );
    } else if estimated_bits(secret) < MIN_SECRET_BITS {
        v.problem("stagedoor.sessions.secret", LOW_ENTROPY);
    }
    Some(SessionSettings {
        secret: secret.to_owned(),
    })
}

pub(super) fn admin_settings(
    v: &mut Validator,
    config: &RawConfig,
    backend_base_url: Option<&Url>,
) -> AdminSettings {
    let Some(raw) = config.stagedoor.admin.as_ref() else {
        return AdminSettings::default();
    };
    let endpoints = &config.discovery.endpoints;
    for (index, token) in raw.tokens.iter().enumerate() {
        if token.trim().chars().count() < MIN_SECRET_CHARS {
            v.problem(
                &format!("stagedoor.admin.tokens.{index}"),
                format!("is too short to be a secret; use at least {MIN_SECRET_CHARS} random characters from the environment, e.g. ${{STAGEDOOR_ADMIN_TOKEN}}"),
            );
        } else if estimated_bits(token.trim()) < MIN_SECRET_BITS {
            v.problem(&format!("stagedoor.admin.tokens.{index}"), LOW_ENTROPY);
        }
    }
    let mut plugins = Vec::new();
    for (index, id) in raw.plugins.iter().enumerate() {
        let valid = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            v.problem(
                &format!("stagedoor.admin.plugins.{index}"),
                format!("\"{id}\" is not a Backstage plugin id; use letters, digits, - and _ as in 'catalog'"),
            );
            continue;
        }
        if let Some(base) = plugin_base_url(v, endpoints, backend_base_url, id) {
            plugins.push(AdminPlugin {
                id: id.clone(),
                jwks_url: format!("{base}/.backstage/auth/v1/jwks.json"),
            });
        }
    }
    AdminSettings {
        tokens: raw
            .tokens
            .iter()
            .map(|token| token.trim().to_owned())
            .collect(),
        plugins,
    }
}
