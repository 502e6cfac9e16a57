//! `github` (§11.6): GitHub.com or GitHub Enterprise Server (`enterpriseInstanceUrl`), with
//! OAuth apps (tokens that never expire: the access token is kept as the refresh cookie,
//! `access-token-v2.`) or GitHub Apps (expiring user tokens and a real refresh grant). The
//! profile comes from the REST API's `GET /user`, as passport-github2 builds it: the public
//! email only (Node never reads the emails API), the avatar, the name or else the login.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::oauth::{
    ApiCall, ApiFailure, ApiFuture, ApiProfile, Behaviour, Endpoints, ErrorWording,
    OAuthEnvSettings, ProfileApi, RefreshStyle, UserinfoCall, common,
};
use crate::identity::Profile;
use crate::oauth::idp::{ClientAuth, Metadata};
use crate::section::Section;

/// What the refresh cookie of a token that never expires starts with (Node's prefix).
const ACCESS_TOKEN_COOKIE: &str = "access-token-v2.";

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    let client_id = reader.required("clientId", "Iv1.0123456789abcdef");
    let client_secret = reader.required("clientSecret", "${AUTH_GITHUB_CLIENT_SECRET}");
    // Node removes one trailing slash and checks nothing else.
    let enterprise = reader
        .string("enterpriseInstanceUrl")
        .map(|url| url.strip_suffix('/').map(str::to_owned).unwrap_or(url));
    let (web, api) = match &enterprise {
        Some(base) => (base.clone(), format!("{base}/api/v3")),
        None => (
            "https://github.com".to_owned(),
            "https://api.github.com".to_owned(),
        ),
    };
    let common = common(reader, "github", external_base_url);
    let mut behaviour = Behaviour::passport(UserinfoCall::None);
    behaviour.verify_id_token = false;
    behaviour.errors = ErrorWording::GitHub;
    behaviour.username_claim = None;
    behaviour.openid_nonce = false;
    behaviour.refresh = RefreshStyle::AccessTokenCookie {
        prefix: ACCESS_TOKEN_COOKIE,
    };
    behaviour.email_from_scope = false;
    behaviour.profile_api = Some(Arc::new(GitHubUser {
        url: format!("{api}/user"),
    }));
    OAuthEnvSettings {
        provider: "github".into(),
        environment: environment.to_owned(),
        client_id,
        client_secret,
        endpoints: Endpoints::Fixed(Metadata {
            authorization_endpoint: format!("{web}/login/oauth/authorize"),
            token_endpoint: format!("{web}/login/oauth/access_token"),
            ..Metadata::default()
        }),
        client_auth: ClientAuth::Post,
        algorithms: Vec::new(),
        prompt: None,
        start_params: Vec::new(),
        required_scopes: vec!["read:user".to_owned()],
        additional_scopes: common.additional_scopes,
        persist_scopes: true,
        callback_url: common.callback_url,
        session_secs: common.session_secs,
        timeout: common.timeout,
        sign_in: common.sign_in,
        rp_logout: None,
        behaviour,
    }
}

/// `GET /user` of GitHub's REST API.
#[derive(Debug)]
struct GitHubUser {
    url: String,
}

impl ProfileApi for GitHubUser {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a> {
        Box::pin(async move {
            let response = call
                .idp
                .api_get(&self.url, call.access_token)
                .await
                .map_err(|error| ApiFailure::failed(error.message))?;
            if response.status == reqwest::StatusCode::UNAUTHORIZED {
                return Err(ApiFailure::invalid_token());
            }
            let Value::Object(user) = response.body else {
                return Err(ApiFailure::failed("[object Object]"));
            };
            if !response.status.is_success() {
                let message = user.get("message").and_then(Value::as_str);
                return Err(ApiFailure::failed(message.unwrap_or("[object Object]")));
            }
            Ok(profile(user))
        })
    }
}

/// passport-github2's profile, then Backstage's transform (§11.0).
fn profile(user: Map<String, Value>) -> ApiProfile {
    let text = |name: &str| {
        user.get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let login = text("login");
    let id = user.get("id").map(|id| match id {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    });
    ApiProfile {
        profile: Profile {
            email: text("email"),
            picture: text("avatar_url"),
            display_name: text("name").or_else(|| login.clone()).or(id),
        },
        username: login,
        user_id: text("node_id"),
        profile_url: text("html_url"),
        claims: user,
        refresh_token: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_profile_is_built_as_passport_github2_builds_it() {
        let user = |value: Value| value.as_object().unwrap().clone();
        let alice = profile(user(json!({
            "login": "alice", "id": 1001, "node_id": "MDQ6VXNlcjEwMDE=", "name": "Alice Example",
            "email": "alice@example.com", "avatar_url": "https://avatars/u/1001"
        })));
        assert_eq!(alice.profile.email.as_deref(), Some("alice@example.com"));
        assert_eq!(alice.profile.display_name.as_deref(), Some("Alice Example"));
        assert_eq!(alice.username.as_deref(), Some("alice"));
        assert_eq!(alice.user_id.as_deref(), Some("MDQ6VXNlcjEwMDE="));
        let private = profile(user(
            json!({"login": "bob", "id": 1002, "email": null, "name": null}),
        ));
        assert_eq!(private.profile.email, None, "only the public email");
        assert_eq!(private.profile.display_name.as_deref(), Some("bob"));
        let bare = profile(user(json!({"id": 7})));
        assert_eq!(bare.profile.display_name.as_deref(), Some("7"));
    }
}
