//! Node's authorization server keys: `auth.experimentalDynamicClientRegistration`,
//! `auth.clientIdMetadataDocuments` (if that key exists at all, the deprecated
//! `auth.experimentalClientIdMetadataDocuments` is ignored, as in Node) and
//! `auth.experimentalRefreshToken`; and `backend.actions` for the actions registry.

use super::model::{RawActions, RawAuth, RawMetadataDocuments, RawRefreshToken};
use super::validator::Validator;
use crate::actions::{ActionRule, ActionsSettings};
use crate::authz::{
    AuthzSettings, LOOPBACK_REDIRECT_PATTERNS, MetadataDocumentSettings, RefreshTokenSettings,
    RegistrationSettings, UrlPattern,
};

const DEFAULT_CLIENT_ID_PATTERNS: &[&str] = &[
    "https://claude.ai/*",
    "https://vscode.dev/*",
    "https://chatgpt.com/oauth/codex/*/client.json",
];
const DEFAULT_DCR_REDIRECT_PATTERNS: &[&str] = &["cursor://*", "https://www.cursor.com/*"];

pub(super) fn authz_settings(v: &mut Validator, auth: &RawAuth) -> AuthzSettings {
    let dynamic_registration = auth
        .experimental_dynamic_client_registration
        .as_ref()
        .filter(|raw| raw.enabled.unwrap_or(false))
        .map(|raw| {
            let defaults = DEFAULT_DCR_REDIRECT_PATTERNS
                .iter()
                .chain(LOOPBACK_REDIRECT_PATTERNS);
            RegistrationSettings {
                redirect_uri_patterns: patterns(
                    v,
                    "auth.experimentalDynamicClientRegistration.allowedRedirectUriPatterns",
                    raw.allowed_redirect_uri_patterns.as_deref(),
                    defaults,
                ),
            }
        });
    let (path, documents) = match &auth.client_id_metadata_documents {
        Some(raw) => ("auth.clientIdMetadataDocuments", Some(raw)),
        None => (
            "auth.experimentalClientIdMetadataDocuments",
            auth.experimental_client_id_metadata_documents.as_ref(),
        ),
    };
    let metadata_documents = documents
        .filter(|raw| raw.enabled.unwrap_or(false))
        .map(|raw| metadata_documents(v, path, raw));
    let refresh_tokens = auth
        .experimental_refresh_token
        .as_ref()
        .filter(|raw| raw.enabled.unwrap_or(false))
        .map(|raw| refresh_tokens(v, raw));
    AuthzSettings {
        dynamic_registration,
        metadata_documents,
        refresh_tokens,
    }
}

fn metadata_documents(
    v: &mut Validator,
    path: &str,
    raw: &RawMetadataDocuments,
) -> MetadataDocumentSettings {
    MetadataDocumentSettings {
        client_id_patterns: patterns(
            v,
            &format!("{path}.allowedClientIdPatterns"),
            raw.allowed_client_id_patterns.as_deref(),
            DEFAULT_CLIENT_ID_PATTERNS.iter(),
        ),
        redirect_uri_patterns: patterns(
            v,
            &format!("{path}.allowedRedirectUriPatterns"),
            raw.allowed_redirect_uri_patterns.as_deref(),
            LOOPBACK_REDIRECT_PATTERNS.iter(),
        ),
    }
}

/// The configured patterns (replacing the defaults), each checked at start-up.
fn patterns<'a>(
    v: &mut Validator,
    path: &str,
    configured: Option<&[String]>,
    defaults: impl Iterator<Item = &'a &'a str>,
) -> Vec<UrlPattern> {
    let texts: Vec<String> = match configured {
        Some(configured) => configured.to_vec(),
        None => defaults.map(|text| (*text).to_owned()).collect(),
    };
    let mut parsed = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        match UrlPattern::parse(text) {
            Ok(pattern) => parsed.push(pattern),
            Err(message) => v.problem(&format!("{path}.{index}"), message),
        }
    }
    parsed
}

fn refresh_tokens(v: &mut Validator, raw: &RawRefreshToken) -> RefreshTokenSettings {
    let defaults = RefreshTokenSettings::default();
    let mut seconds = |key: &str, value: Option<&crate::section::DurationValue>, default: i64| {
        let path = format!("auth.experimentalRefreshToken.{key}");
        match value.map(crate::section::DurationValue::to_seconds) {
            None => default,
            Some(Ok(seconds)) if seconds >= 1.0 => seconds.floor() as i64,
            Some(Ok(_)) => {
                v.problem(&path, "must be a positive duration, e.g. {days: 30}");
                default
            }
            Some(Err(message)) => {
                v.problem(&path, message);
                default
            }
        }
    };
    let idle = seconds(
        "tokenLifetime",
        raw.token_lifetime.as_ref(),
        defaults.idle_lifetime_secs,
    );
    let max = seconds(
        "maxRotationLifetime",
        raw.max_rotation_lifetime.as_ref(),
        defaults.max_lifetime_secs,
    );
    if max <= idle {
        v.problem(
            "auth.experimentalRefreshToken.maxRotationLifetime",
            "must be greater than tokenLifetime (a session used every day would otherwise end before it idles out)",
        );
    }
    let max_sessions = match raw.max_tokens_per_user {
        None => defaults.max_sessions_per_user,
        Some(count) if count > 0 => u32::try_from(count).unwrap_or(u32::MAX),
        Some(count) => {
            v.problem(
                "auth.experimentalRefreshToken.maxTokensPerUser",
                format!("{count} is not a positive number; use e.g. 20"),
            );
            defaults.max_sessions_per_user
        }
    };
    RefreshTokenSettings {
        idle_lifetime_secs: idle,
        max_lifetime_secs: max,
        max_sessions_per_user: max_sessions,
        catalog_presence_check: !raw
            .dangerously_disable_catalog_presence_check
            .unwrap_or(false),
    }
}

/// `backend.actions.pluginSources` and `backend.actions.filter`.
pub(super) fn actions_settings(v: &mut Validator, raw: Option<&RawActions>) -> ActionsSettings {
    let Some(raw) = raw else {
        return ActionsSettings::default();
    };
    let mut rules = |kind: &str, rules: &[super::model::RawActionRule]| {
        let mut out = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let path = format!("backend.actions.filter.{kind}.{index}");
            match ActionRule::new(rule.id.as_deref(), &rule.attributes) {
                Ok(rule) => out.push(rule),
                Err(message) => v.problem(&path, message),
            }
        }
        out
    };
    let (include, exclude) = match &raw.filter {
        Some(filter) => (
            rules("include", &filter.include),
            rules("exclude", &filter.exclude),
        ),
        None => (Vec::new(), Vec::new()),
    };
    ActionsSettings {
        plugin_sources: raw.plugin_sources.clone(),
        include,
        exclude,
        discovery: Default::default(),
    }
}
