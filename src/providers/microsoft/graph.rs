//! The Microsoft profile: Graph's `GET /v1.0/me/` and the user's 96×96 photo, read with the
//! session's access token when it is a Graph token that may read the user; for a token of
//! another resource, with a Graph token of its own (one more refresh grant, as Node's module
//! does). `skipUserProfile` reads nothing: the profile then comes from the ID token.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::identity::Profile;
use crate::oauth::idp::{ClientAuth, IdpClient};
use crate::providers::oauth::{ApiCall, ApiFailure, ApiFuture, ApiProfile, ProfileApi};

/// Microsoft Graph's application id, the `aud` of its access tokens in every cloud.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The scope of the extra grant for a Graph token (Node's `GRAPH_PROFILE_SCOPE`).
const GRAPH_PROFILE_SCOPE: &str = "openid email User.Read offline_access";
/// Larger photos are left out rather than carried in every session response.
const MAX_PHOTO_BYTES: usize = 256 * 1024;
/// passport-microsoft's words for a profile Graph did not give.
const NO_PROFILE: &str = "failed to fetch user profile";

#[derive(Debug)]
pub(super) struct Graph {
    /// `https://graph.microsoft.com`, or the national cloud's.
    pub graph_url: String,
    /// `skipUserProfile`.
    pub skip: bool,
    pub token_endpoint: String,
    pub client_id: String,
    pub client_secret: String,
}

impl ProfileApi for Graph {
    fn fetch<'a>(&'a self, call: ApiCall<'a>) -> ApiFuture<'a> {
        Box::pin(async move {
            if self.skip {
                return Ok(ApiProfile::default());
            }
            let mut access_token = call.access_token.to_owned();
            let mut refresh_token = None;
            if !self.may_read_user(call.access_token) {
                let Some(session_refresh) = call.refresh_token else {
                    return Ok(ApiProfile::default());
                };
                let tokens = self.graph_token(call.idp, session_refresh).await?;
                access_token = tokens.0;
                refresh_token = tokens.1;
            }
            let mut user = self.me(call.idp, &access_token).await?;
            user.profile.picture = self.photo(call.idp, &access_token).await;
            user.refresh_token = refresh_token;
            Ok(user)
        })
    }
}

impl Graph {
    /// Whether `token` lets Graph read the user: a Graph token with `User.Read` or
    /// `User.Read.All`, in short or qualified form. A token that is not a JWT (personal
    /// accounts) is tried as it is, as Node does.
    fn may_read_user(&self, token: &str) -> bool {
        let Some(claims) = crate::jose::unverified_claims(token) else {
            return true;
        };
        let graph = self.graph_url.to_ascii_lowercase();
        let audiences = crate::jose::audiences(&claims);
        let for_graph = audiences.iter().any(|aud| {
            let aud = aud.trim_end_matches('/').to_ascii_lowercase();
            aud == GRAPH_APP_ID || aud == graph
        });
        let scopes = claims
            .get("scp")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let reads_user = scopes.split(' ').any(|scope| {
            let scope = scope.to_ascii_lowercase();
            let short = scope
                .strip_prefix(&format!("{graph}/"))
                .unwrap_or(scope.as_str());
            short == "user.read" || short == "user.read.all"
        });
        for_graph && reads_user
    }

    /// A Graph token (and the refresh token that came with it) for a session holding another
    /// resource's token.
    async fn graph_token(
        &self,
        idp: &IdpClient,
        refresh_token: &str,
    ) -> Result<(String, Option<String>), ApiFailure> {
        let form = [
            ("scope", GRAPH_PROFILE_SCOPE),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        let tokens = idp
            .token(
                &self.token_endpoint,
                ClientAuth::Post,
                &self.client_id,
                &self.client_secret,
                &form,
            )
            .await
            .map_err(|error| internal(format!("a Graph token was refused: {}", error.message)))?;
        let access_token = tokens
            .access_token
            .ok_or_else(|| internal("no Graph token was issued".to_owned()))?;
        Ok((access_token, tokens.refresh_token))
    }

    /// `GET /v1.0/me/`.
    async fn me(&self, idp: &IdpClient, token: &str) -> Result<ApiProfile, ApiFailure> {
        let url = format!("{}/v1.0/me/", self.graph_url);
        let answer = idp
            .api_request(reqwest::Method::GET, &url, token, "application/json")
            .await
            .map_err(|error| internal(error.message))?;
        if !answer.status.is_success() {
            let data = String::from_utf8_lossy(&answer.body);
            return Err(internal(format!(
                "status: {} data: {data}",
                answer.status.as_u16()
            )));
        }
        match serde_json::from_slice(&answer.body) {
            Ok(Value::Object(user)) => Ok(profile(user)),
            _ => Err(internal("Graph's answer is not a user".to_owned())),
        }
    }

    /// The 96×96 photo as a data URL; none when Graph has no photo or does not answer (Node
    /// would carry Graph's error document as the picture).
    async fn photo(&self, idp: &IdpClient, token: &str) -> Option<String> {
        let url = format!("{}/v1.0/me/photos/96x96/$value", self.graph_url);
        let answer = match idp
            .api_request(reqwest::Method::GET, &url, token, "*/*")
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                tracing::debug!("the Graph photo could not be read: {}", error.message);
                return None;
            }
        };
        let content_type = answer.content_type.as_deref().unwrap_or_default();
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        if !answer.status.is_success()
            || !mime.starts_with("image/")
            || answer.body.len() > MAX_PHOTO_BYTES
        {
            tracing::debug!(status = %answer.status, "no Graph photo for the user");
            return None;
        }
        Some(format!(
            "data:{mime};base64,{}",
            STANDARD.encode(&answer.body)
        ))
    }
}

fn internal(detail: String) -> ApiFailure {
    ApiFailure::Internal {
        message: NO_PROFILE.to_owned(),
        detail,
    }
}

/// passport-microsoft's profile, then Backstage's transform (§11.0): the mail, else the user
/// principal name; the display name, else the object id.
fn profile(mut user: Map<String, Value>) -> ApiProfile {
    user.remove("@odata.context");
    let text = |name: &str| {
        user.get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let id = text("id");
    ApiProfile {
        profile: Profile {
            email: text("mail").or_else(|| text("userPrincipalName")),
            picture: None,
            display_name: text("displayName").or_else(|| id.clone()),
        },
        username: None,
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

    fn graph(url: &str) -> Graph {
        Graph {
            graph_url: url.to_owned(),
            skip: false,
            token_endpoint: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
        }
    }

    fn token(claims: Value) -> String {
        let segment = |value: &Value| crate::jose::encode_segment(value).unwrap();
        format!(
            "{}.{}.sig",
            segment(&json!({"alg": "RS256"})),
            segment(&claims)
        )
    }

    #[test]
    fn graph_is_read_only_with_a_graph_token_that_may_read_the_user() {
        let global = graph("https://graph.microsoft.com");
        let graph_token = |scp: &str| token(json!({"aud": GRAPH_APP_ID, "scp": scp}));
        assert!(global.may_read_user(&graph_token("User.Read openid profile email")));
        assert!(global.may_read_user(&graph_token(
            "openid https://graph.microsoft.com/user.read.all"
        )));
        assert!(!global.may_read_user(&graph_token("Mail.Read openid")));
        assert!(!global.may_read_user(&token(
            json!({"aud": "api://backstage-test", "scp": "access_as_user"})
        )));
        assert!(global.may_read_user("EwBwA8l6BAAU-opaque-personal-account-token"));
        let us = graph("https://graph.microsoft.us");
        assert!(us.may_read_user(&token(
            json!({"aud": "https://graph.microsoft.us/", "scp": "https://graph.microsoft.us/User.Read"})
        )));
    }

    #[test]
    fn the_profile_is_built_as_passport_microsoft_builds_it() {
        let user = |value: Value| value.as_object().unwrap().clone();
        let alice = profile(user(json!({
            "@odata.context": "x", "id": "a11ce", "displayName": "Alice Example",
            "mail": "alice@example.com", "userPrincipalName": "alice@example.onmicrosoft.com"
        })));
        assert_eq!(alice.profile.email.as_deref(), Some("alice@example.com"));
        assert_eq!(alice.profile.display_name.as_deref(), Some("Alice Example"));
        assert_eq!(alice.user_id.as_deref(), Some("a11ce"));
        assert!(!alice.claims.contains_key("@odata.context"));
        let bare = profile(user(json!({
            "id": "b0b", "displayName": null, "mail": null, "userPrincipalName": "bob@example.com"
        })));
        assert_eq!(bare.profile.email.as_deref(), Some("bob@example.com"));
        assert_eq!(bare.profile.display_name.as_deref(), Some("b0b"));
    }
}
