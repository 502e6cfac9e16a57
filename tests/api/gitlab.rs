//! The `gitlab` provider against a fake GitLab (`tests/fakes/gitlab`, self-managed at the
//! `audience` URL, naming itself `https://gitlab.example.com`) and the real Node catalog, as
//! Node's module answers (`tests/fixtures/node/gitlab/README.md`).

use serde_json::json;

use crate::common::browser::Browser;
use crate::common::provider::{FakeProvider, error_message, popup_error, session, user_ref};

/// Environments, one per resolver: `development` (username), `userid`, `fallback` (user id,
/// signing in users outside the catalog), `email`, `local`.
async fn gitlab() -> FakeProvider {
    let environments = |fake: &crate::common::fakes::Fake| {
        let env = |name: &str, resolver: &str| {
            format!(
                "      {name}: {{ clientId: gitlab-app, clientSecret: gitlab-app-secret, audience: '{}', signIn: {{ resolvers: [{{ resolver: {resolver} }}] }} }}\n",
                fake.base
            )
        };
        [
            env("development", "usernameMatchingUserEntityName"),
            env("userid", "userIdMatchingUserEntityAnnotation"),
            env(
                "fallback",
                "userIdMatchingUserEntityAnnotation, dangerouslyAllowSignInWithoutUserInCatalog: true",
            ),
            env("email", "emailMatchingUserEntityProfileEmail"),
            env("local", "emailLocalPartMatchingUserEntityName"),
        ]
        .concat()
    };
    FakeProvider::start(
        "gitlab",
        &[("FAKE_PUBLIC_URL", "https://gitlab.example.com")],
        "read_user",
        environments,
        &[("alice", &[("gitlab.example.com/user-id", "1001")])],
    )
    .await
}

#[tokio::test]
async fn gitlab_signs_in_refreshes_with_rotated_tokens_and_logs_out() {
    let gitlab = gitlab().await;
    let mut browser = Browser::default();
    let start = gitlab.start_page(&mut browser, "development", "").await;
    let authorize = reqwest::Url::parse(&start.location().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/oauth/authorize");
    let params: std::collections::BTreeMap<_, _> = authorize.query_pairs().collect();
    assert_eq!(params["scope"], "read_user");
    assert_eq!(params["client_id"], "gitlab-app");
    assert!(!params.contains_key("nonce") && !params.contains_key("prompt"));
    let callback = gitlab
        .through_idp(&mut browser, &start, "login=alice")
        .await;
    let response = session(&browser.get(&callback).await);
    assert_eq!(
        response["profile"],
        json!({
            "email": "alice@example.com",
            "picture": "https://gitlab.example.com/uploads/-/system/user/avatar/1001/avatar.png",
            "displayName": "Alice Example"
        })
    );
    assert_eq!(response["providerInfo"]["scope"], "read_user");
    assert_eq!(response["providerInfo"]["expiresInSeconds"], 7200);
    assert_eq!(user_ref(&response), "user:default/alice");
    let requests = gitlab.fake.requests().await;
    let token = requests
        .iter()
        .find(|request| request["path"] == "/oauth/token")
        .unwrap();
    assert_eq!(token["form"]["client_id"], "gitlab-app");
    assert_eq!(token["form"]["client_secret"], "gitlab-app-secret");
    assert_eq!(token["form"]["redirect_uri"], gitlab.callback());
    assert!(token["auth"].is_null(), "client secret in the form only");
    let user = requests
        .iter()
        .find(|request| request["path"] == "/api/v4/user")
        .unwrap();
    assert_eq!(user["auth"]["scheme"], "Bearer");
    assert_eq!(gitlab.cookie(&browser, "granted-scope"), None, "not kept");

    // GitLab rotates refresh tokens: each refresh writes the new one.
    let first = gitlab.cookie(&browser, "refresh-token").unwrap();
    let refreshed = gitlab.refresh(&mut browser, "development").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rotated = gitlab.cookie(&browser, "refresh-token").unwrap();
    assert_ne!(rotated, first);
    let grant = gitlab
        .fake
        .requests()
        .await
        .into_iter()
        .rev()
        .find(|request| request["form"]["grant_type"] == "refresh_token")
        .unwrap();
    assert_eq!(grant["form"]["scope"], "read_user");
    assert_eq!(grant["form"]["refresh_token"], first.as_str());

    // The rotated-out token is dead: GitLab's reason is kept (Node says '[object Object]').
    gitlab.set_cookie(&mut browser, "refresh-token", &first);
    let stale = gitlab.refresh(&mut browser, "development").await;
    assert_eq!(stale.status, 401);
    assert!(
        error_message(&stale).starts_with(
            "Refresh failed; caused by Error: Failed to refresh access token; caused by Error: invalid_grant (The provided authorization grant is invalid"
        ),
        "{}",
        stale.body
    );

    // Logout clears the cookie and calls nothing at GitLab.
    gitlab.set_cookie(&mut browser, "refresh-token", &rotated);
    let before = gitlab.fake.requests().await.len();
    let logout = gitlab.logout(&mut browser, "development").await;
    assert_eq!(logout.status, 200);
    assert_eq!(gitlab.cookie(&browser, "refresh-token"), None);
    assert_eq!(gitlab.fake.requests().await.len(), before);

    // The redirect flow: back to the app, then refresh gives the session.
    let mut browser = Browser::default();
    let back = gitlab
        .redirect_sign_in(&mut browser, "development", "login=alice")
        .await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert_eq!(
        back.location().as_deref(),
        Some("http://localhost:3000/catalog")
    );
    let refreshed = gitlab.refresh(&mut browser, "development").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
}

#[tokio::test]
async fn gitlab_resolvers_and_failures_read_as_node_reads_them() {
    let gitlab = gitlab().await;
    let sign_in = |env: &'static str, answer: &'static str| {
        let gitlab = &gitlab;
        async move { gitlab.sign_in(&mut Browser::default(), env, answer).await }
    };
    // Every resolver Node offers for gitlab.
    for env in ["development", "userid", "email", "local"] {
        let alice = session(&sign_in(env, "login=alice").await);
        assert_eq!(user_ref(&alice), "user:default/alice", "{env}");
    }
    // userIdMatchingUserEntityAnnotation's fallback: the numeric id as the user's name.
    let outsider = session(&sign_in("fallback", "login=nobody").await);
    assert_eq!(user_ref(&outsider), "user:default/1003");
    // A user outside the catalog.
    for env in ["development", "userid"] {
        let nobody = sign_in(env, "login=nobody").await;
        assert!(
            popup_error(&nobody).starts_with("Failed to sign-in, unable to resolve user identity."),
            "{env}: {}",
            nobody.body
        );
    }
    // A profile without the email the resolver needs.
    let noemail = sign_in("email", "login=noemail").await;
    assert!(
        popup_error(&noemail).starts_with("Login failed, user profile does not contain an email"),
        "{}",
        noemail.body
    );
    // The user denies access.
    let denied = sign_in("development", "deny=1").await;
    assert_eq!(
        popup_error(&denied),
        "Authentication rejected, The resource owner or authorization server denied the request."
    );
    // GitLab refuses the code.
    let bad_code = gitlab
        .sign_in_with_bad_code(&mut Browser::default(), "development")
        .await;
    assert_eq!(
        popup_error(&bad_code),
        "Authentication failed, The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
    );
    // The user API fails.
    gitlab
        .fake
        .admin(
            "fail",
            &[
                ("path", "/api/v4/user"),
                ("status", "401"),
                ("body", "{\"message\":\"401 Unauthorized\"}"),
            ],
        )
        .await;
    let broken = sign_in("development", "login=alice").await;
    assert_eq!(
        popup_error(&broken),
        "Authentication failed, Failed to fetch user profile - 401 Unauthorized"
    );
}
