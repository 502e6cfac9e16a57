//! The fake IdPs of `tests/fakes/` (Node built-ins only, no install), started for a test: each
//! prints a JSON line once it listens, records the requests it receives and takes admin calls.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Fake {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The ready line (clients, users, the provider's own base URLs).
    pub ready: Value,
    /// Trusts the fake's certificate when it serves https.
    http: reqwest::Client,
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Fake {
    /// `tests/fakes/<provider>/server.mjs` with `env`, once it listens.
    pub async fn start(provider: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn(provider, env, None).await
    }

    /// Over https, with a certificate of `ca`.
    pub async fn start_tls(provider: &str, env: &[(&str, &str)], ca: &super::tls::TestCa) -> Self {
        Self::spawn(provider, env, Some(ca)).await
    }

    async fn spawn(provider: &str, env: &[(&str, &str)], tls: Option<&super::tls::TestCa>) -> Self {
        let script = super::manifest_dir().join(format!("tests/fakes/{provider}/server.mjs"));
        let mut child = Command::new("node")
            .arg(&script)
            .env("FAKE_PORT", "0")
            .envs(tls.iter().flat_map(|ca| {
                [
                    ("FAKE_TLS_CERT", &ca.cert_file),
                    ("FAKE_TLS_KEY", &ca.key_file),
                ]
            }))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        // The first line says it listens; the rest (one per request) is drained.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = sender.send(first);
            }
            for _ in lines {}
        });
        let line =
            tokio::task::spawn_blocking(move || receiver.recv_timeout(Duration::from_secs(30)))
                .await
                .unwrap()
                .unwrap_or_else(|_| panic!("the {provider} fake did not start"));
        let ready: Value = serde_json::from_str(&line).expect("ready line");
        // `base` (the code-hosting fakes), `url` (fakekit's: the cloud providers').
        let base = ready["base"].as_str().or(ready["url"].as_str()).unwrap();
        Self {
            child: Some(child),
            base: base.to_owned(),
            ready,
            http: tls.map_or_else(super::client, super::tls::TestCa::client),
        }
    }

    /// The requests received so far (`{method, path, query, form, auth, ...}`).
    pub async fn requests(&self) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/__requests", self.base))
            .send()
            .await
            .unwrap();
        let requests: Value = response.json().await.unwrap();
        requests.as_array().cloned().unwrap_or_default()
    }

    /// Forgets the requests received so far.
    pub async fn clear_requests(&self) {
        let response = self
            .http
            .delete(format!("{}/__requests", self.base))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "clear the requests");
    }

    /// `POST /__admin/<action>` with a form.
    pub async fn admin(&self, action: &str, form: &[(&str, &str)]) {
        let response = self
            .http
            .post(format!("{}/__admin/{action}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "admin {action}");
    }
}
