//! The `bitbucketServer` provider (Bitbucket Data Center) against a fake Bitbucket Server
//! (`tests/fakes/bitbucketServer`, plain http through stagedoor's `baseUrl`; Node's `host`
//! and https are compared in the differential test) and the real Node catalog, as Node's
//! module answers (`tests/fixtures/node/bitbucketServer/README.md`).

use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::provider::{FakeProvider, error_message, popup_error, session, user_ref};

/// Environments: `development` (email), `local` (email local part).
async fn bitbucket_server() -> FakeProvider {
    let environments = |fake: &crate::common::fakes::Fake| {
        let env = |name: &str, resolver: &str| {
            format!(
                "      {name}: {{ clientId: bbs-client, clientSecret: bbs-secret, baseUrl: '{}', signIn: {{ resolvers: [{{ resolver: {resolver} }}] }} }}\n",
                fake.base
            )
        };
        [
            env("development", "emailMatchingUserEntityProfileEmail"),
            env("local", "emailLocalPartMatchingUserEntityName"),
        ]
        .concat()
    };
    FakeProvider::start(
        "bitbucketServer",
        &[("FAKE_ALLOW_HTTP", "1")],
        "PROJECT_ADMIN",
        environments,
        &[],
    )
    .await
}

fn paths(requests: &[Value]) -> Vec<String> {
    requests
        .iter()
        .map(|request| request["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn bitbucket_server_signs_in_through_whoami_and_refreshes_with_rotated_tokens() {
    let bbs = bitbucket_server().await;
    let mut browser = Browser::default();
    let start = bbs.start_page(&mut browser, "development", "").await;
    let authorize = reqwest::Url::parse(&start.location().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/rest/oauth2/latest/authorize");
    let params: std::collections::BTreeMap<_, _> = authorize.query_pairs().collect();
    assert_eq!(params["scope"], "PROJECT_ADMIN", "no scope of its own");
    let callback = bbs.through_idp(&mut browser, &start, "login=alice").await;
    let response = session(&browser.get(&callback).await);
    assert_eq!(
        response["profile"],
        json!({
            "email": "alice@example.com",
            "picture": format!("{}/users/alice/avatar.png?s=256&v=1700000000000", bbs.fake.base),
            "displayName": "Alice Example"
        })
    );
    assert_eq!(response["providerInfo"]["scope"], "PROJECT_ADMIN");
    assert_eq!(response["providerInfo"]["expiresInSeconds"], 7200);
    assert_eq!(user_ref(&response), "user:default/alice");
    let requests = bbs.fake.requests().await;
    assert_eq!(
        paths(&requests)[1..],
        [
            "/rest/oauth2/latest/token",
            "/plugins/servlet/applinks/whoami",
            "/rest/api/latest/users/alice"
        ]
    );
    assert_eq!(requests[1]["form"]["client_secret"], "bbs-secret");
    assert!(requests[1]["auth"].is_null());
    assert_eq!(requests[3]["query"], json!({"avatarSize": "256"}));
    assert_eq!(requests[3]["auth"]["scheme"], "Bearer");

    let first = bbs.cookie(&browser, "refresh-token").unwrap();
    let refreshed = bbs.refresh(&mut browser, "development").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rotated = bbs.cookie(&browser, "refresh-token").unwrap();
    assert_ne!(rotated, first);
    bbs.set_cookie(&mut browser, "refresh-token", &first);
    let stale = bbs.refresh(&mut browser, "development").await;
    assert_eq!(stale.status, 401);
    assert!(
        error_message(&stale)
            .ends_with("caused by Error: invalid_grant (Refresh token is invalid or expired)"),
        "{}",
        stale.body
    );
    bbs.set_cookie(&mut browser, "refresh-token", &rotated);

    // The profile fails on refresh: the module's own words.
    bbs.fake
        .admin(
            "fail",
            &[
                ("path", "/plugins/servlet/applinks/whoami"),
                ("status", "200"),
                ("body", ""),
            ],
        )
        .await;
    let anonymous = bbs.refresh(&mut browser, "development").await;
    assert_eq!(
        error_message(&anonymous),
        "Refresh failed; caused by Error: Failed to retrieve the username of the logged in user"
    );

    let before = bbs.fake.requests().await.len();
    let logout = bbs.logout(&mut browser, "development").await;
    assert_eq!(logout.status, 200);
    assert_eq!(bbs.cookie(&browser, "refresh-token"), None);
    assert_eq!(bbs.fake.requests().await.len(), before);

    let mut browser = Browser::default();
    let back = bbs
        .redirect_sign_in(&mut browser, "development", "login=alice")
        .await;
    assert_eq!(
        back.location().as_deref(),
        Some("http://localhost:3000/catalog")
    );
}

#[tokio::test]
async fn bitbucket_server_resolvers_and_failures_read_as_node_reads_them() {
    let bbs = bitbucket_server().await;
    let sign_in = |env: &'static str, answer: &'static str| {
        let bbs = &bbs;
        async move { bbs.sign_in(&mut Browser::default(), env, answer).await }
    };
    for env in ["development", "local"] {
        let alice = session(&sign_in(env, "login=alice").await);
        assert_eq!(user_ref(&alice), "user:default/alice", "{env}");
    }
    // The common emailMatchingUserEntityProfileEmail (Node registers it over the module's own):
    // alice+bbs@example.com is alice.
    let tagged = session(&sign_in("development", "login=aliceplus").await);
    assert_eq!(user_ref(&tagged), "user:default/alice");
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
        "Authentication rejected, The user denied the request"
    );
    let bad_code = bbs
        .sign_in_with_bad_code(&mut Browser::default(), "development")
        .await;
    assert_eq!(
        popup_error(&bad_code),
        "Authentication failed, Authorization code is invalid or expired"
    );
    // The module's own profile errors reach the popup without passport's words.
    bbs.fake
        .admin(
            "fail",
            &[
                ("path", "/plugins/servlet/applinks/whoami"),
                ("status", "200"),
                ("body", ""),
            ],
        )
        .await;
    let anonymous = sign_in("development", "login=alice").await;
    assert_eq!(
        popup_error(&anonymous),
        "Failed to retrieve the username of the logged in user"
    );
    bbs.fake
        .admin(
            "fail",
            &[("path", "/rest/api/latest/users/alice"), ("status", "404")],
        )
        .await;
    let missing = sign_in("development", "login=alice").await;
    assert_eq!(popup_error(&missing), "Failed to retrieve the user 'alice'");
}
