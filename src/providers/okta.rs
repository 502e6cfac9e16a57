//! `okta` (§11.2): an Okta org or custom authorization server.
use super::oauth::{Behaviour, Preset, UserinfoCall, endpoints};
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> super::oauth::OAuthEnvSettings {
    Preset::settings("okta", reader, environment, external_base_url, preset)
}

/// Okta: `{audience}/oauth2[/{authServerId}]/v1/...`, userinfo by POST, Basic client auth.
fn preset(reader: &mut Section<'_>) -> Preset {
    let audience = reader
        .string("audience")
        .unwrap_or_else(|| "https://okta.com".to_owned());
    if !(audience.starts_with("http://") || audience.starts_with("https://")) {
        reader.problem("audience", format!("\"{audience}\" must start with https:// (the Okta org URL, e.g. https://example.okta.com)"));
    }
    let audience = audience.trim_end_matches('/').to_owned();
    let (issuer, base) = match reader.string("authServerId") {
        Some(id) => (
            format!("{audience}/oauth2/{id}"),
            format!("{audience}/oauth2/{id}/v1"),
        ),
        None => (audience.clone(), format!("{audience}/oauth2/v1")),
    };
    let mut start_params = Vec::new();
    if let Some(idp) = reader.string("idp") {
        start_params.push(("idp".to_owned(), idp));
    }
    Preset {
        metadata: endpoints(
            &issuer,
            &base,
            ["/authorize", "/token", "/userinfo", "/keys"],
            Some("/revoke"),
        ),
        client_auth: ClientAuth::Basic,
        prompt: None,
        start_params,
        required_scopes: &["openid", "email", "profile", "offline_access"],
        behaviour: Behaviour::passport(UserinfoCall::Post),
    }
}
