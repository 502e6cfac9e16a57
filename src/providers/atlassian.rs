//! `atlassian`: Atlassian accounts (OAuth 2.0 3LO), as passport-atlassian-oauth2 signs in:
//! `audience=api.atlassian.com` and `prompt=consent` on the authorize request, the Jira scopes
//! Node requires (`offline_access read:me read:jira-work read:jira-user`), and the profile from
//! `GET /me` (then the accessible resources, whose failure fails the sign-in, as in Node).
//! There is no user name: `usernameMatchingUserEntityName` always fails, as in Node. Node
//! hard-codes both hosts; stagedoor's `baseUrl` and `apiBaseUrl` move them.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::api::{
    ApiCall, ApiFailure, ApiFuture, ApiPreset, ApiProfile, ProfileApi, api_object, hosts, text,
    user_object,
};
use super::oauth::OAuthEnvSettings;
use crate::identity::Profile;
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    ApiPreset::settings("atlassian", reader, environment, external_base_url, preset)
}

fn preset(reader: &mut Section<'_>) -> ApiPreset {
    if reader.has("scope") || reader.has("scopes") {
        let key = if reader.has("scope") {
            "scope"
        } else {
            "scopes"
        };
        reader.problem(
            key,
            "The atlassian provider no longer supports the \"scope\" or \"scopes\" configuration options. Please use the \"additionalScopes\" option instead.",
        );
    }
    let (web, api) = hosts(
        reader,
        "https://auth.atlassian.com",
        "https://api.atlassian.com",
    );
    ApiPreset {
        authorize: format!("{web}/authorize"),
        token: format!("{web}/oauth/token"),
        client_auth: ClientAuth::Post,
        required_scopes: &[
            "offline_access",
            "read:me",
            "read:jira-work",
            "read:jira-user",
        ],
        persist_scopes: false,
        prompt: Some("consent".to_owned()),
        // The API the token is for (Atlassian's name for it, whatever host serves it).
        start_params: vec![("audience".to_owned(), "api.atlassian.com".to_owned())],
        api: Arc::new(AtlassianMe {
            me: format!("{api}/me"),
            resources: format!("{api}/oauth/token/accessible-resources"),
        }),
    }
}

/// `GET /me` of the User Identity API, then the sites the token may use.
#[derive(Debug)]
struct AtlassianMe {
    me: String,
    resources: String,
}

impl ProfileApi for AtlassianMe {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a> {
        Box::pin(async move {
            let (idp, access_token) = (call.idp, call.access_token);
            let response = idp
                .api_get(&self.me, access_token)
                .await
                .map_err(|error| ApiFailure::failed(error.message))?;
            let mut user = user_object(response.status, response.body)?;
            let resources = idp
                .api_get(&self.resources, access_token)
                .await
                .map_err(|error| ApiFailure::failed(error.message))?;
            if !resources.status.is_success() {
                let reason = api_object(resources.status, resources.body)
                    .err()
                    .unwrap_or_else(|| resources.status.to_string());
                return Err(ApiFailure::failed(format!(
                    "accessible resources: {reason}"
                )));
            }
            user.insert("accessibleResources".to_owned(), resources.body);
            Ok(profile(user))
        })
    }
}

/// passport-atlassian-oauth2's profile, then Backstage's transform (§11.0): an email `/me`
/// marks unverified is dropped.
fn profile(user: Map<String, Value>) -> ApiProfile {
    let account_id = text(&user, "account_id");
    let verified = user.get("email_verified") != Some(&Value::Bool(false));
    ApiProfile {
        profile: Profile {
            email: text(&user, "email").filter(|_| verified),
            picture: text(&user, "picture"),
            display_name: text(&user, "name").or_else(|| account_id.clone()),
        },
        username: None,
        user_id: account_id,
        profile_url: None,
        claims: user,
        refresh_token: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_keys_are_refused_with_nodes_message() {
        let read = |yaml: &str| super::super::api::read_for_test(settings, "atlassian", yaml);
        let (settings, metadata, problems) = read("clientId: a\nclientSecret: b\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            metadata.authorization_endpoint,
            "https://auth.atlassian.com/authorize"
        );
        assert_eq!(settings.prompt.as_deref(), Some("consent"));
        let (_, _, problems) = read("clientId: a\nclientSecret: b\nscopes: [read:me]\n");
        assert_eq!(
            problems[0].path,
            "auth.providers.atlassian.development.scopes"
        );
        assert!(
            problems[0]
                .message
                .contains("Please use the \"additionalScopes\" option")
        );
    }

    #[test]
    fn an_unverified_email_is_dropped() {
        let user = |value: Value| value.as_object().unwrap().clone();
        let alice = profile(user(json!({
            "account_id": "5b10", "name": "Alice", "email": "alice@example.com",
            "picture": "https://avatar/a.png"
        })));
        assert_eq!(alice.profile.email.as_deref(), Some("alice@example.com"));
        assert_eq!(alice.username, None);
        let unverified = profile(user(
            json!({"account_id": "5b11", "email": "x@example.com", "email_verified": false}),
        ));
        assert_eq!(unverified.profile.email, None);
        assert_eq!(unverified.profile.display_name.as_deref(), Some("5b11"));
    }
}
