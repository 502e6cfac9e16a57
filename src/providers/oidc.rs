//! The `oidc` provider (§11.1): any OpenID Provider, found through its discovery document.

use super::oauth::{Behaviour, Endpoints, OAuthEnvSettings, RpLogout, common};
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

/// ID token algorithms `tokenSignedResponseAlg` may name.
const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    if reader.has("scope") {
        reader.problem("scope", "The oidc provider no longer supports the \"scope\" configuration option. Please use the \"additionalScopes\" option instead.");
    }
    let client_id = reader.required("clientId", "backstage");
    let client_secret = reader.required("clientSecret", "${AUTH_OIDC_CLIENT_SECRET}");
    let metadata_url = reader
        .url("metadataUrl")
        .map(|url| url.to_string())
        .unwrap_or_else(|| {
            if !reader.has("metadataUrl") {
                reader.problem("metadataUrl", "is required: the IdP's discovery URL, e.g. https://idp.example.com/.well-known/openid-configuration");
            }
            String::new()
        });
    let client_auth = client_auth(reader);
    let algorithm = algorithm(reader);
    // Node's default is `none`; `auto` sends no prompt at all.
    let prompt = match reader.string("prompt").as_deref() {
        None => Some("none".to_owned()),
        Some("auto") => None,
        Some(other) => Some(other.to_owned()),
    };
    let start_params = match reader
        .value("startUrlSearchParams")
        .and_then(|v| v.as_dict())
    {
        Some(params) => params
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect(),
        None => Vec::new(),
    };
    let rp_logout = rp_logout(reader);
    let common = common(reader, "oidc", external_base_url);
    OAuthEnvSettings {
        provider: "oidc".into(),
        environment: environment.to_owned(),
        client_id,
        client_secret,
        endpoints: Endpoints::Discovery { metadata_url },
        client_auth,
        algorithms: vec![algorithm],
        prompt,
        start_params,
        required_scopes: ["openid", "profile", "email"].map(str::to_owned).to_vec(),
        additional_scopes: common.additional_scopes,
        persist_scopes: true,
        callback_url: common.callback_url,
        session_secs: common.session_secs,
        timeout: common.timeout,
        sign_in: common.sign_in,
        rp_logout,
        behaviour: Behaviour::oidc(),
    }
}

/// `tokenEndpointAuthMethod`: `client_secret_basic` (the default) or `client_secret_post`.
fn client_auth(reader: &mut Section<'_>) -> ClientAuth {
    match reader.string("tokenEndpointAuthMethod").as_deref() {
        None | Some("client_secret_basic") => ClientAuth::Basic,
        Some("client_secret_post") => ClientAuth::Post,
        Some(other) => {
            reader.problem(
                "tokenEndpointAuthMethod",
                format!(
                    "\"{other}\" is not supported; use client_secret_basic or client_secret_post"
                ),
            );
            ClientAuth::Basic
        }
    }
}

/// `tokenSignedResponseAlg`: the one algorithm ID tokens must be signed with (RS256).
fn algorithm(reader: &mut Section<'_>) -> String {
    let algorithm = reader
        .string("tokenSignedResponseAlg")
        .unwrap_or_else(|| "RS256".to_owned());
    if !ALGORITHMS.contains(&algorithm.as_str()) {
        reader.problem(
            "tokenSignedResponseAlg",
            format!(
                "\"{algorithm}\" is not allowed; use one of {}",
                ALGORITHMS.join(", ")
            ),
        );
    }
    algorithm
}

/// Beyond Node: `rpInitiatedLogout` (and `postLogoutRedirectUri`).
fn rp_logout(reader: &mut Section<'_>) -> Option<RpLogout> {
    match reader.bool("rpInitiatedLogout") {
        None | Some(false) => None,
        Some(true) => Some(RpLogout {
            post_logout_redirect_uri: reader
                .url("postLogoutRedirectUri")
                .map(|url| url.to_string()),
        }),
    }
}
