//! `auth.providers`: the guest provider, OAuth provider environments, and the `signIn`
//! blocks of providers stagedoor does not serve yet.

use std::collections::BTreeMap;

use super::model::RawGuestProvider;
use super::path_of;
use super::validate::{GuestSettings, Validator};
use crate::providers::oauth_settings::{EnvReader, OAuthEnvSettings};

const DEFAULT_GUEST_REF: &str = "user:development/guest";

pub(super) fn providers(
    v: &mut Validator,
    providers: &BTreeMap<String, figment::value::Value>,
    external_base_url: &str,
) -> (Option<GuestSettings>, Vec<OAuthEnvSettings>, Vec<String>) {
    let mut guest = None;
    let mut oauth = Vec::new();
    let mut unsupported = Vec::new();
    for (id, value) in providers {
        match id.as_str() {
            "guest" => guest = guest_settings(v, value),
            "oidc" => oauth.extend(oauth_environments(v, id, value, external_base_url)),
            preset if crate::providers::presets::PRESETS.contains(&preset) => {
                oauth.extend(oauth_environments(v, id, value, external_base_url));
            }
            other => {
                check_sign_in_blocks(v, other, value);
                unsupported.push(other.to_owned());
            }
        }
    }
    (guest, oauth, unsupported)
}

/// Every environment under `auth.providers.<id>` (each key is one, as in Backstage).
fn oauth_environments(
    v: &mut Validator,
    provider: &str,
    value: &figment::value::Value,
    external_base_url: &str,
) -> Vec<OAuthEnvSettings> {
    let Some(environments) = value.as_dict() else {
        v.problem(
            &format!("auth.providers.{provider}"),
            "must map environment names (e.g. development) to provider settings",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (environment, config) in environments {
        let base = format!("auth.providers.{provider}.{environment}");
        let Some(config) = config.as_dict() else {
            v.problem(
                &base,
                "must be an object with the provider's settings (clientId, clientSecret, ...)",
            );
            continue;
        };
        let mut reader = EnvReader {
            base,
            config,
            problems: &mut v.problems,
        };
        out.push(match provider {
            "oidc" => crate::providers::oidc::settings(&mut reader, environment, external_base_url),
            preset => crate::providers::presets::settings(
                preset,
                &mut reader,
                environment,
                external_base_url,
            ),
        });
    }
    out
}

/// `auth.providers.<id>.<env>.signIn` is checked for every environment, so a bad resolver
/// name or rule stops start-up with Node's message, naming the key.
fn check_sign_in_blocks(v: &mut Validator, provider: &str, value: &figment::value::Value) {
    let Some(environments) = value.as_dict() else {
        return;
    };
    for (environment, config) in environments {
        let sign_in = config.as_dict().and_then(|config| config.get("signIn"));
        let path = format!("auth.providers.{provider}.{environment}.signIn");
        if let Err(problems) = crate::resolvers::parse_sign_in(provider, &path, sign_in) {
            for problem in problems {
                v.problem(&problem.path, problem.message);
            }
        }
    }
}

fn guest_settings(v: &mut Validator, value: &figment::value::Value) -> Option<GuestSettings> {
    let raw: RawGuestProvider = if value.to_empty().is_some() {
        RawGuestProvider::default()
    } else {
        match value.deserialize() {
            Ok(raw) => raw,
            Err(error) => {
                for error in error {
                    let mut path = vec![
                        "auth".to_owned(),
                        "providers".to_owned(),
                        "guest".to_owned(),
                    ];
                    path.extend(error.path.iter().cloned());
                    v.problem(&path_of(&path), error.kind.to_string());
                }
                return None;
            }
        }
    };
    let user_entity_ref = raw
        .user_entity_ref
        .unwrap_or_else(|| DEFAULT_GUEST_REF.to_owned());
    v.entity_ref("auth.providers.guest.userEntityRef", &user_entity_ref);
    let ownership_entity_refs = raw
        .ownership_entity_refs
        .unwrap_or_else(|| vec![user_entity_ref.clone()]);
    for (index, entity_ref) in ownership_entity_refs.iter().enumerate() {
        v.entity_ref(
            &format!("auth.providers.guest.ownershipEntityRefs.{index}"),
            entity_ref,
        );
    }
    Some(GuestSettings {
        user_entity_ref,
        ownership_entity_refs,
        allow_outside_development: raw.dangerously_allow_outside_development.unwrap_or(false),
    })
}
