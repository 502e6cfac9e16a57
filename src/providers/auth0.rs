//! `auth0` (§11.4): an Auth0 tenant, with its audience, connection and organization.
use super::oauth::{Behaviour, Preset, UserinfoCall, endpoints};
use super::oauth::{ErrorWording, LogoutStyle};
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> super::oauth::OAuthEnvSettings {
    Preset::settings("auth0", reader, environment, external_base_url, preset)
}

/// Auth0: `https://{domain}/...`; audience, connection and organization on the authorize
/// request; `/logout` returns Auth0's logout URL.
fn preset(reader: &mut Section<'_>) -> Preset {
    let domain = reader.required("domain", "example.eu.auth0.com");
    if domain.contains("://") || domain.contains('/') {
        reader.problem(
            "domain",
            format!(
                "\"{domain}\" must be a host name, e.g. example.eu.auth0.com (no scheme or path)"
            ),
        );
    }
    let prompt = match reader.string("prompt").as_deref() {
        None => Some("consent".to_owned()),
        Some("auto") => None,
        Some(other) => Some(other.to_owned()),
    };
    // passport-auth0 passes Backstage's generic `accessType` through, literally.
    let mut start_params = vec![("accessType".to_owned(), "offline".to_owned())];
    for (key, param) in [
        ("audience", "audience"),
        ("connection", "connection"),
        ("organization", "organization"),
    ] {
        if let Some(value) = reader.string(key) {
            start_params.push((param.to_owned(), value));
        }
    }
    if start_params.iter().any(|(k, _)| k == "connection")
        && let Some(scope) = reader.string("connectionScope")
    {
        start_params.push(("connection_scope".to_owned(), scope));
    }
    let organization = reader.string("organization");
    let federated = reader.bool("federatedLogout").unwrap_or(false);
    let base = format!("https://{domain}");
    let metadata = endpoints(
        &format!("{base}/"),
        &base,
        [
            "/authorize",
            "/oauth/token",
            "/userinfo",
            "/.well-known/jwks.json",
        ],
        None,
    );
    let mut behaviour = Behaviour::passport(UserinfoCall::Get);
    behaviour.require_id_token_on_refresh = true;
    behaviour.logout = LogoutStyle::Auth0 { domain, federated };
    behaviour.errors = ErrorWording::Auth0;
    behaviour.forwarded_start_params = if organization.is_some() {
        &["invitation", "screen_hint", "login_hint"]
    } else {
        &["organization", "invitation", "screen_hint", "login_hint"]
    };
    behaviour.organization = organization;
    Preset {
        metadata,
        client_auth: ClientAuth::Post,
        prompt,
        start_params,
        required_scopes: &[],
        behaviour,
    }
}
