//! The real Node Backstage backend of `tests/node-backstage/`, started for a test: the catalog
//! with discovery pointing `auth` at stagedoor, or ([`NodeBackend::start_auth`]) with the real
//! auth plugin too, the reference stagedoor is compared with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const STATIC_TOKEN: &str = "interop-static-token-0123456789abcdef";

pub fn harness_dir() -> PathBuf {
    super::manifest_dir().join("tests/node-backstage")
}

/// Killed when dropped, even if the test fails.
pub struct NodeBackend {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    auth_url: String,
    catalog_file: Option<PathBuf>,
    /// With the real auth plugin: its provider modules, its config file and extra environment.
    auth: Option<NodeAuth>,
    /// With the MCP actions backend: the folder of its extra config file.
    mcp: Option<tempfile::TempDir>,
}

struct NodeAuth {
    modules: String,
    /// Holds the config file.
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Drop for NodeBackend {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl NodeBackend {
    /// Starts it and waits until its catalog serves `user:default/alice`.
    pub async fn start(auth_url: &str, catalog_file: Option<&Path>) -> Self {
        Self::start_at(free_port(), auth_url, catalog_file).await
    }

    pub async fn start_at(port: u16, auth_url: &str, catalog_file: Option<&Path>) -> Self {
        assert!(
            harness_dir()
                .join("node_modules/@backstage/backend-defaults")
                .is_dir(),
            "the Node test backend is not installed: run tests/node-backstage/setup.sh (the README's test command does it)"
        );
        let mut backend = Self {
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            auth_url: auth_url.to_owned(),
            catalog_file: catalog_file.map(Path::to_path_buf),
            auth: None,
            mcp: None,
        };
        backend.spawn().await;
        backend
    }

    /// The catalog and Backstage's MCP actions backend (`/api/mcp-actions/v1`), with
    /// `mcp_config` (YAML merged over app-config.yaml: `backend.actions.pluginSources`, the
    /// authorization server flags it reads) and `auth` discovered at `auth_url`.
    pub async fn start_mcp(port: u16, auth_url: &str, mcp_config: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stagedoor-node-mcp-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("mcp-config.yaml"), mcp_config).unwrap();
        let mut backend = Self {
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            auth_url: auth_url.to_owned(),
            catalog_file: None,
            auth: None,
            mcp: Some(dir),
        };
        backend.spawn().await;
        backend
    }

    /// Starts it with the real auth plugin at `/api/auth` and the provider `modules` (e.g.
    /// `["oidc", "okta"]`), configured by `auth_config` (YAML merged over app-config.yaml),
    /// with `env` added to its environment (e.g. `NODE_EXTRA_CA_CERTS`).
    pub async fn start_auth(modules: &[&str], auth_config: &str, env: &[(&str, &str)]) -> Self {
        Self::start_auth_at(free_port(), modules, auth_config, env).await
    }

    pub async fn start_auth_at(
        port: u16,
        modules: &[&str],
        auth_config: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stagedoor-node-auth-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("auth-config.yaml"), auth_config).unwrap();
        let mut backend = Self {
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            auth_url: format!("http://localhost:{port}/api/auth"),
            catalog_file: None,
            mcp: None,
            auth: Some(NodeAuth {
                modules: modules.join(","),
                dir,
                env: env
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                    .collect(),
            }),
        };
        backend.spawn().await;
        backend
    }

    /// The auth plugin's base URL, as its callback URLs name it (`http://localhost:<port>/api/auth`).
    pub fn auth_url(&self) -> &str {
        &self.auth_url
    }

    async fn spawn(&mut self) {
        let log_path =
            std::env::temp_dir().join(format!("stagedoor-node-backend-{}.log", self.port));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new("node");
        command
            .args(["index.js", "--config", "app-config.yaml"])
            .current_dir(harness_dir())
            .env("BACKEND_PORT", self.port.to_string())
            .env("STAGEDOOR_AUTH_URL", &self.auth_url)
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(file) = &self.catalog_file {
            command.env("CATALOG_FILE", file);
        }
        if let Some(dir) = &self.mcp {
            command
                .arg("--config")
                .arg(dir.path().join("mcp-config.yaml"))
                .env("MCP_ACTIONS", "1");
        }
        if let Some(auth) = &self.auth {
            command
                .arg("--config")
                .arg(auth.dir.path().join("auth-config.yaml"))
                .env("NODE_AUTH", "1")
                .env("NODE_AUTH_MODULES", &auth.modules)
                .envs(auth.env.iter().map(|(key, value)| (key, value)));
        }
        self.child = Some(command.spawn().expect("node"));
        let started = Instant::now();
        while self.entity_status("alice").await != Some(200) {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "the Node backend exited with {status}; see {}",
                    log_path.display()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the Node backend did not get ready; see {}",
                log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (same URLs for everyone who knew it).
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    pub fn catalog_url(&self) -> String {
        format!("{}/api/catalog", self.base)
    }

    /// Status of `GET /entities/by-name/user/default/<name>` with the static token;
    /// `None` while nothing answers.
    pub async fn entity_status(&self, name: &str) -> Option<u16> {
        super::client()
            .get(format!(
                "{}/entities/by-name/user/default/{name}",
                self.catalog_url()
            ))
            .bearer_auth(STATIC_TOKEN)
            .send()
            .await
            .ok()
            .map(|response| response.status().as_u16())
    }

    /// Runs a Node script in the harness folder (so it can require its packages).
    pub async fn node_script(script: &str, args: &[&str]) -> Result<serde_json::Value, String> {
        let output = tokio::process::Command::new("node")
            .arg("-e")
            .arg(script)
            .args(args)
            .current_dir(harness_dir())
            .output()
            .await
            .expect("node");
        if output.status.success() {
            serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// Asks Backstage's own `DefaultUserInfoService` (what every backend plugin uses for
    /// ownership) about `token`, with discovery pointing `auth` at stagedoor.
    pub async fn user_info(auth_url: &str, token: &str) -> Result<serde_json::Value, String> {
        let script = r#"
    const path = require('path');
    const base = path.dirname(require.resolve('@backstage/backend-defaults/package.json'));
    const { DefaultUserInfoService } = require(path.join(base, 'dist/entrypoints/userInfo/DefaultUserInfoService.cjs.js'));
    const [authUrl, token] = process.argv.slice(1);
    const service = new DefaultUserInfoService({ discovery: { getBaseUrl: async () => authUrl } });
    const credentials = { $$type: '@backstage/BackstageCredentials', version: 'v1', principal: { type: 'user' }, token };
    service.getUserInfo(credentials)
      .then(info => console.log(JSON.stringify(info)))
      .catch(e => { console.error(e.message); process.exit(1); });
    "#;
        Self::node_script(script, &[auth_url, token]).await
    }
}
