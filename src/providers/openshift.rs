//! `openshift`: a cluster's OAuth server (`authorizationUrl`, `tokenUrl`) and API server
//! (`openshiftApiServerUrl`), as Node's module uses them
//! (`tests/fixtures/node/openshift/README.md`). OpenShift issues no refresh tokens: the access
//! token is kept as the refresh cookie and a refresh reads the user again with it. The profile
//! is the OpenShift user's name; at logout the token is deleted at the API server.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::oauth::{
    ApiCall, ApiFailure, ApiFuture, ApiProfile, Behaviour, HookFuture, LogoutStyle,
    OAuthEnvSettings, Preset, ProfileApi, RefreshStyle, Revocation, UserinfoCall,
};
use crate::identity::Profile;
use crate::oauth::idp::{ClientAuth, IdpClient, Metadata};
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    Preset::settings("openshift", reader, environment, external_base_url, preset)
}

fn preset(reader: &mut Section<'_>) -> Preset {
    let mut url = |key: &str, example: &str| match reader.url(key) {
        Some(url) => url.to_string(),
        None if reader.has(key) => String::new(),
        None => reader.required(key, example),
    };
    let authorization_endpoint = url(
        "authorizationUrl",
        "https://oauth-openshift.apps.<cluster>/oauth/authorize",
    );
    let token_endpoint = url(
        "tokenUrl",
        "https://oauth-openshift.apps.<cluster>/oauth/token",
    );
    let api = url("openshiftApiServerUrl", "https://api.<cluster>:6443");
    let api = api.trim_end_matches('/').to_owned();
    let mut behaviour = Behaviour::passport(UserinfoCall::None);
    behaviour.openid_nonce = false;
    behaviour.username_claim = None;
    behaviour.refresh = RefreshStyle::AccessTokenOnly;
    behaviour.profile_api = Some(Arc::new(OpenShiftUser {
        url: format!("{api}/apis/user.openshift.io/v1/users/~"),
    }));
    behaviour.logout = LogoutStyle::Provider(Arc::new(DeleteAccessToken { api }));
    Preset {
        metadata: Metadata {
            authorization_endpoint,
            token_endpoint,
            ..Metadata::default()
        },
        client_auth: ClientAuth::Post,
        prompt: None,
        start_params: Vec::new(),
        required_scopes: &["user:full"],
        behaviour,
    }
}

/// `GET /apis/user.openshift.io/v1/users/~`: the user the token belongs to.
#[derive(Debug)]
struct OpenShiftUser {
    url: String,
}

impl ProfileApi for OpenShiftUser {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a> {
        Box::pin(async move {
            let response = call
                .idp
                .api_get(&self.url, call.access_token)
                .await
                .map_err(|error| ApiFailure::Message(error.message))?;
            let (status, body) = (response.status, response.body);
            if !status.is_success() {
                // The module's words.
                let message = format!("HTTP error! Status: {}", status.as_u16());
                return Err(ApiFailure::Message(message));
            }
            let name = body
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiFailure::Message(
                        "the OpenShift user API answered without metadata.name".to_owned(),
                    )
                })?;
            let uid = body.pointer("/metadata/uid").and_then(Value::as_str);
            Ok(ApiProfile {
                profile: Profile {
                    display_name: Some(name.clone()),
                    ..Profile::default()
                },
                username: Some(name),
                user_id: uid.map(str::to_owned),
                profile_url: None,
                claims: body.as_object().cloned().unwrap_or_default(),
                refresh_token: None,
            })
        })
    }
}

/// Deletes the access token at the API server: as its owner, through
/// `useroauthaccesstokens` (Node deletes the cluster-scoped `oauthaccesstokens` object, which
/// only cluster admins may, so an ordinary user's token outlived the logout).
#[derive(Debug)]
struct DeleteAccessToken {
    api: String,
}

impl Revocation for DeleteAccessToken {
    fn revoke<'a>(
        &'a self,
        idp: &'a IdpClient,
        token: &'a str,
    ) -> HookFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let url = format!(
                "{}/apis/oauth.openshift.io/v1/useroauthaccesstokens/{}",
                self.api,
                token_object_name(token)
            );
            let answer = idp
                .api_request(reqwest::Method::DELETE, &url, token, "application/json")
                .await
                .map_err(|error| error.message)?;
            match answer.status.as_u16() {
                // Deleted; or already gone (expired, deleted elsewhere): nothing left to revoke.
                200..=299 | 401 | 404 => Ok(()),
                status => Err(format!(
                    "the OpenShift API server answered {status} to deleting the access token"
                )),
            }
        })
    }
}

/// The name of an access token's `OAuthAccessToken` object: `sha256~` and the unpadded
/// base64url SHA-256 of the token's secret part (OpenShift 4); older tokens are their own name.
fn token_object_name(token: &str) -> String {
    match token.strip_prefix("sha256~") {
        Some(secret) => {
            let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
            format!("sha256~{}", URL_SAFE_NO_PAD.encode(digest))
        }
        None => token.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_object_is_named_as_openshift_names_it() {
        // The fake (and OpenShift) name: sha256~ + base64url(sha256(secret)).
        assert_eq!(
            token_object_name("sha256~abc"),
            format!(
                "sha256~{}",
                URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, b"abc"))
            )
        );
        assert_eq!(
            token_object_name("sha256~abc"),
            "sha256~ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert_eq!(token_object_name("legacy-token"), "legacy-token");
    }
}
