//! The real OAuth clients of `tests/clients/` (the Backstage CLI's auth module, the MCP
//! SDK's OAuth client), run through their drivers: one JSON event per stdout line.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncBufReadExt;

pub fn clients_dir() -> PathBuf {
    super::manifest_dir().join("tests/clients")
}

/// What a driver did: its exit code and events.
#[derive(Debug)]
pub struct DriverRun {
    pub exit_code: Option<i32>,
    pub events: Vec<Value>,
}

impl DriverRun {
    /// Every event named `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|event| event["event"] == name)
            .collect()
    }

    /// The first event named `name`.
    pub fn first(&self, name: &str) -> &Value {
        self.all(name)
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no {name} event in {:#?}", self.events))
    }

    pub fn assert_ok(&self) {
        assert_eq!(self.exit_code, Some(0), "{:#?}", self.events);
        assert_eq!(
            self.events.last().map(|e| &e["ok"]),
            Some(&Value::Bool(true))
        );
    }
}

/// Runs `node tests/clients/<script> <args>` and collects its events, killing it after
/// `timeout`.
pub async fn run(script: &str, args: &[String], timeout: Duration) -> DriverRun {
    assert!(
        clients_dir()
            .join("node_modules/@backstage/cli-module-auth")
            .is_dir(),
        "the real clients are not installed: run tests/clients/setup.sh (scripts/test.sh does it)"
    );
    let mut child = tokio::process::Command::new("node")
        .arg(clients_dir().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut events = Vec::new();
    let collected = tokio::time::timeout(timeout, async {
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<Value>(&line) {
                Ok(event) => events.push(event),
                Err(_) => events.push(serde_json::json!({"event": "noise", "line": line})),
            }
        }
        child.wait().await.ok().and_then(|status| status.code())
    })
    .await;
    let exit_code = match collected {
        Ok(code) => code,
        Err(_) => {
            let _ = child.kill().await;
            panic!("{script} did not finish within {timeout:?}: {events:#?}");
        }
    };
    DriverRun { exit_code, events }
}
