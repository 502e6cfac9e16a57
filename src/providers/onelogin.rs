//! `onelogin` (§11.3): OneLogin's OpenID Connect endpoints.
use super::oauth::{Behaviour, Preset, UserinfoCall, endpoints};
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> super::oauth::OAuthEnvSettings {
    Preset::settings("onelogin", reader, environment, external_base_url, preset)
}

/// OneLogin: `{issuer}/auth`, `/token`, `/me`; the scope is always `openid`.
fn preset(reader: &mut Section<'_>) -> Preset {
    let issuer = reader
        .url("issuer")
        .map(|url| url.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            if !reader.has("issuer") {
                reader.problem(
                    "issuer",
                    "is required, e.g. https://<tenant>.onelogin.com/oidc/2",
                );
            }
            String::new()
        });
    let mut behaviour = Behaviour::passport(UserinfoCall::Get);
    behaviour.fixed_scope = Some("openid".to_owned());
    Preset {
        metadata: endpoints(
            &issuer,
            &issuer,
            ["/auth", "/token", "/me", "/certs"],
            Some("/token/revocation"),
        ),
        client_auth: ClientAuth::Post,
        prompt: None,
        start_params: Vec::new(),
        required_scopes: &[],
        behaviour,
    }
}
