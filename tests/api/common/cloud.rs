//! A driver for the cloud providers' sign-ins (microsoft, google, openshift, pinniped) against
//! their fakes (`tests/fakes/<id>/server.mjs`, fakekit) and the real Node catalog, step for
//! step as the driver of Node's captures (`tests/fixtures/node/cloud-harness/capture-cloud.mjs`)
//! runs them, so that every step can be compared with Node's capture of it
//! ([`super::captures`]). The catalog is the captures' (`cloud-harness/org.yaml`: alice with
//! every provider annotation, bob with none).

use serde_json::{Value, json};

use super::TestServer;
use super::browser::{Browser, Page};
use super::fakes::Fake;
use super::node::{NodeBackend, free_port};

pub const ORIGIN: &str = "http://localhost:3000";
const XRW: (&str, &str) = ("x-requested-with", "XMLHttpRequest");
/// The callback URLs name `localhost:7007`, as the fakes' registered redirect URIs do.
const NODE_BASE: &str = "http://localhost:7007/api/auth";

/// What the frontend asks for (as the capture driver does).
pub fn default_scope(provider: &str) -> &'static str {
    match provider {
        "microsoft" => "openid offline_access profile email User.Read offline_access",
        "google" => {
            "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"
        }
        "openshift" => "user:full",
        _ => "openid pinniped:request-audience username offline_access",
    }
}

pub struct Cloud {
    pub id: &'static str,
    pub server: TestServer,
    pub fake: Fake,
    _catalog: NodeBackend,
}

/// One sign-in, as the capture driver's `signIn`.
#[derive(Clone, Copy)]
pub struct SignIn<'a> {
    pub env: &'a str,
    pub scope: Option<&'a str>,
    pub login: Option<&'a str>,
    pub deny: bool,
    pub start_extra: &'a [(&'a str, &'a str)],
    /// Replaces the code the IdP sent (a code it never issued).
    pub code: Option<&'a str>,
    pub redirect_url: Option<&'a str>,
}

impl<'a> SignIn<'a> {
    pub fn as_user(login: &'a str) -> Self {
        Self {
            env: "development",
            scope: None,
            login: Some(login),
            deny: false,
            start_extra: &[],
            code: None,
            redirect_url: None,
        }
    }

    pub fn env(self, env: &'a str) -> Self {
        Self { env, ..self }
    }
}

/// What one step gave: `/start`'s answer (sign-ins), the step's answer, and every request the
/// fake received meanwhile.
pub struct Step {
    pub start: Option<Page>,
    pub page: Page,
    pub idp: Vec<Value>,
}

impl Step {
    /// The popup's message, or the JSON answer.
    pub fn result(&self) -> Value {
        if self.page.body.contains("decodeURIComponent('") {
            return self.page.popup_message();
        }
        serde_json::from_str(&self.page.body).unwrap_or(Value::Null)
    }

    /// The session the popup or the refresh delivered.
    pub fn session(&self) -> Value {
        let result = self.result();
        let session = result.get("response").cloned().unwrap_or(result);
        assert!(
            session.get("profile").is_some(),
            "a session: {}",
            self.page.body
        );
        session
    }

    /// The error message of the popup or of the JSON answer.
    pub fn error(&self) -> String {
        let result = self.result();
        let message = result["error"]["message"].as_str();
        message
            .unwrap_or_else(|| panic!("an error: {}", self.page.body))
            .to_owned()
    }
}

impl Cloud {
    /// The fake of `id` (with `fake_env`), stagedoor with `auth.providers.<id>` set to what
    /// `environments` makes of the fake's base URL, and the Node catalog.
    pub async fn start(
        id: &'static str,
        fake_env: &[(&str, &str)],
        environments: impl FnOnce(&str) -> String,
    ) -> Self {
        let fake = Fake::start(id, fake_env).await;
        let port = free_port();
        let config = format!(
            "auth:\n  providers:\n    {id}:\n{}\nstagedoor:\n  catalog: {{ baseUrl: 'http://127.0.0.1:{port}/api/catalog' }}\n",
            environments(&fake.base)
        );
        let server = TestServer::start(&[&config]).await;
        let org = super::manifest_dir().join("tests/fixtures/node/cloud-harness/org.yaml");
        let catalog = NodeBackend::start_at(port, &server.server.base_url(), Some(&org)).await;
        Self {
            id,
            server,
            fake,
            _catalog: catalog,
        }
    }

    /// `host:port` of stagedoor, where the browser keeps its cookies.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.server.address.port())
    }

    /// `/start` → the fake (with `login` or `deny`) → the callback, in `browser`.
    pub async fn sign_in(&self, browser: &mut Browser, sign_in: SignIn<'_>) -> Step {
        self.clear_requests().await;
        let scope = sign_in.scope.unwrap_or(default_scope(self.id));
        let flow = if sign_in.redirect_url.is_some() {
            "redirect"
        } else {
            "popup"
        };
        let mut query = vec![("scope", scope)];
        query.extend_from_slice(sign_in.start_extra);
        query.push(("origin", ORIGIN));
        if let Some(url) = sign_in.redirect_url {
            query.push(("redirectUrl", url));
        }
        query.extend([("flow", flow), ("env", sign_in.env)]);
        let start = browser
            .get(
                &self
                    .server
                    .url(&format!("/{}/start?{}", self.id, encode(&query))),
            )
            .await;
        assert_eq!(start.status, 302, "{}", start.body);
        let mut authorize = reqwest::Url::parse(&start.location().unwrap()).unwrap();
        if let Some(login) = sign_in.login {
            authorize.query_pairs_mut().append_pair("login", login);
        }
        if sign_in.deny {
            authorize.query_pairs_mut().append_pair("deny", "1");
        }
        let idp = browser.get(authorize.as_str()).await;
        let mut callback = reqwest::Url::parse(
            &idp.location()
                .unwrap_or_else(|| panic!("the fake answered {}: {}", idp.status, idp.body)),
        )
        .unwrap();
        if let Some(code) = sign_in.code {
            let kept: Vec<(String, String)> = callback
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .map(|(k, v)| {
                    if k == "code" {
                        (k, code.to_owned())
                    } else {
                        (k, v)
                    }
                })
                .collect();
            callback.query_pairs_mut().clear().extend_pairs(kept);
        }
        let url = callback
            .as_str()
            .replacen(NODE_BASE, &self.server.server.base_url(), 1);
        let page = browser.get(&url).await;
        Step {
            start: Some(start),
            page,
            idp: self.fake.requests().await,
        }
    }

    /// A sign-in of `login` in `env`, in a browser of its own.
    pub async fn signed_in(&self, login: &str, env: &str) -> Step {
        let sign_in = SignIn::as_user(login).env(env);
        self.sign_in(&mut Browser::default(), sign_in).await
    }

    /// A redirect-flow sign-in of `login` in `env`, for the providers Node's captures have no
    /// redirect step of: the callback sends the browser back to the app with the refresh
    /// cookie set, from which the session refreshes. Gives the refreshed session.
    pub async fn signs_in_by_redirect(&self, login: &str, env: &str) -> Value {
        let back_to = "http://localhost:3000/catalog?x=1";
        let mut browser = Browser::default();
        let mut sign_in = SignIn::as_user(login).env(env);
        sign_in.redirect_url = Some(back_to);
        let step = self.sign_in(&mut browser, sign_in).await;
        assert_eq!(step.page.status, 302, "{}", step.page.body);
        assert_eq!(step.page.location().as_deref(), Some(back_to));
        assert!(self.refresh_cookie(&browser).is_some(), "a refresh cookie");
        let refreshed = self.refresh(&mut browser, env, None).await;
        assert_eq!(refreshed.page.status, 200, "{}", refreshed.page.body);
        refreshed.session()
    }

    pub async fn refresh(&self, browser: &mut Browser, env: &str, scope: Option<&str>) -> Step {
        self.clear_requests().await;
        let query = encode(&[
            ("scope", scope.unwrap_or(default_scope(self.id))),
            ("env", env),
        ]);
        let url = self
            .server
            .url(&format!("/{}/refresh?optional&{query}", self.id));
        let page = browser.request(reqwest::Method::GET, &url, &[XRW]).await;
        Step {
            start: None,
            page,
            idp: self.fake.requests().await,
        }
    }

    pub async fn logout(&self, browser: &mut Browser, env: &str) -> Step {
        self.clear_requests().await;
        let url = self.server.url(&format!("/{}/logout?env={env}", self.id));
        let headers = [XRW, ("origin", ORIGIN)];
        let page = browser.request(reqwest::Method::POST, &url, &headers).await;
        Step {
            start: None,
            page,
            idp: self.fake.requests().await,
        }
    }

    /// The browser's refresh cookie for this provider.
    pub fn refresh_cookie(&self, browser: &Browser) -> Option<String> {
        browser.cookie(&self.host(), &format!("{}-refresh-token", self.id))
    }

    pub fn set_refresh_cookie(&self, browser: &mut Browser, value: &str) {
        let name = format!("{}-refresh-token", self.id);
        let path = format!("/api/auth/{}", self.id);
        browser.set_cookie(&self.host(), &name, &path, value);
    }

    /// Changes a user of the fake (`null` removes a field).
    pub async fn set_user(&self, login: &str, set: Value) {
        self.fake_post("/__user", json!({"login": login, "set": set}))
            .await;
    }

    /// Revokes every refresh token of `login` at the fake.
    pub async fn revoke(&self, login: &str) {
        self.fake_post("/__revoke", json!({ "login": login })).await;
    }

    async fn fake_post(&self, path: &str, body: Value) {
        let response = super::client()
            .post(format!("{}{path}", self.fake.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
    }

    async fn clear_requests(&self) {
        super::client()
            .delete(format!("{}/__requests", self.fake.base))
            .send()
            .await
            .unwrap();
    }
}

/// `encodeURIComponent`'s set.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A query string as the frontend's `DefaultAuthConnector` writes it.
fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| {
            let value = percent_encoding::utf8_percent_encode(value, URI_COMPONENT);
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}
