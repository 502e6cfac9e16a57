//! The `bitbucket` provider (Bitbucket Cloud) against a fake Bitbucket (`tests/fakes/bitbucket`,
//! both hosts on one port, reached through stagedoor's `baseUrl`) and the real Node catalog, as
//! Node's module answers (`tests/fixtures/node/bitbucket/README.md`).

use serde_json::{Value, json};

use crate::common::browser::Browser;
use crate::common::provider::{FakeProvider, error_message, popup_error, session, user_ref};

const ALICE_UUID: &str = "{00001001-0000-4000-8000-000000001001}";

/// Environments, one per resolver: `development` (user id), `username`, `fallback` (user id,
/// signing in users outside the catalog), `email`, `local`.
async fn bitbucket() -> FakeProvider {
    let environments = |fake: &crate::common::fakes::Fake| {
        let env = |name: &str, resolver: &str| {
            format!(
                "      {name}: {{ clientId: bitbucket-key, clientSecret: bitbucket-secret, baseUrl: '{}', signIn: {{ resolvers: [{{ resolver: {resolver} }}] }} }}\n",
                fake.base
            )
        };
        [
            env("development", "userIdMatchingUserEntityAnnotation"),
            env("username", "usernameMatchingUserEntityAnnotation"),
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
        "bitbucket",
        &[("FAKE_ALLOW_HTTP", "1")],
        "account",
        environments,
        &[(
            "alice",
            &[
                ("bitbucket.org/user-id", ALICE_UUID),
                ("bitbucket.org/username", "alice"),
            ],
        )],
    )
    .await
}

#[tokio::test]
async fn bitbucket_keeps_the_granted_scope_and_the_same_refresh_token() {
    let bitbucket = bitbucket().await;
    let mut browser = Browser::default();
    let start = bitbucket.start_page(&mut browser, "development", "").await;
    let authorize = reqwest::Url::parse(&start.location().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/site/oauth2/authorize");
    let params: std::collections::BTreeMap<_, _> = authorize.query_pairs().collect();
    assert_eq!(params["scope"], "account");
    assert!(!params.contains_key("nonce") && !params.contains_key("prompt"));
    let callback = bitbucket
        .through_idp(&mut browser, &start, "login=alice")
        .await;
    let response = session(&browser.get(&callback).await);
    assert_eq!(
        response["profile"],
        json!({"displayName": "Alice Example"}),
        "no email, no picture"
    );
    assert_eq!(response["providerInfo"]["scope"], "account");
    assert_eq!(response["providerInfo"]["expiresInSeconds"], 7200);
    assert_eq!(user_ref(&response), "user:default/alice");
    assert_eq!(
        bitbucket.cookie(&browser, "granted-scope").as_deref(),
        Some("account")
    );
    let requests = bitbucket.fake.requests().await;
    let token = find(&requests, "/site/oauth2/access_token");
    assert_eq!(
        token["auth"],
        json!({"scheme": "Basic", "user": "bitbucket-key"})
    );
    assert_eq!(token["form"]["client_id"], "bitbucket-key", "both, as Node");
    assert_eq!(token["form"]["client_secret"], "bitbucket-secret");

    // Bitbucket hands back the same refresh token: the cookie is not written again.
    let first = bitbucket.cookie(&browser, "refresh-token").unwrap();
    let refreshed = bitbucket.refresh(&mut browser, "development").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert!(
        !refreshed
            .set_cookies()
            .iter()
            .any(|cookie| cookie.starts_with("bitbucket-refresh-token=")),
        "{:?}",
        refreshed.set_cookies()
    );
    assert_eq!(bitbucket.cookie(&browser, "refresh-token"), Some(first));
    // Scopes are kept: a refresh asking for more reports and keeps them, as Node does.
    let wider = bitbucket
        .refresh_with(&mut browser, "development", "account%20repository")
        .await;
    let body: Value = serde_json::from_str(&wider.body).unwrap();
    assert_eq!(body["providerInfo"]["scope"], "account repository");
    let grants = bitbucket.fake.requests().await;
    let grant = grants
        .iter()
        .rev()
        .find(|request| request["form"]["grant_type"] == "refresh_token")
        .unwrap();
    assert_eq!(grant["form"]["scope"], "account repository");
    assert_eq!(grant["auth"]["scheme"], "Basic");

    // The user revokes the app: refresh says what Bitbucket said.
    bitbucket.fake.admin("revoke", &[("login", "alice")]).await;
    let revoked = bitbucket.refresh(&mut browser, "development").await;
    assert_eq!(revoked.status, 401);
    assert!(
        error_message(&revoked).ends_with(
            "Failed to refresh access token; caused by Error: invalid_grant (Invalid refresh_token)"
        ),
        "{}",
        revoked.body
    );

    let before = bitbucket.fake.requests().await.len();
    let logout = bitbucket.logout(&mut browser, "development").await;
    assert_eq!(logout.status, 200);
    assert_eq!(bitbucket.cookie(&browser, "refresh-token"), None);
    assert_eq!(bitbucket.cookie(&browser, "granted-scope"), None);
    assert_eq!(bitbucket.fake.requests().await.len(), before);

    let mut browser = Browser::default();
    let back = bitbucket
        .redirect_sign_in(&mut browser, "development", "login=alice")
        .await;
    assert_eq!(
        back.location().as_deref(),
        Some("http://localhost:3000/catalog")
    );
    let refreshed = bitbucket.refresh(&mut browser, "development").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
}

fn find<'a>(requests: &'a [Value], path: &str) -> &'a Value {
    requests
        .iter()
        .find(|request| request["path"] == path)
        .unwrap_or_else(|| panic!("no request to {path}"))
}

#[tokio::test]
async fn bitbucket_resolvers_and_failures_read_as_node_reads_them() {
    let bitbucket = bitbucket().await;
    let sign_in = |env: &'static str, answer: &'static str| {
        let bitbucket = &bitbucket;
        async move {
            bitbucket
                .sign_in(&mut Browser::default(), env, answer)
                .await
        }
    };
    for env in ["development", "username"] {
        let alice = session(&sign_in(env, "login=alice").await);
        assert_eq!(user_ref(&alice), "user:default/alice", "{env}");
    }
    let outsider = session(&sign_in("fallback", "login=nobody").await);
    assert_eq!(
        user_ref(&outsider),
        "user:default/{00001003-0000-4000-8000-000000001003}"
    );
    // Bitbucket profiles carry no email: the email resolvers always fail, as in Node.
    for env in ["email", "local"] {
        let alice = sign_in(env, "login=alice").await;
        assert!(
            popup_error(&alice).starts_with("Login failed, user profile does not contain an email"),
            "{env}: {}",
            alice.body
        );
    }
    for env in ["development", "username"] {
        let nobody = sign_in(env, "login=nobody").await;
        assert!(
            popup_error(&nobody).starts_with("Failed to sign-in, unable to resolve user identity."),
            "{env}: {}",
            nobody.body
        );
    }
    let denied = sign_in("development", "deny=1").await;
    assert_eq!(
        popup_error(&denied),
        "Authentication rejected, The user denied the request."
    );
    let bad_code = bitbucket
        .sign_in_with_bad_code(&mut Browser::default(), "development")
        .await;
    assert_eq!(
        popup_error(&bad_code),
        "Authentication failed, The specified code is not valid."
    );
    bitbucket
        .fake
        .admin(
            "fail",
            &[
                ("path", "/2.0/user"),
                ("status", "403"),
                ("body", "{\"type\":\"error\",\"error\":{\"message\":\"Your credentials lack one or more required privilege scopes.\"}}"),
            ],
        )
        .await;
    let broken = sign_in("development", "login=alice").await;
    assert_eq!(
        popup_error(&broken),
        "Authentication failed, Failed to fetch user profile - Your credentials lack one or more required privilege scopes."
    );
}
