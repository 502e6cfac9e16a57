//! `gitlab`: gitlab.com or a self-managed instance, whose URL is Node's `audience` key (a
//! relative URL root such as `https://example.com/gitlab` works). The profile comes from
//! `GET /api/v4/user` as passport-gitlab2 builds it: the user's own email (not only the public
//! one), the avatar, the name or else the username; `web_url` names the instance for
//! `userIdMatchingUserEntityAnnotation` (`<host>/user-id`). Refresh tokens rotate; logout
//! calls nothing at GitLab, as in Node.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::api::{ApiPreset, ApiProfile, UserApi, base_url, id_text, text};
use super::oauth::OAuthEnvSettings;
use crate::identity::Profile;
use crate::oauth::idp::ClientAuth;
use crate::section::Section;

const GITLAB_COM: &str = "https://gitlab.com";

pub fn settings(
    reader: &mut Section<'_>,
    environment: &str,
    external_base_url: &str,
) -> OAuthEnvSettings {
    ApiPreset::settings("gitlab", reader, environment, external_base_url, preset)
}

fn preset(reader: &mut Section<'_>) -> ApiPreset {
    let base = base_url(reader, "audience", "https://gitlab.example.com")
        .unwrap_or_else(|| GITLAB_COM.to_owned());
    ApiPreset {
        authorize: format!("{base}/oauth/authorize"),
        token: format!("{base}/oauth/token"),
        client_auth: ClientAuth::Post,
        required_scopes: &["read_user"],
        persist_scopes: false,
        prompt: None,
        start_params: Vec::new(),
        api: Arc::new(UserApi {
            url: format!("{base}/api/v4/user"),
            profile,
        }),
    }
}

/// passport-gitlab2's profile, then Backstage's transform (§11.0).
fn profile(user: Map<String, Value>) -> ApiProfile {
    let username = text(&user, "username");
    let id = id_text(&user, "id");
    ApiProfile {
        profile: Profile {
            email: text(&user, "email"),
            picture: text(&user, "avatar_url"),
            display_name: text(&user, "name")
                .or_else(|| username.clone())
                .or_else(|| id.clone()),
        },
        username,
        user_id: id,
        profile_url: text(&user, "web_url"),
        claims: user,
        refresh_token: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::idp::Metadata;
    use serde_json::json;

    fn read(yaml: &str) -> (Metadata, Vec<crate::section::Problem>) {
        let (_, metadata, problems) = super::super::api::read_for_test(settings, "gitlab", yaml);
        (metadata, problems)
    }

    #[test]
    fn the_audience_is_the_instance_url() {
        let (metadata, problems) = read("clientId: a\nclientSecret: b\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            metadata.authorization_endpoint,
            "https://gitlab.com/oauth/authorize"
        );
        let (metadata, _) =
            read("clientId: a\nclientSecret: b\naudience: https://example.com/gitlab/\n");
        assert_eq!(
            metadata.token_endpoint,
            "https://example.com/gitlab/oauth/token"
        );
        let (_, problems) = read("clientId: a\nclientSecret: b\naudience: gitlab.example.com\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].path,
            "auth.providers.gitlab.development.audience"
        );
    }

    #[test]
    fn the_profile_is_built_as_passport_gitlab2_builds_it() {
        let user = |value: Value| value.as_object().unwrap().clone();
        let alice = profile(user(json!({
            "id": 1001, "username": "alice", "name": "Alice Example", "email": "alice@example.com",
            "public_email": "", "avatar_url": "https://gitlab.example.com/a.png",
            "web_url": "https://gitlab.example.com/alice"
        })));
        assert_eq!(alice.profile.email.as_deref(), Some("alice@example.com"));
        assert_eq!(alice.user_id.as_deref(), Some("1001"));
        assert_eq!(
            alice.profile_url.as_deref(),
            Some("https://gitlab.example.com/alice")
        );
        let bare = profile(user(json!({"id": 7, "username": "u"})));
        assert_eq!(bare.profile.email, None);
        assert_eq!(bare.profile.display_name.as_deref(), Some("u"));
    }
}
