//! `bitbucketServer`: Bitbucket Data Center / Server at `https://<host>` (Node's `host` key),
//! or at stagedoor's `baseUrl` (any http(s) URL, a context path such as
//! `https://example.com/bitbucket` included). No scope is required or kept. The profile is
//! what Node's module fetches itself: the user name from the applinks `whoami` servlet's
//! `X-AUSERNAME` header, then that user from the REST API (email, display name, avatar), with
//! the module's own error messages.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::api::{
    ApiCall, ApiFailure, ApiFuture, ApiPreset, ApiProfile, ProfileApi, base_url, id_text, text,
};
use super::oauth::OAuthEnvSettings;
use crate::error::{Error, ErrorName};
use crate::identity::Profile;
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    ApiPreset::settings(
        "bitbucketServer",
        reader,
        environment,
        external_base_url,
        preset,
    )
}

fn preset(reader: &mut Section<'_>) -> ApiPreset {
    let base = match base_url(reader, "baseUrl", "https://bitbucket.example.com/bitbucket") {
        Some(base) => base,
        None => format!("https://{}", host(reader)),
    };
    ApiPreset {
        authorize: format!("{base}/rest/oauth2/latest/authorize"),
        token: format!("{base}/rest/oauth2/latest/token"),
        client_auth: ClientAuth::Post,
        required_scopes: &[],
        persist_scopes: false,
        prompt: None,
        start_params: Vec::new(),
        api: Arc::new(BitbucketServerUser { base }),
    }
}

/// Node's `host`: a host name with an optional port (every URL is `https://<host>/...`).
fn host(reader: &mut Section<'_>) -> String {
    let host = reader.required("host", "bitbucket.example.com");
    let is_host = url::Url::parse(&format!("https://{host}/"))
        .is_ok_and(|url| url.host_str().is_some() && !host.contains(['/', '?', '#', '@']));
    if !host.is_empty() && !is_host {
        reader.problem(
            "host",
            format!("\"{host}\" is not a host name with an optional port, e.g. bitbucket.example.com:8443 (for a URL, with a context path or http, use baseUrl)"),
        );
    }
    host
}

/// Who the access token belongs to, as Node's `fetchProfile` asks Bitbucket.
#[derive(Debug)]
struct BitbucketServerUser {
    base: String,
}

const NO_USERNAME: &str = "Failed to retrieve the username of the logged in user";

impl ProfileApi for BitbucketServerUser {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a> {
        Box::pin(async move {
            let (idp, access_token) = (call.idp, call.access_token);
            let whoami = format!("{}/plugins/servlet/applinks/whoami", self.base);
            let response = idp
                .api_get(&whoami, access_token)
                .await
                .map_err(|_| own_error(NO_USERNAME.to_owned()))?;
            let username = response
                .headers
                .get("x-ausername")
                .and_then(|value| value.to_str().ok())
                .filter(|name| !name.is_empty())
                .ok_or_else(|| own_error(NO_USERNAME.to_owned()))?
                .to_owned();
            // The name is one path segment (Node inserts it as it is).
            let segment: String =
                url::form_urlencoded::byte_serialize(username.as_bytes()).collect();
            let segment = segment.replace('+', "%20");
            let url = format!(
                "{}/rest/api/latest/users/{segment}?avatarSize=256",
                self.base
            );
            let no_user = || own_error(format!("Failed to retrieve the user '{username}'"));
            let response = idp
                .api_get(&url, access_token)
                .await
                .map_err(|_| no_user())?;
            match response.body {
                Value::Object(user) if response.status.is_success() => {
                    Ok(profile(&self.base, user))
                }
                _ => Err(no_user()),
            }
        })
    }
}

/// The module's own errors reach the user without passport's words around them.
fn own_error(message: String) -> ApiFailure {
    ApiFailure::Error(Error::new(ErrorName::Error, message))
}

/// Node's `fetchProfile` profile, then Backstage's transform (§11.0). A relative `avatarUrl`
/// (Bitbucket's own avatars) is resolved against the server; an absolute one (an external
/// avatar service) is kept as it is.
fn profile(base: &str, user: Map<String, Value>) -> ApiProfile {
    let username = text(&user, "name");
    let id = id_text(&user, "id");
    let picture = text(&user, "avatarUrl").and_then(|avatar| {
        url::Url::parse(base)
            .and_then(|base| base.join(&avatar))
            .ok()
            .map(String::from)
    });
    ApiProfile {
        profile: Profile {
            email: text(&user, "emailAddress"),
            picture,
            display_name: text(&user, "displayName")
                .or_else(|| username.clone())
                .or_else(|| id.clone()),
        },
        username,
        user_id: id,
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
    fn host_is_https_and_base_url_may_carry_a_context_path() {
        let read = |yaml: &str| super::super::api::read_for_test(settings, "bitbucketServer", yaml);
        let (_, metadata, problems) =
            read("clientId: a\nclientSecret: b\nhost: bitbucket.example.com:8443\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            metadata.authorization_endpoint,
            "https://bitbucket.example.com:8443/rest/oauth2/latest/authorize"
        );
        let (_, metadata, problems) =
            read("clientId: a\nclientSecret: b\nbaseUrl: http://127.0.0.1:8990/bitbucket/\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            metadata.token_endpoint,
            "http://127.0.0.1:8990/bitbucket/rest/oauth2/latest/token"
        );
        let (_, _, problems) = read("clientId: a\nclientSecret: b\n");
        assert_eq!(
            problems[0].message,
            "is required, e.g. bitbucket.example.com"
        );
        let (_, _, problems) =
            read("clientId: a\nclientSecret: b\nhost: https://bitbucket.example.com\n");
        assert!(problems[0].message.contains("use baseUrl"), "{problems:?}");
    }

    #[test]
    fn avatars_resolve_against_the_server() {
        let user = |avatar: &str| {
            json!({"name": "alice", "id": 101, "displayName": "Alice", "avatarUrl": avatar})
                .as_object()
                .unwrap()
                .clone()
        };
        let relative = profile(
            "https://bb.example.com/bitbucket",
            user("/bitbucket/users/alice/avatar.png?s=256"),
        );
        assert_eq!(
            relative.profile.picture.as_deref(),
            Some("https://bb.example.com/bitbucket/users/alice/avatar.png?s=256")
        );
        let absolute = profile(
            "https://bb.example.com",
            user("https://avatars.example/a.png"),
        );
        assert_eq!(
            absolute.profile.picture.as_deref(),
            Some("https://avatars.example/a.png")
        );
        assert_eq!(absolute.user_id.as_deref(), Some("101"));
        assert_eq!(absolute.profile.email, None);
    }
}
