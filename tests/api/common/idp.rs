//! The real OpenID Provider of `tests/idp/` (npm `oidc-provider`), started for a test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Idp {
    child: Option<Child>,
    pub issuer: String,
    /// `scheme://127.0.0.1:port`, where the test hooks (`/admin/...`) are.
    pub origin: String,
    http: reqwest::Client,
}

impl Drop for Idp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Idp {
    /// `clients`: oidc-provider client metadata (JSON array); `None` for the default client.
    pub async fn start(clients: Option<&serde_json::Value>) -> Self {
        Self::start_with(clients, &[]).await
    }

    /// With extra environment (`IDP_ISSUER_PATH`, `IDP_ROUTES`, ...).
    pub async fn start_with(clients: Option<&serde_json::Value>, env: &[(&str, &str)]) -> Self {
        Self::spawn(clients, env, None).await
    }

    /// Over https, with a certificate of `ca`.
    pub async fn start_tls(
        clients: Option<&serde_json::Value>,
        env: &[(&str, &str)],
        ca: &super::tls::TestCa,
    ) -> Self {
        Self::spawn(clients, env, Some(ca)).await
    }

    async fn spawn(
        clients: Option<&serde_json::Value>,
        env: &[(&str, &str)],
        tls: Option<&super::tls::TestCa>,
    ) -> Self {
        let dir = super::manifest_dir().join("tests/idp");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test IdP is not installed: run tests/idp/setup.sh (the README's test command does it)"
        );
        let port = super::node::free_port();
        let log_path = std::env::temp_dir().join(format!("stagedoor-idp-{port}.log"));
        let mut command = Command::new("node");
        command
            .arg("idp.mjs")
            .current_dir(&dir)
            .env("IDP_PORT", port.to_string())
            .stdout(std::fs::File::create(&log_path).unwrap())
            .stderr(Stdio::inherit());
        if let Some(clients) = clients {
            command.env("IDP_CLIENTS", clients.to_string());
        }
        if let Some(ca) = tls {
            command
                .env("IDP_TLS_CERT", &ca.cert_file)
                .env("IDP_TLS_KEY", &ca.key_file);
        }
        let mut path = String::new();
        for (key, value) in env {
            command.env(key, value);
            if *key == "IDP_ISSUER_PATH" {
                path = (*value).to_owned();
            }
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let origin = format!("{scheme}://127.0.0.1:{port}");
        let path = if path == "/" {
            path
        } else {
            path.trim_end_matches('/').to_owned()
        };
        let mut idp = Self {
            child: Some(command.spawn().expect("node")),
            issuer: format!("{origin}{path}"),
            origin,
            http: tls.map_or_else(super::client, super::tls::TestCa::client),
        };
        let started = Instant::now();
        let discovery = idp.discovery_url();
        loop {
            if let Ok(response) = idp.http.get(&discovery).send().await
                && response.status() == 200
            {
                return idp;
            }
            if let Some(Ok(Some(status))) = idp.child.as_mut().map(Child::try_wait) {
                panic!("the IdP exited with {status}; see {}", log_path.display());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the IdP did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// What the IdP received since the last [`Idp::clear_requests`] (see tests/idp/README.md).
    pub async fn requests(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/admin/requests", self.origin);
        let response = self.http.get(url).send().await.expect("the IdP");
        response.json().await.expect("the IdP's request log")
    }

    pub async fn clear_requests(&self) {
        self.admin(reqwest::Method::DELETE, "/admin/requests").await;
    }

    /// Every request to `path` (e.g. `/token/revocation`) answers `status` until
    /// [`Idp::clear_failures`].
    pub async fn fail(&self, path: &str, status: u16) {
        let query = format!("/admin/fail?path={path}&status={status}");
        self.admin(reqwest::Method::POST, &query).await;
    }

    pub async fn clear_failures(&self) {
        self.admin(reqwest::Method::DELETE, "/admin/fail").await;
    }

    /// New refresh tokens carry `bits` bits of randomness (256 by default; 30000 makes them
    /// about 5000 characters long, more than one cookie holds).
    pub async fn set_refresh_token_bits(&self, bits: u32) {
        let query = format!("/admin/settings?refresh_token_bits={bits}");
        self.admin(reqwest::Method::POST, &query).await;
    }

    async fn admin(&self, method: reqwest::Method, path_and_query: &str) {
        let url = format!("{}{path_and_query}", self.origin);
        let response = self
            .http
            .request(method, url)
            .send()
            .await
            .expect("the IdP");
        assert_eq!(response.status(), 200, "{path_and_query}");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Idp {
    /// A popup sign-in on stagedoor at `base` (its `/api/auth` URL): `/oidc/start`, the IdP
    /// answered with `answer` (`login=...` or `deny=1`), then the callback page.
    pub async fn popup_sign_in(
        &self,
        browser: &mut super::browser::Browser,
        base: &str,
        answer: &str,
    ) -> super::browser::Page {
        let callback = self.callback_url(browser, base, answer).await;
        browser.get(&callback).await
    }

    /// The first half of a popup sign-in on stagedoor at `base`: `/oidc/start` and the
    /// browser's trip through the IdP, answered with `answer`. Returns the callback URL the
    /// IdP sent the browser to, aimed at `base`, not yet followed.
    pub async fn callback_url(
        &self,
        browser: &mut super::browser::Browser,
        base: &str,
        answer: &str,
    ) -> String {
        const CALLBACK: &str = "http://localhost:7007/api/auth/oidc/handler/frame";
        let start = browser
            .get(&format!("{base}/oidc/start?{}", super::POPUP_QUERY))
            .await;
        assert_eq!(start.status, 302, "{}", start.body);
        let location = start.location().unwrap_or_default();
        let callback = self.answer(browser, &location, answer, CALLBACK).await;
        callback
            .url
            .replacen("http://localhost:7007/api/auth", base, 1)
    }

    /// The browser's trip through the IdP: from `authorize_url` to the interaction page, which
    /// gets `answer` (`login=<account>` or `deny=1`), then on to the redirect to `callback`,
    /// returned unfollowed.
    pub async fn answer(
        &self,
        browser: &mut super::browser::Browser,
        authorize_url: &str,
        answer: &str,
        callback: &str,
    ) -> super::browser::Page {
        let interaction = browser
            .follow(authorize_url, &format!("{}/interaction/", self.issuer))
            .await;
        assert!(
            interaction.url.contains("/interaction/"),
            "{}: {}",
            interaction.url,
            interaction.body
        );
        let separator = if interaction.url.contains('?') {
            '&'
        } else {
            '?'
        };
        let page = browser
            .follow(&format!("{}{separator}{answer}", interaction.url), callback)
            .await;
        assert!(
            page.url.starts_with(callback),
            "the IdP came back to {}: {}",
            page.url,
            page.body
        );
        page
    }
}
