//! `auth`: token lifetime and algorithm, the key store, extra allowed origins, providers.

use super::model::{RawAuth, RawStagedoor};
use super::providers::ProviderSettings;
use super::validator::Validator;
use crate::glob::OriginPatterns;
use crate::keys::{KeyStoreSettings, StaticKeySettings};

const DEFAULT_TOKEN_LIFETIME: i64 = 3600;
const MIN_TOKEN_LIFETIME: i64 = 600;
const MAX_TOKEN_LIFETIME: i64 = 86_400;

pub(super) struct AuthSettings {
    pub token_lifetime_secs: i64,
    pub omit_ownership_claim: bool,
    pub key_store: KeyStoreSettings,
    pub extra_allowed_origins: OriginPatterns,
    pub providers: ProviderSettings,
}

pub(super) fn auth_settings(
    v: &mut Validator,
    auth: RawAuth,
    external_base_url: &str,
    env: super::EnvLookup<'_>,
) -> Option<AuthSettings> {
    let token_lifetime_secs = match &auth.backstage_token_expiration {
        None => DEFAULT_TOKEN_LIFETIME,
        Some(value) => match value.to_seconds() {
            Ok(seconds) => (seconds.round() as i64).clamp(MIN_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME),
            Err(message) => {
                v.problem("auth.backstageTokenExpiration", message);
                DEFAULT_TOKEN_LIFETIME
            }
        },
    };
    if let Some(algorithm) = auth
        .identity_token_algorithm
        .as_deref()
        .filter(|a| *a != "ES256")
    {
        v.problem("auth.identityTokenAlgorithm", format!("\"{algorithm}\" is not supported; stagedoor signs with ES256 (remove the key or set ES256)"));
    }
    let key_store = key_store(v, &auth);
    for (index, pattern) in auth.experimental_extra_allowed_origins.iter().enumerate() {
        if crate::glob::is_too_broad(pattern) {
            v.problem(
                &format!("auth.experimentalExtraAllowedOrigins.{index}"),
                format!("\"{pattern}\" allows any site on the web (or under a whole top-level domain) to receive sign-in results; name your own domain, e.g. https://*.preview.example.com"),
            );
        }
    }
    let extra_allowed_origins = v.patterns(
        "auth.experimentalExtraAllowedOrigins",
        &auth.experimental_extra_allowed_origins,
    );
    let providers = super::providers::providers(v, &auth.providers, external_base_url, env);
    Some(AuthSettings {
        token_lifetime_secs,
        omit_ownership_claim: auth.omit_identity_token_ownership_claim.unwrap_or(true),
        key_store,
        extra_allowed_origins,
        providers,
    })
}

fn key_store(v: &mut Validator, auth: &RawAuth) -> KeyStoreSettings {
    match auth.key_store.provider.as_deref().unwrap_or("database") {
        "database" => KeyStoreSettings::Database,
        "memory" => KeyStoreSettings::Memory,
        "static" => KeyStoreSettings::Static(static_keys(v, auth)),
        "firestore" => {
            v.problem("auth.keyStore.provider", "\"firestore\" is not supported by stagedoor; use database (keys shared through stagedoor's database) or static");
            KeyStoreSettings::Database
        }
        other => {
            v.problem(
                "auth.keyStore.provider",
                format!("\"{other}\" is not a key store; use database, memory or static"),
            );
            KeyStoreSettings::Database
        }
    }
}

fn static_keys(v: &mut Validator, auth: &RawAuth) -> Vec<StaticKeySettings> {
    let keys = auth
        .key_store
        .static_keys
        .as_ref()
        .map(|s| s.keys.as_slice())
        .unwrap_or_default();
    if keys.is_empty() {
        v.problem("auth.keyStore.static.keys", "needs at least one key ({publicKeyFile, privateKeyFile, keyId}) when provider is static");
    }
    let mut out = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let base = format!("auth.keyStore.static.keys.{index}");
        if let Some(algorithm) = key.algorithm.as_deref().filter(|a| *a != "ES256") {
            v.problem(
                &format!("{base}.algorithm"),
                format!("\"{algorithm}\" is not supported; use ES256 keys (P-256)"),
            );
        }
        let mut read = |field: &str, file: &str| {
            std::fs::read_to_string(file).unwrap_or_else(|error| {
                v.problem(
                    &format!("{base}.{field}"),
                    format!("cannot read \"{file}\": {error}"),
                );
                String::new()
            })
        };
        let public_key_pem = read("publicKeyFile", &key.public_key_file);
        let private_key_pem = read("privateKeyFile", &key.private_key_file);
        out.push(StaticKeySettings {
            config_path: base,
            key_id: key.key_id.clone(),
            public_key_pem,
            private_key_pem,
        });
    }
    out
}

/// `stagedoor.keyRotation`: how often generated keys rotate; the token lifetime by default,
/// as in Node.
pub(super) fn key_rotation_ms(
    v: &mut Validator,
    stagedoor: &RawStagedoor,
    auth: Option<&AuthSettings>,
) -> i64 {
    let default = auth.map_or(DEFAULT_TOKEN_LIFETIME, |auth| auth.token_lifetime_secs);
    v.seconds(
        "stagedoor.keyRotation",
        stagedoor.key_rotation.as_ref(),
        default as f64,
        (5.0, 30.0 * 86_400.0),
    )
    .as_millis() as i64
}
