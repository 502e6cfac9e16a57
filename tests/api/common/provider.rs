//! One provider under test against its fake (`tests/fakes/<id>`) and the real Node catalog:
//! stagedoor in this process, configured with `auth.providers.<id>`, and the steps of the
//! frontend (start, the IdP's answer, the callback page, refresh, logout).

use serde_json::Value;

use super::TestServer;
use super::browser::{Browser, Page};
use super::fakes::Fake;
use super::node::{NodeBackend, free_port, harness_dir};

pub const XRW: (&str, &str) = ("x-requested-with", "XMLHttpRequest");
const POPUP: &str = "origin=http%3A%2F%2Flocalhost%3A3000&flow=popup";

pub struct FakeProvider {
    pub id: &'static str,
    pub server: TestServer,
    pub fake: Fake,
    /// The frontend's default scope for this provider, query-encoded.
    scope: String,
    _catalog: NodeBackend,
    _dir: tempfile::TempDir,
}

/// Catalog annotations per user: `(user, [(annotation, value)])`.
pub type Annotations<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)])];

impl FakeProvider {
    /// The fake `id` with `fake_env`; `environments(fake)` is the YAML of
    /// `auth.providers.<id>` (one line per environment, indented by 6); the Node catalog holds
    /// the test users with `annotations`.
    pub async fn start(
        id: &'static str,
        fake_env: &[(&str, &str)],
        scope: &str,
        environments: impl FnOnce(&Fake) -> String,
        annotations: Annotations<'_>,
    ) -> Self {
        let fake = Fake::start(id, fake_env).await;
        let port = free_port();
        let config = format!(
            "auth:\n  providers:\n    {id}:\n{}stagedoor:\n  catalog: {{ baseUrl: 'http://127.0.0.1:{port}/api/catalog' }}\n",
            environments(&fake)
        );
        let server = TestServer::start(&[&config]).await;
        let dir = tempfile::tempdir().unwrap();
        let catalog_file = annotated_catalog(dir.path(), annotations);
        let catalog =
            NodeBackend::start_at(port, &server.server.base_url(), Some(&catalog_file)).await;
        Self {
            id,
            server,
            fake,
            scope: url::form_urlencoded::byte_serialize(scope.as_bytes()).collect(),
            _catalog: catalog,
            _dir: dir,
        }
    }

    /// The callback URL the IdP is told (`http://localhost:7007/...`, the base config's).
    pub fn callback(&self) -> String {
        format!("http://localhost:7007/api/auth/{}/handler/frame", self.id)
    }

    /// `/start` as the frontend calls it in `env` (popup flow), with `extra` query
    /// parameters; the redirect to the IdP.
    pub async fn start_page(&self, browser: &mut Browser, env: &str, extra: &str) -> Page {
        self.start_flow(browser, &format!("{POPUP}&env={env}{extra}"))
            .await
    }

    async fn start_flow(&self, browser: &mut Browser, query: &str) -> Page {
        let url = self
            .server
            .url(&format!("/{}/start?scope={}&{query}", self.id, self.scope));
        let start = browser.get(&url).await;
        assert_eq!(start.status, 302, "{}", start.body);
        start
    }

    /// A sign-in in the redirect flow (the app's `/catalog` page asks): the callback's answer,
    /// a redirect back to the app.
    pub async fn redirect_sign_in(&self, browser: &mut Browser, env: &str, answer: &str) -> Page {
        let query = format!(
            "origin=http%3A%2F%2Flocalhost%3A3000&flow=redirect&redirectUrl=http%3A%2F%2Flocalhost%3A3000%2Fcatalog&env={env}"
        );
        let start = self.start_flow(browser, &query).await;
        let callback = self.through_idp(browser, &start, answer).await;
        browser.get(&callback).await
    }

    /// The browser at the IdP (`answer`: `login=<user>` or `deny=1`, appended to the
    /// authorize URL), back to the callback URL, returned unvisited and aimed at the server.
    pub async fn through_idp(&self, browser: &mut Browser, start: &Page, answer: &str) -> String {
        let authorize = format!("{}&{answer}", start.location().unwrap());
        let callback = browser.follow(&authorize, &self.callback()).await;
        assert!(
            callback.url.starts_with(&self.callback()),
            "{}: {}",
            callback.url,
            callback.body
        );
        self.to_server(&callback.url)
    }

    /// `url` (naming `localhost:7007`, as the IdP sends the browser back) aimed at the server.
    pub fn to_server(&self, url: &str) -> String {
        url.replacen(
            "http://localhost:7007/api/auth",
            &self.server.server.base_url(),
            1,
        )
    }

    /// A popup sign-in in `env` answered with `answer`: the callback page.
    pub async fn sign_in(&self, browser: &mut Browser, env: &str, answer: &str) -> Page {
        let start = self.start_page(browser, env, "").await;
        let callback = self.through_idp(browser, &start, answer).await;
        browser.get(&callback).await
    }

    /// A sign-in with a code the IdP never issued (the state and cookies are the real ones).
    pub async fn sign_in_with_bad_code(&self, browser: &mut Browser, env: &str) -> Page {
        let start = self.start_page(browser, env, "").await;
        let callback = self.through_idp(browser, &start, "login=alice").await;
        let mut url = reqwest::Url::parse(&callback).unwrap();
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
        browser.get(url.as_str()).await
    }

    pub async fn refresh(&self, browser: &mut Browser, env: &str) -> Page {
        self.refresh_with(browser, env, "").await
    }

    /// `/refresh` with the frontend's scope, or `scope` instead when given.
    pub async fn refresh_with(&self, browser: &mut Browser, env: &str, scope: &str) -> Page {
        let scope = if scope.is_empty() { &self.scope } else { scope };
        let url = self.server.url(&format!(
            "/{}/refresh?optional&scope={scope}&env={env}",
            self.id
        ));
        browser.request(reqwest::Method::GET, &url, &[XRW]).await
    }

    pub async fn logout(&self, browser: &mut Browser, env: &str) -> Page {
        let url = self.server.url(&format!("/{}/logout?env={env}", self.id));
        browser.request(reqwest::Method::POST, &url, &[XRW]).await
    }

    /// The browser's cookie jar key for the server.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.server.address.port())
    }

    pub fn cookie(&self, browser: &Browser, suffix: &str) -> Option<String> {
        browser.cookie(&self.host(), &format!("{}-{suffix}", self.id))
    }

    pub fn set_cookie(&self, browser: &mut Browser, suffix: &str, value: &str) {
        let path = format!("/api/auth/{}", self.id);
        browser.set_cookie(&self.host(), &format!("{}-{suffix}", self.id), &path, value);
    }

    /// The requests the fake received since `since` (an index into the record).
    pub async fn requests_since(&self, since: usize) -> Vec<Value> {
        self.fake.requests().await.split_off(since)
    }
}

/// The session of a successful popup sign-in.
pub fn session(page: &Page) -> Value {
    assert_eq!(page.status, 200, "{}", page.body);
    let message = page.popup_message();
    assert!(message["response"].is_object(), "{message}");
    message["response"].clone()
}

/// The message of a failed popup sign-in.
pub fn popup_error(page: &Page) -> String {
    page.popup_message()["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {}", page.body))
        .to_owned()
}

/// The message of a failed JSON answer (refresh).
pub fn error_message(page: &Page) -> String {
    let body: Value = serde_json::from_str(&page.body).unwrap_or(Value::Null);
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {} {}", page.status, page.body))
        .to_owned()
}

/// `userEntityRef` of a session.
pub fn user_ref(session: &Value) -> &str {
    session["backstageIdentity"]["identity"]["userEntityRef"]
        .as_str()
        .unwrap_or_default()
}

/// The test catalog (`tests/node-backstage/catalog/org.yaml`) with annotations added to its
/// users, written in `dir`.
pub fn annotated_catalog(
    dir: &std::path::Path,
    annotations: Annotations<'_>,
) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(harness_dir().join("catalog/org.yaml")).unwrap();
    for (user, pairs) in annotations {
        let anchor = format!("metadata:\n  name: {user}\n");
        assert!(text.contains(&anchor), "no user {user} in the test catalog");
        let mut block = format!("{anchor}  annotations:\n");
        for (key, value) in *pairs {
            block.push_str(&format!("    {key}: '{value}'\n"));
        }
        text = text.replacen(&anchor, &block, 1);
    }
    let path = dir.join("org.yaml");
    std::fs::write(&path, text).unwrap();
    path
}
