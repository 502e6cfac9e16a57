//! `oauth2` (§11.5): any OAuth 2.0 server, by its authorize and token URLs.
use super::oauth::{Behaviour, Preset, UserinfoCall};
use crate::oauth::idp::ClientAuth;
use crate::oauth::idp::Metadata;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> super::oauth::OAuthEnvSettings {
    Preset::settings("oauth2", reader, environment, external_base_url, preset)
}

/// Generic OAuth 2.0: configured authorize and token URLs, no userinfo; the profile comes
/// from an ID token if the server returns one.
fn preset(reader: &mut Section<'_>) -> Preset {
    if reader.has("scope") {
        reader.problem("scope", "The oauth2 provider no longer supports the \"scope\" configuration option. Please use the \"additionalScopes\" option instead.");
    }
    let mut url = |key: &str| {
        let value = reader.url(key).map(|url| url.to_string());
        if value.is_none() && !reader.has(key) {
            reader.problem(
                key,
                "is required, e.g. https://auth.example.com/oauth2/authorize",
            );
        }
        value.unwrap_or_default()
    };
    let authorization_endpoint = url("authorizationUrl");
    let token_endpoint = url("tokenUrl");
    let basic = reader.bool("includeBasicAuth").unwrap_or(false);
    let mut behaviour = Behaviour::passport(UserinfoCall::None);
    behaviour.verify_id_token = false;
    behaviour.username_claim = None;
    Preset {
        metadata: Metadata {
            authorization_endpoint,
            token_endpoint,
            ..Metadata::default()
        },
        client_auth: if basic {
            ClientAuth::BasicAndPost
        } else {
            ClientAuth::Post
        },
        prompt: None,
        start_params: Vec::new(),
        required_scopes: &[],
        behaviour,
    }
}
