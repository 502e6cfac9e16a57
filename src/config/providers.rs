//! `auth.providers`: each provider's section read by its registered module, and the `signIn`
//! blocks of providers stagedoor does not serve yet.

use std::collections::BTreeMap;

use figment::value::Dict;

use super::validator::Validator;
use crate::providers::guest::GuestSettings;
use crate::providers::oauth::OAuthEnvSettings;
use crate::providers::proxy::{ProxyContext, ProxySettings};
use crate::providers::{Kind, ReadEnvironment};
use crate::section::Section;

/// `auth.providers`, read by the registered providers.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub guest: Option<GuestSettings>,
    /// OAuth provider environments (`oidc`, ...).
    pub oauth: Vec<OAuthEnvSettings>,
    /// Authenticating-proxy providers (`gcpIap`, ...).
    pub proxy: Vec<ProxySettings>,
    /// Provider ids configured under `auth.providers` that stagedoor does not serve.
    pub unsupported: Vec<String>,
}

pub(super) fn providers(
    v: &mut Validator,
    providers: &BTreeMap<String, figment::value::Value>,
    external_base_url: &str,
    env: super::EnvLookup<'_>,
) -> ProviderSettings {
    let mut settings = ProviderSettings::default();
    for (id, value) in providers {
        let registration = crate::providers::registered(id);
        match registration.map(|registration| &registration.kind) {
            Some(Kind::Guest(read)) => {
                let empty = Dict::new();
                let config = value.as_dict().unwrap_or(&empty);
                if value.as_dict().is_none() && value.to_empty().is_none() {
                    v.problem("auth.providers.guest", "must be an object (userEntityRef, ownershipEntityRefs, dangerouslyAllowOutsideDevelopment)");
                }
                let mut section = Section {
                    base: "auth.providers.guest".to_owned(),
                    config,
                    problems: &mut v.problems,
                };
                settings.guest = Some(read(&mut section));
            }
            Some(Kind::OAuth(read)) => {
                settings
                    .oauth
                    .extend(oauth_environments(v, id, value, external_base_url, *read));
            }
            Some(Kind::Proxy(read)) => {
                let empty = Dict::new();
                let base = format!("auth.providers.{id}");
                if value.as_dict().is_none() && value.to_empty().is_none() {
                    v.problem(&base, "must be an object with the provider's settings and signIn (no environments for proxy providers)");
                }
                let mut section = Section {
                    base,
                    config: value.as_dict().unwrap_or(&empty),
                    problems: &mut v.problems,
                };
                let id = registration.map_or("", |registration| registration.id);
                let context = ProxyContext { env };
                settings.proxy.push(crate::providers::proxy::settings(
                    id,
                    &mut section,
                    &context,
                    *read,
                ));
            }
            None => {
                check_sign_in_blocks(v, id, value);
                settings.unsupported.push(id.to_owned());
            }
        }
    }
    settings
}

/// Every environment under `auth.providers.<id>` (each key is one, as in Backstage).
fn oauth_environments(
    v: &mut Validator,
    provider: &str,
    value: &figment::value::Value,
    external_base_url: &str,
    read: ReadEnvironment,
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
        let mut section = Section {
            base,
            config,
            problems: &mut v.problems,
        };
        out.push(read(&mut section, environment, external_base_url));
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
            v.problems.extend(problems);
        }
    }
}
