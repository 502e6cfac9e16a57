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
        let script = super::manifest_dir().join(format!("tests/fakes/{provider}/server.mjs"));
        let mut child = Command::new("node")
            .arg(&script)
            .env("FAKE_PORT", "0")
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
        }
    }

    /// The requests received so far (`{method, path, query, form, auth, ...}`).
    pub async fn requests(&self) -> Vec<Value> {
        super::get_json(&format!("{}/__requests", self.base))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `POST /__admin/<action>` with a form.
    pub async fn admin(&self, action: &str, form: &[(&str, &str)]) {
        let response = super::client()
            .post(format!("{}/__admin/{action}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "admin {action}");
    }
}
