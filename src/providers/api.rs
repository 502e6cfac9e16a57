//! Providers whose profile comes from their own user API rather than OpenID userinfo (GitHub's
//! `/user`, GitLab's `/api/v4/user`, ...): [`ApiPreset`], the settings such a provider shares
//! (a plain OAuth 2.0 client with fixed endpoints: no OpenID nonce, no ID token check).

use std::sync::Arc;

use serde_json::{Map, Value};

pub use super::hooks::{ApiCall, ApiFailure, ApiFuture, ApiProfile, ProfileApi};
use super::oauth::{Behaviour, Endpoints, ErrorWording, OAuthEnvSettings, UserinfoCall, common};
use crate::oauth::idp::{ClientAuth, Metadata};
use crate::section::Section;

/// What a provider whose profile comes from its API fixes: its endpoints, client
/// authentication, scopes, authorize parameters and the API.
pub struct ApiPreset {
    pub authorize: String,
    pub token: String,
    pub client_auth: ClientAuth,
    pub required_scopes: &'static [&'static str],
    /// Scopes kept in the state and the granted-scope cookie.
    pub persist_scopes: bool,
    pub prompt: Option<String>,
    pub start_params: Vec<(String, String)>,
    pub api: Arc<dyn ProfileApi>,
}

impl ApiPreset {
    /// The environment's settings: `clientId`, `clientSecret` and the common keys read from
    /// `reader` (after the provider's own keys, read by `read_preset`).
    pub fn settings(
        provider: &str,
        reader: &mut Section<'_>,
        environment: &str,
        external_base_url: &str,
        read_preset: impl FnOnce(&mut Section<'_>) -> ApiPreset,
    ) -> OAuthEnvSettings {
        let client_id = reader.required("clientId", "backstage");
        let client_secret = reader.required(
            "clientSecret",
            &format!("${{AUTH_{}_CLIENT_SECRET}}", provider.to_uppercase()),
        );
        let preset = read_preset(reader);
        let common = common(reader, provider, external_base_url);
        OAuthEnvSettings {
            provider: provider.to_owned(),
            environment: environment.to_owned(),
            client_id,
            client_secret,
            endpoints: Endpoints::Fixed(Metadata {
                authorization_endpoint: preset.authorize,
                token_endpoint: preset.token,
                ..Metadata::default()
            }),
            client_auth: preset.client_auth,
            algorithms: Vec::new(),
            prompt: preset.prompt,
            start_params: preset.start_params,
            required_scopes: preset
                .required_scopes
                .iter()
                .map(|scope| (*scope).to_owned())
                .collect(),
            additional_scopes: common.additional_scopes,
            persist_scopes: preset.persist_scopes,
            callback_url: common.callback_url,
            session_secs: common.session_secs,
            timeout: common.timeout,
            sign_in: common.sign_in,
            rp_logout: None,
            behaviour: api_behaviour(preset.api),
        }
    }
}

/// A passport strategy over plain OAuth 2.0 whose profile is `api`'s: no userinfo, no OpenID
/// nonce, an ID token (if one comes) only read for the profile, the scope sent on refresh.
pub fn api_behaviour(api: Arc<dyn ProfileApi>) -> Behaviour {
    let mut behaviour = Behaviour::passport(UserinfoCall::None);
    behaviour.verify_id_token = false;
    behaviour.errors = ErrorWording::Passport;
    behaviour.username_claim = None;
    behaviour.openid_nonce = false;
    behaviour.profile_api = Some(api);
    behaviour.email_from_scope = false;
    behaviour
}

/// `key` as a base URL: an absolute http(s) URL without query, kept as written but for
/// trailing slashes (`https://gitlab.example.com/` and `https://example.com/gitlab` work);
/// `None` when absent or wrong (a problem naming `example` then).
pub fn base_url(reader: &mut Section<'_>, key: &str, example: &str) -> Option<String> {
    let text = reader.string(key)?;
    match url::Url::parse(&text) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.query().is_none() =>
        {
            Some(text.trim_end_matches('/').to_owned())
        }
        _ => {
            reader.problem(
                key,
                format!("\"{text}\" is not an absolute http(s) URL; expected e.g. {example}"),
            );
            None
        }
    }
}

/// A provider's two hosts (sign-in and API, where Node hard-codes both): the stagedoor keys
/// `baseUrl` and `apiBaseUrl`. Without `apiBaseUrl`, the API is at `baseUrl` when that is
/// set (a proxy or mirror serving both), else at the service's own API host.
pub fn hosts(reader: &mut Section<'_>, web: &str, api: &str) -> (String, String) {
    let base = base_url(reader, "baseUrl", web);
    let api_base = base_url(reader, "apiBaseUrl", api);
    let api_base = api_base.or_else(|| base.clone());
    (
        base.unwrap_or_else(|| web.to_owned()),
        api_base.unwrap_or_else(|| api.to_owned()),
    )
}

/// `name` of a JSON object as a non-empty string (absent, `null` and `""` are none).
pub fn text(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// A JSON id as Node's `String(id)` writes it (`1001`, `"abc"`); none when absent or `null`.
pub fn id_text(object: &Map<String, Value>, name: &str) -> Option<String> {
    match object.get(name)? {
        Value::Null => None,
        Value::String(id) => Some(id.clone()),
        other => Some(other.to_string()),
    }
}

/// A user API read with one GET of `url`; `profile` turns the user object into the profile
/// (GitLab's `/api/v4/user`, Bitbucket's `/2.0/user`).
#[derive(Debug)]
pub struct UserApi {
    pub url: String,
    pub profile: fn(Map<String, Value>) -> ApiProfile,
}

impl ProfileApi for UserApi {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a> {
        Box::pin(async move {
            let (idp, access_token) = (call.idp, call.access_token);
            let response = idp
                .api_get(&self.url, access_token)
                .await
                .map_err(|error| ApiFailure::failed(error.message))?;
            Ok((self.profile)(user_object(response.status, response.body)?))
        })
    }
}

/// The JSON object a user API answered with `status`, or passport's words for why there is
/// none (see [`api_object`]).
pub fn user_object(
    status: reqwest::StatusCode,
    body: Value,
) -> Result<Map<String, Value>, ApiFailure> {
    api_object(status, body).map_err(ApiFailure::failed)
}

/// The JSON object an API answered with `status`, or why there is none: the API's `message`
/// (GitLab, GitHub), else the nested `error.message` (Bitbucket), else the status.
pub fn api_object(status: reqwest::StatusCode, body: Value) -> Result<Map<String, Value>, String> {
    match body {
        Value::Object(object) if status.is_success() => Ok(object),
        body if status.is_success() => Err(format!("the answer is not a JSON object: {body}")),
        body => Err(body
            .get("message")
            .or_else(|| body.get("error").and_then(|error| error.get("message")))
            .and_then(Value::as_str)
            .map_or_else(|| format!("status {status}"), str::to_owned)),
    }
}

/// An environment read from `yaml` by `read`, with the problems found, for unit tests.
#[cfg(test)]
pub(crate) fn read_for_test(
    read: super::ReadEnvironment,
    provider: &str,
    yaml: &str,
) -> (OAuthEnvSettings, Metadata, Vec<crate::section::Problem>) {
    let data = <figment::providers::Yaml as figment::providers::Format>::string(yaml);
    let dict = figment::Provider::data(&data)
        .unwrap()
        .remove(&figment::Profile::Default)
        .unwrap();
    let mut problems = Vec::new();
    let mut section = Section {
        base: format!("auth.providers.{provider}.development"),
        config: &dict,
        problems: &mut problems,
    };
    let settings = read(
        &mut section,
        "development",
        "http://localhost:7007/api/auth",
    );
    let Endpoints::Fixed(metadata) = settings.endpoints.clone() else {
        panic!("fixed endpoints")
    };
    (settings, metadata, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_errors_keep_the_apis_message() {
        let failed = |status: u16, body: Value| {
            api_object(reqwest::StatusCode::from_u16(status).unwrap(), body).unwrap_err()
        };
        assert_eq!(
            failed(401, json!({"message": "401 Unauthorized"})),
            "401 Unauthorized"
        );
        assert_eq!(
            failed(
                401,
                json!({"type": "error", "error": {"message": "Access token expired."}})
            ),
            "Access token expired."
        );
        assert_eq!(failed(502, Value::Null), "status 502 Bad Gateway");
        assert!(user_object(reqwest::StatusCode::OK, json!({"id": 1})).is_ok());
    }

    #[test]
    fn ids_read_as_node_writes_them() {
        let object = json!({"a": 1001, "b": "x", "c": null});
        let object = object.as_object().unwrap();
        assert_eq!(id_text(object, "a").as_deref(), Some("1001"));
        assert_eq!(id_text(object, "b").as_deref(), Some("x"));
        assert_eq!(id_text(object, "c"), None);
        assert_eq!(id_text(object, "d"), None);
    }
}
