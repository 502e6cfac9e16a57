//! The fake key endpoints and assertion minter of the authenticating proxies
//! (`tests/fakes/proxy-keys/server.mjs`), started for a test: keys shaped like ALB's (PEM per
//! kid), IAP's (kid → PEM map) and Cloudflare Access's (certs, identity), failure injection,
//! rotation, and assertions minted with its keys.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub struct KeyServer {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    http: reqwest::Client,
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl KeyServer {
    pub async fn start() -> Self {
        let script = super::manifest_dir().join("tests/fakes/proxy-keys/server.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .env("PROXY_KEYS_PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().expect("stdout");
        let first = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            // Keep reading so the pipe never fills.
            std::thread::spawn(move || for _ in lines {});
            first
        })
        .await
        .expect("the key server's first line");
        let ready: Value = serde_json::from_str(&first)
            .unwrap_or_else(|_| panic!("the key server did not start: {first:?}"));
        Self {
            child: Some(child),
            base: ready["base"].as_str().expect("base").to_owned(),
            http: super::client(),
        }
    }

    pub fn iap_keys_url(&self) -> String {
        format!("{}/iap/verify/public_key", self.base)
    }

    pub fn cf_certs_url(&self) -> String {
        format!("{}/cdn-cgi/access/certs", self.base)
    }

    pub fn cf_identity_url(&self) -> String {
        format!("{}/cdn-cgi/access/get-identity", self.base)
    }

    /// `POST /admin/mint`: `{token, protectedHeader, claims, headers, cookie?}`.
    pub async fn mint(&self, kind: &str, options: Value) -> Value {
        let mut body = options;
        body["kind"] = json!(kind);
        let response = self
            .http
            .post(format!("{}/admin/mint", self.base))
            .json(&body)
            .send()
            .await
            .expect("the key server");
        assert_eq!(response.status(), 200, "mint {body}");
        response.json().await.expect("minted")
    }

    /// The request headers the proxy would send, minted with `options`.
    pub async fn headers(&self, kind: &str, options: Value) -> Vec<(String, String)> {
        let minted = self.mint(kind, options).await;
        minted["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    async fn admin(&self, method: reqwest::Method, path_and_query: &str) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("the key server");
        response.json().await.unwrap_or(Value::Null)
    }

    /// `target`: `alb`, `iap`, `cf-certs`, `cf-identity`, `all`; `status`: a code, `reset`, `hang`.
    pub async fn fail(&self, target: &str, status: &str) {
        let query = format!("/admin/fail?target={target}&status={status}");
        self.admin(reqwest::Method::POST, &query).await;
    }

    pub async fn recover(&self) {
        self.admin(reqwest::Method::POST, "/admin/recover").await;
    }

    /// A new signing key for `provider` (`alb`, `iap`, `cf`): `{signing_kid, kids}`.
    pub async fn rotate(&self, provider: &str) -> Value {
        let query = format!("/admin/rotate?provider={provider}");
        self.admin(reqwest::Method::POST, &query).await
    }

    /// The key and identity requests received: `{target, path, headers, status, ...}`.
    pub async fn requests(&self) -> Vec<Value> {
        let requests = self.admin(reqwest::Method::GET, "/admin/requests").await;
        requests.as_array().cloned().unwrap_or_default()
    }

    pub async fn clear_requests(&self) {
        self.admin(reqwest::Method::DELETE, "/admin/requests").await;
    }
}
