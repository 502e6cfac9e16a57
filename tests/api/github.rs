//! The `github` provider against a fake GitHub (`tests/fakes/github`, GitHub Enterprise layout
//! through `enterpriseInstanceUrl`) and the real Node catalog, as Node's module answers
//! (`tests/fixtures/node/github/README.md`): OAuth apps (the access token kept as the refresh
//! cookie) and GitHub Apps (a real refresh grant), the `/user` profile, the resolvers, errors.

use serde_json::{Value, json};

use crate::common::TestServer;
use crate::common::browser::{Browser, Page};
use crate::common::fakes::Fake;
use crate::common::node::{NodeBackend, free_port};

const CALLBACK: &str = "http://localhost:7007/api/auth/github/handler/frame";
const ORIGIN: &str = "origin=http%3A%2F%2Flocalhost%3A3000&flow=popup";
const XRW: (&str, &str) = ("x-requested-with", "XMLHttpRequest");

struct Setup {
    server: TestServer,
    fake: Fake,
    _catalog: NodeBackend,
}

/// Environments: `development` (OAuth app, username), `app` (GitHub App, user id),
/// `email` (OAuth app, email).
async fn setup(catalog_file: Option<&std::path::Path>) -> Setup {
    let fake = Fake::start("github", &[]).await;
    let port = free_port();
    let env = |client: &str, resolver: &str| {
        format!(
            "{{ clientId: {client}, clientSecret: {client}-secret, enterpriseInstanceUrl: '{}/', signIn: {{ resolvers: [{{ resolver: {resolver} }}] }} }}",
            fake.base
        )
    };
    let config = format!(
        "auth:\n  providers:\n    github:\n      development: {}\n      app: {}\n      email: {}\nstagedoor:\n  catalog: {{ baseUrl: 'http://127.0.0.1:{port}/api/catalog' }}\n",
        env("oauth-app", "usernameMatchingUserEntityName"),
        env("github-app", "userIdMatchingUserEntityAnnotation"),
        env("oauth-app", "emailMatchingUserEntityProfileEmail"),
    );
    let server = TestServer::start(&[&config]).await;
    let catalog = NodeBackend::start_at(port, &server.server.base_url(), catalog_file).await;
    Setup {
        server,
        fake,
        _catalog: catalog,
    }
}

impl Setup {
    /// `/start` → the fake approves `login` → the callback page.
    async fn sign_in(&self, browser: &mut Browser, env: &str, login: &str) -> Page {
        let start = browser
            .get(&self.server.url(&format!(
                "/github/start?scope=read%3Auser&{ORIGIN}&env={env}"
            )))
            .await;
        assert_eq!(start.status, 302, "{}", start.body);
        let authorize = format!("{}&login={login}", start.location().unwrap());
        let callback = browser.follow(&authorize, CALLBACK).await;
        assert!(callback.url.starts_with(CALLBACK), "{}", callback.url);
        browser
            .get(&callback.url.replacen(
                "http://localhost:7007/api/auth",
                &self.server.server.base_url(),
                1,
            ))
            .await
    }

    async fn refresh(&self, browser: &mut Browser, query: &str) -> Page {
        let url = self
            .server
            .url(&format!("/github/refresh?optional&{query}"));
        browser.request(reqwest::Method::GET, &url, &[XRW]).await
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.server.address.port())
    }
}

fn session(page: &Page) -> Value {
    assert_eq!(page.status, 200, "{}", page.body);
    let message = page.popup_message();
    assert!(message["response"].is_object(), "{message}");
    message["response"].clone()
}

fn popup_error(page: &Page) -> String {
    page.popup_message()["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {}", page.body))
        .to_owned()
}

#[tokio::test]
async fn an_oauth_app_signs_in_and_refreshes_with_the_access_token_it_keeps() {
    let setup = setup(None).await;
    let mut browser = Browser::default();
    let start = browser
        .get(&setup.server.url(&format!(
            "/github/start?scope=repo&{ORIGIN}&env=development"
        )))
        .await;
    let authorize = reqwest::Url::parse(&start.location().unwrap()).unwrap();
    assert_eq!(authorize.path(), "/login/oauth/authorize");
    let params: std::collections::BTreeMap<_, _> = authorize.query_pairs().collect();
    assert_eq!(params["scope"], "repo read:user");
    assert_eq!(params["client_id"], "oauth-app");
    assert!(!params.contains_key("nonce") && !params.contains_key("prompt"));

    let page = setup.sign_in(&mut browser, "development", "alice").await;
    let response = session(&page);
    assert_eq!(
        response["profile"],
        json!({"email": "alice@example.com", "picture": format!("{}/avatars/u/1001?v=4", setup.fake.base), "displayName": "Alice Example"})
    );
    assert_eq!(response["providerInfo"]["scope"], "read:user");
    assert!(response["providerInfo"].get("expiresInSeconds").is_none());
    assert_eq!(
        response["backstageIdentity"]["identity"]["userEntityRef"],
        "user:default/alice"
    );
    let cookie = browser
        .cookie(&setup.host(), "github-refresh-token")
        .unwrap();
    let access_token = response["providerInfo"]["accessToken"].as_str().unwrap();
    assert_eq!(cookie, format!("access-token-v2.{access_token}"));
    let token_request = setup
        .fake
        .requests()
        .await
        .into_iter()
        .find(|request| request["path"] == "/login/oauth/access_token")
        .unwrap();
    assert_eq!(token_request["form"]["client_id"], "oauth-app");
    assert_eq!(token_request["form"]["redirect_uri"], CALLBACK);

    // A refresh reads /user again with the kept token and asks GitHub for no token.
    let before = setup.fake.requests().await.len();
    let refreshed = setup.refresh(&mut browser, "env=development").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let body: Value = serde_json::from_str(&refreshed.body).unwrap();
    assert_eq!(body["providerInfo"]["accessToken"], access_token);
    let paths: Vec<Value> = setup.fake.requests().await[before..]
        .iter()
        .map(|request| request["path"].clone())
        .collect();
    assert_eq!(paths, [json!("/api/v3/user")]);

    // Without a token request nothing new can be granted: the frontend must sign in again.
    let wider = setup
        .refresh(&mut browser, "scope=repo&env=development")
        .await;
    assert_eq!(wider.status, 401);
    assert!(
        wider.body.contains("Refresh failed; caused by Error: Refresh failed, session has not been granted the requested scope"),
        "{}",
        wider.body
    );

    // GitHub forgets the token: refresh says so.
    setup.fake.admin("revoke", &[("login", "alice")]).await;
    let revoked = setup.refresh(&mut browser, "env=development").await;
    assert_eq!(revoked.status, 401);
    assert!(
        revoked
            .body
            .contains("caused by Error: Invalid access token"),
        "{}",
        revoked.body
    );
}

#[tokio::test]
async fn a_github_app_refreshes_with_a_grant_and_logout_only_clears_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = annotated_catalog(dir.path());
    let setup = setup(Some(&catalog)).await;
    let mut browser = Browser::default();
    let response = session(&setup.sign_in(&mut browser, "app", "alice").await);
    assert_eq!(
        response["backstageIdentity"]["identity"]["userEntityRef"], "user:default/alice",
        "found by the node id annotation"
    );
    assert_eq!(response["providerInfo"]["expiresInSeconds"], 28800);
    let first = browser
        .cookie(&setup.host(), "github-refresh-token")
        .unwrap();
    assert!(first.starts_with("ghr_"), "{first}");

    let refreshed = setup.refresh(&mut browser, "env=app").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rotated = browser
        .cookie(&setup.host(), "github-refresh-token")
        .unwrap();
    assert!(rotated.starts_with("ghr_") && rotated != first, "rotated");
    let grant = setup
        .fake
        .requests()
        .await
        .into_iter()
        .rev()
        .find(|request| {
            request["path"] == "/login/oauth/access_token"
                && request["form"]["grant_type"] == "refresh_token"
        });
    assert_eq!(grant.unwrap()["form"]["scope"], "read:user");

    // The old refresh token is dead at GitHub; its refresh fails with Node's words.
    browser.set_cookie(
        &setup.host(),
        "github-refresh-token",
        "/api/auth/github",
        &first,
    );
    let stale = setup.refresh(&mut browser, "env=app").await;
    assert!(
        stale
            .body
            .contains("caused by Error: Failed to refresh access token, no access token received"),
        "{}",
        stale.body
    );

    let before = setup.fake.requests().await.len();
    let logout = browser
        .request(
            reqwest::Method::POST,
            &setup.server.url("/github/logout?env=app"),
            &[XRW],
        )
        .await;
    assert_eq!(logout.status, 200);
    assert_eq!(browser.cookie(&setup.host(), "github-refresh-token"), None);
    assert_eq!(browser.cookie(&setup.host(), "github-granted-scope"), None);
    assert_eq!(
        setup.fake.requests().await.len(),
        before,
        "GitHub is not called"
    );

    // bob's node id differs from the catalog's in case only: GitHub compares exactly.
    let bob = setup.sign_in(&mut Browser::default(), "app", "bob").await;
    assert_eq!(
        popup_error(&bob),
        "GitHub user ID does not match the catalog user"
    );
}

/// The test catalog, with alice's and bob's GitHub node ids (bob's in the wrong case).
fn annotated_catalog(dir: &std::path::Path) -> std::path::PathBuf {
    let org = crate::common::node::harness_dir().join("catalog/org.yaml");
    let text = std::fs::read_to_string(org)
        .unwrap()
        .replace(
            "metadata:\n  name: alice\n",
            "metadata:\n  name: alice\n  annotations:\n    github.com/user-id: MDQ6VXNlcjEwMDE=\n",
        )
        .replace(
            "metadata:\n  name: bob\n",
            "metadata:\n  name: bob\n  annotations:\n    github.com/user-id: mdq6vxnlcjewmdi=\n",
        );
    let path = dir.join("org.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn failures_read_as_node_reads_them() {
    let setup = setup(None).await;
    // No public email: Node never reads the emails API, so email resolvers fail.
    let bob = setup.sign_in(&mut Browser::default(), "email", "bob").await;
    assert!(
        popup_error(&bob).starts_with("Login failed, user profile does not contain an email"),
        "{}",
        bob.body
    );
    // A user outside the catalog.
    let nobody = setup
        .sign_in(&mut Browser::default(), "development", "nobody")
        .await;
    assert!(
        popup_error(&nobody).starts_with("Failed to sign-in, unable to resolve user identity."),
        "{}",
        nobody.body
    );
    // The user denies access.
    let denied = setup
        .sign_in(&mut Browser::default(), "development", "alice&deny=1")
        .await;
    assert_eq!(
        popup_error(&denied),
        "Authentication rejected, The user has denied your application access."
    );
    // GitHub refuses the code (HTTP 200 without an access token).
    let mut browser = Browser::default();
    let start = browser
        .get(
            &setup
                .server
                .url(&format!("/github/start?{ORIGIN}&env=development")),
        )
        .await;
    let callback = browser
        .follow(
            &format!("{}&login=alice", start.location().unwrap()),
            CALLBACK,
        )
        .await;
    let mut url = reqwest::Url::parse(&callback.url).unwrap();
    let state = url
        .query_pairs()
        .find(|(key, _)| key == "state")
        .unwrap()
        .1
        .into_owned();
    url.query_pairs_mut()
        .clear()
        .append_pair("code", "not-a-code")
        .append_pair("state", &state);
    let bad_code = browser
        .get(&url.as_str().replacen(
            "http://localhost:7007/api/auth",
            &setup.server.server.base_url(),
            1,
        ))
        .await;
    assert_eq!(
        popup_error(&bad_code),
        "Authentication failed, Failed to obtain access token"
    );
    // The user API fails.
    setup
        .fake
        .admin(
            "fail",
            &[
                ("path", "/api/v3/user"),
                ("status", "500"),
                ("body", "{\"message\":\"Server Error\"}"),
            ],
        )
        .await;
    let broken = setup
        .sign_in(&mut Browser::default(), "development", "alice")
        .await;
    assert_eq!(
        popup_error(&broken),
        "Authentication failed, Failed to fetch user profile - Server Error"
    );
}
