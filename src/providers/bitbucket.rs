//! `bitbucket`: Bitbucket Cloud (`bitbucket.org`), as passport-bitbucket-oauth2 signs in:
//! client authentication both as Basic and in the form, the granted scope kept (`account`
//! required), and the profile from `GET /2.0/user`: the display name, the account's `uuid`
//! and `username`, and no email and no picture (Node reads neither the emails API nor the
//! avatar). Node hard-codes both hosts; stagedoor's `baseUrl` and `apiBaseUrl` move them.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::api::{ApiPreset, ApiProfile, UserApi, hosts, text};
use super::oauth::OAuthEnvSettings;
use crate::identity::Profile;
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    ApiPreset::settings("bitbucket", reader, environment, external_base_url, preset)
}

fn preset(reader: &mut Section<'_>) -> ApiPreset {
    let (web, api) = hosts(reader, "https://bitbucket.org", "https://api.bitbucket.org");
    ApiPreset {
        authorize: format!("{web}/site/oauth2/authorize"),
        token: format!("{web}/site/oauth2/access_token"),
        client_auth: ClientAuth::BasicAndPost,
        required_scopes: &["account"],
        persist_scopes: true,
        prompt: None,
        start_params: Vec::new(),
        api: Arc::new(UserApi {
            url: format!("{api}/2.0/user"),
            profile,
        }),
    }
}

/// passport-bitbucket-oauth2's profile, then Backstage's transform (§11.0).
fn profile(user: Map<String, Value>) -> ApiProfile {
    let username = text(&user, "username");
    let uuid = text(&user, "uuid");
    let profile_url = user
        .get("links")
        .and_then(|links| links.get("html"))
        .and_then(|html| html.get("href"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    ApiProfile {
        profile: Profile {
            email: None,
            picture: None,
            display_name: text(&user, "display_name")
                .or_else(|| username.clone())
                .or_else(|| uuid.clone()),
        },
        username,
        user_id: uuid,
        profile_url,
        claims: user,
        refresh_token: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_hosts_move_together_unless_told_apart() {
        let read = |yaml: &str| super::super::api::read_for_test(settings, "bitbucket", yaml);
        let (cloud, metadata, problems) = read("clientId: a\nclientSecret: b\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            metadata.token_endpoint,
            "https://bitbucket.org/site/oauth2/access_token"
        );
        assert!(cloud.persist_scopes);
        assert_eq!(cloud.client_auth, ClientAuth::BasicAndPost);
        let (_, metadata, _) =
            read("clientId: a\nclientSecret: b\nbaseUrl: https://bitbucket.proxy.example/\n");
        assert_eq!(
            metadata.authorization_endpoint,
            "https://bitbucket.proxy.example/site/oauth2/authorize"
        );
        let (_, _, problems) = read("clientId: a\nclientSecret: b\napiBaseUrl: api.example\n");
        assert_eq!(
            problems[0].path,
            "auth.providers.bitbucket.development.apiBaseUrl"
        );
    }

    #[test]
    fn the_profile_has_no_email_and_no_picture() {
        let user = json!({
            "uuid": "{00001001-0000-4000-8000-000000001001}", "username": "alice",
            "display_name": "Alice Example",
            "links": {"html": {"href": "https://bitbucket.org/alice/"}, "avatar": {"href": "x"}}
        });
        let alice = profile(user.as_object().unwrap().clone());
        assert_eq!(alice.profile.email, None);
        assert_eq!(alice.profile.picture, None);
        assert_eq!(alice.profile.display_name.as_deref(), Some("Alice Example"));
        assert_eq!(
            alice.user_id.as_deref(),
            Some("{00001001-0000-4000-8000-000000001001}")
        );
        let bare = profile(json!({"uuid": "{u}"}).as_object().unwrap().clone());
        assert_eq!(bare.profile.display_name.as_deref(), Some("{u}"));
        assert_eq!(bare.profile_url, None, "no links: no crash either");
    }
}
