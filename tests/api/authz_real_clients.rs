//! Clients nobody here wrote, against stagedoor: the real Backstage CLI (`auth login`,
//! `print-token`, its refresh, `show`, `logout`) whose token the real Node catalog accepts,
//! and the MCP TypeScript SDK's OAuth client (discovery at the RFC 8414 URL it asks first,
//! registration, PKCE, token, refresh, revocation), also through Backstage's MCP actions
//! backend as the resource server calling stagedoor's `auth:who-am-i`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::TestServer;
use crate::common::clients::{DriverRun, run};
use crate::common::node::{NodeBackend, free_port};

const TIMEOUT: Duration = Duration::from_secs(120);

/// stagedoor on a known port (the clients build URLs from it) with Node's flags on, in
/// development mode (the CLI's client id is plain http), its catalog the Node backend's.
fn config(port: u16, node_port: u16) -> String {
    format!(
        r#"
backend:
  baseUrl: http://127.0.0.1:{port}
auth:
  providers:
    guest: {{ userEntityRef: user:default/alice, dangerouslyAllowOutsideDevelopment: true }}
  experimentalDynamicClientRegistration: {{ enabled: true }}
  clientIdMetadataDocuments: {{ enabled: true }}
  experimentalRefreshToken: {{ enabled: true }}
discovery:
  endpoints:
    - target: http://127.0.0.1:{node_port}/api/{{{{pluginId}}}}
      plugins: [catalog, mcp-actions]
stagedoor:
  listen: {{ host: 127.0.0.1, port: {port} }}
  development: true
  catalog: {{ baseUrl: "http://127.0.0.1:{node_port}/api/catalog", cacheTtl: 0s }}
"#
    )
}

fn args(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

/// A refresh token, tried by hand: the status.
async fn refresh_status(server: &TestServer, refresh_token: &str) -> u16 {
    let body = json!({"grant_type": "refresh_token", "refresh_token": refresh_token});
    let response = server.http.post(server.url("/v1/token")).json(&body).send();
    response.await.unwrap().status().as_u16()
}

#[tokio::test]
async fn the_backstage_cli_logs_in_refreshes_and_logs_out_with_a_token_the_node_catalog_accepts() {
    let (port, node_port) = (free_port(), free_port());
    let server = TestServer::start(&[&config(port, node_port)]).await;
    let node = NodeBackend::start_at(node_port, &server.url(""), None).await;
    let approver = server.guest_token().await;
    let backend_url = format!("http://127.0.0.1:{port}");
    let check_url = format!("{}/entities/by-name/user/default/alice", node.catalog_url());
    let steps = [
        "login",
        "show",
        "print-token",
        "check",
        "expire",
        "print-token",
        "check",
        "logout",
        "state",
    ];
    let mut argv = args(&["--backend-url", &backend_url, "--approve-token", &approver]);
    argv.extend(args(&[
        "--callback-port",
        "ephemeral",
        "--check-url",
        &check_url,
    ]));
    argv.extend(args(&steps));
    let cli = run("cli-driver.mjs", &argv, TIMEOUT).await;
    cli.assert_ok();
    let session = &cli.first("session")["body"];
    assert_eq!(session["clientName"], "Backstage CLI");
    assert_eq!(
        session["clientId"],
        format!("{backend_url}/api/auth/.well-known/oauth-client/cli.json")
    );
    assert_eq!(cli.first("login")["hasRefreshToken"], true);
    // `auth show` reads /v1/userinfo: it works for a user who only ever used the CLI here.
    let shown = cli.first("show")["stdout"].as_str().unwrap().to_owned();
    assert!(
        shown.contains("User: user:default/alice") && shown.contains("group:default/team-a"),
        "{shown}"
    );
    let printed = cli.all("print-token");
    assert_eq!(printed[0]["claims"]["sub"], "user:default/alice");
    assert_eq!(
        printed[1]["changed"], true,
        "the expired token was refreshed"
    );
    assert_eq!(printed[1]["refreshTokenRotated"], true);
    for check in cli.all("check") {
        assert_eq!(
            check["status"], 200,
            "the Node catalog accepts the CLI's token: {check}"
        );
    }
    let logout = cli.first("logout");
    assert_eq!(logout["secretsLeft"], false);
    assert_eq!(logout["refreshAfterLogout"]["status"], 400, "{logout}");
    assert_eq!(
        logout["refreshAfterLogout"]["body"]["error"],
        "invalid_grant"
    );
}

/// The MCP SDK's run: authorize (discovery, registration, PKCE, consent, code exchange),
/// refresh, optionally the MCP call, and revocation.
async fn mcp(server_or_issuer: (&str, &str), approver: &str, steps: &[&str]) -> DriverRun {
    let mut argv = args(&[
        server_or_issuer.0,
        server_or_issuer.1,
        "--approve-token",
        approver,
    ]);
    argv.extend(args(steps));
    let run = run("mcp-driver.mjs", &argv, TIMEOUT).await;
    run.assert_ok();
    run
}

fn assert_tokens(run: &DriverRun) -> String {
    let tokens = run.first("tokens");
    assert_eq!(tokens["claims"]["sub"], "user:default/alice", "{tokens}");
    assert_eq!(tokens["hasRefreshToken"], true);
    assert_eq!(run.first("rotation")["refreshTokenChanged"], true);
    assert_eq!(run.first("revoked")["status"], 200);
    run.first("refreshed")["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_mcp_sdk_discovers_registers_authorizes_refreshes_and_revokes() {
    let (port, node_port) = (free_port(), free_port());
    let server = TestServer::start(&[&config(port, node_port)]).await;
    let _node = NodeBackend::start_at(node_port, &server.url(""), None).await;
    let approver = server.guest_token().await;
    let issuer = server.url("");
    let sdk = mcp(
        ("--issuer", &issuer),
        &approver,
        &["authorize", "refresh", "revoke"],
    )
    .await;
    // The first URL the SDK asks is answered: no fallback to Node's only URL is needed.
    let first: &Value = sdk.first("http");
    assert_eq!(
        first["url"],
        format!("http://127.0.0.1:{port}/.well-known/oauth-authorization-server/api/auth")
    );
    assert_eq!(first["status"], 200);
    let metadata = &sdk.first("discovery")["metadata"];
    assert_eq!(metadata["issuer"], issuer);
    assert_eq!(
        metadata["registration_endpoint"],
        format!("{issuer}/v1/register")
    );
    assert_eq!(
        metadata["revocation_endpoint"],
        format!("{issuer}/v1/revoke")
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        metadata["scopes_supported"],
        json!(["openid", "offline_access"])
    );
    assert_eq!(sdk.first("client")["hasSecret"], true);
    let revoked = assert_tokens(&sdk);
    assert_eq!(
        refresh_status(&server, &revoked).await,
        400,
        "revoked by the SDK's client"
    );
}

#[tokio::test]
async fn the_mcp_actions_backend_accepts_the_token_and_calls_who_am_i_on_stagedoor() {
    let (port, node_port) = (free_port(), free_port());
    let server = TestServer::start(&[&config(port, node_port)]).await;
    let mcp_config = r#"
backend:
  actions:
    pluginSources: [auth, catalog]
auth:
  experimentalDynamicClientRegistration: { enabled: true }
  experimentalRefreshToken: { enabled: true }
"#;
    let node = NodeBackend::start_mcp(node_port, &server.url(""), mcp_config).await;
    let approver = server.guest_token().await;
    // The resource the MCP backend names is under its backend.baseUrl (localhost).
    let mcp_url = format!("http://localhost:{}/api/mcp-actions/v1", node.port);
    let sdk = mcp(
        ("--server-url", &mcp_url),
        &approver,
        &["authorize", "refresh", "call", "revoke"],
    )
    .await;
    let discovery = sdk.first("discovery");
    assert_eq!(discovery["authorizationServerUrl"], server.url(""));
    assert_tokens(&sdk);
    let tools = sdk.first("tools")["names"].as_array().unwrap().clone();
    assert!(tools.contains(&json!("auth.who-am-i")), "{tools:?}");
    let result = sdk.first("tool_result");
    assert_eq!(result["isError"], false, "{result}");
    let text = result["content"][0].as_str().unwrap();
    // (The driver keeps the first 600 characters: the entity, from the Node catalog.)
    assert!(
        text.starts_with("{\"entity\":") && text.contains("\"name\":\"alice\""),
        "{text}"
    );
}
