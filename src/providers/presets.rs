//! The OAuth presets over the one engine: `okta` (§11.2), `onelogin` (§11.3), `auth0` (§11.4)
//! and `oauth2` (§11.5). Each fixes the IdP's endpoints and what differs from plain OIDC.

use super::oauth_settings::{
    Behaviour, Endpoints, EnvReader, ErrorWording, LogoutStyle, OAuthEnvSettings, UserinfoCall,
    common,
};
use crate::oauth::idp::{ClientAuth, Metadata};

/// The providers served by these presets.
pub const PRESETS: &[&str] = &["okta", "onelogin", "auth0", "oauth2"];

pub fn settings(
    provider: &str,
    reader: &mut EnvReader<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    let client_id = reader.required("clientId", "backstage");
    let client_secret = reader.required(
        "clientSecret",
        &format!("${{AUTH_{}_CLIENT_SECRET}}", provider.to_uppercase()),
    );
    let preset = match provider {
        "okta" => okta(reader),
        "onelogin" => onelogin(reader),
        "auth0" => auth0(reader),
        _ => oauth2(reader),
    };
    let common = common(reader, provider, external_base_url);
    OAuthEnvSettings {
        provider: provider.to_owned(),
        environment: environment.to_owned(),
        client_id,
        client_secret,
        endpoints: Endpoints::Fixed(preset.metadata),
        client_auth: preset.client_auth,
        algorithms: ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
            .map(str::to_owned)
            .to_vec(),
        prompt: preset.prompt,
        start_params: preset.start_params,
        required_scopes: preset
            .required_scopes
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        additional_scopes: common.additional_scopes,
        persist_scopes: false,
        callback_url: common.callback_url,
        session_secs: common.session_secs,
        timeout: common.timeout,
        sign_in: common.sign_in,
        rp_logout: None,
        behaviour: preset.behaviour,
    }
}

struct Preset {
    metadata: Metadata,
    client_auth: ClientAuth,
    prompt: Option<String>,
    start_params: Vec<(String, String)>,
    required_scopes: &'static [&'static str],
    behaviour: Behaviour,
}

/// `paths`: authorize, token, userinfo, JWKS; `revocation`: where refresh tokens are revoked.
fn endpoints(issuer: &str, base: &str, paths: [&str; 4], revocation: Option<&str>) -> Metadata {
    let [authorize, token, userinfo, jwks] = paths.map(|path| format!("{base}{path}"));
    Metadata {
        issuer: Some(issuer.to_owned()),
        authorization_endpoint: authorize,
        token_endpoint: token,
        userinfo_endpoint: Some(userinfo),
        jwks_uri: Some(jwks),
        revocation_endpoint: revocation.map(|path| format!("{base}{path}")),
        ..Metadata::default()
    }
}

/// Okta: `{audience}/oauth2[/{authServerId}]/v1/...`, userinfo by POST, Basic client auth.
fn okta(reader: &mut EnvReader<'_>) -> Preset {
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

/// OneLogin: `{issuer}/auth`, `/token`, `/me`; the scope is always `openid`.
fn onelogin(reader: &mut EnvReader<'_>) -> Preset {
    let issuer = reader
        .url("issuer")
        .map(|url| url.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| {
            if !reader.config.contains_key("issuer") {
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

/// Auth0: `https://{domain}/...`; audience, connection and organization on the authorize
/// request; `/logout` returns Auth0's logout URL.
fn auth0(reader: &mut EnvReader<'_>) -> Preset {
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
    let federated = reader
        .config
        .get("federatedLogout")
        .and_then(|v| v.to_bool())
        .unwrap_or(false);
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

/// Generic OAuth 2.0: configured authorize and token URLs, no userinfo; the profile comes
/// from an ID token if the server returns one.
fn oauth2(reader: &mut EnvReader<'_>) -> Preset {
    if reader.config.contains_key("scope") {
        reader.problem("scope", "The oauth2 provider no longer supports the \"scope\" configuration option. Please use the \"additionalScopes\" option instead.");
    }
    let mut url = |key: &str| {
        let value = reader.url(key).map(|url| url.to_string());
        if value.is_none() && !reader.config.contains_key(key) {
            reader.problem(
                key,
                "is required, e.g. https://auth.example.com/oauth2/authorize",
            );
        }
        value.unwrap_or_default()
    };
    let authorization_endpoint = url("authorizationUrl");
    let token_endpoint = url("tokenUrl");
    let basic = reader
        .config
        .get("includeBasicAuth")
        .and_then(|v| v.to_bool())
        .unwrap_or(false);
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
