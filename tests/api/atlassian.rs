//! The `atlassian` provider against a fake Atlassian identity (`tests/fakes/atlassian`, both
//! hosts on one port, reached through stagedoor's `baseUrl`) and the real Node catalog, as
//! Node's module answers (`tests/fixtures/node/atlassian/README.md`).

use serde_json::json;

use crate::common::browser::Browser;
use crate::common::provider::{FakeProvider, error_message, popup_error, session, user_ref};

const SCOPE: &str = "offline_access read:me read:jira-work read:jira-user";

/// Environments: `development` (email), `username` (Node's, which always fails), `local`.
async fn atlassian() -> FakeProvider {
    let environments = |fake: &crate::common::fakes::Fake| {
        let env = |name: &str, resolver: &str| {
            format!(
                "      {name}: {{ clientId: atlassian-client, clientSecret: atlassian-secret, baseUrl: '{}', signIn: {{ resolvers: [{{ resolver: {resolver} }}] }} }}\n",
                fake.base
            )
        };
        [
            env("development", "emailMatchingUserEntityProfileEmail"),
            env("username", "usernameMatchingUserEntityName"),
            env("local", "emailLocalPartMatchingUserEntityName"),
        ]
        .concat()
    };
    // The stock frontend asks for no scope (`scope=`).
    FakeProvider::start(
        "atlassian",
        &[("FAKE_ALLOW_HTTP", "1")],
        "",
        environments,
        &[],
    )
    .await
}

#[tokio::test]
async fn atlassian_signs_in_with_the_jira_scopes_and_refreshes_with_rotated_tokens() {
    let atlassian = atlassian().await;
    let mut browser = Browser::default();
    let start = atlassian.start_page(&mut browser, "development", "").await;
    let authorize = reqwest::Url::parse(&start.location().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/authorize");
    let params: std::collections::BTreeMap<_, _> = authorize.query_pairs().collect();
    assert_eq!(params["scope"], SCOPE);
    assert_eq!(params["audience"], "api.atlassian.com");
    assert_eq!(params["prompt"], "consent");
    let callback = atlassian
        .through_idp(&mut browser, &start, "login=alice")
        .await;
    let response = session(&browser.get(&callback).await);
    assert_eq!(
        response["profile"],
        json!({
            "email": "alice@example.com",
            "picture": "https://avatar-management--avatars.example/5b10a2844c20165700ede21g/128",
            "displayName": "Alice Example"
        })
    );
    assert_eq!(
        response["providerInfo"]["scope"], SCOPE,
        "Atlassian's answer"
    );
    assert_eq!(response["providerInfo"]["expiresInSeconds"], 3600);
    assert_eq!(user_ref(&response), "user:default/alice");
    let requests = atlassian.fake.requests().await;
    let paths: Vec<&str> = requests
        .iter()
        .map(|request| request["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/authorize",
            "/oauth/token",
            "/me",
            "/oauth/token/accessible-resources"
        ]
    );
    assert_eq!(requests[1]["form"]["client_id"], "atlassian-client");
    assert!(requests[1]["auth"].is_null(), "the secret in the form only");

    let first = atlassian.cookie(&browser, "refresh-token").unwrap();
    let refreshed = atlassian.refresh(&mut browser, "development").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rotated = atlassian.cookie(&browser, "refresh-token").unwrap();
    assert_ne!(rotated, first);
    let grant = atlassian
        .fake
        .requests()
        .await
        .into_iter()
        .rev()
        .find(|request| request["form"]["grant_type"] == "refresh_token")
        .unwrap();
    assert_eq!(grant["form"]["scope"], SCOPE);
    atlassian.set_cookie(&mut browser, "refresh-token", &first);
    let stale = atlassian.refresh(&mut browser, "development").await;
    assert_eq!(stale.status, 401);
    assert!(
        error_message(&stale)
            .ends_with("caused by Error: invalid_grant (Unknown or invalid refresh token.)"),
        "{}",
        stale.body
    );
    atlassian.set_cookie(&mut browser, "refresh-token", &rotated);

    let before = atlassian.fake.requests().await.len();
    let logout = atlassian.logout(&mut browser, "development").await;
    assert_eq!(logout.status, 200);
    assert_eq!(atlassian.cookie(&browser, "refresh-token"), None);
    assert_eq!(atlassian.fake.requests().await.len(), before);

    let mut browser = Browser::default();
    let back = atlassian
        .redirect_sign_in(&mut browser, "development", "login=alice")
        .await;
    assert_eq!(
        back.location().as_deref(),
        Some("http://localhost:3000/catalog")
    );
}

#[tokio::test]
async fn atlassian_resolvers_and_failures_read_as_node_reads_them() {
    let atlassian = atlassian().await;
    let sign_in = |env: &'static str, answer: &'static str| {
        let atlassian = &atlassian;
        async move {
            atlassian
                .sign_in(&mut Browser::default(), env, answer)
                .await
        }
    };
    for env in ["development", "local"] {
        let alice = session(&sign_in(env, "login=alice").await);
        assert_eq!(user_ref(&alice), "user:default/alice", "{env}");
    }
    // Node's atlassian profile has no user name.
    let username = sign_in("username", "login=alice").await;
    assert_eq!(
        popup_error(&username),
        "Atlassian user profile does not contain a username"
    );
    let noemail = sign_in("development", "login=noemail").await;
    assert!(
        popup_error(&noemail).starts_with("Login failed, user profile does not contain an email"),
        "{}",
        noemail.body
    );
    let nobody = sign_in("development", "login=nobody").await;
    assert!(
        popup_error(&nobody).starts_with("Failed to sign-in, unable to resolve user identity."),
        "{}",
        nobody.body
    );
    let denied = sign_in("development", "deny=1").await;
    assert_eq!(
        popup_error(&denied),
        "Authentication rejected, User did not authorize the request"
    );
    let bad_code = atlassian
        .sign_in_with_bad_code(&mut Browser::default(), "development")
        .await;
    assert_eq!(
        popup_error(&bad_code),
        "Authentication failed, Invalid authorization code"
    );
    // A failing API is named (Node says `Authentication failed, undefined`).
    atlassian
        .fake
        .admin(
            "fail",
            &[
                ("path", "/oauth/token/accessible-resources"),
                ("status", "500"),
                (
                    "body",
                    "{\"code\":500,\"message\":\"Internal Server Error\"}",
                ),
            ],
        )
        .await;
    let broken = sign_in("development", "login=alice").await;
    assert_eq!(
        popup_error(&broken),
        "Authentication failed, Failed to fetch user profile - accessible resources: Internal Server Error"
    );
}
