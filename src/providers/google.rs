//! `google` (§11.7): Google's OAuth 2.0 web-server flow as passport-google-oauth20 drives it
//! (offline access and consent at every sign-in, so each one brings a refresh token), the
//! profile from Google's userinfo, and the refresh token revoked at logout. Beyond Node,
//! `endpointBaseUrl` serves all of Google's endpoints from one origin (a proxy, a mirror, a
//! test double).

use super::oauth::{Behaviour, LogoutStyle, OAuthEnvSettings, Preset, UserinfoCall, base_url};
use crate::oauth::idp::{ClientAuth, Metadata};
use crate::section::Section;

/// Node's URLs: authorize, token, userinfo, revocation.
const GOOGLE: [&str; 4] = [
    "https://accounts.google.com/o/oauth2/v2/auth",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://www.googleapis.com/oauth2/v3/userinfo",
    "https://oauth2.googleapis.com/revoke",
];
/// The same paths under `endpointBaseUrl`.
const PATHS: [&str; 4] = [
    "/o/oauth2/v2/auth",
    "/oauth2/v4/token",
    "/oauth2/v3/userinfo",
    "/revoke",
];

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    Preset::settings("google", reader, environment, external_base_url, preset)
}

fn preset(reader: &mut Section<'_>) -> Preset {
    let [authorize, token, userinfo, revoke] = match reader.has("endpointBaseUrl") {
        true => {
            let base = base_url(reader, "endpointBaseUrl", "");
            PATHS.map(|path| format!("{base}{path}"))
        }
        false => GOOGLE.map(str::to_owned),
    };
    let mut behaviour = Behaviour::passport(UserinfoCall::Get);
    // The ID token comes straight from the token endpoint over TLS and is only read, as Node
    // does (OpenID Connect Core 3.1.3.7); the profile is userinfo's.
    behaviour.verify_id_token = false;
    behaviour.openid_nonce = false;
    behaviour.picture_from_userinfo = true;
    behaviour.username_claim = None;
    behaviour.missing_email_advice =
        Some("Google released no email for the account, or marked it unverified.");
    // Google's revocation endpoint takes the token alone.
    behaviour.logout = LogoutStyle::RevokeWithoutClientAuth;
    Preset {
        metadata: Metadata {
            authorization_endpoint: authorize,
            token_endpoint: token,
            userinfo_endpoint: Some(userinfo),
            revocation_endpoint: Some(revoke),
            ..Metadata::default()
        },
        client_auth: ClientAuth::Post,
        prompt: Some("consent".to_owned()),
        start_params: vec![
            ("access_type".to_owned(), "offline".to_owned()),
            ("include_granted_scopes".to_owned(), "true".to_owned()),
        ],
        required_scopes: &[
            "openid",
            "https://www.googleapis.com/auth/userinfo.email",
            "https://www.googleapis.com/auth/userinfo.profile",
        ],
        behaviour,
    }
}
